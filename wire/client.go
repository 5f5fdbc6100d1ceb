package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Client flow-control defaults (spec/server.md §1.8).
const (
	// DefaultLowWater is the write low-water mark of workload-driver client
	// connections (2 KiB). See Options.LowWater.
	DefaultLowWater = 2 << 10
	// Pace limits: Pace blocks while more than PaceHighBytes are unsent or
	// more than PaceHighCalls replies are outstanding, and returns once at
	// most PaceLowBytes are unsent and at most PaceLowCalls are outstanding.
	PaceHighBytes = 1 << 20
	PaceLowBytes  = 512 << 10
	PaceHighCalls = 16384
	PaceLowCalls  = 8192
)

var (
	// ErrClosed is the error of calls made on, or outstanding at, a Client
	// closed with Close.
	ErrClosed = errors.New("wire: client closed")
	// ErrConnLost matches (errors.Is) the error of calls outstanding when
	// the connection failed; the *ConnError carries the cause.
	ErrConnLost = errors.New("wire: connection lost")
	// ErrBadReply is returned when a reply's payload does not have the type
	// the RPC promises (or its command does not match the request).
	ErrBadReply = errors.New("wire: unexpected reply")
	// ErrAuthRefused matches (errors.Is) the error of Client.Auth, and of
	// DialContext with Options.Auth, when the server did not accept the
	// secret.
	ErrAuthRefused = errors.New("wire: authentication refused")
)

// AuthControlKey is the control key that authenticates a connection to a
// Pequod-Go server configured with a shared secret: [13, seq, {"auth":
// secret}] is answered true when the secret is right (see Client.Auth).
const AuthControlKey = "auth"

// ConnError is the error of every call outstanding when the connection
// failed (read or write error, EOF, or a decode error on the incoming
// stream), and of later calls. It is a Conn's default Lost error.
type ConnError struct{ Err error }

func (e *ConnError) Error() string        { return "wire: connection lost: " + e.Err.Error() }
func (e *ConnError) Unwrap() error        { return e.Err }
func (e *ConnError) Is(target error) bool { return target == ErrConnLost }

// StatusError is the error of a call whose reply had a non-zero status.
// Message holds the payload when it was a string (e.g. add_join's parse
// error text).
type StatusError struct {
	Cmd     Cmd
	Status  int64
	Message string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("wire: %s failed (status %d)", e.Cmd, e.Status)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// KV is one key/value pair of a scan or subscribe result.
type KV struct {
	Key, Value []byte
}

// Options configure a Client. The zero value (or nil) gives the defaults.
type Options struct {
	// LowWater is the write low-water mark in bytes (default
	// DefaultLowWater). The writer goroutine sends buffered requests as
	// soon as it runs; when it wakes up to fewer than LowWater bytes it
	// first yields once (runtime.Gosched) so that goroutines issuing a
	// burst of requests can add to the same write. Requests issued while a
	// write is in progress are always coalesced into the next write.
	// Negative disables the yield.
	LowWater int
	// MaxFrameBytes and MaxDepth bound incoming messages (see Decoder).
	MaxFrameBytes int
	MaxDepth      int
	// Handler, if set, serves the requests the peer sends on the
	// connection (see Handler). Without one they are discarded.
	Handler Handler
	// Auth, if not empty, is the server's shared secret (the content of
	// its -auth-file). DialContext sends it with Client.Auth as the
	// connection's first request and fails if the server refuses it.
	// NewClient ignores it.
	Auth []byte
}

// A Handler serves a request that the peer sent on a Client's connection:
// a server-to-server link carries calls in both directions, each side
// numbering its own requests from seq 0 (spec/server.md §1.3, §3.2).
// Messages with a negative command are replies and are matched to the
// client's calls; every other message is a request, classified by
// ParseRequest: v is Accept or Reject (a message that is not a request at
// all, verdict Close, closes the connection with an error, §1.5). The
// handler answers with Client.Reply, now or later; a rejected request is
// answered with status StatusFail and a null payload.
//
// The handler runs on the client's reader goroutine, so no reply is read
// while it runs: it must not block (hand slow work to another goroutine
// and reply from there) and must not call Close. req and its Values are
// valid only until it returns.
type Handler func(c *Client, req *Request, v Verdict)

// Client is a connection to a Pequod server (or a peer server) speaking
// the msgpack RPC protocol; it is the msgpack framing on a Conn. Requests
// are numbered 0, 1, 2, ... per connection, may be pipelined without limit
// (use Pace for back-pressure), and their replies, which may arrive in any
// order, are matched by seq; replies with unknown seqs are discarded.
// Requests sent by the peer go to Options.Handler (discarded without one).
// All methods are safe for concurrent use.
//
// Each RPC has a synchronous helper taking a context (Get, Insert, ...)
// and an asynchronous one (GetAsync, ...) that returns a *Call whose Done
// channel receives the call when the reply arrives, in the style of
// net/rpc; GoRawFunc delivers to a callback instead. If the connection
// fails, every outstanding call completes with a *ConnError (ErrClosed
// after Close) and the typed helpers return the failure values of
// spec/server.md §1.3 (empty value, 0, empty scan, {}).
//
// A Client runs two goroutines (reader and writer); Close stops both.
type Client struct {
	conn    *Conn[*Call]
	handler Handler
	dec     Decoder // used by the reader goroutine only
	req     Request // the request being served; reader goroutine only
}

// Dial connects to a server at addr ("host:port") with default options.
func Dial(addr string) (*Client, error) {
	return DialContext(context.Background(), addr, nil)
}

// DialContext connects to a server at addr with the given options.
func DialContext(ctx context.Context, addr string, opts *Options) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := NewClient(conn, opts)
	if opts != nil && len(opts.Auth) > 0 {
		if err := c.Auth(ctx, opts.Auth); err != nil {
			c.Close()
			return nil, fmt.Errorf("wire: dial %s: %w", addr, err)
		}
	}
	return c, nil
}

