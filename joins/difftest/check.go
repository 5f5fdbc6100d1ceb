package difftest

import (
	"fmt"
	"sort"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/oracle"
)

// checker compares one validating scan with the oracle.
//
// Comparison rules (spec/joins.md):
//   - every key in the range with a derivation must be returned (INV-1), and
//     no other key may be returned, except a count key holding "0" or a sum
//     key whose value parses to 0 where the oracle has no derivation, inside
//     that join's range (§3.1, §10 A5);
//   - copy: the value of some derivation (R-COPY-1); count: exact decimal;
//     sum: compared by ParseInt ("007" may read back as "7"); min/max: exact.
//
// Join chains: a downstream join reads whatever its upstream sink table
// holds, and that is only determined up to the same freedoms (which copy
// value, "007" vs "7", "0" keys). When the target can Peek, the checker reads
// the upstream table without validating right after the scan, checks every
// upstream key that takes part in a derivation of the scanned range (in the
// engine's world or in the oracle's) against the upstream join's oracle,
// recursively, and then evaluates the downstream join over the peeked
// upstream contents. Without Peek it evaluates upstream tables with the
// oracle's canonical values, which is exact for the determined chains the
// generator restricts itself to in that mode.
type checker struct {
	joins []oracle.Installed
	model *oracle.Model
	peek  func(first, last string) ([]KV, error)

	peeked map[string][]KV
	// allowMissing, if set, says that keys of a table may be missing (but
	// not wrong): used for non-validating checks of stored data, where
	// invalidated keys are legitimately absent until the next validate.
	allowMissing func(table string) bool
}

func newChecker(js []oracle.Installed, base map[string]string, peek func(first, last string) ([]KV, error)) *checker {
	return &checker{joins: js, model: &oracle.Model{Joins: js, Base: base}, peek: peek}
}

// checkScan returns the problems found in the result of Scan(first,last).
func (c *checker) checkScan(first, last string, got []KV) []string {
	var probs []string
	gm := map[string]string{}
	for i, kv := range got {
		if kv.Key < first || kv.Key >= last {
			probs = append(probs, fmt.Sprintf("returned key %q outside the scanned range", kv.Key))
		}
		if i > 0 && got[i-1].Key >= kv.Key {
			probs = append(probs, fmt.Sprintf("keys not in increasing order at %q", kv.Key))
		}
		gm[kv.Key] = kv.Value
	}
	t := joins.RangeTableName(first, last)
	in := func(k string) bool { return first <= k && k < last }
	return append(probs, c.verify(t, first, last, in, gm, "")...)
}

// checkStored checks the stored (non-validating) contents of sink table t
// inside the ranges that scans have validated (§3.4, §3.6: push joins with
// only eager context sources are maintained before each write returns).
func (c *checker) checkStored(t string, validated [][2]string, stored []KV) []string {
	in := func(k string) bool {
		for _, r := range validated {
			if r[0] <= k && k < r[1] {
				return true
			}
		}
		return false
	}
	gm := map[string]string{}
	for _, kv := range stored {
		gm[kv.Key] = kv.Value
	}
	return c.verify(t, t+"|", t+"}", in, gm, "stored, not validated: ")
}

// tables returns the source contents the downstream evaluation uses: base
// tables from the model, sink tables from Peek when available.
func (c *checker) tables(t string) []KV {
	if c.peek == nil || !c.model.IsSink(t) {
		return c.model.Table(t)
	}
	if kv, ok := c.peeked[t]; ok {
		return kv
	}
	kv, err := c.peek(t+"|", t+"}")
	if err != nil {
		panic(fmt.Sprintf("difftest: Peek(%q): %v", t, err))
	}
	if c.peeked == nil {
		c.peeked = map[string][]KV{}
	}
	c.peeked[t] = kv
	return kv
}

// verify checks the keys of table t for which in(k) holds (within
// [first,last)) against got.
func (c *checker) verify(t, first, last string, in func(string) bool, got map[string]string, label string) []string {
	if !c.model.IsSink(t) {
		want := map[string]string{}
		for _, kv := range c.model.BaseTable(t) {
			if first <= kv.Key && kv.Key < last && in(kv.Key) {
				want[kv.Key] = kv.Value
			}
		}
		var probs []string
		for _, k := range unionKeys(want, got, in) {
			w, wok := want[k]
			g, gok := got[k]
			switch {
			case wok && !gok:
				probs = append(probs, fmt.Sprintf("%smissing base key %q (value %q)", label, k, w))
			case !wok && gok:
				probs = append(probs, fmt.Sprintf("%sextra key %q = %q in a table without joins", label, k, g))
			case wok && w != g:
				probs = append(probs, fmt.Sprintf("%sbase key %q = %q, want %q", label, k, g, w))
			}
		}
		return probs
	}
	ents := filter(oracle.Eval(c.joins, t, first, last, c.tables), in)
	var probs []string
	if c.peek != nil {
		// Check the upstream keys that the scanned range depends on.
		rel := map[string]map[string]bool{}
		note := func(es []oracle.Entry) {
			for _, e := range es {
				for _, d := range e.Derivs {
					for _, k := range d.Keys {
						if u := joins.TableName(k); c.model.IsSink(u) {
							if rel[u] == nil {
								rel[u] = map[string]bool{}
							}
							rel[u][k] = true
						}
					}
				}
			}
		}
		if c.allowMissing == nil {
			note(ents)
			note(filter(c.model.Eval(t, first, last), in))
		} else {
			// Stored (non-validating) check: an invalidated downstream
			// range holds no keys and its upstream data need not have been
			// computed, so only the derivations of keys actually present
			// say which upstream keys were read.
			note(filter(ents, func(k string) bool { return hasKey(got, k) }))
		}
		var ups []string
		for u := range rel {
			ups = append(ups, u)
		}
		sort.Strings(ups)
		for _, u := range ups {
			gm := map[string]string{}
			for _, kv := range c.tables(u) {
				gm[kv.Key] = kv.Value
			}
			keys := rel[u]
			probs = append(probs, c.verify(u, u+"|", u+"}", func(k string) bool { return keys[k] }, gm,
				fmt.Sprintf("upstream %s (read without validating after the scan): ", u))...)
		}
	}
	return append(probs, c.compare(t, ents, in, got, c.model.BaseTable(t), label)...)
}

