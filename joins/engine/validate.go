package engine

import (
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/skiplist/interval"
)

// sinkRange is a validated interval of a sink table: the unit of bookkeeping
// and of eviction (§4.1, §6.1). It holds one instance per overlapping join.
type sinkRange struct {
	lo, hi string
	table  *table
	insts  []*instance
	item   *interval.Item[*sinkRange]
	lru    lruLinks
}

// instance is one join's computation over one sink range.
type instance struct {
	ij     *installedJoin
	sr     *sinkRange
	lo, hi string // the sink range ∩ the join range (R-CLIP-1, D11)

	invalid   bool  // must be recomputed from scratch at the next validate
	expiresAt int64 // µs; non-maintained instances only
	depExpiry int64 // µs; earliest expiry of non-maintained upstream data read (§10 A4)
	// loud: copies of the output in other partitions may have been taken
	// as never expiring (the instance's expiry was "never" when last
	// computed), so invalidating it must tell their subscribers. Output
	// whose expiry was finite when computed stays finite until the next
	// computation, and every copy of it lapses by itself (see
	// invalidateInstance). Cleared once the subscribers have been told.
	loud bool
	busy bool // being computed or processed; nested validations skip it
	// incomplete: a build skipped a source range owned elsewhere and not
	// yet copied here, so the instance must be recomputed once it is.
	incomplete bool
	dirty      bool // invalidated while busy: invalidate once no longer busy
	queued     bool // in the engine's eager queue
	detached   bool // evicted: never to be validated again

	root      *node
	pending   interval.Tree[*pendingOp]
	recompute map[string]bool // min/max keys invalidated and awaiting recomputation
}

// node is one registration: the scan of source `level` under `binding`.
//
// There is one per (instance, context binding): for a timeline, one per
// followed poster, so the struct is kept small (§9's bookkeeping is most of
// the engine's memory after the store itself).
type node struct {
	inst    *instance
	binding joins.Binding
	tbl     *table
	// lo, hi is the source interval the node's scan read; last-level nodes
	// leave them empty and recompute them when asked (see interval): they
	// are only needed when an invalidation or a retraction reaches the node.
	lo, hi string
	// group is the registration it is filed under (gidx its index there);
	// last-level nodes are filed under their binding's whole interval so
	// that every instance reading one source range shares it.
	group *regGroup
	// ckey is the context key the parent's scan bound to make this node;
	// children are the context nodes below, sorted by ckey.
	ckey     string
	children []*node
	gidx     int32
	level    int16
	alive    bool
}

// last reports whether n scans the join's value source (the last level).
func (n *node) last() bool { return int(n.level) == len(n.inst.ij.j.Sources)-1 }

// interval is the source interval n's scan read.
func (n *node) interval() (lo, hi string) {
	if !n.last() {
		return n.lo, n.hi
	}
	in := n.inst
	j := in.ij.j
	return joins.ScanInterval(&j.Sources[n.level].Pattern, &j.Sink, n.binding, in.lo, in.hi)
}

// child returns the context node n built for context key k, or nil.
func (n *node) child(k string) *node {
	i, ok := n.childIndex(k)
	if !ok {
		return nil
	}
	return n.children[i]
}

func (n *node) childIndex(k string) (int, bool) {
	cs := n.children
	if m := len(cs); m > 0 && cs[m-1].ckey < k {
		return m, false // the usual case while building: keys come in order
	}
	i := sort.Search(len(cs), func(i int) bool { return cs[i].ckey >= k })
	return i, i < len(cs) && cs[i].ckey == k
}

// setChild files c as the context node for key k (c.ckey = k).
func (n *node) setChild(k string, c *node) {
	c.ckey = k
	i, ok := n.childIndex(k)
	if ok {
		n.children[i] = c
		return
	}
	n.children = slices.Insert(n.children, i, c)
}

// removeChild unfiles and returns the context node for key k, or nil.
func (n *node) removeChild(k string) *node {
	i, ok := n.childIndex(k)
	if !ok {
		return nil
	}
	c := n.children[i]
	n.children = slices.Delete(n.children, i, i+1)
	return c
}

// regGroup is one registered source interval of a table and every node
// registered on exactly that interval: the original's shared source range
// (one registration with the set of sink instances it feeds) rather than
// one tree entry per (timeline, poster) pair.
type regGroup struct {
	nodes []*node
	item  *interval.Item[*regGroup]
}

