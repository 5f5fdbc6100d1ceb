package wire

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
)

// Conn is the pipelined connection core shared by the clients of this
// repository: the msgpack RPC Client of this package and the Redis and
// memcached clients of loadgen. It knows nothing of framing; a Codec plugs
// a protocol in.
//
// A Conn owns a net.Conn and runs two goroutines:
//
//   - the writer sends the request bytes that Send and Write append to a
//     buffer: everything buffered goes out in one write, so requests issued
//     while a write is in progress are coalesced into the next one, and a
//     writer that wakes up to fewer than LowWater bytes first yields once so
//     that a goroutine issuing a burst can add to the same write;
//   - the reader reads into a buffer and hands the bytes to the Codec, which
//     splits off complete frames, matches replies to pending calls (Take
//     for replies carrying a seq, Pop or PopIf for replies in request
//     order) and completes them, and serves requests from the peer (a
//     connection may carry calls in both directions, spec/server.md §3.2).
//
// Completion is the Codec's business: Deliver offers it by callback, run on
// the reader goroutine, or by channel, from which a caller can wait.
//
// Each call sent takes the next seq (0, 1, 2, ... per Conn) and stays
// pending until the Codec takes it. When the connection fails (read, write
// or decode error) or is closed, every pending call, and every call sent
// afterwards, is completed at once through Codec.Fail with the error: no
// call is left waiting.
//
// C is the protocol's call handle, normally a pointer (*Call for the msgpack
// client). All methods are safe for concurrent use.
type Conn[C any] struct {
	nc       net.Conn
	codec    Codec[C]
	match    Matching
	lowWater int
	lost     func(error) error
	closed   error

	mu       sync.Mutex
	wbuf     []byte // frames not yet handed to the writer
	spare    []byte
	inflight int // bytes being written
	seq      uint64
	bySeq    map[uint64]C // MatchSeq
	fifo     []C          // MatchFIFO: fifo[head:] await replies in order
	head     int
	err      error
	paceCh   chan struct{} // closed when under the low pace limits
	drainCh  chan struct{} // closed when nothing is pending
	wake     chan struct{}
	quit     chan struct{}
	once     sync.Once
	started  bool
	wg       sync.WaitGroup
}

// Codec is the framing of one protocol on a Conn. Its methods are called
// by the Conn's goroutines, never concurrently with themselves: Decode only
// by the reader.
type Codec[C any] interface {
	// Decode handles the complete frames at the start of buf, in order:
	// a reply is matched to its call (Conn.Take, Conn.Pop or Conn.PopIf)
	// and completed, a request from the peer is served. It
	// returns the number of bytes those frames occupy; the rest (the start
	// of an incomplete frame) is passed again, followed by the bytes read
	// next. need, if positive, is a lower bound on the length of that
	// incomplete frame: Decode is not called again before that many bytes
	// are buffered. buf is reused once Decode returns, so nothing may keep
	// a reference into it. An error ends the connection (after the frames
	// before it have been handled): the Conn fails with Lost(err).
	Decode(buf []byte) (used, need int, err error)
	// Fail completes call, which will get no reply, with err: the call was
	// sent on a dead Conn, or was pending when the Conn failed or closed.
	Fail(call C, err error)
}

// Matching says how a Conn keeps its pending calls for the Codec to find
// their replies.
type Matching uint8

const (
	// MatchSeq: replies carry the seq of their request and may arrive in
	// any order (the msgpack RPC protocol); the Codec finds calls with
	// Take.
	MatchSeq Matching = iota
	// MatchFIFO: replies arrive in request order (Redis, memcached); the
	// Codec takes the oldest call with Pop or PopIf.
	MatchFIFO
)

