package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
	"github.com/pequod-go/pequod/loadgen/twitter"
)

// testPort is the port of the server TestMain started (0: none).
var (
	testPort   int
	skipReason string
)

// TestMain starts a throw-away server with loadgen/scripts/postgres.sh on a
// free port and stops it at the end. When PostgreSQL is absent and cannot
// be installed (script status 3), the tests skip.
func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "postgres.sh"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "postgres test:", err)
		return 1
	}
	port, err := freePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, "postgres test: free port:", err)
		return 1
	}
	start := time.Now()
	cmd := exec.Command("bash", script, "start", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			skipReason = "PostgreSQL is not installed and loadgen/scripts/postgres.sh could not install it (needs apt-get and root or sudo)"
			return m.Run()
		}
		fmt.Fprintf(os.Stderr, "postgres test: %s start %d: %v\n", script, port, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "postgres test: server on port %d started in %v\n", port, time.Since(start).Round(time.Millisecond))
	testPort = port
	code := m.Run()
	stop := exec.Command("bash", script, "stop", fmt.Sprint(port))
	stop.Stdout, stop.Stderr = os.Stderr, os.Stderr
	if err := stop.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "postgres test: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// testConfig is the server's config with the given pool shape.
func testConfig(t *testing.T, poolMax, depth int) Config {
	t.Helper()
	if testPort == 0 {
		t.Skip(skipReason)
	}
	return Config{Port: testPort, PoolMax: poolMax, Depth: depth}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// twitterResult is what a twitter scenario observed.
type twitterResult struct {
	Counts  map[string]int
	Entries map[string][]twitter.Entry
	Stats   string
}

// runTwitter runs a fixed scenario on an empty database: subscriptions,
// posts (one before the subscription, which is not backfilled), then count
// and fetch checks.
func runTwitter(t *testing.T, cfg Config) twitterResult {
	ctx := testContext(t)
	if err := ResetTwitter(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	loop := async.New()
	b, err := NewTwitter(ctx, cfg, loop)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	var firstErr error
	check := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	const base = 1_000_000_000
	tweet := []byte(".....")
	// Poster 7 posts before anyone follows: no fan-out, no backfill.
	b.Post(7, base, tweet, false, check)
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// Users 0..9 follow posters (u+1)%10 and (u+3)%10; user 0 also 7.
	for u := uint32(0); u < 10; u++ {
		b.Subscribe(u, (u+1)%10, check)
		b.Subscribe(u, (u+3)%10, check)
	}
	b.Subscribe(0, 7, check)
	b.Subscribe(0, 7, check) // duplicate: ignored
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for i := uint32(1); i <= 40; i++ {
		b.Post(i%10, base+i, tweet, false, check)
	}
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	res := twitterResult{Counts: map[string]int{}, Entries: map[string][]twitter.Entry{}}
	for u := uint32(0); u < 10; u++ {
		for _, r := range [][2]uint32{{0, 2147483647}, {base + 10, base + 20}, {base + 40, base + 41}} {
			key := fmt.Sprintf("%d[%d,%d)", u, r[0], r[1])
			b.Check(u, r[0], r[1], false, func(n int, _ []twitter.Entry, err error) {
				check(err)
				res.Counts[key] = n
			})
			b.Check(u, r[0], r[1], true, func(n int, es []twitter.Entry, err error) {
				check(err)
				if n != len(es) {
					check(fmt.Errorf("fetch %s: n %d, %d entries", key, n, len(es)))
				}
				res.Entries[key] = es
			})
		}
	}
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	st, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 {
		t.Fatalf("stats: %d elements", len(st))
	}
	res.Stats = string(st[0])
	if max := b.pool.maxBatch.Load(); max > int64(cfg.Depth) || (cfg.Depth > 1 && max < 2) {
		t.Errorf("pool %d/%d: largest batch %d", cfg.PoolMax, cfg.Depth, max)
	}
	return res
}

// wantTwitter computes the scenario's expected timelines.
func wantTwitter(u, beg, end uint32) []twitter.Entry {
	const base = 1_000_000_000
	var es []twitter.Entry
	for i := uint32(1); i <= 40; i++ {
		poster, tm := i%10, base+i
		if (poster == (u+1)%10 || poster == (u+3)%10 || (u == 0 && poster == 7)) && beg <= tm && tm < end {
			es = append(es, twitter.Entry{User: u, Time: tm, Poster: poster, Value: []byte(".....")})
		}
	}
	return es
}

func TestTwitter(t *testing.T) {
	start := time.Now()
	one := runTwitter(t, testConfig(t, 1, 1))
	for u := uint32(0); u < 10; u++ {
		for _, r := range [][2]uint32{{0, 2147483647}, {1_000_000_010, 1_000_000_020}, {1_000_000_040, 1_000_000_041}} {
			key := fmt.Sprintf("%d[%d,%d)", u, r[0], r[1])
			want := wantTwitter(u, r[0], r[1])
			if one.Counts[key] != len(want) {
				t.Errorf("count %s = %d, want %d", key, one.Counts[key], len(want))
			}
			if !reflect.DeepEqual(one.Entries[key], want) {
				t.Errorf("fetch %s = %v, want %v", key, one.Entries[key], want)
			}
		}
	}
	// 41 posts; 21 distinct subscriptions; each of posters 0..9 posted 4
	// times (poster 7 once more, before its followers) and has 2 followers,
	// poster 7 a third: 80 + 4 entries.
	wantStats := `{"tables":[{"name":"p","store_size":41},{"name":"s","store_size":21},{"name":"t","store_size":84}]}`
	if one.Stats != wantStats {
		t.Errorf("stats = %s, want %s", one.Stats, wantStats)
	}
	t.Logf("pool 1/1: %v", time.Since(start))

	start = time.Now()
	three := runTwitter(t, testConfig(t, 3, 10))
	if !reflect.DeepEqual(one, three) {
		t.Errorf("pool 3/10 differs from 1/1:\n%+v\n%+v", three, one)
	}
	t.Logf("pool 3/10: %v", time.Since(start))
}

// TestTwitterInitializeKeepsData checks that a second process's Initialize
// does not empty the tables, and the unsupported operations.
func TestTwitterInitializeKeepsData(t *testing.T) {
	cfg := testConfig(t, 2, 4)
	ctx := testContext(t)
	if err := ResetTwitter(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	loop := async.New()
	for round := 1; round <= 2; round++ {
		b, err := NewTwitter(ctx, cfg, loop)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Initialize(ctx); err != nil {
			t.Fatal(err)
		}
		// Completions run in arrival order, not issue order: index errors.
		errs := make([]error, 7)
		ndone := 0
		rec := func(i int) func(error) { return func(err error) { errs[i] = err; ndone++ } }
		b.Subscribe(uint32(round), 100, rec(0))
		// The post goes to another connection: let the subscription land.
		if err := loop.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		b.Post(100, uint32(round), []byte("....."), false, rec(1))
		b.PushPost(1, 2, 3, nil, rec(2))
		b.MarkCelebrity(1, rec(3))
		b.FollowerScan(1, func(_ []uint32, err error) { rec(4)(err) })
		b.PostScan(1, 0, 1, func(_ []twitter.Post, err error) { rec(5)(err) })
		var tick uint32
		b.UpdateProgress(0, 1, 77, func(s uint32, err error) { tick = s; rec(6)(err) })
		if err := loop.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if ndone != 7 || errs[0] != nil || errs[1] != nil || errs[6] != nil || tick != 77 {
			t.Fatalf("round %d: %d done, errors %v, tick %d", round, ndone, errs, tick)
		}
		for _, err := range errs[2:6] {
			if !errors.Is(err, errUnsupported) {
				t.Errorf("round %d: want unsupported, got %v", round, err)
			}
		}
		st, err := b.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var obj struct {
			Tables []tableStats `json:"tables"`
		}
		if err := json.Unmarshal(st[0], &obj); err != nil {
			t.Fatal(err)
		}
		// Round 2: both subscriptions and posts; user 1's entry of post 2.
		want := []tableStats{{"p", int64(round)}, {"s", int64(round)}, {"t", int64(round * (round + 1) / 2)}}
		if !reflect.DeepEqual(obj.Tables, want) {
			t.Errorf("round %d: stats %+v, want %+v", round, obj.Tables, want)
		}
		if ctl, err := b.Control(ctx, map[string]any{"x": true}); ctl != nil || err != nil {
			t.Errorf("control: %v %v", ctl, err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		// After Close, operations fail through the loop.
		var closedErr error
		b.Subscribe(1, 2, func(err error) { closedErr = err })
		if err := loop.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if !errors.Is(closedErr, ErrClosed) {
			t.Errorf("after close: %v", closedErr)
		}
	}
}

func TestHN(t *testing.T) {
	for _, tc := range []struct {
		name        string
		hc          HNConfig
		pool, depth int
	}{
		{"mk", HNConfig{MK: true}, 1, 1},
		{"push", HNConfig{Push: true}, 1, 1},
		{"mk-pool", HNConfig{MK: true}, 3, 10},
		{"push-pool", HNConfig{Push: true}, 3, 10},
	} {
		t.Run(tc.name, func(t *testing.T) { testHN(t, testConfig(t, tc.pool, tc.depth), tc.hc) })
	}
	if _, err := NewHN(context.Background(), Config{}, async.New(), HNConfig{MK: true, Push: true}); err == nil {
		t.Error("NewHN accepted MK and Push")
	}
}

func testHN(t *testing.T, cfg Config, hc HNConfig) {
	ctx := testContext(t)
	loop := async.New()
	b, err := NewHN(ctx, cfg, loop, hc)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	var firstErr error
	check := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	// Model: 6 articles by users aid%4; votes; comments.
	const users, articles = 5, 6
	author := map[uint32]uint32{}
	karma := map[uint32]int64{}
	votes := map[uint32]int64{}
	type cm struct{ id, commenter uint32 }
	comments := map[uint32][]cm{}
	for aid := uint32(0); aid < articles; aid++ {
		a := aid % 4
		author[aid] = a
		karma[a]++
		votes[aid]++
		b.PostArticle(a, aid, karma[a], check)
	}
	cid := uint32(0)
	for aid := uint32(0); aid < articles; aid++ {
		for v := uint32(0); v < users; v++ {
			if v != author[aid] && (v+aid)%2 == 0 {
				karma[author[aid]]++
				votes[aid]++
				b.Vote(v, aid, author[aid], karma[author[aid]], check)
			}
		}
		for c := uint32(0); c < aid%3; c++ {
			commenter := (aid + c + 1) % users // user 4 never wrote an article
			comments[aid] = append(comments[aid], cm{cid, commenter})
			b.PostComment(commenter, aid, author[aid], cid, check)
			cid++
		}
	}
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.PostPopulate(ctx); err != nil {
		t.Fatal(err)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	pages := map[uint32]hn.Page{}
	for aid := uint32(0); aid < articles; aid++ {
		b.ReadArticle(aid, author[aid], func(p hn.Page, err error) {
			check(err)
			pages[aid] = p
		})
	}
	var missingErr error
	b.ReadArticle(999, 0, func(_ hn.Page, err error) { missingErr = err })
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if missingErr == nil {
		t.Error("reading a missing article succeeded")
	}
	for aid := uint32(0); aid < articles; aid++ {
		want := hn.Page{Author: author[aid], Votes: votes[aid]}
		for _, c := range comments[aid] {
			want.Comments = append(want.Comments, hn.Comment{ID: c.id, Commenter: c.commenter, Karma: karma[c.commenter]})
		}
		if !reflect.DeepEqual(pages[aid], want) {
			t.Errorf("page %d = %+v, want %+v", aid, pages[aid], want)
		}
	}
	st, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var nvotes int64
	for _, n := range votes {
		nvotes += n
	}
	ktable := "karma_mv"
	if hc.Push {
		ktable = "karma"
	}
	want := fmt.Sprintf(`{"tables":[{"name":"articles","store_size":%d},{"name":"comments","store_size":%d},{"name":"votes","store_size":%d},{"name":%q,"store_size":4}]}`,
		articles, cid, nvotes, ktable)
	if string(st[0]) != want {
		t.Errorf("stats = %s, want %s", st[0], want)
	}
}

// TestBatchFailure checks that a failing statement fails every operation of
// its batch (one implicit transaction) and that the connection recovers.
func TestBatchFailure(t *testing.T) {
	cfg := testConfig(t, 1, 3)
	cfg.PipelineTimeout = time.Minute // send only full batches
	ctx := testContext(t)
	if err := ResetTwitter(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	loop := async.New()
	b, err := NewTwitter(ctx, cfg, loop)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Initialize(ctx); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, 6)
	rec := func(i int) func(error) { return func(err error) { errs[i] = err } }
	b.Subscribe(1, 2, rec(0))
	b.Post(2, 10, []byte{0xff, 0xfe}, false, rec(1)) // invalid UTF-8
	b.Subscribe(3, 2, rec(2))
	b.Subscribe(4, 2, rec(3))
	b.Post(2, 10, []byte("....."), false, rec(4))
	b.Subscribe(3, 2, rec(5))
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if (err != nil) != (i < 3) {
			t.Errorf("operation %d: error %v", i, err)
		}
	}
	st, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The first batch rolled back: s holds (4,2) and (3,2), and the post
	// fanned out to user 4 only (3 subscribed after it).
	if want := `{"tables":[{"name":"p","store_size":1},{"name":"s","store_size":2},{"name":"t","store_size":1}]}`; string(st[0]) != want {
		t.Errorf("stats %s, want %s", st[0], want)
	}
}
