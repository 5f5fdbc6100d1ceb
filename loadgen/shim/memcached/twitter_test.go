package memcached

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/memcache"
	"github.com/pequod-go/pequod/loadgen/twitter"
)

var tweet = []byte(".....")

func newTwitter(t *testing.T, addr string) (*Twitter, *async.Loop) {
	t.Helper()
	loop := async.New()
	tw, err := NewTwitter(testCtx(t), addr, loop)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		tw.Close()
		loop.Drain(testCtx(t))
	})
	return tw, loop
}

func checkTL(t *testing.T, tw *Twitter, loop *async.Loop, user, beg, end uint32, fetch bool) (int, []twitter.Entry) {
	t.Helper()
	finished := false
	var n int
	var es []twitter.Entry
	var err error
	tw.Check(user, beg, end, fetch, func(n0 int, es0 []twitter.Entry, err0 error) {
		n, es, err, finished = n0, es0, err0, true
	})
	await(t, loop, &finished)
	if err != nil {
		t.Fatal(err)
	}
	return n, es
}

func followers(t *testing.T, tw *Twitter, loop *async.Loop, poster uint32) []uint32 {
	t.Helper()
	finished := false
	var fs []uint32
	var err error
	tw.FollowerScan(poster, func(f []uint32, e error) { fs, err, finished = f, e, true })
	await(t, loop, &finished)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func postScan(t *testing.T, tw *Twitter, loop *async.Loop, poster, beg, end uint32) []twitter.Post {
	t.Helper()
	finished := false
	var ps []twitter.Post
	var err error
	tw.PostScan(poster, beg, end, func(p []twitter.Post, e error) { ps, err, finished = p, e, true })
	await(t, loop, &finished)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestTwitterSubscribeFollowerScan(t *testing.T) {
	raw := needMemcached(t)
	tw, loop := newTwitter(t, mcAddr)
	if tw.Name() != "memcached" {
		t.Fatal(tw.Name())
	}
	if err := tw.Initialize(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := tw.WaitReady(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if fs := followers(t, tw, loop, 7); len(fs) != 0 {
		t.Fatalf("missing list: %v", fs)
	}
	// The first APPEND creates the missing list.
	mustDo(t, loop, func(d func(error)) { tw.Subscribe(7, 12, d) })
	if v := rawGet(t, raw, "s|00000007"); v != "00000012" {
		t.Fatalf("s|00000007 = %q", v)
	}
	// Pipelined subscribes, several to lists that do not exist yet.
	left := 0
	for f := uint32(100); f < 130; f++ {
		for _, p := range []uint32{7, 8, 12345678} {
			left++
			tw.Subscribe(p, f, func(err error) {
				if err != nil {
					t.Error(err)
				}
				left--
			})
		}
	}
	if err := loop.Until(testCtx(t), func() bool { return left == 0 }); err != nil {
		t.Fatal(err)
	}
	for _, p := range []uint32{7, 8, 12345678} {
		fs := followers(t, tw, loop, p)
		slices.Sort(fs)
		want := []uint32{}
		if p == 7 {
			want = append(want, 12)
		}
		for f := uint32(100); f < 130; f++ {
			want = append(want, f)
		}
		slices.Sort(want)
		if !slices.Equal(fs, want) {
			t.Fatalf("followers of %d: %v, want %v", p, fs, want)
		}
	}
}

func TestTwitterPostRecordsAndScan(t *testing.T) {
	raw := needMemcached(t)
	tw, loop := newTwitter(t, mcAddr)
	mustDo(t, loop, func(d func(error)) { tw.Post(3, 1000000005, tweet, false, d) })
	mustDo(t, loop, func(d func(error)) { tw.Post(3, 1000000009, []byte("abcde"), true, d) })
	mustDo(t, loop, func(d func(error)) { tw.Post(3, 1000000020, tweet, false, d) })
	if v, want := rawGet(t, raw, "p|00000003"), "1000000005|.....1000000009|abcde1000000020|....."; v != want {
		t.Fatalf("p|00000003 = %q, want %q", v, want)
	}
	ps := postScan(t, tw, loop, 3, 1000000005, 1000000020)
	want := []twitter.Post{{Time: 1000000005, Value: tweet}, {Time: 1000000009, Value: []byte("abcde")}}
	if len(ps) != 2 || ps[0].Time != want[0].Time || string(ps[0].Value) != "....." ||
		ps[1].Time != want[1].Time || string(ps[1].Value) != "abcde" {
		t.Fatalf("post scan: %+v", ps)
	}
	if ps := postScan(t, tw, loop, 3, 0, 2147483647); len(ps) != 3 {
		t.Fatalf("full scan: %+v", ps)
	}
	if ps := postScan(t, tw, loop, 4, 0, 2147483647); len(ps) != 0 {
		t.Fatalf("missing list: %+v", ps)
	}
}

func TestTwitterPushPostAndCheck(t *testing.T) {
	raw := needMemcached(t)
	tw, loop := newTwitter(t, mcAddr)
	mustDo(t, loop, func(d func(error)) { tw.PushPost(9, 1, 1000000100, tweet, d) })
	if v, want := rawGet(t, raw, "t|00000009"), "1000000100|00000001|....."; v != want {
		t.Fatalf("t|00000009 = %q, want %q", v, want)
	}
	left := 0
	for tm := uint32(1000000101); tm < 1000000120; tm++ {
		left++
		tw.PushPost(9, tm%4, tm, tweet, func(err error) {
			if err != nil {
				t.Error(err)
			}
			left--
		})
	}
	if err := loop.Until(testCtx(t), func() bool { return left == 0 }); err != nil {
		t.Fatal(err)
	}
	if n := len(rawGet(t, raw, "t|00000009")); n != 20*25 {
		t.Fatalf("timeline of %d bytes", n)
	}
	// beg <= time < end.
	if n, es := checkTL(t, tw, loop, 9, 1000000100, 1000000110, false); n != 10 || es != nil {
		t.Fatalf("count: %d %v", n, es)
	}
	n, es := checkTL(t, tw, loop, 9, 1000000105, 1000000108, true)
	if n != 3 || len(es) != 3 {
		t.Fatalf("fetch: %d %+v", n, es)
	}
	for i, e := range es {
		tm := uint32(1000000105 + i)
		if e.User != 9 || e.Time != tm || e.Poster != tm%4 || string(e.Value) != "....." {
			t.Fatalf("entry %d: %+v", i, e)
		}
	}
	if n, _ := checkTL(t, tw, loop, 9, 1000000120, 2147483647, true); n != 0 {
		t.Fatalf("after the last: %d", n)
	}
	if n, _ := checkTL(t, tw, loop, 10, 0, 2147483647, true); n != 0 {
		t.Fatalf("missing timeline: %d", n)
	}
}

func TestTwitterProgress(t *testing.T) {
	raw := needMemcached(t)
	tw, loop := newTwitter(t, mcAddr)
	progress := func(group, ngroups int, tick uint32) uint32 {
		t.Helper()
		finished := false
		var slowest uint32
		var err error
		tw.UpdateProgress(group, ngroups, tick, func(s uint32, e error) { slowest, err, finished = s, e, true })
		await(t, loop, &finished)
		if err != nil {
			t.Fatal(err)
		}
		return slowest
	}
	if s := progress(0, 3, 5000); s != 5000 {
		t.Fatalf("alone: %d", s)
	}
	if v := rawGet(t, raw, "prog|000"); v != "5000" {
		t.Fatalf("prog|000 = %q", v)
	}
	if s := progress(2, 3, 3000); s != 3000 {
		t.Fatalf("two groups: %d", s)
	}
	if s := progress(0, 3, 9000); s != 3000 {
		t.Fatalf("slowest: %d", s)
	}
	if s := progress(2, 3, 12000); s != 9000 {
		t.Fatalf("slowest after: %d", s)
	}
}

func TestTwitterStats(t *testing.T) {
	needMemcached(t)
	tw, _ := newTwitter(t, mcAddr)
	st, err := tw.Stats(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 {
		t.Fatalf("%d stats objects", len(st))
	}
	var obj map[string]any
	if err := json.Unmarshal(st[0], &obj); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server_user_time", "server_system_time", "server_wall_time"} {
		if _, ok := obj[k].(float64); !ok {
			t.Errorf("%s = %#v, want a number", k, obj[k])
		}
	}
	if _, ok := obj["curr_items"].(string); !ok {
		t.Errorf("curr_items = %#v", obj["curr_items"])
	}
	if r, err := tw.Control(testCtx(t), map[string]any{"clear_log": true}); r != nil || err != nil {
		t.Fatalf("control: %v %v", r, err)
	}
}

func TestTwitterErrors(t *testing.T) {
	raw := needMemcached(t)
	tw, loop := newTwitter(t, mcAddr)
	if err := do(t, loop, func(d func(error)) { tw.MarkCelebrity(1, d) }); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("mark_celebrity: %v", err)
	}
	if err := do(t, loop, func(d func(error)) { tw.Post(1, 1000000000, []byte("toolong"), false, d) }); err == nil {
		t.Fatal("post with a 7-byte tweet succeeded")
	}
	if err := do(t, loop, func(d func(error)) { tw.Subscribe(100_000_000, 1, d) }); err == nil {
		t.Fatal("subscribe with a 9-digit id succeeded")
	}
	if err := raw.Set(testCtx(t), []byte("t|00000005"), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	finished := false
	var err error
	tw.Check(5, 0, 2147483647, false, func(_ int, _ []twitter.Entry, e error) { err, finished = e, true })
	await(t, loop, &finished)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed timeline: %v", err)
	}
	if err := raw.Set(testCtx(t), []byte("t|00000006"), []byte(strings.Repeat("x", 25))); err != nil {
		t.Fatal(err)
	}
	finished = false
	tw.Check(6, 0, 2147483647, true, func(_ int, _ []twitter.Entry, e error) { err, finished = e, true })
	await(t, loop, &finished)
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("malformed record: %v", err)
	}
}

// Completions run on the loop's goroutine, only when the loop runs.
func TestTwitterCompletionsOnLoop(t *testing.T) {
	needMemcached(t)
	tw, loop := newTwitter(t, mcAddr)
	ran := 0
	for i := range 100 {
		tw.PushPost(uint32(i%7), 1, uint32(1000000000+i), tweet, func(err error) {
			if err != nil {
				t.Error(err)
			}
			ran++
		})
	}
	// 100 APPENDs plus the ADD that creates each of the 7 lists first.
	if loop.Outstanding() != 107 {
		t.Fatalf("outstanding %d, want 107", loop.Outstanding())
	}
	for range 100 {
		runtime.Gosched()
	}
	if ran != 0 {
		t.Fatal("a completion ran outside the loop")
	}
	if err := loop.Drain(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ran != 100 {
		t.Fatalf("ran %d", ran)
	}
}

// Several servers: lists are routed by blocks of 1000 ids; here both
// "servers" are the same memcached, reached over two connections.
func TestTwitterSeveralServers(t *testing.T) {
	raw := needMemcached(t)
	tw, loop := newTwitter(t, mcAddr+","+mcAddr)
	if len(tw.cns) != 2 || tw.owner(999) != tw.cns[0] || tw.owner(1000) != tw.cns[1] || tw.owner(2000) != tw.cns[0] {
		t.Fatal("routing")
	}
	for _, u := range []uint32{5, 1005} {
		mustDo(t, loop, func(d func(error)) { tw.PushPost(u, 1, 1000000001, tweet, d) })
		if n, _ := checkTL(t, tw, loop, u, 0, 2147483647, false); n != 1 {
			t.Fatalf("user %d: %d", u, n)
		}
	}
	st, err := tw.Stats(testCtx(t))
	if err != nil || len(st) != 2 {
		t.Fatalf("stats: %d %v", len(st), err)
	}
	if v := rawGet(t, raw, "t|00001005"); v != "1000000001|00000001|....." {
		t.Fatalf("t|00001005 = %q", v)
	}
}

func TestTwitterClose(t *testing.T) {
	needMemcached(t)
	loop := async.New()
	tw, err := NewTwitter(testCtx(t), mcAddr, loop)
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	err = do(t, loop, func(d func(error)) { tw.Subscribe(1, 2, d) })
	if !errors.Is(err, memcache.ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := NewTwitter(testCtx(t), "127.0.0.1:1", loop); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	_ = fmt.Sprint(tw)
}

// TestTwitterCreateKeepsOrder issues, without waiting, the first append to
// fresh lists followed at once by a read of the list. The read must see
// the record: with the APPEND→ADD retry of memcache.Request.Create alone,
// the ADD was sent behind the read, which then missed the record (the
// cause of push runs reading fewer posts on memcached than on Pequod and
// Redis: lost backfills and fan-outs).
func TestTwitterCreateKeepsOrder(t *testing.T) {
	needMemcached(t)
	tw, loop := newTwitter(t, mcAddr)
	const n = 200
	pending := 0
	var errs []error
	fail := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	done := func(err error) { fail(err); pending-- }
	for i := uint32(1); i <= n; i++ {
		pending += 6
		poster, follower, reader := i, 1000+i, 2000+i
		tw.Post(poster, 100+i, tweet, false, done)
		tw.PostScan(poster, 0, 1<<31, func(ps []twitter.Post, err error) {
			if err == nil && len(ps) != 1 {
				err = fmt.Errorf("post_scan p|%08d right after its first post: %d posts, want 1", poster, len(ps))
			}
			done(err)
		})
		tw.Subscribe(poster, follower, done)
		tw.FollowerScan(poster, func(fs []uint32, err error) {
			if err == nil && !slices.Equal(fs, []uint32{follower}) {
				err = fmt.Errorf("follower_scan s|%08d right after its first subscribe: %v, want [%d]", poster, fs, follower)
			}
			done(err)
		})
		tw.PushPost(reader, poster, 100+i, tweet, done)
		tw.Check(reader, 0, 1<<31, false, func(n int, _ []twitter.Entry, err error) {
			if err == nil && n != 1 {
				err = fmt.Errorf("check t|%08d right after its first push_post: %d entries, want 1", reader, n)
			}
			done(err)
		})
	}
	if err := loop.Until(testCtx(t), func() bool { return pending == 0 }); err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if i == 5 {
			t.Errorf("... %d errors in all", len(errs))
			break
		}
		t.Error(err)
	}
}

// TestTwitterListsKeepDuplicates pins the §3.3 design the shim keeps: lists
// are appended records, not sets, so a repeated subscribe stores the
// follower twice (each later post is pushed twice) and a repeated push
// (backfill of a post the follower already got) is a second entry. Pequod
// and Redis store these idempotently, so memcached push runs can read more
// posts than they do.
func TestTwitterListsKeepDuplicates(t *testing.T) {
	needMemcached(t)
	tw, loop := newTwitter(t, mcAddr)
	mustDo(t, loop, func(d func(error)) { tw.Subscribe(7, 8, d) })
	mustDo(t, loop, func(d func(error)) { tw.Subscribe(7, 8, d) })
	if fs := followers(t, tw, loop, 7); !slices.Equal(fs, []uint32{8, 8}) {
		t.Errorf("followers after subscribing twice: %v, want [8 8]", fs)
	}
	mustDo(t, loop, func(d func(error)) { tw.PushPost(8, 7, 100, tweet, d) })
	mustDo(t, loop, func(d func(error)) { tw.PushPost(8, 7, 100, tweet, d) })
	if n, _ := checkTL(t, tw, loop, 8, 0, 200, false); n != 2 {
		t.Errorf("check after the same push twice: %d, want 2", n)
	}
}
