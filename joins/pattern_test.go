package joins

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
)

func TestTableName(t *testing.T) {
	for key, want := range map[string]string{
		// §1.2 examples.
		"t|00001|x": "t",
		"t|":        "t",
		"|abc":      "",
		"t}":        "t",
		"t":         "",
		"abc":       "",
		// More.
		"":           "",
		"|":          "",
		"}":          "",
		"t}}":        "t}",
		"t}|":        "t}",
		"ab|c}":      "ab",
		"t|}":        "t",
		"tab|x|y":    "tab",
		"t\x00|":     "t\x00",
		"x}y":        "",
		"\xff|\xff}": "\xff",
	} {
		if got := TableName(key); got != want {
			t.Errorf("TableName(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestRangeTableName(t *testing.T) {
	for _, c := range []struct{ first, last, want string }{
		{"t|", "t}", "t"},
		{"t|00001|", "t|00001}", "t"},
		{"t|00001|0000000001", "t|00001}", "t"},
		{"t|00001", "t|00001\x00", "t"},
		{"t}", "t}", "t"},
		{"t}", "t}\x00", "t"},
		{"t|a", "u|", ""},  // crosses tables
		{"t|", "t", ""},    // last not longer than t
		{"t|", "tx", ""},   // byte after t is not | or }
		{"t|", "tx|", ""},  // different table
		{"ab|", "a|", ""},  // last shorter
		{"ab|", "ab{", ""}, // byte after is {
		{"", "t}", ""},     // first has no table
		{"abc", "abd", ""}, // no table
		{"|x", "|y", ""},   // empty table name
		{"t|00001|0000000000", "u|00002}", ""},
		{"kk|", "kk}", "kk"},
		{"k|a", "k|a\x00", "k"},
		{"k|", "kk|", ""},
	} {
		if got := RangeTableName(c.first, c.last); got != c.want {
			t.Errorf("RangeTableName(%q, %q) = %q, want %q", c.first, c.last, got, c.want)
		}
	}
}

func TestPrefixEnd(t *testing.T) {
	for p, want := range map[string]string{
		"t|":          "t}",
		"t|00001|":    "t|00001}",
		"s|11111|":    "s|11111}",
		"a":           "b",
		"a\xff":       "b",
		"a\xff\xff":   "b",
		"a\xfe":       "a\xff",
		"\x00":        "\x01",
		"t|1\xff":     "t|2",
		"":            "",
		"\xff":        "",
		"\xff\xff":    "",
		"ab\xffc\xff": "ab\xffd",
	} {
		if got := PrefixEnd(p); got != want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", p, got, want)
		}
	}
	// Property: PrefixEnd(p) is greater than every string with prefix p and
	// no string between p and PrefixEnd(p) lacks the prefix.
	alpha := "\x00a\xfe\xff"
	var strs []string
	var gen func(s string, n int)
	gen = func(s string, n int) {
		strs = append(strs, s)
		if n == 0 {
			return
		}
		for i := 0; i < len(alpha); i++ {
			gen(s+alpha[i:i+1], n-1)
		}
	}
	gen("", 4)
	for _, p := range strs {
		e := PrefixEnd(p)
		for _, s := range strs {
			has := strings.HasPrefix(s, p)
			in := s >= p && (e == "" || s < e)
			if has != in {
				t.Fatalf("PrefixEnd(%q) = %q: %q has prefix %v but in [p,end) %v", p, e, s, has, in)
			}
		}
	}
}

func TestKeySuccessor(t *testing.T) {
	if got := KeySuccessor("k|a"); got != "k|a\x00" {
		t.Errorf("KeySuccessor = %q", got)
	}
	if got := KeySuccessor(""); got != "\x00" {
		t.Errorf("KeySuccessor(\"\") = %q", got)
	}
}

// bindingOf builds a binding for j from name=value pairs.
func bindingOf(t testing.TB, j *Join, kv ...string) Binding {
	t.Helper()
	b := j.NewBinding()
	for i := 0; i < len(kv); i += 2 {
		idx := slotIndex(t, j, kv[i])
		b[idx] = kv[i+1]
	}
	return b
}

func slotIndex(t testing.TB, j *Join, name string) int {
	t.Helper()
	for i, s := range j.Slots {
		if s.Name == name {
			return i
		}
	}
	t.Fatalf("no slot %q in %q", name, j.Text)
	return -1
}

// bstr prints a binding as name=value in slot order, unbound slots omitted.
func bstr(j *Join, b Binding) string {
	var parts []string
	for i, v := range b {
		if v != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", j.Slots[i].Name, v))
		}
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func TestMatches(t *testing.T) {
	j := mustParse(t, "k|<x:2>|<y:1> = using a|<x>|<y> copy b|<x>|<x>-<y>")
	a, bp := &j.Sources[0].Pattern, &j.Sources[1].Pattern
	for _, c := range []struct {
		p    *Pattern
		key  string
		bind []string
		want bool
	}{
		// Shape: length and literals.
		{a, "a|12|3", nil, true},
		{a, "a|12|", nil, false},
		{a, "a|12|34", nil, false},
		{a, "a|12-3", nil, false},
		{a, "b|12|3", nil, false},
		{a, "", nil, false},
		{a, "a|\xff\x00|\x00", nil, true},
		// Agreement with bound slots.
		{a, "a|12|3", []string{"x", "12"}, true},
		{a, "a|12|3", []string{"x", "13"}, false},
		{a, "a|12|3", []string{"y", "3"}, true},
		{a, "a|12|3", []string{"y", "4"}, false},
		{a, "a|12|3", []string{"x", "12", "y", "3"}, true},
		{a, "a|12|3", []string{"x", "12", "y", "0"}, false},
		// Repeated slot in one pattern must agree with itself.
		{bp, "b|12|12-3", nil, true},
		{bp, "b|12|13-3", nil, false},
		{bp, "b|13|12-3", nil, false},
		{bp, "b|12|12-3", []string{"x", "12"}, true},
		{bp, "b|12|12-3", []string{"x", "13"}, false},
		{bp, "b|13|12-3", []string{"x", "12"}, false},
		{bp, "b|12|13-3", []string{"x", "12"}, false},
		{bp, "b|12|12+3", nil, false},
		// Sink.
		{&j.Sink, "k|12|3", []string{"x", "12", "y", "3"}, true},
		{&j.Sink, "k|12|3", []string{"y", "4"}, false},
	} {
		b := bindingOf(t, j, c.bind...)
		if got := c.p.Matches(c.key, b); got != c.want {
			t.Errorf("%q.Matches(%q, %s) = %v, want %v", c.p.Text, c.key, bstr(j, b), got, c.want)
		}
	}
	// Anonymous slots are wildcards that never unify.
	ja := mustParse(t, "k|<x:1> = copy b|<x><:1><:1>")
	if !ja.Sources[0].Matches("b|123", ja.NewBinding()) {
		t.Error("anonymous slots must not have to agree with each other")
	}
	// §3.4 R-NOTIFY-1 example (test_join1): b|I0001|B9999 must not agree
	// with a registration binding b_id=B0000.
	j1 := mustParse(t, "c|<a_id:5>|<b_id:5>|<index:5> = using a|<a_id>|<b_id> copy b|<index>|<b_id>")
	reg := bindingOf(t, j1, "a_id", "00000", "b_id", "B0000")
	if j1.Sources[1].Matches("b|I0001|B9999", reg) {
		t.Error("b|I0001|B9999 agrees with b_id=B0000")
	}
	if !j1.Sources[1].Matches("b|I0000|B0000", reg) {
		t.Error("b|I0000|B0000 does not agree with b_id=B0000")
	}
}

func TestBindExpandPrefix(t *testing.T) {
	j := mustParse(t, sec8[0].text) // test_simple
	sink, f, p := &j.Sink, &j.Sources[0].Pattern, &j.Sources[1].Pattern
	b := j.NewBinding()
	if !f.Matches("f|00001|00002", b) {
		t.Fatal("f|00001|00002 does not match")
	}
	f.Bind("f|00001|00002", b)
	if got := bstr(j, b); got != `{subscriber="00001" poster="00002"}` {
		t.Fatalf("after Bind: %s", got)
	}
	// Expand fails while time is unbound.
	if k, ok := sink.Expand(b); ok {
		t.Errorf("sink.Expand with time unbound = %q, true", k)
	}
	if pre, complete := sink.Prefix(b); pre != "t|00001|" || complete {
		t.Errorf("sink.Prefix = %q, %v", pre, complete)
	}
	if pre, complete := p.Prefix(b); pre != "p|00002|" || complete {
		t.Errorf("p.Prefix = %q, %v", pre, complete)
	}
	if k, ok := f.Expand(b); !ok || k != "f|00001|00002" {
		t.Errorf("f.Expand = %q, %v", k, ok)
	}
	if pre, complete := f.Prefix(b); pre != "f|00001|00002" || !complete {
		t.Errorf("f.Prefix = %q, %v", pre, complete)
	}
	if !p.Matches("p|00002|0000000001", b) || p.Matches("p|10000|0000000001", b) {
		t.Error("p.Matches ignores poster")
	}
	b2 := b.Clone()
	p.Bind("p|00002|0000000001", b2)
	if b[2] != "" {
		t.Error("Clone shares storage")
	}
	if k, ok := sink.Expand(b2); !ok || k != "t|00001|0000000001|00002" {
		t.Errorf("sink.Expand = %q, %v", k, ok)
	}
	if pre, complete := sink.Prefix(b2); pre != "t|00001|0000000001|00002" || !complete {
		t.Errorf("sink.Prefix = %q, %v", pre, complete)
	}
	// Prefix stops at the first unbound slot even if later ones are bound.
	only := bindingOf(t, j, "poster", "00002")
	if pre, complete := sink.Prefix(only); pre != "t|" || complete {
		t.Errorf("sink.Prefix(poster only) = %q, %v", pre, complete)
	}
	if pre, complete := sink.Prefix(j.NewBinding()); pre != "t|" || complete {
		t.Errorf("sink.Prefix(empty) = %q, %v", pre, complete)
	}
	// Repeated slots: Bind/Expand round trip.
	jr := mustParse(t, "k|<x:2> = copy b|<x>|<x>")
	br := jr.NewBinding()
	jr.Sources[0].Bind("b|12|12", br)
	if k, ok := jr.Sources[0].Expand(br); !ok || k != "b|12|12" {
		t.Errorf("repeated Expand = %q %v", k, ok)
	}
	if k, ok := jr.Sink.Expand(br); !ok || k != "k|12" {
		t.Errorf("sink Expand = %q %v", k, ok)
	}
	// A pattern without slots.
	jl := mustParse(t, "k|x = copy b|<y:1>")
	if k, ok := jl.Sink.Expand(jl.NewBinding()); !ok || k != "k|x" {
		t.Errorf("literal sink Expand = %q %v", k, ok)
	}
	if lo, hi := jl.Sink.Footprint(jl.NewBinding()); lo != "k|x" || hi != "k|x\x00" {
		t.Errorf("literal sink Footprint = [%q,%q)", lo, hi)
	}
}

// TestBindExpandRoundTrip: for every pattern of the §8 joins, Bind of an
// expanded key gives back the binding, and the key matches.
func TestBindExpandRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range sec8 {
		j := mustParse(t, c.text)
		pats := []*Pattern{&j.Sink}
		for i := range j.Sources {
			pats = append(pats, &j.Sources[i].Pattern)
		}
		for n := 0; n < 50; n++ {
			full := j.NewBinding()
			for i, s := range j.Slots {
				v := make([]byte, s.Len)
				for k := range v {
					v[k] = byte(rng.IntN(256))
				}
				full[i] = string(v)
			}
			for _, p := range pats {
				k, ok := p.Expand(full)
				if !ok || len(k) != p.KeyLen {
					t.Fatalf("%q: Expand = %q, %v", p.Text, k, ok)
				}
				if !p.Matches(k, j.NewBinding()) || !p.Matches(k, full) {
					t.Fatalf("%q: expanded key %q does not match", p.Text, k)
				}
				got := j.NewBinding()
				p.Bind(k, got)
				for i := range got {
					if p.HasSlot(i) && got[i] != full[i] || !p.HasSlot(i) && got[i] != "" {
						t.Fatalf("%q: Bind(%q) slot %d = %q", p.Text, k, i, got[i])
					}
				}
				if pre, complete := p.Prefix(full); pre != k || !complete {
					t.Fatalf("%q: Prefix(full) = %q %v", p.Text, pre, complete)
				}
				if lo, hi := p.Footprint(full); lo != k || hi != k+"\x00" {
					t.Fatalf("%q: Footprint(full) = [%q,%q)", p.Text, lo, hi)
				}
			}
		}
	}
}

func TestSeedBinding(t *testing.T) {
	simple := mustParse(t, sec8[0].text) // t|<subscriber:5>|<time:10>|<poster:5>
	x5 := mustParse(t, "t|<x:5> = copy a|<x>")
	joinB := mustParse(t, sec8[6].text) // t|<subscriber:5><time:10><poster:5>; source s|<subscriber>|<poster>
	for _, c := range []struct {
		j      *Join
		p      *Pattern
		lo, hi string
		want   []string
	}{
		// §3.2 step 1: subscriber fixed, time and poster not.
		{simple, &simple.Sink, "t|00001|0000000001", "t|00001}", []string{"subscriber", "00001"}},
		{simple, &simple.Sink, "t|00001|", "t|00001}", []string{"subscriber", "00001"}},
		{simple, &simple.Sink, "t|00001", "t|00001}", []string{"subscriber", "00001"}},
		{simple, &simple.Sink, "t|00001|0000000001", "t|00001|0000000015", []string{"subscriber", "00001"}},
		{simple, &simple.Sink, "t|00001|0000000001|", "t|00001|0000000001}", []string{"subscriber", "00001", "time", "0000000001"}},
		// §8.2: a range over two subscribers fixes nothing.
		{simple, &simple.Sink, "t|00001|0000000001", "t|00003}", nil},
		{simple, &simple.Sink, "t|", "t}", nil},
		{simple, &simple.Sink, "t|00000|", "t|10000}", nil},
		// Single-key ranges fix everything.
		{simple, &simple.Sink, "t|00001|0000000001|00002", "t|00001|0000000001|00002\x00",
			[]string{"subscriber", "00001", "time", "0000000001", "poster", "00002"}},
		{x5, &x5.Sink, "t|abcde", "t|abcde\x00", []string{"x", "abcde"}},
		// The successor case.
		{x5, &x5.Sink, "t|11111", "t|11112", []string{"x", "11111"}},
		{x5, &x5.Sink, "t|1111\xff", "t|1112\x00", []string{"x", "1111\xff"}},
		{x5, &x5.Sink, "t|11\xff\xff\xff", "t|12\x00\x00\x00", []string{"x", "11\xff\xff\xff"}},
		{x5, &x5.Sink, "t|11111abc", "t|11112", []string{"x", "11111"}},
		// Not fixed: t|11112 itself lies in these ranges.
		{x5, &x5.Sink, "t|11111", "t|11112\x00", nil},
		{x5, &x5.Sink, "t|11111", "t|11113", nil},
		{x5, &x5.Sink, "t|1111\xfe", "t|1112\x00", nil},
		{x5, &x5.Sink, "t|11110", "t|11112", nil},
		{x5, &x5.Sink, "t|", "t}", nil},
		{x5, &x5.Sink, "t|1111", "t|1112", nil},
		// §8.4: match_range of source 0 over [s|11111, s|11112) fixes subscriber.
		{joinB, &joinB.Sources[0].Pattern, "s|11111", "s|11112", []string{"subscriber", "11111"}},
		{joinB, &joinB.Sink, "t|11111", "t|11112", []string{"subscriber", "11111"}},
		{joinB, &joinB.Sink, "t|111119999999999", "t|11112", []string{"subscriber", "11111"}},
		// Literal mismatch: nothing fixed.
		{x5, &x5.Sink, "u|11111", "u|11111\x00", nil},
	} {
		b := c.j.NewBinding()
		c.p.SeedBinding(c.lo, c.hi, b)
		want := bindingOf(t, c.j, c.want...)
		if bstr(c.j, b) != bstr(c.j, want) {
			t.Errorf("%q.SeedBinding(%q, %q) = %s, want %s", c.p.Text, c.lo, c.hi, bstr(c.j, b), bstr(c.j, want))
		}
	}
}

func TestFootprint(t *testing.T) {
	j := mustParse(t, sec8[0].text)
	for _, c := range []struct {
		bind   []string
		lo, hi string
	}{
		{nil, "t|", "t}"},
		{[]string{"subscriber", "00001"}, "t|00001|", "t|00001}"},
		{[]string{"subscriber", "00001", "poster", "00002"}, "t|00001|", "t|00001}"},
		{[]string{"subscriber", "0000\xff", "time", "999999999\xff"}, "t|0000\xff|999999999\xff|", "t|0000\xff|999999999\xff}"},
		{[]string{"subscriber", "00001", "time", "0000000001", "poster", "00002"}, "t|00001|0000000001|00002", "t|00001|0000000001|00002\x00"},
		{[]string{"time", "0000000001"}, "t|", "t}"},
	} {
		b := bindingOf(t, j, c.bind...)
		lo, hi := j.Sink.Footprint(b)
		if lo != c.lo || hi != c.hi {
			t.Errorf("Footprint(%s) = [%q,%q), want [%q,%q)", bstr(j, b), lo, hi, c.lo, c.hi)
		}
	}
}

func TestSameStructure(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		// §2.7: slot names are irrelevant.
		{"t|<a:5> = a|<a>", "t|<b:5> = a|<b>", true},
		{sec8[0].text, "t|<u:5>|<tm:10>|<p:5> = using f|<u>|<p> copy p|<p>|<tm>", true},
		{sec8[0].text, sec8[0].text, true},
		// Flags are not structure.
		{"t|<a:5> = using x|<a> copy a|<a>", "t|<a:5> = using eager x|<a> copy a|<a>", true},
		{"t|<a:5> = using x|<a> copy a|<a>", "t|<a:5> = filter x|<a> copy a|<a> pull", true},
		{"t|<a:5> = x|<a> a|<a>", "t|<a:5> = using x|<a> copy a|<a>", true},
		{"t|<a:5t> = a|<a>", "t|<a:5d> = a|<a>", true},
		// Lengths, literals, operators and pattern counts are.
		{"t|<a:5> = a|<a>", "t|<a:6> = a|<a>", false},
		{"t|<a:5> = a|<a>", "u|<a:5> = a|<a>", false},
		{"t|<a:5> = a|<a>", "t|<a:5> = b|<a>", false},
		{"t|<a:5> = a|<a>", "t|<a:5> = a|<a>|", false},
		{"t|<a:5> = a|<a>", "t|<a:5> = count a|<a>", false},
		{"t|<a:5> = min a|<a>", "t|<a:5> = max a|<a>", false},
		{"t|<a:5> = a|<a>", "t|<a:5> = x|<a> a|<a>", false},
		{"t|<a:5> = x|<a> a|<a>", "t|<a:5> = a|<a> x|<a>", false},
		{"t|<a:1>x = a|<a>", "t|x<a:1> = a|<a>", false},
		{"t|<a:1><b:1> = a|<a><b>", "t|<a:2> = a|<a>", false},
		{"t|<a:5> = a|<a><v:1>", "t|<a:5> = a|<a>v", false},
		{sec8[0].text, sec8[1].text, false}, // f vs s
	} {
		ja, jb := mustParse(t, c.a), mustParse(t, c.b)
		if got := SameStructure(ja, jb); got != c.want {
			t.Errorf("SameStructure(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		if got := SameStructure(jb, ja); got != c.want {
			t.Errorf("SameStructure(%q, %q) = %v, want %v (symmetry)", c.b, c.a, got, c.want)
		}
	}
}

// TestSameStructureSlotIdentity: §2.7 compares "slot positions"; joins that
// differ only in which slot occupies which position compute different things
// and must not count as the same structure, or the second one is refused as
// redundant ("same structure as overlapping join") although it writes other
// keys. The original's encoded patterns carry the slot index, so it tells
// them apart.
func TestSameStructureSlotIdentity(t *testing.T) {
	for _, c := range [][2]string{
		// Identity vs. swap: t|ab from a|ab, or t|ba from a|ab.
		{"t|<a:1><b:1> = a|<a><b>", "t|<a:1><b:1> = a|<b><a>"},
		// Repeated slot vs. two independent slots.
		{"t|<a:1> = a|<a><a>", "t|<a:1> = a|<a><b:1>"},
		// Context slot joined to a different value-source position.
		{"k|<u:1> = using a|<u>|<x:1> copy v|<x>|<y:1>", "k|<u:1> = using a|<u>|<x:1> copy v|<y:1>|<x>"},
	} {
		ja, jb := mustParse(t, c[0]), mustParse(t, c[1])
		if SameStructure(ja, jb) {
			t.Errorf("SameStructure(%q, %q) = true, want false", c[0], c[1])
		}
	}
	// Consistent renaming keeps the structure.
	if !SameStructure(mustParse(t, "t|<a:1><b:1> = a|<b><a>"), mustParse(t, "t|<x:1><y:1> = a|<y><x>")) {
		t.Error("consistently renamed joins differ")
	}
}

// ---------------------------------------------------------------------------
// Exhaustive property tests for SeedBinding, Footprint and ScanInterval.

// propJoin is a join small enough to enumerate: every full assignment of its
// slots over alpha (one byte per slot position).
type propJoin struct {
	text  string
	alpha string
}

var propJoins = []propJoin{
	// §10 A1's counterexample to the original's bounds, with lengths.
	{"k|<x:1>|<u:1> = sum b|<u>|<x>", "\x000z\xff"},
	{"k|<x:1><u:1> = copy b|<u><x>", "\x000z\xff"},
	{"k|<x:1><u:1> = copy b|<x><u>", "\x000z\xff"},
	{"k|<x:2>|<u:1> = copy b|<u>|<x>", "01\xff"},
	{"k|<x:2><u:1> = copy b|<x>|<u>", "01\xff"},
	{"k|<x:1>|<y:1>|<z:1> = using a|<x>|<z> copy b|<z>|<y>", "01\xff"},
	{"k|<x:1><y:1><z:1> = using a|<z><x> copy b|<y><z>", "01\xff"},
	{"k|<z:1>|<y:1>|<x:1> = using a|<x>|<y> copy b|<y><z>", "0\xff"},
	{"k|<u:1> = count v|<x:1> using a|<u>|<y:1>, b|<y>|<x>", "01\xff"},
	{"k|<x:1><x>|<u:1> = copy b|<u>|<x>", "01\xff"},
	{"k|<x:1>|<u:1> = copy b|<x><u><x>", "01\xff"},
	{"k|<x:2><y:1> = using a|<y>|<x> copy b|<x>", "01\xff"},
	{"k|<x:1>z<y:1> = using a|<y>|<x> copy b|<x>q<y>", "0z\xff"},
	// Slots shared in different orders, wider slots.
	{"k|<x:2>|<y:2> = copy b|<y>|<x>", "0\xff"},
	{"k|<y:2><x:1> = copy b|<x><y>", "01\xff"},
	// A source with no table prefix (Parse accepts it, §2.4).
	{"k|<x:1>|<u:1> = copy <u>|b<x>", "01\xff"},
}

// enumerate returns every full assignment of j's slots over alpha.
func enumerate(j *Join, alpha string) []Binding {
	out := []Binding{j.NewBinding()}
	for i, s := range j.Slots {
		vals := values(s.Len, alpha)
		var next []Binding
		for _, b := range out {
			for _, v := range vals {
				c := b.Clone()
				c[i] = v
				next = append(next, c)
			}
		}
		out = next
	}
	return out
}

func values(n int, alpha string) []string {
	vals := []string{""}
	for k := 0; k < n; k++ {
		var next []string
		for _, v := range vals {
			for i := 0; i < len(alpha); i++ {
				next = append(next, v+alpha[i:i+1])
			}
		}
		vals = next
	}
	return vals
}

// partials returns every binding in which each slot is unbound or bound to
// one of its values over alpha.
func partials(j *Join, alpha string) []Binding {
	out := []Binding{j.NewBinding()}
	for i, s := range j.Slots {
		vals := append([]string{""}, values(s.Len, alpha)...)
		var next []Binding
		for _, b := range out {
			for _, v := range vals {
				c := b.Clone()
				c[i] = v
				next = append(next, c)
			}
		}
		out = next
	}
	return out
}

func agrees(full, partial Binding) bool {
	for i, v := range partial {
		if v != "" && full[i] != v {
			return false
		}
	}
	return true
}

// boundaries returns candidate range bounds around the keys: every prefix of
// every key, each also followed by "\x00" and "\xff", its PrefixEnd, and its
// last byte decremented.
func boundaries(keys []string) []string {
	set := map[string]bool{}
	for _, k := range keys {
		for n := 0; n <= len(k); n++ {
			p := k[:n]
			set[p] = true
			set[p+"\x00"] = true
			set[p+"\xff"] = true
			if e := PrefixEnd(p); e != "" {
				set[e] = true
			}
			if n > 0 && p[n-1] > 0 {
				set[p[:n-1]+string([]byte{p[n-1] - 1})] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// rangePairs returns the pairs lo < hi of bounds, all of them if there are at
// most max, else a deterministic sample of max pairs.
func rangePairs(bounds []string, max int, seed uint64) [][2]string {
	var all [][2]string
	for i, lo := range bounds {
		for _, hi := range bounds[i+1:] {
			all = append(all, [2]string{lo, hi})
		}
	}
	if len(all) <= max {
		return all
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	rng.Shuffle(len(all), func(i, k int) { all[i], all[k] = all[k], all[i] })
	return all[:max]
}

func inRange(k, lo, hi string) bool { return k >= lo && (hi == "" || k < hi) }

// maxPairWork bounds pairs × assignments per property run.
func maxPairWork(t *testing.T) int {
	if testing.Short() {
		return 300_000
	}
	return 3_000_000
}

// TestSeedBindingSound: for every sink range, every sink key in the range
// agrees with every slot SeedBinding fixes (§3.2 step 1).
func TestSeedBindingSound(t *testing.T) {
	for _, pj := range propJoins {
		j := mustParse(t, pj.text)
		full := enumerate(j, pj.alpha)
		var keys []string
		for _, a := range full {
			k, _ := j.Sink.Expand(a)
			keys = append(keys, k)
		}
		bounds := boundaries(keys)
		pairs := rangePairs(append([]string{""}, bounds...), maxPairWork(t)/len(full)+1, 3)
		for _, pr := range pairs {
			lo, hi := pr[0], pr[1]
			seed := j.NewBinding()
			j.Sink.SeedBinding(lo, hi, seed)
			for ai, a := range full {
				if inRange(keys[ai], lo, hi) && !agrees(a, seed) {
					t.Fatalf("%q: SeedBinding(%q, %q) = %s, but sink key %q (%s) is in the range",
						pj.text, lo, hi, bstr(j, seed), keys[ai], bstr(j, a))
				}
			}
		}
	}
}

// TestFootprintSuperset: every sink key derivable under a binding lies in
// the binding's footprint.
func TestFootprintSuperset(t *testing.T) {
	for _, pj := range propJoins {
		j := mustParse(t, pj.text)
		full := enumerate(j, pj.alpha)
		for _, b := range partials(j, pj.alpha) {
			lo, hi := j.Sink.Footprint(b)
			for _, a := range full {
				if !agrees(a, b) {
					continue
				}
				k, _ := j.Sink.Expand(a)
				if !inRange(k, lo, hi) {
					t.Fatalf("%q: Footprint(%s) = [%q,%q) misses %q", pj.text, bstr(j, b), lo, hi, k)
				}
			}
		}
	}
}

// TestScanIntervalSuperset is the §10 A1 superset requirement, checked
// exhaustively: for every source, every partial binding and every sink range
// [lo,hi) built from boundary strings, each source key that matches the
// source pattern, agrees with the binding, and extends (together with the
// binding) to a sink key in [lo,hi) lies inside ScanInterval's result.
func TestScanIntervalSuperset(t *testing.T) {
	checked := 0
	for _, pj := range propJoins {
		j := mustParse(t, pj.text)
		full := enumerate(j, pj.alpha)
		sinkKeys := make([]string, len(full))
		for ai, a := range full {
			sinkKeys[ai], _ = j.Sink.Expand(a)
		}
		bounds := boundaries(sinkKeys)
		binds := partials(j, pj.alpha)
		// Work per pair: for each binding, the assignments agreeing with it.
		perPair := 0
		agreeing := make([][]int, len(binds))
		for bi, b := range binds {
			for ai, a := range full {
				if agrees(a, b) {
					agreeing[bi] = append(agreeing[bi], ai)
				}
			}
			perPair += len(agreeing[bi]) + 1
		}
		pairs := rangePairs(append([]string{""}, bounds...), maxPairWork(t)/perPair+1, 5)
		for si := range j.Sources {
			src := &j.Sources[si].Pattern
			srcKeys := make([]string, len(full))
			for ai, a := range full {
				srcKeys[ai], _ = src.Expand(a)
			}
			for bi, b := range binds {
				for _, pr := range pairs {
					lo, hi := ScanInterval(src, &j.Sink, b, pr[0], pr[1])
					for _, ai := range agreeing[bi] {
						if !inRange(sinkKeys[ai], pr[0], pr[1]) {
							continue
						}
						checked++
						if !inRange(srcKeys[ai], lo, hi) {
							t.Fatalf("%q source %d %q, binding %s, sink range [%q,%q): ScanInterval = [%q,%q) misses %q (sink key %q)",
								pj.text, si, src.Text, bstr(j, b), pr[0], pr[1], lo, hi, srcKeys[ai], sinkKeys[ai])
						}
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("property checked nothing")
	}
	t.Logf("%d (source key, range) pairs checked", checked)
}

// TestScanIntervalExamples pins concrete intervals: the whole bound prefix
// when nothing narrows it, narrowing by the sink range, and §10 A1's example.
func TestScanIntervalExamples(t *testing.T) {
	simple := mustParse(t, sec8[0].text)
	f, p := &simple.Sources[0].Pattern, &simple.Sources[1].Pattern
	a1 := mustParse(t, "k|<x:1>|<u:1> = sum b|<u>|<x>")
	x5 := mustParse(t, "k|<x:5> = copy b|<x>|<y:1>")
	notab := mustParse(t, "k|<x:1> = copy <x>|b")
	for _, c := range []struct {
		j        *Join
		src      *Pattern
		bind     []string
		slo, shi string
		// The interval must contain every key in must and no key in mustNot.
		must, mustNot []string
		lo, hi        string // exact result, if set
	}{
		// test_simple, step 1: subscriber seeded.
		{j: simple, src: f, bind: []string{"subscriber", "00001"}, slo: "t|00001|0000000001", shi: "t|00001}",
			must: []string{"f|00001|00002", "f|00001|10000"}, mustNot: []string{"f|00002|00002", "f|00000|99999"},
			lo: "f|00001|", hi: "f|00001}"},
		{j: simple, src: p, bind: []string{"subscriber", "00001", "poster", "00002"}, slo: "t|00001|0000000001", shi: "t|00001}",
			must: []string{"p|00002|0000000001", "p|00002|9999999999"}, mustNot: []string{"p|10000|0000000010", "p|00002|0000000000"}},
		// Whole table when nothing is bound.
		{j: simple, src: f, slo: "t|", shi: "t}", lo: "f|", hi: "f}"},
		// Fully bound source: a single key.
		{j: simple, src: f, bind: []string{"subscriber", "00001", "poster", "00002"}, slo: "t|", shi: "t}",
			lo: "f|00001|00002", hi: "f|00001|00002\x00"},
		// §10 A1: k|z|y is in [k|x|z, k|z|z) and comes from b|y|z.
		{j: a1, src: &a1.Sources[0].Pattern, slo: "k|x|z", shi: "k|z|z", must: []string{"b|y|z"}},
		{j: a1, src: &a1.Sources[0].Pattern, slo: "k|z|y", shi: "k|z|y\x00", must: []string{"b|y|z"}},
		// Narrowing when the first unbound sink slot leads the source.
		{j: x5, src: &x5.Sources[0].Pattern, slo: "k|11111", shi: "k|11113",
			must: []string{"b|11111|0", "b|11112|\xff"}, mustNot: []string{"b|11110|\xff", "b|11114|0"}},
		{j: x5, src: &x5.Sources[0].Pattern, slo: "k|11111", shi: "k|11111\x00",
			must: []string{"b|11111|0"}, mustNot: []string{"b|11112|0", "b|11110|\xff"}},
		{j: x5, src: &x5.Sources[0].Pattern, slo: "k|1", shi: "k|2",
			must: []string{"b|10000|0", "b|1\xff\xff\xff\xff|0"}, mustNot: []string{"b|20000|0", "b|0\xff\xff\xff\xff|0"}},
		// A source without a table prefix (accepted by Parse, §2.4): the
		// interval has no upper bound, which ScanInterval reports as hi == ""
		// (PrefixEnd's convention). Callers must not read [lo, "") as empty.
		{j: notab, src: &notab.Sources[0].Pattern, slo: "k|1", shi: "k|2", must: []string{"1|b"}, lo: "1", hi: ""},
	} {
		b := bindingOf(t, c.j, c.bind...)
		lo, hi := ScanInterval(c.src, &c.j.Sink, b, c.slo, c.shi)
		for _, k := range c.must {
			if !inRange(k, lo, hi) {
				t.Errorf("%q %s [%q,%q): interval [%q,%q) misses %q", c.src.Text, bstr(c.j, b), c.slo, c.shi, lo, hi, k)
			}
		}
		for _, k := range c.mustNot {
			if inRange(k, lo, hi) {
				t.Errorf("%q %s [%q,%q): interval [%q,%q) needlessly includes %q", c.src.Text, bstr(c.j, b), c.slo, c.shi, lo, hi, k)
			}
		}
		if c.lo != "" && (lo != c.lo || hi != c.hi) {
			t.Errorf("%q %s [%q,%q): interval [%q,%q), want [%q,%q)", c.src.Text, bstr(c.j, b), c.slo, c.shi, lo, hi, c.lo, c.hi)
		}
		// Every interval stays within the source's literal prefix.
		if pre, _ := c.src.Prefix(b); lo < pre {
			t.Errorf("%q: lo %q below the bound prefix %q", c.src.Text, lo, pre)
		}
	}
}

// TestTableNameBytes checks the []byte instantiation the wire layer uses.
func TestTableNameBytes(t *testing.T) {
	cases := []struct{ key, want string }{
		{"t|00001|x", "t"}, {"t|", "t"}, {"|abc", ""}, {"t}", "t"}, {"t", ""},
		{"abc", ""}, {"", ""}, {"}", ""}, {"ab}}", "ab}"}, {"a}b|c", "a}b"},
		{"tbl|x}", "tbl"}, {"\x00|", "\x00"},
	}
	for _, c := range cases {
		if got := TableName([]byte(c.key)); string(got) != c.want {
			t.Errorf("TableName(%q) = %q, want %q", c.key, got, c.want)
		}
	}
	ranges := []struct{ first, last, want string }{
		{"t|a", "t|b", "t"}, {"t|", "t}", "t"}, {"t|00001|", "t|00001}", "t"},
		{"t|a", "u|b", ""}, {"t|a", "t", ""}, {"t|a", "tx|", ""}, {"t}", "t}", "t"},
		{"abc", "abc|", ""}, {"t|a", "", ""}, {"ab|", "a|", ""}, {"t|z", "t|a", "t"},
	}
	for _, c := range ranges {
		if got := RangeTableName([]byte(c.first), []byte(c.last)); string(got) != c.want {
			t.Errorf("RangeTableName(%q, %q) = %q, want %q", c.first, c.last, got, c.want)
		}
	}
}
