package kv

import (
	"context"
	"errors"
	"fmt"

	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// Cluster is the Pequod back end over a cluster (-H): each Conn is one
// wire.Client per server of Hosts, and each get or set goes to the owner of
// its key under Servers (spec/server.md §2.10). The servers must run the
// same partition function. A key no server owns completes with an error.
type Cluster struct {
	// Hosts are the servers in seqid order (route.ReadHostFile).
	Hosts []route.Host
	// Servers places keys; Servers.N() == len(Hosts).
	Servers *route.Servers
}

// Name implements Backend.
func (Cluster) Name() string { return "pequod" }

// Dial implements Backend: it connects to every server in seqid order. addr
// is only the cluster's description for messages (the host file's name).
func (cl Cluster) Dial(ctx context.Context, addr string, depth int) (Conn, error) {
	if cl.Servers == nil || cl.Servers.N() != len(cl.Hosts) {
		return nil, fmt.Errorf("kv: cluster %s: the partition function does not match the %d hosts", addr, len(cl.Hosts))
	}
	c := &clusterConn{
		servers: cl.Servers,
		done:    make(chan *wire.Call, max(depth, 1)),
		tags:    make(map[*wire.Call]uint32),
	}
	for _, h := range cl.Hosts {
		wc, err := wire.DialContext(ctx, h.Addr(), nil)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("connection error (%s): %w", h, err)
		}
		c.clients = append(c.clients, wc)
	}
	return c, nil
}

// clusterConn is one connection per server sharing one completion channel:
// the driver keeps at most depth requests in flight over all of them.
type clusterConn struct {
	servers *route.Servers
	clients []*wire.Client
	done    chan *wire.Call
	tags    map[*wire.Call]uint32
	failed  []Completion // requests that could not be routed, reported first
	last    *wire.Call
}

func (c *clusterConn) Issue(op Op, key, value []byte, tag uint32) {
	o := c.servers.Owner(string(key))
	if o < 0 {
		c.failed = append(c.failed, Completion{Tag: tag, Err: fmt.Errorf("kv: key %q has no owning server under partition function %q", key, c.servers.Name())})
		return
	}
	c.tags[issue(c.clients[o], op, key, value, c.done)] = tag
}

func (c *clusterConn) Next(ctx context.Context) (Completion, error) {
	if c.last != nil {
		c.last.Release()
		c.last = nil
	}
	if n := len(c.failed); n > 0 {
		comp := c.failed[0]
		c.failed = c.failed[1:]
		return comp, nil
	}
	var call *wire.Call
	select {
	case call = <-c.done:
	case <-ctx.Done():
		return Completion{}, ctx.Err()
	}
	tag, ok := c.tags[call]
	if !ok {
		return Completion{}, errors.New("pequod: completion of an unknown call")
	}
	delete(c.tags, call)
	c.last = call
	return complete(call, tag), nil
}

func (c *clusterConn) Close() error {
	var errs []error
	for _, wc := range c.clients {
		if err := wc.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
