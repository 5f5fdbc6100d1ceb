package kv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/redisclient"
	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/reactor"
	"github.com/pequod-go/pequod/wire"
)

// startPequod runs an in-process Pequod server on a free loopback port.
func startPequod(t *testing.T, partitions int) string {
	t.Helper()
	srv, err := partition.New(partition.Config{Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := reactor.Start(reactor.Config{Addr: "127.0.0.1:0", Loops: 2}, srv)
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rs.Stop(ctx); err != nil {
			t.Errorf("stopping reactor: %v", err)
		}
		srv.Close()
	})
	return rs.Addr().String()
}

func TestKeysAndValues(t *testing.T) {
	if got := string(AppendKey(nil, "m|", 12, 42)); got != "m|0000000042" {
		t.Errorf("key = %q", got)
	}
	if got := string(AppendKey(nil, "", 3, 12345)); got != "12345" {
		t.Errorf("overlong key = %q", got)
	}
	if got := string(AppendValue(nil, 10, 16, 42)); got != "0000000042......" {
		t.Errorf("value = %q", got)
	}
	if got := string(AppendValue([]byte("x"), 10, 4, 42)); got != "x0000" {
		t.Errorf("short value = %q", got)
	}
	cfg := Config{Backend: Pequod{}, Addr: "x", Keys: 1000, KeySize: 4, Prefix: "m|"}
	if err := cfg.setDefaults(); err == nil {
		t.Error("key size 4 cannot hold m| and 3 digits")
	}
}

func TestPequodRun(t *testing.T) {
	addr := startPequod(t, 2)
	var progress bytes.Buffer
	cfg := Config{
		Backend: Pequod{}, Addr: addr, Conns: 4, Depth: 8, Keys: 500, ValueSize: 24,
		Gets: 3, Sets: 1, Duration: 500 * time.Millisecond, Populate: true, Seed: 7,
		Progress: &progress, ProgressInterval: 100 * time.Millisecond,
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Total != 0 || res.Populate == nil || res.Populate.Errors.Total != 0 {
		t.Fatalf("errors: %+v, populate %+v", res.Errors, res.Populate)
	}
	if res.Ops == 0 || res.OpsPerSec <= 0 || res.Get.Ops == 0 || res.Set.Ops == 0 {
		t.Fatalf("no throughput: %+v", res)
	}
	if res.Get.Ops+res.Set.Ops != res.Ops || res.Get.Hits != res.Get.Ops || res.Get.Misses != 0 {
		t.Errorf("get ops %d hits %d misses %d, set ops %d, total %d", res.Get.Ops, res.Get.Hits, res.Get.Misses, res.Set.Ops, res.Ops)
	}
	// 3:1 ratio, roughly.
	if frac := float64(res.Get.Ops) / float64(res.Ops); frac < 0.65 || frac > 0.85 {
		t.Errorf("get fraction %.2f, want about 0.75", frac)
	}
	if l := res.LatencyUs; l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		t.Errorf("latency not ordered: %+v", l)
	}
	if res.Elapsed != 0.5 || res.KeySize != 12 || res.Ratio != "3:1" {
		t.Errorf("elapsed %v key size %d ratio %s", res.Elapsed, res.KeySize, res.Ratio)
	}
	if !strings.Contains(progress.String(), "kv: run ") || !strings.Contains(progress.String(), "populated 500 keys") {
		t.Errorf("progress output:\n%s", progress.String())
	}

	// Every key holds its value, read back independently.
	c, err := wire.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for k := range uint64(500) {
		got, err := c.Get(ctx, string(AppendKey(nil, "m|", 12, k)))
		if err != nil {
			t.Fatal(err)
		}
		if want := AppendValue(nil, 10, 24, k); !bytes.Equal(got, want) {
			t.Fatalf("key %d = %q, want %q", k, got, want)
		}
	}
}