// Auth authenticates the connection with the server's shared secret:
// control {"auth": secret}, which a Pequod-Go server answers true when the
// secret is right. Send it before any other request: requests sent before
// it may be refused. A refusal (a wrong secret, a server without a
// secret, or a server that does not know the key and answers {}) is an
// error matching ErrAuthRefused, with the server's message when there is
// one.
func (c *Client) Auth(ctx context.Context, secret []byte) error {
	v, err := c.Control(ctx, map[string]any{AuthControlKey: string(secret)})
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.Message != "":
		return fmt.Errorf("%w: %s", ErrAuthRefused, se.Message)
	case errors.As(err, &se):
		return fmt.Errorf("%w: status %d", ErrAuthRefused, se.Status)
	case err != nil:
		return fmt.Errorf("wire: auth: %w", err)
	case v.Kind() != KindBool || !v.Bool():
		return fmt.Errorf("%w: the server answered %s, not true", ErrAuthRefused, v)
	}
	return nil
}

// NewClient runs the protocol over an established connection (TCP_NODELAY
// is set on TCP connections). The Client owns conn and closes it.
func NewClient(conn net.Conn, opts *Options) *Client {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := &Client{handler: o.Handler}
	c.dec.MaxFrameBytes, c.dec.MaxDepth = o.MaxFrameBytes, o.MaxDepth
	c.conn = NewConn[*Call](conn, ConnOptions{Match: MatchSeq, LowWater: o.LowWater})
	c.conn.Start((*rpcCodec)(c))
	return c
}

// Close closes the connection. Every outstanding call completes with
// ErrClosed. Close waits for the client's goroutines to exit (so it must
// not be called from a Handler or a GoRawFunc callback) and is idempotent.
func (c *Client) Close() error { return c.conn.Close() }

// Err returns nil while the client is usable, else why it is not
// (ErrClosed or a *ConnError).
func (c *Client) Err() error { return c.conn.Err() }

// Outstanding returns the number of calls awaiting replies.
func (c *Client) Outstanding() int { return c.conn.Outstanding() }

// Unsent returns the number of request bytes not yet accepted by the
// connection.
func (c *Client) Unsent() int { return c.conn.Unsent() }

