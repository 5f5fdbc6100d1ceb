package wire

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// checkGoroutines fails the test if, once every other cleanup has run, more
// goroutines exist than when it was called. Call it first in a test.
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// fakeServer is a minimal in-test Pequod server: a map store behind the
// wire protocol, with knobs to misbehave.
type fakeServer struct {
	t  testing.TB
	ln net.Listener

	reverse  bool   // answer each read's requests in reverse order
	junk     bool   // precede each reply by a reply with an unknown seq and by a request
	wrongCmd bool   // answer with the wrong command code
	silent   bool   // never answer
	secret   string // answer control {"auth": secret} true, other secrets a failure; "" answers {}

	mu      sync.Mutex
	hold    bool // queue replies until release
	held    [][]byte
	heldC   net.Conn
	changed chan struct{}
	store   map[string]string
	seqs    []int64
	raw     []byte // the first 4 KiB received
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

func newFakeServer(t testing.TB) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, store: map[string]string{}, conns: map[net.Conn]bool{}, changed: make(chan struct{}, 1)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[conn] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go s.serve(conn)
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) addr() string { return s.ln.Addr().String() }

func (s *fakeServer) close() {
	s.ln.Close()
	s.dropConns()
	s.wg.Wait()
}

func (s *fakeServer) dropConns() {
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

func (s *fakeServer) serve(conn net.Conn) {
	defer s.wg.Done()
	defer conn.Close()
	var dec Decoder
	buf := make([]byte, 0, 64<<10)
	rd := make([]byte, 64<<10)
	out := make([]byte, 0, 64<<10)
	for {
		n, err := conn.Read(rd)
		if err != nil {
			return
		}
		s.mu.Lock()
		if len(s.raw) < 4096 {
			s.raw = append(s.raw, rd[:min(n, 4096-len(s.raw))]...)
		}
		hold := s.hold // tests turn hold off while serving, never on
		s.mu.Unlock()
		buf = append(buf, rd[:n]...)
		msgs, used, derr := dec.Decode(buf)
		out = out[:0]
		var replies [][]byte // only in the reverse and hold modes
		for _, m := range msgs {
			r, v := ParseRequest(m)
			start := len(out)
			switch v {
			case Close:
				return
			case IsReply:
				continue
			case Reject:
				out = AppendFailReply(out, &r)
			default:
				out = s.handle(out, &r)
			}
			if seq, ok := r.Seq(); ok {
				s.mu.Lock()
				s.seqs = append(s.seqs, seq)
				s.mu.Unlock()
			}
			if s.junk {
				junk := AppendNil(AppendInt(AppendInt(AppendInt(AppendArrayHeader(nil, 4), -int64(r.Cmd)), 1<<40), 0))
				junk = AppendString(AppendInt(AppendInt(AppendArrayHeader(junk, 3), 1), 7), "t|req")
				out = append(out[:start], append(junk, out[start:]...)...)
			}
			if s.reverse || hold {
				replies = append(replies, bytes.Clone(out[start:]))
			}
		}
		buf = append(buf[:0], buf[used:]...)
		if derr != nil {
			return
		}
		if s.silent {
			continue
		}
		if s.reverse {
			slices.Reverse(replies)
			out = bytes.Join(replies, nil)
		}
		s.mu.Lock()
		if s.hold {
			s.held = append(s.held, replies...)
			s.heldC = conn
			s.mu.Unlock()
			select {
			case s.changed <- struct{}{}:
			default:
			}
			continue
		}
		s.mu.Unlock()
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

// release writes the first n held replies (all if n < 0).
func (s *fakeServer) release(n int) {
	s.mu.Lock()
	if n < 0 || n > len(s.held) {
		n = len(s.held)
	}
	out := bytes.Join(s.held[:n], nil)
	s.held = s.held[n:]
	c := s.heldC
	s.mu.Unlock()
	if c != nil && len(out) > 0 {
		if _, err := c.Write(out); err != nil {
			s.t.Errorf("release: %v", err)
		}
	}
}

func (s *fakeServer) waitHeld(n int) {
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		got := len(s.held)
		s.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-s.changed:
		case <-deadline:
			s.t.Fatalf("server holds %d replies, want %d", got, n)
		}
	}
}

func (s *fakeServer) handle(dst []byte, r *Request) []byte {
	cmd := r.Cmd
	if s.wrongCmd {
		cmd = CmdStats
	}
	ok := func(payload func([]byte) []byte) []byte { return AppendReply(dst, cmd, r.SeqRaw, StatusOK, payload) }
	str := func(v string) func([]byte) []byte { return func(b []byte) []byte { return AppendString(b, v) } }
	s.mu.Lock()
	defer s.mu.Unlock()
	rangeKeys := func() []string {
		var keys []string
		for k := range s.store {
			if k >= string(r.Key()) && k < string(r.ScanLast()) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		return keys
	}
	pairs := func(b []byte) []byte {
		keys := rangeKeys()
		b = AppendArrayHeader(b, 2*len(keys))
		for _, k := range keys {
			b = AppendString(AppendString(b, k), s.store[k])
		}
		return b
	}
	switch r.Cmd {
	case CmdGet:
		return AppendString(AppendReplyHeader(dst, cmd, r.SeqRaw, StatusOK), s.store[string(r.Key())])
	case CmdInsert, CmdNotifyInsert:
		s.store[string(r.Key())] = string(r.Last())
		return ok(nil)
	case CmdErase, CmdNotifyErase:
		delete(s.store, string(r.Key()))
		return ok(nil)
	case CmdCount:
		n := len(rangeKeys())
		return ok(func(b []byte) []byte { return AppendInt(b, int64(n)) })
	case CmdScan, CmdSubscribe:
		return ok(pairs)
	case CmdAddJoin:
		spec := string(r.Arg(4).Bytes())
		if strings.HasPrefix(spec, "bad") {
			return AppendReply(dst, cmd, r.SeqRaw, StatusFail, str("parse error: "+spec))
		}
		if strings.HasPrefix(spec, "warn") {
			return ok(str("warning: " + spec))
		}
		return ok(nil)
	case CmdStats:
		n := len(s.store)
		return ok(func(b []byte) []byte {
			b = AppendMapHeader(b, 2)
			b = AppendInt(AppendString(b, "store_size"), int64(n))
			return AppendInt(AppendString(b, "id"), -1)
		})
	case CmdControl:
		if v, has := r.Arg(2).Get(AuthControlKey); has && s.secret != "" {
			if v.Str() != s.secret {
				return AppendReply(dst, cmd, r.SeqRaw, StatusFail, str("auth: wrong secret"))
			}
			return ok(func(b []byte) []byte { return AppendBool(b, true) })
		}
		if v, _ := r.Arg(2).Get("is_ready"); v.Truthy() {
			return ok(func(b []byte) []byte { return AppendBool(b, true) })
		}
		return ok(func(b []byte) []byte { return AppendMapHeader(b, 0) })
	case CmdNoopGet:
		return ok(func(b []byte) []byte { return AppendStr(b, NoopGetValue) })
	}
	return ok(nil) // unsubscribe, invalidate
}

func dialTest(t *testing.T, s *fakeServer) *Client {
	c, err := Dial(s.addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientRPCs(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	c := dialTest(t, s)
	ctx := context.Background()

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Insert(ctx, "k|1", "v"))
	// The first request on the connection has seq 0 and the exact encoding
	// of §1.1 ([2, 0, "k|1", "v"]).
	s.mu.Lock()
	first := append([]byte(nil), s.raw[:10]...)
	s.mu.Unlock()
	if want := h("94 02 00 a3 6b 7c 31 a1 76"); !bytes.Equal(first[:9], want) {
		t.Fatalf("first request % x, want % x", first[:9], want)
	}
	must(c.Insert(ctx, "k|2", "vv"))
	must(c.Insert(ctx, "k|3", strings.Repeat("x", 300)))
	v, err := c.Get(ctx, "k|2")
	if err != nil || string(v) != "vv" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	if v, err := c.Get(ctx, "k|missing"); err != nil || len(v) != 0 {
		t.Fatalf("Get missing = %q, %v", v, err)
	}
	if n, err := c.Count(ctx, "k|", "k}"); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if n, err := c.Count(ctx, "k|", "k}", "k|3"); err != nil || n != 2 {
		t.Fatalf("Count scanlast = %d, %v", n, err)
	}
	kvs, err := c.Scan(ctx, "k|", "k}")
	if err != nil || len(kvs) != 3 || string(kvs[0].Key) != "k|1" || string(kvs[1].Value) != "vv" || len(kvs[2].Value) != 300 {
		t.Fatalf("Scan = %q, %v", kvs, err)
	}
	if kvs, err := c.Scan(ctx, "k|", "k}", "k|2"); err != nil || len(kvs) != 1 {
		t.Fatalf("Scan scanlast = %q, %v", kvs, err)
	}
	if kvs, err := c.Subscribe(ctx, "k|", "k|3", 2); err != nil || len(kvs) != 2 {
		t.Fatalf("Subscribe = %q, %v", kvs, err)
	}
	must(c.Unsubscribe(ctx, "k|", "k}", 2))
	must(c.Invalidate(ctx, "k|", "k}"))
	must(c.NotifyInsert(ctx, "k|4", "n"))
	must(c.NotifyErase(ctx, "k|4"))
	must(c.Erase(ctx, "k|3"))
	if n, _ := c.Count(ctx, "k|", "k}"); n != 2 {
		t.Fatalf("after erase Count = %d", n)
	}
	if msg, err := c.AddJoin(ctx, "t|", "t}", "t|<a> = copy s|<a>"); err != nil || msg != "" {
		t.Fatalf("AddJoin = %q, %v", msg, err)
	}
	if msg, err := c.AddJoin(ctx, "t|", "t}", "warn me"); err != nil || msg != "warning: warn me" {
		t.Fatalf("AddJoin warn = %q, %v", msg, err)
	}
	msg, err := c.AddJoin(ctx, "t|", "t}", "bad join")
	var se *StatusError
	if !errors.As(err, &se) || se.Message != "parse error: bad join" || msg != "parse error: bad join" || se.Cmd != CmdAddJoin {
		t.Fatalf("AddJoin bad = %q, %v", msg, err)
	}
	st, err := c.Stats(ctx)
	if err != nil || st.Kind() != KindMap {
		t.Fatalf("Stats = %v, %v", st, err)
	}
	if sz, _ := st.Get("store_size"); fmt.Sprint(sz.Interface()) != "2" {
		t.Fatalf("Stats = %s", st)
	}
	if js, _ := st.MarshalJSON(); string(js) != `{"store_size":2,"id":-1}` {
		t.Fatalf("Stats JSON = %s", js)
	}
	if r, err := c.Control(ctx, map[string]any{"is_ready": true}); err != nil || !r.Bool() {
		t.Fatalf("Control is_ready = %v, %v", r, err)
	}
	if r, err := c.Control(ctx, map[string]any{"print": true}); err != nil || r.Kind() != KindMap || r.Len() != 0 {
		t.Fatalf("Control = %v, %v", r, err)
	}
	if v, err := c.NoopGet(ctx, "x"); err != nil || !bytes.Equal(v, NoopGetValue) {
		t.Fatalf("NoopGet = %d bytes, %v", len(v), err)
	}
	// A rejected request: get of a key without a table name.
	if _, err := c.Get(ctx, "notable"); !errors.As(err, &se) || se.Status != StatusFail {
		t.Fatalf("Get without table: %v", err)
	}
	// Generic calls.
	call, err := c.Call(ctx, CmdGet, "k|1")
	if err != nil || call.Payload.Str() != "v" {
		t.Fatalf("Call = %v, %v", call, err)
	}
	if _, err := c.Call(ctx, CmdControl, make(chan int)); err == nil {
		t.Fatal("Call with unencodable arg succeeded")
	}
	// Seqs are 0, 1, 2, ... in order (the unencodable call used none).
	s.mu.Lock()
	seqs := slices.Clone(s.seqs)
	s.mu.Unlock()
	for i, q := range seqs {
		if q != int64(i) {
			t.Fatalf("seq #%d = %d", i, q)
		}
	}
	if len(seqs) != 25 {
		t.Fatalf("%d requests, want 25", len(seqs))
	}
}

func TestClientOutOfOrder(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	s.reverse, s.junk = true, true
	c := dialTest(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 2000
	for i := 0; i < n; i++ {
		c.InsertAsync(fmt.Sprintf("k|%05d", i), fmt.Sprintf("value %d", i), nil)
	}
	if err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// Many goroutines, each with 32 gets in flight.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan *Call, 32)
			want := map[*Call]string{}
			for i := g; i < n; i += 8 {
				call := c.GetAsync(fmt.Sprintf("k|%05d", i), done)
				want[call] = fmt.Sprintf("value %d", i)
				if len(want) == 32 || i+8 >= n {
					for len(want) > 0 {
						call := <-done
						v, err := call.Bytes()
						if err != nil || string(v) != want[call] {
							errs <- fmt.Errorf("get: %q, %v, want %q", v, err, want[call])
							return
						}
						delete(want, call)
						call.Release()
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if c.Outstanding() != 0 {
		t.Fatalf("%d outstanding", c.Outstanding())
	}
}

func TestClientWrongCmd(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	s.wrongCmd = true
	c := dialTest(t, s)
	if _, err := c.Get(context.Background(), "k|1"); !errors.Is(err, ErrBadReply) {
		t.Fatalf("err = %v, want ErrBadReply", err)
	}
}

func TestClientPaceCalls(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	s.mu.Lock()
	s.hold = true
	s.mu.Unlock()
	c := dialTest(t, s)
	ctx := context.Background()
	paced := func() chan error {
		ch := make(chan error, 1)
		go func() { ch <- c.Pace(ctx) }()
		return ch
	}
	blocked := func(ch chan error) bool {
		select {
		case <-ch:
			return false
		case <-time.After(150 * time.Millisecond):
			return true
		}
	}
	for i := 0; i < PaceHighCalls; i++ {
		c.NotifyEraseAsync("k|x", nil)
	}
	// Exactly at the high mark: not over it.
	if blocked(paced()) {
		t.Fatal("Pace blocked at 16384 outstanding")
	}
	c.NotifyEraseAsync("k|x", nil)
	ch := paced()
	if !blocked(ch) {
		t.Fatal("Pace did not block at 16385 outstanding")
	}
	s.waitHeld(PaceHighCalls + 1)
	// Down to 8193: still blocked (hysteresis).
	s.release(PaceHighCalls + 1 - (PaceLowCalls + 1))
	for deadline := time.Now().Add(10 * time.Second); c.Outstanding() > PaceLowCalls+1; {
		if time.Now().After(deadline) {
			t.Fatalf("outstanding %d", c.Outstanding())
		}
		time.Sleep(time.Millisecond)
	}
	if !blocked(ch) {
		t.Fatalf("Pace returned at %d outstanding", c.Outstanding())
	}
	if got := c.Outstanding(); got != PaceLowCalls+1 {
		t.Fatalf("outstanding %d", got)
	}
	s.release(1)
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Pace still blocked at %d outstanding", c.Outstanding())
	}
	// Under the high mark again, Pace returns at once.
	if blocked(paced()) {
		t.Fatal("Pace blocked at 8192 outstanding")
	}
	// Pace honours its context.
	for i := 0; i <= PaceHighCalls; i++ {
		c.NotifyEraseAsync("k|x", nil)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := c.Pace(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pace with deadline: %v", err)
	}
	s.mu.Lock()
	s.hold = false
	s.mu.Unlock()
	s.release(-1)
	if err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestClientPaceBytes(t *testing.T) {
	checkGoroutines(t)
	cs, ss := net.Pipe()
	defer ss.Close()
	c := NewClient(cs, nil)
	defer c.Close()
	val := strings.Repeat("v", 200<<10)
	for i := 0; i < 6; i++ { // 1.2 MiB unsent: nobody reads the pipe
		c.InsertAsync("k|1", val, nil)
	}
	if u := c.Unsent(); u <= PaceHighBytes {
		t.Fatalf("unsent %d", u)
	}
	ch := make(chan error, 1)
	go func() { ch <- c.Pace(context.Background()) }()
	select {
	case <-ch:
		t.Fatal("Pace did not block with 1.2 MiB unsent")
	case <-time.After(150 * time.Millisecond):
	}
	// Read about 300 KiB: still over the low mark, still blocked.
	got := 0
	buf := make([]byte, 64<<10)
	for got < 300<<10 {
		n, err := ss.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += n
	}
	select {
	case <-ch:
		t.Fatalf("Pace returned with %d unsent", c.Unsent())
	case <-time.After(150 * time.Millisecond):
	}
	// Read everything: Pace returns.
	go func() {
		for {
			if _, err := ss.Read(buf); err != nil {
				return
			}
		}
	}()
	select {
	case err := <-ch:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Pace blocked with %d unsent", c.Unsent())
	}
}

func TestClientConnFailure(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	s.silent = true
	c := dialTest(t, s)
	ctx := context.Background()
	calls := []*Call{c.GetAsync("k|1", nil), c.CountAsync("k|", "k}", "", nil), c.ScanAsync("k|", "k}", "k|5", nil), c.StatsAsync(nil)}
	type res struct {
		get   []byte
		count int64
		scan  []KV
		stats Value
		errs  [4]error
	}
	ch := make(chan res, 1)
	go func() {
		var r res
		r.get, r.errs[0] = c.Get(ctx, "k|1")
		ch <- r
	}()
	for { // wait until the server has read all 5 requests
		s.mu.Lock()
		n := len(s.seqs)
		s.mu.Unlock()
		if n >= 5 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.dropConns()
	for _, call := range calls {
		select {
		case <-call.Done:
		case <-time.After(5 * time.Second):
			t.Fatal("outstanding call not completed on connection loss")
		}
		if !errors.Is(call.Err, ErrConnLost) || call.Status != StatusFail {
			t.Fatalf("call %s: err %v status %d", call.Cmd, call.Err, call.Status)
		}
	}
	r := <-ch
	if !errors.Is(r.errs[0], ErrConnLost) || len(r.get) != 0 {
		t.Fatalf("Get after loss: %q %v", r.get, r.errs[0])
	}
	// Typed results give the §1.3 failure values.
	if n, err := calls[1].Int(); n != 0 || err == nil {
		t.Fatal("count failure value")
	}
	if kv, err := calls[2].KVs(); kv != nil || err == nil {
		t.Fatal("scan failure value")
	}
	if st, err := calls[3].Object(); err == nil || st.Kind() != KindMap || st.Len() != 0 {
		t.Fatal("stats failure value")
	}
	// New calls fail at once with the same error.
	if n, err := c.Count(ctx, "k|", "k}"); n != 0 || !errors.Is(err, ErrConnLost) {
		t.Fatalf("Count after loss: %d %v", n, err)
	}
	if st, err := c.Stats(ctx); st.Kind() != KindMap || !errors.Is(err, ErrConnLost) {
		t.Fatalf("Stats after loss: %v %v", st, err)
	}
	if err := c.Pace(ctx); !errors.Is(err, ErrConnLost) {
		t.Fatalf("Pace after loss: %v", err)
	}
	if !errors.Is(c.Err(), ErrConnLost) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestClientClose(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	s.silent = true
	c, err := Dial(s.addr())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *Call, 100)
	for i := 0; i < 100; i++ {
		c.GetAsync("k|1", done)
	}
	pace := make(chan error, 1)
	go func() { pace <- c.Drain(context.Background()) }()
	c.Close()
	for i := 0; i < 100; i++ {
		call := <-done
		if !errors.Is(call.Err, ErrClosed) {
			t.Fatalf("call %d: %v", i, call.Err)
		}
	}
	if err := <-pace; !errors.Is(err, ErrClosed) {
		t.Fatalf("Drain: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), "k|1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
}

func TestClientContext(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	s.mu.Lock()
	s.hold = true
	s.mu.Unlock()
	c := dialTest(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, "k|1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with deadline: %v", err)
	}
	if _, err := c.Get(ctx, "k|1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get with expired ctx: %v", err)
	}
	s.waitHeld(1)
	s.mu.Lock()
	s.hold = false
	s.mu.Unlock()
	s.release(-1) // the late reply is dropped
	if err := c.Insert(context.Background(), "k|1", "x"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(context.Background(), "k|1"); err != nil || string(v) != "x" {
		t.Fatalf("Get = %q %v", v, err)
	}
}

// The client survives a reply stream that is malformed: outstanding calls
// fail with a ConnError wrapping the decode error.
func TestClientBadReplyStream(t *testing.T) {
	checkGoroutines(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 100)
		conn.Read(buf)
		conn.Write(h("94 ff 00 00 a1 61 94 ff 01 00 c1"))
		conn.Read(buf) // until the client closes
	}()
	c, err := Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, b := c.GetAsync("k|1", nil), c.GetAsync("k|2", nil)
	<-a.Done
	<-b.Done
	if v, err := a.Bytes(); err != nil || string(v) != "a" {
		t.Fatalf("first reply: %q %v", v, err)
	}
	if !errors.Is(b.Err, ErrConnLost) || !errors.Is(b.Err, ErrSyntax) {
		t.Fatalf("second: %v", b.Err)
	}
	c.Close()
	<-srvDone
}

func BenchmarkClientPipelined(b *testing.B) {
	s := newFakeServer(b)
	c, err := Dial(s.addr())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Insert(ctx, "t|00000001", "....."); err != nil {
		b.Fatal(err)
	}
	const inflight = 32
	done := make(chan *Call, 2*inflight)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < inflight && i < b.N; i++ {
		c.GetAsync("t|00000001", done)
	}
	for i := 0; i < b.N; i++ {
		call := <-done
		if call.Err != nil || call.Status != 0 {
			b.Fatal(call.Check())
		}
		call.Release()
		if i+inflight < b.N {
			c.GetAsync("t|00000001", done)
		}
	}
}

// TestClientAuth: Options.Auth sends the auth control as the connection's
// first request (seq 0); a refusal fails the dial with ErrAuthRefused and
// the server's message, and leaks nothing.
func TestClientAuth(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	s.secret = "sixteen byte secret"
	ctx := context.Background()

	c, err := DialContext(ctx, s.addr(), &Options{Auth: []byte(s.secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Insert(ctx, "t|a", "1"); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	first := s.raw
	s.mu.Unlock()
	msgs, _, err := NewDecoder().Decode(first)
	if err != nil || len(msgs) == 0 {
		t.Fatalf("decoding what the server got: %v", err)
	}
	if got, want := msgs[0].String(), `[13,0,{"auth":"sixteen byte secret"}]`; got != want {
		t.Fatalf("first request %s, want %s", got, want)
	}

	_, err = DialContext(ctx, s.addr(), &Options{Auth: []byte("not the secret")})
	if !errors.Is(err, ErrAuthRefused) || !strings.Contains(err.Error(), "wrong secret") || !strings.Contains(err.Error(), s.addr()) {
		t.Fatalf("dial with a wrong secret: %v", err)
	}

	s.mu.Lock()
	s.secret = "" // a server that does not know the key answers {}
	s.mu.Unlock()
	_, err = DialContext(ctx, s.addr(), &Options{Auth: []byte("sixteen byte secret")})
	if !errors.Is(err, ErrAuthRefused) || !strings.Contains(err.Error(), "{}") {
		t.Fatalf("dial to a server answering {}: %v", err)
	}
}
