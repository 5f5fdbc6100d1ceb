package reactor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pequod-go/pequod/wire"
)

func TestBasicRPCs(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, _ := startServer(t, Config{}, f)
	if s.Port() == 0 {
		t.Fatalf("Addr() = %v: no port", s.Addr())
	}
	c := dial(t, s)
	ctx := ctxT(t)
	if err := c.Insert(ctx, "t|a", "1"); err != nil {
		t.Fatal(err)
	}
	if err := c.Insert(ctx, "t|b", "2"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "t|a"); err != nil || string(v) != "1" {
		t.Fatalf("get = %q, %v", v, err)
	}
	if n, err := c.Count(ctx, "t|", "t}"); err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}
	kvs, err := c.Scan(ctx, "t|", "t}")
	if err != nil || len(kvs) != 2 || string(kvs[1].Key) != "t|b" || string(kvs[1].Value) != "2" {
		t.Fatalf("scan = %v, %v", kvs, err)
	}
	if v, err := c.NoopGet(ctx, "x"); err != nil || !bytes.Equal(v, wire.NoopGetValue) {
		t.Fatalf("noop_get = %q, %v", v, err)
	}
	if err := c.Erase(ctx, "t|a"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Control(ctx, map[string]any{"is_ready": true}); err != nil || !v.Bool() {
		t.Fatalf("is_ready = %v, %v", v, err)
	}
}

// TestPipelining sends many requests on one connection before reading any
// reply, and checks every reply matches.
func TestPipelining(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, _ := startServer(t, Config{}, f)
	c := dial(t, s)
	const n = 20000
	done := make(chan *wire.Call, n)
	for i := 0; i < n; i++ {
		c.InsertAsync(fmt.Sprintf("t|%06d", i), fmt.Sprint(i), done)
	}
	for i := 0; i < n; i++ {
		if err := (<-done).Check(); err != nil {
			t.Fatal(err)
		}
	}
	calls := make([]*wire.Call, n)
	for i := 0; i < n; i++ {
		calls[i] = c.GetAsync(fmt.Sprintf("t|%06d", i), nil)
	}
	for i, call := range calls {
		<-call.Done
		v, err := call.Bytes()
		if err != nil || string(v) != fmt.Sprint(i) {
			t.Fatalf("get %d = %q, %v", i, v, err)
		}
	}
	t.Logf("%d requests in %d Dispatch calls; %d replies in %d flushes", f.requests.Load(), f.dispatches.Load(), 2*n, s.h.flushes.Load())
	// Batching: one Dispatch per read, not per request.
	if d, r := f.dispatches.Load(), f.requests.Load(); d >= r/2 {
		t.Errorf("%d Dispatch calls for %d requests: not batched per read", d, r)
	}
	if fl := s.h.flushes.Load(); fl >= 2*n/2 {
		t.Errorf("%d flushes for %d replies: not batched per burst", fl, 2*n)
	}
}

