package pqclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/reactor"
	"github.com/pequod-go/pequod/wire"
)

// startServers starts n independent servers (2 partitions each, no mesh)
// on free loopback ports and returns their host list.
func startServers(t *testing.T, n int) []route.Host {
	t.Helper()
	var lines []string
	for i := 0; i < n; i++ {
		srv, err := partition.New(partition.Config{Partitions: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Close)
		rs, err := reactor.Start(reactor.Config{Addr: "127.0.0.1:0", Loops: 1}, srv)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = rs.Stop(ctx)
		})
		lines = append(lines, fmt.Sprintf("127.0.0.1 %d", rs.Addr().(*net.TCPAddr).Port))
	}
	hosts, err := route.ParseHosts(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return hosts
}

// direct opens a plain single-server connection to h.
func direct(t *testing.T, h route.Host) *wire.Client {
	t.Helper()
	c, err := wire.Dial(h.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialCluster(t *testing.T, cfg ClusterConfig) *Cluster {
	t.Helper()
	cl, err := DialCluster(testCtx(t), cfg, async.New())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// statField reads a numeric top-level field of a stats object.
func statField(t *testing.T, raw json.RawMessage, name string) int {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("stats %s: %v", raw, err)
	}
	f, ok := m[name].(float64)
	if !ok {
		t.Fatalf("stats without %s: %s", name, raw)
	}
	return int(f)
}

// TestClusterRouting writes keys through the routing client to three
// servers partitioned by `unit` (one server per first byte, i mod 3) with
// one base server, and checks on each server directly that every key is
// on its owner and nowhere else, that add_join reached only the cache
// servers, and that stats come back indexed by seqid.
func TestClusterRouting(t *testing.T) {
	hosts := startServers(t, 3)
	servers, err := route.NewServers("unit", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	cl := dialCluster(t, ClusterConfig{Hosts: hosts, Servers: servers})
	ctx := testCtx(t)
	loop := cl.Loop()

	// Keys over many tables, so every server owns some.
	want := map[string]string{}
	perServer := make([]int, 3)
	for i, table := range []string{"a", "b", "c", "d", "e", "f", "p", "s", "t", "A", "0"} {
		for j := 0; j < 5; j++ {
			k := fmt.Sprintf("%s|%d|%d", table, i, j)
			want[k] = fmt.Sprintf("v%d.%d", i, j)
			perServer[servers.Owner(k)]++
		}
	}
	var errs []error
	for k, v := range want {
		cl.Insert(k, v, func(err error) {
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	cl.Insert("gone|x", "v", nil)
	cl.Erase("gone|x", func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	})
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for i, n := range perServer {
		if n == 0 {
			t.Fatalf("server %d owns none of the test keys: %v", i, perServer)
		}
	}

	// Each key on its owner only, read back through a direct connection.
	dc := make([]*wire.Client, len(hosts))
	for i, h := range hosts {
		dc[i] = direct(t, h)
	}
	for k, v := range want {
		owner := servers.Owner(k)
		for i, c := range dc {
			got, err := c.Get(ctx, k)
			if err != nil {
				t.Fatalf("get %q on %s: %v", k, hosts[i], err)
			}
			if i == owner && string(got) != v {
				t.Errorf("%q on its owner %d = %q, want %q", k, owner, got, v)
			}
			if i != owner && len(got) != 0 {
				t.Errorf("%q (owner %d) also on server %d", k, owner, i)
			}
		}
	}

	// Reads through the router go to the owner of first.
	var got []byte
	var count int64
	var kvs []wire.KV
	cl.Get("b|1|3", func(v []byte, err error) { got = v; errs = append(errs, err) })
	cl.Count("p|", "p}", "", func(n int64, err error) { count = n; errs = append(errs, err) })
	cl.Scan("s|7|", "s|7}", "s|7|2", func(r []wire.KV, err error) { kvs = r; errs = append(errs, err) })
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if string(got) != "v1.3" || count != 5 || len(kvs) != 2 || string(kvs[1].Key) != "s|7|1" {
		t.Errorf("get %q, count %d, scan %q", got, count, kvs)
	}

	// Stats: an array indexed by seqid; each server stores exactly the
	// keys it owns.
	stats, err := cl.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stats) != 3 {
		t.Fatalf("stats has %d elements, want 3", len(stats))
	}
	for i, s := range stats {
		if n := statField(t, s, "store_size"); n != perServer[i] {
			t.Errorf("stats[%d].store_size = %d, want %d (keys owned by %s)", i, n, perServer[i], hosts[i])
		}
	}

	// add_join reaches the cache servers (seqid >= NB = 1) only.
	var joinMsg string
	var joinErr error
	cl.AddJoin("t|", "t}", "t|<u>|<p> = copy p|<p> using s|<u>|<p> where u:1, p:1", func(m string, err error) { joinMsg, joinErr = m, err })
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if joinErr != nil || joinMsg != "" {
		t.Fatalf("add_join: %q, %v (want no message)", joinMsg, joinErr)
	}
	for i, c := range dc {
		v, err := c.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		raw := v.AppendJSON(nil)
		if n, want := statField(t, raw, "join_ranges_size"), map[bool]int{true: 0, false: 1}[i < 1]; n != want {
			t.Errorf("server %d: join_ranges_size %d, want %d", i, n, want)
		}
	}

	// A failing join: every cache server's message, null for the base
	// server, and an error naming the first failing server.
	cl.AddJoin("t|", "t}", "t|<u> = nonsense", func(m string, err error) { joinMsg, joinErr = m, err })
	if err := loop.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if joinErr == nil || !errors.Is(joinErr, ErrFailed) || !strings.Contains(joinErr.Error(), "server 1 (") {
		t.Errorf("bad join: err %v", joinErr)
	}
	var res []*struct {
		Range   []string `json:"range"`
		OK      bool     `json:"ok"`
		Message string   `json:"message"`
	}
	if err := json.Unmarshal([]byte(joinMsg), &res); err != nil {
		t.Fatalf("bad join message %q: %v", joinMsg, err)
	}
	if len(res) != 3 || res[0] != nil || res[1] == nil || res[2] == nil ||
		res[1].OK || res[1].Message == "" || fmt.Sprint(res[2].Range) != "[t| t}]" {
		t.Errorf("bad join message %s", joinMsg)
	}

	// Control goes to every server too.
	ready, err := cl.ServerControl(ctx, map[string]any{"is_ready": true})
	if err != nil || len(ready) != 3 || string(ready[2]) != "true" {
		t.Errorf("is_ready = %s, %v", ready, err)
	}
	if err := WaitReady(ctx, cl, time.Millisecond); err != nil {
		t.Error(err)
	}
}

// TestClusterUnownedKey checks that a key no server owns fails its request
// with ErrUnowned, on the loop, without reaching a server.
func TestClusterUnownedKey(t *testing.T) {
	hosts := startServers(t, 2)
	servers, _ := route.NewServers("unit", 0, 2)
	cl := dialCluster(t, ClusterConfig{Hosts: hosts, Servers: servers})
	ctx := testCtx(t)
	var errs [4]error
	cl.Insert("~x", "v", func(err error) { errs[0] = err })
	cl.Get("~x", func(_ []byte, err error) { errs[1] = err })
	cl.Count("~", "~~", "", func(_ int64, err error) { errs[2] = err })
	cl.Erase("\x7f", func(err error) { errs[3] = err })
	if err := cl.Loop().Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for i, err := range errs {
		if !errors.Is(err, ErrUnowned) || !strings.Contains(err.Error(), `"unit"`) {
			t.Errorf("request %d: %v, want ErrUnowned naming the function", i, err)
		}
	}
}

// TestClusterColocated checks -c=N with -H: everything, stats and add_join
// included, goes to seqid N.
func TestClusterColocated(t *testing.T) {
	hosts := startServers(t, 3)
	servers, _ := route.NewServers("unit", 1, 3)
	cl := dialCluster(t, ClusterConfig{Hosts: hosts, Servers: servers, Colocated: true, Colocate: 2})
	ctx := testCtx(t)
	var errs []error
	note := func(err error) { errs = append(errs, err) }
	for _, k := range []string{"a|1", "b|1", "c|1", "~|1"} { // ~ has no owner: no matter
		cl.Insert(k, "v", note)
	}
	cl.AddJoin("t|", "t}", "t|<u>|<p> = copy p|<p> using s|<u>|<p> where u:1, p:1", func(_ string, err error) { note(err) })
	if err := cl.Loop().Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for i, h := range hosts {
		v, err := direct(t, h).Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		raw := v.AppendJSON(nil)
		wantKeys, wantJoins := 0, 0
		if i == 2 {
			wantKeys, wantJoins = 4, 1
		}
		if n := statField(t, raw, "store_size"); n != wantKeys {
			t.Errorf("server %d stores %d keys, want %d", i, n, wantKeys)
		}
		if n := statField(t, raw, "join_ranges_size"); n != wantJoins {
			t.Errorf("server %d has %d joins, want %d", i, n, wantJoins)
		}
	}
	stats, err := cl.ServerStats(ctx)
	if err != nil || len(stats) != 1 || statField(t, stats[0], "store_size") != 4 {
		t.Errorf("colocated stats = %s, %v; want the one server's", stats, err)
	}
}

// TestClusterRandCache checks that --rand-cache sends scans and counts to
// cache servers in the original's pseudo-random order.
func TestClusterRandCache(t *testing.T) {
	hosts := startServers(t, 3)
	servers, _ := route.NewServers("unit", 1, 3)
	cl := dialCluster(t, ClusterConfig{Hosts: hosts, Servers: servers, RandCache: true})
	ctx := testCtx(t)
	// Server i holds i+1 keys of table r| (written directly), so a count
	// tells which server answered.
	for i, h := range hosts {
		c := direct(t, h)
		for j := 0; j <= i; j++ {
			if err := c.Insert(ctx, fmt.Sprintf("r|%d", j), "v"); err != nil {
				t.Fatal(err)
			}
		}
	}
	// libstdc++: default_random_engine(112181), uniform_int_distribution(1, 2).
	want := []int{2, 1, 2, 2, 1, 1, 2, 2, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 1}
	got := make([]int, len(want))
	for i := range want {
		if i%2 == 0 {
			cl.Count("r|", "r}", "", func(n int64, err error) { got[i] = int(n) - 1 })
		} else {
			cl.Scan("r|", "r}", "", func(kvs []wire.KV, err error) { got[i] = len(kvs) - 1 })
		}
	}
	// Point requests still go to the owner ('r' is unit group 82 mod 3 = 1).
	var v []byte
	cl.Get("r|1", func(b []byte, err error) { v = b })
	if err := cl.Loop().Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("servers answering = %v, want %v", got, want)
	}
	if string(v) != "v" {
		t.Errorf("get r|1 = %q from its owner", v)
	}
}

// TestMinstd checks the engine against the C++ standard's check value and
// the distribution against libstdc++ output for the rand-cache seed.
func TestMinstd(t *testing.T) {
	m := newMinstd(1)
	var x uint64
	for i := 0; i < 10000; i++ {
		x = m.next()
	}
	if x != 1043618065 {
		t.Errorf("minstd_rand0's 10000th value = %d, want 1043618065", x)
	}
	for _, c := range []struct {
		a, b int
		want []int
	}{
		{2, 6, []int{6, 2, 4, 6, 3, 2, 4, 5, 2, 5, 5, 5, 4, 3, 3, 3, 3, 4, 6, 4}},
		{0, 2, []int{2, 0, 1, 2, 1, 0, 1, 2, 0, 2, 1, 1, 1, 1, 1, 0, 0, 1, 2, 1}},
	} {
		m := newMinstd(RandCacheSeed)
		got := make([]int, len(c.want))
		for i := range got {
			got[i] = m.uniform(c.a, c.b)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("uniform(%d, %d) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestDialClusterErrors checks the configuration checks and that a server
// that does not answer is named.
func TestDialClusterErrors(t *testing.T) {
	hosts := startServers(t, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	two, err := route.ParseHosts(strings.NewReader(fmt.Sprintf("%s\n127.0.0.1 %d\n", strings.Replace(hosts[0].Addr(), ":", " ", 1), port)))
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := route.NewServers("unit", 0, 2)
	s3, _ := route.NewServers("unit", 0, 3)
	for _, c := range []struct {
		cfg  ClusterConfig
		want string
	}{
		{ClusterConfig{Hosts: two, Servers: s2}, fmt.Sprintf("connection error (server 1 (127.0.0.1:%d))", port)},
		{ClusterConfig{Hosts: two, Servers: s3}, "is for 3 servers, the host list has 2"},
		{ClusterConfig{Hosts: two}, "without a partition function"},
		{ClusterConfig{Hosts: two, Servers: s2, Colocated: true, Colocate: 2}, "colocated server 2"},
	} {
		if _, err := DialCluster(testCtx(t), c.cfg, async.New()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("DialCluster: %v, want %q", err, c.want)
		}
	}
}
