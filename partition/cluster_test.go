package partition

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/difftest"
	"github.com/pequod-go/pequod/joins/scenario"
	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// clusterHarness is a cluster of servers in one process, joined by one
// peer.Local network as a mesh would join them, with one fake clock. A
// client talks to one server (home) only: writes of keys other servers own
// are forwarded, reads fetch copies across servers, and what it reads must
// be what one server would have answered.
type clusterHarness struct {
	t       testing.TB
	net     *peer.Local
	servers []*Server
	home    *harness
	now     atomic.Int64
}

func newClusterHarness(t testing.TB, nservers, partitions int, partfunc string, home int) *clusterHarness {
	c := &clusterHarness{t: t, net: peer.NewLocal()}
	c.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	srvs, err := route.NewServers(partfunc, 0, nservers)
	if err != nil {
		t.Fatal(err)
	}
	layout := func(server int) (route.Router, int, bool) {
		if server < 0 || server >= len(c.servers) {
			return nil, 0, false
		}
		s := c.servers[server]
		return s.router, len(s.parts), true
	}
	for i := 0; i < nservers; i++ {
		s, err := New(Config{Partitions: partitions, Transport: c.net,
			Clock:   func() time.Time { return time.Unix(0, c.now.Load()) },
			Cluster: &Cluster{Self: i, Servers: srvs, Layout: layout}})
		if err != nil {
			t.Fatal(err)
		}
		c.servers = append(c.servers, s)
		t.Cleanup(s.Close)
	}
	c.home = &harness{t: t, s: c.servers[home]}
	return c
}

// Target for joins/scenario: requests go through the home server; the
// stored-state probes look at every server's owned keys.
func (c *clusterHarness) Insert(k, v string) error          { return c.home.Insert(k, v) }
func (c *clusterHarness) Erase(k string) error              { return c.home.Erase(k) }
func (c *clusterHarness) Validate(first, last string) error { return c.home.Validate(first, last) }
func (c *clusterHarness) Advance(d time.Duration)           { c.now.Add(int64(d)) }

func (c *clusterHarness) CountStored(first, last string) (int, error) {
	var n atomic.Int64
	for _, s := range c.servers {
		h := &harness{t: c.t, s: s}
		h.onAll(func(p *part) {
			p.eng.ScanStored(first, last, func(k, _ string) bool {
				if s.owns(p.id, k) {
					n.Add(1)
				}
				return true
			})
		})
	}
	return int(n.Load()), nil
}

func (c *clusterHarness) Find(k string) (string, bool, error) {
	var v string
	var ok bool
	for _, s := range c.servers {
		h := &harness{t: c.t, s: s}
		h.onAll(func(p *part) {
			if s.owns(p.id, k) {
				v, ok = p.eng.Find(k)
			}
		})
	}
	return v, ok, nil
}

// AddJoin installs the join on every server (one tier: every server is a
// cache server, §3.1).
func (c *clusterHarness) AddJoin(first, last, text string, staleness time.Duration) error {
	for _, s := range c.servers {
		if err := (&harness{t: c.t, s: s}).AddJoin(first, last, text, staleness); err != nil {
			return err
		}
	}
	return nil
}