// TestManyConnections runs 50 concurrent connections, each with 32 requests
// in flight, for several rounds.
func TestManyConnections(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, _ := startServer(t, Config{Loops: 4}, f)
	const conns, depth, rounds = 50, 32, 20
	var wg sync.WaitGroup
	errc := make(chan error, conns)
	for ci := 0; ci < conns; ci++ {
		wg.Add(1)
		go func(ci int) {
			defer wg.Done()
			c, err := wire.Dial(s.Addr().String())
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			done := make(chan *wire.Call, depth)
			for r := 0; r < rounds; r++ {
				for i := 0; i < depth; i++ {
					key := fmt.Sprintf("t|%02d|%04d", ci, r*depth+i)
					if i%2 == 0 {
						c.InsertAsync(key, key, done)
					} else {
						c.GetAsync(fmt.Sprintf("t|%02d|%04d", ci, r*depth+i-1), done)
					}
				}
				for i := 0; i < depth; i++ {
					call := <-done
					if err := call.Check(); err != nil {
						errc <- err
						return
					}
					if call.Cmd == wire.CmdGet {
						v, _ := call.Bytes()
						if !strings.HasPrefix(string(v), fmt.Sprintf("t|%02d|", ci)) {
							errc <- fmt.Errorf("conn %d: get returned %q", ci, v)
							return
						}
					}
				}
			}
		}(ci)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if v, ok := f.get("t|49|0638"); !ok || v != "t|49|0638" {
		t.Errorf("stored value = %q, %v", v, ok)
	}
}

// badCase is one §1.5 / joins.md §10 A6 bad-input case.
type badCase struct {
	name  string
	input []byte
	// closeWrite half-closes the connection after the input (EOF).
	closeWrite bool
	// reply is the expected reply (JSON) when the request is failed and the
	// connection stays usable; empty means the connection must be closed
	// without a reply; "-" means no reply and the connection stays open.
	reply string
	// log is a substring the server must log exactly once.
	log string
}

func badCases() []badCase {
	nested := bytes.Repeat([]byte{0x91}, 100000)
	nested = append(nested, 0x01)
	return []badCase{
		{name: "malformed c1", input: []byte{0x93, 0x01, 0x00, 0xc1}, log: "bad msgpack"},
		{name: "ext type", input: []byte{0x93, 0x01, 0x00, 0xd4, 0x01, 0x02}, log: "bad msgpack"},
		{name: "bad map key", input: append([]byte{0x93, 0x0d, 0x00, 0x81, 0x90}, 0x01), log: "bad msgpack"},
		{name: "non-array frame int", input: []byte{0x05}, log: "bad rpc: 5"},
		{name: "non-array frame str", input: msg("hello")[1:], log: "bad rpc"},
		{name: "non-array frame map", input: []byte{0x81, 0xa1, 'a', 0x01}, log: "bad rpc"},
		{name: "one element", input: msg(1), log: "bad rpc"},
		{name: "elem0 string", input: msg("get", 0, "t|a"), log: "bad rpc"},
		{name: "elem0 nil", input: msg(nil, 0, "t|a"), log: "bad rpc"},
		{name: "elem0 float", input: append([]byte{0x93, 0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}, 0x00, 0xa1, 'k'), log: "bad rpc"},
		{name: "non-string key", input: msg(1, 7, 5), reply: `[-1,7,-1,null]`},
		{name: "nil key", input: msg(1, 7, nil), reply: `[-1,7,-1,null]`},
		{name: "missing key", input: msg(1, 7), reply: `[-1,7,-1,null]`},
		{name: "insert non-string value", input: msg(2, 8, "t|x", 5), reply: `[-2,8,-1,null]`},
		{name: "insert array value", input: msg(2, 8, "t|x", []any{"v"}), reply: `[-2,8,-1,null]`},
		{name: "empty table name", input: msg(1, 9, "nokey"), reply: `[-1,9,-1,null]`},
		{name: "empty key", input: msg(1, 9, ""), reply: `[-1,9,-1,null]`},
		{name: "scan across tables", input: msg(7, 10, "a|", "b|"), reply: `[-7,10,-1,null]`},
		{name: "count non-string last", input: msg(6, 10, "t|", 3), reply: `[-6,10,-1,null]`},
		{name: "subscribe without subscriber", input: msg(8, 10, "t|", "t}"), reply: `[-8,10,-1,null]`},
		{name: "add_join non-string spec", input: msg(11, 10, "t|", "t}", 5), reply: `[-11,10,-1,null]`},
		{name: "unknown command 99", input: msg(99, 11, "t|a"), reply: `[-99,11,-1,null]`},
		{name: "unknown command 0", input: msg(0, 12), reply: `[0,12,-1,null]`},
		{name: "unknown command 15", input: msg(15, 13, "x", "y"), reply: `[-15,13,-1,null]`},
		{name: "seq echoed verbatim", input: msg(99, "abc"), reply: `[-99,"abc",-1,null]`},
		{name: "reply-shaped message", input: msg(-1, 5, 0, nil), reply: "-"},
		{name: "str32 2^31 then EOF", input: []byte{0x93, 0x01, 0x00, 0xdb, 0x80, 0x00, 0x00, 0x00}, closeWrite: true, log: "bad msgpack"},
		{name: "bin32 2^31 then EOF", input: []byte{0x94, 0x02, 0x00, 0xa3, 't', '|', 'k', 0xc6, 0x80, 0x00, 0x00, 0x00}, closeWrite: true, log: "bad msgpack"},
		{name: "array32 2^31", input: []byte{0xdd, 0x80, 0x00, 0x00, 0x00}, closeWrite: true, log: "bad msgpack"},
		{name: "100000 nested arrays", input: nested, log: "bad msgpack"},
		{name: "frame over max", input: msg(2, 14, "t|big", strings.Repeat("x", 2<<20)), log: "bad msgpack"},
		{name: "truncated then EOF", input: msg(2, 14, "t|k", "value")[:6], closeWrite: true},
	}
}

// TestBadInput sends each bad input on its own connection while another
// connection keeps working, and checks that only the bad connection is
// affected, stored data is intact, the log says why once, and no goroutine
// leaks.
func TestBadInput(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, sink := startServer(t, Config{MaxFrameBytes: 1 << 20}, f)
	good := dial(t, s)
	ctx := ctxT(t)
	if err := good.Insert(ctx, "t|keep", "safe"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range badCases() {
		t.Run(tc.name, func(t *testing.T) {
			base := countGoroutines()
			logsBefore := 0
			if tc.log != "" {
				logsBefore = sink.count(tc.log)
			}
			r := dialRaw(t, s)
			if tc.reply == "" {
				// The server may close (and reset) before it has read
				// everything: a write error is fine here.
				_, _ = r.c.Write(tc.input)
			} else {
				r.send(tc.input)
			}
			if tc.closeWrite {
				_ = r.c.(*net.TCPConn).CloseWrite()
			}
			switch tc.reply {
			case "":
				r.expectClosed()
			case "-":
				r.expectSilence()
			default:
				r.expectReply(tc.reply)
			}
			if tc.reply != "" {
				// The connection stays usable.
				r.send(msg(1, 100, "t|keep"))
				r.expectReply(`[-1,100,0,"safe"]`)
			}
			// Other connections and the data are unaffected.
			if v, err := good.Get(ctx, "t|keep"); err != nil || string(v) != "safe" {
				t.Fatalf("other connection: get = %q, %v", v, err)
			}
			if tc.log != "" {
				if got := sink.count(tc.log) - logsBefore; got != 1 {
					t.Errorf("log %q written %d times, want 1", tc.log, got)
				}
			}
			r.c.Close()
			waitGoroutines(t, base)
		})
	}
	// A frame just under the limit is fine.
	big := strings.Repeat("y", 1<<19)
	if err := good.Insert(ctx, "t|big", big); err != nil {
		t.Fatal(err)
	}
	if v, err := good.Get(ctx, "t|big"); err != nil || string(v) != big {
		t.Fatalf("big value: %d bytes, %v", len(v), err)
	}
}

func countGoroutines() int { return runtime.NumGoroutine() }

// TestRequestsBeforeBadFrame: the complete requests before a bad message in
// the same read are handled (and answered) before the connection closes;
// the ones after it are not.
func TestRequestsBeforeBadFrame(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, _ := startServer(t, Config{}, f)
	r := dialRaw(t, s)
	var b []byte
	b = append(b, msg(2, 0, "t|before", "1")...)
	b = append(b, msg(1, 1, 5)...) // rejected: non-string key
	b = append(b, 0xc1)            // malformed
	b = append(b, msg(2, 2, "t|after", "1")...)
	r.send(b)
	got := r.drainUntilClosed()
	if !got[`[-1,1,-1,null]`] {
		t.Errorf("no fail reply for the rejected request; got %v", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := f.get("t|before"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the insert before the bad frame was not applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := f.get("t|after"); ok {
		t.Error("the insert after the bad frame was applied")
	}

	// Same with a "bad rpc" message instead of malformed msgpack.
	r2 := dialRaw(t, s)
	b = append(msg(2, 0, "t|before2", "1"), msg("x", 1)...)
	b = append(b, msg(2, 2, "t|after2", "1")...)
	r2.send(b)
	r2.drainUntilClosed()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, ok := f.get("t|before2"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the insert before the bad rpc was not applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok := f.get("t|after2"); ok {
		t.Error("the insert after the bad rpc was applied")
	}
}

// TestSplitFrames feeds requests one byte at a time and in odd chunks, and a
// large value across many reads.
func TestSplitFrames(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, _ := startServer(t, Config{}, f)
	r := dialRaw(t, s)
	var b []byte
	for i := 0; i < 20; i++ {
		b = append(b, msg(2, i, fmt.Sprintf("t|%02d", i), strings.Repeat("v", i*7))...)
	}
	for i := range b {
		r.send(b[i : i+1])
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	for i := 0; i < 20; i++ {
		r.expectReply(fmt.Sprintf(`[-2,%d,0,null]`, i))
	}
	// A 3 MiB value arrives in many reads (linear-time reassembly).
	big := strings.Repeat("z", 3<<20)
	r.send(msg(2, 100, "t|big", big))
	r.expectReply(`[-2,100,0,null]`)
	if v, _ := f.get("t|big"); v != big {
		t.Fatalf("big value: %d bytes", len(v))
	}
	r.send(msg(1, 101, "t|big")[:3])
	time.Sleep(10 * time.Millisecond)
	r.send(msg(1, 101, "t|big")[3:])
	m, err := r.read(5 * time.Second)
	if err != nil || m.Index(3).Len() != len(big) {
		t.Fatalf("get big: %v, %v", m.Index(3).Len(), err)
	}
}

// TestRepliesAfterClose: partitions keep replying to connections that are
// gone; nothing panics or leaks, and other connections are unaffected.
func TestRepliesAfterClose(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	f.delay = 200 * time.Microsecond
	s, _ := startServer(t, Config{}, f)
	for i := 0; i < 20; i++ {
		r := dialRaw(t, s)
		var b []byte
		for j := 0; j < 100; j++ {
			b = append(b, msg(1, j, "t|a")...)
		}
		r.send(b)
		if i%2 == 0 {
			_, _ = r.read(time.Second) // read one reply, then drop the rest
		}
		r.c.Close()
	}
	good := dial(t, s)
	ctx := ctxT(t)
	if err := good.Insert(ctx, "t|x", "1"); err != nil {
		t.Fatal(err)
	}
	// Wait until the fake has answered everything (to closed connections).
	deadline := time.Now().Add(10 * time.Second)
	for len(f.in) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if v, err := good.Get(ctx, "t|x"); err != nil || string(v) != "1" {
		t.Fatalf("get = %q, %v", v, err)
	}
}

// TestReplyFloodWhileClosing: a connection closed while replies pour in.
func TestReplyFloodWhileClosing(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	f.dup = 50
	s, _ := startServer(t, Config{}, f)
	for i := 0; i < 10; i++ {
		r := dialRaw(t, s)
		var b []byte
		for j := 0; j < 200; j++ {
			b = append(b, msg(14, j, "x")...) // 512-byte replies, 51 each
		}
		r.send(b)
		time.Sleep(time.Duration(i) * time.Millisecond)
		r.c.Close()
	}
	c := dial(t, s)
	if v, err := c.NoopGet(ctxT(t), "x"); err != nil || len(v) != 512 {
		t.Fatalf("noop_get = %d bytes, %v", len(v), err)
	}
}

// TestStopWithOpenConnections: Stop closes live connections, returns, and
// leaves no goroutine behind; clients see the connection lost.
func TestStopWithOpenConnections(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, err := Start(Config{Addr: "127.0.0.1:0", Loops: 3}, f)
	if err != nil {
		t.Fatal(err)
	}
	var clients []*wire.Client
	for i := 0; i < 10; i++ {
		c, err := wire.Dial(s.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Insert(ctxT(t), fmt.Sprintf("t|%d", i), "v"); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if err := s.Stop(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	for _, c := range clients {
		if _, err := c.Get(ctxT(t), "t|0"); !errors.Is(err, wire.ErrConnLost) {
			t.Errorf("after Stop: get error %v, want connection lost", err)
		}
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Error("still accepting after Stop")
	}
}

// TestServe: Serve blocks until its context ends and returns nil; it fails
// when the address is taken.
func TestServe(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Serve(context.Background(), Config{Addr: ln.Addr().String(), Loops: 1}, f)
	if err == nil {
		t.Fatal("Serve on a busy port succeeded")
	}
	addr := ln.Addr().String()
	ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, Config{Addr: addr, Loops: 2}, f) }()
	var c *wire.Client
	for i := 0; ; i++ {
		c, err = wire.Dial(addr)
		if err == nil {
			break
		}
		if i > 200 {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer c.Close()
	if err := c.Insert(ctxT(t), "t|a", "1"); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}
