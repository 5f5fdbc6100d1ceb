package redis

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/redisclient"
	"github.com/pequod-go/pequod/loadgen/twitter"
)

var tweet = []byte(".....")

func newTwitter(t *testing.T, bin bool) (*Twitter, *async.Loop, *redisclient.Client) {
	t.Helper()
	raw := needRedis(t)
	loop := async.New()
	tw, err := NewTwitter(testCtx(t), redisAddr, loop, TwitterConfig{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tw.Close() })
	return tw, loop, raw
}

func modes(t *testing.T, f func(t *testing.T, bin bool)) {
	t.Run("text", func(t *testing.T) { f(t, false) })
	t.Run("binary", func(t *testing.T) { f(t, true) })
}

func be32(v uint32) string { return string(binary.BigEndian.AppendUint32(nil, v)) }

func checkTimeline(t *testing.T, tw *Twitter, loop *async.Loop, user, beg, end uint32, fetch bool) (int, []twitter.Entry) {
	t.Helper()
	finished := false
	var n int
	var es []twitter.Entry
	var err error
	tw.Check(user, beg, end, fetch, func(n1 int, es1 []twitter.Entry, e error) { n, es, err, finished = n1, es1, e, true })
	await(t, loop, &finished)
	if err != nil {
		t.Fatal(err)
	}
	return n, es
}

