package twitter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/pqclient"
	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/reactor"
)

// smallParams is the fixed small run of the counter tests.
func smallParams() Params {
	p := DefaultParams()
	p.NUsers = 300
	p.Duration = 20000
	p.PopDuration = 2000
	p.MinSubscriptions = 10 // the defaults need nusers >= 400 (§2.6.1 shape loop)
	p.MaxSubscriptions = 50
	return p
}

func newEmbedded(t testing.TB, binary bool) *partition.Server {
	t.Helper()
	pf := "twitternew"
	if !binary {
		pf = "twitternew-text"
	}
	srv, err := partition.New(partition.Config{Partitions: 4, Partitioner: pf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// runEmbedded runs p against a fresh in-process server.
func runEmbedded(t testing.TB, p Params) *Result {
	t.Helper()
	srv := newEmbedded(t, p.Binary)
	loop := async.New()
	conn := pqclient.Embedded(srv, loop)
	return runOn(t, p, conn, true)
}

func runOn(t testing.TB, p Params, conn *pqclient.Conn, inProcess bool) *Result {
	t.Helper()
	var progress io.Writer = io.Discard
	if testing.Verbose() {
		progress = os.Stderr
	}
	be, err := NewPequod(conn, p, PequodConfig{InProcess: inProcess, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, p, be, conn.Loop(), progress)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func counters(r *Result) map[string]int64 {
	b, _ := json.Marshal(r)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := map[string]int64{}
	for _, k := range []string{"nposts", "nbackposts", "nsubscribes", "nchecks", "nfull", "nposts_read", "nactive", "nlogouts"} {
		out[k] = int64(m[k].(float64))
	}
	return out
}

// Counter vectors in Result.Counters order: nposts, nbackposts,
// nsubscribes, nchecks, nfull, nposts_read, nactive, nlogouts.
var (
	// smallParams (nusers 300, duration 20000, popduration 2000).
	lazyCounters = [8]int64{262, 0, 2595, 15822, 1529, 65413, 209, 1321}
	// Push mode reads the same timelines; nbackposts counts the backfill.
	pushCounters = [8]int64{262, 18026, 2595, 15822, 1529, 65413, 209, 1321}
	// smallParams with duration 5000 (pull and celebrity modes are slow).
	short5kCounters = [8]int64{59, 0, 651, 3950, 545, 51475, 209, 340}
)

// TestCounters runs the fixed small workload in every mode and asserts the
// exact counters. In these runs every check during the run reads before
// BaseTime (now − Skew), so nposts_read comes from the final scan, which
// runs after a drain: every mode must read the same timelines, so
// nposts_read agrees between lazy, pull, eager, celebrity and push modes.
// (With popduration > Skew the run's checks read posts too; push-mode
// backfill is then asynchronous and a check issued before its completion
// misses the backfilled posts, so push reads slightly fewer unless
// synchronous = 1 — observed: 805772 vs 805799 pipelined, equal with
// synchronous = 1.)
func TestCounters(t *testing.T) {
	cases := []struct {
		name string
		set  func(*Params)
		want [8]int64
		slow bool
	}{
		{"lazy", func(p *Params) {}, lazyCounters, false},
		{"push", func(p *Params) { p.Push = true }, pushCounters, false},
		{"eager", func(p *Params) { p.Eager = true }, lazyCounters, false},
		{"no-prevalidate", func(p *Params) { p.Prevalidate = false }, lazyCounters, true},
		{"prevalidate-inactive", func(p *Params) { p.PrevalidateInactive = true }, lazyCounters, true},
		{"prevalidate-before-sub", func(p *Params) { p.PrevalidateBeforeSub = true }, lazyCounters, true},
		{"fetch", func(p *Params) { p.Fetch = true }, lazyCounters, true},
		{"text", func(p *Params) { p.Binary = false }, lazyCounters, false},
		{"synchronous", func(p *Params) { p.Synchronous = 7 }, lazyCounters, true},
		{"lazy-5k", func(p *Params) { p.Duration = 5000 }, short5kCounters, false},
		{"pull-5k", func(p *Params) { p.Duration, p.Pull = 5000, true }, short5kCounters, true},
		{"celebrity-5k", func(p *Params) { p.Duration, p.Celebrity = 5000, 40 }, short5kCounters, true},
		{"postlimit", func(p *Params) { p.PostLimit = 100 }, [8]int64{100, 0, 1054, 6287, 710, 50495, 209, 517}, false},
		{"checklimit", func(p *Params) { p.CheckLimit = 1000 }, [8]int64{17, 0, 186, 1000, 294, 47531, 209, 91}, false},
		{"pactive-20", func(p *Params) { p.PActive = 20 }, [8]int64{262, 0, 2595, 15822, 1381, 20250, 61, 1321}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.slow && testing.Short() {
				t.Skip("slow mode in -short")
			}
			p := smallParams()
			c.set(&p)
			r := runEmbedded(t, p)
			if got := r.Counters(); got != c.want {
				t.Errorf("counters %v, want %v", got, c.want)
			}
			checkInvariants(t, p, r)
			if p.Celebrity != 0 {
				if n := tableStat(t, r, "cp", "store_size"); n == 0 {
					t.Error("celebrity run stored no cp| posts")
				}
				if n := tableStat(t, r, "c", "store_size"); n == 0 {
					t.Error("celebrity run stored no c| markers")
				}
			}
		})
	}
}

// checkInvariants checks relations every run must satisfy.
func checkInvariants(t *testing.T, p Params, r *Result) {
	t.Helper()
	if !r.Executed || !r.Master {
		t.Errorf("executed %v master %v", r.Executed, r.Master)
	}
	q, _ := p.Normalize()
	if q.Duration > 0 && q.PostLimit == 0 && q.CheckLimit == 0 {
		if ops := r.NPosts + r.NSubscribes + r.NChecks; ops > int64(q.Duration) {
			t.Errorf("%d ops in %d ticks", ops, q.Duration)
		}
	}
	if r.NFull > r.NChecks || r.NLogouts > r.NFull {
		t.Errorf("nfull %d, nchecks %d, nlogouts %d", r.NFull, r.NChecks, r.NLogouts)
	}
	if !p.Push && r.NBackPosts != 0 {
		t.Errorf("nbackposts %d without push", r.NBackPosts)
	}
	if r.WallTime <= 0 {
		t.Errorf("wall_time %v", r.WallTime)
	}
	if len(r.ServerStats) != 1 || r.ServerLogs != nil {
		t.Errorf("server_stats %d elements, server_logs %v", len(r.ServerStats), r.ServerLogs)
	}
}

// tableStat returns a per-table counter of the first server's stats.
func tableStat(t *testing.T, r *Result, table, field string) int64 {
	t.Helper()
	var st struct {
		Tables []map[string]any `json:"tables"`
	}
	if err := json.Unmarshal(r.ServerStats[0], &st); err != nil {
		t.Fatal(err)
	}
	for _, tb := range st.Tables {
		if tb["name"] == table {
			v, _ := tb[field].(float64)
			return int64(v)
		}
	}
	return 0
}

func TestResultJSONOrder(t *testing.T) {
	r := &Result{Executed: true, Master: true, Log: json.RawMessage(`{"cpu_pct":[[1,2]]}`),
		ServerStats: []json.RawMessage{json.RawMessage(`{"a":1}`)}, NPosts: 3, WallTime: 1.5}
	b, err := r.Indented()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"log", "server_logs", "server_stats", "nposts", "nbackposts", "nsubscribes", "nchecks",
		"nfull", "nposts_read", "nactive", "nlogouts", "user_time", "system_time", "wall_time"}
	if got := topKeys(t, b); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("keys %v\nwant %v", got, want)
	}
	if !bytes.Contains(b, []byte("\n    \"nposts\": 3,")) || !bytes.Contains(b, []byte(`"server_logs": null`)) {
		t.Errorf("not 4-space indented or wrong values:\n%s", b)
	}
	r.Master = false
	b, _ = r.Indented()
	if got := topKeys(t, b); len(got) != len(want)-2 || got[1] != "nposts" {
		t.Errorf("non-master keys %v", got)
	}
}

// topKeys lists a JSON object's top-level keys in order.
func topKeys(t *testing.T, b []byte) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	if _, err := d.Token(); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestDiffStats(t *testing.T) {
	got, err := diffStats(json.RawMessage(`{"z":1,"server_user_time":3.5,"server_wall_time":10,"tables":[]}`),
		json.RawMessage(`{"server_user_time":1,"server_wall_time":4}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"z":1,"server_user_time":2.5,"server_wall_time":6,"tables":[]}` {
		t.Errorf("diff %s", got)
	}
}

// startNetServer serves a fresh partition server over TCP on loopback.
func startNetServer(t *testing.T, binary bool) string {
	t.Helper()
	srv := newEmbedded(t, binary)
	rs, err := reactor.Start(reactor.Config{Addr: "127.0.0.1:0", Loops: 2}, srv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rs.Stop(ctx)
	})
	return rs.Addr().String()
}

// TestNetworkMatchesEmbedded: the same run over TCP gives the same counters.
func TestNetworkMatchesEmbedded(t *testing.T) {
	for _, c := range []struct {
		name string
		push bool
		want [8]int64
	}{{"lazy", false, lazyCounters}, {"push", true, pushCounters}} {
		t.Run(c.name, func(t *testing.T) {
			p := smallParams()
			p.Push = c.push
			addr := startNetServer(t, p.Binary)
			loop := async.New()
			conn, err := pqclient.Dial(context.Background(), addr, loop)
			if err != nil {
				t.Fatal(err)
			}
			r := runOn(t, p, conn, false)
			if got := r.Counters(); got != c.want {
				t.Errorf("network counters %v, want %v", got, c.want)
			}
			if len(r.ServerLogs) != 1 || len(r.ServerStats) != 1 {
				t.Errorf("server_logs %d, server_stats %d elements", len(r.ServerLogs), len(r.ServerStats))
			}
		})
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runGroups runs ngroups groups against one in-process server, each on its
// own goroutine and loop, meeting at the barrier.
func runGroups(t *testing.T, p Params, ngroups int) []*Result {
	t.Helper()
	srv := newEmbedded(t, p.Binary)
	p.NGroups = ngroups
	p.MasterHost = "127.0.0.1"
	p.MasterPort = freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := make([]*Result, ngroups)
	errs := make([]error, ngroups)
	var wg sync.WaitGroup
	for g := range ngroups {
		wg.Go(func() {
			q := p
			q.GroupID = g
			loop := async.New()
			conn := pqclient.Embedded(srv, loop)
			be, err := NewPequod(conn, q, PequodConfig{InProcess: true})
			if err != nil {
				errs[g] = err
				return
			}
			defer be.Close()
			res[g], errs[g] = Run(ctx, q, be, loop, io.Discard)
			if errs[g] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("group %d: %v", g, err)
		}
	}
	return res
}

// TestTwoGroups: two groups through the barrier. The op counters of each
// group depend only on its own generators and are deterministic;
// nposts_read depends on how far the other group has posted when a group
// does its final scan (§6: interleaving is not deterministic), so only a
// bound is checked. (Both groups install the joins; the server ignores
// the second copy and says so on stderr, as the original does.)
func TestTwoGroups(t *testing.T) {
	p := smallParams()
	p.Duration = 10000
	a := runGroups(t, p, 2)
	b := runGroups(t, p, 2)
	want := [][8]int64{
		{57, 0, 647, 3938, 450, 0, 98, 358},
		{64, 0, 635, 3965, 448, 0, 113, 336},
	}
	for g := range 2 {
		if a[g].Master != (g == 0) {
			t.Errorf("group %d: master %v", g, a[g].Master)
		}
		for _, r := range []*Result{a[g], b[g]} {
			got := r.Counters()
			read := got[5]
			got[5] = 0
			if got != want[g] {
				t.Errorf("group %d counters %v, want %v (nposts_read ignored)", g, got, want[g])
			}
			if read <= 0 {
				t.Errorf("group %d read nothing", g)
			}
		}
		t.Logf("group %d nposts_read %d, %d", g, a[g].NPostsRead, b[g].NPostsRead)
	}
	if a[1].ServerStats != nil {
		t.Error("group 1 has server stats")
	}
}

// TestCancel: cancelling the context stops an endless run (Duration 0): that
// Run returns at all is the check; a run that ignored ctx would hang until
// the test binary's timeout. No wall-clock assertion.
func TestCancel(t *testing.T) {
	p := smallParams()
	p.Duration = 0 // no tick limit: runs until cancelled
	srv := newEmbedded(t, p.Binary)
	loop := async.New()
	conn := pqclient.Embedded(srv, loop)
	be, err := NewPequod(conn, p, PequodConfig{InProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = Run(ctx, p, be, loop, io.Discard)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

// TestLogAndRTT: log mode prints operations; log_rtt writes a gzip file.
func TestLogAndRTT(t *testing.T) {
	p := smallParams()
	p.NUsers, p.MinSubscriptions, p.MaxSubscriptions = 40, 2, 5
	p.Duration, p.PopDuration = 300, 20
	p.Log, p.LogRTT, p.Verbose = true, true, true
	p.OutPath = t.TempDir()
	srv := newEmbedded(t, p.Binary)
	loop := async.New()
	conn := pqclient.Embedded(srv, loop)
	be, err := NewPequod(conn, p, PequodConfig{InProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	var out bytes.Buffer
	r, err := Run(context.Background(), p, be, loop, &out)
	if err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{": subscribe s|000000", ": post p|000000", ": scan [t|000000", "USERS HAVE SUBSCRIBERS:", "100% complete"} {
		if !strings.Contains(s, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if r.NLogouts > 0 && !strings.Contains(s, ": logout 000000") {
		t.Error("log lacks logouts")
	}
	if _, err := os.Stat(p.OutPath + "/rtt_log_0.txt.gz"); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(p.OutPath + "/rtt_log_0.txt"); err == nil {
		t.Error("uncompressed rtt log left behind")
	}
}

func TestWritearoundRejected(t *testing.T) {
	p := smallParams()
	p.Writearound = true
	srv := newEmbedded(t, true)
	if _, err := NewPequod(pqclient.Embedded(srv, async.New()), p, PequodConfig{}); err == nil || !strings.Contains(err.Error(), "writearound") {
		t.Errorf("err %v", err)
	}
}

// TestOpenLoop: with postrate the run ends by timeout at a batch boundary
// and wall_time is the real elapsed time (Go fix, §2.15).
func TestOpenLoop(t *testing.T) {
	p := smallParams()
	p.PostRate, p.Timeout = 200, 1
	r := runEmbedded(t, p)
	if r.WallTime < 1 || r.WallTime > 5 {
		t.Errorf("wall_time %v", r.WallTime)
	}
	// 200 posts/s for about a second, paced by sleeping.
	if r.NPosts < 100 || r.NPosts > 400 {
		t.Errorf("nposts %d at postrate 200 for 1 s", r.NPosts)
	}
}

// TestPipelinedChecksReadTheSamePosts: in a run longer than 2 x SKEW the
// checks read posts during the run, fully pipelined, and embedded and TCP
// runs read exactly the same posts as a run drained after every op. (At
// this size the pipeline never gets SKEW ticks deep, so this does not
// isolate settle; the 5k-user bench runs did: without it loopback read 10
// to 20 posts fewer than embedded.)
func TestPipelinedChecksReadTheSamePosts(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	p := smallParams()
	p.Duration = 2*int(Skew) + 20000
	p.PopDuration = 0
	p.Binary = false
	embedded := runEmbedded(t, p)
	addr := startNetServer(t, p.Binary)
	conn, err := pqclient.Dial(context.Background(), addr, async.New())
	if err != nil {
		t.Fatal(err)
	}
	network := runOn(t, p, conn, false)
	q := p
	q.Synchronous = 1
	drained := runEmbedded(t, q)
	if embedded.NChecks == 0 || embedded.NPostsRead == 0 {
		t.Fatalf("run did no work: %+v", embedded.Counters())
	}
	for name, r := range map[string]*Result{"network": network, "drained": drained} {
		if r.Counters() != embedded.Counters() {
			t.Errorf("%s counters %v, embedded %v", name, r.Counters(), embedded.Counters())
		}
	}
	// The checks during the run (not only the final scan) read posts: a run
	// with the same ops but no run-time reads would read fewer.
	if embedded.NPostsRead <= int64(embedded.NPosts) {
		t.Errorf("nposts_read %d with %d posts: checks read too little", embedded.NPostsRead, embedded.NPosts)
	}
}
