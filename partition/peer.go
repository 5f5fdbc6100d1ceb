package partition

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/engine"
	"github.com/pequod-go/pequod/skiplist/interval"
)

// The peer protocol between partitions (spec/server.md §3.4–§3.7), carried
// over in-process queues. A partition whose join needs a source range it does
// not own subscribes to the range's owners: each owner validates the range,
// snapshots the keys it owns there, remembers the subscriber, and from then
// on forwards every change of those keys (notify_insert / notify_erase) and
// every invalidation of them (invalidate, which also ends the subscription).
// Snapshot and later messages travel through one FIFO queue per receiving
// partition, so a snapshot is always applied before any later notification
// of its range (§3.7). A request that must wait for a snapshot is parked as
// a continuation; its partition keeps serving others, so two partitions
// needing each other's ranges cannot deadlock.

// ackGroup counts the work a request set off in other partitions: the
// notifications and invalidations its changes caused, transitively. The
// request's reply is sent when the count drops to zero, so a client that has
// its reply reads its write from every partition (read-your-writes across
// partitions).
type ackGroup struct {
	n    atomic.Int32
	done func()
}

func newAckGroup(done func()) *ackGroup {
	g := &ackGroup{done: done}
	g.n.Store(1) // the originating execution itself
	return g
}

func (g *ackGroup) add() { g.n.Add(1) }

func (g *ackGroup) release() {
	if g.n.Add(-1) == 0 {
		g.done()
	}
}

// withAcks runs fn as the partition's current work; reply runs once fn and
// everything it set off elsewhere have finished.
func (p *part) withAcks(fn func(), reply func()) {
	g := newAckGroup(reply)
	prev := p.cur
	p.cur = g
	fn()
	for _, r := range p.eng.TakeRevalidations() {
		p.revalidate(r, g)
	}
	p.cur = prev
	g.release()
}

// revalidate validates a sink range whose eager maintenance needed data from
// other partitions, holding the write's acknowledgement until it is done.
func (p *part) revalidate(r engine.Range, g *ackGroup) {
	g.add()
	var try func()
	try = func() {
		prev := p.cur
		p.cur = g
		err := p.eng.Validate(r.Lo, r.Hi)
		p.cur = prev
		if p.parked(err, try) {
			return
		}
		if err != nil {
			p.srv.log.Warn("eager revalidation", zap.Error(err))
		}
		g.release()
	}
	try()
}

// sendTracked sends a peer message that belongs to the current work, if any.
func (p *part) sendTracked(to int, fn func(sp *part)) {
	parent := p.cur
	if parent == nil {
		p.srv.peer(to, fn)
		return
	}
	parent.add()
	p.srv.peer(to, func(sp *part) { sp.withAcks(func() { fn(sp) }, parent.release) })
}

// peerQueue is a partition's unbounded queue of messages from other
// partitions. It never blocks a sender: partitions sending to each other
// with full bounded mailboxes could otherwise deadlock.
type peerQueue struct {
	mu  sync.Mutex
	q   []task
	sig chan struct{}
}

func (pq *peerQueue) push(t task) {
	pq.mu.Lock()
	pq.q = append(pq.q, t)
	pq.mu.Unlock()
	select {
	case pq.sig <- struct{}{}:
	default:
	}
}

func (pq *peerQueue) take() []task {
	pq.mu.Lock()
	q := pq.q
	pq.q = nil
	pq.mu.Unlock()
	return q
}

// peer sends a message to partition id.
func (s *Server) peer(id int, t task) { s.parts[id].peers.push(t) }

// locality is a partition's engine.Locality.
type locality struct{ p *part }

func (l locality) Local(lo, hi string) bool { return l.p.srv.router.RangeOwner(lo, hi) == l.p.id }
func (l locality) Owns(key string) bool     { return l.p.srv.router.Owner(key) == l.p.id }

// KeyChanged forwards a change of an owned key to its subscribers.
func (l locality) KeyChanged(table, key, value string, erased bool) {
	subs := l.p.subs[table]
	if subs == nil || subs.Len() == 0 {
		return
	}
	subs.Stab(key, func(it *interval.Item[int]) bool {
		sub := it.Value
		l.p.sendTracked(sub, func(sp *part) { sp.applyRemote(key, value, erased) })
		return true
	})
}

// RangeInvalidated ends the subscriptions overlapping [lo,hi): each
// subscriber drops its copy and re-subscribes when it needs the range again.
func (l locality) RangeInvalidated(table, lo, hi string) {
	subs := l.p.subs[table]
	if subs == nil || subs.Len() == 0 {
		return
	}
	var hit []*interval.Item[int]
	subs.Overlap(lo, hi, func(it *interval.Item[int]) bool { hit = append(hit, it); return true })
	for _, it := range hit {
		subs.Delete(it)
		rlo, rhi, sub := it.Lo, it.Hi, it.Value
		l.p.sendTracked(sub, func(sp *part) { sp.eng.DropRemote(rlo, rhi) })
	}
}

// fetch is a subscription in progress on the subscriber's side.
type fetch struct {
	r       engine.Range
	left    int     // owners that have not sent their snapshot yet
	exp     int64   // how long the snapshots' data stays fresh (µs), the least of them
	waiters []*cont // continuations waiting for this range
}

