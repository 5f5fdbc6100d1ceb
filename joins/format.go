package joins

import (
	"strconv"
	"strings"
)

// String reprints the join in canonical form: every slot occurrence carries
// its length and type letters, context sources say `using`, `using eager` or
// `filter`, and `pull` marks a non-maintained join. Parsing the result gives
// a join with the same structure, slots and flags.
func (j *Join) String() string {
	var sb strings.Builder
	j.writePattern(&sb, &j.Sink)
	sb.WriteString(" =")
	for i := range j.Sources {
		s := &j.Sources[i]
		switch {
		case i == len(j.Sources)-1:
			sb.WriteString(" " + j.Op.String())
		case s.Filter:
			sb.WriteString(" filter")
		case s.Lazy:
			sb.WriteString(" using")
		default:
			sb.WriteString(" using eager")
		}
		sb.WriteByte(' ')
		j.writePattern(&sb, &s.Pattern)
	}
	if !j.Maintained && j.Staleness == 0 {
		sb.WriteString(" pull")
	}
	// Slots that only with/where defined still count toward the limits.
	sep := " where "
	for s, sl := range j.Slots {
		if sl.Anonymous || j.Sink.HasSlot(s) || j.usedBySource(s) {
			continue
		}
		sb.WriteString(sep + sl.Name + ":" + strconv.Itoa(sl.Len))
		if sl.Type != 0 {
			sb.WriteByte(sl.Type)
		}
		if sl.Subtable {
			sb.WriteByte('t')
		}
		sep = ", "
	}
	return sb.String()
}

func (j *Join) usedBySource(s int) bool {
	for i := range j.Sources {
		if j.Sources[i].HasSlot(s) {
			return true
		}
	}
	return false
}

func (j *Join) writePattern(sb *strings.Builder, p *Pattern) {
	for _, sg := range p.Segs {
		if sg.Slot < 0 {
			sb.WriteString(sg.Lit)
			continue
		}
		sl := &j.Slots[sg.Slot]
		sb.WriteByte('<')
		if !sl.Anonymous {
			sb.WriteString(sl.Name)
		}
		sb.WriteByte(':')
		sb.WriteString(strconv.Itoa(sl.Len))
		if sl.Type != 0 {
			sb.WriteByte(sl.Type)
		}
		if sl.Subtable {
			sb.WriteByte('t')
		}
		sb.WriteByte('>')
	}
}

// SameStructure reports whether a and b have the same structure (§2.7): the
// same number of patterns, the same operator, and pattern by pattern the same
// literal bytes, slot positions and slot lengths. Slot names do not matter.
func SameStructure(a, b *Join) bool {
	if a.Op != b.Op || len(a.Sources) != len(b.Sources) {
		return false
	}
	if !sameShape(&a.Sink, &b.Sink) {
		return false
	}
	for i := range a.Sources {
		if !sameShape(&a.Sources[i].Pattern, &b.Sources[i].Pattern) {
			return false
		}
	}
	return true
}

func sameShape(p, q *Pattern) bool {
	if p.KeyLen != q.KeyLen || len(p.Segs) != len(q.Segs) {
		return false
	}
	for i := range p.Segs {
		x, y := &p.Segs[i], &q.Segs[i]
		// Slot numbers follow parse order, so consistently renamed joins
		// compare equal while swapped or repeated slots do not.
		if x.Slot != y.Slot || x.Lit != y.Lit || x.Width != y.Width {
			return false
		}
	}
	return true
}
