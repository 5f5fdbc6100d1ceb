// Package redisclient is a minimal pipelined Redis client speaking RESP2,
// written for the key-value load generator (loadgen/kv) so that the
// comparison with Pequod needs nothing outside the standard library.
//
// It runs on the same connection core as the Pequod wire.Client
// (wire.Conn), so that both back ends pay the same client-side costs:
// requests are appended to a buffer under a mutex and a writer goroutine
// sends everything buffered with one write; a reader goroutine parses
// replies, which Redis sends in request order, and completes the oldest
// outstanding call. This package holds only the RESP framing. Calls are
// asynchronous (Go, net/rpc style, completion on a Done channel; GoFunc,
// completion by callback) or synchronous (Do).
package redisclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"

	"github.com/pequod-go/pequod/wire"
)

var (
	// ErrClosed is the error of calls made on, or outstanding at, a
	// closed Client.
	ErrClosed = errors.New("redisclient: client closed")
	// ErrProtocol wraps malformed replies (the connection is then closed).
	ErrProtocol = errors.New("redisclient: protocol error")
	// ErrNil is returned by Bytes for a nil bulk string (missing key).
	ErrNil = errors.New("redisclient: nil reply")
)

// ConnError is the error of every call outstanding when the connection
// failed.
type ConnError struct{ Err error }

func (e *ConnError) Error() string { return "redisclient: connection lost: " + e.Err.Error() }
func (e *ConnError) Unwrap() error { return e.Err }

// RedisError is an error reply ("-ERR ...") from the server.
type RedisError struct{ Message string }

func (e *RedisError) Error() string { return "redis: " + e.Message }

// Kind is the type of a reply.
type Kind byte

// Reply kinds, named after their RESP2 prefix.
const (
	KindStatus Kind = '+' // simple string
	KindError  Kind = '-'
	KindInt    Kind = ':'
	KindBulk   Kind = '$'
	KindArray  Kind = '*'
)

// Reply is a parsed RESP2 reply.
type Reply struct {
	Kind Kind
	// Nil is set for a nil bulk string ($-1) or a nil array (*-1).
	Nil bool
	// Str holds a simple string, an error message or a bulk string's bytes.
	Str []byte
	// Int holds an integer reply.
	Int int64
	// Array holds the elements of an array reply.
	Array []Reply
}

// String renders a reply for messages and tests.
func (r Reply) String() string {
	switch {
	case r.Nil:
		return "(nil)"
	case r.Kind == KindInt:
		return strconv.FormatInt(r.Int, 10)
	case r.Kind == KindArray:
		s := "["
		for i, e := range r.Array {
			if i > 0 {
				s += " "
			}
			s += e.String()
		}
		return s + "]"
	case r.Kind == KindError:
		return "ERR(" + string(r.Str) + ")"
	}
	return strconv.Quote(string(r.Str))
}

// Call is one command in flight or completed.
type Call struct {
	// Reply is the server's reply; valid until Release.
	Reply Reply
	// Err is set when no reply arrived (connection failure, ErrClosed).
	// An error reply from the server is not an Err; see Check.
	Err error
	// Done receives the call when it completes (nil for GoFunc calls).
	Done chan *Call

	ch  chan *Call
	fn  func(*Call)
	buf []byte // owns Reply.Str of bulk/status replies
}

var callPool = sync.Pool{New: func() any { return &Call{ch: make(chan *Call, 1)} }}

func newCall(done chan *Call) *Call {
	call := callPool.Get().(*Call)
	if done == nil {
		select {
		case <-call.ch:
		default:
		}
		done = call.ch
	} else if cap(done) == 0 {
		panic("redisclient: done channel is unbuffered")
	}
	call.Done = done
	return call
}

// Release returns a completed call to a pool. Optional; the caller must not
// use the call or its Reply afterwards.
func (call *Call) Release() {
	call.Reply, call.Err, call.Done, call.fn = Reply{}, nil, nil, nil
	if cap(call.buf) > 64<<10 {
		call.buf = nil
	}
	callPool.Put(call)
}

func (call *Call) deliver() { wire.Deliver(call, call.fn, call.Done) }

// Check returns Err, or a *RedisError for an error reply, else nil.
func (call *Call) Check() error {
	if call.Err != nil {
		return call.Err
	}
	if call.Reply.Kind == KindError {
		return &RedisError{Message: string(call.Reply.Str)}
	}
	return nil
}