// compare checks got against the oracle entries of sink table t.
func (c *checker) compare(t string, ents []oracle.Entry, in func(string) bool, got map[string]string, base []KV, label string) []string {
	byKey := map[string][]oracle.Entry{}
	want := map[string]string{}
	for _, e := range ents {
		byKey[e.Key] = append(byKey[e.Key], e)
		want[e.Key] = ""
	}
	baseVal := map[string]string{}
	for _, kv := range base {
		if in(kv.Key) {
			baseVal[kv.Key] = kv.Value
			want[kv.Key] = ""
		}
	}
	var probs []string
	for _, k := range unionKeys(want, got, in) {
		es := byKey[k]
		v, ok := got[k]
		switch {
		case len(es) > 0:
			if !ok {
				if c.allowMissing != nil && c.allowMissing(t) {
					continue
				}
				probs = append(probs, fmt.Sprintf("%smissing key %q: want %s", label, k, describe(es)))
			} else if !accepts(es, v) {
				probs = append(probs, fmt.Sprintf("%skey %q = %q: want %s", label, k, v, describe(es)))
			}
		case hasKey(baseVal, k):
			if !ok || v != baseVal[k] {
				probs = append(probs, fmt.Sprintf("%sclient key %q: got %q (present %v), want %q", label, k, v, ok, baseVal[k]))
			}
		case ok && !c.zeroAllowed(t, k, v):
			probs = append(probs, fmt.Sprintf("%sextra key %q = %q: no derivation", label, k, v))
		}
	}
	return probs
}

// zeroAllowed reports whether k = v may exist without derivations: a count
// key "0" or a sum key parsing to 0 inside the range of a count/sum join
// whose sink pattern k matches (§3.1, §10 A5).
func (c *checker) zeroAllowed(t, k, v string) bool {
	for _, in := range c.joins {
		if in.Table() != t || k < in.First || k >= in.Last || !in.Join.Sink.Matches(k, in.Join.NewBinding()) {
			continue
		}
		if in.Join.Op == joins.Count && v == "0" || in.Join.Op == joins.Sum && oracle.ParseInt(v) == 0 {
			return true
		}
	}
	return false
}

func accepts(es []oracle.Entry, v string) bool {
	for i := range es {
		if es[i].Accepts(v) {
			return true
		}
	}
	return false
}

func describe(es []oracle.Entry) string {
	s := ""
	for i := range es {
		if i > 0 {
			s += " OR "
		}
		s += es[i].Describe()
	}
	return s
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

func filter(es []oracle.Entry, in func(string) bool) []oracle.Entry {
	var out []oracle.Entry
	for _, e := range es {
		if in(e.Key) {
			out = append(out, e)
		}
	}
	return out
}

func unionKeys(a, b map[string]string, in func(string) bool) []string {
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	for k := range b {
		if _, dup := a[k]; !dup && in(k) {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

// checkWindow checks a scan of a table whose joins read only base tables and
// some have a staleness window, against every base state that existed during
// the window: each key must be explained by one of those states (each sink
// range is computed at one instant, and every key belongs to one range).
func checkWindow(js []oracle.Installed, states []map[string]string, first, last string, got []KV) []string {
	t := joins.RangeTableName(first, last)
	in := func(k string) bool { return first <= k && k < last }
	gm := map[string]string{}
	var probs []string
	for i, kv := range got {
		if kv.Key < first || kv.Key >= last {
			probs = append(probs, fmt.Sprintf("returned key %q outside the scanned range", kv.Key))
		}
		if i > 0 && got[i-1].Key >= kv.Key {
			probs = append(probs, fmt.Sprintf("keys not in increasing order at %q", kv.Key))
		}
		gm[kv.Key] = kv.Value
	}
	type view struct {
		c    *checker
		ents map[string][]oracle.Entry
	}
	var views []view
	all := map[string]string{}
	for _, st := range states {
		c := newChecker(js, st, nil)
		v := view{c: c, ents: map[string][]oracle.Entry{}}
		for _, e := range c.model.Eval(t, first, last) {
			v.ents[e.Key] = append(v.ents[e.Key], e)
			all[e.Key] = ""
		}
		views = append(views, v)
	}
	for _, k := range unionKeys(all, gm, in) {
		val, ok := gm[k]
		good := false
		for _, v := range views {
			if es := v.ents[k]; len(es) > 0 {
				good = ok && accepts(es, val)
			} else {
				good = !ok || v.c.zeroAllowed(t, k, val)
			}
			if good {
				break
			}
		}
		if !good {
			cur := views[len(views)-1].ents[k]
			w := "absent"
			if len(cur) > 0 {
				w = describe(cur)
			}
			g := "absent"
			if ok {
				g = fmt.Sprintf("%q", val)
			}
			probs = append(probs, fmt.Sprintf("key %q = %s matches none of the %d base states in the staleness window (now: %s)", k, g, len(views), w))
		}
	}
	return probs
}
