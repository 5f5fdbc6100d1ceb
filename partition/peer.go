package partition

import (
	"go.uber.org/zap"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/skiplist/interval"
)

// The partition's side of the peer protocol (package peer, spec/server.md
// §3.4–§3.7). Every message a partition receives is handled in handle;
// every message it sends goes through its Transport. The owner's side
// (subscriptions, notifications, invalidations) is here; the subscriber's
// side (copies, fetches, parked requests) is in copies.go.

// handle applies one peer message. It runs on the partition's goroutine.
func (p *part) handle(m *peer.Msg) {
	switch m.Kind {
	case peer.Ack:
		if g := p.tracks[m.Ack]; g != nil {
			delete(p.tracks, m.Ack)
			if m.Err != "" && g.err == "" {
				g.err = m.Err
			}
			g.release()
		}
		return
	case peer.Subscribe:
		p.serveSubscribe(m.From, m.Lo, m.Hi, m.Seq)
		return
	case peer.Unsubscribe:
		p.subs.remove(m.From, m.Lo, m.Hi)
		return
	case peer.Snapshot:
		p.snapshot(m)
		return
	case peer.ForwardInsert, peer.ForwardErase:
		p.serveForward(m)
		return
	case peer.PeerDown:
		p.peerDown(m.From.Server)
		return
	}
	// Notifications and invalidations are acknowledged once they and what
	// they set off are done, so a write's reply waits for them.
	from, track := m.From, m.Track
	p.withAcks(func() {
		switch m.Kind {
		case peer.NotifyInsert:
			p.applyNotify(from, m.Key, m.Value, false)
		case peer.NotifyErase:
			p.applyNotify(from, m.Key, "", true)
		case peer.Invalidate:
			p.invalidated(from, m.Lo, m.Hi)
		default:
			p.srv.log.Warn("unknown peer message", zap.Stringer("kind", m.Kind))
		}
	}, func() {
		if track != 0 {
			p.send(from, peer.Msg{Kind: peer.Ack, Ack: track})
		}
	})
}

// send sends m from this partition.
func (p *part) send(to peer.Addr, m peer.Msg) {
	m.From = p.addr
	p.msgsOut++
	p.srv.transport.Send(to, m)
}

// ackGroup counts the work a request set off in other partitions: the
// notifications and invalidations its changes caused, transitively. The
// request's reply is sent when the count drops to zero, so a client that
// has its reply reads its write from every partition (read-your-writes
// across partitions). It lives on one partition's goroutine; the other
// partitions answer with Ack messages that carry its id.
type ackGroup struct {
	n    int
	done func()
	err  string // the first error an Ack reported (forwarded writes)
}

func (g *ackGroup) add() { g.n++ }

func (g *ackGroup) release() {
	if g.n--; g.n == 0 {
		g.done()
	}
}

// withAcks runs fn as the partition's current work; reply runs once fn and
// everything it set off elsewhere have finished.
func (p *part) withAcks(fn func(), reply func()) {
	g, prev := p.beginWork()
	fn()
	if p.endWork(g, prev) {
		reply()
		return
	}
	g.done = reply
	g.release()
}

// beginWork makes a fresh ackGroup the partition's current work, holding
// one count for the execution itself. A write that sets nothing off
// elsewhere (the common case) reuses the partition's spare group, so it
// allocates nothing for its acknowledgement.
func (p *part) beginWork() (g, prev *ackGroup) {
	g = p.spareAck
	if g == nil {
		g = &ackGroup{}
	}
	p.spareAck = nil
	*g = ackGroup{n: 1}
	prev, p.cur = p.cur, g
	return g, prev
}

// endWork ends the current work g: it runs the revalidations the work
// queued and restores the enclosing work prev. It reports true when nothing is
// outstanding, and g is recycled: the caller replies now. Otherwise the
// caller sets g.done and releases the execution's count.
func (p *part) endWork(g, prev *ackGroup) bool {
	for _, r := range p.eng.TakeRevalidations() {
		p.revalidate(r.Lo, r.Hi, g)
	}
	p.cur = prev
	if g.n != 1 {
		return false
	}
	// Only holders of g add to it, so nobody else holds it now.
	p.spareAck = g
	return true
}

// revalidate validates a sink range whose eager maintenance needed data from
// other partitions, holding the write's acknowledgement until it is done.
func (p *part) revalidate(lo, hi string, g *ackGroup) {
	g.add()
	var try func()
	try = func() {
		prev := p.cur
		p.cur = g
		err := p.eng.Validate(lo, hi)
		p.cur = prev
		if p.parked(err, try, func(err error) {
			p.srv.log.Warn("eager revalidation", zap.Error(err))
			g.release()
		}) {
			return
		}
		if err != nil {
			p.srv.log.Warn("eager revalidation", zap.Error(err))
		}
		g.release()
	}
	try()
}

// sendTracked sends a message that belongs to the current work, if any:
// the work's acknowledgement then waits for the receiver's Ack.
func (p *part) sendTracked(to peer.Addr, m peer.Msg) {
	if g := p.cur; g != nil {
		g.add()
		p.nextTrack++
		m.Track = p.nextTrack
		p.tracks[m.Track] = g
	}
	p.send(to, m)
}

