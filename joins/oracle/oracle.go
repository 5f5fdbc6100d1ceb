// Package oracle is a from-scratch evaluator of Pequod joins: it computes what
// a sink table must contain according to the logical meaning of a join
// (spec/joins.md §3.1), with no incremental maintenance, no ranges and no
// caching. It is the reference side of the differential test in
// joins/difftest and is deliberately naive: nested loops over sorted slices.
//
// For a join `S = op V using C0 … Ck-1` installed on the join range [J1,J2),
// the derivations of a sink key s are all tuples (c0 … ck-1, v) of existing
// keys such that each key matches its source pattern, every occurrence of a
// slot has the same bytes, and expanding the sink pattern with those slots
// gives s, with s inside [first,last) ∩ [J1,J2). Filters are context sources
// here; laziness, eagerness and pull/push do not change the logical result.
package oracle

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/pequod-go/pequod/joins"
)

// KV is one stored key and its value.
type KV struct {
	Key, Value string
}

// Installed is a join together with the join range [First, Last) of its sink
// table that it was installed on.
type Installed struct {
	Join        *joins.Join
	First, Last string
}

// Table returns the sink table of the installed join.
func (in Installed) Table() string { return joins.RangeTableName(in.First, in.Last) }

// Deriv is one element of the derivation multiset of a sink key.
type Deriv struct {
	// Keys are the source keys, one per source in evaluation order.
	Keys []string
	// Value is the value of the value-source key (the last of Keys).
	Value string
}

// Entry is everything §3.1 says about one sink key for one join: the
// derivations that produce it.
type Entry struct {
	Key string
	// Join is the index of the join in the slice given to Eval.
	Join   int
	Op     joins.Operator
	Derivs []Deriv
}

// Tables returns the contents of one table, sorted by key. The oracle calls
// it once per source and evaluation.
type Tables func(table string) []KV

// Eval computes the derivations of every join in js whose sink table is table,
// for sink keys in [first, last) intersected with each join's range. The
// result is sorted by key, then by join index; keys without derivations are
// absent. Source contents come from tables.
func Eval(js []Installed, table, first, last string, tables Tables) []Entry {
	var out []Entry
	for ji, in := range js {
		if in.Table() != table {
			continue
		}
		lo, hi := first, last
		if in.First > lo {
			lo = in.First
		}
		if in.Last < hi {
			hi = in.Last
		}
		if lo >= hi {
			continue
		}
		out = append(out, evalJoin(ji, in.Join, lo, hi, tables)...)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Key != out[b].Key {
			return out[a].Key < out[b].Key
		}
		return out[a].Join < out[b].Join
	})
	return out
}

// evalJoin is the nested loop of §3.1 for one join: for every source in
// evaluation order, every key of its table that matches the pattern and
// agrees with the slots bound so far.
func evalJoin(ji int, j *joins.Join, lo, hi string, tables Tables) []Entry {
	n := len(j.Sources)
	data := make([][]KV, n)
	for i := range j.Sources {
		data[i] = tables(j.Sources[i].Table)
	}
	byKey := map[string]*Entry{}
	keys := make([]string, n)
	var rec func(level int, b joins.Binding, value string)
	rec = func(level int, b joins.Binding, value string) {
		if level == n {
			s, ok := j.Sink.Expand(b)
			if !ok {
				panic(fmt.Sprintf("oracle: sink %q not bound by sources in %q", j.Sink.Text, j.Text))
			}
			if s < lo || s >= hi {
				return
			}
			e := byKey[s]
			if e == nil {
				e = &Entry{Key: s, Join: ji, Op: j.Op}
				byKey[s] = e
			}
			e.Derivs = append(e.Derivs, Deriv{Keys: append([]string(nil), keys...), Value: value})
			return
		}
		src := &j.Sources[level]
		for _, kv := range data[level] {
			if !src.Matches(kv.Key, b) {
				continue
			}
			nb := b.Clone()
			src.Bind(kv.Key, nb)
			keys[level] = kv.Key
			rec(level+1, nb, kv.Value)
		}
	}
	rec(0, j.NewBinding(), "")
	out := make([]Entry, 0, len(byKey))
	for _, e := range byKey {
		out = append(out, *e)
	}
	return out
}

