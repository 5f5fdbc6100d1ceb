package partition

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/engine"
	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/skiplist/interval"
)

// The subscriber's side of the peer protocol: the copies this partition
// holds of ranges other partitions own, from the subscribe that creates one
// to the unsubscribe that ends it, and the requests parked until copies
// arrive. This file is the only owner of that state; the engine asks
// through Locality.Copied and is told to forget keys with DropForeign.
//
// A copy's life: pending (subscribed, snapshots on their way; requests
// wait on it) → valid (every owner's snapshot applied; kept current by
// notifications) → dropped, when its data expires unpinned, when an owner
// invalidates it, or when the partition stops. Whenever this partition
// drops a copy that an owner still serves, it unsubscribes exactly that
// range there (§3.6).

// copyRange is one copied range [lo,hi) of keys other partitions own.
type copyRange struct {
	lo, hi  string
	owners  []peer.Addr
	pending bool
	left    int   // owners whose snapshot has not arrived (pending)
	fresh   int64 // least FreshFor of the snapshots so far (µs)
	// expires is when the copied data stops being fresh (µs, engine
	// clock); math.MaxInt64 for maintained data.
	expires int64
	// firstUse is the engine time of the first operation that read the
	// copy (0: none yet). A copy is fresh throughout that operation
	// whatever its expiry: the request that waited for it was issued
	// before its snapshot was taken.
	firstUse int64
	// pins counts parked requests that waited for this copy and have not
	// completed; a pinned copy stays usable after it expires.
	pins    int
	waiters []*cont
	seq     uint64 // the subscribes' Seq
	failed  error  // why the copy could not even be requested (startFetch)
	item    *interval.Item[*copyRange]
}

func (c *copyRange) from(a peer.Addr) bool {
	for _, o := range c.owners {
		if o == a {
			return true
		}
	}
	return false
}

// copyBook is a partition's copies, by table and by exact range.
type copyBook struct {
	p       *part
	byTable map[string]*interval.Tree[*copyRange]
	exact   map[engine.Range]*copyRange
}

func newCopyBook(p *part) copyBook {
	return copyBook{p: p, byTable: map[string]*interval.Tree[*copyRange]{}, exact: map[engine.Range]*copyRange{}}
}

func (b *copyBook) tree(lo, hi string) *interval.Tree[*copyRange] {
	name := joins.RangeTableName(lo, hi)
	t := b.byTable[name]
	if t == nil {
		t = &interval.Tree[*copyRange]{}
		b.byTable[name] = t
	}
	return t
}

// held implements Locality.Copied: whether the union of the usable copies
// contains [lo,hi), and their earliest expiry. Expired copies met on the
// way are dropped, and the answer is then no: the caller fetches afresh.
func (b *copyBook) held(lo, hi string, now int64) (bool, int64) {
	t := b.byTable[joins.RangeTableName(lo, hi)]
	if t == nil || t.Len() == 0 {
		return false, 0
	}
	var expired []*copyRange
	cur, exp := lo, int64(math.MaxInt64)
	t.Overlap(lo, hi, func(it *interval.Item[*copyRange]) bool {
		c := it.Value
		if c.pending {
			return true
		}
		if c.expires < now && c.pins == 0 && c.firstUse != 0 && c.firstUse != now {
			expired = append(expired, c)
			return true
		}
		if c.firstUse == 0 {
			c.firstUse = now
		}
		if it.Lo <= cur && it.Hi > cur {
			cur = it.Hi
			exp = min(exp, c.expires)
		}
		return true
	})
	for _, c := range expired {
		b.drop(c, nil)
	}
	if len(expired) > 0 {
		// Refetch the whole range rather than trust the rest: a copy
		// counts as fresh at its first use whatever its age, on the
		// assumption that it was fetched for the operation using it.
		return false, exp
	}
	return cur >= hi, exp
}

// covers reports whether a copy from owner (pending or valid) contains key.
func (b *copyBook) covers(owner peer.Addr, key string) bool {
	t := b.byTable[joins.TableName(key)]
	if t == nil {
		return false
	}
	found := false
	t.Stab(key, func(it *interval.Item[*copyRange]) bool {
		found = it.Value.from(owner)
		return !found
	})
	return found
}

