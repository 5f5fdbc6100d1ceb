// Package pqclient owns the workloads' asynchronous connection to Pequod:
// one API whose completions run on an async.Loop, over either a TCP
// connection (wire.Client) or an embedded partition.Server in the same
// process (apps.md §1: with no server address an app talks to an in-process
// server). The embedded path hands the server request structs and takes
// replies as values — msgpack is for sockets — and both paths deliver the
// same outcomes, so an application behaves identically over either.
//
// Cluster is the multi-server client (spec/server.md §2.10): one Conn per
// server of a host file, each request routed by key with a §2.9 partition
// function. Workloads take the Client interface, which both implement.
package pqclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/wire"
)

// ErrFailed is the error of a request the server answered with a failure
// status (spec/server.md §1.3).
var ErrFailed = errors.New("pequod: request failed")

// reply is one request's outcome, read on the loop goroutine: a decoded
// payload (TCP), or, from an embedded server, the payload as values
// (direct).
type reply struct {
	status  int64
	payload wire.Value
	err     error
	release func()
	direct  bool
	value   partition.Result
}

// request is one request's command and string arguments (or, for control,
// its encoded object).
type request struct {
	cmd  wire.Cmd
	n    int
	args [3]string
	enc  []byte // control's encoded object
}

// appendArgs encodes the arguments after the request header.
func (rq *request) appendArgs(b []byte) []byte {
	if rq.enc != nil {
		return append(b, rq.enc...)
	}
	for i := 0; i < rq.n; i++ {
		b = wire.AppendString(b, rq.args[i])
	}
	return b
}

func (rq *request) nargs() int {
	if rq.enc != nil {
		return 1
	}
	return rq.n
}

// transport sends one request; cb runs on the loop goroutine.
type transport interface {
	send(rq request, cb func(reply))
	close() error
	describe() string
}

// Conn is an asynchronous Pequod connection. Request methods must be called
// on the loop's goroutine (the application goroutine); their callbacks run
// there too, from Loop.Poll/Wait/Pace/Drain.
type Conn struct {
	loop *async.Loop
	t    transport
}

// Loop is the loop the connection's completions run on.
func (c *Conn) Loop() *async.Loop { return c.loop }

// String describes the connection ("tcp 127.0.0.1:8000" or "embedded").
func (c *Conn) String() string { return c.t.describe() }

// Dial connects to a Pequod server at addr (host:port).
func Dial(ctx context.Context, addr string, loop *async.Loop) (*Conn, error) {
	wc, err := wire.DialContext(ctx, addr, nil)
	if err != nil {
		return nil, fmt.Errorf("pqclient: dial %s: %w", addr, err)
	}
	return &Conn{loop: loop, t: newRemote(wc, loop)}, nil
}

// Embedded returns a connection to srv in this process. Closing the
// connection does not close srv.
func Embedded(srv *partition.Server, loop *async.Loop) *Conn {
	return &Conn{loop: loop, t: &local{srv: srv, loop: loop, pending: make(map[*localCall]struct{})}}
}

// Close closes the connection; outstanding requests complete with errors.
func (c *Conn) Close() error { return c.t.close() }

func req(cmd wire.Cmd, args ...string) request {
	rq := request{cmd: cmd, n: len(args)}
	copy(rq.args[:], args)
	return rq
}

func (r reply) check() error {
	if r.err != nil {
		return r.err
	}
	if r.status != wire.StatusOK {
		return ErrFailed
	}
	return nil
}

func (r reply) done() {
	if r.release != nil {
		r.release()
	}
}

// Insert stores key = value.
func (c *Conn) Insert(key, value string, done func(error)) {
	c.t.send(req(wire.CmdInsert, key, value), func(r reply) {
		err := r.check()
		r.done()
		if done != nil {
			done(err)
		}
	})
}

// Erase removes key.
func (c *Conn) Erase(key string, done func(error)) {
	c.t.send(req(wire.CmdErase, key), func(r reply) {
		err := r.check()
		r.done()
		if done != nil {
			done(err)
		}
	})
}

