package memcached

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
)

func newHN(t *testing.T) (*HN, *async.Loop) {
	t.Helper()
	needMemcached(t)
	loop := async.New()
	h, err := NewHN(testCtx(t), mcAddr, loop, HNConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, loop
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

func TestHNOps(t *testing.T) {
	h, loop := newHN(t)
	raw := needMemcached(t)
	if h.Name() != "memcached" {
		t.Fatal(h.Name())
	}
	mustDo(t, loop, func(d func(error)) { h.PostArticle(3, 10, 1, d) })
	if v := rawGet(t, raw, "a|10"); v != "3|lalalalaxx" {
		t.Fatalf("a|10 = %q", v)
	}
	if v := rawGet(t, raw, "k|3"); v != "1" {
		t.Fatalf("k|3 after the self-vote = %q", v)
	}
	mustDo(t, loop, func(d func(error)) { h.Vote(4, 10, 3, 2, d) })
	mustDo(t, loop, func(d func(error)) { h.Vote(5, 10, 3, 3, d) })
	if v := rawGet(t, raw, "v|10"); v != "4,5," {
		t.Fatalf("v|10 = %q", v)
	}
	mustDo(t, loop, func(d func(error)) { h.PostComment(3, 10, 3, 0, d) })
	mustDo(t, loop, func(d func(error)) { h.PostComment(7, 10, 3, 1, d) })
	if v := rawGet(t, raw, "ac|10"); v != "3|0\xad7|1\xad" {
		t.Fatalf("ac|10 = %q", v)
	}
	if v := rawGet(t, raw, "c|1"); v != "calalalaxx" {
		t.Fatalf("c|1 = %q", v)
	}
	page := readArticle(t, h, loop, 10, 99)
	if page.Author != 3 || page.Votes != -1 || len(page.Comments) != 2 {
		t.Fatalf("page %+v", page)
	}
	if c := page.Comments[0]; c != (hn.Comment{ID: 0, Commenter: 3, Karma: 3}) {
		t.Fatalf("comment 0: %+v", c)
	}
	if c := page.Comments[1]; c != (hn.Comment{ID: 1, Commenter: 7, Karma: 0}) {
		t.Fatalf("comment 1 (no karma key): %+v", c)
	}
	if p := readArticle(t, h, loop, 11, 4); p.Author != 4 || len(p.Comments) != 0 {
		t.Fatalf("missing article: %+v", p)
	}
	st, err := h.Stats(testCtx(t))
	if err != nil || len(st) != 1 {
		t.Fatalf("stats: %v %v", st, err)
	}
}

// A population like §5.5's, pipelined: karma read back equals the model's
// (which counts self-votes).
func TestHNKarmaMatchesModel(t *testing.T) {
	h, loop := newHN(t)
	const users, articles = 10, 60
	rng := rand.New(rand.NewPCG(13918, 0))
	karma := map[uint32]int64{}
	var errs []error
	done := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	cid := uint32(0)
	for aid := uint32(0); aid < articles; aid++ {
		author := aid % users
		karma[author]++
		h.PostArticle(author, aid, karma[author], done)
		voted := map[uint32]bool{author: true}
		for range rng.IntN(20) {
			v := uint32(rng.IntN(users))
			if voted[v] {
				continue
			}
			voted[v] = true
			karma[author]++
			h.Vote(v, aid, author, karma[author], done)
		}
		for range rng.IntN(5) {
			h.PostComment(uint32(rng.IntN(users)), aid, author, cid, done)
			cid++
		}
		if err := loop.Pace(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	if err := loop.Drain(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for aid := uint32(0); aid < articles; aid++ {
		for _, c := range readArticle(t, h, loop, aid, aid%users).Comments {
			seen++
			if c.Karma != karma[c.Commenter] {
				t.Fatalf("article %d comment %d: karma of %d is %d, model %d", aid, c.ID, c.Commenter, c.Karma, karma[c.Commenter])
			}
		}
	}
	if seen != int(cid) {
		t.Fatalf("read %d comments, posted %d", seen, cid)
	}
}
