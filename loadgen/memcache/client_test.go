package memcache

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/memcache/memcachetest"
)

// realAddr is the address of the memcached started by TestMain ("" when
// unavailable); realSkip explains why.
var realAddr, realSkip string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "memcache-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	srv, err := memcachetest.Start(dir)
	if err != nil {
		if !errors.Is(err, memcachetest.ErrUnavailable) {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		realSkip = err.Error()
	} else {
		realAddr = srv.Addr
		defer srv.Stop()
	}
	return m.Run()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// --- fake server ------------------------------------------------------------

type request struct {
	op                 Opcode
	opaque             uint32
	extras, key, value []byte
}

func readRequest(r *bufio.Reader) (request, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return request{}, err
	}
	if h[0] != magicRequest {
		return request{}, fmt.Errorf("bad request magic %x", h[0])
	}
	kl, el := int(binary.BigEndian.Uint16(h[2:])), int(h[4])
	body := make([]byte, binary.BigEndian.Uint32(h[8:]))
	if _, err := io.ReadFull(r, body); err != nil {
		return request{}, err
	}
	return request{op: Opcode(h[1]), opaque: binary.BigEndian.Uint32(h[12:]),
		extras: body[:el], key: body[el : el+kl], value: body[el+kl:]}, nil
}

func response(op Opcode, st Status, opaque uint32, extras, key, value []byte) []byte {
	b := appendRequest(nil, op, opaque, extras, key, value)
	b[0] = magicResponse
	binary.BigEndian.PutUint16(b[6:], uint16(st))
	return b
}

// fakeServer implements enough of memcached for the client's requests. The
// responses to one batch of requests are written together.
type fakeServer struct {
	mu    sync.Mutex
	items map[string][]byte
	// hook, when set, may replace the response to a request.
	hook func(req request) ([]byte, bool)
	ops  []Opcode
}

func (s *fakeServer) answer(req request) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops = append(s.ops, req.op)
	if s.hook != nil {
		if b, ok := s.hook(req); ok {
			return b
		}
	}
	k := string(req.key)
	ok := func(v []byte) []byte { return response(req.op, StatusOK, req.opaque, nil, nil, v) }
	fail := func(st Status) []byte {
		return response(req.op, st, req.opaque, nil, nil, []byte(st.String()))
	}
	switch req.op {
	case OpGet:
		v, found := s.items[k]
		if !found {
			return fail(StatusKeyNotFound)
		}
		return response(req.op, StatusOK, req.opaque, []byte{0, 0, 0, 0}, nil, v)
	case OpSet:
		s.items[k] = append([]byte{}, req.value...)
		return ok(nil)
	case OpAdd:
		if _, found := s.items[k]; found {
			return fail(StatusKeyExists)
		}
		s.items[k] = append([]byte{}, req.value...)
		return ok(nil)
	case OpAppend:
		v, found := s.items[k]
		if !found {
			return fail(StatusNotStored)
		}
		if len(v)+len(req.value) > DefaultMaxValueSize {
			return fail(StatusNotStored) // as memcached past its -I limit
		}
		s.items[k] = append(v, req.value...)
		return ok(nil)
	case OpIncrement:
		delta, initial := binary.BigEndian.Uint64(req.extras), binary.BigEndian.Uint64(req.extras[8:])
		exp := binary.BigEndian.Uint32(req.extras[16:])
		v, found := s.items[k]
		var n uint64
		if !found {
			if exp == 0xFFFFFFFF {
				return fail(StatusKeyNotFound)
			}
			n = initial
		} else {
			cur, err := strconv.ParseUint(string(v), 10, 64)
			if err != nil {
				return fail(StatusNonNumeric)
			}
			n = cur + delta
		}
		s.items[k] = strconv.AppendUint(nil, n, 10)
		return ok(binary.BigEndian.AppendUint64(nil, n))
	case OpFlush:
		clear(s.items)
		return ok(nil)
	case OpStat:
		var b []byte
		for _, kv := range [][2]string{{"pid", "1"}, {"uptime", "7"}, {"rusage_user", "0.5"}} {
			b = append(b, response(OpStat, StatusOK, req.opaque, nil, []byte(kv[0]), []byte(kv[1]))...)
		}
		return append(b, ok(nil)...)
	case OpQuit:
		return ok(nil)
	}
	return fail(StatusUnknownCommand)
}

