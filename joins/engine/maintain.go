package engine

import (
	"slices"
	"strconv"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/skiplist/interval"
)

// change is the kind of a key change as an operator sees it (§3.5).
type change int

const (
	chInsert change = iota // a new source key (old value "")
	chUpdate               // an existing source key overwritten
	chErase                // a source key removed
	chPlus                 // +1: a derivation found by computation
	chMinus                // -1: a derivation retracted by computation
)

func (c change) adds() bool { return c == chInsert || c == chPlus }

// notify tells every registration containing key about its change (§3.4).
// Registrations are taken in descending source order, so that each source
// position sees later positions already changed and earlier ones not yet —
// the delta rule that makes one table feeding several sources of a join
// (§10 A2) come out exact.
func (e *Engine) notify(t *table, key string, kind change, old, value string) {
	if e.loc != nil && e.loc.Owns(key) {
		e.loc.KeyChanged(t.name, key, value, kind == chErase)
	}
	if t.regs.Len() == 0 {
		return
	}
	ns := e.takeNodeBuf()
	defer e.putNodeBuf(ns)
	t.regs.Stab(key, func(it *interval.Item[*regGroup]) bool {
		ns = append(ns, it.Value.nodes...)
		return true
	})
	for i := 1; i < len(ns); i++ { // stable insertion sort, level descending
		for k := i; k > 0 && ns[k].level > ns[k-1].level; k-- {
			ns[k], ns[k-1] = ns[k-1], ns[k]
		}
	}
	for _, n := range ns {
		if !n.alive {
			continue
		}
		in := n.inst
		j := in.ij.j
		src := &j.Sources[n.level]
		if !src.Matches(key, n.binding) { // R-NOTIFY-1
			continue
		}
		if !n.last() {
			// Context sources: values do not matter, overwrites are ignored.
			switch kind {
			case chInsert:
				e.contextChange(n, key, +1)
			case chErase:
				e.contextChange(n, key, -1)
			}
			continue
		}
		var scratch [16]string
		sb := append(scratch[:0], n.binding...)
		src.Bind(key, sb)
		sk, ok := j.Sink.Expand(sb)
		if !ok || sk < in.lo || sk >= in.hi { // R-NOTIFY-2
			continue
		}
		e.apply(in, sk, kind, old, value)
	}
}

// takeNodeBuf and putNodeBuf lend notify a scratch slice; notify nests
// (a sink write notifies the sink's readers), so buffers are a stack.
func (e *Engine) takeNodeBuf() []*node {
	if n := len(e.nodeBufs); n > 0 {
		b := e.nodeBufs[n-1]
		e.nodeBufs = e.nodeBufs[:n-1]
		return b[:0]
	}
	return make([]*node, 0, 16)
}

func (e *Engine) putNodeBuf(b []*node) {
	clear(b)
	e.nodeBufs = append(e.nodeBufs, b[:0])
}

// contextChange handles an insert or erase seen by a context registration.
func (e *Engine) contextChange(n *node, key string, sign int) {
	in := n.inst
	if in.busy {
		// Only reachable through a cycle of joins: recompute instead of
		// mixing this change into an unfinished computation.
		in.dirty = true
		return
	}
	e.recordPending(n, key, sign)
}

