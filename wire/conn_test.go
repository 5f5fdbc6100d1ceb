package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangLimit bounds the waits of these tests so that a bug shows up as a
// failure rather than a hung test run; it is not a performance bound.
const hangLimit = 20 * time.Second

// --- a framing-agnostic test protocol -----------------------------------
//
// frameCall is a call of a length-prefixed protocol: a frame is a 4-byte
// big-endian length and that many bytes; the peer (an echo server) answers
// every frame with the same frame, so replies come in request order
// (MatchFIFO). A frame whose payload is "bad" is a decode error.

type frameCall struct {
	payload []byte
	reply   []byte
	err     error
	done    chan *frameCall
	fn      func(*frameCall)
	n       atomic.Int32 // completions, to catch double completion
}

func (call *frameCall) complete() {
	call.n.Add(1)
	Deliver(call, call.fn, call.done)
}

type frameCodec struct {
	t    *testing.T
	conn *Conn[*frameCall]
	need int // the need Decode returned last
}

func (fc *frameCodec) Decode(buf []byte) (used, need int, err error) {
	if len(buf) < fc.need {
		fc.t.Errorf("Decode called with %d bytes, fewer than the %d it needs", len(buf), fc.need)
	}
	defer func() { fc.need = need }()
	for {
		b := buf[used:]
		if len(b) < 4 {
			return used, 4, nil
		}
		n := 4 + int(binary.BigEndian.Uint32(b))
		if len(b) < n {
			return used, n, nil
		}
		frame := b[4:n]
		used += n
		if string(frame) == "bad" {
			return used, 0, errors.New("bad frame")
		}
		call, ok := fc.conn.Pop()
		if !ok {
			return used, 0, errors.New("reply without a request")
		}
		call.reply = bytes.Clone(frame)
		call.complete()
	}
}

func (fc *frameCodec) Fail(call *frameCall, err error) {
	call.err = err
	call.complete()
}

func appendFrame(b, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(b, payload...)
}

func (fc *frameCodec) send(call *frameCall) error {
	return fc.conn.Send(call, func(b []byte, _ uint64) []byte { return appendFrame(b, call.payload) })
}

func newFrameConn(t *testing.T, nc net.Conn) *frameCodec {
	fc := &frameCodec{t: t, conn: NewConn[*frameCall](nc, ConnOptions{Match: MatchFIFO})}
	fc.conn.Start(fc)
	t.Cleanup(func() { fc.conn.Close() })
	return fc
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-acc
	if b == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// echo copies everything it reads back until the connection ends.
func echo(nc net.Conn) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(nc, nc)
		nc.Close()
	}()
	return done
}

func waitCall(t *testing.T, done chan *frameCall) *frameCall {
	t.Helper()
	select {
	case call := <-done:
		return call
	case <-time.After(hangLimit):
		t.Fatal("a call never completed")
		return nil
	}
}

