package reactor

import (
	"context"
	"net"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/wire"
)

// fakeParts is an in-test stand-in for partition.Server: one goroutine, a
// map store, replies through each request's Replier. It understands get,
// insert, erase, count, scan (without joins), noop_get, stats and control
// is_ready, which is all the reactor tests need.
type fakeParts struct {
	in    chan []*partition.Request
	done  chan struct{}
	delay time.Duration // sleep before each reply (replies to closed conns)
	dup   int           // extra copies of each reply (reply floods)

	dispatches atomic.Int64 // Dispatch calls
	requests   atomic.Int64 // requests dispatched

	mu    sync.Mutex
	store map[string]string
}

func newFakeParts(t testing.TB) *fakeParts {
	f := &fakeParts{in: make(chan []*partition.Request, 1024), done: make(chan struct{}), store: map[string]string{}}
	go f.loop()
	t.Cleanup(f.close)
	return f
}

func (f *fakeParts) close() {
	select {
	case <-f.done:
	default:
		close(f.in)
		<-f.done
	}
}

func (f *fakeParts) Dispatch(reqs []*partition.Request) {
	f.dispatches.Add(1)
	f.requests.Add(int64(len(reqs)))
	f.in <- append([]*partition.Request(nil), reqs...)
}

func (f *fakeParts) loop() {
	defer close(f.done)
	for batch := range f.in {
		for _, q := range batch {
			if f.delay > 0 {
				time.Sleep(f.delay)
			}
			b := f.handle(q)
			for i := 0; i < f.dup; i++ {
				q.Reply.SendReply(append([]byte(nil), b...))
			}
			q.Reply.SendReply(b)
		}
	}
}

func (f *fakeParts) get(k string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.store[k]
	return v, ok
}

func (f *fakeParts) handle(q *partition.Request) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	ok := func(payload func([]byte) []byte) []byte {
		return wire.AppendReply(nil, q.Cmd, q.Seq, wire.StatusOK, payload)
	}
	rangeKeys := func() []string {
		last := q.Arg3
		if q.HasArg4 {
			last = q.Arg4
		}
		var ks []string
		for k := range f.store {
			if k >= q.Key && k < last {
				ks = append(ks, k)
			}
		}
		sort.Strings(ks)
		return ks
	}
	switch q.Cmd {
	case wire.CmdGet:
		v := f.store[q.Key]
		return ok(func(b []byte) []byte { return wire.AppendString(b, v) })
	case wire.CmdInsert:
		f.store[q.Key] = q.Arg3
		return ok(nil)
	case wire.CmdErase:
		delete(f.store, q.Key)
		return ok(nil)
	case wire.CmdCount:
		n := len(rangeKeys())
		return ok(func(b []byte) []byte { return wire.AppendInt(b, int64(n)) })
	case wire.CmdScan:
		ks := rangeKeys()
		return ok(func(b []byte) []byte {
			b = wire.AppendArrayHeader(b, 2*len(ks))
			for _, k := range ks {
				b = wire.AppendString(wire.AppendString(b, k), f.store[k])
			}
			return b
		})
	case wire.CmdNoopGet:
		return ok(func(b []byte) []byte { return wire.AppendStr(b, wire.NoopGetValue) })
	case wire.CmdStats:
		n := len(f.store)
		return ok(func(b []byte) []byte {
			b = wire.AppendMapHeader(b, 1)
			return wire.AppendInt(wire.AppendString(b, "store_size"), int64(n))
		})
	case wire.CmdControl:
		if q.Control["is_ready"] != nil {
			return ok(func(b []byte) []byte { return wire.AppendBool(b, true) })
		}
		return ok(func(b []byte) []byte { return wire.AppendMapHeader(b, 0) })
	}
	return wire.AppendReply(nil, q.Cmd, q.Seq, wire.StatusFail, nil)
}

// checkGoroutines fails the test if, once every other cleanup has run, more
// goroutines exist than when it was called. Call it first in a test.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		waitGoroutines(t, before)
	})
}