// LocalAddr and RemoteAddr return the connection's addresses.
func (c *Client) LocalAddr() net.Addr  { return c.conn.LocalAddr() }
func (c *Client) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// Pace implements the back-pressure of spec/server.md §1.8: if more than
// 1 MiB of requests are unsent or more than 16384 replies are outstanding,
// it blocks until at most 512 KiB are unsent and at most 8192 replies are
// outstanding. Otherwise it returns at once. It returns the client's error
// if the connection fails, or ctx's error.
func (c *Client) Pace(ctx context.Context) error { return c.conn.Pace(ctx) }

// Drain blocks until no call is outstanding (or the client fails, or ctx
// is done).
func (c *Client) Drain(ctx context.Context) error { return c.conn.Drain(ctx) }

// Reply sends the reply [-cmd, seq, status, payload] to a request from the
// peer (see Handler). seqRaw is the request's SeqRaw, copied before Reply
// returns (a handler that replies later must keep a copy of it, since the
// Request does not outlive the handler). payload appends the payload value;
// nil sends null. On a dead connection the reply is dropped and the
// client's error returned.
func (c *Client) Reply(cmd Cmd, seqRaw []byte, status int, payload func([]byte) []byte) error {
	return c.conn.Write(func(b []byte) []byte { return AppendReply(b, cmd, seqRaw, status, payload) })
}

// rpcCodec is the msgpack RPC framing of a Client's Conn.
type rpcCodec Client

// Decode decodes the complete messages in buf: replies complete their
// calls, requests go to the handler.
func (cd *rpcCodec) Decode(buf []byte) (int, int, error) {
	c := (*Client)(cd)
	msgs, used, err := c.dec.Decode(buf)
	for _, m := range msgs {
		if herr := c.handle(m); herr != nil {
			return used, 0, herr
		}
	}
	return used, c.dec.Need(), err
}

// Fail completes a call that got no reply.
func (cd *rpcCodec) Fail(call *Call, err error) {
	call.Err, call.Status = err, StatusFail
	call.deliver()
}

// handle completes the call a reply belongs to, or serves a request.
func (c *Client) handle(m Value) error {
	r, ok := ParseReply(m)
	if !ok {
		return c.serve(m)
	}
	if r.Seq < 0 {
		return nil // a bad seq
	}
	call, ok := c.conn.Take(uint64(r.Seq))
	if !ok {
		return nil
	}
	call.Status = r.Status
	call.Payload = Value{}
	if r.Payload.Exists() {
		call.Payload = cloneInto(&call.own, r.Payload)
	}
	if r.Cmd != call.Cmd {
		call.Err = fmt.Errorf("%w: reply to seq %d has command %d, want %d", ErrBadReply, call.Seq, r.Cmd, call.Cmd)
	}
	call.deliver()
	return nil
}

// serve hands a request from the peer to the handler.
func (c *Client) serve(m Value) error {
	if c.handler == nil {
		return nil // a Client without a Handler does not serve requests
	}
	var v Verdict
	c.req, v = ParseRequest(m)
	if v == Close {
		const max = 200
		s := m.String()
		if len(s) > max {
			s = s[:max] + "..."
		}
		return fmt.Errorf("wire: bad rpc from %s (%s): %s", c.conn.RemoteAddr(), c.req.Reason, s)
	}
	c.handler(c, &c.req, v)
	return nil
}

// Call is one RPC in flight or completed, in the style of net/rpc.
type Call struct {
	Cmd Cmd
	Seq uint64
	// Status is the reply's status (StatusOK or StatusFail; StatusFail
	// also when the call failed without a reply).
	Status int64
	// Payload is the reply's payload (element 3). It is owned by the Call:
	// valid until Release.
	Payload Value
	// Err is set when no valid reply arrived (connection failure, ErrClosed,
	// encoding error, mismatched reply). A reply with status -1 is not an
	// Err; see Check.
	Err error
	// Done receives the call when it completes (nil for GoRawFunc calls,
	// which complete through their callback).
	Done chan *Call

	own batch
	ch  chan *Call // private Done channel, capacity 1
	fn  func(*Call)
}

var callPool = sync.Pool{New: func() any { return &Call{ch: make(chan *Call, 1)} }}

func newCall(cmd Cmd, done chan *Call) *Call {
	call := callPool.Get().(*Call)
	call.Cmd = cmd
	if done == nil {
		select { // drain a stale completion, in case of misuse
		case <-call.ch:
		default:
		}
		done = call.ch
	} else if cap(done) == 0 {
		panic("wire: done channel is unbuffered")
	}
	call.Done = done
	return call
}

