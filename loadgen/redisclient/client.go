// Package redisclient is a minimal pipelined Redis client speaking RESP2,
// written for the key-value load generator (loadgen/kv) so that the
// comparison with Pequod needs nothing outside the standard library.
//
// It mirrors the architecture of the Pequod wire.Client so that both
// back ends pay the same client-side costs: requests are appended to a
// buffer under a mutex and a writer goroutine sends everything buffered
// with one write; a reader goroutine parses replies, which Redis sends in
// request order, and completes the oldest outstanding call. Calls are
// asynchronous (Go, net/rpc style, completion on a Done channel) or
// synchronous (Do).
package redisclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
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
	// Done receives the call when it completes.
	Done chan *Call

	ch  chan *Call
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
	call.Reply, call.Err, call.Done = Reply{}, nil, nil
	if cap(call.buf) > 64<<10 {
		call.buf = nil
	}
	callPool.Put(call)
}

func (call *Call) deliver() {
	select {
	case call.Done <- call:
	default:
	}
}

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

// Client is a pipelined RESP2 connection. All methods are safe for
// concurrent use; replies complete calls in the order the commands were
// issued.
type Client struct {
	conn net.Conn

	mu      sync.Mutex
	wbuf    []byte
	spare   []byte
	pending []*Call // FIFO: pending[head:] await replies in order
	head    int
	err     error
	wake    chan struct{}
	quit    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
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
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &Client{
		conn:  conn,
		wbuf:  make([]byte, 0, 16<<10),
		spare: make([]byte, 0, 16<<10),
		wake:  make(chan struct{}, 1),
		quit:  make(chan struct{}),
	}
	c.wg.Add(2)
	go c.writer()
	go c.reader()
	return c
}

// Close closes the connection; outstanding calls complete with ErrClosed.
func (c *Client) Close() error {
	c.fail(ErrClosed)
	c.wg.Wait()
	return nil
}

// Err returns nil while the client is usable, else why it is not.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Outstanding returns the number of calls awaiting replies.
func (c *Client) Outstanding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) - c.head
}

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
	call := newCall(done)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		call.Err = err
		call.deliver()
		return call
	}
	c.wbuf = AppendCommand(c.wbuf, args...)
	c.pending = append(c.pending, call)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
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

func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	err = c.err
	calls := c.pending[c.head:]
	c.pending, c.head = nil, 0
	c.mu.Unlock()
	c.once.Do(func() {
		close(c.quit)
		_ = c.conn.Close()
	})
	for _, call := range calls {
		call.Err = err
		call.deliver()
	}
}

// writer sends buffered commands: one write per wake-up carries everything
// issued since the previous write. A small buffer first yields once so that
// a goroutine issuing a burst can add to the same write.
func (c *Client) writer() {
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
			if len(c.wbuf) < 2<<10 && !yielded {
				c.mu.Unlock()
				yielded = true
				runtime.Gosched()
				continue
			}
			out := c.wbuf
			c.wbuf = c.spare[:0]
			c.mu.Unlock()
			_, err := c.conn.Write(out)
			c.mu.Lock()
			if cap(out) <= 1<<20 {
				c.spare = out[:0]
			} else {
				c.spare = make([]byte, 0, 16<<10)
			}
			c.mu.Unlock()
			if err != nil {
				c.fail(&ConnError{Err: err})
				return
			}
			yielded = true
		}
	}
}

