// Package pqclient owns the workloads' asynchronous connection to Pequod:
// one API whose completions run on an async.Loop, over either a TCP
// connection (wire.Client) or an embedded partition.Server in the same
// process (apps.md §1: with no server address an app talks to an in-process
// server). Both paths carry the same msgpack requests and replies, so an
// application behaves identically over either.
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

// reply is one request's outcome, read on the loop goroutine.
type reply struct {
	status  int64
	payload wire.Value
	err     error
	release func()
}

// transport sends one encoded request; cb runs on the loop goroutine.
type transport interface {
	send(cmd wire.Cmd, nargs int, args func([]byte) []byte, cb func(reply))
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
	return &Conn{loop: loop, t: &local{srv: srv, loop: loop, pending: make(map[uint64]func(reply))}}
}

// Close closes the connection; outstanding requests complete with errors.
func (c *Conn) Close() error { return c.t.close() }

func str1(a string) func([]byte) []byte {
	return func(b []byte) []byte { return wire.AppendString(b, a) }
}

func str2(a, b2 string) func([]byte) []byte {
	return func(b []byte) []byte { return wire.AppendString(wire.AppendString(b, a), b2) }
}

func str3(a, b2, c string) func([]byte) []byte {
	return func(b []byte) []byte {
		return wire.AppendString(wire.AppendString(wire.AppendString(b, a), b2), c)
	}
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
	c.t.send(wire.CmdInsert, 2, str2(key, value), func(r reply) {
		err := r.check()
		r.done()
		if done != nil {
			done(err)
		}
	})
}

// Erase removes key.
func (c *Conn) Erase(key string, done func(error)) {
	c.t.send(wire.CmdErase, 1, str1(key), func(r reply) {
		err := r.check()
		r.done()
		if done != nil {
			done(err)
		}
	})
}

// Get reads key's value (empty when absent).
func (c *Conn) Get(key string, done func([]byte, error)) {
	c.t.send(wire.CmdGet, 1, str1(key), func(r reply) {
		var v []byte
		err := r.check()
		if err == nil {
			v = append([]byte(nil), r.payload.Bytes()...)
		}
		r.done()
		done(v, err)
	})
}

func rangeArgs(first, last, scanlast string) (int, func([]byte) []byte) {
	if scanlast == "" {
		return 2, str2(first, last)
	}
	return 3, str3(first, last, scanlast)
}

// Count validates [first, last) and counts the keys in [first, scanlast)
// (scanlast "" means last) (spec/server.md §1.6).
func (c *Conn) Count(first, last, scanlast string, done func(int64, error)) {
	n, args := rangeArgs(first, last, scanlast)
	c.t.send(wire.CmdCount, n, args, func(r reply) {
		var v int64
		err := r.check()
		if err == nil {
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
	n, args := rangeArgs(first, last, scanlast)
	c.t.send(wire.CmdScan, n, args, func(r reply) {
		kvs, err := scanPairs(r)
		r.done()
		done(kvs, err)
	})
}

func scanPairs(r reply) ([]wire.KV, error) {
	if err := r.check(); err != nil {
		return nil, err
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
	c.t.send(wire.CmdAddJoin, 3, str3(first, last, text), func(r reply) {
		err := r.check()
		msg := ""
		if r.err == nil {
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
	c.t.send(wire.CmdStats, 0, nil, func(r reply) {
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
	c.t.send(wire.CmdControl, 1, func(b []byte) []byte { return append(b, enc...) }, func(r reply) {
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

func (r *remote) send(cmd wire.Cmd, nargs int, args func([]byte) []byte, cb func(reply)) {
	r.loop.Start()
	call := r.c.GoRaw(cmd, nargs, args, nil)
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

// local dispatches requests straight to an in-process partition.Server: no
// socket and no event loop, only the msgpack encoding both paths share.
type local struct {
	srv     *partition.Server
	loop    *async.Loop
	mu      sync.Mutex
	seq     uint64
	pending map[uint64]func(reply)
	closed  bool
	buf     []byte
}

func (l *local) describe() string { return "embedded" }

func (l *local) send(cmd wire.Cmd, nargs int, args func([]byte) []byte, cb func(reply)) {
	l.loop.Start()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.loop.Finish(func() { cb(reply{status: wire.StatusFail, err: wire.ErrClosed}) })
		return
	}
	seq := l.seq
	l.seq++
	l.pending[seq] = cb
	l.mu.Unlock()

	b := wire.AppendRequestHeader(l.buf[:0], cmd, seq, nargs)
	if args != nil {
		b = args(b)
	}
	l.buf = b
	msg, err := wire.Parse(b)
	var req *partition.Request
	if err == nil {
		wr, verdict := wire.ParseRequest(msg)
		if verdict != wire.Accept {
			err = fmt.Errorf("pqclient: request rejected: %s", wr.Reason)
		} else {
			req, err = partition.FromWire(&wr, l)
		}
	}
	if err != nil {
		l.finish(seq, reply{status: wire.StatusFail, err: err})
		return
	}
	l.srv.Dispatch([]*partition.Request{req})
}

// SendReply implements partition.Replier; it runs on partition goroutines.
func (l *local) SendReply(b []byte) {
	msg, err := wire.Parse(b)
	if err != nil {
		return // cannot happen: the partition encodes replies itself
	}
	rep, ok := wire.ParseReply(msg)
	if !ok || rep.Seq < 0 {
		return
	}
	l.finish(uint64(rep.Seq), reply{status: rep.Status, payload: rep.Payload})
}

func (l *local) finish(seq uint64, r reply) {
	l.mu.Lock()
	cb, ok := l.pending[seq]
	delete(l.pending, seq)
	l.mu.Unlock()
	if ok {
		l.loop.Finish(func() { cb(r) })
	}
}

func (l *local) close() error {
	l.mu.Lock()
	l.closed = true
	pending := l.pending
	l.pending = make(map[uint64]func(reply))
	l.mu.Unlock()
	for _, cb := range pending {
		l.loop.Finish(func() { cb(reply{status: wire.StatusFail, err: wire.ErrClosed}) })
	}
	return nil
}
