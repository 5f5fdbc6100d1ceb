package scenario

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/pequod-go/pequod/joins"
)

// Model is a from-scratch evaluator of the logical join semantics
// (spec/joins.md §3.1): it keeps the base keys and, on demand, computes the
// derivation multiset of every installed join by a plain nested loop over
// all keys of each source table. Sink tables used as sources (§3.9) are
// computed recursively. It is an oracle for validating reads only; it knows
// nothing about laziness, pending regions or staleness.
type Model struct {
	base  map[string]string
	joins []modelJoin
}

type modelJoin struct {
	first, last string
	j           *joins.Join
	table       string
}

// NewModel returns an empty model.
func NewModel() *Model { return &Model{base: map[string]string{}} }

// AddJoin installs a join on [first,last).
func (m *Model) AddJoin(first, last, text string) error {
	j, err := joins.Parse(text)
	if err != nil {
		return err
	}
	t := joins.RangeTableName(first, last)
	if t == "" || t != j.Sink.Table {
		return fmt.Errorf("model: join %q: range [%q,%q) does not match its sink table", text, first, last)
	}
	m.joins = append(m.joins, modelJoin{first, last, j, t})
	return nil
}

// Insert writes a base key.
func (m *Model) Insert(key, value string) { m.base[key] = value }

// Erase removes a base key.
func (m *Model) Erase(key string) { delete(m.base, key) }

// IsSinkTable reports whether some join writes table t.
func (m *Model) IsSinkTable(t string) bool {
	for _, mj := range m.joins {
		if mj.table == t {
			return true
		}
	}
	return false
}

// Derivation is the logical content of one sink key: the operator and the
// values of the value-source key of every derivation (bag).
type Derivation struct {
	Op     joins.Operator
	Values []string
}

// Derivations returns, for every sink key of join i (0-based, in AddJoin
// order) that has at least one derivation, its derivation values.
func (m *Model) Derivations(i int) map[string]*Derivation {
	return m.derive(i, 0)
}

const maxModelDepth = 16

func (m *Model) derive(i, depth int) map[string]*Derivation {
	mj := m.joins[i]
	out := map[string]*Derivation{}
	if depth > maxModelDepth {
		panic("model: join cycle")
	}
	srcs := mj.j.Sources
	tables := make([]map[string]string, len(srcs))
	for k := range srcs {
		tables[k] = m.tableDepth(srcs[k].Table, depth+1)
	}
	var rec func(k int, b joins.Binding)
	rec = func(k int, b joins.Binding) {
		keys := sortedKeys(tables[k])
		for _, key := range keys {
			if !srcs[k].Matches(key, b) {
				continue
			}
			nb := b.Clone()
			srcs[k].Bind(key, nb)
			if k+1 < len(srcs) {
				rec(k+1, nb)
				continue
			}
			s, ok := mj.j.Sink.Expand(nb)
			if !ok || s < mj.first || s >= mj.last {
				continue
			}
			d := out[s]
			if d == nil {
				d = &Derivation{Op: mj.j.Op}
				out[s] = d
			}
			d.Values = append(d.Values, tables[k][key])
		}
	}
	rec(0, mj.j.NewBinding())
	return out
}

// Table returns the logical content of table t: base keys for a plain
// table, computed keys for a sink table. Copy keys with several different
// derivation values get one of them (the first in key order); count and sum
// keys without derivations are absent.
func (m *Model) Table(t string) map[string]string { return m.tableDepth(t, 0) }

func (m *Model) tableDepth(t string, depth int) map[string]string {
	out := map[string]string{}
	sink := false
	for i, mj := range m.joins {
		if mj.table != t {
			continue
		}
		sink = true
		for k, d := range m.derive(i, depth) {
			out[k] = d.Value()
		}
	}
	if sink {
		return out
	}
	for k, v := range m.base {
		if joins.TableName(k) == t {
			out[k] = v
		}
	}
	return out
}

// Value returns the operator's result over the derivations (§3.1, §3.5).
// For copy it is the first value; use Accepts to check a copy result.
func (d *Derivation) Value() string {
	switch d.Op {
	case joins.Count:
		return strconv.Itoa(len(d.Values))
	case joins.Sum:
		if len(d.Values) == 1 {
			return d.Values[0] // verbatim (§3.5)
		}
		s := 0
		for _, v := range d.Values {
			s += ParseInt(v)
		}
		return strconv.Itoa(s)
	case joins.Min, joins.Max:
		best := d.Values[0]
		for _, v := range d.Values[1:] {
			if (d.Op == joins.Min) == (v < best) {
				best = v
			}
		}
		return best
	}
	return d.Values[0]
}

// Accepts reports whether a validating read of the key may return
// (v, present). d is nil when the key has no derivation; then the key must
// be absent, except that count and sum keys may remain as "0" (§3.1, §10 A5).
func (d *Derivation) Accepts(op joins.Operator, v string, present bool) bool {
	if d == nil {
		return !present || (op == joins.Count || op == joins.Sum) && v == "0"
	}
	if !present {
		return false
	}
	switch d.Op {
	case joins.Copy:
		for _, x := range d.Values {
			if x == v {
				return true
			}
		}
		return false
	case joins.Sum:
		// A single derivation is stored verbatim, several as a decimal;
		// an incrementally maintained key may hold either form of the same
		// number, so compare numerically when they differ textually.
		return v == d.Value() || ParseInt(v) == ParseInt(d.Value()) && v == strconv.Itoa(ParseInt(v))
	}
	return v == d.Value()
}

// ParseInt is the sum operator's integer parsing (§3.5): optional sign, then
// leading decimal digits; anything else gives 0.
func ParseInt(s string) int {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