// ConnOptions configure a Conn. The zero value gives the defaults.
type ConnOptions struct {
	// Match is how replies find their calls (default MatchSeq).
	Match Matching
	// LowWater is the write low-water mark in bytes (default
	// DefaultLowWater; negative disables the yield). See Options.LowWater.
	LowWater int
	// Lost converts the cause of a connection failure (a read or write
	// error, with the peer's address added where the error lacks it, or
	// Decode's error) into the error of the calls it fails. The default
	// is &ConnError{Err: cause}.
	Lost func(cause error) error
	// Closed is the error of the calls pending at, or sent after, Close
	// (default ErrClosed).
	Closed error
}

// NewConn prepares a Conn over an established connection (TCP_NODELAY is
// set on TCP connections); Start starts it. The Conn owns nc and closes it.
func NewConn[C any](nc net.Conn, opts ConnOptions) *Conn[C] {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &Conn[C]{
		nc:       nc,
		match:    opts.Match,
		lowWater: opts.LowWater,
		lost:     opts.Lost,
		closed:   opts.Closed,
		wake:     make(chan struct{}, 1),
		quit:     make(chan struct{}),
		wbuf:     make([]byte, 0, 16<<10),
		spare:    make([]byte, 0, 16<<10),
	}
	if c.lowWater == 0 {
		c.lowWater = DefaultLowWater
	}
	if c.lost == nil {
		c.lost = connLost
	}
	if c.closed == nil {
		c.closed = ErrClosed
	}
	if c.match == MatchSeq {
		c.bySeq = make(map[uint64]C, 64)
	}
	return c
}

// Start runs the Conn's reader and writer with codec. Call it once, before
// anything else, after the structures codec uses (which usually include
// the Conn itself) are in place.
func (c *Conn[C]) Start(codec Codec[C]) {
	c.mu.Lock()
	if c.started {
		c.mu.Unlock()
		panic("wire: Conn started twice")
	}
	c.started, c.codec = true, codec
	c.mu.Unlock()
	c.wg.Add(2)
	go c.writer()
	go c.reader()
}

// Close closes the connection. Every pending call completes with the
// Closed error. Close waits for the Conn's goroutines to exit, so it must
// not be called from a Codec, a completion callback or a request handler
// (they run on the reader goroutine). It is idempotent.
func (c *Conn[C]) Close() error {
	c.fail(c.closed)
	c.wg.Wait()
	return nil
}

// Err returns nil while the Conn is usable, else why it is not (the Closed
// error, or the Lost error of the failure).
func (c *Conn[C]) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Done returns a channel that is closed when the Conn stops (fails or is
// closed).
func (c *Conn[C]) Done() <-chan struct{} { return c.quit }

// Outstanding returns the number of pending calls.
func (c *Conn[C]) Outstanding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked()
}

// Unsent returns the number of bytes not yet accepted by the connection
// (buffered or being written).
func (c *Conn[C]) Unsent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.wbuf) + c.inflight
}

// LocalAddr returns the connection's local address.
func (c *Conn[C]) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the connection's remote address.
func (c *Conn[C]) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

func (c *Conn[C]) pendingLocked() int {
	if c.match == MatchSeq {
		return len(c.bySeq)
	}
	return len(c.fifo) - c.head
}

// Send appends a request that expects a reply: enc appends its frame given
// the call's seq (under the Conn's lock, so enc must not call the Conn),
// and call stays pending until the Codec takes it. On a dead Conn, call is
// completed at once through Codec.Fail (on the calling goroutine), enc is
// not called and Send returns the Conn's error.
func (c *Conn[C]) Send(call C, enc func(dst []byte, seq uint64) []byte) error {
	c.mu.Lock()
	if err := c.err; err != nil {
		c.mu.Unlock()
		c.codec.Fail(call, err)
		return err
	}
	seq := c.seq
	c.seq++
	c.wbuf = enc(c.wbuf, seq)
	if c.match == MatchSeq {
		c.bySeq[seq] = call
	} else {
		c.fifo = append(c.fifo, call)
	}
	c.mu.Unlock()
	c.kick()
	return nil
}