// TestClusterScenarios replays every §8 scenario through one server of a
// three-server one-tier cluster (`unit` spreads tables over servers, so
// joins read sources other servers own and writes are forwarded), with
// two partitions per server.
func TestClusterScenarios(t *testing.T) {
	files, _ := filepath.Glob("../joins/engine/testdata/scenarios/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	for home := 0; home < 3; home++ {
		for _, f := range files {
			t.Run(fmt.Sprintf("home%d/%s", home, filepath.Base(f)), func(t *testing.T) {
				if why, ok := knownCrossPartition[filepath.Base(f)]; ok {
					t.Skip(why)
				}
				c := newClusterHarness(t, 3, 2, "unit", home)
				if err := scenario.RunFile(f, c, scenario.Options{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// clusterDiffTarget adapts the cluster to joins/difftest.
type clusterDiffTarget struct {
	*clusterHarness
	installed []installedJoin
}

func (d *clusterDiffTarget) Scan(first, last string) ([]difftest.KV, error) {
	return (&diffTarget{harness: d.home}).Scan(first, last)
}

func (d *clusterDiffTarget) AddJoin(first, last, text string, staleness time.Duration) error {
	j, err := joins.Parse(text)
	if err != nil {
		return err
	}
	for _, o := range d.installed {
		if joins.RangeTableName(o.first, o.last) == joins.RangeTableName(first, last) &&
			o.first < last && first < o.last && joins.SameStructure(o.j, j) {
			return difftest.ErrJoinIgnored
		}
	}
	if err := d.clusterHarness.AddJoin(first, last, text, staleness); err != nil {
		return err
	}
	d.installed = append(d.installed, installedJoin{first, last, j})
	return nil
}

// TestClusterDifferential runs the differential test against the
// from-scratch evaluator through one server of a three-server cluster.
func TestClusterDifferential(t *testing.T) {
	cases := 400
	if testing.Short() {
		cases = 100
	}
	home := 0
	newTarget := func() difftest.Target {
		home = (home + 1) % 3
		return &clusterDiffTarget{clusterHarness: newClusterHarness(t, 3, 2, "unit", home)}
	}
	difftest.Run(t, newTarget, 9001, cases, difftest.DefaultConfig(), 3)
}

// TestClusterForwardedWriteReadYourWrites: a write of a key another server
// owns, sent to a server that holds a copy of it, is forwarded, and its
// reply comes only after the copy is current, so the client's next read
// through the same server sees it.
func TestClusterForwardedWriteReadYourWrites(t *testing.T) {
	c := newClusterHarness(t, 3, 2, "unit", 0)
	srvs := c.servers[0].cfg.Cluster.Servers
	key := func(table string, i int) string { return fmt.Sprintf("%s|%03d", table, i) }
	var remote string
	for _, tb := range []string{"a", "b", "c", "d", "e", "f"} {
		if o := srvs.Owner(key(tb, 0)); o != 0 {
			remote = tb
			break
		}
	}
	if remote == "" {
		t.Fatal("unit put every table on server 0")
	}
	for i := 0; i < 50; i++ {
		if err := c.Insert(key(remote, i), "v0"); err != nil {
			t.Fatal(err)
		}
	}
	scan := func() string {
		var sb strings.Builder
		kvs, err := (&diffTarget{harness: c.home}).Scan(remote+"|", remote+"}")
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			sb.WriteString(kv.Value)
		}
		return sb.String()
	}
	if got := scan(); got != strings.Repeat("v0", 50) {
		t.Fatalf("first scan %q", got)
	}
	for round := 1; round <= 20; round++ {
		v := fmt.Sprintf("v%d", round)
		for i := 0; i < 50; i++ {
			if err := c.Insert(key(remote, i), v); err != nil {
				t.Fatal(err)
			}
		}
		if got := scan(); got != strings.Repeat(v, 50) {
			t.Fatalf("round %d: read %q after writing %s", round, got, v)
		}
	}
	var copies atomic.Int64
	c.home.onAll(func(p *part) { copies.Add(int64(p.copies.len())) })
	if copies.Load() == 0 {
		t.Fatal("the home server holds no copy: the reads did not go through copies")
	}
}

// TestClusterPeerDown: when the link to a server is lost, every copy from
// it is dropped at once and reads that need it fail with an error naming
// it (never stale data); once the server is reachable again, reads
// re-subscribe and see its current data.
func TestClusterPeerDown(t *testing.T) {
	c := newClusterHarness(t, 2, 2, "unit", 0)
	srvs := c.servers[0].cfg.Cluster.Servers
	var tb string
	for _, x := range []string{"a", "b", "c", "d"} {
		if srvs.Owner(x+"|1") == 1 {
			tb = x
			break
		}
	}
	if err := c.Insert(tb+"|1", "old"); err != nil {
		t.Fatal(err)
	}
	get := func() (string, error) {
		var v string
		var err error
		c.home.call(&Request{Cmd: wire.CmdGet, Key: tb + "|1"}, func(r wire.Reply) {
			if r.Status != wire.StatusOK {
				err = fmt.Errorf("%s", r.Payload.Bytes())
				return
			}
			v = string(r.Payload.Bytes())
		})
		return v, err
	}
	if v, err := get(); err != nil || v != "old" {
		t.Fatalf("get = %q, %v", v, err)
	}
	// Server 1 changes the key while server 0 does not hear of it (the
	// link is held), then the link is declared lost.
	for i := range c.servers[1].parts {
		for j := range c.servers[0].parts {
			c.net.Hold(peer.Addr{Server: 1, Partition: int32(i)}, peer.Addr{Server: 0, Partition: int32(j)})
		}
	}
	direct := &harness{t: t, s: c.servers[1]}
	done := make(chan error, 1)
	go func() { done <- direct.Insert(tb+"|1", "new") }()
	for j := range c.servers[0].parts {
		c.net.Send(peer.Addr{Server: 0, Partition: int32(j)}, peer.Msg{Kind: peer.PeerDown, From: peer.Addr{Server: 1, Partition: peer.AnyPartition}})
	}
	// Reads go to server 1 again: with the link "down", the held messages
	// stand for the lost connection and are never delivered; the
	// subscribe of the next read is.
	var copies atomic.Int64
	c.home.onAll(func(p *part) { copies.Add(int64(p.copies.len())) })
	if copies.Load() != 0 {
		t.Fatalf("%d copies survive the loss of their owner", copies.Load())
	}
	for i := range c.servers[1].parts {
		for j := range c.servers[0].parts {
			c.net.Release(peer.Addr{Server: 1, Partition: int32(i)}, peer.Addr{Server: 0, Partition: int32(j)})
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, err := get(); err != nil || v != "new" {
		t.Fatalf("after the peer came back: get = %q, %v", v, err)
	}
}

// TestClusterNotConnected: a read that needs a server whose layout is
// unknown fails at once with an error naming it.
func TestClusterNotConnected(t *testing.T) {
	c := newClusterHarness(t, 2, 1, "unit", 0)
	srvs := c.servers[0].cfg.Cluster.Servers
	c.servers[0].cfg.Cluster = &Cluster{Self: 0, Servers: srvs,
		Layout: func(int) (route.Router, int, bool) { return nil, 0, false }}
	var tb string
	for _, x := range []string{"a", "b", "c", "d"} {
		if srvs.Owner(x+"|1") == 1 {
			tb = x
			break
		}
	}
	err := c.home.status(&Request{Cmd: wire.CmdCount, Key: tb + "|", Arg3: tb + "}"})
	if err == nil || !strings.Contains(err.Error(), "server 1 is not connected") {
		t.Fatalf("count = %v, want an error naming server 1", err)
	}
	err = c.home.Insert(tb+"|1", "x")
	if err == nil || !strings.Contains(err.Error(), "server 1 is not connected") {
		t.Fatalf("insert = %v, want an error naming server 1", err)
	}
}
