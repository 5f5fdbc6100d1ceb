package joins

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Operator is the transformation a join applies to its value source.
type Operator int

// The operators of §2.2.
const (
	Copy Operator = iota
	Min
	Max
	Count
	Sum
)

var opNames = [...]string{"copy", "min", "max", "count", "sum"}

// String returns the operator's keyword.
func (o Operator) String() string {
	if o < 0 || int(o) >= len(opNames) {
		return "op(" + strconv.Itoa(int(o)) + ")"
	}
	return opNames[o]
}

// Slot is a named fixed-width placeholder shared by all patterns of a join.
type Slot struct {
	// Name is the slot's name; anonymous slots are named ".anon<k>".
	Name string
	// Len is the slot width in bytes.
	Len int
	// Type is the last of the 's', 'd', 'n' type letters given, or 0.
	Type byte
	// Subtable is set if any occurrence carried the 't' type letter.
	Subtable bool
	// Anonymous marks `<:len>` wildcards, which never unify with anything.
	Anonymous bool
}

// Source is one input pattern of a join, in evaluation order.
type Source struct {
	Pattern
	// Lazy context sources defer recomputation to the next validate (§3.6).
	Lazy bool
	// Filter sources are eager context sources written with `filter` (§3.7).
	Filter bool
}

// Join is a parsed join specification (§2). Sources are in evaluation order;
// the last one is the value source.
type Join struct {
	// Text is the join as written.
	Text string
	// Sink is the output pattern.
	Sink Pattern
	// Sources are the input patterns; Sources[len-1] is the value source.
	Sources []Source
	// Op is the operator applied to the value source.
	Op Operator
	// Maintained is false for `pull` joins and joins with a staleness window.
	Maintained bool
	// Staleness is the validity window of a non-maintained join; 0 means a
	// pull join recomputed at every validate (§3.8). It is set through the
	// API (SetStaleness), never by the grammar.
	Staleness time.Duration
	// Slots are all slots of the join, indexed by slot number.
	Slots []Slot
	// CompletionSource is the smallest source index c such that sources
	// 0..c together bind every sink slot (§2.6).
	CompletionSource int
}

// ValueSource returns the last source, whose keys supply the values.
func (j *Join) ValueSource() *Source { return &j.Sources[len(j.Sources)-1] }

// NewBinding returns an empty binding sized for the join's slots.
func (j *Join) NewBinding() Binding { return make(Binding, len(j.Slots)) }

// SetStaleness makes the join non-maintained with validity window d (§3.8).
// d must be positive ("Cannot unset staleness").
func (j *Join) SetStaleness(d time.Duration) error {
	if d <= 0 {
		return errors.New("cannot unset staleness: the window must be positive")
	}
	j.Staleness = d
	j.Maintained = false
	return nil
}

// Limits bound the size of a join. They are explicit so that servers can
// document and enforce them.
type Limits struct {
	// MaxSlots is the number of distinct slots in one join.
	MaxSlots int
	// MaxPatterns counts the sink plus every source.
	MaxPatterns int
	// MaxPatternLen bounds a pattern's encoded length: literal bytes plus
	// one per slot reference (E-PATLEN).
	MaxPatternLen int
	// MaxKeyLen bounds the length of the keys a pattern matches (E-KEYLEN),
	// and so each slot's width.
	MaxKeyLen int
}

// OriginalLimits are the original system's fixed capacities (§1.4): 5 slots,
// 5 patterns (4 sources), 12-character patterns, 128-byte keys.
func OriginalLimits() Limits {
	return Limits{MaxSlots: 5, MaxPatterns: 5, MaxPatternLen: 12, MaxKeyLen: 128}
}

// DefaultLimits are Pequod-Go's limits: 16 slots, 9 patterns (8 sources),
// 128-byte patterns and keys. Lifting them costs nothing in this design
// (bindings are sized per join).
func DefaultLimits() Limits {
	return Limits{MaxSlots: 16, MaxPatterns: 9, MaxPatternLen: 128, MaxKeyLen: 128}
}

