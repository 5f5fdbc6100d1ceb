package redis

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
	"github.com/pequod-go/pequod/loadgen/redisclient"
)

func newHN(t *testing.T) (*HN, *async.Loop, *redisclient.Client) {
	t.Helper()
	raw := needRedis(t)
	loop := async.New()
	h, err := NewHN(testCtx(t), redisAddr, loop, HNConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, loop, raw
}

func readArticle(t *testing.T, h *HN, loop *async.Loop, aid, author uint32) hn.Page {
	t.Helper()
	finished := false
	var page hn.Page
	var err error
	h.ReadArticle(aid, author, func(p hn.Page, e error) { page, err, finished = p, e, true })
	await(t, loop, &finished)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func TestHNConfig(t *testing.T) {
	loop := async.New()
	for _, cfg := range []HNConfig{{Pull: true}, {Push: true}, {SuperMaterialize: true}} {
		if _, err := NewHN(testCtx(t), "127.0.0.1:1", loop, cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("NewHN(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}

// hnModel is the client's model (apps.md §5.1): authors and karma including
// self-votes.
type hnModel struct {
	author map[uint32]uint32
	karma  map[uint32]int64
	voted  map[uint32]map[uint32]bool
	ncid   uint32
}

func (m *hnModel) post(t *testing.T, h *HN, loop *async.Loop, author, aid uint32) {
	m.author[aid] = author
	m.karma[author]++
	m.voted[aid] = map[uint32]bool{author: true}
	do(t, loop, func(done func(error)) { h.PostArticle(author, aid, m.karma[author], done) })
}

func (m *hnModel) vote(t *testing.T, h *HN, loop *async.Loop, voter, aid uint32) {
	if m.voted[aid][voter] {
		return
	}
	m.voted[aid][voter] = true
	author := m.author[aid]
	m.karma[author]++
	do(t, loop, func(done func(error)) { h.Vote(voter, aid, author, m.karma[author], done) })
}

func (m *hnModel) comment(t *testing.T, h *HN, loop *async.Loop, commenter, aid uint32) uint32 {
	cid := m.ncid
	m.ncid++
	do(t, loop, func(done func(error)) { h.PostComment(commenter, aid, m.author[aid], cid, done) })
	return cid
}

func newModel() *hnModel {
	return &hnModel{author: map[uint32]uint32{}, karma: map[uint32]int64{}, voted: map[uint32]map[uint32]bool{}}
}

func TestHNOps(t *testing.T) {
	h, loop, raw := newHN(t)
	ctx := testCtx(t)
	if h.Name() != "redis" || h.Initialize(ctx) != nil || h.PostPopulate(ctx) != nil {
		t.Fatal("Name/Initialize/PostPopulate")
	}
	if s, err := h.Stats(ctx); s != nil || err != nil {
		t.Errorf("Stats = %v, %v", s, err)
	}
	if c, err := h.Control(ctx, map[string]any{"get_log": true}); c != nil || err != nil {
		t.Errorf("Control = %v, %v", c, err)
	}
	m := newModel()
	// Author 1 writes three articles: without the self-vote increment its
	// karma would be 3 short of the model, outside k ≤ m < k+3.
	m.post(t, h, loop, 1, 0)
	m.post(t, h, loop, 1, 1)
	m.post(t, h, loop, 1, 2)
	m.post(t, h, loop, 2, 3)
	m.vote(t, h, loop, 2, 0)
	m.vote(t, h, loop, 5, 0)
	m.vote(t, h, loop, 5, 3)
	c0 := m.comment(t, h, loop, 1, 0)
	c1 := m.comment(t, h, loop, 3, 0) // user 3 has no articles: no k|3
	c2 := m.comment(t, h, loop, 2, 0)
	m.comment(t, h, loop, 2, 3)

	page := readArticle(t, h, loop, 0, 1)
	want := hn.Page{Author: 1, Votes: -1, Comments: []hn.Comment{
		{ID: c0, Commenter: 1, Karma: 5},
		{ID: c1, Commenter: 3, Karma: 0},
		{ID: c2, Commenter: 2, Karma: 2},
	}}
	if !reflect.DeepEqual(page, want) {
		t.Errorf("ReadArticle(0) = %+v, want %+v", page, want)
	}
	for _, c := range page.Comments {
		if c.Karma != m.karma[c.Commenter] {
			t.Errorf("karma of %d = %d, model %d", c.Commenter, c.Karma, m.karma[c.Commenter])
		}
	}
	if page := readArticle(t, h, loop, 1, 1); !reflect.DeepEqual(page, hn.Page{Author: 1, Votes: -1}) {
		t.Errorf("ReadArticle(1) = %+v", page)
	}
	// A missing article reports the author the caller gave.
	if page := readArticle(t, h, loop, 99, 7); !reflect.DeepEqual(page, hn.Page{Author: 7, Votes: -1}) {
		t.Errorf("ReadArticle(99) = %+v", page)
	}

	// Layout on the server (§5.6).
	for k, v := range map[string]string{
		"a|0":  "1|lalalalaxx",
		"a|3":  "2|lalalalaxx",
		"v|0":  "2,5,",
		"ac|0": "1|0\xad3|1\xad2|2\xad",
		"ac|3": "2|3\xad",
		"c|1":  "calalalaxx",
		"k|1":  "5",
		"k|2":  "2",
	} {
		if r := rawDo(t, raw, "GET", k); string(r.Str) != v {
			t.Errorf("GET %s = %s, want %q", k, r, v)
		}
	}

	// Error replies reach done.
	rawDo(t, raw, "SADD", "ac|50", "x")
	finished := false
	var err error
	h.ReadArticle(50, 1, func(p hn.Page, e error) { err, finished = e, true })
	await(t, loop, &finished)
	var re *redisclient.RedisError
	if !errors.As(err, &re) {
		t.Errorf("ReadArticle on a set: %v, want a RedisError", err)
	}
	rawDo(t, raw, "SET", "ac|51", "1|x\xad")
	finished = false
	h.ReadArticle(51, 1, func(p hn.Page, e error) { err, finished = e, true })
	await(t, loop, &finished)
	if err == nil {
		t.Error("ReadArticle with a malformed comment list: no error")
	}
	if n := loop.Outstanding(); n != 0 {
		t.Errorf("%d requests outstanding", n)
	}
}

// A §5.5-style population: every comment's karma equals the model's,
// self-votes included, and so passes the run's check k ≤ m < k+3.
func TestHNKarmaMatchesModel(t *testing.T) {
	h, loop, _ := newHN(t)
	m := newModel()
	const users, articles = 10, 100
	rng := rand.New(rand.NewPCG(13918, 0))
	for aid := range uint32(articles) {
		m.post(t, h, loop, aid%users, aid)
		for range rng.IntN(20) {
			m.comment(t, h, loop, uint32(rng.IntN(users)), aid)
		}
		for range rng.IntN(50) {
			m.vote(t, h, loop, uint32(rng.IntN(users)), aid)
		}
	}
	ncomments := 0
	for aid := range uint32(articles) {
		page := readArticle(t, h, loop, aid, m.author[aid])
		if page.Author != m.author[aid] {
			t.Errorf("article %d: author %d, want %d", aid, page.Author, m.author[aid])
		}
		for _, c := range page.Comments {
			k, model := c.Karma, m.karma[c.Commenter]
			if k != model || !(k <= model && model < k+3) {
				t.Errorf("article %d comment %d: karma %d, model %d", aid, c.ID, k, model)
			}
		}
		ncomments += len(page.Comments)
	}
	if ncomments != int(m.ncid) {
		t.Errorf("pages hold %d comments, %d were posted", ncomments, m.ncid)
	}
}
