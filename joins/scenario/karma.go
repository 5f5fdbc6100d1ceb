package scenario

import (
	"fmt"
	"strconv"
)

// KarmaJoin is the join of §8.21 test_karma and §8.22 test_karma_online:
// a user's karma is the number of votes on the articles they wrote.
const KarmaJoin = `k|<uid:5> = using a|<uid>|<aid:5> count v|<aid>|<voter:5>`

// Go-side generators for the large experimental scenarios (§8.21, §8.22).
// They drive a Target like the file scenarios do, so they can run against a
// server as well; they are split into load / check steps so that benchmarks
// can time exactly one step.

// KarmaSetup installs KarmaJoin on [k|,k}) and, for i in 0..articles-1,
// inserts a|i|i = "article" and v|i|j = "vote" for voters j = 1..votes
// (§8.21: 10000 articles × 1000 votes). Nothing is validated.
func KarmaSetup(t Target, articles, votes int) error {
	if err := t.AddJoin("k|", "k}", KarmaJoin, 0); err != nil {
		return fmt.Errorf("add join: %w", err)
	}
	for i := 0; i < articles; i++ {
		a := fmt.Sprintf("%05d", i)
		if err := t.Insert("a|"+a+"|"+a, "article"); err != nil {
			return err
		}
		for j := 1; j <= votes; j++ {
			if err := t.Insert(fmt.Sprintf("v|%s|%05d", a, j), "vote"); err != nil {
				return err
			}
		}
	}
	return nil
}

// KarmaCheck checks, without validating, that [k|,k}) holds exactly one key
// per article and that every k|i equals want.
func KarmaCheck(t Target, articles int, want string) error {
	n, err := t.CountStored("k|", "k}")
	if err != nil {
		return err
	}
	if n != articles {
		return fmt.Errorf("count(k|,k}) = %d, want %d", n, articles)
	}
	bad := 0
	var first error
	for i := 0; i < articles; i++ {
		k := fmt.Sprintf("k|%05d", i)
		v, ok, err := t.Find(k)
		if err != nil {
			return err
		}
		if !ok || v != want {
			if first == nil {
				first = fmt.Errorf("find(%s) = %q (present=%v), want %q", k, v, ok, want)
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d karma keys wrong; first: %w", bad, articles, first)
	}
	return nil
}

// Karma runs §8.21 test_karma: setup, validate [k|,k}), and check that every
// k|i = votes.
func Karma(t Target, articles, votes int) error {
	if err := KarmaSetup(t, articles, votes); err != nil {
		return err
	}
	if err := t.Validate("k|", "k}"); err != nil {
		return err
	}
	return KarmaCheck(t, articles, strconv.Itoa(votes))
}

// KarmaOnlineSetup performs the first half of §8.22 test_karma_online:
// install KarmaJoin, insert a|i|i = "article" and one vote v|i|00001 for each
// article, validate [k|,k}) and check that every k|i = "1".
func KarmaOnlineSetup(t Target, articles int) error {
	if err := KarmaSetup(t, articles, 1); err != nil {
		return err
	}
	if err := t.Validate("k|", "k}"); err != nil {
		return err
	}
	return KarmaCheck(t, articles, "1")
}

// KarmaOnlineVotes performs the incremental half of §8.22: for each article
// i and voter j = 2..votes, insert v|i|j = "vote" (push maintenance, no
// validate). The spec's size is votes = 200 (199 new votes per article).
func KarmaOnlineVotes(t Target, articles, votes int) error {
	for i := 0; i < articles; i++ {
		a := fmt.Sprintf("v|%05d|", i)
		for j := 2; j <= votes; j++ {
			if err := t.Insert(fmt.Sprintf("%s%05d", a, j), "vote"); err != nil {
				return err
			}
		}
	}
	return nil
}

// KarmaOnline runs §8.22 test_karma_online end to end and checks that every
// k|i = votes afterwards.
func KarmaOnline(t Target, articles, votes int) error {
	if err := KarmaOnlineSetup(t, articles); err != nil {
		return err
	}
	if err := KarmaOnlineVotes(t, articles, votes); err != nil {
		return err
	}
	return KarmaCheck(t, articles, strconv.Itoa(votes))
}