// ParseError collects every message a failed parse produced (§2.8).
type ParseError struct {
	// Messages are the individual error texts, in the order found.
	Messages []string
}

// Error joins the messages with newlines, as the original prints them.
func (e *ParseError) Error() string { return strings.Join(e.Messages, "\n") }

// Parse parses join text with DefaultLimits.
func Parse(text string) (*Join, error) { return ParseWithLimits(text, DefaultLimits()) }

type opState int

const (
	stNone opState = iota
	stOperator
	stUsing
	stFilter
	stSlotdef
	stSlotdef1
)

// rawSource is a source pattern before slot analysis.
type rawSource struct {
	text   string
	lazy   bool
	filter bool
}

func isSep(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r' || c == ','
}

func words(text string) []string {
	var out []string
	i := 0
	for i < len(text) {
		for i < len(text) && isSep(text[i]) {
			i++
		}
		j := i
		for j < len(text) && !isSep(text[j]) {
			j++
		}
		if j > i {
			out = append(out, text[i:j])
		}
		i = j
	}
	return out
}

// ParseWithLimits parses join text (§2) and checks it against lim. On failure
// the error is a *ParseError holding every message.
func ParseWithLimits(text string, lim Limits) (*Join, error) {
	fail := func(format string, args ...any) (*Join, error) {
		return nil, &ParseError{Messages: []string{fmt.Sprintf(format, args...)}}
	}
	w := words(text)
	if len(w) < 3 || w[1] != "=" {
		return fail("syntax error: expected ‘SINK = SOURCES’")
	}

	var (
		op         = stNone
		opKind     Operator
		lazy       bool
		ctx        []rawSource
		value      *rawSource
		valueOp    Operator
		maintained = true
		anyOp      bool
		slotdefs   []string
	)
	for _, word := range w[2:] {
		newOp, set := stNone, false
		switch word {
		case "copy", "min", "max", "count", "sum":
			newOp, set = stOperator, true
			for i, n := range opNames {
				if n == word {
					opKind = Operator(i)
				}
			}
		case "using":
			if op != stFilter {
				newOp, set = stUsing, true
				lazy = true
			} else {
				continue // `filter using P` is `filter P`
			}
		case "filter":
			if op == stUsing {
				op = stNone
			}
			newOp, set = stFilter, true
		case "with", "where":
			newOp, set = stSlotdef, true
		case "pull":
			maintained = false
			continue
		case "push":
			maintained = true
			continue
		case "and":
			continue
		case "eager", "lazy":
			if op != stUsing {
				return fail("syntax error near ‘%s’: 'eager' and 'lazy' designations only allowed on 'using' operator", word)
			}
			lazy = word == "lazy"
			continue
		}
		if set {
			if op != stNone {
				return fail("syntax error near ‘%s’", word)
			}
			op = newOp
			if newOp != stSlotdef {
				anyOp = true
			}
			continue
		}
		if op == stSlotdef || op == stSlotdef1 {
			slotdefs = append(slotdefs, word)
			op = stSlotdef1
			continue
		}
		switch op {
		case stFilter:
			ctx = append(ctx, rawSource{text: word, filter: true})
		case stUsing, stNone:
			ctx = append(ctx, rawSource{text: word, lazy: lazy})
		case stOperator:
			if value != nil {
				return fail("syntax error near ‘%s’: transformation already defined", word)
			}
			value = &rawSource{text: word}
			valueOp = opKind
		}
		op, lazy = stNone, false
	}
	if op != stNone && op != stSlotdef1 {
		return fail("syntax error near ‘%s’", w[len(w)-1])
	}
	var srcs []rawSource
	switch {
	case value != nil:
		srcs = append(ctx, *value)
	case anyOp:
		return fail("join pattern ‘%s’ lacks source key", text)
	case len(ctx) == 0:
		return fail("no elements in join pattern, min 2")
	default:
		// Only bare patterns: the last one is the value source, copied.
		srcs = ctx
		srcs[len(srcs)-1].lazy = false
		valueOp = Copy
	}
	if 1+len(srcs) > lim.MaxPatterns {
		return fail("too many elements in join pattern, max %d", lim.MaxPatterns)
	}

	j := &Join{Text: text, Op: valueOp, Maintained: maintained}
	a := analyzer{join: j, lim: lim, index: map[string]int{}, given: map[int]int{}}
	j.Sources = make([]Source, len(srcs))
	for i, rs := range srcs {
		j.Sources[i].Lazy = rs.lazy
		j.Sources[i].Filter = rs.filter
		a.pattern(&j.Sources[i].Pattern, rs.text)
	}
	a.pattern(&j.Sink, w[0])
	for _, d := range slotdefs {
		a.slotdef(d)
	}
	if len(a.errs) > 0 {
		return nil, &ParseError{Messages: a.errs}
	}
	for i := range j.Slots {
		if a.given[i] == 0 {
			a.errorf("slot ‘%s’ was not given a length", j.Slots[i].Name)
		}
	}
	if len(a.errs) > 0 {
		return nil, &ParseError{Messages: a.errs}
	}
	a.layout(&j.Sink)
	for i := range j.Sources {
		a.layout(&j.Sources[i].Pattern)
	}
	if len(a.errs) > 0 {
		return nil, &ParseError{Messages: a.errs}
	}
	// Semantic checks (§2.6).
	for i := range j.Sources {
		if j.Sources[i].Table == j.Sink.Table {
			a.errorf("table ‘%s’ used as both source and sink", j.Sink.Table)
			break
		}
	}
	j.CompletionSource = -1
	for s := range j.Slots {
		if !j.Sink.HasSlot(s) {
			continue
		}
		defined := -1
		for i := range j.Sources {
			if j.Sources[i].HasSlot(s) {
				defined = i
				break
			}
		}
		if defined < 0 {
			a.errorf("slot ‘%s’ in sink not defined by sources", j.Slots[s].Name)
		} else if defined > j.CompletionSource {
			j.CompletionSource = defined
		}
	}
	if j.CompletionSource < 0 {
		j.CompletionSource = 0
	}
	if len(a.errs) > 0 {
		return nil, &ParseError{Messages: a.errs}
	}
	return j, nil
}