func TestPequodRequestsMode(t *testing.T) {
	addr := startPequod(t, 1)
	res, err := Run(context.Background(), Config{
		Backend: Pequod{}, Addr: addr, Conns: 3, Depth: 16, Keys: 100,
		Gets: 0, Sets: 1, Requests: 5000, Prefix: "kv|", KeySize: 8,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops != 5000 || res.Set.Ops != 5000 || res.Get.Ops != 0 || res.Errors.Total != 0 || res.Populate != nil {
		t.Fatalf("result %+v", res)
	}
	if res.Elapsed <= 0 || res.Duration != 0 || res.Requests != 5000 {
		t.Errorf("elapsed %v duration %v", res.Elapsed, res.Duration)
	}
	// Without populate, gets of absent keys are misses, not errors.
	res, err = Run(context.Background(), Config{
		Backend: Pequod{}, Addr: addr, Conns: 2, Depth: 4, Keys: 1000, Prefix: "absent|",
		Gets: 1, Sets: 0, Requests: 200,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Get.Misses != 200 || res.Errors.Total != 0 {
		t.Fatalf("misses %d errors %+v", res.Get.Misses, res.Errors)
	}
}

func TestDeterministicSequence(t *testing.T) {
	seq := func(seed uint64) []uint64 {
		cfg := Config{Backend: Pequod{}, Addr: "x", Seed: seed}
		if err := cfg.setDefaults(); err != nil {
			t.Fatal(err)
		}
		w := newWorker(&cfg, 3, nil)
		var s []uint64
		for range 20 {
			s = append(s, w.rng.Uint64N(1000))
		}
		return s
	}
	if a, b := seq(5), seq(5); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("same seed, different sequences")
	}
	if a, b := seq(5), seq(6); fmt.Sprint(a) == fmt.Sprint(b) {
		t.Error("different seeds, same sequence")
	}
}

// fakeBackend answers every request at once, through a channel, with
// programmable faults.
type fakeBackend struct {
	wrongValue bool // gets return another key's value
	failAfter  int  // after this many requests the connection "breaks" (0: never)
	silent     bool // never answer
}

func (f *fakeBackend) Name() string { return "fake" }
func (f *fakeBackend) Dial(ctx context.Context, addr string, depth int) (Conn, error) {
	return &fakeConn{f: f, ch: make(chan Completion, depth)}, nil
}

type fakeConn struct {
	f  *fakeBackend
	ch chan Completion
	n  int
}

var errFakeConn = &redisclient.ConnError{Err: errors.New("fake connection reset")}

func (c *fakeConn) Issue(op Op, key, value []byte, tag uint32) {
	c.n++
	if c.f.silent {
		return
	}
	comp := Completion{Tag: tag}
	switch {
	case c.f.failAfter > 0 && c.n > c.f.failAfter:
		comp.Err = errFakeConn
	case op == OpGet:
		i, _ := strconv.ParseUint(string(key[2:]), 10, 64)
		if c.f.wrongValue {
			i++
		}
		comp.Value = AppendValue(nil, 10, 32, i)
	}
	c.ch <- comp
}

func (c *fakeConn) Next(ctx context.Context) (Completion, error) {
	select {
	case comp := <-c.ch:
		return comp, nil
	case <-ctx.Done():
		return Completion{}, ctx.Err()
	}
}

func (c *fakeConn) Close() error { return nil }

func TestErrorsCounted(t *testing.T) {
	ctx := context.Background()
	res, err := Run(ctx, Config{Backend: &fakeBackend{wrongValue: true}, Addr: "fake", Conns: 2, Depth: 4,
		Keys: 50, Gets: 1, Sets: 0, Requests: 100, Populate: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Mismatch != 100 || res.Errors.Total != 100 || res.Get.Ops != 0 || !strings.Contains(res.Errors.First, "want") {
		t.Fatalf("mismatches not counted: %+v", res.Errors)
	}

	// A broken connection stops its worker instead of spinning.
	res, err = Run(ctx, Config{Backend: &fakeBackend{failAfter: 10}, Addr: "fake", Conns: 2, Depth: 4,
		Keys: 50, Gets: 1, Sets: 1, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Conn == 0 || res.Errors.Conn > 8 || res.Ops != 20 {
		t.Fatalf("conn errors %+v, ops %d", res.Errors, res.Ops)
	}

	// A server that never answers: stalled after the drain timeout.
	res, err = Run(ctx, Config{Backend: &fakeBackend{silent: true}, Addr: "fake", Conns: 2, Depth: 4,
		Keys: 50, Duration: 100 * time.Millisecond, DrainTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Stalled != 8 || res.Ops != 0 {
		t.Fatalf("stalled %+v ops %d", res.Errors, res.Ops)
	}

	// Cancelling the context ends an hour-long run early: that Run returns
	// is the check (no wall-clock assertion; ignoring ctx would hang).
	cctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	res, err = Run(cctx, Config{Backend: &fakeBackend{}, Addr: "fake", Conns: 1, Depth: 2, Keys: 10, Duration: time.Hour})
	if err != nil || res.Ops == 0 {
		t.Fatalf("cancel: err %v ops %d", err, res.Ops)
	}
}

// TestRedisRun runs the Redis back end against a real redis-server when one
// is installed (loadgen/scripts/redis.sh installs Debian's).
func TestRedisRun(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not on PATH; skipping the Redis back-end test (install it with loadgen/scripts/redis.sh start PORT or apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "",
		"--appendonly", "no", "--dir", dir, "--logfile", dir+"/redis.log")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := redisclient.Dial(context.Background(), addr)
		if err == nil {
			_, err = c.Do(context.Background(), "PING")
			c.Close()
			if err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(dir + "/redis.log")
			t.Fatalf("redis-server did not start: %v\n%s", err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, err := Run(context.Background(), Config{
		Backend: Redis{}, Addr: addr, Conns: 4, Depth: 8, Keys: 500, Gets: 1, Sets: 1,
		Duration: 500 * time.Millisecond, Populate: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Total != 0 || res.Get.Ops == 0 || res.Set.Ops == 0 || res.Get.Hits != res.Get.Ops {
		t.Fatalf("result %+v", res)
	}
	c, err := redisclient.Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Do(context.Background(), "GET", "m|0000000499")
	if err != nil || string(r.Str) != string(AppendValue(nil, 10, 32, 499)) {
		t.Fatalf("GET = %v, %v", r, err)
	}
}