func (s *fakeServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		var out []byte
		quit := false
		for {
			req, err := readRequest(r)
			if err != nil {
				return
			}
			out = append(out, s.answer(req)...)
			if req.op == OpQuit {
				quit = true
				break
			}
			if r.Buffered() == 0 {
				break
			}
		}
		if _, err := c.Write(out); err != nil || quit {
			return
		}
	}
}

func newFake(t *testing.T) (*fakeServer, *Client) {
	t.Helper()
	s := &fakeServer{items: make(map[string][]byte)}
	a, b := net.Pipe()
	go s.serve(b)
	c := NewClient(a, nil)
	t.Cleanup(func() { c.Close() })
	return s, c
}

// --- tests --------------------------------------------------------------------

func TestDecodeResponse(t *testing.T) {
	pkt := response(OpGet, StatusOK, 42, []byte{1, 2, 3, 4}, []byte("k"), []byte("value"))
	p, n, err := DecodeResponse(append(pkt, 0xff), 1<<10)
	if err != nil || n != len(pkt) {
		t.Fatalf("decode: n=%d err=%v", n, err)
	}
	if p.Opcode != OpGet || p.Opaque != 42 || string(p.Key) != "k" || string(p.Value) != "value" || len(p.Extras) != 4 {
		t.Fatalf("decoded %+v", p)
	}
	for i := range len(pkt) {
		if _, _, err := DecodeResponse(pkt[:i], 1<<10); !errors.Is(err, ErrShort) {
			t.Fatalf("prefix %d: err %v, want ErrShort", i, err)
		}
	}
	if _, _, err := DecodeResponse(pkt, 5); !errors.Is(err, ErrProtocol) {
		t.Fatalf("over limit: %v", err)
	}
	bad := bytes.Clone(pkt)
	bad[0] = 0x80
	if _, _, err := DecodeResponse(bad, 1<<10); !errors.Is(err, ErrProtocol) {
		t.Fatalf("bad magic: %v", err)
	}
	bad = bytes.Clone(pkt)
	bad[4] = 200 // extras beyond the body
	if _, _, err := DecodeResponse(bad, 1<<10); !errors.Is(err, ErrProtocol) {
		t.Fatalf("bad extras: %v", err)
	}
}

