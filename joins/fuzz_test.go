package joins

import (
	"errors"
	"strings"
	"testing"
)

// seedTexts returns every join text of the spec tables used in these tests:
// §2.8, the §2.1–§2.6 grammar cases, §8, and the property-test joins.
func seedTexts() []string {
	var out []string
	for _, r := range spec28 {
		out = append(out, r.text)
	}
	for _, r := range moreRows {
		out = append(out, r.text)
	}
	for _, c := range sec8 {
		out = append(out, c.text)
	}
	for _, p := range propJoins {
		out = append(out, p.text)
	}
	return append(out, fuzzRegressions...)
}

// fuzzRegressions holds inputs found by FuzzParse (kept here as regular
// cases, see TestFuzzRegressions).
var fuzzRegressions = []string{}

// referencedSlots returns the slots that occur in some pattern of j, in
// slot-index order, formatted like slotString, and checks that they come
// before every with/where-only slot.
func referencedSlots(t testing.TB, j *Join) []string {
	t.Helper()
	used := make([]bool, len(j.Slots))
	pats := []*Pattern{&j.Sink}
	for i := range j.Sources {
		pats = append(pats, &j.Sources[i].Pattern)
	}
	for _, p := range pats {
		for _, sg := range p.Segs {
			if sg.Slot >= 0 {
				used[sg.Slot] = true
			}
		}
	}
	var out []string
	seenUnused := false
	for i, s := range j.Slots {
		if !used[i] {
			seenUnused = true
			continue
		}
		if seenUnused {
			t.Errorf("%q: pattern slot %q has a higher index than a with/where-only slot", j.Text, s.Name)
		}
		one := &Join{Slots: []Slot{s}}
		out = append(out, slotString(one)+map[bool]string{true: "?", false: ""}[s.Anonymous])
	}
	return out
}

// segSlots lists the slot index of every segment of every pattern (-1 for
// literals): the slot identity that SameStructure should also compare.
func segSlots(j *Join) []int {
	var out []int
	pats := []*Pattern{&j.Sink}
	for i := range j.Sources {
		pats = append(pats, &j.Sources[i].Pattern)
	}
	for _, p := range pats {
		for _, sg := range p.Segs {
			out = append(out, sg.Slot)
		}
		out = append(out, -2)
	}
	return out
}

// checkReparse checks the properties FuzzParse asserts for one input.
func checkReparse(t *testing.T, text string, original bool) {
	lim := DefaultLimits()
	if original {
		lim = OriginalLimits()
	}
	j, err := ParseWithLimits(text, lim)
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) || len(pe.Messages) == 0 {
			t.Fatalf("%q: error %v is not a non-empty *ParseError", text, err)
		}
		if j != nil {
			t.Fatalf("%q: non-nil Join with an error", text)
		}
		for _, m := range pe.Messages {
			if m == "" {
				t.Fatalf("%q: empty error message", text)
			}
		}
		return
	}
	if j == nil {
		t.Fatalf("%q: nil Join without error", text)
	}
	checkInvariants(t, text, j)
	if len(j.Sources) == 0 || 1+len(j.Sources) > lim.MaxPatterns || len(j.Slots) > lim.MaxSlots {
		t.Fatalf("%q: accepted with %d sources, %d slots under %+v", text, len(j.Sources), len(j.Slots), lim)
	}
	pats := []*Pattern{&j.Sink}
	for i := range j.Sources {
		pats = append(pats, &j.Sources[i].Pattern)
	}
	for _, p := range pats {
		enc := 0
		for _, sg := range p.Segs {
			if sg.Slot < 0 {
				enc += len(sg.Lit)
			} else {
				enc++
			}
		}
		if enc > lim.MaxPatternLen || p.KeyLen > lim.MaxKeyLen {
			t.Fatalf("%q: pattern %q encoded %d key %d accepted under %+v", text, p.Text, enc, p.KeyLen, lim)
		}
		if !strings.ContainsAny(p.Text, "|<") {
			t.Fatalf("%q: pattern %q without table accepted", text, p.Text)
		}
	}

	s := j.String()
	j2, err := ParseWithLimits(s, lim)
	if err != nil {
		t.Fatalf("%q: String() = %q does not reparse: %v", text, s, err)
	}
	if s2 := j2.String(); s2 != s {
		t.Fatalf("%q: String() not a fixed point: %q then %q", text, s, s2)
	}
	if !SameStructure(j, j2) || !SameStructure(j2, j) {
		t.Fatalf("%q: String() = %q reparses to a different structure", text, s)
	}
	if a, b := segSlots(j), segSlots(j2); !equalInts(a, b) {
		t.Fatalf("%q: String() = %q reparses with other slot identities: %v vs %v", text, s, a, b)
	}
	if j.Op != j2.Op || j.Maintained != j2.Maintained || j.CompletionSource != j2.CompletionSource {
		t.Fatalf("%q: String() = %q: op %v/%v maintained %v/%v completion %d/%d", text, s,
			j.Op, j2.Op, j.Maintained, j2.Maintained, j.CompletionSource, j2.CompletionSource)
	}
	for i := range j.Sources {
		a, b := &j.Sources[i], &j2.Sources[i]
		if a.Lazy != b.Lazy || a.Filter != b.Filter || a.Table != b.Table || a.KeyLen != b.KeyLen {
			t.Fatalf("%q: String() = %q: source %d lazy %v/%v filter %v/%v table %q/%q", text, s, i,
				a.Lazy, b.Lazy, a.Filter, b.Filter, a.Table, b.Table)
		}
	}
	if j.Sink.Table != j2.Sink.Table || j.Sink.KeyLen != j2.Sink.KeyLen {
		t.Fatalf("%q: String() = %q: sink table/keylen differ", text, s)
	}
	if a, b := referencedSlots(t, j), referencedSlots(t, j2); strings.Join(a, " ") != strings.Join(b, " ") {
		t.Fatalf("%q: String() = %q: slots %q reparse as %q", text, s, a, b)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FuzzParse: arbitrary text never panics; errors are *ParseError; every
// accepted join respects the limits and its String() reparses (same limits)
// to a join with the same structure, operator, flags, slots and completion
// source.
func FuzzParse(f *testing.F) {
	for _, s := range seedTexts() {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, text string, original bool) {
		checkReparse(t, text, original)
	})
}