// cont is a parked request: it runs again once all its ranges are here.
// The copies fetched for it stay pinned (usable even if their data expires)
// until the request completes; a retry that parks again hands its pins on.
type cont struct {
	left      int
	run       func()
	pinned    []engine.Range
	handedOff bool
}

// parked parks retry if err says source ranges must be fetched first.
func (p *part) parked(err error, retry func()) bool {
	if err == nil {
		return false
	}
	var nre *engine.NeedRemoteError
	if !errors.As(err, &nre) {
		return false
	}
	c := &cont{run: retry}
	if prev := p.curCont; prev != nil {
		c.pinned, prev.handedOff = prev.pinned, true
	}
	for _, r := range nre.Ranges {
		f := p.fetches[r]
		if f == nil {
			f = p.startFetch(r)
		}
		f.waiters = append(f.waiters, c)
		c.left++
	}
	return true
}

// startFetch subscribes to every partition that may own keys of r.
func (p *part) startFetch(r engine.Range) *fetch {
	f := &fetch{r: r, exp: math.MaxInt64}
	p.fetches[r] = f
	p.eng.BeginFetch(r.Lo, r.Hi)
	owners := []int{p.srv.router.RangeOwner(r.Lo, r.Hi)}
	if owners[0] < 0 {
		owners = owners[:0]
		for i := range p.srv.parts {
			if i != p.id {
				owners = append(owners, i)
			}
		}
	}
	f.left = len(owners)
	self := p.id
	for _, o := range owners {
		p.srv.peer(o, func(op *part) { op.serveSubscribe(r, self) })
	}
	if f.left == 0 {
		p.fetched(f)
	}
	return f
}

// serveSubscribe is the owner's side of subscribe: validate, register the
// subscriber and snapshot the owned keys, atomically (§3.5, §3.7).
func (p *part) serveSubscribe(r engine.Range, sub int) {
	exp, err := p.eng.ValidateFresh(r.Lo, r.Hi)
	if err != nil {
		if p.parked(err, func() { p.serveSubscribe(r, sub) }) {
			return
		}
		p.srv.log.Warn("subscribe: validate failed", zap.Int("partition", p.id), zap.Error(err))
	}
	table := joins.RangeTableName(r.Lo, r.Hi)
	subs := p.subs[table]
	if subs == nil {
		subs = &interval.Tree[int]{}
		p.subs[table] = subs
	}
	dup := false
	subs.Stab(r.Lo, func(it *interval.Item[int]) bool {
		dup = it.Lo == r.Lo && it.Hi == r.Hi && it.Value == sub
		return !dup
	})
	if !dup {
		subs.Insert(r.Lo, r.Hi, sub)
	}
	var kvs []string
	p.eng.ScanStored(r.Lo, r.Hi, func(k, v string) bool {
		if p.srv.router.Owner(k) == p.id {
			kvs = append(kvs, k, v)
		}
		return true
	})
	owner := p.id
	p.srv.peer(sub, func(sp *part) { sp.snapshot(r, owner, kvs, exp) })
}

// snapshot applies one owner's snapshot of r.
// The snapshot is authoritative for the owner's keys in r: a copy of one of
// them that it lacks (left by notifications of an earlier, dropped
// subscription) is erased like any other change.
func (p *part) snapshot(r engine.Range, owner int, kvs []string, exp int64) {
	have := make(map[string]bool, len(kvs)/2)
	for i := 0; i < len(kvs); i += 2 {
		have[kvs[i]] = true
	}
	var stale []string
	p.eng.ScanStored(r.Lo, r.Hi, func(k, _ string) bool {
		if !have[k] && p.srv.router.Owner(k) == owner {
			stale = append(stale, k)
		}
		return true
	})
	for _, k := range stale {
		p.applyRemote(k, "", true)
	}
	for i := 0; i < len(kvs); i += 2 {
		p.applyRemote(kvs[i], kvs[i+1], false)
	}
	f := p.fetches[r]
	if f == nil {
		return
	}
	if exp < f.exp {
		f.exp = exp
	}
	if f.left--; f.left == 0 {
		p.fetched(f)
	}
}

// fetched marks r present and resumes the requests that waited for it.
func (p *part) fetched(f *fetch) {
	delete(p.fetches, f.r)
	if err := p.eng.CoverRemote(f.r.Lo, f.r.Hi, f.exp); err != nil {
		p.srv.log.Warn("cover remote range", zap.Error(err))
	}
	for _, c := range f.waiters {
		p.eng.PinRemote(f.r.Lo, f.r.Hi, 1)
		c.pinned = append(c.pinned, f.r)
		if c.left--; c.left == 0 {
			p.resume(c)
		}
	}
}

// resume runs a parked request; unless it parked again, the copies pinned
// for it are released.
func (p *part) resume(c *cont) {
	prev := p.curCont
	p.curCont = c
	p.run(func(*part) { c.run() })
	p.curCont = prev
	if !c.handedOff {
		for _, r := range c.pinned {
			p.eng.PinRemote(r.Lo, r.Hi, -1)
		}
	}
}

// applyRemote applies a change to a key another partition owns.
func (p *part) applyRemote(key, value string, erased bool) {
	var err error
	if erased {
		err = p.eng.Erase(key)
	} else {
		err = p.eng.Insert(key, value)
	}
	if err != nil {
		p.srv.log.Warn("apply remote change", zap.String("key", key), zap.Error(err))
	}
}