type regKey struct{ lo, hi string }

// register files n under [lo,hi) of t.
func (e *Engine) register(t *table, n *node, lo, hi string) {
	k := regKey{lo, hi}
	g := t.regIndex[k]
	if g == nil {
		g = &regGroup{}
		g.item = t.regs.Insert(lo, hi, g)
		if t.regIndex == nil {
			t.regIndex = map[regKey]*regGroup{}
		}
		t.regIndex[k] = g
	}
	n.group, n.gidx = g, int32(len(g.nodes))
	g.nodes = append(g.nodes, n)
	t.nregs++
}

// pendingOp is one recorded context change (or a min/max key to recompute),
// processed in recording order (R-PENDING-2, §10 A3).
type pendingOp struct {
	seq  uint64
	sign int    // +1 insert, -1 erase, 0 recompute the sink key `key`
	node *node  // context node whose scan saw the change
	key  string // the context key, or the sink key for sign 0
	item *interval.Item[*pendingOp]
}

// maintained reports whether the instance keeps registrations.
func (in *instance) maintained() bool { return in.ij.j.Maintained }

// expired reports whether a staleness window (its own or, §10 A4, that of
// non-maintained data it read) has passed.
func (e *Engine) expired(in *instance) bool {
	if !in.maintained() && in.expiresAt < e.now {
		return true
	}
	return in.depExpiry < e.now
}

// valid reports whether the instance needs no work at a validate.
func (e *Engine) instValid(in *instance) bool {
	return !in.invalid && in.pending.Len() == 0 && !e.expired(in)
}

// newInstance creates an uncomputed instance of ij over sr, or nil if the
// join range does not overlap the sink range.
func (e *Engine) newInstance(ij *installedJoin, sr *sinkRange) *instance {
	lo, hi := maxStr(sr.lo, ij.lo), minStr(sr.hi, ij.hi)
	if lo >= hi {
		return nil
	}
	return &instance{ij: ij, sr: sr, lo: lo, hi: hi, invalid: true, depExpiry: math.MaxInt64}
}

func maxStr(a, b string) string {
	if a > b {
		return a
	}
	return b
}

func minStr(a, b string) string {
	if a < b {
		return a
	}
	return b
}

// validate brings [lo,hi) of t up to date (§4.2) and returns the earliest
// expiry of non-maintained data in it (math.MaxInt64 if none), which callers
// reading t as a source propagate (§10 A4).
func (e *Engine) validate(t *table, lo, hi string) (int64, error) {
	minExp := int64(math.MaxInt64)
	if len(t.joins) == 0 || lo >= hi {
		return minExp, nil
	}
	if e.chain >= MaxChainDepth {
		return minExp, ErrJoinCycle
	}
	e.chain++
	defer func() { e.chain-- }()

	var srs []*sinkRange
	t.sinks.Overlap(lo, hi, func(it *interval.Item[*sinkRange]) bool {
		srs = append(srs, it.Value)
		return true
	})
	cur := lo
	visit := func(sr *sinkRange) error {
		e.lru.touch(sr)
		for _, in := range sr.insts {
			if err := e.validateInstance(in, lo, hi); err != nil {
				return err
			}
			if exp := e.instExpiry(in); exp < minExp {
				minExp = exp
			}
		}
		return nil
	}
	for _, sr := range srs {
		if cur < sr.lo {
			if err := visit(e.newSinkRange(t, cur, sr.lo)); err != nil {
				return minExp, err
			}
		}
		if sr.item == nil {
			continue // evicted by work done for an earlier range
		}
		if err := visit(sr); err != nil {
			return minExp, err
		}
		if sr.hi > cur {
			cur = sr.hi
		}
	}
	if cur < hi {
		if err := visit(e.newSinkRange(t, cur, hi)); err != nil {
			return minExp, err
		}
	}
	return minExp, nil
}

// instExpiry is when the instance's data stops being fresh.
func (e *Engine) instExpiry(in *instance) int64 {
	exp := in.depExpiry
	if !in.maintained() && in.expiresAt < exp {
		exp = in.expiresAt
	}
	return exp
}