// The core with a foreign framing: pipelined frames from many goroutines,
// completed by channel and by callback, in order, with frames far larger
// than the read buffer split across many reads (Decode is only called once
// the bytes it asked for are there).
func TestConnFramingAgnostic(t *testing.T) {
	checkGoroutines(t)
	a, b := tcpPair(t)
	echoed := echo(b)
	fc := newFrameConn(t, a)

	const senders, perSender = 4, 300
	sizes := []int{0, 1, 7, 100, 3 << 10, 70 << 10, 5 << 20} // the last is above readBufMaxKeep
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan *frameCall, perSender)
			byFunc := make(chan *frameCall, perSender)
			var calls []*frameCall
			for i := range perSender {
				size := sizes[i%(len(sizes)-1)]
				if g == 0 && i%100 == 0 {
					size = sizes[len(sizes)-1]
				}
				payload := bytes.Repeat([]byte{byte('a' + g)}, size)
				payload = append(payload, fmt.Sprint(i)...)
				call := &frameCall{payload: payload}
				if i%2 == 0 {
					call.done = done
				} else {
					call.fn = func(c *frameCall) { byFunc <- c }
				}
				calls = append(calls, call)
				if err := fc.send(call); err != nil {
					errs <- err
					return
				}
			}
			for range perSender / 2 {
				waitCall(t, done)
				waitCall(t, byFunc)
			}
			for _, call := range calls {
				if call.err != nil || !bytes.Equal(call.reply, call.payload) || call.n.Load() != 1 {
					errs <- fmt.Errorf("call %q: reply %d bytes, err %v, %d completions",
						call.payload[max(0, len(call.payload)-8):], len(call.reply), call.err, call.n.Load())
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := fc.conn.Outstanding(); n != 0 {
		t.Fatalf("%d outstanding", n)
	}
	fc.conn.Close()
	<-echoed
}

// When the connection dies, every outstanding call completes with an error,
// whether it waits on a channel or a callback, and so does every later call
// (at once, on the caller's goroutine).
func TestConnDeathCompletesCalls(t *testing.T) {
	checkGoroutines(t)
	a, b := net.Pipe()
	read := make(chan int, 1)
	go func() { // read the requests, answer none, then hang up
		n, _ := io.ReadFull(b, make([]byte, 100*(4+1)))
		read <- n
		b.Close()
	}()
	fc := newFrameConn(t, a)
	done := make(chan *frameCall, 100)
	var calls []*frameCall
	var byFunc atomic.Int32
	for i := range 100 {
		call := &frameCall{payload: []byte{byte(i)}}
		if i%2 == 0 {
			call.done = done
		} else {
			call.fn = func(c *frameCall) { byFunc.Add(1); done <- c }
		}
		calls = append(calls, call)
		if err := fc.send(call); err != nil {
			t.Fatal(err)
		}
	}
	if n := <-read; n != 500 {
		t.Fatalf("peer read %d bytes", n)
	}
	for range calls {
		waitCall(t, done)
	}
	for i, call := range calls {
		if !errors.Is(call.err, ErrConnLost) || call.n.Load() != 1 {
			t.Fatalf("call %d: err %v, %d completions", i, call.err, call.n.Load())
		}
	}
	if byFunc.Load() != 50 {
		t.Fatalf("%d callbacks", byFunc.Load())
	}
	// The cause says where it happened.
	if err := fc.conn.Err(); !errors.Is(err, ErrConnLost) || !errors.Is(err, io.EOF) || !strings.Contains(err.Error(), "read from") {
		t.Fatalf("Err = %v", err)
	}
	// A later call fails before Send returns.
	var got error
	call := &frameCall{payload: []byte("late"), fn: func(c *frameCall) { got = c.err }}
	if err := fc.send(call); !errors.Is(err, ErrConnLost) || !errors.Is(got, ErrConnLost) {
		t.Fatalf("send on a dead conn: %v, callback saw %v", err, got)
	}
	if err := fc.conn.Drain(context.Background()); !errors.Is(err, ErrConnLost) {
		t.Fatalf("Drain: %v", err)
	}
	if err := fc.conn.Write(func(b []byte) []byte { return appendFrame(b, nil) }); !errors.Is(err, ErrConnLost) {
		t.Fatalf("Write: %v", err)
	}
}

// Calls sent while the connection is closing complete exactly once, either
// with their reply or with an error; none is left waiting.
func TestConnSendRacesFailure(t *testing.T) {
	checkGoroutines(t)
	for round := range 20 {
		a, b := net.Pipe()
		echoed := echo(b)
		fc := newFrameConn(t, a)
		const senders, perSender = 4, 200
		var completed atomic.Int32
		all := make(chan struct{})
		var calls [senders][]*frameCall
		var wg sync.WaitGroup
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perSender {
					call := &frameCall{payload: []byte("x"), fn: func(*frameCall) {
						if completed.Add(1) == senders*perSender {
							close(all)
						}
					}}
					calls[g] = append(calls[g], call)
					_ = fc.send(call)
					if g == 0 && i == perSender/2 {
						if round%2 == 0 {
							b.Close() // the peer hangs up
						} else {
							go fc.conn.Close()
						}
					}
				}
			}()
		}
		wg.Wait()
		select {
		case <-all:
		case <-time.After(hangLimit):
			t.Fatalf("round %d: %d of %d calls completed", round, completed.Load(), senders*perSender)
		}
		for g := range senders {
			for i, call := range calls[g] {
				if n := call.n.Load(); n != 1 || (call.err == nil) == (call.reply == nil) {
					t.Fatalf("round %d: call %d/%d: %d completions, err %v, reply %q", round, g, i, n, call.err, call.reply)
				}
			}
		}
		fc.conn.Close()
		<-echoed
	}
}