// ParseInt is the integer parsing of §3.5: an optional '+' or '-', then the
// leading decimal digits; anything else, or no digits, gives 0.
func ParseInt(s string) int64 {
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// Count is the number of derivations (bag semantics).
func (e *Entry) Count() int { return len(e.Derivs) }

// Sum is the sum of ParseInt over the derivation values.
func (e *Entry) Sum() int64 {
	var s int64
	for _, d := range e.Derivs {
		s += ParseInt(d.Value)
	}
	return s
}

// Min is the bytewise smallest derivation value.
func (e *Entry) Min() string {
	m := e.Derivs[0].Value
	for _, d := range e.Derivs[1:] {
		if d.Value < m {
			m = d.Value
		}
	}
	return m
}

// Max is the bytewise largest derivation value.
func (e *Entry) Max() string {
	m := e.Derivs[0].Value
	for _, d := range e.Derivs[1:] {
		if d.Value > m {
			m = d.Value
		}
	}
	return m
}

// Canonical returns one value a correct engine may hold for the key: for copy
// the first derivation's value (any is acceptable), for count and sum the
// decimal number, for min and max the extreme.
func (e *Entry) Canonical() string {
	switch e.Op {
	case joins.Copy:
		return e.Derivs[0].Value
	case joins.Count:
		return strconv.Itoa(e.Count())
	case joins.Sum:
		return strconv.FormatInt(e.Sum(), 10)
	case joins.Min:
		return e.Min()
	case joins.Max:
		return e.Max()
	}
	panic("oracle: unknown operator " + e.Op.String())
}

// Accepts reports whether v is an acceptable value for the key: copy — the
// value of some derivation (§3.5 R-COPY-1: which one is unspecified); count —
// exactly the decimal count; sum — any string whose ParseInt is the sum (a
// lone value is stored verbatim, so "007" and "7" are both fine); min/max —
// exactly the extreme.
func (e *Entry) Accepts(v string) bool {
	switch e.Op {
	case joins.Copy:
		for _, d := range e.Derivs {
			if d.Value == v {
				return true
			}
		}
		return false
	case joins.Count:
		return v == strconv.Itoa(e.Count())
	case joins.Sum:
		return ParseInt(v) == e.Sum()
	case joins.Min:
		return v == e.Min()
	case joins.Max:
		return v == e.Max()
	}
	return false
}

// Describe renders the expectation for messages, e.g.
// `count=2 from [a|0|1 b|1]="5" [a|0|2 b|2]="x"`.
func (e *Entry) Describe() string {
	var sb strings.Builder
	switch e.Op {
	case joins.Copy:
		sb.WriteString("copy, one of")
		seen := map[string]bool{}
		for _, d := range e.Derivs {
			if !seen[d.Value] {
				seen[d.Value] = true
				fmt.Fprintf(&sb, " %q", d.Value)
			}
		}
	case joins.Count:
		fmt.Fprintf(&sb, "count=%q", strconv.Itoa(e.Count()))
	case joins.Sum:
		fmt.Fprintf(&sb, "sum=%d", e.Sum())
	case joins.Min:
		fmt.Fprintf(&sb, "min=%q", e.Min())
	case joins.Max:
		fmt.Fprintf(&sb, "max=%q", e.Max())
	}
	sb.WriteString(" from")
	const maxShown = 8
	for i, d := range e.Derivs {
		if i == maxShown {
			fmt.Fprintf(&sb, " …(%d more)", len(e.Derivs)-maxShown)
			break
		}
		fmt.Fprintf(&sb, " [%s]=%q", strings.Join(d.Keys, " "), d.Value)
	}
	return sb.String()
}

// Model is a complete logical store: installed joins plus the base data (every
// client-written key). It evaluates sink tables recursively (§3.9): a source
// table that is itself a sink table contributes its own logical contents.
type Model struct {
	Joins []Installed
	// Base holds the client-written keys. Keys in sink tables are allowed and
	// appear in that table next to the computed keys (computed ones win on a
	// clash, §4.5); the difftest generator never writes them.
	Base map[string]string

	cache    map[string][]KV
	visiting map[string]bool
}

// IsSink reports whether some join writes table t.
func (m *Model) IsSink(t string) bool {
	for _, in := range m.Joins {
		if in.Table() == t {
			return true
		}
	}
	return false
}

// BaseTable returns the client-written keys of table t, sorted.
func (m *Model) BaseTable(t string) []KV {
	var out []KV
	for k, v := range m.Base {
		if joins.TableName(k) == t {
			out = append(out, KV{k, v})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out
}

// Eval evaluates the joins writing table over [first,last), reading sink
// tables recursively through Table.
func (m *Model) Eval(table, first, last string) []Entry {
	return Eval(m.Joins, table, first, last, m.Table)
}

// Table returns the logical contents of table t, sorted: its base keys, plus,
// for a sink table, one canonical value (Entry.Canonical) for every key that
// has a derivation. Results are cached until Reset; a join cycle panics.
func (m *Model) Table(t string) []KV {
	if kv, ok := m.cache[t]; ok {
		return kv
	}
	base := m.BaseTable(t)
	if !m.IsSink(t) {
		m.remember(t, base)
		return base
	}
	if m.visiting == nil {
		m.visiting = map[string]bool{}
	}
	if m.visiting[t] {
		panic("oracle: join cycle through table " + t)
	}
	m.visiting[t] = true
	defer delete(m.visiting, t)
	merged := map[string]string{}
	for _, kv := range base {
		merged[kv.Key] = kv.Value
	}
	for _, e := range m.Eval(t, t+"|", t+"}") {
		merged[e.Key] = e.Canonical()
	}
	out := make([]KV, 0, len(merged))
	for k, v := range merged {
		out = append(out, KV{k, v})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	m.remember(t, out)
	return out
}

func (m *Model) remember(t string, kv []KV) {
	if m.cache == nil {
		m.cache = map[string][]KV{}
	}
	m.cache[t] = kv
}

// Reset drops cached table contents; call it after changing Base or Joins.
func (m *Model) Reset() { m.cache = nil }