// newSinkRange creates a sink range for the gap [lo,hi) with an instance per
// overlapping join (§4.2).
func (e *Engine) newSinkRange(t *table, lo, hi string) *sinkRange {
	sr := &sinkRange{lo: lo, hi: hi, table: t}
	sr.item = t.sinks.Insert(lo, hi, sr)
	for _, ij := range t.joins {
		if in := e.newInstance(ij, sr); in != nil {
			sr.insts = append(sr.insts, in)
		}
	}
	e.lru.pushBack(sr)
	return sr
}

// validateInstance does the per-instance steps of §4.3 for a request [lo,hi).
func (e *Engine) validateInstance(in *instance, lo, hi string) error {
	if in.busy || in.detached {
		return nil // an enclosing computation of this instance is under way
	}
	for attempt := 0; ; attempt++ {
		if e.expired(in) && !in.invalid {
			if err := e.refresh(in); err != nil {
				return err
			}
		} else if in.invalid {
			if err := e.compute(in); err != nil {
				return err
			}
		} else if err := e.processPending(in, maxStr(lo, in.lo), minStr(hi, in.hi), false); err != nil {
			return err
		}
		if !in.invalid || attempt >= 3 || len(e.missing) > 0 {
			return nil
		}
	}
}

// compute computes an invalid instance from scratch (§3.2).
func (e *Engine) compute(in *instance) error {
	j := in.ij.j
	in.busy = true
	in.invalid = false
	in.depExpiry = math.MaxInt64
	seed := j.NewBinding()
	j.Sink.SeedBinding(in.lo, in.hi, seed)
	root, err := e.build(in, 0, seed)
	in.root = root
	if !in.maintained() {
		in.expiresAt = e.now + j.Staleness.Microseconds()
	}
	e.finishBusy(in)
	if in.incomplete {
		in.incomplete = false
		e.invalidateInstance(in) // recomputed once the missing ranges arrive
	}
	if err != nil {
		e.invalidateInstance(in)
		return err
	}
	if !in.invalid && e.instExpiry(in) == math.MaxInt64 {
		in.loud = true
	}
	return nil
}

// finishBusy clears the busy flag and performs an invalidation that arrived
// while the instance was busy.
func (e *Engine) finishBusy(in *instance) {
	in.busy = false
	if in.dirty {
		in.dirty = false
		e.invalidateInstance(in)
	}
}

// build runs the nested loop of §3.2 from source `level` under binding b,
// applying +1 for each derivation whose sink key lies in the instance's range.
// For maintained joins it returns the registration node it created.
func (e *Engine) build(in *instance, level int, b joins.Binding) (*node, error) {
	j := in.ij.j
	src := &j.Sources[level]
	lo, hi := joins.ScanInterval(&src.Pattern, &j.Sink, b, in.lo, in.hi)
	st := e.table(src.Table, true)
	if e.needRemote(in, lo, hi) {
		return nil, nil
	}
	misses := e.missEvents
	if exp, err := e.validate(st, lo, hi); err != nil {
		return nil, err
	} else if exp < in.depExpiry {
		in.depExpiry = exp
	}
	if e.missEvents != misses {
		in.incomplete = true // an upstream instance could not finish
	}
	last := level == len(j.Sources)-1
	var n *node
	if in.maintained() {
		n = &node{inst: in, level: int16(level), binding: b, tbl: st, alive: true}
		rlo, rhi := lo, hi
		if !last {
			n.lo, n.hi = lo, hi
		} else {
			// Value-level changes are checked against the instance's range
			// before they apply (R-NOTIFY-2), so the registration can be the
			// binding's interval over the whole join range, which every
			// instance with this binding shares.
			rlo, rhi = joins.ScanInterval(&src.Pattern, &j.Sink, b, in.ij.lo, in.ij.hi)
		}
		e.register(st, n, rlo, rhi)
	}
	it := st.store.Seek(lo)
	if it.Valid() {
		st.nvalidate++
	}
	// Collect the matches first: applying them writes other tables and may
	// run arbitrary maintenance, which must not race with this iteration.
	ms := e.getMatches()
	defer func() { e.putMatches(ms) }()
	for ; it.Valid() && it.Key() < hi; it.Next() {
		k := it.Key()
		if src.Matches(k, b) {
			ms = append(ms, match{k, it.Ptr().value})
		}
	}
	if last {
		e.applyDerivations(in, b, ms)
		return n, nil
	}
	for _, m := range ms {
		if n != nil && !n.alive {
			break // invalidated meanwhile
		}
		cb := b.Clone()
		src.Bind(m.key, cb)
		if flo, fhi := j.Sink.Footprint(cb); flo >= in.hi || fhi <= in.lo {
			continue // no derivation through this key can land in the range
		}
		child, err := e.build(in, level+1, cb)
		if err != nil {
			return n, err
		}
		if n != nil && child != nil {
			n.setChild(m.key, child)
		}
	}
	return n, nil
}