// keep reports whether key lies in a copy other than c (pending or valid):
// dropping c must not remove keys another copy still holds.
func (b *copyBook) keep(c *copyRange) func(string) bool {
	t := b.byTable[joins.RangeTableName(c.lo, c.hi)]
	return func(key string) bool {
		found := false
		t.Stab(key, func(it *interval.Item[*copyRange]) bool {
			found = it.Value != c
			return !found
		})
		return found
	}
}

// drop forgets copy c: it unsubscribes from every owner but invalidatedBy
// (whose subscription is already gone; nil if none is), and the engine
// forgets the keys only c held, invalidating its readers. Requests waiting
// on a pending c fetch it again when they retry.
func (b *copyBook) drop(c *copyRange, invalidatedBy *peer.Addr) {
	if c.item == nil {
		return
	}
	b.byTable[joins.RangeTableName(c.lo, c.hi)].Delete(c.item)
	c.item = nil
	delete(b.exact, engine.Range{Lo: c.lo, Hi: c.hi})
	for _, o := range c.owners {
		if invalidatedBy == nil || o != *invalidatedBy {
			b.p.send(o, peer.Msg{Kind: peer.Unsubscribe, Lo: c.lo, Hi: c.hi})
		}
	}
	if !c.pending || c.left < len(c.owners) { // some snapshot was applied
		b.p.eng.DropForeign(c.lo, c.hi, b.keep(c))
	}
}

// len is the number of copies, pending or valid.
func (b *copyBook) len() int { return len(b.exact) }

// cont is a parked request: it runs again once all its ranges are here,
// or fails when its deadline passes first. The copies fetched for it stay
// pinned (usable even if their data expires) until the request completes;
// a retry that parks again hands its pins on.
type cont struct {
	left      int
	run       func()
	fail      func(error)
	pinned    []*copyRange
	handedOff bool
	done      bool // ran or failed: later wake-ups ignore it
	deadline  time.Time
	ranges    []engine.Range // what it waits for, for the timeout's message
}

// parked parks retry if err says source ranges must be fetched first, and
// reports whether it did. fail answers the request if the copies cannot be
// had: an owner could not validate them, or the deadline passed.
func (p *part) parked(err error, retry func(), fail func(error)) bool {
	if err == nil {
		return false
	}
	var nre *engine.NeedRemoteError
	if !errors.As(err, &nre) {
		return false
	}
	c := &cont{run: retry, fail: fail, ranges: nre.Ranges, deadline: time.Now().Add(p.srv.peerWait)}
	if prev := p.curCont; prev != nil {
		c.pinned, prev.handedOff = prev.pinned, true
		c.deadline = prev.deadline // a retry keeps the request's deadline
	}
	var failed error
	for _, r := range nre.Ranges {
		cp := p.copies.exact[r]
		if cp != nil && !cp.pending {
			// Held but not usable (it expired): replace it.
			p.copies.drop(cp, nil)
			cp = nil
		}
		if cp == nil {
			cp = p.startFetch(r.Lo, r.Hi)
		}
		if cp.failed != nil {
			failed = cp.failed
			continue
		}
		if !cp.pending {
			continue // no owner to wait for
		}
		cp.waiters = append(cp.waiters, c)
		c.left++
	}
	if failed != nil {
		p.finish(c, failed) // later wake-ups of the copies it waits on ignore it
		return true
	}
	if c.left == 0 {
		p.resume(c)
		return true
	}
	p.parkedConts = append(p.parkedConts, c)
	return true
}

