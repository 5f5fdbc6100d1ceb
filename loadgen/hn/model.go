package hn

import (
	"fmt"
	"io"
	"sort"

	"github.com/pequod-go/pequod/loadgen/mt"
)

// Model is the client's view of the data (apps.md §5.1): every article's
// author, the users who voted on each article (the author's self-vote
// included), every user's karma, and the comment id sequence. Karma counts
// votes on all of the author's articles, self-votes included.
//
// The model also tracks, per author, which karma increments the back end
// has acknowledged, so the karma check can tell a stale read from a wrong
// one (see karmaLowerBound).
type Model struct {
	authors  []uint32   // authors[aid]
	voters   [][]uint32 // voters[aid], in voting order
	karma    []int64    // karma[user]: increments issued
	ncomment uint32     // next comment id (global sequence from 0)
	nvote    int64      // votes stored, self-votes excluded

	// Acknowledgement tracking: ackBase[u] increments were acknowledged
	// before tracking started; ackLog[u] holds the global acknowledgement
	// sequence numbers of later ones, increasing.
	ackBase []int64
	ackLog  [][]uint64
	ackSeq  uint64
}

// NewModel returns an empty model for nusers users.
func NewModel(nusers int) *Model {
	return &Model{karma: make([]int64, nusers)}
}

// Users is the number of users.
func (m *Model) Users() int { return len(m.karma) }

// Articles is the number of articles.
func (m *Model) Articles() int { return len(m.authors) }

// Comments is the number of comment ids handed out.
func (m *Model) Comments() int { return int(m.ncomment) }

// Votes is the number of votes stored, self-votes excluded.
func (m *Model) Votes() int64 { return m.nvote }

// Author is aid's author.
func (m *Model) Author(aid uint32) uint32 { return m.authors[aid] }

// Karma is user's model karma (every increment issued).
func (m *Model) Karma(user uint32) int64 { return m.karma[user] }

// PostArticle records a new article by author with its self-vote and
// returns its id and the author's karma after the self-vote.
func (m *Model) PostArticle(author uint32) (aid uint32, karma int64, err error) {
	if len(m.authors) >= MaxID {
		return 0, 0, fmt.Errorf("hn: article id space (%d) exhausted", MaxID)
	}
	aid = uint32(len(m.authors))
	m.authors = append(m.authors, author)
	m.voters = append(m.voters, []uint32{author})
	m.karma[author]++
	return aid, m.karma[author], nil
}

// HasVoted reports whether voter already voted on aid (the author has,
// through the self-vote).
func (m *Model) HasVoted(voter, aid uint32) bool {
	for _, v := range m.voters[aid] {
		if v == voter {
			return true
		}
	}
	return false
}

// Vote records voter's vote on aid unless the voter already voted and
// !force; it reports whether the vote counts and the author's karma after
// it. force accepts every vote (run_only, where the model cannot know the
// server's votes, §5.5).
func (m *Model) Vote(voter, aid uint32, force bool) (ok bool, karma int64) {
	author := m.authors[aid]
	if m.HasVoted(voter, aid) {
		if !force {
			return false, m.karma[author]
		}
	} else {
		m.voters[aid] = append(m.voters[aid], voter)
	}
	m.karma[author]++
	m.nvote++
	return true, m.karma[author]
}

// NextComment hands out the next comment id.
func (m *Model) NextComment() (uint32, error) {
	if m.ncomment >= MaxID {
		return 0, fmt.Errorf("hn: comment id space (%d) exhausted", MaxID)
	}
	cid := m.ncomment
	m.ncomment++
	return cid, nil
}

// trackAcks starts precise acknowledgement tracking: every increment
// issued so far counts as acknowledged (call it after a drain).
func (m *Model) trackAcks() {
	m.ackBase = append(m.ackBase[:0], m.karma...)
	m.ackLog = make([][]uint64, len(m.karma))
}

// ack records that one karma increment of author was acknowledged.
func (m *Model) ack(author uint32) {
	if m.ackLog == nil {
		return
	}
	m.ackSeq++
	m.ackLog[author] = append(m.ackLog[author], m.ackSeq)
}

// ackMark is the acknowledgement sequence number now; karmaLowerBound
// compares against it.
func (m *Model) ackMark() uint64 { return m.ackSeq }

// karmaLowerBound is the number of author's karma increments acknowledged
// by mark. A read issued after mark sees at least these (the server answers
// a write only once it is visible to every later read).
func (m *Model) karmaLowerBound(author uint32, mark uint64) int64 {
	if m.ackLog == nil {
		return m.karma[author]
	}
	l := m.ackLog[author]
	n := sort.Search(len(l), func(i int) bool { return l[i] > mark })
	return m.ackBase[author] + int64(n)
}

// KarmaOK is the karma check of §5.4: a read returned karma k for user;
// the model's karma m satisfies k ≤ m < k+3. Here m in the upper bound is
// the karma issued by now (the read cannot see a vote not yet sent) and m
// in the lower bound is what had been acknowledged when the read was issued
// (mark): the original's single-threaded server applied requests in issue
// order, so both were the same; a partitioned server may apply a vote
// whose reply has not arrived after a later read. A k of -1 (no karma
// returned) counts as 0.
func (m *Model) KarmaOK(user uint32, k int64, mark uint64) bool {
	if k < 0 {
		k = 0
	}
	return k <= m.karma[user] && m.karmaLowerBound(user, mark) < k+3
}

// WriteKarma prints the karma table, one "user karma" line per user with
// non-zero karma (the `log` output after population, §5.5).
func (m *Model) WriteKarma(w io.Writer) {
	for u, k := range m.karma {
		if k != 0 {
			fmt.Fprintf(w, "karma %07d %d\n", u, k)
		}
	}
}

// populator draws the population (apps.md §5.5) from its own generator.
// Draw order per article: comment count uniform[0,20), each commenter
// uniform over users, vote count uniform[0,50), each voter uniform.
type populator struct {
	rng    *mt.Rand
	nusers int
}

func newPopulator(nusers int) *populator {
	return &populator{rng: mt.New(PopulateSeed), nusers: nusers}
}

// article is one populated article's draws.
type article struct {
	commenters []uint32
	voters     []uint32 // as drawn, duplicates included
}

func (p *populator) next(a *article) {
	a.commenters = a.commenters[:0]
	a.voters = a.voters[:0]
	nc := p.rng.Intn(20)
	for i := 0; i < nc; i++ {
		a.commenters = append(a.commenters, uint32(p.rng.Intn(p.nusers)))
	}
	nv := p.rng.Intn(50)
	for i := 0; i < nv; i++ {
		a.voters = append(a.voters, uint32(p.rng.Intn(p.nusers)))
	}
}

// ReplayPopulation builds the model a population with p (normalized)
// stores, without talking to a back end. run_only uses it: the original
// hard-coded the counts of its two standard data sets (§5.5); replaying
// the deterministic population gives the same model for any parameters.
func ReplayPopulation(p Params) (*Model, error) {
	m := NewModel(p.HNUsers)
	pop := newPopulator(p.HNUsers)
	var a article
	for aid := 0; aid < p.NArticles; aid++ {
		author := uint32(aid % p.HNUsers)
		id, _, err := m.PostArticle(author)
		if err != nil {
			return nil, err
		}
		pop.next(&a)
		for range a.commenters {
			if _, err := m.NextComment(); err != nil {
				return nil, err
			}
		}
		for _, v := range a.voters {
			m.Vote(v, id, false)
		}
	}
	return m, nil
}