// apply performs one operator step on sink key sk (§3.5). value is the
// source key's new value and old its previous one ("" for inserts and for
// +1/-1 of computation; for -1 the retracted value is passed as old).
func (e *Engine) apply(in *instance, sk string, kind change, old, value string) {
	if in.recompute[sk] || !e.owns(sk) {
		return // a from-scratch recomputation of this key is pending
	}
	t := in.ij.sink
	en := t.store.GetPtr(sk)
	exists := en != nil
	if exists && en.owner == nil && kind.adds() {
		// A client key the join now derives takes the join's value and
		// becomes the instance's, so a later client erase is noticed (§4.5).
		en.owner, en.nder = in, 0
		e.claimWrite(in, t, sk, en, kind, value)
		return
	}
	switch in.ij.j.Op {
	case joins.Copy:
		switch {
		case kind.adds():
			if !exists {
				e.createSink(in, sk, value, 1)
				return
			}
			if en.owner == in {
				en.nder++
			}
			e.writeSink(t, sk, en, value)
		case kind == chUpdate:
			if exists {
				e.writeSink(t, sk, en, value)
			}
		default: // erase, -1
			if !exists {
				return
			}
			if en.owner == in {
				en.nder--
				if en.nder > 0 {
					if en.value == old {
						// R-COPY-1: keep the key, with the value of a
						// remaining derivation the instance tracks.
						if v, found := e.trackedDerivation(in, sk); found {
							e.writeSink(t, sk, en, v)
						}
					}
					return
				}
			}
			e.eraseSink(t, sk, en)
		}
	case joins.Count:
		var d int64
		switch kind {
		case chInsert, chPlus:
			d = 1
		case chErase, chMinus:
			d = -1
		default:
			return // an overwrite changes no count
		}
		if !exists {
			e.createSink(in, sk, strconv.FormatInt(d, 10), 0)
			return
		}
		e.writeSink(t, sk, en, strconv.FormatInt(parseInt(en.value)+d, 10))
	case joins.Sum:
		if !exists {
			switch kind {
			case chInsert, chPlus, chUpdate:
				e.createSink(in, sk, value, 0) // verbatim (§3.5)
			default:
				e.createSink(in, sk, strconv.FormatInt(-parseInt(old), 10), 0)
			}
			return
		}
		var d int64
		switch kind {
		case chInsert, chPlus:
			d = parseInt(value)
		case chUpdate:
			d = parseInt(value) - parseInt(old)
		default:
			d = -parseInt(old) // D6: a retraction subtracts
		}
		if d != 0 {
			e.writeSink(t, sk, en, strconv.FormatInt(parseInt(en.value)+d, 10))
		}
	case joins.Min, joins.Max:
		isMin := in.ij.j.Op == joins.Min
		better := func(a, b string) bool {
			if isMin {
				return a < b
			}
			return a > b
		}
		switch kind {
		case chInsert, chPlus, chUpdate:
			if !exists {
				e.createSink(in, sk, value, 0)
			} else if better(value, en.value) {
				e.writeSink(t, sk, en, value)
			} else if kind == chUpdate && old == en.value && value != old {
				e.invalidateKey(in, sk) // the extreme got worse
			}
		default:
			if exists && old == en.value { // R-MINMAX-1
				e.invalidateKey(in, sk)
			}
		}
	}
}

// claimWrite writes the first derivation's result over a client key that
// the instance has just claimed, as if the key had been absent.
func (e *Engine) claimWrite(in *instance, t *table, sk string, en *entry, kind change, value string) {
	v := value
	switch in.ij.j.Op {
	case joins.Copy:
		en.nder = 1
	case joins.Count:
		v = "1"
	}
	e.writeSink(t, sk, en, v)
}

// owns reports whether this engine writes sink key sk: in a partitioned
// server each partition computes only the sink keys it owns.
func (e *Engine) owns(sk string) bool { return e.loc == nil || e.loc.Owns(sk) }

