package engine

import (
	"fmt"
	"math"
	"strings"

	"github.com/pequod-go/pequod/joins"
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
	// Copied reports whether the keys of [lo,hi) owned elsewhere are held
	// here and usable by the operation running at now (µs, Now's clock),
	// and when the earliest of the data they copy expires (math.MaxInt64
	// for maintained data). The partition owns the copies and their whole
	// life (pending, valid, expired, pinned); the engine only asks.
	Copied(lo, hi string, now int64) (held bool, expires int64)
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
// results behind. Fetch them (until Locality.Copied reports them held) and
// run the operation again (§4.3's restart).
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

// needRemote checks that a non-local source range is held here, recording
// it as missing (and the instance as incomplete) if not.
func (e *Engine) needRemote(in *instance, lo, hi string) bool {
	if e.loc == nil || lo >= hi || e.loc.Local(lo, hi) {
		return false
	}
	if held, exp := e.loc.Copied(lo, hi, e.now); held {
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

// Now returns the timestamp (µs) of the engine's latest operation: the
// clock copies' expiries are measured on (Locality.Copied).
func (e *Engine) Now() int64 { return e.now }

// DropForeign removes the copies of keys owned elsewhere in [lo,hi) — a
// copy of that range was dropped: its owner invalidated it, it expired or
// a fresh snapshot replaces it — except those keep reports as still held
// by another copy, without per-key notifications, and invalidates this
// engine's readers of the range (§3.5 "on receiving invalidate"). Keys a
// join here derived, and client writes, stay.
func (e *Engine) DropForeign(lo, hi string, keep func(key string) bool) {
	name := joins.RangeTableName(lo, hi)
	t := e.tables[name]
	if t == nil || name == "" || e.loc == nil {
		return
	}
	e.begin()
	defer e.end()
	for s := t.store.Seek(lo); s.Valid() && s.Key() < hi; {
		k := s.Key()
		if !e.loc.Owns(k) && s.Ptr().owner == nil && (keep == nil || !keep(k)) {
			s.Remove()
			continue
		}
		s.Next()
	}
	// Dropping copies of keys owned elsewhere changes nothing this
	// engine's own subscribers were sent: invalidate local readers only.
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