// startFetch subscribes to every partition that may own keys of [lo,hi).
// If some owner cannot be reached at all, the copy is never filed and
// carries the error in failed.
func (p *part) startFetch(lo, hi string) *copyRange {
	owners, err := p.srv.rangeOwners(lo, hi, p.addr)
	if err != nil {
		return &copyRange{lo: lo, hi: hi, pending: true, failed: err}
	}
	p.nextSeq++
	c := &copyRange{lo: lo, hi: hi, owners: owners, pending: true, left: len(owners), fresh: math.MaxInt64, seq: p.nextSeq}
	c.item = p.copies.tree(lo, hi).Insert(lo, hi, c)
	p.copies.exact[engine.Range{Lo: lo, Hi: hi}] = c
	p.fetches++
	for _, o := range owners {
		p.send(o, peer.Msg{Kind: peer.Subscribe, Lo: lo, Hi: hi, Seq: c.seq})
	}
	if c.left == 0 {
		p.fetched(c)
	}
	return c
}

// snapshot applies one owner's answer to a subscribe.
func (p *part) snapshot(m *peer.Msg) {
	c := p.copies.exact[engine.Range{Lo: m.Lo, Hi: m.Hi}]
	if c == nil || !c.from(m.From) {
		// Nobody waits for it any more (the copy was dropped meanwhile):
		// the owner registered a subscription no one wants.
		if m.Err == "" {
			p.send(m.From, peer.Msg{Kind: peer.Unsubscribe, Lo: m.Lo, Hi: m.Hi})
		}
		return
	}
	if !c.pending || c.seq != m.Seq {
		// The late answer to an abandoned subscribe of the same range: the
		// owner's subscription (subscriber, range) is the current copy's
		// too, so it stays.
		return
	}
	if m.Err != "" {
		err := fmt.Errorf("source range [%q, %q) from partition %v: %s", m.Lo, m.Hi, m.From, m.Err)
		p.copies.drop(c, &m.From)
		for _, w := range c.waiters {
			p.finish(w, err)
		}
		return
	}
	// The snapshot is authoritative for the owner's keys in the range: a
	// copy of one of them that it lacks (left by notifications of an
	// earlier subscription) is erased like any other change.
	have := make(map[string]bool, len(m.KVs)/2)
	for i := 0; i < len(m.KVs); i += 2 {
		have[m.KVs[i]] = true
	}
	var stale []string
	p.eng.ScanStored(m.Lo, m.Hi, func(k, _ string) bool {
		if a, err := p.srv.ownerAddr(k); !have[k] && err == nil && a == m.From {
			stale = append(stale, k)
		}
		return true
	})
	for _, k := range stale {
		p.applyRemote(k, "", true)
	}
	for i := 0; i < len(m.KVs); i += 2 {
		p.applyRemote(m.KVs[i], m.KVs[i+1], false)
	}
	c.fresh = min(c.fresh, m.FreshFor)
	if c.left--; c.left == 0 {
		p.fetched(c)
	}
}

// fetched makes a pending copy valid and resumes the requests that waited.
func (p *part) fetched(c *copyRange) {
	c.pending = false
	c.expires = math.MaxInt64
	if now := p.eng.Now(); c.fresh < math.MaxInt64-now {
		c.expires = now + c.fresh
	}
	ws := c.waiters
	c.waiters = nil
	for _, w := range ws {
		if w.done {
			continue
		}
		c.pins++
		w.pinned = append(w.pinned, c)
		if w.left--; w.left == 0 {
			p.resume(w)
		}
	}
}

// resume runs a parked request; unless it parked again, the copies pinned
// for it are released.
func (p *part) resume(c *cont) {
	if c.done {
		return
	}
	c.done = true
	prev := p.curCont
	p.curCont = c
	p.run(func(*part) { c.run() })
	p.curCont = prev
	if !c.handedOff {
		p.unpin(c)
	}
}

// finish fails a parked request with err (once).
func (p *part) finish(c *cont, err error) {
	if c.done {
		return
	}
	c.done = true
	p.unpin(c)
	p.run(func(*part) { c.fail(err) })
}

func (p *part) unpin(c *cont) {
	for _, cp := range c.pinned {
		if cp.pins > 0 {
			cp.pins--
		}
	}
	c.pinned = nil
}