// Close completes outstanding calls with the Closed error; a decode error
// fails the calls after the bad frame and keeps the replies before it.
func TestConnCloseAndDecodeError(t *testing.T) {
	checkGoroutines(t)
	t.Run("close", func(t *testing.T) {
		a, b := net.Pipe()
		go io.Copy(io.Discard, b)
		fc := newFrameConn(t, a)
		done := make(chan *frameCall, 10)
		for range 10 {
			fc.send(&frameCall{payload: []byte("x"), done: done})
		}
		fc.conn.Close()
		for range 10 {
			if call := waitCall(t, done); !errors.Is(call.err, ErrClosed) {
				t.Fatalf("after Close: %v", call.err)
			}
		}
		if err := fc.conn.Close(); err != nil {
			t.Fatal(err)
		}
		b.Close()
	})
	t.Run("decode error", func(t *testing.T) {
		a, b := net.Pipe()
		echoed := echo(b)
		fc := newFrameConn(t, a)
		done := make(chan *frameCall, 3)
		first := &frameCall{payload: []byte("ok"), done: done}
		bad := &frameCall{payload: []byte("bad"), done: done}
		after := &frameCall{payload: []byte("after"), done: done}
		for _, call := range []*frameCall{first, bad, after} {
			fc.send(call)
		}
		for range 3 {
			waitCall(t, done)
		}
		if first.err != nil || string(first.reply) != "ok" {
			t.Fatalf("first: %q %v", first.reply, first.err)
		}
		for _, call := range []*frameCall{bad, after} {
			if !errors.Is(call.err, ErrConnLost) || !strings.Contains(call.err.Error(), "bad frame") {
				t.Fatalf("%s: %v", call.payload, call.err)
			}
		}
		fc.conn.Close()
		<-echoed
	})
}

// --- msgpack calls in both directions on one connection ------------------

// peer is one end of a server-to-server link: a Client whose Handler
// serves a store, answering gets later from another goroutine (so replies
// overtake each other) and everything else at once.
type peer struct {
	c *Client

	mu    sync.Mutex
	store map[string]string
	seqs  map[int64]int // seqs of the requests received, with counts
	late  sync.WaitGroup
}

func newPeer(nc net.Conn) *peer {
	p := &peer{store: map[string]string{}, seqs: map[int64]int{}}
	p.c = NewClient(nc, &Options{Handler: p.serve})
	return p
}

func (p *peer) serve(c *Client, req *Request, v Verdict) {
	seq, _ := req.Seq()
	p.mu.Lock()
	p.seqs[seq]++
	p.mu.Unlock()
	if v == Reject {
		c.Reply(req.Cmd, req.SeqRaw, StatusFail, nil)
		return
	}
	switch req.Cmd {
	case CmdInsert:
		p.mu.Lock()
		p.store[string(req.Key())] = string(req.Last())
		p.mu.Unlock()
		c.Reply(req.Cmd, req.SeqRaw, StatusOK, nil)
	case CmdGet:
		key, seqRaw := string(req.Key()), bytes.Clone(req.SeqRaw)
		p.late.Add(1)
		go func() {
			defer p.late.Done()
			p.mu.Lock()
			v := p.store[key]
			p.mu.Unlock()
			c.Reply(CmdGet, seqRaw, StatusOK, func(b []byte) []byte { return AppendString(b, v) })
		}()
	default:
		c.Reply(req.Cmd, req.SeqRaw, StatusFail, nil)
	}
}

// Two Clients on the two ends of one connection call each other
// concurrently; each serves the other's requests, each numbers its own
// requests from 0.
func TestClientBidirectional(t *testing.T) {
	for _, transport := range []string{"pipe", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			checkGoroutines(t)
			var x, y net.Conn
			if transport == "pipe" {
				x, y = net.Pipe()
			} else {
				x, y = tcpPair(t)
			}
			peers := [2]*peer{newPeer(x), newPeer(y)}
			ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
			defer cancel()
			const workers, perWorker = 4, 200
			var wg sync.WaitGroup
			errs := make(chan error, 2*workers)
			for side, p := range peers {
				for w := range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						done := make(chan *Call, 16)
						for i := range perWorker {
							key := fmt.Sprintf("t|%d/%d/%d", side, w, i)
							if err := p.c.Insert(ctx, key, "from "+key); err != nil {
								errs <- err
								return
							}
							if i%2 == 0 { // synchronous
								v, err := p.c.Get(ctx, key)
								if err != nil || string(v) != "from "+key {
									errs <- fmt.Errorf("get %s: %q %v", key, v, err)
									return
								}
								continue
							}
							// asynchronous, by channel and by callback
							call := p.c.GetAsync(key, done)
							var fnCall *Call
							fnDone := make(chan struct{})
							p.c.GoRawFunc(CmdGet, 1, str1(key), func(c *Call) { fnCall = c; close(fnDone) })
							select {
							case <-call.Done:
							case <-ctx.Done():
								errs <- ctx.Err()
								return
							}
							select {
							case <-fnDone:
							case <-ctx.Done():
								errs <- ctx.Err()
								return
							}
							for _, c := range []*Call{call, fnCall} {
								if v, err := c.Bytes(); err != nil || string(v) != "from "+key {
									errs <- fmt.Errorf("async get %s: %q %v", key, v, err)
									return
								}
								c.Release()
							}
						}
					}()
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			// An unknown command is rejected by the peer's handler.
			if _, err := peers[0].c.Call(ctx, Cmd(99), "t|x"); err == nil {
				t.Fatal("unknown command succeeded")
			}
			for side, p := range peers {
				p.late.Wait()
				other := peers[1-side]
				// Every request went to the other side, with this side's
				// seqs 0, 1, 2, ... each exactly once.
				want := int64(workers * perWorker * 5 / 2) // insert, then get or two gets
				if side == 0 {
					want++ // the rejected call
				}
				other.mu.Lock()
				for s := int64(0); s < want; s++ {
					if other.seqs[s] != 1 {
						t.Errorf("side %d: seq %d received %d times", side, s, other.seqs[s])
					}
				}
				if int64(len(other.seqs)) != want {
					t.Errorf("side %d: %d distinct seqs, want %d", side, len(other.seqs), want)
				}
				other.mu.Unlock()
				if n := p.c.Outstanding(); n != 0 {
					t.Errorf("side %d: %d outstanding", side, n)
				}
			}
			// One side closes: the other's calls fail, and so does replying.
			peers[0].c.Close()
			if _, err := peers[1].c.Get(ctx, "t|x"); !errors.Is(err, ErrConnLost) {
				t.Fatalf("get after the peer closed: %v", err)
			}
			if err := peers[1].c.Reply(CmdGet, []byte{0}, StatusOK, nil); !errors.Is(err, ErrConnLost) {
				t.Fatalf("reply after the peer closed: %v", err)
			}
			peers[1].c.Close()
		})
	}
}