// match is one source key found by a scan.
type match struct{ key, value string }

// getMatches takes a match buffer from the engine's free list; scans nest
// (a join reading a join), so there is one buffer per active scan. Reusing
// them keeps a large validation from producing garbage that makes the
// collector mark the whole store again and again.
func (e *Engine) getMatches() []match {
	if n := len(e.matchFree); n > 0 {
		ms := e.matchFree[n-1]
		e.matchFree = e.matchFree[:n-1]
		return ms[:0]
	}
	return make([]match, 0, 64)
}

// putMatches returns a buffer, dropping references to keys and values.
func (e *Engine) putMatches(ms []match) {
	clear(ms)
	if cap(ms) <= 1<<16 {
		e.matchFree = append(e.matchFree, ms[:0])
	}
}

// applyDerivations applies +1 for each value-source match under binding b.
// Consecutive derivations of one sink key are combined into one write (for
// count, sum, min and max over a whole group, such as karma's votes of one
// article, there is one write instead of one per vote).
func (e *Engine) applyDerivations(in *instance, b joins.Binding, ms []match) {
	j := in.ij.j
	src := &j.Sources[len(j.Sources)-1]
	constKey, constant := j.Sink.Expand(b) // every sink slot bound before the value source
	if constant && (constKey < in.lo || constKey >= in.hi || !e.owns(constKey)) {
		return
	}
	var acc batch
	var scratch [16]string
	for _, m := range ms {
		sk := constKey
		if !constant {
			sb := append(scratch[:0], b...)
			src.Bind(m.key, sb)
			k, ok := j.Sink.Expand(sb)
			if !ok || k < in.lo || k >= in.hi || !e.owns(k) {
				continue
			}
			sk = k
		}
		if acc.n > 0 && sk != acc.sk {
			e.applyBatch(in, &acc)
		}
		acc.add(sk, m.value, j.Op)
	}
	if acc.n > 0 {
		e.applyBatch(in, &acc)
	}
}

// batch accumulates consecutive derivations of one sink key.
type batch struct {
	sk      string
	n       int
	first   string // the first value (a lone derivation is applied as is)
	last    string // copy: the value written
	best    string // min/max: the extreme so far
	sum     int64
	nonzero bool // sum: some value parsed non-zero
}

func (a *batch) add(sk, v string, op joins.Operator) {
	if a.n == 0 {
		*a = batch{sk: sk, first: v, best: v}
	}
	a.n++
	a.last = v
	switch op {
	case joins.Sum:
		x := parseInt(v)
		a.sum += x
		a.nonzero = a.nonzero || x != 0
	case joins.Min:
		if v < a.best {
			a.best = v
		}
	case joins.Max:
		if v > a.best {
			a.best = v
		}
	}
}

// applyBatch applies an accumulated group as the same writes one at a time
// would leave, then resets it.
func (e *Engine) applyBatch(in *instance, a *batch) {
	defer func() { a.n = 0 }()
	if a.n == 1 {
		e.apply(in, a.sk, chPlus, "", a.first)
		return
	}
	if in.recompute[a.sk] {
		return
	}
	t := in.ij.sink
	en := t.store.GetPtr(a.sk)
	exists := en != nil
	if exists && en.owner == nil {
		// A client key: the first derivation claims it (see apply); the
		// rest of the group then applies as usual.
		e.apply(in, a.sk, chPlus, "", a.first)
		a.n--
		a.sum -= parseInt(a.first)
		if en = t.store.GetPtr(a.sk); en == nil || en.owner != in {
			return
		}
	}
	switch in.ij.j.Op {
	case joins.Copy:
		if !exists {
			e.createSink(in, a.sk, a.last, int32(a.n))
			return
		}
		if en.owner == in {
			en.nder += int32(a.n)
		}
		e.writeSink(t, a.sk, en, a.last)
	case joins.Count:
		if !exists {
			e.createSink(in, a.sk, strconv.Itoa(a.n), 0)
			return
		}
		e.writeSink(t, a.sk, en, strconv.FormatInt(parseInt(en.value)+int64(a.n), 10))
	case joins.Sum:
		if !exists {
			e.createSink(in, a.sk, strconv.FormatInt(a.sum, 10), 0)
			return
		}
		if a.nonzero {
			e.writeSink(t, a.sk, en, strconv.FormatInt(parseInt(en.value)+a.sum, 10))
		}
	default: // min, max
		e.apply(in, a.sk, chPlus, "", a.best)
	}
}

