package partition

import (
	"fmt"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/engine"
	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// The server's place in a cluster (spec/server.md §3): which server owns a
// key, and which partition of that server. Inside a server, keys are spread
// over partitions by the server's own router; across servers, by the §2.9
// function of the cluster. A partition addresses a remote owner exactly,
// {server, partition}, from the layout that server announced when its link
// came up, so the peer protocol is the same between servers as within one.

// Cluster places a Server in a cluster of servers.
type Cluster struct {
	// Self is this server's seqid (§2.8).
	Self int
	// Servers is the cluster's partition function over servers (§2.9).
	Servers *route.Servers
	// Layout returns a peer server's partitions: its router and how many
	// there are. ok is false while the layout is unknown (the server has
	// never been connected); requests that need it then fail.
	Layout func(server int) (r route.Router, partitions int, ok bool)
	// Ready, if set, answers control {"is_ready"}: whether the links to
	// every other server are up.
	Ready func() bool
}

// serverOf returns the seqid of the server owning key, or -1 when this
// server should handle it (it owns the key, no server does, or there is
// no cluster).
func (s *Server) serverOf(key string) int {
	c := s.cfg.Cluster
	if c == nil {
		return -1
	}
	if o := c.Servers.Owner(key); o >= 0 && o != c.Self {
		return o
	}
	return -1
}

// rangeServer returns the single server owning all of [lo,hi) — -1 for
// this one (or for keys no server owns) — and false if several own parts.
func (s *Server) rangeServer(lo, hi string) (int, bool) {
	c := s.cfg.Cluster
	if c == nil {
		return -1, true
	}
	ps := c.Servers.Analyze(lo, hi, 2)
	if len(ps) != 1 {
		return 0, false
	}
	if o := ps[0].Owner; o >= 0 && o != c.Self {
		return o, true
	}
	return -1, true
}

// owns reports whether partition id of this server owns key.
func (s *Server) owns(id int, key string) bool {
	return s.serverOf(key) < 0 && s.router.Owner(key) == id
}

// ownerAddr is the partition that owns key, here or on another server.
func (s *Server) ownerAddr(key string) (peer.Addr, error) {
	o := s.serverOf(key)
	if o < 0 {
		return s.addrOf(s.router.Owner(key)), nil
	}
	r, _, ok := s.cfg.Cluster.Layout(o)
	if !ok {
		return peer.Addr{}, notConnected(o)
	}
	return peer.Addr{Server: int32(o), Partition: int32(r.Owner(key))}, nil
}

// rangeOwners lists the partitions, here and elsewhere, that may own keys
// of [lo,hi), except me: the owners a copy of the range subscribes to.
func (s *Server) rangeOwners(lo, hi string, me peer.Addr) ([]peer.Addr, error) {
	var owners []peer.Addr
	local := func() {
		if o := s.router.RangeOwner(lo, hi); o >= 0 {
			if a := s.addrOf(o); a != me {
				owners = append(owners, a)
			}
			return
		}
		for i := range s.parts {
			if a := s.addrOf(i); a != me {
				owners = append(owners, a)
			}
		}
	}
	remote := func(server int) error {
		r, n, ok := s.cfg.Cluster.Layout(server)
		if !ok {
			return notConnected(server)
		}
		if o := r.RangeOwner(lo, hi); o >= 0 {
			owners = append(owners, peer.Addr{Server: int32(server), Partition: int32(o)})
			return nil
		}
		for i := 0; i < n; i++ {
			owners = append(owners, peer.Addr{Server: int32(server), Partition: int32(i)})
		}
		return nil
	}
	srv, single := s.rangeServer(lo, hi)
	switch {
	case single && srv < 0:
		local()
	case single:
		if err := remote(srv); err != nil {
			return nil, err
		}
	default:
		// Several servers own parts: every one may hold keys of the range
		// (a whole multi-server group has up to 2^24 pieces, so the pieces
		// are not listed); each snapshot carries only its owner's keys.
		local()
		c := s.cfg.Cluster
		for o := 0; o < c.Servers.N(); o++ {
			if o == c.Self {
				continue
			}
			if err := remote(o); err != nil {
				return nil, err
			}
		}
	}
	return owners, nil
}

func notConnected(server int) error {
	return fmt.Errorf("server %d is not connected (its link has never come up)", server)
}

// forwardWrite sends a client's insert or erase of a key another server
// owns to its owner (§3.3) and replies once the owner has applied it and
// everything it set off is done, including the notifications to this
// server's copies: a client that writes and then reads through one server
// sees its write. Unlike the original, the write is not also applied
// locally: a key this server does not own is only ever held as part of a
// copy, which the owner's notification keeps current.
func (p *part) forwardWrite(q *Request) {
	to, err := p.srv.ownerAddr(q.Key)
	if err != nil {
		q.failText(err.Error())
		return
	}
	m := peer.Msg{Kind: peer.ForwardInsert, Key: q.Key, Value: q.Arg3}
	if q.Cmd == wire.CmdErase || q.Cmd == wire.CmdNotifyErase {
		m = peer.Msg{Kind: peer.ForwardErase, Key: q.Key}
	}
	g, prev := p.beginWork()
	p.sendTracked(to, m)
	p.endWork(g, prev) // never done now: the owner's Ack is outstanding
	g.done = func() {
		if g.err != "" {
			q.failText(g.err)
			return
		}
		q.ok()
	}
	g.release()
}

// serveForward is the owner's side of a forwarded write: apply it as a
// client's write and acknowledge it, with the error if it failed, once
// everything it set off is done.
func (p *part) serveForward(m *peer.Msg) {
	from, track := m.From, m.Track
	var err error
	g, prev := p.beginWork()
	switch {
	case !p.srv.owns(p.id, m.Key):
		err = fmt.Errorf("forwarded write of %q reached server %d partition %d, which does not own it",
			m.Key, p.addr.Server, p.id)
	case m.Kind == peer.ForwardInsert:
		err = p.eng.Insert(m.Key, m.Value)
	default:
		err = p.eng.Erase(m.Key)
	}
	reply := func() {
		ack := peer.Msg{Kind: peer.Ack, Ack: track}
		if err != nil {
			ack.Err = err.Error()
		}
		p.send(from, ack)
	}
	if p.endWork(g, prev) {
		reply()
		return
	}
	g.done = reply
	g.release()
}

// peerDown handles the loss of server's link (§3.9): every copy with an
// owner there is dropped at once (its readers are invalidated; requests
// waiting for it fail with an error naming the server), and its
// subscriptions here are forgotten. The next read subscribes afresh, which
// fails until the link is back: never stale data.
func (p *part) peerDown(server int32) {
	err := fmt.Errorf("lost the link to server %d", server)
	var hit []*copyRange
	for _, c := range p.copies.exact {
		for _, o := range c.owners {
			if o.Server == server {
				hit = append(hit, c)
				break
			}
		}
	}
	for _, c := range hit {
		p.copies.drop(c, nil)
		if c.pending {
			for _, w := range c.waiters {
				p.finish(w, err)
			}
		}
	}
	var gone []subKey
	for k := range p.subs.exact {
		if k.sub.Server == server {
			gone = append(gone, k)
		}
	}
	for _, k := range gone {
		p.subs.remove(k.sub, k.lo, k.hi)
	}
}

// needCopy reports, as an *engine.NeedRemoteError the request parks on,
// that [lo,hi) has keys other servers own and this partition holds no
// current copy of it (§3.4: a read of a remote range subscribes to it).
func (p *part) needCopy(lo, hi string) error {
	if p.srv.cfg.Cluster == nil {
		return nil
	}
	if srv, single := p.srv.rangeServer(lo, hi); single && srv < 0 {
		return nil
	}
	if held, _ := p.copies.held(lo, hi, p.eng.Tick()); held {
		return nil
	}
	return &engine.NeedRemoteError{Ranges: []engine.Range{{Lo: lo, Hi: hi}}}
}

// remoteRead answers a get, count or scan of a range one other server
// owns entirely from a copy of it, fetched first if need be (§3.4). It
// reports false if the request's range is not such a range. The copy is
// the owner's validated data, so nothing is validated here: the joins
// installed on this server have no business computing keys it does not
// own.
func (p *part) remoteRead(q *Request) bool {
	lo, hi := q.Key, q.Arg3
	if q.Cmd == wire.CmdGet {
		hi = joins.KeySuccessor(q.Key)
	}
	if q.Cmd == wire.CmdCount || q.Cmd == wire.CmdScan {
		if q.HasArg4 && q.Arg4 > hi {
			hi = q.Arg4
		}
	}
	if srv, single := p.srv.rangeServer(lo, hi); !single || srv < 0 {
		return false
	}
	if err := p.needCopy(lo, hi); err != nil {
		if !p.parked(err, func() { p.single(q) }, q.failErr) {
			q.failText(err.Error())
		}
		return true
	}
	scanlast := q.Arg3
	if q.HasArg4 && q.Arg4 != "" {
		scanlast = q.Arg4
	}
	switch q.Cmd {
	case wire.CmdGet:
		v, _ := p.eng.Find(q.Key)
		q.replyString(v)
	case wire.CmdCount:
		q.replyInt(int64(p.eng.CountStored(q.Key, scanlast)))
	case wire.CmdScan:
		var kvs []string
		p.eng.ScanStored(q.Key, scanlast, func(k, v string) bool {
			kvs = append(kvs, k, v)
			return true
		})
		q.replyStrings(kvs)
	}
	return true
}