// Write appends a frame that expects no reply, such as the reply to a
// request from the peer; enc appends it (under the Conn's lock, so enc
// must not call the Conn). On a dead Conn it returns the Conn's error and
// does nothing.
func (c *Conn[C]) Write(enc func(dst []byte) []byte) error {
	c.mu.Lock()
	if err := c.err; err != nil {
		c.mu.Unlock()
		return err
	}
	c.wbuf = enc(c.wbuf)
	c.mu.Unlock()
	c.kick()
	return nil
}

func (c *Conn[C]) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Take removes and returns the pending call with the given seq (MatchSeq);
// ok is false if there is none (a reply to no call, or the Conn failed and
// completed its calls).
func (c *Conn[C]) Take(seq uint64) (call C, ok bool) {
	c.mu.Lock()
	call, ok = c.bySeq[seq]
	if ok {
		delete(c.bySeq, seq)
		c.notifyLocked()
	}
	c.mu.Unlock()
	return call, ok
}

// Pop removes and returns the oldest pending call (MatchFIFO); ok is false
// if there is none.
func (c *Conn[C]) Pop() (call C, ok bool) {
	return c.PopIf(nil)
}

// PopIf is Pop for replies that must be checked against their call first,
// or that take several frames: it calls match (unless nil) with the oldest
// pending call, under the Conn's lock, and removes and returns the call
// only if match returns true. match is not called when no call is pending;
// it must not call the Conn. A call that is not removed stays the Conn's
// (it may be completed by Codec.Fail at any time), so the Codec must not
// touch it after match returns.
func (c *Conn[C]) PopIf(match func(call C) bool) (call C, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.head >= len(c.fifo) || match != nil && !match(c.fifo[c.head]) {
		return call, false
	}
	var zero C
	call = c.fifo[c.head]
	c.fifo[c.head] = zero
	c.head++
	if c.head == len(c.fifo) {
		c.fifo, c.head = c.fifo[:0], 0
	} else if c.head >= 1024 && c.head*2 >= len(c.fifo) {
		n := copy(c.fifo, c.fifo[c.head:])
		clear(c.fifo[n:])
		c.fifo, c.head = c.fifo[:n], 0
	}
	c.notifyLocked()
	return call, true
}

func (c *Conn[C]) overHigh() bool {
	return len(c.wbuf)+c.inflight > PaceHighBytes || c.pendingLocked() > PaceHighCalls
}

func (c *Conn[C]) underLow() bool {
	return len(c.wbuf)+c.inflight <= PaceLowBytes && c.pendingLocked() <= PaceLowCalls
}

// notifyLocked wakes Pace and Drain waiters whose condition now holds.
func (c *Conn[C]) notifyLocked() {
	if c.paceCh != nil && (c.err != nil || c.underLow()) {
		close(c.paceCh)
		c.paceCh = nil
	}
	if c.drainCh != nil && (c.err != nil || c.pendingLocked() == 0) {
		close(c.drainCh)
		c.drainCh = nil
	}
}

// Pace implements the back-pressure of spec/server.md §1.8: if more than
// PaceHighBytes are unsent or more than PaceHighCalls calls are pending, it
// blocks until at most PaceLowBytes are unsent and at most PaceLowCalls are
// pending. Otherwise it returns at once. It returns the Conn's error if the
// Conn fails, or ctx's error.
func (c *Conn[C]) Pace(ctx context.Context) error {
	c.mu.Lock()
	if c.err != nil || !c.overHigh() {
		err := c.err
		c.mu.Unlock()
		return err
	}
	return c.waitLocked(ctx, &c.paceCh, c.underLow)
}

// Drain blocks until no call is pending (or the Conn fails, or ctx is
// done).
func (c *Conn[C]) Drain(ctx context.Context) error {
	c.mu.Lock()
	return c.waitLocked(ctx, &c.drainCh, func() bool { return c.pendingLocked() == 0 })
}

// waitLocked waits (c.mu held on entry, released on return) until ok()
// holds, using the broadcast channel *chp.
func (c *Conn[C]) waitLocked(ctx context.Context, chp *chan struct{}, ok func() bool) error {
	for c.err == nil && !ok() {
		if *chp == nil {
			*chp = make(chan struct{})
		}
		ch := *chp
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
	}
	err := c.err
	c.mu.Unlock()
	return err
}