func TestTwitterSubscribeFollowerScan(t *testing.T) {
	modes(t, func(t *testing.T, bin bool) {
		tw, loop, raw := newTwitter(t, bin)
		// Ids 0 and 256 have zero bytes in BE32: keys and members must
		// keep their full length.
		for _, s := range [][2]uint32{{0, 256}, {0, 3}, {0, 256}, {0, 0}, {7, 1}} {
			do(t, loop, func(done func(error)) { tw.Subscribe(s[0], s[1], done) })
		}
		scan := func(poster uint32) []uint32 {
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
		if got, want := scan(0), []uint32{0, 3, 256}; !reflect.DeepEqual(got, want) {
			t.Errorf("FollowerScan(0) = %v, want %v", got, want)
		}
		if got, want := scan(7), []uint32{1}; !reflect.DeepEqual(got, want) {
			t.Errorf("FollowerScan(7) = %v, want %v", got, want)
		}
		if got := scan(5); len(got) != 0 {
			t.Errorf("FollowerScan(5) = %v, want none", got)
		}
		// The layout on the server (§3.2).
		key, member := "s|00000000", "00000256"
		if bin {
			key, member = "s|"+be32(0), be32(256)
		}
		if r := rawDo(t, raw, "SISMEMBER", key, member); r.Int != 1 {
			t.Errorf("SISMEMBER %q %q = %s, want 1", key, member, r)
		}
	})
}

func TestTwitterPostScan(t *testing.T) {
	modes(t, func(t *testing.T, bin bool) {
		tw, loop, raw := newTwitter(t, bin)
		for _, tm := range []uint32{1000000000, 1000000005, 1000000010} {
			v := append([]byte(nil), tweet...)
			v[0] = byte('a' + tm%10)
			do(t, loop, func(done func(error)) { tw.Post(256, tm, v, false, done) })
		}
		do(t, loop, func(done func(error)) { tw.Post(3, 1000000001, tweet, true, done) }) // celeb ignored
		scan := func(poster, beg, end uint32) []twitter.Post {
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
		want := []twitter.Post{{Time: 1000000000, Value: []byte("a....")}, {Time: 1000000005, Value: []byte("f....")}}
		if got := scan(256, 1000000000, 1000000010); !reflect.DeepEqual(got, want) {
			t.Errorf("PostScan [0,10) = %+v, want %+v", got, want)
		}
		want = []twitter.Post{{Time: 1000000005, Value: []byte("f....")}, {Time: 1000000010, Value: []byte("a....")}}
		if got := scan(256, 1000000001, 1000000011); !reflect.DeepEqual(got, want) {
			t.Errorf("PostScan [1,11) = %+v, want %+v", got, want)
		}
		if got := scan(256, 1000000011, 2147483647); len(got) != 0 {
			t.Errorf("PostScan past the end = %+v", got)
		}
		if got := scan(3, 0, 2147483647); len(got) != 1 || got[0].Time != 1000000001 {
			t.Errorf("PostScan(3) = %+v", got)
		}
		key, member := "p|00000256", "1000000000 a...."
		if bin {
			key, member = "p|"+be32(256), be32(1000000000)+" a...."
		}
		if r := rawDo(t, raw, "ZSCORE", key, member); string(r.Str) != "1000000000" {
			t.Errorf("ZSCORE %q %q = %s", key, member, r)
		}
	})
}

func TestTwitterCheck(t *testing.T) {
	modes(t, func(t *testing.T, bin bool) {
		tw, loop, raw := newTwitter(t, bin)
		// User 0 and poster 0 / time 256 exercise zero bytes in binary.
		pushes := []struct{ follower, poster, time uint32 }{
			{0, 1, 100}, {0, 0, 256}, {0, 123456789, 300}, {0, 1, 300}, {2, 1, 100},
		}
		for _, p := range pushes {
			do(t, loop, func(done func(error)) { tw.PushPost(p.follower, p.poster, p.time, tweet, done) })
		}
		for _, c := range []struct {
			beg, end uint32
			n        int
		}{
			{100, 300, 2}, {100, 301, 4}, {101, 301, 3}, {256, 257, 1}, {300, 301, 2},
			{301, 2147483647, 0}, {0, 100, 0}, {300, 300, 0}, {300, 100, 0},
		} {
			if n, es := checkTimeline(t, tw, loop, 0, c.beg, c.end, false); n != c.n || es != nil {
				t.Errorf("Check(0, %d, %d) = %d, %v; want %d, nil", c.beg, c.end, n, es, c.n)
			}
		}
		n, es := checkTimeline(t, tw, loop, 0, 0, 2147483647, true)
		want := []twitter.Entry{
			{User: 0, Time: 100, Poster: 1, Value: tweet},
			{User: 0, Time: 256, Poster: 0, Value: tweet},
			{User: 0, Time: 300, Poster: 1, Value: tweet},
			{User: 0, Time: 300, Poster: 123456789, Value: tweet},
		}
		if n != 4 || !reflect.DeepEqual(es, want) {
			t.Errorf("Check fetch = %d %+v, want 4 %+v", n, es, want)
		}
		if n, es := checkTimeline(t, tw, loop, 2, 0, 2147483647, true); n != 1 || !reflect.DeepEqual(es, []twitter.Entry{{User: 2, Time: 100, Poster: 1, Value: tweet}}) {
			t.Errorf("Check(2) = %d %+v", n, es)
		}
		key, member := "t|00000000", "0000000256|00000000 ....."
		if bin {
			key, member = "t|"+be32(0), be32(256)+"|"+be32(0)+" ....."
		}
		if r := rawDo(t, raw, "ZSCORE", key, member); string(r.Str) != "256" {
			t.Errorf("ZSCORE %q %q = %s", key, member, r)
		}
	})
}

func TestTwitterProgress(t *testing.T) {
	tw, loop, raw := newTwitter(t, false)
	update := func(group, ngroups int, tick uint32) uint32 {
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
	if got := update(1, 3, 5000); got != 5000 {
		t.Errorf("first report: slowest %d, want 5000 (only its own)", got)
	}
	if got := update(0, 3, 4000); got != 4000 {
		t.Errorf("slowest %d, want 4000", got)
	}
	if got := update(2, 3, 9000); got != 4000 {
		t.Errorf("slowest %d, want 4000", got)
	}
	if got := update(0, 3, 12000); got != 5000 {
		t.Errorf("slowest %d, want 5000", got)
	}
	if got := update(0, 1, 13000); got != 13000 {
		t.Errorf("single group: slowest %d, want 13000", got)
	}
	if r := rawDo(t, raw, "GET", "prog|002"); string(r.Str) != "9000" {
		t.Errorf("prog|002 = %s, want 9000", r)
	}
	// A group beyond ngroups is not read.
	rawDo(t, raw, "SET", "prog|005", "1")
	if got := update(1, 3, 14000); got != 9000 {
		t.Errorf("slowest %d, want 9000", got)
	}
}

func TestTwitterErrors(t *testing.T) {
	tw, loop, raw := newTwitter(t, false)
	if tw.Name() != "redis" {
		t.Errorf("Name = %q", tw.Name())
	}
	ctx := testCtx(t)
	if err := tw.Initialize(ctx); err != nil {
		t.Error(err)
	}
	if err := tw.WaitReady(ctx); err != nil {
		t.Error(err)
	}
	if s, err := tw.Stats(ctx); s != nil || err != nil {
		t.Errorf("Stats = %v, %v", s, err)
	}
	if c, err := tw.Control(ctx, map[string]any{"clear_log": true}); c != nil || err != nil {
		t.Errorf("Control = %v, %v", c, err)
	}

	finished := false
	var err error
	tw.MarkCelebrity(4, func(e error) { err, finished = e, true })
	if finished {
		t.Fatal("MarkCelebrity called done synchronously")
	}
	await(t, loop, &finished)
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("MarkCelebrity: %v, want ErrUnsupported", err)
	}

	// A Redis error reply (WRONGTYPE) reaches done.
	rawDo(t, raw, "SET", "t|00000009", "x")
	finished = false
	tw.Check(9, 0, 10, true, func(n int, es []twitter.Entry, e error) { err, finished = e, true })
	await(t, loop, &finished)
	var re *redisclient.RedisError
	if !errors.As(err, &re) {
		t.Errorf("Check on a string key: %v, want a RedisError", err)
	}
	finished = false
	tw.PushPost(9, 1, 5, tweet, func(e error) { err, finished = e, true })
	await(t, loop, &finished)
	if !errors.As(err, &re) {
		t.Errorf("PushPost on a string key: %v, want a RedisError", err)
	}
	rawDo(t, raw, "SET", "prog|001", "not a number")
	finished = false
	tw.UpdateProgress(0, 2, 7, func(s uint32, e error) { err, finished = e, true })
	await(t, loop, &finished)
	if err == nil {
		t.Error("UpdateProgress with a garbage value: no error")
	}
	if n := loop.Outstanding(); n != 0 {
		t.Errorf("%d requests outstanding after the errors", n)
	}
}

// Completions run only when the loop runs, never on the client's
// goroutines, and many pipelined requests all complete.
func TestTwitterCompletionsOnLoop(t *testing.T) {
	tw, loop, _ := newTwitter(t, true)
	const n = 20000
	completed := 0
	for i := range n {
		tw.PushPost(uint32(i%7), uint32(i), uint32(i), tweet, func(err error) {
			if err != nil {
				t.Error(err)
			}
			completed++
		})
	}
	time.Sleep(50 * time.Millisecond)
	if completed != 0 {
		t.Fatalf("%d completions ran outside the loop", completed)
	}
	if err := loop.Drain(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if completed != n {
		t.Fatalf("completed %d of %d", completed, n)
	}
	total := 0
	for u := range uint32(7) {
		c, _ := checkTimeline(t, tw, loop, u, 0, n, false)
		total += c
	}
	if total != n {
		t.Errorf("timelines hold %d entries, want %d", total, n)
	}
}

func TestTwitterClose(t *testing.T) {
	tw, loop, _ := newTwitter(t, false)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	finished := false
	var err error
	tw.Post(1, 2, tweet, false, func(e error) { err, finished = e, true })
	await(t, loop, &finished)
	if err == nil {
		t.Error("Post after Close: no error")
	}
	if err := tw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