// analyzer assigns slot numbers and lengths across a join's patterns.
type analyzer struct {
	join  *Join
	lim   Limits
	index map[string]int
	given map[int]int // slot -> length once given
	errs  []string
	// pending slot references per pattern, resolved in layout
}

func (a *analyzer) errorf(format string, args ...any) {
	a.errs = append(a.errs, fmt.Sprintf(format, args...))
}

// slotSpec is a parsed `name:len types` slot text.
type slotSpec struct {
	name     string
	length   int
	typ      byte
	subtable bool
}

// parseSlot parses the slot grammar of §2.4; whole is the text for messages.
func parseSlot(s, whole string) (slotSpec, string) {
	var sp slotSpec
	i := 0
	for i < len(s) && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')) {
		i++
	}
	sp.name = s[:i]
	hasLen := false
	if i < len(s) && s[i] == ':' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return sp, fmt.Sprintf("syntax error in slot in ‘%s’", whole)
		}
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j > i {
		hasLen = true
		n, err := strconv.Atoi(s[i:j])
		if err != nil || n > 1<<20 {
			n = 1 << 20 // absurdly long: rejected by the range check
		}
		sp.length = n
	}
	i = j
	if sp.name == "" && !hasLen {
		return sp, fmt.Sprintf("syntax error in slot in ‘%s’", whole)
	}
	for i < len(s) && (s[i] == 's' || s[i] == 'd' || s[i] == 'n' || s[i] == 't') {
		if s[i] == 't' {
			sp.subtable = true
		} else {
			sp.typ = s[i]
		}
		i++
	}
	if i != len(s) {
		return sp, fmt.Sprintf("name of slot should contain only letters and underscores in ‘%s’", whole)
	}
	return sp, ""
}