// expireParked fails the parked requests whose deadline has passed: every
// request gets an answer, if only an error naming what it waited for.
func (p *part) expireParked(now time.Time) {
	live := p.parkedConts[:0]
	for _, c := range p.parkedConts {
		switch {
		case c.done:
		case now.After(c.deadline):
			p.peerTimeouts++
			var sb strings.Builder
			for i, r := range c.ranges {
				if i > 0 {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "[%q, %q)", r.Lo, r.Hi)
			}
			p.finish(c, fmt.Errorf("timed out after %v waiting for source ranges owned by other partitions: %s",
				p.srv.peerWait, sb.String()))
			// A fetch nobody waits for any more is abandoned, so that the
			// next request subscribes afresh instead of waiting on a
			// subscribe that may have been lost.
			for _, r := range c.ranges {
				if cp := p.copies.exact[r]; cp != nil && cp.pending && !anyLive(cp.waiters) {
					p.copies.drop(cp, nil)
				}
			}
		default:
			live = append(live, c)
		}
	}
	clear(p.parkedConts[len(live):])
	p.parkedConts = live
}

func anyLive(cs []*cont) bool {
	for _, c := range cs {
		if !c.done {
			return true
		}
	}
	return false
}

// parkedCount is the number of requests waiting for copies.
func (p *part) parkedCount() int {
	n := 0
	for _, c := range p.parkedConts {
		if !c.done {
			n++
		}
	}
	return n
}

// invalidated handles an owner's invalidate of its subscription [lo,hi):
// every copy from that owner overlapping it that is not being fetched is
// dropped (§3.5); the owner's other subscriptions for those copies are
// ended too.
func (p *part) invalidated(from peer.Addr, lo, hi string) {
	t := p.copies.byTable[joins.RangeTableName(lo, hi)]
	if t == nil {
		return
	}
	var hit []*copyRange
	t.Overlap(lo, hi, func(it *interval.Item[*copyRange]) bool {
		if c := it.Value; !c.pending && c.from(from) {
			hit = append(hit, c)
		}
		return true
	})
	for _, c := range hit {
		by := &from
		if c.lo != lo || c.hi != hi {
			by = nil // its own subscription there is still live
		}
		p.copies.drop(c, by)
	}
}

// applyNotify applies an owner's change to a key it owns, if this
// partition still holds a copy from it covering the key. A notification
// for a copy already dropped is ignored: applying it would leave a key no
// later purge removes (the original's §3.7 weak spot).
func (p *part) applyNotify(from peer.Addr, key, value string, erased bool) {
	if !p.copies.covers(from, key) {
		return
	}
	p.applyRemote(key, value, erased)
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

// PeerStats are a partition's figures of the peer protocol, reported by
// the stats RPC beside the engine's (summed at the top level, per partition
// under "partitions").
type PeerStats struct {
	// ParkedRequests is the number of requests waiting for copies now.
	ParkedRequests int `json:"parked_requests"`
	// PeerWaitTimeouts counts requests failed because copies did not
	// arrive within the peer wait.
	PeerWaitTimeouts int64 `json:"peer_wait_timeouts"`
	// Copies and Subscriptions are the ranges held from others and served
	// to others now; Fetches counts subscribes sent.
	Copies        int   `json:"remote_copies"`
	Subscriptions int   `json:"subscriptions"`
	Fetches       int64 `json:"remote_fetches"`
	// MsgsIn and MsgsOut count peer messages.
	MsgsIn  int64 `json:"peer_msgs_in"`
	MsgsOut int64 `json:"peer_msgs_out"`
}

func (s *PeerStats) add(o PeerStats) {
	s.ParkedRequests += o.ParkedRequests
	s.PeerWaitTimeouts += o.PeerWaitTimeouts
	s.Copies += o.Copies
	s.Subscriptions += o.Subscriptions
	s.Fetches += o.Fetches
	s.MsgsIn += o.MsgsIn
	s.MsgsOut += o.MsgsOut
}

func (p *part) peerStats() PeerStats {
	return PeerStats{ParkedRequests: p.parkedCount(), PeerWaitTimeouts: p.peerTimeouts, Copies: p.copies.len(),
		Subscriptions: p.subs.len(), Fetches: p.fetches, MsgsIn: p.msgsIn, MsgsOut: p.msgsOut}
}
