// Package memcache is a minimal pipelined client for memcached's binary
// protocol, written for the workload baselines (apps.md §3.3 twitternew on
// memcached, §5.6 Hacker News, §8 raw key-value runs) with nothing outside
// the standard library.
//
// It runs on the same connection core as wire.Client and
// loadgen/redisclient (wire.Conn), so that back ends pay the same
// client-side costs: requests are appended to a buffer under a mutex and a
// writer goroutine sends everything buffered with one write; a reader
// goroutine decodes responses and completes the oldest outstanding call.
// This package holds only the binary-protocol framing.
// Every request carries a sequence number in the opaque field; memcached
// answers in request order, and a response whose opaque or opcode does not
// match the oldest outstanding request is a protocol error. No quiet
// commands are used, so every request gets exactly one response packet
// (STAT gets one per statistic and an empty terminator).
//
// Calls are asynchronous — Go (completion sent on a Done channel) or GoFunc
// (a callback on the reader goroutine, for handing completions to an event
// loop) — or synchronous (Do and the helpers Get, Set, Add, Append,
// AppendOrAdd, Incr, Stats, Flush, Quit).
//
// Adapter rules of the original shims (apps.md §3.3) and how they map here:
//   - a GET of a missing key completes with StatusKeyNotFound and no value;
//     callers that want "missing = empty" use the (empty) Value and ignore
//     ErrNotFound (the shims in loadgen/shim/memcached do);
//   - APPEND falling back to SET on NOT_STORED is Request.Create: the client
//     retries a NOT_STORED APPEND as ADD and an ADD that finds the key as
//     APPEND again (at most maxCreateTries times). Unlike SET, ADD never
//     overwrites: two pipelined APPENDs to a missing key would otherwise
//     both fall back to SET and lose the first record. memcached also
//     answers NOT_STORED to an APPEND that would make the item larger than
//     its -I limit; a Create APPEND still refused after ADD found the key
//     fails with an error matching ErrValueTooLarge;
//   - INCREMENT with expiration 0xFFFFFFFF falling back to SET "1" is, in
//     one atomic request, an INCREMENT with Initial set and Expiration 0
//     (memcached then creates the counter with the initial value).
//
// Limits are explicit: keys of at most MaxKeyLen (250) bytes, values of at
// most Options.MaxValueSize (default 1 MiB, memcached's default -I) bytes —
// larger requests fail locally with ErrKeyTooLong / ErrValueTooLarge — and
// responses whose body exceeds the value limit plus key and extras are a
// protocol error.
package memcache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pequod-go/pequod/wire"
)

// maxCreateTries bounds the APPEND/ADD ping-pong of a Create request. A
// round means the key was removed between an ADD that found it and the
// next APPEND — or, much more likely, that the APPEND is refused because
// the value would exceed the server's item size limit (memcached answers
// NOT_STORED then), which retrying cannot fix.
const maxCreateTries = 4

// Options configures a Client. The zero value (or nil) means defaults.
type Options struct {
	// MaxValueSize is the largest value sent or accepted, in bytes
	// (default DefaultMaxValueSize). Match it to the server's -I.
	MaxValueSize int
}

// Request describes one command.
type Request struct {
	Op         Opcode
	Key, Value []byte
	// Flags and Expiration are the extras of SET, ADD and REPLACE;
	// Expiration is also the extras of INCREMENT/DECREMENT (0xFFFFFFFF:
	// fail when the key is absent) and FLUSH (delay in seconds, sent when
	// non-zero).
	Flags, Expiration uint32
	// Delta and Initial are the INCREMENT/DECREMENT amounts.
	Delta, Initial uint64
	// Create makes an APPEND create a missing key (see the package
	// comment). The ADD retry is sent when the NOT_STORED answer
	// arrives, so it runs after every request issued meanwhile: a read
	// pipelined behind a creating APPEND can miss the value. Callers that
	// need program order send ADD "" before the first APPEND instead.
	Create bool
}

// Call is one request in flight or completed.
type Call struct {
	// Op is the opcode of the request that produced the response (an
	// APPEND with Create may end as ADD).
	Op Opcode
	// Status is the response status; see Check.
	Status Status
	// Value is the response value (GET's value, INCREMENT's 8-byte
	// counter, an error status's message), owned by the call: valid until
	// Release.
	Value []byte
	// CAS is the response's CAS value.
	CAS uint64
	// Counter is the new value after a successful INCREMENT/DECREMENT.
	Counter uint64
	// Stats holds the statistics a STAT returned.
	Stats map[string]string
	// Err is set when no response arrived (connection failure, ErrClosed)
	// or the request was refused locally.
	Err error
	// Done receives the call when it completes (Go calls).
	Done chan *Call

	c      *Client
	fn     func(*Call)
	opaque uint32
	create bool
	tries  int
	key    []byte // Create calls keep key and value for the retries
	val    []byte
	buf    []byte
}