// Bytes returns the bytes of a bulk or simple string reply (aliasing the
// call's storage: valid until Release). A nil bulk string gives ErrNil.
func (call *Call) Bytes() ([]byte, error) {
	if err := call.Check(); err != nil {
		return nil, err
	}
	if call.Reply.Nil {
		return nil, ErrNil
	}
	switch call.Reply.Kind {
	case KindBulk, KindStatus:
		return call.Reply.Str, nil
	}
	return nil, fmt.Errorf("%w: expected a string, got %s", ErrProtocol, call.Reply)
}

// Client is a pipelined RESP2 connection: the RESP framing on a
// wire.Conn, which replies complete in the order the commands were issued.
// All methods are safe for concurrent use.
type Client struct {
	conn *wire.Conn[*Call]
}

// Dial connects to a Redis server at addr ("host:port").
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewClient(conn), nil
}

// NewClient runs the protocol over an established connection, which the
// Client owns.
func NewClient(conn net.Conn) *Client {
	c := &Client{conn: wire.NewConn[*Call](conn, wire.ConnOptions{
		Match:  wire.MatchFIFO,
		Lost:   lost,
		Closed: ErrClosed,
	})}
	c.conn.Start((*respCodec)(c))
	return c
}

// lost is the error of the calls outstanding when the connection failed;
// the end of the stream is unexpected while calls await replies.
func lost(cause error) error {
	if errors.Is(cause, io.EOF) || errors.Is(cause, net.ErrClosed) {
		cause = fmt.Errorf("%w (%v)", io.ErrUnexpectedEOF, cause)
	}
	return &ConnError{Err: cause}
}

// Close closes the connection; outstanding calls complete with ErrClosed.
func (c *Client) Close() error { return c.conn.Close() }

// Err returns nil while the client is usable, else why it is not.
func (c *Client) Err() error { return c.conn.Err() }

// Outstanding returns the number of calls awaiting replies.
func (c *Client) Outstanding() int { return c.conn.Outstanding() }

// AppendCommand appends a command as a RESP array of bulk strings.
func AppendCommand(dst []byte, args ...[]byte) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}

// Go starts a command (e.g. Go(nil, []byte("GET"), key)). done may be nil
// (a private channel is used) or must be buffered.
func (c *Client) Go(done chan *Call, args ...[]byte) *Call {
	return c.send(newCall(done), args)
}

// GoFunc starts a command whose completion calls fn with the call. fn runs
// on the client's reader goroutine (or, when the connection is already
// down, on the caller's) and must not block or call Close; handing the
// call to an event loop is its intended use.
func (c *Client) GoFunc(fn func(*Call), args ...[]byte) *Call {
	call := callPool.Get().(*Call)
	call.fn = fn
	return c.send(call, args)
}

func (c *Client) send(call *Call, args [][]byte) *Call {
	c.conn.Send(call, func(b []byte, _ uint64) []byte { return AppendCommand(b, args...) })
	return call
}

// Get starts GET key.
func (c *Client) Get(key []byte, done chan *Call) *Call {
	return c.Go(done, cmdGET, key)
}

// Set starts SET key value.
func (c *Client) Set(key, value []byte, done chan *Call) *Call {
	return c.Go(done, cmdSET, key, value)
}

var (
	cmdGET = []byte("GET")
	cmdSET = []byte("SET")
)