// defineSlot records one occurrence of a slot and returns its index.
func (a *analyzer) defineSlot(sp slotSpec) int {
	j := a.join
	idx, isNew := len(j.Slots), true
	if sp.name == "" {
		j.Slots = append(j.Slots, Slot{Name: fmt.Sprintf(".anon%d", idx+1), Anonymous: true})
	} else if k, ok := a.index[sp.name]; ok {
		idx, isNew = k, false
	} else {
		a.index[sp.name] = idx
		j.Slots = append(j.Slots, Slot{Name: sp.name})
	}
	if isNew && len(j.Slots) == a.lim.MaxSlots+1 {
		a.errorf("too many slots in join pattern, max %d", a.lim.MaxSlots)
	}
	sl := &j.Slots[idx]
	if sp.typ != 0 {
		sl.Type = sp.typ
	}
	sl.Subtable = sl.Subtable || sp.subtable
	if sp.length > 0 {
		if old, ok := a.given[idx]; ok && old != sp.length {
			a.errorf("slot ‘%s’ has inconsistent lengths (%d vs. %d)", sl.Name, sp.length, old)
		} else if !ok {
			if sp.length > a.lim.MaxKeyLen {
				a.errorf("slot ‘%s’ length %d out of range 1..%d", sl.Name, sp.length, a.lim.MaxKeyLen)
			}
			a.given[idx] = sp.length
			sl.Len = sp.length
		}
	}
	return idx
}

// pattern parses one pattern's literals and slot references. Offsets are
// filled in by layout once every slot has a length.
func (a *analyzer) pattern(p *Pattern, text string) {
	p.Text = text
	if !strings.ContainsAny(text, "|<") {
		a.errorf("key ‘%s’ lacks table name", text)
		return
	}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.Segs = append(p.Segs, Segment{Lit: lit.String(), Slot: -1})
			lit.Reset()
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c != '<' {
			lit.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(text[i:], '>')
		if end < 0 {
			a.errorf("unterminated slot in ‘%s’", text)
			return
		}
		sp, msg := parseSlot(text[i+1:i+end], text)
		if msg != "" {
			a.errs = append(a.errs, msg)
			return
		}
		flush()
		p.Segs = append(p.Segs, Segment{Slot: a.defineSlot(sp)})
		i += end + 1
	}
	flush()
}

// slotdef handles one with/where word.
func (a *analyzer) slotdef(word string) {
	sp, msg := parseSlot(word, word)
	if msg != "" {
		a.errs = append(a.errs, msg)
		return
	}
	if sp.name == "" {
		a.errorf("syntax error in slot in ‘%s’", word)
		return
	}
	a.defineSlot(sp)
}

// layout computes offsets, key length, table name and size checks (§2.5).
func (a *analyzer) layout(p *Pattern) {
	j := a.join
	p.slotOff = make([]int, len(j.Slots))
	for i := range p.slotOff {
		p.slotOff[i] = -1
	}
	off, enc := 0, 0
	for i := range p.Segs {
		sg := &p.Segs[i]
		sg.Off = off
		if sg.Slot < 0 {
			sg.Width = len(sg.Lit)
			enc += len(sg.Lit)
		} else {
			sg.Width = j.Slots[sg.Slot].Len
			enc++
			if p.slotOff[sg.Slot] < 0 {
				p.slotOff[sg.Slot] = off
			}
		}
		off += sg.Width
	}
	// The table name is the literal text before the first '|', provided no
	// slot comes before it (§2.6).
	p.Table = ""
	if len(p.Segs) > 0 && p.Segs[0].Slot < 0 {
		if k := strings.IndexByte(p.Segs[0].Lit, '|'); k >= 0 {
			p.Table = p.Segs[0].Lit[:k]
		}
	}
	p.KeyLen = off
	if enc > a.lim.MaxPatternLen {
		a.errorf("pattern ‘%s’ too long, max %d chars", p.Text, a.lim.MaxPatternLen)
	}
	if off > a.lim.MaxKeyLen {
		a.errorf("key in pattern ‘%s’ too long, max %d chars", p.Text, a.lim.MaxKeyLen)
	}
}