// Check returns Err, or a *StatusError for a non-success status, else nil.
func (call *Call) Check() error {
	if call.Err != nil {
		return call.Err
	}
	if call.Status != StatusOK {
		return &StatusError{Op: call.Op, Status: call.Status, Message: string(call.Value)}
	}
	return nil
}

// Release returns a completed call to its client's pool. Optional; the
// caller must not use the call or its Value afterwards.
func (call *Call) Release() {
	c := call.c
	if c == nil {
		return
	}
	buf, kv := call.buf, call.key
	if cap(buf) > 64<<10 {
		buf = nil
	}
	*call = Call{c: c, buf: buf[:0]}
	if cap(kv) <= 64<<10 {
		call.key = kv[:0]
	}
	c.pool.Put(call)
}

// Client is a pipelined memcached binary-protocol connection: the binary
// framing on a wire.Conn. All methods are safe for concurrent use;
// responses complete calls in the order the requests were issued.
type Client struct {
	conn     *wire.Conn[*Call]
	maxValue int
	maxBody  int
	pool     sync.Pool
	quitted  atomic.Bool // the server answered QUIT: its EOF means "closed"

	stats map[string]string // a STAT's statistics so far; reader goroutine only
}

// Dial connects to a memcached server at addr ("host:port").
func Dial(ctx context.Context, addr string, opts *Options) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("memcache: dial %s: %w", addr, err)
	}
	return NewClient(conn, opts), nil
}

// NewClient runs the protocol over an established connection, which the
// Client owns.
func NewClient(conn net.Conn, opts *Options) *Client {
	maxValue := DefaultMaxValueSize
	if opts != nil && opts.MaxValueSize > 0 {
		maxValue = opts.MaxValueSize
	}
	c := &Client{
		maxValue: maxValue,
		maxBody:  maxValue + MaxKeyLen + maxExtras,
	}
	c.pool.New = func() any { return &Call{c: c} }
	c.conn = wire.NewConn[*Call](conn, wire.ConnOptions{
		Match:  wire.MatchFIFO,
		Lost:   c.lost,
		Closed: ErrClosed,
	})
	c.conn.Start((*binCodec)(c))
	return c
}

// lost is the error of the calls outstanding when the connection failed.
// The end of the stream is unexpected while calls await responses, unless
// the server answered QUIT.
func (c *Client) lost(cause error) error {
	if errors.Is(cause, io.EOF) || errors.Is(cause, net.ErrClosed) {
		if c.quitted.Load() {
			return ErrClosed
		}
		cause = fmt.Errorf("%w (%v)", io.ErrUnexpectedEOF, cause)
	}
	return &ConnError{Err: cause}
}

// MaxValueSize is the largest value the client sends or accepts.
func (c *Client) MaxValueSize() int { return c.maxValue }

// RemoteAddr is the server's address.
func (c *Client) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// Close closes the connection; outstanding calls complete with ErrClosed.
func (c *Client) Close() error { return c.conn.Close() }

// Err returns nil while the client is usable, else why it is not.
func (c *Client) Err() error { return c.conn.Err() }

// Outstanding returns the number of calls awaiting responses.
func (c *Client) Outstanding() int { return c.conn.Outstanding() }

// Buffered returns the number of request bytes not yet accepted by the
// connection (buffered or being written), for byte-based pacing.
func (c *Client) Buffered() int { return c.conn.Unsent() }

// Go starts a request. done may be nil (a private channel is used);
// otherwise the reader goroutine sends the completed call on it, blocking
// while it is full, so it must be drained.
func (c *Client) Go(req Request, done chan *Call) *Call {
	call := c.newCall()
	if done == nil {
		done = make(chan *Call, 1)
	}
	call.Done = done
	c.issue(call, &req)
	return call
}

// GoFunc starts a request whose completion calls fn with the call. fn runs
// on the client's reader goroutine (or, when the request fails at once, on
// the caller's) and must not block; handing the call to an event loop is
// its intended use.
func (c *Client) GoFunc(req Request, fn func(*Call)) *Call {
	call := c.newCall()
	call.fn = fn
	c.issue(call, &req)
	return call
}

func (c *Client) newCall() *Call {
	call := c.pool.Get().(*Call)
	call.c = c
	return call
}

