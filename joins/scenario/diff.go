package scenario

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"

	"github.com/pequod-go/pequod/joins"
)

// DiffJoin is one join of a differential run.
type DiffJoin struct {
	First, Last, Text string
}

// DiffConfig describes a randomized differential run (the method of
// spec/joins.md §10): random writes to base tables and random validations,
// each validation checked against Model for every possible sink key of the
// validated range.
type DiffConfig struct {
	Joins []DiffJoin
	// BaseKeys are the keys the run writes (all in non-sink tables).
	BaseKeys []string
	// Values are the values it writes.
	Values []string
	// Alphabet is the set of slot values; every slot is 1 byte wide and
	// every base key is built from it, so enumerating sink patterns over it
	// covers every key a join can produce.
	Alphabet string
	Steps    int
}

// DefaultDiffConfig exercises every operator, lazy/eager/filter context
// sources (push and pull, §3.7's deferred pull filter included), a narrowed
// join range, self-joins (§10 A2), two joins on one sink table (§3.10), and
// chains over push and pull joins (§3.9, §10 A4), over tables b, c, d, e
// with 1-byte slots from "abc".
func DefaultDiffConfig() DiffConfig {
	const alpha = "abc"
	var keys []string
	for _, x := range alpha {
		keys = append(keys, "e|"+string(x))
		for _, y := range alpha {
			for _, t := range []string{"b", "c", "d"} {
				keys = append(keys, t+"|"+string(x)+"|"+string(y))
			}
		}
	}
	// A few keys that match no pattern.
	keys = append(keys, "b|a", "c|ab|c", "e|ab")
	return DiffConfig{
		Joins: []DiffJoin{
			{"k1|", "k1}", "k1|<x:1> = count b|<x>|<y:1>"},
			{"k2|", "k2}", "k2|<x:1>|<z:1> = using b|<x>|<y:1> copy c|<y>|<z:1>"},
			{"k3|", "k3}", "k3|<x:1> = using eager b|<x>|<y:1> sum c|<y>|<z:1>"},
			{"k4|", "k4}", "k4|<z:1>|<x:1> = using b|<x>|<y:1> min c|<y>|<z:1>"},
			{"k5|", "k5}", "k5|<x:1> = using b|<x>|<y:1>, c|<y>|<z:1> max d|<z>|<w:1>"},
			{"k6|", "k6}", "k6|<x:1> = using filter e|<x> count b|<x>|<y:1>"},
			{"k7|", "k7}", "k7|<x:1>|<y:1> = copy b|<x>|<y> pull"},
			{"k8|", "k8}", "k8|<x:1> = count b|<x>|<y:1> b|<x>|<z:1>"},
			{"k9|", "k9}", "k9|<z:1> = using d|<z>|<x:1> count k2|<x>|<z>"},
			{"k10|", "k10}", "k10|<y:1>|<x:1> = copy k7|<x>|<y>"},
			{"k11|", "k11}", "k11|<x:1> = using b|<x>|<y:1> sum c|<y>|<z:1> pull"},
			{"k12|b", "k12|c", "k12|<x:1>|<z:1> = count c|<x>|<z>"},
			{"k13|", "k13}", "k13|<a:1>|<c:1> = using b|<a>|<b:1> copy b|<b>|<c>"},
			{"k14|", "k14}", "k14|<x:1>|<y:1> = using lazy d|<x>|<y> min e|<y>"},
			{"k15|", "k15}", "k15|<x:1>|p = using e|<x> copy c|<x>|<y:1>"},
			{"k15|", "k15}", "k15|<x:1>|q = using d|<x>|<y:1> count c|<y>|<z:1>"},
			{"k16|", "k16}", "k16|<z:1> = using k4|<z>|<x:1> max d|<x>|<w:1>"},
			{"k17|", "k17}", "k17|<x:1>|<y:1> = using filter e|<y> copy b|<x>|<y> pull"},
			{"k18|", "k18}", "k18|<y:1> = using eager c|<y>|<x:1> filter e|<x> sum d|<x>|<z:1>"},
			{"k19|", "k19}", "k19|<x:1> = using k7|<x>|<y:1> max k4|<y>|<x>"},
			{"k20|", "k20}", "k20|<x:1>|<w:1> = using b|<x>|<y:1> using c|<y>|<z:1> count d|<z>|<w>"},
		},
		BaseKeys: keys,
		Values:   []string{"1", "2", "3", "7", "10"},
		Alphabet: alpha,
		Steps:    400,
	}
}

// DiffOp is one step of a differential run: an insert (Value set), an
// erase, or a validate of [Key, Last).
type DiffOp struct {
	Kind  byte // 'i' insert, 'e' erase, 'v' validate
	Key   string
	Value string // insert
	Last  string // validate
}

func (o DiffOp) String() string {
	switch o.Kind {
	case 'i':
		return fmt.Sprintf("insert %s %s", q(o.Key), strconv.Quote(o.Value))
	case 'e':
		return "erase " + q(o.Key)
	}
	return fmt.Sprintf("validate %s %s", q(o.Key), q(o.Last))
}