// TestReparseSeeds runs the FuzzParse property over the seed corpus (also
// done by `go test`, but this names the property in the test list).
func TestReparseSeeds(t *testing.T) {
	for _, s := range seedTexts() {
		checkReparse(t, s, true)
		checkReparse(t, s, false)
	}
}

// TestFuzzRegressions replays inputs the fuzzer found.
func TestFuzzRegressions(t *testing.T) {
	for _, s := range fuzzRegressions {
		checkReparse(t, s, true)
		checkReparse(t, s, false)
	}
}

// fuzzJoins are the joins FuzzScanInterval draws from.
func fuzzJoins(t testing.TB) []*Join {
	var out []*Join
	for _, p := range propJoins {
		out = append(out, mustParse(t, p.text))
	}
	for _, c := range sec8 {
		out = append(out, mustParse(t, c.text))
	}
	return out
}

// FuzzScanInterval: for a join, a full slot assignment (bytes from vals), a
// partial binding of it (mask) and a sink range [lo,hi) containing the
// assignment's sink key, every source's scan interval contains the
// assignment's source key (§10 A1); SeedBinding fixes nothing that
// contradicts the key; Footprint contains it.
func FuzzScanInterval(f *testing.F) {
	f.Add(uint8(0), uint16(0), []byte("yz"), "k|x|z", "k|z|z")
	f.Add(uint8(0), uint16(1), []byte("yz"), "k|z|y", "k|z|y\x00")
	f.Add(uint8(1), uint16(2), []byte("\xff\x00"), "k|\xff", "k}")
	f.Add(uint8(3), uint16(0), []byte("01\xff"), "k|0", "k|1")
	f.Add(uint8(16), uint16(1), []byte("0000100002000000000100002"), "t|00001|0000000001", "t|00001}")
	f.Add(uint8(22), uint16(0), []byte("111112222222222fffff"), "t|111119999999999", "t|11112")
	joins := fuzzJoins(f)
	f.Fuzz(func(t *testing.T, ji uint8, mask uint16, vals []byte, lo, hi string) {
		if hi == "" || lo >= hi {
			return
		}
		j := joins[int(ji)%len(joins)]
		full, b := j.NewBinding(), j.NewBinding()
		pos := 0
		for i, s := range j.Slots {
			v := make([]byte, s.Len)
			for k := range v {
				if pos < len(vals) {
					v[k] = vals[pos]
				} else {
					v[k] = '0'
				}
				pos++
			}
			full[i] = string(v)
			if mask&(1<<(i%16)) != 0 {
				b[i] = full[i]
			}
		}
		sinkKey, ok := j.Sink.Expand(full)
		if !ok {
			t.Fatalf("Expand of a full binding failed")
		}
		if flo, fhi := j.Sink.Footprint(b); !inRange(sinkKey, flo, fhi) {
			t.Fatalf("%q: Footprint(%s) = [%q,%q) misses %q", j.Text, bstr(j, b), flo, fhi, sinkKey)
		}
		if !(lo <= sinkKey && sinkKey < hi) {
			return
		}
		seed := j.NewBinding()
		j.Sink.SeedBinding(lo, hi, seed)
		if !agrees(full, seed) {
			t.Fatalf("%q: SeedBinding(%q, %q) = %s contradicts sink key %q in range", j.Text, lo, hi, bstr(j, seed), sinkKey)
		}
		for si := range j.Sources {
			src := &j.Sources[si].Pattern
			k, _ := src.Expand(full)
			slo, shi := ScanInterval(src, &j.Sink, b, lo, hi)
			if !inRange(k, slo, shi) {
				t.Fatalf("%q source %q, binding %s, sink range [%q,%q): ScanInterval = [%q,%q) misses %q (sink key %q)",
					j.Text, src.Text, bstr(j, b), lo, hi, slo, shi, k, sinkKey)
			}
			// Seeded bindings are what the engine passes in practice.
			merged := seed.Clone()
			for i, v := range b {
				if v != "" {
					merged[i] = v
				}
			}
			slo, shi = ScanInterval(src, &j.Sink, merged, lo, hi)
			if !inRange(k, slo, shi) {
				t.Fatalf("%q source %q, seeded binding %s, sink range [%q,%q): ScanInterval = [%q,%q) misses %q",
					j.Text, src.Text, bstr(j, merged), lo, hi, slo, shi, k)
			}
		}
	})
}