// Get reads key's value (empty when absent).
func (c *Conn) Get(key string, done func([]byte, error)) {
	c.t.send(req(wire.CmdGet, key), func(r reply) {
		var v []byte
		err := r.check()
		if err == nil {
			if r.direct {
				v = []byte(r.value.Str)
			} else {
				v = append([]byte(nil), r.payload.Bytes()...)
			}
		}
		r.done()
		done(v, err)
	})
}

func rangeReq(cmd wire.Cmd, first, last, scanlast string) request {
	if scanlast == "" {
		return req(cmd, first, last)
	}
	return req(cmd, first, last, scanlast)
}

// Count validates [first, last) and counts the keys in [first, scanlast)
// (scanlast "" means last) (spec/server.md §1.6).
func (c *Conn) Count(first, last, scanlast string, done func(int64, error)) {
	c.t.send(rangeReq(wire.CmdCount, first, last, scanlast), func(r reply) {
		var v int64
		err := r.check()
		if err == nil && r.direct {
			if v = r.value.Int; r.value.Kind != partition.ResultInt {
				err = fmt.Errorf("pequod: count reply %+v is not an integer", r.value)
			}
		} else if err == nil {
			var ok bool
			if v, ok = r.payload.Int(); !ok {
				err = fmt.Errorf("pequod: count reply %v is not an integer", r.payload)
			}
		}
		r.done()
		done(v, err)
	})
}

// Scan validates [first, last) and returns the pairs in [first, scanlast).
// The pairs are owned by the callee.
func (c *Conn) Scan(first, last, scanlast string, done func([]wire.KV, error)) {
	c.t.send(rangeReq(wire.CmdScan, first, last, scanlast), func(r reply) {
		kvs, err := scanPairs(r)
		r.done()
		done(kvs, err)
	})
}

func scanPairs(r reply) ([]wire.KV, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	if r.direct {
		ss := r.value.Strs
		if r.value.Kind != partition.ResultStrings || len(ss)%2 != 0 {
			return nil, fmt.Errorf("pequod: scan reply is not a flat key/value array")
		}
		// One block for all the bytes: the pairs are the callee's.
		size := 0
		for _, x := range ss {
			size += len(x)
		}
		buf := make([]byte, 0, size)
		kvs := make([]wire.KV, len(ss)/2)
		for i := range kvs {
			k, v := ss[2*i], ss[2*i+1]
			buf = append(buf, k...)
			kvs[i].Key = buf[len(buf)-len(k) : len(buf) : len(buf)]
			buf = append(buf, v...)
			kvs[i].Value = buf[len(buf)-len(v) : len(buf) : len(buf)]
		}
		return kvs, nil
	}
	p := r.payload
	if !p.IsArray() || p.Len()%2 != 0 {
		return nil, fmt.Errorf("pequod: scan reply is not a flat key/value array")
	}
	kvs := make([]wire.KV, p.Len()/2)
	for i := range kvs {
		kvs[i] = wire.KV{
			Key:   append([]byte(nil), p.Index(2*i).Bytes()...),
			Value: append([]byte(nil), p.Index(2*i+1).Bytes()...),
		}
	}
	return kvs, nil
}

// AddJoin installs a join on [first, last). msg is the server's text, if
// any: the error text on failure (spec/server.md §1.6: the reply payload is
// null or an error string), or a map's "message" from servers that send one.
func (c *Conn) AddJoin(first, last, text string, done func(msg string, err error)) {
	c.t.send(req(wire.CmdAddJoin, first, last, text), func(r reply) {
		err := r.check()
		msg := ""
		if r.direct {
			if r.value.Kind == partition.ResultString {
				msg = r.value.Str
			}
		} else if r.err == nil {
			if r.payload.IsStr() {
				msg = r.payload.Str()
			} else if m, ok := r.payload.Get("message"); ok {
				msg = m.Str()
			}
		}
		if err != nil && msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		r.done()
		done(msg, err)
	})
}

// StatsAsync requests the server's stats object (§5.1) as JSON.
func (c *Conn) StatsAsync(done func(json.RawMessage, error)) {
	c.t.send(req(wire.CmdStats), func(r reply) {
		v, err := objectJSON(r)
		r.done()
		done(v, err)
	})
}

