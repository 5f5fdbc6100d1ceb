package memcached

import (
	"context"
	"errors"
	"fmt"

	"github.com/pequod-go/pequod/loadgen/kv"
	"github.com/pequod-go/pequod/loadgen/memcache"
)

// KV is the raw key-value back end on memcached (apps.md §8, memtier's
// memcache_binary protocol): get is GET, set is SET (flags 0, no
// expiration). A get of a missing key completes with a nil Value, as for the
// other back ends.
type KV struct {
	// Options configures the connections (nil: defaults, values up to
	// 1 MiB).
	Options *memcache.Options
}

var _ kv.Backend = KV{}

// Name reports "memcached".
func (KV) Name() string { return "memcached" }

// Dial connects to the memcached server at addr.
func (b KV) Dial(ctx context.Context, addr string, depth int) (kv.Conn, error) {
	c, err := memcache.Dial(ctx, addr, b.Options)
	if err != nil {
		return nil, fmt.Errorf("memcached kv: %w", err)
	}
	return &kvConn{c: c, done: make(chan *memcache.Call, max(depth, 1)), tags: make(map[*memcache.Call]uint32)}, nil
}

type kvConn struct {
	c    *memcache.Client
	done chan *memcache.Call
	tags map[*memcache.Call]uint32
	last *memcache.Call // completed call handed out by Next; released on the next Next
}

// Issue starts a GET or SET.
func (k *kvConn) Issue(op kv.Op, key, value []byte, tag uint32) {
	req := memcache.Request{Op: memcache.OpGet, Key: key}
	if op == kv.OpSet {
		req = memcache.Request{Op: memcache.OpSet, Key: key, Value: value}
	}
	// tags is used only by the goroutine calling Issue and Next, so the
	// call cannot be looked up before it is registered here.
	call := k.c.Go(req, k.done)
	k.tags[call] = tag
}

// Next waits for the next completion.
func (k *kvConn) Next(ctx context.Context) (kv.Completion, error) {
	if k.last != nil {
		k.last.Release()
		k.last = nil
	}
	var call *memcache.Call
	select {
	case call = <-k.done:
	case <-ctx.Done():
		return kv.Completion{}, ctx.Err()
	}
	tag, ok := k.tags[call]
	if !ok {
		return kv.Completion{}, errors.New("memcached kv: completion of an unknown call")
	}
	delete(k.tags, call)
	k.last = call
	comp := kv.Completion{Tag: tag}
	switch {
	case call.Op == memcache.OpGet && call.Err == nil && call.Status == memcache.StatusKeyNotFound:
		// missing key: nil Value
	case call.Check() != nil:
		comp.Err = fmt.Errorf("memcached kv: %w", call.Check())
	case call.Op == memcache.OpGet:
		comp.Value = call.Value
		if comp.Value == nil {
			comp.Value = []byte{}
		}
	}
	return comp, nil
}

// Close closes the connection; outstanding requests are abandoned.
func (k *kvConn) Close() error { return k.c.Close() }