// Release returns a completed call to a pool for reuse by later calls. The
// caller must have received it from Done and must not use it (or its
// Payload) afterwards. Releasing is optional.
func (call *Call) Release() {
	call.Cmd, call.Seq, call.Status, call.Err, call.Done, call.fn = 0, 0, 0, nil, nil, nil
	call.Payload = Value{}
	if cap(call.own.buf) > 64<<10 {
		call.own = batch{}
	}
	callPool.Put(call)
}

// deliver calls the call's callback, or sends the call on Done without
// blocking; as in net/rpc, Done must have enough buffer space, or the
// completion is dropped.
func (call *Call) deliver() { Deliver(call, call.fn, call.Done) }

// Check returns the call's error: Err if set, a *StatusError if the status
// is not 0, else nil.
func (call *Call) Check() error {
	if call.Err != nil {
		return call.Err
	}
	if call.Status != StatusOK {
		return &StatusError{Cmd: call.Cmd, Status: call.Status, Message: string(call.Payload.Bytes())}
	}
	return nil
}

// Bytes returns a copy of a string payload (get, noop_get). On failure it
// returns an empty value and the error (§1.3: get -> ""). A nil payload with
// status 0 reads as empty.
func (call *Call) Bytes() ([]byte, error) {
	if err := call.Check(); err != nil {
		return nil, err
	}
	p := call.Payload
	switch p.Kind() {
	case KindStr:
		return append([]byte(nil), p.Bytes()...), nil
	case KindNil:
		return nil, nil
	}
	return nil, fmt.Errorf("%w: %s payload is %s, want str", ErrBadReply, call.Cmd, p.Kind())
}

// Int returns an integer payload (count). On failure it returns 0 and the
// error.
func (call *Call) Int() (int64, error) {
	if err := call.Check(); err != nil {
		return 0, err
	}
	i, ok := call.Payload.Int()
	if !ok {
		return 0, fmt.Errorf("%w: %s payload is %s, want int", ErrBadReply, call.Cmd, call.Payload.Kind())
	}
	return i, nil
}

// KVs returns a flat [k1, v1, k2, v2, ...] payload (scan, subscribe) as
// pairs, copied into one fresh buffer. On failure it returns nil (empty)
// and the error.
func (call *Call) KVs() ([]KV, error) {
	if err := call.Check(); err != nil {
		return nil, err
	}
	p := call.Payload
	if p.Kind() == KindNil {
		return nil, nil
	}
	if p.Kind() != KindArray || p.Len()%2 != 0 {
		return nil, fmt.Errorf("%w: %s payload is not a flat key/value array", ErrBadReply, call.Cmd)
	}
	total := 0
	for _, e := range p.All() {
		if !e.IsStr() {
			return nil, fmt.Errorf("%w: %s payload holds a %s", ErrBadReply, call.Cmd, e.Kind())
		}
		total += e.Len()
	}
	store := make([]byte, 0, total)
	kvs := make([]KV, p.Len()/2)
	for i, e := range p.All() {
		s := len(store)
		store = append(store, e.Bytes()...)
		b := store[s:len(store):len(store)]
		if i%2 == 0 {
			kvs[i/2].Key = b
		} else {
			kvs[i/2].Value = b
		}
	}
	return kvs, nil
}

// Object returns an owned copy of the payload (stats, control). On failure
// it returns an empty map ({}, §1.3) and the error.
func (call *Call) Object() (Value, error) {
	if err := call.Check(); err != nil {
		return emptyMap(), err
	}
	if !call.Payload.Exists() {
		return Value{}, nil
	}
	return call.Payload.Clone(), nil
}

func emptyMap() Value { return MustParse([]byte{0x80}) }

// GoRaw starts a request [cmd, seq, args...] with nargs arguments appended
// by args (which must append exactly nargs values and may be nil when nargs
// is 0). It is the allocation-free building block of the typed helpers and
// lets callers with []byte keys avoid string conversions:
//
//	c.GoRaw(wire.CmdGet, 1, func(b []byte) []byte { return wire.AppendStr(b, key) }, done)
//
// done may be nil (a private channel is used) or must be buffered.
func (c *Client) GoRaw(cmd Cmd, nargs int, args func([]byte) []byte, done chan *Call) *Call {
	return c.send(newCall(cmd, done), nargs, args)
}