// ControlAsync sends a control object (spec/server.md §1.7) and returns the
// reply's payload as JSON. {"quit": true} gets no reply; do not wait for it.
func (c *Conn) ControlAsync(obj map[string]any, done func(json.RawMessage, error)) {
	enc, err := wire.AppendAny(nil, obj)
	if err != nil {
		c.loop.Start()
		c.loop.Finish(func() { done(nil, fmt.Errorf("pqclient: encode control: %w", err)) })
		return
	}
	c.t.send(request{cmd: wire.CmdControl, enc: enc}, func(r reply) {
		v, err := objectJSON(r)
		r.done()
		done(v, err)
	})
}

func objectJSON(r reply) (json.RawMessage, error) {
	if r.err != nil {
		return nil, r.err
	}
	b := r.payload.AppendJSON(nil)
	if r.status != wire.StatusOK {
		return b, ErrFailed
	}
	return b, nil
}

// Stats is the synchronous StatsAsync: it runs the loop until the reply
// arrives (other completions run meanwhile).
func (c *Conn) Stats(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	var outErr error
	finished := false
	c.StatsAsync(func(v json.RawMessage, err error) { out, outErr, finished = v, err, true })
	if err := c.loop.Until(ctx, func() bool { return finished }); err != nil {
		return nil, err
	}
	return out, outErr
}

// Control is the synchronous ControlAsync.
func (c *Conn) Control(ctx context.Context, obj map[string]any) (json.RawMessage, error) {
	var out json.RawMessage
	var outErr error
	finished := false
	c.ControlAsync(obj, func(v json.RawMessage, err error) { out, outErr, finished = v, err, true })
	if err := c.loop.Until(ctx, func() bool { return finished }); err != nil {
		return nil, err
	}
	return out, outErr
}

// --- remote ---------------------------------------------------------------

type remote struct {
	c    *wire.Client
	loop *async.Loop
	mu   sync.Mutex
	// queue holds the calls in issue order. Each call completes on its own
	// channel (wire.Client never drops those, whereas a shared done
	// channel that fills up loses completions); the forwarder waits for
	// them in order, which only delays a reply that overtook an earlier
	// one until that one arrives.
	queue []remoteCall
	more  chan struct{}
	stop  bool
	exit  chan struct{}
}

type remoteCall struct {
	call *wire.Call
	cb   func(reply)
}

func newRemote(c *wire.Client, loop *async.Loop) *remote {
	r := &remote{c: c, loop: loop, more: make(chan struct{}, 1), exit: make(chan struct{})}
	go r.forward()
	return r
}

func (r *remote) describe() string { return "tcp " + r.c.RemoteAddr().String() }

func (r *remote) send(rq request, cb func(reply)) {
	r.loop.Start()
	call := r.c.GoRaw(rq.cmd, rq.nargs(), rq.appendArgs, nil)
	r.mu.Lock()
	r.queue = append(r.queue, remoteCall{call, cb})
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
}

// forward moves completed calls to the loop, in issue order.
func (r *remote) forward() {
	defer close(r.exit)
	var batch []remoteCall
	for {
		r.mu.Lock()
		batch, r.queue = r.queue, batch[:0]
		stop := r.stop
		r.mu.Unlock()
		if len(batch) == 0 {
			if stop {
				return
			}
			<-r.more
			continue
		}
		for i, rc := range batch {
			call := <-rc.call.Done
			rep := reply{status: call.Status, payload: call.Payload, err: call.Err, release: call.Release}
			cb := rc.cb
			r.loop.Finish(func() { cb(rep) })
			batch[i] = remoteCall{}
		}
	}
}

// close closes the client; outstanding calls complete with ErrClosed and
// are forwarded before close returns.
func (r *remote) close() error {
	err := r.c.Close()
	r.mu.Lock()
	r.stop = true
	r.mu.Unlock()
	select {
	case r.more <- struct{}{}:
	default:
	}
	<-r.exit
	return err
}

// --- embedded -------------------------------------------------------------

