package engine

import (
	"fmt"
	"math"
	"strings"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/skiplist/interval"
)

// Locality tells an engine which keys it owns when it is one partition of
// several (DESIGN.md "Partitions, peers and the cluster are one idea"). A
// source range it does not own must be copied in from its owners — the
// subscription protocol of spec/server.md §3.4–§3.7, run by the partition
// layer — and changes to keys it does own must be passed on to subscribers.
// A nil Locality means the engine owns everything (a standalone server).
type Locality interface {
	// Local reports whether every key of [lo,hi) is owned by this engine.
	Local(lo, hi string) bool
	// Owns reports whether key is owned by this engine.
	Owns(key string) bool
	// KeyChanged reports a change to an owned key (value is "" when erased).
	KeyChanged(table, key, value string, erased bool)
	// RangeInvalidated reports that derived keys in [lo,hi) of table became
	// unreliable (§3.9): subscribers must drop their copies of that range.
	RangeInvalidated(table, lo, hi string)
}

// Range is a key interval [Lo, Hi).
type Range struct{ Lo, Hi string }

// NeedRemoteError lists source ranges that must be copied in from their
// owners before the operation can complete; the engine left no partial
// results behind. Fetch them (then call CoverRemote) and run the operation
// again (§4.3's restart).
type NeedRemoteError struct {
	Ranges []Range
}

func (e *NeedRemoteError) Error() string {
	var sb strings.Builder
	for i, r := range e.Ranges {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "[%q, %q)", r.Lo, r.Hi)
	}
	return "source ranges owned elsewhere must be fetched first: " + sb.String()
}

// remoteCopy is one range of keys owned elsewhere held here.
type remoteCopy struct {
	expires  int64 // µs; math.MaxInt64 for maintained data
	firstUse int64 // timestamp of the first operation that read it, 0 if none
	pins     int   // requests waiting to use it (PinRemote): fresh while pinned
}

// covered reports whether the union of t's unexpired remote copies contains
// [lo,hi), and the earliest expiry among them (math.MaxInt64 when they copy
// maintained data). Expired copies of [lo,hi) are dropped.
func (e *Engine) covered(t *table, lo, hi string) (bool, int64) {
	var expired []*interval.Item[*remoteCopy]
	cur, exp := lo, int64(math.MaxInt64)
	t.remote.Overlap(lo, hi, func(it *interval.Item[*remoteCopy]) bool {
		c := it.Value
		// A copy is fresh until it expires, and in any case throughout the
		// first operation that uses it (the request that waited for it).
		if c.expires < e.now && c.pins == 0 && c.firstUse != 0 && c.firstUse != e.now {
			expired = append(expired, it)
			return true
		}
		if c.firstUse == 0 {
			c.firstUse = e.now
		}
		if it.Lo <= cur && it.Hi > cur {
			cur = it.Hi
			if c.expires < exp {
				exp = c.expires
			}
		}
		return true
	})
	for _, it := range expired {
		e.dropRemote(t, it)
	}
	if len(expired) > 0 {
		return false, exp
	}
	return cur >= hi, exp
}

// needRemote checks that a non-local source range is present, recording it
// as missing (and the instance as incomplete) if not.
func (e *Engine) needRemote(in *instance, t *table, lo, hi string) bool {
	if e.loc == nil || lo >= hi || e.loc.Local(lo, hi) {
		return false
	}
	if ok, exp := e.covered(t, lo, hi); ok {
		if exp < in.depExpiry {
			in.depExpiry = exp // §10 A4 through a copy of non-maintained data
		}
		return false
	}
	e.missEvents++
	in.incomplete = true
	for _, r := range e.missing {
		if r.Lo == lo && r.Hi == hi {
			return true
		}
	}
	e.missing = append(e.missing, Range{lo, hi})
	return true
}

// CoverRemote records that the keys of [lo,hi) owned elsewhere are now held
// here (the partition inserted their snapshots) and are kept current by
// notifications until DropRemote. freshFor is how much longer the copied
// data stays fresh, in µs, as the owner's ValidateFresh reported it
// (math.MaxInt64 for maintained data). It is relative because each engine
// keeps its own operation clock.
func (e *Engine) CoverRemote(lo, hi string, freshFor int64) error {
	name := joins.RangeTableName(lo, hi)
	if name == "" {
		return fmt.Errorf("cover [%q, %q): %w", lo, hi, ErrNoTable)
	}
	expires := int64(math.MaxInt64)
	if freshFor < math.MaxInt64-e.now {
		expires = e.now + freshFor
	}
	t := e.table(name, true)
	t.remote.Insert(lo, hi, &remoteCopy{expires: expires})
	var done []*interval.Item[struct{}]
	t.fetching.Overlap(lo, hi, func(it *interval.Item[struct{}]) bool {
		if it.Lo == lo && it.Hi == hi {
			done = append(done, it)
		}
		return true
	})
	for _, it := range done {
		t.fetching.Delete(it)
	}
	return nil
}

