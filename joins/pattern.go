// Package joins owns the Pequod join language: parsing join text into a Join
// (spec/joins.md §2), the Pattern and Slot model, and the pure key arithmetic
// the maintenance engine needs — matching keys against patterns, building keys
// from bindings, and computing scan intervals (§3.2, Appendix A, §10 A1).
//
// It has no goroutines, no clocks and no storage; the engine in joins/engine
// uses it.
package joins

import (
	"strings"
)

// Segment is one piece of a pattern: either literal bytes or a slot reference.
type Segment struct {
	// Lit holds the literal bytes; empty for a slot reference.
	Lit string
	// Slot is the slot index for a slot reference, or -1 for a literal.
	Slot int
	// Off is the byte offset of this segment in every key the pattern matches.
	Off int
	// Width is the byte length of the segment (len(Lit) or the slot's length).
	Width int
}

// Pattern is one parsed key pattern, such as `p|<poster:5>|<time:10>`.
// Every key it matches has exactly KeyLen bytes.
type Pattern struct {
	// Text is the pattern as written in the join.
	Text string
	// Segs are the literal and slot pieces in key order.
	Segs []Segment
	// KeyLen is the length of every key the pattern matches.
	KeyLen int
	// Table is the literal prefix before the first '|' when no slot comes
	// before it, else "" (§2.6).
	Table string
	// slotOff[i] is the offset of the first occurrence of slot i, or -1.
	slotOff []int
}

// HasSlot reports whether slot index s occurs in the pattern.
func (p *Pattern) HasSlot(s int) bool { return s < len(p.slotOff) && p.slotOff[s] >= 0 }

// SlotOffset returns the byte offset of the first occurrence of slot s, or -1.
func (p *Pattern) SlotOffset(s int) int {
	if s >= len(p.slotOff) {
		return -1
	}
	return p.slotOff[s]
}

// Binding assigns byte strings to slots, indexed by slot number. The empty
// string means "unbound" (every slot is at least one byte wide).
type Binding []string

// Clone returns an independent copy of b.
func (b Binding) Clone() Binding { return append(Binding(nil), b...) }

// Matches reports whether key has the pattern's shape and agrees with every
// slot bound in b (R-NOTIFY-1). Repeated slots must agree with each other.
func (p *Pattern) Matches(key string, b Binding) bool {
	if len(key) != p.KeyLen {
		return false
	}
	for i := range p.Segs {
		sg := &p.Segs[i]
		piece := key[sg.Off : sg.Off+sg.Width]
		if sg.Slot < 0 {
			if piece != sg.Lit {
				return false
			}
			continue
		}
		if v := b[sg.Slot]; v != "" {
			if v != piece {
				return false
			}
		} else if first := p.slotOff[sg.Slot]; first != sg.Off && key[first:first+sg.Width] != piece {
			return false
		}
	}
	return true
}

// Bind stores the key's value for each of the pattern's slots into b. The key
// must match the pattern (see Matches).
func (p *Pattern) Bind(key string, b Binding) {
	for i := range p.Segs {
		sg := &p.Segs[i]
		if sg.Slot >= 0 {
			b[sg.Slot] = key[sg.Off : sg.Off+sg.Width]
		}
	}
}

// Expand builds the key for a binding that binds every slot of the pattern.
// It returns false if some slot is unbound.
func (p *Pattern) Expand(b Binding) (string, bool) {
	var sb strings.Builder
	sb.Grow(p.KeyLen)
	for i := range p.Segs {
		sg := &p.Segs[i]
		if sg.Slot < 0 {
			sb.WriteString(sg.Lit)
			continue
		}
		v := b[sg.Slot]
		if v == "" {
			return "", false
		}
		sb.WriteString(v)
	}
	return sb.String(), true
}

// Prefix returns the longest prefix of every key matching the pattern under
// b: the literal bytes and bound slot values up to the first unbound slot.
// complete is true when the whole key is determined.
func (p *Pattern) Prefix(b Binding) (prefix string, complete bool) {
	var sb strings.Builder
	sb.Grow(p.KeyLen)
	for i := range p.Segs {
		sg := &p.Segs[i]
		if sg.Slot < 0 {
			sb.WriteString(sg.Lit)
			continue
		}
		v := b[sg.Slot]
		if v == "" {
			return sb.String(), false
		}
		sb.WriteString(v)
	}
	return sb.String(), true
}

// firstUnbound returns the segment index of the first unbound slot of p under
// b and the offset where it starts, or -1.
func (p *Pattern) firstUnbound(b Binding) (seg int, off int) {
	for i := range p.Segs {
		sg := &p.Segs[i]
		if sg.Slot >= 0 && b[sg.Slot] == "" {
			return i, sg.Off
		}
	}
	return -1, p.KeyLen
}

// PrefixEnd returns the smallest string greater than every string that has
// prefix p: p with trailing 0xFF bytes dropped and its last byte incremented.
// If p is empty or all 0xFF it returns "" meaning "no upper bound"; callers in
// this project always pass prefixes that contain a table name, so that case
// does not arise.
func PrefixEnd(p string) string {
	n := len(p)
	for n > 0 && p[n-1] == 0xFF {
		n--
	}
	if n == 0 {
		return ""
	}
	var b strings.Builder // one allocation, where []byte→string takes two
	b.Grow(n)
	b.WriteString(p[:n-1])
	b.WriteByte(p[n-1] + 1)
	return b.String()
}