func testBasics(t *testing.T, c *Client) {
	ctx := ctxT(t)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, []byte("missing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	call, err := c.Do(ctx, Request{Op: OpGet, Key: []byte("missing")})
	if call == nil || call.Status != StatusKeyNotFound || !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing call: %+v %v", call, err)
	}
	if err := c.Set(ctx, []byte("a"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, []byte("a")); err != nil || string(v) != "1" {
		t.Fatalf("get a: %q %v", v, err)
	}
	if err := c.Add(ctx, []byte("a"), []byte("2")); !errors.Is(err, ErrExists) && !errors.Is(err, ErrNotStored) {
		t.Fatalf("add existing: %v", err)
	}
	if err := c.Append(ctx, []byte("nope"), []byte("x")); !errors.Is(err, ErrNotStored) {
		t.Fatalf("append missing: %v", err)
	}
	if err := c.AppendOrAdd(ctx, []byte("list"), []byte("x")); err != nil {
		t.Fatalf("append-or-add missing: %v", err)
	}
	if err := c.AppendOrAdd(ctx, []byte("list"), []byte("y")); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, []byte("list")); err != nil || string(v) != "xy" {
		t.Fatalf("list: %q %v", v, err)
	}
	if _, err := c.Incr(ctx, []byte("ctr"), 1, 0, 0xFFFFFFFF); !errors.Is(err, ErrNotFound) {
		t.Fatalf("incr missing: %v", err)
	}
	if n, err := c.Incr(ctx, []byte("ctr"), 1, 1, 0); err != nil || n != 1 {
		t.Fatalf("incr create: %d %v", n, err)
	}
	if n, err := c.Incr(ctx, []byte("ctr"), 5, 1, 0); err != nil || n != 6 {
		t.Fatalf("incr: %d %v", n, err)
	}
	if v, err := c.Get(ctx, []byte("ctr")); err != nil || string(v) != "6" {
		t.Fatalf("ctr: %q %v", v, err)
	}
	st, err := c.Stats(ctx)
	if err != nil || st["uptime"] == "" || st["rusage_user"] == "" {
		t.Fatalf("stats: %v %v", st, err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, []byte("a")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after flush: %v", err)
	}
}

// testPipelinedCreate issues many pipelined creating APPENDs to missing keys
// and checks no record is lost (SET as the fallback would lose some).
func testPipelinedCreate(t *testing.T, c *Client) {
	ctx := ctxT(t)
	const keys, per = 5, 40
	done := make(chan *Call, keys*per)
	for i := range per {
		for k := range keys {
			c.Go(Request{Op: OpAppend, Key: fmt.Appendf(nil, "pc|%d", k), Value: fmt.Appendf(nil, "%03d", i), Create: true}, done)
		}
	}
	for range keys * per {
		select {
		case call := <-done:
			if err := call.Check(); err != nil {
				t.Fatal(err)
			}
			call.Release()
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	for k := range keys {
		v, err := c.Get(ctx, fmt.Appendf(nil, "pc|%d", k))
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != 3*per {
			t.Fatalf("key %d: %d bytes, want %d: %q", k, len(v), 3*per, v)
		}
		seen := map[string]bool{}
		for i := 0; i < len(v); i += 3 {
			seen[string(v[i:i+3])] = true
		}
		if len(seen) != per {
			t.Fatalf("key %d: %d distinct records, want %d", k, len(seen), per)
		}
	}
}

func testLimits(t *testing.T, c *Client) {
	ctx := ctxT(t)
	if err := c.Set(ctx, bytes.Repeat([]byte("k"), MaxKeyLen+1), nil); !errors.Is(err, ErrKeyTooLong) {
		t.Fatalf("long key: %v", err)
	}
	if err := c.Set(ctx, []byte("big"), make([]byte, c.MaxValueSize()+1)); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("big value: %v", err)
	}
	// memcached refuses an APPEND past its item size limit with NOT_STORED;
	// a creating APPEND reports it as too large rather than looping.
	if err := c.Set(ctx, []byte("full"), make([]byte, DefaultMaxValueSize-1000)); err != nil {
		t.Fatal(err)
	}
	if err := c.AppendOrAdd(ctx, []byte("full"), make([]byte, 2000)); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("append past the item limit: %v", err)
	}
	// The client is still usable.
	if err := c.Set(ctx, []byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestFake(t *testing.T) {
	t.Run("basics", func(t *testing.T) { _, c := newFake(t); testBasics(t, c) })
	t.Run("pipelined-create", func(t *testing.T) {
		s, c := newFake(t)
		testPipelinedCreate(t, c)
		s.mu.Lock()
		defer s.mu.Unlock()
		adds := 0
		for _, op := range s.ops {
			if op == OpAdd {
				adds++
			}
		}
		if adds == 0 {
			t.Fatal("no ADD fallback happened")
		}
	})
	t.Run("limits", func(t *testing.T) { _, c := newFake(t); testLimits(t, c) })
}

func TestReal(t *testing.T) {
	if realAddr == "" {
		t.Skipf("no memcached: %s", realSkip)
	}
	dial := func(t *testing.T) *Client {
		c, err := Dial(ctxT(t), realAddr, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("basics", func(t *testing.T) { testBasics(t, dial(t)) })
	t.Run("pipelined-create", func(t *testing.T) { testPipelinedCreate(t, dial(t)) })
	t.Run("limits", func(t *testing.T) { testLimits(t, dial(t)) })
	t.Run("stats", func(t *testing.T) {
		st, err := dial(t).Stats(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"uptime", "rusage_user", "rusage_system", "version", "curr_items"} {
			if _, ok := st[k]; !ok {
				t.Errorf("stats lack %q", k)
			}
		}
	})
	t.Run("quit", func(t *testing.T) {
		c := dial(t)
		if err := c.Quit(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := c.Set(ctxT(t), []byte("k"), nil); !errors.Is(err, ErrClosed) {
			t.Fatalf("after quit: %v", err)
		}
	})
}

func TestGoFunc(t *testing.T) {
	_, c := newFake(t)
	got := make(chan string, 2)
	c.GoFunc(Request{Op: OpSet, Key: []byte("k"), Value: []byte("v")}, func(call *Call) {
		got <- fmt.Sprint(call.Check())
	})
	c.GoFunc(Request{Op: OpGet, Key: []byte("k")}, func(call *Call) {
		got <- string(call.Value)
		call.Release()
	})
	if a, b := <-got, <-got; a != "<nil>" || b != "v" {
		t.Fatalf("got %q %q", a, b)
	}
}

func TestProtocolErrorFailsOutstanding(t *testing.T) {
	s, c := newFake(t)
	s.hook = func(req request) ([]byte, bool) {
		if string(req.key) == "bad" {
			return response(req.op, StatusOK, req.opaque+7, nil, nil, nil), true
		}
		return nil, false
	}
	done := make(chan *Call, 3)
	c.Go(Request{Op: OpSet, Key: []byte("good")}, done)
	c.Go(Request{Op: OpGet, Key: []byte("bad")}, done)
	c.Go(Request{Op: OpGet, Key: []byte("after")}, done)
	if err := (<-done).Check(); err != nil {
		t.Fatalf("first: %v", err)
	}
	for range 2 {
		if err := (<-done).Check(); !errors.Is(err, ErrProtocol) {
			t.Fatalf("want a protocol error, got %v", err)
		}
	}
	if err := c.Set(ctxT(t), []byte("x"), nil); !errors.Is(err, ErrProtocol) {
		t.Fatalf("after failure: %v", err)
	}
}

func TestBadIncrValue(t *testing.T) {
	s, c := newFake(t)
	s.hook = func(req request) ([]byte, bool) {
		return response(req.op, StatusOK, req.opaque, nil, nil, []byte("xyz")), true
	}
	if _, err := c.Incr(ctxT(t), []byte("k"), 1, 1, 0); !errors.Is(err, ErrProtocol) {
		t.Fatalf("bad incr value: %v", err)
	}
}

func TestCloseFailsOutstanding(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	go io.Copy(io.Discard, b) // never answers
	c := NewClient(a, nil)
	done := make(chan *Call, 10)
	for range 10 {
		c.Go(Request{Op: OpGet, Key: []byte("k")}, done)
	}
	c.Close()
	for range 10 {
		if err := (<-done).Check(); !errors.Is(err, ErrClosed) {
			t.Fatalf("want ErrClosed, got %v", err)
		}
	}
	if err := c.Set(context.Background(), []byte("k"), nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestStatusError(t *testing.T) {
	err := error(&StatusError{Op: OpAppend, Status: StatusNotStored, Message: "Not stored."})
	if !errors.Is(err, ErrNotStored) || errors.Is(err, ErrNotFound) {
		t.Fatal("Is mapping")
	}
	if s := err.Error(); s != "memcache: APPEND: item not stored (Not stored.)" {
		t.Fatalf("message %q", s)
	}
	if s := Opcode(0x77).String(); s != "opcode(0x77)" {
		t.Fatal(s)
	}
}
