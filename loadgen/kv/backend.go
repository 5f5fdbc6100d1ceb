package kv

import (
	"context"
	"errors"
	"fmt"

	"github.com/pequod-go/pequod/loadgen/redisclient"
	"github.com/pequod-go/pequod/wire"
)

// Op is a request kind.
type Op uint8

const (
	OpGet Op = iota
	OpSet
)

func (o Op) String() string {
	if o == OpGet {
		return "get"
	}
	return "set"
}

// Completion reports the end of one request issued on a Conn.
type Completion struct {
	// Tag is the tag the request was issued with.
	Tag uint32
	// Value is a get's value (nil for a missing key; empty and missing are
	// the same to Pequod). It is valid until the next call of Next.
	Value []byte
	// Err is set when the request failed: a transport error, a failure
	// status or an error reply.
	Err error
}

// Conn is one pipelined connection to a key-value server. Issue and Next
// are called from a single goroutine; a Conn keeps no limit of its own on
// outstanding requests (the driver keeps at most the pipeline depth in
// flight).
type Conn interface {
	// Issue starts a request asynchronously and returns at once. value is
	// used only by OpSet. key and value may be reused after Issue returns.
	Issue(op Op, key, value []byte, tag uint32)
	// Next waits for the next completion, in any order.
	Next(ctx context.Context) (Completion, error)
	// Close closes the connection; outstanding requests are abandoned.
	Close() error
}

// Backend makes connections to one kind of server.
type Backend interface {
	Name() string
	// Dial connects; depth is the most requests the caller keeps in
	// flight on the connection.
	Dial(ctx context.Context, addr string, depth int) (Conn, error)
}

// NewBackend returns the back end named "pequod" or "redis".
func NewBackend(name string) (Backend, error) {
	switch name {
	case "pequod":
		return Pequod{}, nil
	case "redis":
		return Redis{}, nil
	}
	return nil, fmt.Errorf("unknown backend %q (want pequod or redis)", name)
}

// Pequod speaks the Pequod msgpack RPC protocol through wire.Client: get is
// [1, seq, key], set is insert [2, seq, key, value] (as memtier's -P pequod,
// spec/server.md §1.9).
type Pequod struct{}

func (Pequod) Name() string { return "pequod" }

func (Pequod) Dial(ctx context.Context, addr string, depth int) (Conn, error) {
	c, err := wire.DialContext(ctx, addr, nil)
	if err != nil {
		return nil, err
	}
	return &pequodConn{c: c, done: make(chan *wire.Call, max(depth, 1)), tags: make(map[*wire.Call]uint32)}, nil
}

type pequodConn struct {
	c    *wire.Client
	done chan *wire.Call
	tags map[*wire.Call]uint32
	last *wire.Call // completed call handed out by Next; released on the next Next
}

func (p *pequodConn) Issue(op Op, key, value []byte, tag uint32) {
	p.tags[issue(p.c, op, key, value, p.done)] = tag
}

// issue sends a get or an insert on c, completing on done.
func issue(c *wire.Client, op Op, key, value []byte, done chan *wire.Call) *wire.Call {
	if op == OpGet {
		return c.GoRaw(wire.CmdGet, 1, func(b []byte) []byte { return wire.AppendStr(b, key) }, done)
	}
	return c.GoRaw(wire.CmdInsert, 2, func(b []byte) []byte {
		return wire.AppendStr(wire.AppendStr(b, key), value)
	}, done)
}

func (p *pequodConn) Next(ctx context.Context) (Completion, error) {
	if p.last != nil {
		p.last.Release()
		p.last = nil
	}
	var call *wire.Call
	select {
	case call = <-p.done:
	case <-ctx.Done():
		return Completion{}, ctx.Err()
	}
	tag, ok := p.tags[call]
	if !ok {
		return Completion{}, errors.New("pequod: completion of an unknown call")
	}
	delete(p.tags, call)
	p.last = call
	return complete(call, tag), nil
}

// complete is the completion of a call issue made.
func complete(call *wire.Call, tag uint32) Completion {
	comp := Completion{Tag: tag}
	if err := call.Check(); err != nil {
		comp.Err = err
	} else if call.Cmd == wire.CmdGet {
		comp.Value = call.Payload.Bytes()
	}
	return comp
}

func (p *pequodConn) Close() error { return p.c.Close() }

// Redis speaks RESP2 through redisclient: GET key and SET key value.
type Redis struct{}

func (Redis) Name() string { return "redis" }

func (Redis) Dial(ctx context.Context, addr string, depth int) (Conn, error) {
	c, err := redisclient.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &redisConn{c: c, done: make(chan *redisclient.Call, max(depth, 1)), tags: make(map[*redisclient.Call]uint32)}, nil
}

type redisConn struct {
	c    *redisclient.Client
	done chan *redisclient.Call
	tags map[*redisclient.Call]uint32
	last *redisclient.Call
}

func (r *redisConn) Issue(op Op, key, value []byte, tag uint32) {
	var call *redisclient.Call
	if op == OpGet {
		call = r.c.Get(key, r.done)
	} else {
		call = r.c.Set(key, value, r.done)
	}
	r.tags[call] = tag
}

func (r *redisConn) Next(ctx context.Context) (Completion, error) {
	if r.last != nil {
		r.last.Release()
		r.last = nil
	}
	var call *redisclient.Call
	select {
	case call = <-r.done:
	case <-ctx.Done():
		return Completion{}, ctx.Err()
	}
	tag, ok := r.tags[call]
	if !ok {
		return Completion{}, errors.New("redis: completion of an unknown call")
	}
	delete(r.tags, call)
	r.last = call
	comp := Completion{Tag: tag}
	if err := call.Check(); err != nil {
		comp.Err = err
	} else if call.Reply.Kind == redisclient.KindBulk {
		if !call.Reply.Nil {
			comp.Value = call.Reply.Str
			if comp.Value == nil {
				comp.Value = []byte{}
			}
		}
	} else if call.Reply.Kind != redisclient.KindStatus {
		comp.Err = fmt.Errorf("redis: unexpected reply %s", call.Reply)
	}
	return comp, nil
}

func (r *redisConn) Close() error { return r.c.Close() }