// parseInt parses like the original's sum: optional sign, then leading
// decimal digits; anything else gives 0 (§3.5).
func parseInt(s string) int64 {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var n int64
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// createSink stores a new derived key owned by in and notifies readers.
func (e *Engine) createSink(in *instance, sk, value string, nder int32) {
	t := in.ij.sink
	t.nmodify++
	t.store.Put(sk, entry{value: value, owner: in, nder: nder})
	if !e.silent(in) {
		e.notify(t, sk, chInsert, "", value)
	}
}

// silent reports whether writes of owner's keys notify nobody: refresh is
// recomputing it and reports the difference itself.
func (e *Engine) silent(owner *instance) bool { return owner != nil && owner == e.refreshing }

// writeSink overwrites a derived key's value and notifies readers. A key
// owned by something else keeps its owner (§3.2 step 4).
func (e *Engine) writeSink(t *table, sk string, en *entry, value string) {
	t.nmodify++
	old := en.value
	en.value = value
	if !e.silent(en.owner) {
		e.notify(t, sk, chUpdate, old, value)
	}
}

// eraseSink removes a derived key and notifies readers.
func (e *Engine) eraseSink(t *table, sk string, en *entry) {
	t.nmodify++
	t.store.Delete(sk)
	if !e.silent(en.owner) {
		e.notify(t, sk, chErase, en.value, "")
	}
}

// trackedDerivation returns the value of some current derivation of sk
// among those the instance's registrations track: a derivation through a
// context key whose pending +1 is unprocessed is not eligible, because
// nothing would notice its loss (R-COPY-1 with pending regions).
func (e *Engine) trackedDerivation(in *instance, sk string) (string, bool) {
	j := in.ij.j
	want := j.NewBinding()
	j.Sink.SeedBinding(sk, joins.KeySuccessor(sk), want)
	var v string
	found := false
	var walk func(n *node)
	walk = func(n *node) {
		if found || !n.alive || !agrees(n.binding, want) {
			return
		}
		if !n.last() {
			for _, c := range n.children {
				walk(c)
			}
			return
		}
		src := &j.Sources[n.level]
		lo, hi := n.interval()
		n.tbl.store.RangePtr(lo, hi, func(k string, en *entry) bool {
			if !src.Matches(k, n.binding) {
				return true
			}
			cb := n.binding.Clone()
			src.Bind(k, cb)
			if key, ok := j.Sink.Expand(cb); ok && key == sk {
				v, found = en.value, true
				return false
			}
			return true
		})
	}
	if in.root != nil {
		walk(in.root)
	}
	return v, found
}

// agrees reports whether two bindings agree on every slot both bind.
func agrees(a, b joins.Binding) bool {
	for i := range a {
		if a[i] != "" && b[i] != "" && a[i] != b[i] {
			return false
		}
	}
	return true
}

// invalidateKey removes a min/max key whose extreme may have been lost and
// records it for recomputation at the next validate (§3.5).
func (e *Engine) invalidateKey(in *instance, sk string) {
	t := in.ij.sink
	if en := t.store.GetPtr(sk); en != nil && en.owner == in {
		t.store.Delete(sk)
		e.invHits++
	}
	if in.recompute == nil {
		in.recompute = map[string]bool{}
	}
	in.recompute[sk] = true
	e.addPending(in, &pendingOp{sign: 0, key: sk}, sk, joins.KeySuccessor(sk))
}

// recomputeKey computes a min/max key from scratch.
func (e *Engine) recomputeKey(in *instance, sk string) {
	j := in.ij.j
	b := j.NewBinding()
	j.Sink.SeedBinding(sk, joins.KeySuccessor(sk), b)
	var best string
	found := false
	e.evaluate(in, 0, b, sk, func(v string) {
		if !found || (j.Op == joins.Min && v < best) || (j.Op == joins.Max && v > best) {
			best, found = v, true
		}
	})
	if !found {
		return
	}
	t := in.ij.sink
	if en := t.store.GetPtr(sk); en != nil {
		e.writeSink(t, sk, en, best)
		return
	}
	e.createSink(in, sk, best, 0)
}

// invalidateInstance drops everything an instance computed (§4.4): its keys
// (without per-key notifications), its registrations and pending ops; the
// readers of its range are invalidated in turn. It recomputes at the next
// validate.
func (e *Engine) invalidateInstance(in *instance) {
	if in.busy {
		in.dirty = true
		return
	}
	if in.invalid && in.root == nil && in.pending.Len() == 0 {
		return
	}
	e.dropOutput(in, nil)
	e.invalidateReaders(in)
}

// dropOutput removes an instance's keys without notifications — recording
// their values in old, if given — and its registrations and pending work,
// leaving it invalid.
func (e *Engine) dropOutput(in *instance, old map[string]string) {
	in.invalid = true
	e.dropTree(in.root)
	in.root = nil
	in.pending = interval.Tree[*pendingOp]{}
	in.recompute = nil
	t := in.ij.sink
	for it := t.store.Seek(in.lo); it.Valid() && it.Key() < in.hi; {
		if en := it.Ptr(); en.owner == in {
			if old != nil {
				old[it.Key()] = en.value
			} else {
				e.invHits++
			}
			it.Remove()
			continue
		}
		it.Next()
	}
}

// invalidateReaders invalidates the readers of an instance whose output
// was dropped. Output that expires (non-maintained joins, and maintained
// ones that read non-maintained data, §10 A4) reaches other partitions only
// as copies carrying that expiry (ValidateFresh), which lapse by
// themselves: telling them to drop early would destroy what they just
// computed from it, and in chains of pull joins across partitions, drop
// the copies parked requests were waiting for, forever (issue 8). An
// instance that was maintained when computed (loud) may have been copied
// as never expiring, though it reads expiring data since: its subscribers
// are told, once.
func (e *Engine) invalidateReaders(in *instance) {
	quiet := e.quietRemote
	if !in.loud {
		e.quietRemote = true
	} else if !quiet {
		in.loud = false // told now
	}
	e.invalidateDownstream(in.ij.sink, in.lo, in.hi)
	e.quietRemote = quiet
}

// refresh recomputes an instance whose data expired (§3.8, §10 A4) in
// place: its keys are recomputed without notifications, then readers are
// told what changed — the keys that appeared, changed value or vanished —
// as ordinary changes. Readers of the output (a push join over a pull
// join, and copies in other partitions) thus stay maintained instead of
// being dropped and rebuilt: a read of pull output, such as another
// partition's subscribe, no longer destroys what was computed from it
// (issue 8). If the recomputation cannot finish, the instance and its
// readers are invalidated as before.
func (e *Engine) refresh(in *instance) error {
	if in.busy {
		return nil
	}
	t := in.ij.sink
	old := map[string]string{}
	e.dropOutput(in, old)
	prev := e.refreshing
	e.refreshing = in
	err := e.compute(in)
	e.refreshing = prev
	if err != nil || in.invalid {
		// compute invalidated what it made; the old keys' readers go too.
		e.invalidateReaders(in)
		return err
	}
	for it := t.store.Seek(in.lo); it.Valid() && it.Key() < in.hi; it.Next() {
		en := it.Ptr()
		if en.owner != in {
			continue
		}
		k := it.Key()
		if ov, ok := old[k]; ok {
			delete(old, k)
			if ov != en.value {
				e.notify(t, k, chUpdate, ov, en.value)
			}
		} else {
			e.notify(t, k, chInsert, "", en.value)
		}
	}
	gone := make([]string, 0, len(old))
	for k := range old {
		gone = append(gone, k)
	}
	slices.Sort(gone)
	for _, k := range gone {
		if t.store.GetPtr(k) != nil {
			continue // another writer holds the key now; readers saw its write
		}
		e.notify(t, k, chErase, old[k], "")
	}
	return nil
}

// invalidateDownstream invalidates, as a whole, every instance with a
// registration on t overlapping [lo,hi) (§3.9).
func (e *Engine) invalidateDownstream(t *table, lo, hi string) {
	if e.loc != nil && !e.quietRemote {
		e.loc.RangeInvalidated(t.name, lo, hi)
	}
	// Quiet covers this range only: instances invalidated in turn below
	// change keys this engine owns, which its subscribers must hear about.
	quiet := e.quietRemote
	e.quietRemote = false
	defer func() { e.quietRemote = quiet }()
	if t.regs.Len() == 0 {
		return
	}
	var insts []*instance
	t.regs.Overlap(lo, hi, func(it *interval.Item[*regGroup]) bool {
		for _, n := range it.Value.nodes {
			if nlo, nhi := n.interval(); nlo < hi && lo < nhi { // what the node read, not its wider filing
				insts = append(insts, n.inst)
			}
		}
		return true
	})
	for _, in := range insts {
		e.invalidateInstance(in)
	}
}