func (c *Client) reader() {
	defer c.wg.Done()
	r := bufio.NewReaderSize(c.conn, 64<<10)
	var scratch []byte
	for {
		rep, buf, err := readReply(r, scratch[:0], 0)
		scratch = buf
		if cap(scratch) > 1<<20 {
			scratch = nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = io.ErrUnexpectedEOF
			}
			c.fail(&ConnError{Err: err})
			return
		}
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return
		}
		if c.head >= len(c.pending) {
			c.mu.Unlock()
			c.fail(&ConnError{Err: fmt.Errorf("%w: reply without a request: %s", ErrProtocol, rep)})
			return
		}
		call := c.pending[c.head]
		c.pending[c.head] = nil
		c.head++
		if c.head == len(c.pending) {
			c.pending, c.head = c.pending[:0], 0
		} else if c.head >= 1024 && c.head*2 >= len(c.pending) {
			n := copy(c.pending, c.pending[c.head:])
			clear(c.pending[n:])
			c.pending, c.head = c.pending[:n], 0
		}
		c.mu.Unlock()
		// Hand the reply over in storage the call owns: the scratch
		// buffer is reused for the next reply.
		if rep.Kind == KindArray {
			rep = cloneReply(rep)
		} else if rep.Str != nil {
			call.buf = append(call.buf[:0], rep.Str...)
			rep.Str = call.buf[:len(call.buf):len(call.buf)]
		}
		call.Reply = rep
		call.deliver()
	}
}

// maxBulk bounds a bulk string or array length accepted from the server.
const maxBulk = 512 << 20

// readReply parses one reply; string bytes are appended to buf (returned,
// possibly grown), and the reply's Str fields alias buf.
func readReply(r *bufio.Reader, buf []byte, depth int) (Reply, []byte, error) {
	if depth > 32 {
		return Reply{}, buf, fmt.Errorf("%w: nesting too deep", ErrProtocol)
	}
	line, err := readLine(r)
	if err != nil {
		return Reply{}, buf, err
	}
	if len(line) == 0 {
		return Reply{}, buf, fmt.Errorf("%w: empty line", ErrProtocol)
	}
	rep := Reply{Kind: Kind(line[0])}
	body := line[1:]
	switch rep.Kind {
	case KindStatus, KindError:
		start := len(buf)
		buf = append(buf, body...)
		rep.Str = buf[start:len(buf):len(buf)]
	case KindInt:
		rep.Int, err = strconv.ParseInt(string(body), 10, 64)
		if err != nil {
			return rep, buf, fmt.Errorf("%w: bad integer %q", ErrProtocol, body)
		}
	case KindBulk:
		n, err := parseLen(body)
		if err != nil {
			return rep, buf, err
		}
		if n < 0 {
			rep.Nil = true
			return rep, buf, nil
		}
		start := len(buf)
		buf = grow(buf, n+2)
		if _, err := io.ReadFull(r, buf[start:start+n+2]); err != nil {
			return rep, buf, err
		}
		if buf[start+n] != '\r' || buf[start+n+1] != '\n' {
			return rep, buf, fmt.Errorf("%w: bulk string not followed by CRLF", ErrProtocol)
		}
		buf = buf[:start+n]
		rep.Str = buf[start : start+n : start+n]
	case KindArray:
		n, err := parseLen(body)
		if err != nil {
			return rep, buf, err
		}
		if n < 0 {
			rep.Nil = true
			return rep, buf, nil
		}
		rep.Array = make([]Reply, 0, min(n, 1024))
		for range n {
			var e Reply
			e, buf, err = readReply(r, buf, depth+1)
			if err != nil {
				return rep, buf, err
			}
			rep.Array = append(rep.Array, e)
		}
	default:
		return rep, buf, fmt.Errorf("%w: unknown reply type %q", ErrProtocol, line[0])
	}
	return rep, buf, nil
}

// grow extends buf by n bytes. Earlier Str slices keep pointing into the old
// array if it is reallocated, which is fine: they are complete.
func grow(buf []byte, n int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf[:len(buf)+n]
	}
	nb := make([]byte, len(buf)+n, max(2*cap(buf), len(buf)+n, 64))
	copy(nb, buf)
	return nb
}

func parseLen(b []byte) (int, error) {
	n, err := strconv.Atoi(string(b))
	if err != nil || n < -1 || n > maxBulk {
		return 0, fmt.Errorf("%w: bad length %q", ErrProtocol, b)
	}
	return n, nil
}

// readLine reads a CRLF-terminated line (without the CRLF). The slice is
// valid until the next read from r.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, fmt.Errorf("%w: line too long", ErrProtocol)
	}
	if err != nil {
		return nil, err
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line not terminated by CRLF", ErrProtocol)
	}
	return line[:len(line)-2], nil
}