// GoRawFunc is GoRaw with completion by callback: fn is called with the
// completed call on the client's reader goroutine (or, if the connection
// is already down, on the caller's; when it fails, on the goroutine that
// notices). fn must not block, since no reply is read while it runs, and
// must not call Close; handing the call to an event loop is its intended
// use. The call's Done is nil.
func (c *Client) GoRawFunc(cmd Cmd, nargs int, args func([]byte) []byte, fn func(*Call)) *Call {
	call := callPool.Get().(*Call)
	call.Cmd, call.fn = cmd, fn
	return c.send(call, nargs, args)
}

func (c *Client) send(call *Call, nargs int, args func([]byte) []byte) *Call {
	c.conn.Send(call, func(b []byte, seq uint64) []byte {
		call.Seq = seq
		b = AppendRequestHeader(b, call.Cmd, seq, nargs)
		if args != nil {
			b = args(b)
		}
		return b
	})
	return call
}

// Go starts a request [cmd, seq, args...] whose arguments are encoded with
// AppendAny. An argument that cannot be encoded fails the call at once
// (without using a seq).
func (c *Client) Go(cmd Cmd, args []any, done chan *Call) *Call {
	var enc []byte
	for _, a := range args {
		var err error
		if enc, err = AppendAny(enc, a); err != nil {
			call := newCall(cmd, done)
			call.Err, call.Status = err, StatusFail
			call.deliver()
			return call
		}
	}
	return c.send(newCall(cmd, done), len(args), func(b []byte) []byte { return append(b, enc...) })
}