func (c *Client) issue(call *Call, req *Request) {
	call.Op = req.Op
	switch {
	case len(req.Key) > MaxKeyLen:
		call.Err = fmt.Errorf("%w: %d bytes (limit %d)", ErrKeyTooLong, len(req.Key), MaxKeyLen)
	case len(req.Value) > c.maxValue:
		call.Err = fmt.Errorf("%w: %d bytes (limit %d)", ErrValueTooLarge, len(req.Value), c.maxValue)
	case req.Create && req.Op != OpAppend:
		call.Err = fmt.Errorf("memcache: Create applies to APPEND, not %s", req.Op)
	}
	if call.Err != nil {
		c.deliverNow(call)
		return
	}
	if req.Create {
		call.create = true
		kv := append(append(call.key[:0], req.Key...), req.Value...)
		call.key, call.val = kv[:len(req.Key):len(req.Key)], kv[len(req.Key):]
	}
	c.send(call, req)
}

// send encodes req for call with a fresh opaque (the Conn's seq + 1) and
// queues call.
func (c *Client) send(call *Call, req *Request) {
	c.conn.Send(call, func(b []byte, seq uint64) []byte {
		call.opaque = uint32(seq) + 1
		call.Op = req.Op
		var ex [20]byte
		var extras []byte
		switch req.Op {
		case OpSet, OpAdd, OpReplace:
			binary.BigEndian.PutUint32(ex[0:], req.Flags)
			binary.BigEndian.PutUint32(ex[4:], req.Expiration)
			extras = ex[:8]
		case OpIncrement, OpDecrement:
			binary.BigEndian.PutUint64(ex[0:], req.Delta)
			binary.BigEndian.PutUint64(ex[8:], req.Initial)
			binary.BigEndian.PutUint32(ex[16:], req.Expiration)
			extras = ex[:20]
		case OpFlush:
			if req.Expiration != 0 {
				binary.BigEndian.PutUint32(ex[0:], req.Expiration)
				extras = ex[:4]
			}
		}
		return appendRequest(b, req.Op, call.opaque, extras, req.Key, req.Value)
	})
}

// deliverNow completes a call on the issuing goroutine without blocking it.
func (c *Client) deliverNow(call *Call) {
	if call.fn != nil {
		call.fn(call)
		return
	}
	select {
	case call.Done <- call:
	default:
		go func() { call.Done <- call }()
	}
}

// deliver completes a call from the reader goroutine: it blocks on a full
// Done channel unless the client is closing.
func (c *Client) deliver(call *Call) {
	if call.fn != nil {
		call.fn(call)
		return
	}
	select {
	case call.Done <- call:
	case <-c.conn.Done():
		c.deliverNow(call)
	}
}