// DiffMismatch is a differential failure.
type DiffMismatch struct {
	Joins []DiffJoin
	Ops   []DiffOp // the run up to and including the failing validate
	Msg   string
	Check string // the failing check in the scenario language
}

func (d *DiffMismatch) Error() string {
	return d.Msg + "\nscenario:\n" + d.Scenario()
}

// Scenario renders the run as a scenario file.
func (d *DiffMismatch) Scenario() string {
	var b strings.Builder
	for _, j := range d.Joins {
		fmt.Fprintf(&b, "join %s %s %s\n", q(j.First), q(j.Last), strconv.Quote(j.Text))
	}
	for _, o := range d.Ops {
		b.WriteString(o.String())
		b.WriteByte('\n')
	}
	b.WriteString(d.Check)
	b.WriteByte('\n')
	return b.String()
}

// GenerateDiff draws cfg.Steps random operations for seed, followed by a
// validation of every sink table as a whole.
func GenerateDiff(cfg DiffConfig, seed int64) ([]DiffOp, error) {
	rng := rand.New(rand.NewSource(seed))
	m := NewModel()
	for _, dj := range cfg.Joins {
		if err := m.AddJoin(dj.First, dj.Last, dj.Text); err != nil {
			return nil, err
		}
	}
	tables, univs := sinkUniverses(m, cfg.Alphabet)
	var ops []DiffOp
	for step := 0; step < cfg.Steps; step++ {
		switch r := rng.Intn(10); {
		case r < 5:
			k := cfg.BaseKeys[rng.Intn(len(cfg.BaseKeys))]
			v := cfg.Values[rng.Intn(len(cfg.Values))]
			ops = append(ops, DiffOp{Kind: 'i', Key: k, Value: v})
		case r < 8:
			ops = append(ops, DiffOp{Kind: 'e', Key: cfg.BaseKeys[rng.Intn(len(cfg.BaseKeys))]})
		default:
			table := tables[rng.Intn(len(tables))]
			lo, hi := randomRange(rng, table, univs[table])
			ops = append(ops, DiffOp{Kind: 'v', Key: lo, Last: hi})
		}
	}
	for _, table := range tables {
		ops = append(ops, DiffOp{Kind: 'v', Key: table + "|", Last: table + "}"})
	}
	return ops, nil
}

func sinkUniverses(m *Model, alpha string) ([]string, map[string][]string) {
	univs := map[string][]string{}
	var tables []string
	for _, mj := range m.joins {
		if _, ok := univs[mj.table]; !ok {
			tables = append(tables, mj.table)
		}
		univs[mj.table] = append(univs[mj.table], universe(&mj.j.Sink, len(mj.j.Slots), alpha)...)
	}
	sort.Strings(tables)
	return tables, univs
}

// Differential runs a random differential test for seed against t (see
// DiffConfig). It returns a *DiffMismatch on a wrong validating read.
func Differential(t Target, cfg DiffConfig, seed int64) error {
	ops, err := GenerateDiff(cfg, seed)
	if err != nil {
		return err
	}
	err = ReplayDiff(t, cfg.Joins, cfg.Alphabet, ops)
	if err != nil {
		return fmt.Errorf("seed %d: %w", seed, err)
	}
	return nil
}

// ReplayDiff applies ops to t and to a Model, and after every validate
// checks every possible sink key of the validated range (and that no other
// key is stored there) against the model.
func ReplayDiff(t Target, js []DiffJoin, alpha string, ops []DiffOp) error {
	m := NewModel()
	for _, dj := range js {
		if err := m.AddJoin(dj.First, dj.Last, dj.Text); err != nil {
			return err
		}
		if err := t.AddJoin(dj.First, dj.Last, dj.Text, 0); err != nil {
			return fmt.Errorf("add join %q: %w", dj.Text, err)
		}
	}
	for n, o := range ops {
		mismatch := func(check, format string, a ...any) error {
			return &DiffMismatch{Joins: js, Ops: ops[:n+1], Msg: fmt.Sprintf(format, a...), Check: check}
		}
		switch o.Kind {
		case 'i':
			m.Insert(o.Key, o.Value)
			if err := t.Insert(o.Key, o.Value); err != nil {
				return mismatch("", "%s: %v", o, err)
			}
			continue
		case 'e':
			m.Erase(o.Key)
			if err := t.Erase(o.Key); err != nil {
				return mismatch("", "%s: %v", o, err)
			}
			continue
		}
		lo, hi := o.Key, o.Last
		table := joins.RangeTableName(lo, hi)
		if err := t.Validate(lo, hi); err != nil {
			return mismatch("", "%s: %v", o, err)
		}
		present := 0
		for i, mj := range m.joins {
			if mj.table != table {
				continue
			}
			ders := m.Derivations(i)
			for _, s := range universe(&mj.j.Sink, len(mj.j.Slots), alpha) {
				if s < lo || s >= hi {
					continue
				}
				v, ok, err := t.Find(s)
				if err != nil {
					return mismatch("", "find %s: %v", s, err)
				}
				if ok {
					present++
				}
				d := ders[s]
				if d.Accepts(mj.j.Op, v, ok) {
					continue
				}
				want, alts := "absent", "absent"
				if d != nil {
					want = strconv.Quote(d.Value())
					alts = want
					if d.Op == joins.Copy {
						var qs []string
						for _, x := range d.Values {
							qs = append(qs, strconv.Quote(x))
						}
						want = "one of " + strings.Join(qs, ", ")
						alts = strings.Join(qs, " | ")
					}
				} else if mj.j.Op == joins.Count || mj.j.Op == joins.Sum {
					alts = `absent | "0"`
				}
				got := "absent"
				if ok {
					got = strconv.Quote(v)
				}
				return mismatch(fmt.Sprintf("find %s -> %s", q(s), alts),
					"after validate [%q,%q): %s = %s, want %s (join %q)", lo, hi, s, got, want, mj.j.Text)
			}
		}
		n, err := t.CountStored(lo, hi)
		if err != nil {
			return mismatch("", "count: %v", err)
		}
		if n != present {
			return mismatch(fmt.Sprintf("count %s %s -> %d", q(lo), q(hi), present),
				"after validate [%q,%q): %d keys stored, want %d (stray keys)", lo, hi, n, present)
		}
	}
	return nil
}

