package hn

import (
	"strings"
	"testing"
)

func TestKeySchema(t *testing.T) {
	for _, c := range []struct {
		got, want string
		n         int
	}{
		{AID14(7, 42), "00000070000042", 14},
		{AID14(9999999, 0), "99999990000000", 14},
		{ArticleKey(7, 42), "a|00000070000042", 16},
		{VoteKey(7, 42, 7), "v|00000070000042|0000007", 24},
		{VoteKey(7, 42, 123), "v|00000070000042|0000123", 24},
		{CommentKey(7, 42, 5, 9), "c|00000070000042|0000005|0000009", 32},
		{KarmaKey(7), "k|0000007", 9},
		{VoteCountKey(7, 42), "p|00000070000042", 16},
		{PageFirst(7, 42), "ma|00000070000042|", 18},
		{PageLast(7, 42), "ma|00000070000042}", 18},
		{CommentsFirst(7, 42), "c|00000070000042|", 17},
		{CommentsLast(7, 42), "c|00000070000042}", 17},
		{VotesFirst(7, 42), "v|00000070000042|", 17},
		{VotesLast(7, 42), "v|00000070000042}", 17},
		{AuthorArticlesFirst(7), "a|00000070", 10},
		{AuthorArticlesLast(7), "a|0000007}", 10},
		{karmaValue(12), "0000012", 7},
	} {
		if c.got != c.want || len(c.got) != c.n {
			t.Errorf("got %q (len %d), want %q (len %d)", c.got, len(c.got), c.want, c.n)
		}
	}
	// An author's articles form one range and the karma join's pattern
	// v|<author:7><seqid:7>|<voter:7> covers the author's votes.
	if k := ArticleKey(7, 42); k < AuthorArticlesFirst(7) || k >= AuthorArticlesLast(7) {
		t.Errorf("%q outside the author's article range", k)
	}
	if k := ArticleKey(8, 0); k >= AuthorArticlesFirst(7) && k < AuthorArticlesLast(7) {
		t.Errorf("%q inside author 7's article range", k)
	}
}

func TestParseHelpers(t *testing.T) {
	if cid, u, err := parseCidCommenter("0000005|0000009"); err != nil || cid != 5 || u != 9 {
		t.Errorf("parseCidCommenter = %d %d %v", cid, u, err)
	}
	for _, bad := range []string{"", "0000005|000009", "000000a|0000009", "0000005-0000009", "0000005|00000090"} {
		if _, _, err := parseCidCommenter(bad); err == nil {
			t.Errorf("parseCidCommenter(%q) accepted", bad)
		}
	}
	for in, want := range map[string]int64{"": 0, "0": 0, "17": 17, "0000017": 17} {
		if got, err := parseCount([]byte(in)); err != nil || got != want {
			t.Errorf("parseCount(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := parseCount([]byte("x1")); err == nil {
		t.Error("parseCount accepted x1")
	}
}

func joinTexts(js []JoinSpec) string {
	var b strings.Builder
	for _, j := range js {
		b.WriteString("[" + j.First + "," + j.Last + ") " + j.Text + "\n")
	}
	return b.String()
}

func TestJoins(t *testing.T) {
	mk := "[k|,k}) k|<author> = count v|<author><seqid>|<voter> where author:7, seqid:7, voter:7\n" +
		"[p|,p}) p|<aid> = count v|<aid>|<voter> where aid:14, voter:7\n"
	ma := "[ma|,ma}) ma|<aid>|a = a|<aid> where aid:14\n" +
		"[ma|,ma}) ma|<aid>|v = copy p|<aid> where aid:14\n" +
		"[ma|,ma}) ma|<aid>|c|<cid>|<commenter> = c|<aid>|<cid>|<commenter> where aid:14, cid:7, commenter:7\n" +
		"[ma|,ma}) ma|<aid>|k|<cid>|<commenter> = using c|<aid>|<cid>|<commenter> copy k|<commenter> where aid:14, cid:7, commenter:7\n"
	for _, c := range []struct {
		name string
		p    Params
		want string
	}{
		{"mk", Params{}, mk},
		{"pull", Params{Pull: true}, ""},
		{"push", Params{Push: true, Pull: true}, ""},
		{"ma", Params{SuperMaterialize: true}, mk + ma},
	} {
		if got := joinTexts(Joins(c.p)); got != c.want {
			t.Errorf("%s: joins\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	p, err := Params{HNUsers: 1, NArticles: 1, Large: true, Push: true}.Normalize()
	if err != nil || p.NArticles != LargeArticles || p.HNUsers != LargeUsers || !p.Pull || p.MK() {
		t.Errorf("large push: %+v, %v", p, err)
	}
	d := DefaultParams()
	bad := []func(*Params){
		func(p *Params) { p.SuperMaterialize, p.Pull = true, true },
		func(p *Params) { p.SuperMaterialize, p.Push = true, true },
		func(p *Params) { p.HNUsers = 0 },
		func(p *Params) { p.NArticles = MaxID + 1 },
		func(p *Params) { p.NOps = -1 },
		func(p *Params) { p.VoteRate = -1 },
		func(p *Params) { p.GroupID = 1 },
		func(p *Params) { p.PopulateOnly, p.RunOnly = true, true },
	}
	for i, f := range bad {
		p := d
		f(&p)
		if _, err := p.Normalize(); err == nil {
			t.Errorf("case %d: %+v accepted", i, p)
		}
	}
	p = d
	p.GroupID, p.RunOnly = 3, true
	if _, err := p.Normalize(); err != nil {
		t.Errorf("run_only groupid 3: %v", err)
	}
}