// subscription is one subscriber's subscription to one exact range.
type subscription struct {
	sub    peer.Addr
	lo, hi string
	item   *interval.Item[*subscription]
}

type subKey struct {
	sub    peer.Addr
	lo, hi string
}

// subscriptions is the owner's book: by table, an interval tree of
// subscriptions for stabbing keys, and an exact index, since a
// subscription is (subscriber, exact interval) (§3.6, Go fix).
type subscriptions struct {
	byTable map[string]*interval.Tree[*subscription]
	exact   map[subKey]*subscription
}

func newSubscriptions() subscriptions {
	return subscriptions{byTable: map[string]*interval.Tree[*subscription]{}, exact: map[subKey]*subscription{}}
}

// add registers (sub, [lo,hi)) unless it is already registered.
func (b *subscriptions) add(sub peer.Addr, lo, hi string) {
	k := subKey{sub, lo, hi}
	if b.exact[k] != nil {
		return
	}
	t := b.byTable[joins.RangeTableName(lo, hi)]
	if t == nil {
		t = &interval.Tree[*subscription]{}
		b.byTable[joins.RangeTableName(lo, hi)] = t
	}
	s := &subscription{sub: sub, lo: lo, hi: hi}
	s.item = t.Insert(lo, hi, s)
	b.exact[k] = s
}

// remove forgets exactly (sub, [lo,hi)), if registered.
func (b *subscriptions) remove(sub peer.Addr, lo, hi string) {
	k := subKey{sub, lo, hi}
	s := b.exact[k]
	if s == nil {
		return
	}
	delete(b.exact, k)
	b.byTable[joins.RangeTableName(lo, hi)].Delete(s.item)
}

// len is the number of subscriptions.
func (b *subscriptions) len() int { return len(b.exact) }

// serveSubscribe is the owner's side of subscribe: validate, register the
// subscriber and snapshot the owned keys, atomically (§3.5, §3.7). If the
// range needs copies of other partitions' data first, it waits like any
// request; if it cannot be validated, the subscriber is told why.
func (p *part) serveSubscribe(sub peer.Addr, lo, hi string, seq uint64) {
	fresh, err := p.eng.ValidateFresh(lo, hi)
	fail := func(err error) {
		p.send(sub, peer.Msg{Kind: peer.Snapshot, Lo: lo, Hi: hi, Seq: seq, Err: err.Error()})
	}
	if p.parked(err, func() { p.serveSubscribe(sub, lo, hi, seq) }, fail) {
		return
	}
	if err != nil {
		fail(err)
		return
	}
	p.subs.add(sub, lo, hi)
	var kvs []string
	p.eng.ScanStored(lo, hi, func(k, v string) bool {
		if p.srv.owns(p.id, k) {
			kvs = append(kvs, k, v)
		}
		return true
	})
	p.send(sub, peer.Msg{Kind: peer.Snapshot, Lo: lo, Hi: hi, Seq: seq, KVs: kvs, FreshFor: fresh})
}

// locality is a partition's engine.Locality.
type locality struct{ p *part }

func (l locality) Local(lo, hi string) bool {
	s := l.p.srv
	if srv, single := s.rangeServer(lo, hi); !single || srv >= 0 {
		return false
	}
	return s.router.RangeOwner(lo, hi) == l.p.id
}

func (l locality) Owns(key string) bool { return l.p.srv.owns(l.p.id, key) }

func (l locality) Copied(lo, hi string, now int64) (bool, int64) { return l.p.copies.held(lo, hi, now) }

// KeyChanged forwards a change of an owned key to its subscribers, once to
// each even if several of its subscriptions contain the key.
func (l locality) KeyChanged(table, key, value string, erased bool) {
	t := l.p.subs.byTable[table]
	if t == nil || t.Len() == 0 {
		return
	}
	p := l.p
	sent := p.sentTo[:0]
	t.Stab(key, func(it *interval.Item[*subscription]) bool {
		sub := it.Value.sub
		for _, a := range sent {
			if a == sub {
				return true
			}
		}
		sent = append(sent, sub)
		return true
	})
	p.sentTo = sent
	m := peer.Msg{Kind: peer.NotifyInsert, Key: key, Value: value}
	if erased {
		m = peer.Msg{Kind: peer.NotifyErase, Key: key}
	}
	for _, sub := range sent {
		p.sendTracked(sub, m)
	}
}

// RangeInvalidated ends the subscriptions overlapping [lo,hi): each
// subscriber drops its copy and re-subscribes when it needs the range again.
func (l locality) RangeInvalidated(table, lo, hi string) {
	t := l.p.subs.byTable[table]
	if t == nil || t.Len() == 0 {
		return
	}
	var hit []*subscription
	t.Overlap(lo, hi, func(it *interval.Item[*subscription]) bool { hit = append(hit, it.Value); return true })
	for _, s := range hit {
		l.p.subs.remove(s.sub, s.lo, s.hi)
		l.p.sendTracked(s.sub, peer.Msg{Kind: peer.Invalidate, Lo: s.lo, Hi: s.hi})
	}
}