// fail stops the Conn with err (the first error wins): it closes the
// connection and completes every pending call with the error.
func (c *Conn[C]) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	err = c.err
	var calls []C
	if c.match == MatchSeq {
		calls = make([]C, 0, len(c.bySeq))
		for _, call := range c.bySeq {
			calls = append(calls, call)
		}
		clear(c.bySeq)
	} else {
		calls = c.fifo[c.head:]
		c.fifo, c.head = nil, 0
	}
	c.notifyLocked()
	codec := c.codec
	c.mu.Unlock()
	c.once.Do(func() {
		close(c.quit)
		_ = c.nc.Close()
	})
	if codec == nil {
		return // never started, so nothing was sent
	}
	for _, call := range calls {
		codec.Fail(call, err)
	}
}

func connLost(cause error) error { return &ConnError{Err: cause} }

// ioError adds the operation and the peer's address to an I/O error that
// lacks them (net.OpError has them).
func (c *Conn[C]) ioError(op string, err error) error {
	if _, ok := err.(*net.OpError); ok {
		return err
	}
	return fmt.Errorf("%s %s: %w", op, c.nc.RemoteAddr(), err)
}

func (c *Conn[C]) writer() {
	defer c.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.quit:
			return
		}
		yielded := false
		for {
			c.mu.Lock()
			if len(c.wbuf) == 0 || c.err != nil {
				c.mu.Unlock()
				break
			}
			if len(c.wbuf) < c.lowWater && !yielded {
				c.mu.Unlock()
				yielded = true
				runtime.Gosched()
				continue
			}
			out := c.wbuf
			c.wbuf = c.spare[:0]
			c.inflight = len(out)
			c.mu.Unlock()

			_, err := c.nc.Write(out)

			c.mu.Lock()
			c.inflight = 0
			if cap(out) <= 1<<20 {
				c.spare = out[:0]
			} else {
				c.spare = make([]byte, 0, 16<<10)
			}
			c.notifyLocked()
			c.mu.Unlock()
			if err != nil {
				c.fail(c.lost(c.ioError("write to", err)))
				return
			}
			yielded = true
		}
	}
}

// Read buffer sizes: the initial size, and the size above which a drained
// buffer is replaced by a new one of the initial size.
const (
	readBufSize    = 64 << 10
	readBufMaxKeep = 4 << 20
)

func (c *Conn[C]) reader() {
	defer c.wg.Done()
	buf := make([]byte, readBufSize)
	start, end, need := 0, 0, 0
	for {
		if end == len(buf) {
			if start > 0 {
				end = copy(buf, buf[start:end])
				start = 0
			} else {
				// A frame larger than the buffer: grow by doubling as its
				// bytes arrive (never by a size the peer declares).
				nb := make([]byte, 2*len(buf))
				copy(nb, buf[:end])
				buf = nb
			}
		}
		n, err := c.nc.Read(buf[end:])
		end += n
		if end > start && end-start >= need {
			used, nd, derr := c.codec.Decode(buf[start:end])
			start += used
			need = nd
			if start == end {
				start, end = 0, 0
				if len(buf) > readBufMaxKeep {
					buf = make([]byte, readBufSize)
				}
			}
			if derr != nil {
				c.fail(c.lost(derr))
				return
			}
		}
		if err != nil {
			c.fail(c.lost(c.ioError("read from", err)))
			return
		}
	}
}

// Deliver completes a call: it calls fn if fn is not nil, else it sends
// call on done without blocking. As in net/rpc, done must have room: when
// it is full the completion is dropped. Codecs use it to offer completion
// by callback (fn runs on the goroutine that completes the call, usually
// the Conn's reader) as well as by channel.
func Deliver[C any](call C, fn func(C), done chan<- C) {
	if fn != nil {
		fn(call)
		return
	}
	select {
	case done <- call:
	default:
	}
}