// evaluate computes the derivations of one sink key from the current store
// without registering anything, calling fn with each derivation's value.
// It reads sources without validating them: it is only called for live
// instances, whose upstream data is consistent with what they applied.
func (e *Engine) evaluate(in *instance, level int, b joins.Binding, sinkKey string, fn func(v string)) {
	j := in.ij.j
	src := &j.Sources[level]
	st := e.tables[src.Table]
	if st == nil {
		return
	}
	lo, hi := joins.ScanInterval(&src.Pattern, &j.Sink, b, sinkKey, joins.KeySuccessor(sinkKey))
	last := level == len(j.Sources)-1
	st.store.RangePtr(lo, hi, func(k string, en *entry) bool {
		if !src.Matches(k, b) {
			return true
		}
		cb := b.Clone()
		src.Bind(k, cb)
		if last {
			if sk, ok := j.Sink.Expand(cb); ok && sk == sinkKey {
				fn(en.value)
			}
			return true
		}
		e.evaluate(in, level+1, cb, sinkKey, fn)
		return true
	})
}

// processPending processes the instance's pending ops overlapping [lo,hi)
// (all of them if all is set), whole and in recording order (R-PENDING-1/2).
func (e *Engine) processPending(in *instance, lo, hi string, all bool) error {
	if in.busy || in.pending.Len() == 0 {
		return nil
	}
	in.busy = true
	defer func() {
		e.finishBusy(in)
		if in.incomplete {
			in.incomplete = false
			e.invalidateInstance(in)
		}
	}()
	for in.pending.Len() > 0 && !in.invalid {
		var ops []*pendingOp
		if all {
			in.pending.Ascend(func(it *interval.Item[*pendingOp]) bool { ops = append(ops, it.Value); return true })
		} else {
			in.pending.Overlap(lo, hi, func(it *interval.Item[*pendingOp]) bool { ops = append(ops, it.Value); return true })
		}
		if len(ops) == 0 {
			return nil
		}
		sortOps(ops)
		for _, op := range ops {
			in.pending.Delete(op.item)
		}
		for _, op := range ops {
			if in.invalid {
				break
			}
			if err := e.runOp(in, op); err != nil {
				e.invalidateInstance(in)
				return err
			}
		}
	}
	return nil
}

func sortOps(ops []*pendingOp) {
	for i := 1; i < len(ops); i++ {
		for k := i; k > 0 && ops[k].seq < ops[k-1].seq; k-- {
			ops[k], ops[k-1] = ops[k-1], ops[k]
		}
	}
}

// runOp applies one pending op.
func (e *Engine) runOp(in *instance, op *pendingOp) error {
	j := in.ij.j
	switch op.sign {
	case 0:
		delete(in.recompute, op.key)
		e.recomputeKey(in, op.key)
	case +1:
		n := op.node
		if !n.alive || n.child(op.key) != nil {
			return nil
		}
		src := &j.Sources[n.level]
		cb := n.binding.Clone()
		src.Bind(op.key, cb)
		child, err := e.build(in, int(n.level)+1, cb)
		if child != nil && n.alive {
			n.setChild(op.key, child)
		} else if child != nil {
			e.dropTree(child)
		}
		return err
	case -1:
		n := op.node
		if !n.alive {
			return nil
		}
		if child := n.removeChild(op.key); child != nil {
			e.retract(in, child)
		}
	}
	return nil
}

