package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// faultCluster is three `pequod serve` processes forming a one-tier
// cluster under the `unit` function (each table on one server).
type faultCluster struct {
	t     *testing.T
	hosts string
	ports []int
	procs []*proc
}

func (c *faultCluster) start(i int) {
	c.procs[i] = startBinary(c.t, "serve", fmt.Sprintf("-l=%d", c.ports[i]), "-H="+c.hosts, "-B=0", "-P=unit",
		fmt.Sprintf("--self=%d", i), "-partitions=2", "-log-level=warn")
}

func newFaultCluster(t *testing.T) *faultCluster {
	c := &faultCluster{t: t, procs: make([]*proc, 3)}
	var sb strings.Builder
	for i := 0; i < 3; i++ {
		c.ports = append(c.ports, freePort(t))
		fmt.Fprintf(&sb, "127.0.0.1 %d\n", c.ports[i])
	}
	c.hosts = filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(c.hosts, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range c.procs {
		c.start(i)
	}
	return c
}

// client connects to server i once it answers, and waits until the
// cluster's links are all up.
func (c *faultCluster) client(i int) *wire.Client {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		cl, err := wire.DialContext(ctx, fmt.Sprintf("127.0.0.1:%d", c.ports[i]), nil)
		if err == nil {
			for {
				v, err := cl.Control(ctx, map[string]any{"is_ready": true})
				if err != nil {
					c.t.Fatalf("is_ready: %v", err)
				}
				if v.Bool() {
					c.t.Cleanup(func() { cl.Close() })
					return cl
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if ctx.Err() != nil {
			c.t.Fatalf("server %d never answered: %v", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterFaults kills, stops and restarts a server that owns a join's
// source, while another server (home) serves the join's output: reads at
// home return current data or an error naming the lost server, never
// stale data; they recover once the server is back; and a server
// restarted empty leaves no stale copy behind (server.md §3.9).
func TestClusterFaults(t *testing.T) {
	srvs, err := route.NewServers("unit", 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	// home owns the sink table, data owns the source table.
	var sink, src string
	home, data := -1, -1
	for _, tb := range "abcdefghijklmnopqrstuvwxyz" {
		o := srvs.Owner(string(tb) + "|")
		switch {
		case sink == "":
			sink, home = string(tb), o
		case src == "" && o != home:
			src, data = string(tb), o
		}
	}
	c := newFaultCluster(t)
	cl := c.client(home)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	join := fmt.Sprintf("%s|<k:3> = copy %s|<k:3>", sink, src)
	for i := range c.ports {
		if _, err := c.client(i).AddJoin(ctx, sink+"|", sink+"}", join); err != nil {
			t.Fatalf("add_join on server %d: %v", i, err)
		}
	}
	write := func(v string) {
		t.Helper()
		for k := 0; k < 10; k++ {
			if err := cl.Insert(ctx, fmt.Sprintf("%s|%03d", src, k), v); err != nil {
				t.Fatalf("insert through server %d: %v", home, err)
			}
		}
	}
	// read returns the join's output at home as one string, or the error.
	read := func() (string, error) {
		kvs, err := cl.Scan(ctx, sink+"|", sink+"}")
		if err != nil {
			return "", err
		}
		var sb strings.Builder
		for _, kv := range kvs {
			sb.WriteString(string(kv.Value))
		}
		return sb.String(), nil
	}
	want := func(v string, n int) string { return strings.Repeat(v, n) }
	write("v1")
	if got, err := read(); err != nil || got != want("v1", 10) {
		t.Fatalf("before any fault: %q, %v", got, err)
	}

	// SIGSTOP: detected within the mesh's 2 s; reads fail naming the
	// server, or (before detection) return the still-current data.
	stopped := c.procs[data].cmd.Process
	if err := stopped.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	failedAt := time.Time{}
	start := time.Now()
	for time.Since(start) < 8*time.Second {
		got, err := read()
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("server %d", data)) {
				t.Fatalf("read while server %d is stopped failed without naming it: %v", data, err)
			}
			failedAt = time.Now()
			break
		}
		if got != want("v1", 10) {
			t.Fatalf("read while server %d is stopped returned %q", data, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if failedAt.IsZero() {
		t.Fatalf("reads needing stopped server %d kept succeeding for 8 s", data)
	}
	t.Logf("stopped server %d detected after %v", data, failedAt.Sub(start).Round(10*time.Millisecond))
	if err := stopped.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitRead := func(what, v string, n int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			got, err := read()
			if err == nil && got == want(v, n) {
				return
			}
			if err == nil && got != want(v, n) {
				t.Fatalf("%s: read %q, want %q", what, got, want(v, n))
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: reads still fail: %v", what, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitRead("after SIGCONT", "v1", 10)
	write("v2")
	waitRead("after a write following SIGCONT", "v2", 10)

	// kill -9 and restart empty: no stale copy of its old data anywhere.
	if err := c.procs[data].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-c.procs[data].done
	c.start(data)
	// Until home notices the old process's link is gone (at once, or as
	// soon as its reader runs), its copies are of the data that server
	// held. The restarted server is ready only once home has dialed it
	// again, which home does only after dropping everything the old one
	// gave it: from then on nothing of the old data may be read.
	c.client(data)
	waitRead("after a restart with no data", "", 0)
	write("v3")
	waitRead("after writes to the restarted server", "v3", 10)
}
