package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/redisclient"
)

// errClosed is the error of requests issued after Close.
var errClosed = errors.New("redis shim: connection closed")

// pending is one command in flight and the continuation of its reply.
type pending struct {
	call *redisclient.Call
	cb   func(*redisclient.Call)
}

// conn is a pipelined Redis connection whose replies are delivered on an
// async.Loop. Redis answers in issue order, so a forwarding goroutine waits
// for the calls in the order they were issued and hands each to the loop.
// Every call uses its own completion channel (redisclient drops deliveries
// to a full shared channel), so no reply is ever lost however many are
// outstanding.
type conn struct {
	c    *redisclient.Client
	loop *async.Loop
	addr string

	mu       sync.Mutex
	queue    []pending
	head     int
	closed   bool
	wake     chan struct{}
	finished chan struct{} // closed when forward returns
}

func dial(ctx context.Context, addr string, loop *async.Loop) (*conn, error) {
	if loop == nil {
		return nil, errors.New("redis shim: nil async.Loop")
	}
	c, err := redisclient.Dial(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("redis shim: dial %s: %w", addr, err)
	}
	cn := &conn{c: c, loop: loop, addr: addr, wake: make(chan struct{}, 1), finished: make(chan struct{})}
	go cn.forward()
	return cn, nil
}

// send issues one command; cb runs on the loop's goroutine with the
// completed call, which is released after cb returns (cb must copy what it
// keeps).
func (cn *conn) send(cb func(*redisclient.Call), args ...[]byte) {
	cn.loop.Start()
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		call := &redisclient.Call{Err: errClosed}
		cn.loop.Finish(func() { cb(call) })
		return
	}
	call := cn.c.Go(nil, args...)
	cn.queue = append(cn.queue, pending{call: call, cb: cb})
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

// forward moves completed calls to the loop, in issue order.
func (cn *conn) forward() {
	defer close(cn.finished)
	for {
		cn.mu.Lock()
		for cn.head == len(cn.queue) {
			cn.queue, cn.head = cn.queue[:0], 0
			if cn.closed {
				cn.mu.Unlock()
				return
			}
			cn.mu.Unlock()
			<-cn.wake
			cn.mu.Lock()
		}
		p := cn.queue[cn.head]
		cn.queue[cn.head] = pending{}
		cn.head++
		cn.mu.Unlock()

		<-p.call.Done
		cn.loop.Finish(func() {
			p.cb(p.call)
			p.call.Release()
		})
	}
}

// close closes the connection. Requests outstanding complete with errors;
// their callbacks run when the loop is next polled.
func (cn *conn) close() error {
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		<-cn.finished
		return nil
	}
	cn.closed = true
	cn.mu.Unlock()
	err := cn.c.Close() // completes every outstanding call
	select {
	case cn.wake <- struct{}{}:
	default:
	}
	<-cn.finished
	if err != nil {
		return fmt.Errorf("redis shim: close %s: %w", cn.addr, err)
	}
	return nil
}

// check returns the call's error (connection failure or Redis error reply),
// wrapped with the operation's name.
func check(call *redisclient.Call, op string) error {
	if err := call.Check(); err != nil {
		return fmt.Errorf("redis shim: %s: %w", op, err)
	}
	return nil
}

// fail reports err to done through the loop (never synchronously).
func (cn *conn) fail(err error, done func(error)) {
	cn.loop.Start()
	cn.loop.Finish(func() { done(err) })
}

// gather runs done once after n sub-requests have all completed, with the
// first error any of them reported.
type gather struct {
	n    int
	err  error
	done func(error)
}

func (g *gather) finish(err error) {
	if err != nil && g.err == nil {
		g.err = err
	}
	g.n--
	if g.n == 0 {
		g.done(g.err)
	}
}

var (
	cmdSADD          = []byte("SADD")
	cmdZADD          = []byte("ZADD")
	cmdSMEMBERS      = []byte("SMEMBERS")
	cmdZRANGEBYSCORE = []byte("ZRANGEBYSCORE")
	cmdSET           = []byte("SET")
	cmdGET           = []byte("GET")
	cmdAPPEND        = []byte("APPEND")
	cmdINCR          = []byte("INCR")
)