// local hands requests straight to an in-process partition.Server as
// partition.Requests and takes the replies as values (partition.ValueReplier):
// nothing is encoded or parsed on the way.
type local struct {
	srv     *partition.Server
	loop    *async.Loop
	mu      sync.Mutex
	pending map[*localCall]struct{}
	closed  bool
	// free holds completed calls for reuse, and batch is Dispatch's
	// argument. send and the completions both run on the loop's
	// goroutine, so they need no lock.
	free  []*localCall
	batch [1]*partition.Request
}

// localCall is one request in flight: the partition.Request, its
// completion and, once answered, its reply, in one reusable allocation.
type localCall struct {
	partition.Request
	l    *local
	cb   func(reply)
	r    reply
	done func() // c.complete, bound once
}

// complete runs on the loop's goroutine: the callback, then the call goes
// back to the free list.
func (c *localCall) complete() {
	cb, r := c.cb, c.r
	c.cb, c.r = nil, reply{}
	c.Request = partition.Request{}
	c.l.free = append(c.l.free, c)
	cb(r)
}

func (l *local) describe() string { return "embedded" }

func (l *local) send(rq request, cb func(reply)) {
	l.loop.Start()
	fail := func() { l.loop.Finish(func() { cb(reply{status: wire.StatusFail, err: wire.ErrClosed}) }) }
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		fail()
		return
	}
	var c *localCall
	if n := len(l.free); n > 0 {
		c = l.free[n-1]
		l.free = l.free[:n-1]
	} else {
		c = &localCall{l: l}
		c.done = c.complete
	}
	c.cb = cb
	c.Request = partition.Request{Cmd: rq.cmd, Reply: c, Seq: localSeq}
	if rq.enc != nil {
		// The control object as the server sees it from a socket.
		if v, err := wire.Parse(rq.enc); err == nil {
			c.Control, _ = v.Interface().(map[string]any)
		}
	}
	switch {
	case rq.cmd == wire.CmdAddJoin:
		c.Key, c.Arg3, c.Arg4, c.HasArg4 = rq.args[0], rq.args[1], rq.args[2], true
	case rq.n == 3:
		c.Key, c.Arg3, c.Arg4, c.HasArg4 = rq.args[0], rq.args[1], rq.args[2], true
	default:
		c.Key, c.Arg3 = rq.args[0], rq.args[1]
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		fail() // c is dropped, not reused
		return
	}
	l.pending[c] = struct{}{}
	l.mu.Unlock()
	l.batch[0] = &c.Request
	l.srv.Dispatch(l.batch[:])
	l.batch[0] = nil
}

// localSeq is the seq every embedded request carries (encoded 0): replies
// find their call through the Request itself.
var localSeq = []byte{0}

// ReplyValue implements partition.ValueReplier; it runs on partition
// goroutines.
func (c *localCall) ReplyValue(q *partition.Request) {
	res := q.Result()
	if res.Kind == partition.ResultEncoded {
		c.SendReply(q.AppendTo(nil))
		return
	}
	c.l.finish(c, reply{status: int64(res.Status), direct: true, value: res})
}

// SendReply implements partition.Replier for the replies a partition
// encodes itself (stats, control).
func (c *localCall) SendReply(b []byte) {
	msg, err := wire.Parse(b)
	var rep wire.Reply
	ok := err == nil
	if ok {
		rep, ok = wire.ParseReply(msg)
	}
	if !ok {
		c.l.finish(c, reply{status: wire.StatusFail, err: fmt.Errorf("pqclient: bad reply %x", b)})
		return
	}
	c.l.finish(c, reply{status: rep.Status, payload: rep.Payload})
}

func (l *local) finish(c *localCall, r reply) {
	l.mu.Lock()
	_, ok := l.pending[c]
	delete(l.pending, c)
	l.mu.Unlock()
	if ok {
		c.r = r
		l.loop.Finish(c.done)
	}
}

func (l *local) close() error {
	l.mu.Lock()
	l.closed = true
	pending := l.pending
	l.pending = make(map[*localCall]struct{})
	l.mu.Unlock()
	for c := range pending {
		// The partition may still answer c: leave it alone, never reuse it.
		cb := c.cb
		l.loop.Finish(func() { cb(reply{status: wire.StatusFail, err: wire.ErrClosed}) })
	}
	return nil
}