// PinRemote adds delta to the pins of the copies recorded for exactly
// [lo,hi). A pinned copy stays usable after its data expires, so that a
// request that waited for it can use it however long its other ranges took
// to arrive; unpin when that request completes.
func (e *Engine) PinRemote(lo, hi string, delta int) {
	t := e.tables[joins.RangeTableName(lo, hi)]
	if t == nil {
		return
	}
	t.remote.Overlap(lo, hi, func(it *interval.Item[*remoteCopy]) bool {
		if it.Lo == lo && it.Hi == hi {
			it.Value.pins += delta
			if it.Value.pins < 0 {
				it.Value.pins = 0
			}
		}
		return true
	})
}

// DropRemote forgets the copies of keys owned elsewhere in [lo,hi) (their
// owner invalidated them, or a fresh snapshot is about to replace them): the
// copies are removed without per-key notifications, whether or not a
// complete copy of the range was recorded, and everything reading them is
// invalidated (§3.9).
func (e *Engine) DropRemote(lo, hi string) {
	name := joins.RangeTableName(lo, hi)
	t := e.tables[name]
	if t == nil || name == "" || e.loc == nil {
		return
	}
	e.begin()
	defer e.end()
	var drop []*interval.Item[*remoteCopy]
	t.remote.Overlap(lo, hi, func(it *interval.Item[*remoteCopy]) bool { drop = append(drop, it); return true })
	for _, it := range drop {
		e.dropRemote(t, it)
	}
	e.purgeForeign(t, lo, hi)
	e.invalidateLocalReaders(t, lo, hi)
}

// BeginFetch tells the engine that snapshots of [lo,hi) are on their way
// (the partition subscribed to the owners). Until CoverRemote records the
// range, keys arriving there are the new copy and are not purged when an
// older, expired copy of an overlapping range is dropped.
func (e *Engine) BeginFetch(lo, hi string) {
	if name := joins.RangeTableName(lo, hi); name != "" {
		e.table(name, true).fetching.Insert(lo, hi, struct{}{})
	}
}

// purgeForeign removes the copies of keys owned elsewhere in [lo,hi),
// except in ranges being fetched (BeginFetch).
func (e *Engine) purgeForeign(t *table, lo, hi string) {
	for s := t.store.Seek(lo); s.Valid() && s.Key() < hi; {
		fetching := false
		if t.fetching.Len() > 0 {
			t.fetching.Stab(s.Key(), func(*interval.Item[struct{}]) bool { fetching = true; return false })
		}
		if !fetching && !e.loc.Owns(s.Key()) && s.Value().owner == nil {
			s.Remove()
			continue
		}
		s.Next()
	}
}

// dropRemote removes one remote copy and the foreign keys it held.
func (e *Engine) dropRemote(t *table, it *interval.Item[*remoteCopy]) {
	t.remote.Delete(it)
	e.purgeForeign(t, it.Lo, it.Hi)
	e.invalidateLocalReaders(t, it.Lo, it.Hi)
}

// invalidateLocalReaders invalidates this engine's readers of [lo,hi) only:
// dropping copies of keys owned elsewhere changes nothing this engine's own
// subscribers were sent.
func (e *Engine) invalidateLocalReaders(t *table, lo, hi string) {
	quiet := e.quietRemote
	e.quietRemote = true
	e.invalidateDownstream(t, lo, hi)
	e.quietRemote = quiet
}

// ValidateFresh validates [first,last) like Validate and also reports how
// long its data stays fresh: the time (µs) until the earliest expiry of
// non-maintained joins it depends on, or math.MaxInt64. An owner answers a
// subscription with it (§10 A4 across partitions).
func (e *Engine) ValidateFresh(first, last string) (int64, error) {
	name := joins.RangeTableName(first, last)
	if name == "" {
		return 0, fmt.Errorf("validate [%q, %q): %w", first, last, ErrNoTable)
	}
	t0 := e.begin()
	defer func() { e.timeVal += e.clock().Sub(t0); e.end() }()
	exp, err := e.validate(e.table(name, true), first, last)
	fresh := int64(math.MaxInt64)
	if exp != math.MaxInt64 {
		fresh = max(exp-e.now, 0)
	}
	if err != nil {
		return fresh, err
	}
	if len(e.missing) > 0 {
		return fresh, &NeedRemoteError{Ranges: append([]Range(nil), e.missing...)}
	}
	return fresh, nil
}