// A client with a Handler closes the connection on a message that is not a
// request (§1.5 rule 1); one without a Handler ignores requests.
func TestClientHandlerBadRequest(t *testing.T) {
	checkGoroutines(t)
	for _, withHandler := range []bool{false, true} {
		a, b := net.Pipe()
		var opts Options
		served := make(chan Verdict, 1)
		if withHandler {
			opts.Handler = func(c *Client, req *Request, v Verdict) { served <- v }
		}
		c := NewClient(a, &opts)
		go io.Copy(io.Discard, b)
		// A rejected request (no table name), then ["x", 1].
		if _, err := b.Write(h("93 01 00 a1 78  92 a1 78 01")); err != nil {
			t.Fatal(err)
		}
		if withHandler {
			if v := <-served; v != Reject {
				t.Fatalf("verdict %v", v)
			}
			select {
			case <-c.conn.Done():
			case <-time.After(hangLimit):
				t.Fatal("connection not closed")
			}
			if err := c.Err(); !errors.Is(err, ErrConnLost) || !strings.Contains(err.Error(), "bad rpc") {
				t.Fatalf("Err = %v", err)
			}
		} else {
			// Still usable: a reply to a call arrives after the requests.
			call := c.GetAsync("t|1", nil)
			if _, err := b.Write(h("94 ff 00 00 a1 76")); err != nil {
				t.Fatal(err)
			}
			select {
			case <-call.Done:
			case <-time.After(hangLimit):
				t.Fatal("no reply")
			}
			if v, err := call.Bytes(); err != nil || string(v) != "v" {
				t.Fatalf("get: %q %v", v, err)
			}
		}
		c.Close()
		b.Close()
	}
}

// GoRawFunc delivers by callback: with the reply, with a connection error,
// and at once on a dead connection.
func TestClientGoRawFunc(t *testing.T) {
	checkGoroutines(t)
	s := newFakeServer(t)
	c := dialTest(t, s)
	if err := c.Insert(context.Background(), "k|1", "v1"); err != nil {
		t.Fatal(err)
	}
	got := make(chan *Call, 1)
	call := c.GoRawFunc(CmdGet, 1, str1("k|1"), func(c *Call) { got <- c })
	if call.Done != nil {
		t.Fatal("callback call has a Done channel")
	}
	select {
	case r := <-got:
		if r != call {
			t.Fatal("callback got another call")
		}
		if v, err := r.Bytes(); err != nil || string(v) != "v1" {
			t.Fatalf("get: %q %v", v, err)
		}
		r.Release()
	case <-time.After(hangLimit):
		t.Fatal("callback not called")
	}
	c.Close()
	var atOnce error
	c.GoRawFunc(CmdGet, 1, str1("k|1"), func(c *Call) { atOnce = c.Err })
	if !errors.Is(atOnce, ErrClosed) {
		t.Fatalf("callback on a closed client: %v", atOnce)
	}
}