// retract applies -1 for every derivation under node n (using the current
// store, which its live registrations kept consistent) and removes its
// registrations (R-RETRACT-1).
func (e *Engine) retract(in *instance, n *node) {
	if !n.alive {
		return
	}
	j := in.ij.j
	if !n.last() {
		for _, c := range n.children {
			e.retract(in, c)
		}
		e.unregister(n)
		return
	}
	src := &j.Sources[n.level]
	ms := e.getMatches()
	defer func() { e.putMatches(ms) }()
	lo, hi := n.interval()
	n.tbl.store.RangePtr(lo, hi, func(k string, en *entry) bool {
		if src.Matches(k, n.binding) {
			ms = append(ms, match{k, en.value})
		}
		return true
	})
	e.unregister(n)
	var scratch [16]string
	for _, m := range ms {
		sb := append(scratch[:0], n.binding...)
		src.Bind(m.key, sb)
		if sk, ok := j.Sink.Expand(sb); ok && sk >= in.lo && sk < in.hi {
			e.apply(in, sk, chMinus, m.value, "")
		}
	}
}

// unregister removes one node's registration.
func (e *Engine) unregister(n *node) {
	if !n.alive {
		return
	}
	n.alive = false
	g, t := n.group, n.tbl
	last := g.nodes[len(g.nodes)-1]
	g.nodes[n.gidx], last.gidx = last, n.gidx
	g.nodes[len(g.nodes)-1] = nil
	g.nodes = g.nodes[:len(g.nodes)-1]
	n.group = nil
	t.nregs--
	if len(g.nodes) == 0 {
		t.regs.Delete(g.item)
		delete(t.regIndex, regKey{g.item.Lo, g.item.Hi})
	}
}

// dropTree removes every registration below and including n.
func (e *Engine) dropTree(n *node) {
	if n == nil || !n.alive {
		return
	}
	for _, c := range n.children {
		e.dropTree(c)
	}
	e.unregister(n)
}

// recordPending records a context change at node n (§3.4(b)): the pending
// region is the sink footprint of the extended binding, clipped to the
// instance; dependants of that region are invalidated at once.
func (e *Engine) recordPending(n *node, key string, sign int) {
	in := n.inst
	j := in.ij.j
	cb := n.binding.Clone()
	j.Sources[n.level].Bind(key, cb)
	flo, fhi := j.Sink.Footprint(cb)
	flo, fhi = maxStr(flo, in.lo), minStr(fhi, in.hi)
	if flo >= fhi {
		return // no derivation through this key can land in the instance
	}
	e.addPending(in, &pendingOp{sign: sign, node: n, key: key}, flo, fhi)
	if !j.Sources[n.level].Lazy {
		e.queueEager(in)
	}
}

// addPending files an op and invalidates the region's downstream dependants.
func (e *Engine) addPending(in *instance, op *pendingOp, lo, hi string) {
	e.seq++
	op.seq = e.seq
	op.item = in.pending.Insert(lo, hi, op)
	e.invalidateDownstream(in.ij.sink, lo, hi)
}

func (e *Engine) queueEager(in *instance) {
	if !in.queued {
		in.queued = true
		e.eager = append(e.eager, in)
	}
}

// drainEager processes the pending ops of instances with eager changes
// before the top-level call returns. Errors leave the instance invalid; it
// recomputes at its next validate.
func (e *Engine) drainEager() {
	for len(e.eager) > 0 {
		in := e.eager[0]
		e.eager = e.eager[1:]
		in.queued = false
		if in.invalid || in.detached {
			continue
		}
		_ = e.processPending(in, "", "", true)
		if in.invalid && !in.detached {
			// It needed source data owned elsewhere: the caller must
			// validate the range once that data is fetched (TakeRevalidations).
			e.revalidate = append(e.revalidate, Range{in.lo, in.hi})
		}
	}
	e.eager = nil
}

// TakeRevalidations returns, and forgets, the sink ranges whose eager
// maintenance could not finish because it needed source ranges owned
// elsewhere (partitioned engines only). The caller validates each one —
// fetching what Validate reports missing — before acknowledging the write
// that caused it (§3.6: eager changes are applied before the write returns).
func (e *Engine) TakeRevalidations() []Range {
	r := e.revalidate
	e.revalidate = nil
	return r
}