// Call sends [cmd, seq, args...] (arguments encoded with AppendAny), waits
// for the reply and returns the completed call (owned by the caller) and
// its Check error. If ctx ends first it returns ctx's error; the reply is
// then discarded when it arrives.
func (c *Client) Call(ctx context.Context, cmd Cmd, args ...any) (*Call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	call := c.Go(cmd, args, make(chan *Call, 1))
	select {
	case <-call.Done:
		return call, call.Check()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// roundTrip runs a pooled call synchronously and hands it to extract; the
// call is released afterwards unless ctx ended first.
func roundTrip[T any](c *Client, ctx context.Context, cmd Cmd, nargs int, args func([]byte) []byte,
	fail T, extract func(*Call) (T, error)) (T, error) {
	if err := ctx.Err(); err != nil {
		return fail, err
	}
	call := c.send(newCall(cmd, nil), nargs, args)
	select {
	case <-call.Done:
	case <-ctx.Done():
		return fail, ctx.Err() // the call stays pending; not recycled
	}
	v, err := extract(call) // extractors return the failure value on error
	call.Release()
	return v, err
}

func checkOnly(call *Call) (struct{}, error) { return struct{}{}, call.Check() }

func str1(a string) func([]byte) []byte {
	return func(b []byte) []byte { return AppendString(b, a) }
}

// --- typed helpers, synchronous -------------------------------------------

// Get returns the value of key ("" if absent: missing and empty are
// indistinguishable). On failure it returns an empty value and the error.
func (c *Client) Get(ctx context.Context, key string) ([]byte, error) {
	return roundTrip(c, ctx, CmdGet, 1, str1(key), nil, (*Call).Bytes)
}

// Insert stores key -> value.
func (c *Client) Insert(ctx context.Context, key, value string) error {
	_, err := roundTrip(c, ctx, CmdInsert, 2, func(b []byte) []byte {
		return AppendString(AppendString(b, key), value)
	}, struct{}{}, checkOnly)
	return err
}

// Erase removes key.
func (c *Client) Erase(ctx context.Context, key string) error {
	_, err := roundTrip(c, ctx, CmdErase, 1, str1(key), struct{}{}, checkOnly)
	return err
}

// NotifyInsert sends a server-to-server notify_insert (apply locally only).
func (c *Client) NotifyInsert(ctx context.Context, key, value string) error {
	_, err := roundTrip(c, ctx, CmdNotifyInsert, 2, func(b []byte) []byte {
		return AppendString(AppendString(b, key), value)
	}, struct{}{}, checkOnly)
	return err
}

// NotifyErase sends a server-to-server notify_erase.
func (c *Client) NotifyErase(ctx context.Context, key string) error {
	_, err := roundTrip(c, ctx, CmdNotifyErase, 1, str1(key), struct{}{}, checkOnly)
	return err
}

func rangeArgs(first, last, scanlast string) (int, func([]byte) []byte) {
	if scanlast == "" {
		return 2, func(b []byte) []byte { return AppendString(AppendString(b, first), last) }
	}
	return 3, func(b []byte) []byte {
		return AppendString(AppendString(AppendString(b, first), last), scanlast)
	}
}

func optional(s []string) string {
	if len(s) > 0 {
		return s[0]
	}
	return ""
}

// Count validates [first, last) and returns the number of keys in
// [first, scanlast) (scanlast defaults to last; at most one may be given).
// On failure it returns 0 and the error.
func (c *Client) Count(ctx context.Context, first, last string, scanlast ...string) (int64, error) {
	n, args := rangeArgs(first, last, optional(scanlast))
	return roundTrip(c, ctx, CmdCount, n, args, 0, (*Call).Int)
}

// Scan validates [first, last) and returns the pairs in [first, scanlast)
// in key order. On failure it returns nil (empty) and the error.
func (c *Client) Scan(ctx context.Context, first, last string, scanlast ...string) ([]KV, error) {
	n, args := rangeArgs(first, last, optional(scanlast))
	return roundTrip(c, ctx, CmdScan, n, args, nil, (*Call).KVs)
}

func subArgs(first, last string, subscriber int64) func([]byte) []byte {
	return func(b []byte) []byte {
		b = AppendString(AppendString(b, first), last)
		b = AppendMapHeader(b, 1)
		b = AppendString(b, "subscriber")
		return AppendInt(b, subscriber)
	}
}

// Subscribe registers server seqid subscriber for [first, last) and returns
// the range's current contents (the scan payload).
func (c *Client) Subscribe(ctx context.Context, first, last string, subscriber int64) ([]KV, error) {
	return roundTrip(c, ctx, CmdSubscribe, 3, subArgs(first, last, subscriber), nil, (*Call).KVs)
}

// Unsubscribe removes subscriber from subscriptions overlapping
// [first, last).
func (c *Client) Unsubscribe(ctx context.Context, first, last string, subscriber int64) error {
	_, err := roundTrip(c, ctx, CmdUnsubscribe, 3, subArgs(first, last, subscriber), struct{}{}, checkOnly)
	return err
}

// Invalidate asks the server to drop cached remote data overlapping
// [first, last).
func (c *Client) Invalidate(ctx context.Context, first, last string) error {
	n, args := rangeArgs(first, last, "")
	_, err := roundTrip(c, ctx, CmdInvalidate, n, args, struct{}{}, checkOnly)
	return err
}

// AddJoin installs the join spec for [first, last). It returns the reply's
// text payload, if any (warnings or error text), and on status -1 a
// *StatusError whose Message is that text.
func (c *Client) AddJoin(ctx context.Context, first, last, spec string) (string, error) {
	return roundTrip(c, ctx, CmdAddJoin, 3, func(b []byte) []byte {
		return AppendString(AppendString(AppendString(b, first), last), spec)
	}, "", func(call *Call) (string, error) {
		return call.Payload.Str(), call.Check()
	})
}

// Stats returns the server's stats object (spec/server.md §5.1) as an owned
// Value (a msgpack map; json.Marshal renders it as JSON, Interface converts
// it to map[string]any). On failure it returns an empty map and the error.
func (c *Client) Stats(ctx context.Context) (Value, error) {
	return roundTrip(c, ctx, CmdStats, 0, nil, emptyMap(), (*Call).Object)
}

// Control sends a control object (spec/server.md §1.7), e.g.
// map[string]any{"is_ready": true}, and returns the payload as an owned
// Value. Note that {"quit": true} gets no reply. On failure it returns an
// empty map and the error.
func (c *Client) Control(ctx context.Context, obj map[string]any) (Value, error) {
	enc, err := AppendAny(nil, obj)
	if err != nil {
		return emptyMap(), err
	}
	return roundTrip(c, ctx, CmdControl, 1, func(b []byte) []byte { return append(b, enc...) },
		emptyMap(), (*Call).Object)
}

// NoopGet sends the benchmarking noop_get; the server answers with 512 '.'.
func (c *Client) NoopGet(ctx context.Context, key string) ([]byte, error) {
	return roundTrip(c, ctx, CmdNoopGet, 1, str1(key), nil, (*Call).Bytes)
}

// --- typed helpers, asynchronous ------------------------------------------
//
// Each returns at once with a *Call that is sent on done (or on call.Done if
// done is nil) when the reply arrives; read the result with Check, Bytes,
// Int, KVs or Object. For ranges, an empty scanlast means "not given" (an
// empty scanlast would select nothing anyway).

// GetAsync starts a get.
func (c *Client) GetAsync(key string, done chan *Call) *Call {
	return c.send(newCall(CmdGet, done), 1, str1(key))
}

// InsertAsync starts an insert.
func (c *Client) InsertAsync(key, value string, done chan *Call) *Call {
	return c.send(newCall(CmdInsert, done), 2, func(b []byte) []byte {
		return AppendString(AppendString(b, key), value)
	})
}

// EraseAsync starts an erase.
func (c *Client) EraseAsync(key string, done chan *Call) *Call {
	return c.send(newCall(CmdErase, done), 1, str1(key))
}

// NotifyInsertAsync starts a notify_insert.
func (c *Client) NotifyInsertAsync(key, value string, done chan *Call) *Call {
	return c.send(newCall(CmdNotifyInsert, done), 2, func(b []byte) []byte {
		return AppendString(AppendString(b, key), value)
	})
}

// NotifyEraseAsync starts a notify_erase.
func (c *Client) NotifyEraseAsync(key string, done chan *Call) *Call {
	return c.send(newCall(CmdNotifyErase, done), 1, str1(key))
}

// CountAsync starts a count ("" scanlast = not given).
func (c *Client) CountAsync(first, last, scanlast string, done chan *Call) *Call {
	n, args := rangeArgs(first, last, scanlast)
	return c.send(newCall(CmdCount, done), n, args)
}

// ScanAsync starts a scan ("" scanlast = not given).
func (c *Client) ScanAsync(first, last, scanlast string, done chan *Call) *Call {
	n, args := rangeArgs(first, last, scanlast)
	return c.send(newCall(CmdScan, done), n, args)
}

// SubscribeAsync starts a subscribe.
func (c *Client) SubscribeAsync(first, last string, subscriber int64, done chan *Call) *Call {
	return c.send(newCall(CmdSubscribe, done), 3, subArgs(first, last, subscriber))
}

// UnsubscribeAsync starts an unsubscribe.
func (c *Client) UnsubscribeAsync(first, last string, subscriber int64, done chan *Call) *Call {
	return c.send(newCall(CmdUnsubscribe, done), 3, subArgs(first, last, subscriber))
}

// InvalidateAsync starts an invalidate.
func (c *Client) InvalidateAsync(first, last string, done chan *Call) *Call {
	n, args := rangeArgs(first, last, "")
	return c.send(newCall(CmdInvalidate, done), n, args)
}

// AddJoinAsync starts an add_join.
func (c *Client) AddJoinAsync(first, last, spec string, done chan *Call) *Call {
	return c.send(newCall(CmdAddJoin, done), 3, func(b []byte) []byte {
		return AppendString(AppendString(AppendString(b, first), last), spec)
	})
}

// StatsAsync starts a stats request.
func (c *Client) StatsAsync(done chan *Call) *Call {
	return c.send(newCall(CmdStats, done), 0, nil)
}

// ControlAsync starts a control request.
func (c *Client) ControlAsync(obj map[string]any, done chan *Call) *Call {
	return c.Go(CmdControl, []any{obj}, done)
}

// NoopGetAsync starts a noop_get.
func (c *Client) NoopGetAsync(key string, done chan *Call) *Call {
	return c.send(newCall(CmdNoopGet, done), 1, str1(key))
}

// dialRetry dials addr every interval until it succeeds or ctx ends.
func dialRetry(ctx context.Context, addr string, interval time.Duration) (net.Conn, error) {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wire: dial %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-t.C:
		}
	}
}