// Do runs a request synchronously. The returned call (valid until Release,
// which is optional) is returned also on error, unless ctx ended first;
// the error is the call's Check.
func (c *Client) Do(ctx context.Context, req Request) (*Call, error) {
	call := c.Go(req, nil)
	select {
	case <-call.Done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return call, call.Check()
}

// Get reads key's value (a copy); a missing key gives an error matching
// ErrNotFound.
func (c *Client) Get(ctx context.Context, key []byte) ([]byte, error) {
	call, err := c.Do(ctx, Request{Op: OpGet, Key: key})
	if err != nil {
		return nil, err
	}
	v := append([]byte{}, call.Value...)
	call.Release()
	return v, nil
}

// Set stores key = value (flags 0, no expiration).
func (c *Client) Set(ctx context.Context, key, value []byte) error {
	return c.doErr(ctx, Request{Op: OpSet, Key: key, Value: value})
}

// Add stores key = value unless key exists (then an error matching
// ErrExists).
func (c *Client) Add(ctx context.Context, key, value []byte) error {
	return c.doErr(ctx, Request{Op: OpAdd, Key: key, Value: value})
}

// Append appends value to key's value; a missing key gives an error
// matching ErrNotStored.
func (c *Client) Append(ctx context.Context, key, value []byte) error {
	return c.doErr(ctx, Request{Op: OpAppend, Key: key, Value: value})
}

// AppendOrAdd appends value to key's value, creating key when missing.
func (c *Client) AppendOrAdd(ctx context.Context, key, value []byte) error {
	return c.doErr(ctx, Request{Op: OpAppend, Key: key, Value: value, Create: true})
}

// Incr adds delta to the decimal counter at key and returns the new value.
// With exp 0xFFFFFFFF a missing key is an error matching ErrNotFound;
// otherwise a missing key is created with initial (and expiration exp).
func (c *Client) Incr(ctx context.Context, key []byte, delta, initial uint64, exp uint32) (uint64, error) {
	call, err := c.Do(ctx, Request{Op: OpIncrement, Key: key, Delta: delta, Initial: initial, Expiration: exp})
	if err != nil {
		return 0, err
	}
	n := call.Counter
	call.Release()
	return n, nil
}

// Stats returns the server's general statistics (binary STAT without a
// group).
func (c *Client) Stats(ctx context.Context) (map[string]string, error) {
	call, err := c.Do(ctx, Request{Op: OpStat})
	if err != nil {
		return nil, err
	}
	m := call.Stats
	call.Release()
	return m, nil
}

// Flush invalidates every item (flush_all).
func (c *Client) Flush(ctx context.Context) error {
	return c.doErr(ctx, Request{Op: OpFlush})
}

// Quit asks the server to close the connection, waits for its answer and
// closes the client.
func (c *Client) Quit(ctx context.Context) error {
	err := c.doErr(ctx, Request{Op: OpQuit})
	c.Close()
	return err
}

func (c *Client) doErr(ctx context.Context, req Request) error {
	call, err := c.Do(ctx, req)
	if call != nil {
		call.Release()
	}
	return err
}

// binCodec is the binary-protocol framing of a Client's Conn.
type binCodec Client

// Decode decodes the complete response packets in buf and matches each
// with the oldest outstanding call.
func (cd *binCodec) Decode(buf []byte) (used, need int, err error) {
	c := (*Client)(cd)
	for {
		p, n, need, err := decodeResponse(buf[used:], c.maxBody)
		if err != nil || n == 0 {
			return used, need, err
		}
		used += n
		if err := c.handle(p); err != nil {
			return used, 0, err
		}
	}
}

// Fail completes a call that got no response.
func (cd *binCodec) Fail(call *Call, err error) {
	call.Err = err
	(*Client)(cd).deliverNow(call)
}

// handle matches one response packet with the oldest outstanding call.
func (c *Client) handle(p Packet) error {
	// Look at the oldest call under the Conn's lock; pop it unless the
	// packet is one statistic of a STAT.
	var (
		found, stat bool
		wantOp      Opcode
		wantOpaque  uint32
	)
	call, ok := c.conn.PopIf(func(call *Call) bool {
		found, wantOp, wantOpaque = true, call.Op, call.opaque
		stat = call.Op == OpStat && p.Status == StatusOK && len(p.Key) > 0
		return p.Opaque == call.opaque && p.Opcode == call.Op && !stat
	})
	switch {
	case ok:
	case !found:
		return fmt.Errorf("%w: response (%s, opaque %d) without a request", ErrProtocol, p.Opcode, p.Opaque)
	case p.Opaque != wantOpaque || p.Opcode != wantOp:
		return fmt.Errorf("%w: response (%s, opaque %d) does not match the oldest request (%s, opaque %d)",
			ErrProtocol, p.Opcode, p.Opaque, wantOp, wantOpaque)
	default: // stat
		if c.stats == nil {
			c.stats = make(map[string]string)
		}
		c.stats[string(p.Key)] = string(p.Value)
		return nil
	}
	if call.Op == OpStat {
		call.Stats, c.stats = c.stats, nil
	}
	if call.Op == OpQuit && p.Status == StatusOK {
		c.quitted.Store(true)
	}
	if call.create && call.tries < maxCreateTries &&
		(call.Op == OpAppend && p.Status == StatusNotStored ||
			call.Op == OpAdd && (p.Status == StatusKeyExists || p.Status == StatusNotStored)) {
		// Missing key: create it with ADD; created meanwhile: APPEND again.
		call.tries++
		next := OpAdd
		if call.Op == OpAdd {
			next = OpAppend
		}
		c.send(call, &Request{Op: next, Key: call.key, Value: call.val})
		return nil
	}

	if call.create && call.Op == OpAppend && p.Status == StatusNotStored {
		call.Err = fmt.Errorf("%w: APPEND of %d bytes to %q not stored although ADD found the key; "+
			"the value likely exceeds the server's item size limit (-I)", ErrValueTooLarge, len(call.val), call.key)
	}
	call.Status = p.Status
	call.CAS = p.CAS
	// Copy the value out of the read buffer, which is reused.
	call.buf = append(call.buf[:0], p.Value...)
	call.Value = call.buf[:len(call.buf):len(call.buf)]
	if p.Status == StatusOK && (call.Op == OpIncrement || call.Op == OpDecrement) {
		if len(p.Value) != 8 {
			// The call is off the queue; complete it before failing.
			call.Err = fmt.Errorf("%w: %s response value of %d bytes, want 8", ErrProtocol, call.Op, len(p.Value))
			c.deliver(call)
			return call.Err
		}
		call.Counter = binary.BigEndian.Uint64(p.Value)
	}
	c.deliver(call)
	return nil
}