// MinimizeDiff shrinks a failing run: it drops joins and operations (delta
// debugging) while ReplayDiff against a fresh target still reports a
// mismatch, and returns the smallest failing run found.
func MinimizeDiff(newTarget func() Target, d *DiffMismatch, alpha string) *DiffMismatch {
	fails := func(js []DiffJoin, ops []DiffOp) *DiffMismatch {
		var dm *DiffMismatch
		if err := ReplayDiff(newTarget(), js, alpha, ops); errors.As(err, &dm) {
			return dm
		}
		return nil
	}
	best := d
	// Joins first. Dropping a join whose sink another join reads turns that
	// table into an (empty) plain table for both sides, which is consistent.
	for i := 0; i < len(best.Joins); i++ {
		js := append(append([]DiffJoin(nil), best.Joins[:i]...), best.Joins[i+1:]...)
		if dm := fails(js, best.Ops); dm != nil {
			best = dm
			i--
		}
	}
	// ddmin over operations.
	ops := best.Ops
	for chunk := len(ops) / 2; chunk >= 1; {
		removed := false
		for start := 0; start < len(ops); start += chunk {
			end := min(start+chunk, len(ops))
			try := append(append([]DiffOp(nil), ops[:start]...), ops[end:]...)
			if len(try) == 0 {
				continue
			}
			if dm := fails(best.Joins, try); dm != nil {
				best, ops, removed = dm, dm.Ops, true
				start -= chunk
			}
		}
		if !removed {
			chunk /= 2
		}
	}
	return best
}

// q quotes a token for the scenario language when needed.
func q(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '#' || c == '`' {
			return strconv.Quote(s)
		}
	}
	if s == "" || s == "->" || s == "|" {
		return strconv.Quote(s)
	}
	return s
}

// universe enumerates every key of the sink pattern with 1-byte slots from
// alpha.
func universe(p *joins.Pattern, nslots int, alpha string) []string {
	var slots []int
	seen := map[int]bool{}
	for _, sg := range p.Segs {
		if sg.Slot >= 0 && !seen[sg.Slot] {
			seen[sg.Slot] = true
			slots = append(slots, sg.Slot)
		}
	}
	var out []string
	b := make(joins.Binding, nslots)
	var rec func(i int)
	rec = func(i int) {
		if i == len(slots) {
			if k, ok := p.Expand(b); ok {
				out = append(out, k)
			}
			return
		}
		for _, c := range alpha {
			b[slots[i]] = string(c)
			rec(i + 1)
		}
		b[slots[i]] = ""
	}
	rec(0)
	sort.Strings(out)
	return out
}

// randomRange picks a validation range inside table: bounds are drawn from
// the table's ends, prefixes of sink keys, sink keys, and their successors
// (KEY+"\x00"), so they cut slots at every position.
func randomRange(rng *rand.Rand, table string, univ []string) (string, string) {
	cands := []string{table + "|", table + "}"}
	for _, k := range univ {
		cands = append(cands, k, k+"\x00")
		for n := len(table) + 2; n < len(k); n++ {
			cands = append(cands, k[:n])
		}
	}
	for {
		lo := cands[rng.Intn(len(cands))]
		hi := cands[rng.Intn(len(cands))]
		if rng.Intn(4) == 0 && lo != table+"}" {
			hi = lo + "\x00" // a single key
		}
		if lo < hi && joins.RangeTableName(lo, hi) == table {
			return lo, hi
		}
	}
}