// Do runs a command synchronously and returns its reply (owned by the
// caller) and the call's Check error.
func (c *Client) Do(ctx context.Context, args ...string) (Reply, error) {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	call := c.Go(nil, bs...)
	select {
	case <-call.Done:
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
	r := cloneReply(call.Reply)
	return r, call.Check()
}

func cloneReply(r Reply) Reply {
	if r.Str != nil {
		r.Str = append([]byte(nil), r.Str...)
	}
	if r.Array != nil {
		a := make([]Reply, len(r.Array))
		for i, e := range r.Array {
			a[i] = cloneReply(e)
		}
		r.Array = a
	}
	return r
}

// respCodec is the RESP framing of a Client's Conn.
type respCodec Client

// Decode parses the complete replies in buf and completes the oldest
// outstanding call with each.
func (cd *respCodec) Decode(buf []byte) (used, need int, err error) {
	c := (*Client)(cd)
	for used < len(buf) {
		rep, end, n, err := parseReply(buf, used, 0)
		if err != nil {
			return used, 0, err
		}
		if end < 0 {
			return used, n - used, nil
		}
		call, ok := c.conn.Pop()
		if !ok {
			return used, 0, fmt.Errorf("%w: reply without a request: %s", ErrProtocol, rep)
		}
		// Hand the reply over in storage the call owns: buf is reused.
		if rep.Kind == KindArray {
			rep = cloneReply(rep)
		} else if rep.Str != nil {
			call.buf = append(call.buf[:0], rep.Str...)
			rep.Str = call.buf[:len(call.buf):len(call.buf)]
		}
		call.Reply = rep
		call.deliver()
		used = end
	}
	return used, 0, nil
}

// Fail completes a call that got no reply.
func (cd *respCodec) Fail(call *Call, err error) {
	call.Err = err
	call.deliver()
}

// Parser limits: a bulk string or array length accepted from the server,
// the nesting of arrays, and the length of a line.
const (
	maxBulk  = 512 << 20
	maxDepth = 32
	maxLine  = 64 << 10
)

// parseReply parses the reply that starts at b[off] and returns it with the
// offset just past it; its Str fields alias b. If b ends before the reply
// does, end is -1 and need a lower bound on the offset where it ends.
func parseReply(b []byte, off, depth int) (rep Reply, end, need int, err error) {
	if depth > maxDepth {
		return rep, 0, 0, fmt.Errorf("%w: nesting too deep", ErrProtocol)
	}
	line, next, err := parseLine(b, off)
	if err != nil || next < 0 {
		return rep, -1, len(b) + 1, err
	}
	if len(line) == 0 {
		return rep, 0, 0, fmt.Errorf("%w: empty line", ErrProtocol)
	}
	rep.Kind = Kind(line[0])
	body := line[1:]
	switch rep.Kind {
	case KindStatus, KindError:
		rep.Str = body[:len(body):len(body)]
	case KindInt:
		rep.Int, err = strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return rep, 0, 0, fmt.Errorf("%w: bad integer %q", ErrProtocol, body)
		}
	case KindBulk:
		n, err := parseLen(body)
		if err != nil {
			return rep, 0, 0, err
		}
		if n < 0 {
			rep.Nil = true
			return rep, next, 0, nil
		}
		end := next + n + 2
		if end > len(b) {
			return rep, -1, end, nil
		}
		if b[end-2] != '\r' || b[end-1] != '\n' {
			return rep, 0, 0, fmt.Errorf("%w: bulk string not followed by CRLF", ErrProtocol)
		}
		rep.Str = b[next : end-2 : end-2]
		return rep, end, 0, nil
	case KindArray:
		n, err := parseLen(body)
		if err != nil {
			return rep, 0, 0, err
		}
		if n < 0 {
			rep.Nil = true
			return rep, next, 0, nil
		}
		rep.Array = make([]Reply, 0, min(n, 1024))
		for i := range n {
			e, end, need, err := parseReply(b, next, depth+1)
			if err != nil || end < 0 {
				// Every element still missing takes at least 3 bytes.
				return rep, end, need + 3*(n-i-1), err
			}
			rep.Array = append(rep.Array, e)
			next = end
		}
	default:
		return rep, 0, 0, fmt.Errorf("%w: unknown reply type %q", ErrProtocol, line[0])
	}
	return rep, next, 0, nil
}

func parseLen(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < -1 || n > maxBulk {
		return 0, fmt.Errorf("%w: bad length %q", ErrProtocol, b)
	}
	return n, nil
}

// parseLine returns the CRLF-terminated line at b[off] (without the CRLF)
// and the offset after it, or next = -1 if b holds no complete line yet.
func parseLine(b []byte, off int) (line []byte, next int, err error) {
	i := bytes.IndexByte(b[off:], '\n')
	if i > maxLine || i < 0 && len(b)-off > maxLine {
		return nil, -1, fmt.Errorf("%w: line too long", ErrProtocol)
	}
	if i < 0 {
		return nil, -1, nil
	}
	if i == 0 || b[off+i-1] != '\r' {
		return nil, -1, fmt.Errorf("%w: line not terminated by CRLF", ErrProtocol)
	}
	return b[off : off+i-1], off + i + 1, nil
}