// KeySuccessor returns the smallest key greater than k: k + "\x00". A
// single-key range is [k, KeySuccessor(k)) (§1.3).
func KeySuccessor(k string) string { return k + "\x00" }

// TableName returns the table of a key (§1.2): the bytes before the first
// '|'; else, if the key ends in '}', the bytes before that; else empty. It
// takes and returns strings or byte slices alike (the result aliases key),
// so the wire layer checks keys without copying them.
func TableName[S ~string | ~[]byte](key S) S {
	for i := 0; i < len(key); i++ {
		if key[i] == '|' {
			return key[:i]
		}
	}
	if n := len(key); n > 0 && key[n-1] == '}' {
		return key[:n-1]
	}
	return key[:0]
}

// RangeTableName returns the table of the range [first,last) (§1.2), or
// empty if the range has no table or crosses tables: t = TableName(first)
// when t is non-empty and last starts with t followed by '|' or '}'.
func RangeTableName[S ~string | ~[]byte](first, last S) S {
	t := TableName(first)
	if len(t) == 0 || len(last) <= len(t) {
		return first[:0]
	}
	for i := 0; i < len(t); i++ {
		if last[i] != t[i] {
			return first[:0]
		}
	}
	if c := last[len(t)]; c != '|' && c != '}' {
		return first[:0]
	}
	return t
}

// SeedBinding fixes the sink slots that the range [lo,hi) determines (§3.2
// step 1): a slot is fixed when lo and hi agree on all its bytes, or when hi
// is the slot-successor of lo (e.g. [t|11111, t|11112) fixes x=11111 for
// t|<x:5>). The walk stops at the first literal or slot the bounds do not pin.
func (p *Pattern) SeedBinding(lo, hi string, b Binding) {
	for i := range p.Segs {
		sg := &p.Segs[i]
		end := sg.Off + sg.Width
		if sg.Slot < 0 {
			if len(lo) < end || len(hi) < end || lo[sg.Off:end] != sg.Lit || hi[sg.Off:end] != sg.Lit {
				return
			}
			continue
		}
		if len(lo) >= end && len(hi) >= end && lo[sg.Off:end] == hi[sg.Off:end] {
			if v := b[sg.Slot]; v != "" && v != lo[sg.Off:end] {
				return // a repeated slot disagreeing: leave it to clipping
			}
			b[sg.Slot] = lo[sg.Off:end]
			continue
		}
		// Successor case: the shorter bound ends exactly at the end of this
		// slot and hi's slot bytes are lo's slot bytes plus one.
		if len(lo) >= end && len(hi) == end && successorOf(lo[sg.Off:end], hi[sg.Off:end]) {
			if b[sg.Slot] == "" {
				b[sg.Slot] = lo[sg.Off:end]
			}
		}
		return
	}
}

// successorOf reports whether b is a+1 as a fixed-width big-endian number
// (trailing 0xFF bytes of a carry into 0x00 bytes of b).
func successorOf(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	i := len(a) - 1
	for i >= 0 && a[i] == 0xFF && b[i] == 0x00 {
		i--
	}
	if i < 0 || a[i] == 0xFF || b[i] != a[i]+1 {
		return false
	}
	return a[:i] == b[:i]
}

// ScanInterval returns a key interval [lo, hi) of src's table that contains
// every key of src that can take part in a derivation whose sink key lies in
// [sinkLo, sinkHi), given binding b (§3.2, §10 A1). It is the literal prefix
// plus the bound slot prefix of src, narrowed by the sink range when the first
// unbound slot of the sink is also the first unbound slot of src. The result
// is a superset, so callers must still match keys and clip outputs (R-CLIP-1).
// A source without a table name (a slot before its first '|') gets ["", ""),
// an empty interval: such a source cannot match stored keys, and the engine
// refuses joins that have one.
func ScanInterval(src, sink *Pattern, b Binding, sinkLo, sinkHi string) (lo, hi string) {
	prefix, complete := src.Prefix(b)
	if complete {
		return prefix, KeySuccessor(prefix)
	}
	lo, hi = prefix, PrefixEnd(prefix)
	sinkSeg, sinkOff := sink.firstUnbound(b)
	srcSeg, _ := src.firstUnbound(b)
	if sinkSeg < 0 || srcSeg < 0 || sink.Segs[sinkSeg].Slot != src.Segs[srcSeg].Slot {
		return lo, hi
	}
	w := sink.Segs[sinkSeg].Width
	sinkPrefix, _ := sink.Prefix(b)
	if len(sinkPrefix) != sinkOff {
		return lo, hi
	}
	if strings.HasPrefix(sinkLo, sinkPrefix) {
		rest := sinkLo[sinkOff:]
		if len(rest) > w {
			rest = rest[:w]
		}
		if cand := prefix + rest; cand > lo {
			lo = cand
		}
	}
	if strings.HasPrefix(sinkHi, sinkPrefix) {
		rest := sinkHi[sinkOff:]
		var cand string
		if len(rest) >= w {
			cand = PrefixEnd(prefix + rest[:w])
		} else {
			cand = prefix + rest
		}
		if cand != "" && cand < hi {
			hi = cand
		}
	}
	return lo, hi
}

// Footprint returns the sink-key interval that derivations under binding b can
// reach: every key with the sink prefix b determines (used for pending update
// regions, §3.4(b)). A more specific binding gives a sub-interval.
func (p *Pattern) Footprint(b Binding) (lo, hi string) {
	prefix, complete := p.Prefix(b)
	if complete {
		return prefix, KeySuccessor(prefix)
	}
	return prefix, PrefixEnd(prefix)
}