// waitGoroutines waits up to 5 s for the number of goroutines to drop to at
// most n.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: want <= %d, have %d\n%s", n, got, buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// logSink collects log lines for assertions.
type logSink struct {
	mu    sync.Mutex
	lines []string
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, string(p))
	return len(p), nil
}

func (s *logSink) count(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// startServer starts a reactor on a free loopback port with d behind it and
// stops it at cleanup. The returned sink receives its logs (also written to
// the test log).
func startServer(t *testing.T, cfg Config, d Dispatcher) (*Server, *logSink) {
	t.Helper()
	sink := &logSink{}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel), zaptest.WrapOptions(zap.Hooks(func(e zapcore.Entry) error {
			_, _ = sink.Write([]byte(e.Message))
			return nil
		})))
	}
	s, err := Start(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s, sink
}

func dial(t *testing.T, s *Server) *wire.Client {
	t.Helper()
	c, err := wire.Dial(s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawConn is a plain TCP connection for sending arbitrary bytes.
type rawConn struct {
	t     *testing.T
	c     net.Conn
	dec   *wire.Decoder
	buf   []byte
	queue []wire.Value
}

func dialRaw(t *testing.T, s *Server) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, dec: wire.NewDecoder()}
}

func (r *rawConn) send(b []byte) {
	r.t.Helper()
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// read returns the next message, or an error (io.EOF when the server closed
// the connection, a timeout error when nothing came within d).
func (r *rawConn) read(d time.Duration) (wire.Value, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	tmp := make([]byte, 64<<10)
	for len(r.queue) == 0 {
		k, err := r.c.Read(tmp)
		r.buf = append(r.buf, tmp[:k]...)
		msgs, n, derr := r.dec.Decode(r.buf)
		if derr != nil {
			r.t.Fatalf("bad reply stream: %v", derr)
		}
		for _, m := range msgs {
			r.queue = append(r.queue, m.Clone())
		}
		r.buf = append(r.buf[:0], r.buf[n:]...)
		if err != nil && len(r.queue) == 0 {
			return wire.Value{}, err
		}
	}
	m := r.queue[0]
	r.queue = r.queue[1:]
	return m, nil
}

// expectClosed asserts the server closes the connection without sending
// anything.
func (r *rawConn) expectClosed() {
	r.t.Helper()
	m, err := r.read(5 * time.Second)
	if err == nil {
		r.t.Fatalf("expected the connection to be closed, got message %v", m)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		r.t.Fatalf("expected the connection to be closed, it stayed open")
	}
}

// drainUntilClosed reads until the server closes the connection and returns
// the set of messages received (JSON).
func (r *rawConn) drainUntilClosed() map[string]bool {
	r.t.Helper()
	got := map[string]bool{}
	for {
		m, err := r.read(5 * time.Second)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				r.t.Fatalf("expected the connection to be closed, it stayed open")
			}
			return got
		}
		got[m.String()] = true
	}
}

// expectReply asserts the next message is exactly want (JSON rendering).
func (r *rawConn) expectReply(want string) {
	r.t.Helper()
	m, err := r.read(5 * time.Second)
	if err != nil {
		r.t.Fatalf("expected reply %s, got error %v", want, err)
	}
	if got := m.String(); got != want {
		r.t.Fatalf("reply: got %s, want %s", got, want)
	}
}

// expectSilence asserts nothing arrives for a while and the connection stays
// open.
func (r *rawConn) expectSilence() {
	r.t.Helper()
	m, err := r.read(200 * time.Millisecond)
	if err == nil {
		r.t.Fatalf("expected no reply, got %v", m)
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		r.t.Fatalf("expected the connection to stay open, got %v", err)
	}
}

// msg encodes a message from Go values.
func msg(vs ...any) []byte {
	b, err := wire.AppendAny(nil, vs)
	if err != nil {
		panic(err)
	}
	return b
}
