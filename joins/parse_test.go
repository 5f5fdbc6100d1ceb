package joins

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// want is the expected outcome of parsing one join text. If err is set the
// parse must fail with a message containing err; otherwise it must succeed
// and every non-zero field below is checked.
type want struct {
	err string // substring of one of the ParseError messages

	nsrc    int      // number of sources (0: unchecked)
	srcs    []string // source pattern texts in evaluation order
	op      string   // operator keyword ("" unchecked)
	lazy    string   // one '0'/'1' per source, value source included
	filter  string   // one '0'/'1' per source
	maint   string   // "push" (Maintained) or "pull" ("" unchecked)
	comp    *int     // CompletionSource
	slots   string   // "name:len[type][t] ..." in slot-index order
	sinkLen int      // Sink.KeyLen (0: unchecked)
}

func intp(i int) *int { return &i }

// slotString formats j.Slots like want.slots.
func slotString(j *Join) string {
	var parts []string
	for _, s := range j.Slots {
		p := fmt.Sprintf("%s:%d", s.Name, s.Len)
		if s.Type != 0 {
			p += string(s.Type)
		}
		if s.Subtable {
			p += "t"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func bits(f func(i int) bool, n int) string {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if f(i) {
			sb.WriteByte('1')
		} else {
			sb.WriteByte('0')
		}
	}
	return sb.String()
}

// parseMessages returns the messages of a *ParseError, failing the test if
// err is some other kind of error.
func parseMessages(t testing.TB, text string, err error) []string {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%q: error %v (%T) is not a *ParseError", text, err, err)
	}
	if len(pe.Messages) == 0 {
		t.Fatalf("%q: ParseError without messages", text)
	}
	if got := pe.Error(); got != strings.Join(pe.Messages, "\n") {
		t.Errorf("%q: Error() = %q, want the messages joined by newlines", text, got)
	}
	return pe.Messages
}

// checkParse parses text under lim and checks the outcome against w.
func checkParse(t *testing.T, text string, lim Limits, w want) *Join {
	t.Helper()
	j, err := ParseWithLimits(text, lim)
	if w.err != "" {
		if err == nil {
			t.Errorf("%q: parsed OK (%s), want error containing %q", text, j, w.err)
			return nil
		}
		if j != nil {
			t.Errorf("%q: failed parse returned a non-nil Join", text)
		}
		msgs := parseMessages(t, text, err)
		for _, m := range msgs {
			if strings.Contains(m, w.err) {
				return nil
			}
		}
		t.Errorf("%q: errors %q, want one containing %q", text, msgs, w.err)
		return nil
	}
	if err != nil {
		t.Errorf("%q: unexpected error %v", text, err)
		return nil
	}
	checkJoin(t, text, j, w)
	return j
}

func checkJoin(t *testing.T, text string, j *Join, w want) {
	t.Helper()
	if j.Text != text {
		t.Errorf("%q: Text = %q", text, j.Text)
	}
	n := len(j.Sources)
	if n == 0 {
		t.Fatalf("%q: accepted with no sources", text)
	}
	if w.nsrc != 0 && n != w.nsrc {
		t.Errorf("%q: %d sources, want %d", text, n, w.nsrc)
	}
	if w.srcs != nil {
		var got []string
		for _, s := range j.Sources {
			got = append(got, s.Text)
		}
		if strings.Join(got, " ") != strings.Join(w.srcs, " ") {
			t.Errorf("%q: sources %q, want %q", text, got, w.srcs)
		}
	}
	if w.op != "" && j.Op.String() != w.op {
		t.Errorf("%q: op %s, want %s", text, j.Op, w.op)
	}
	if got := bits(func(i int) bool { return j.Sources[i].Lazy }, n); w.lazy != "" && got != w.lazy {
		t.Errorf("%q: lazy bits %s, want %s", text, got, w.lazy)
	}
	if got := bits(func(i int) bool { return j.Sources[i].Filter }, n); w.filter != "" && got != w.filter {
		t.Errorf("%q: filter bits %s, want %s", text, got, w.filter)
	}
	if j.ValueSource() != &j.Sources[n-1] || j.ValueSource().Lazy || j.ValueSource().Filter {
		t.Errorf("%q: value source must be the last, eager, non-filter source", text)
	}
	switch w.maint {
	case "push":
		if !j.Maintained {
			t.Errorf("%q: not maintained, want push", text)
		}
	case "pull":
		if j.Maintained {
			t.Errorf("%q: maintained, want pull", text)
		}
	}
	if j.Staleness != 0 {
		t.Errorf("%q: staleness %v set by the grammar", text, j.Staleness)
	}
	if w.comp != nil && j.CompletionSource != *w.comp {
		t.Errorf("%q: CompletionSource %d, want %d", text, j.CompletionSource, *w.comp)
	}
	if w.slots != "" && slotString(j) != w.slots {
		t.Errorf("%q: slots %q, want %q", text, slotString(j), w.slots)
	}
	if w.sinkLen != 0 && j.Sink.KeyLen != w.sinkLen {
		t.Errorf("%q: sink KeyLen %d, want %d", text, j.Sink.KeyLen, w.sinkLen)
	}
	checkInvariants(t, text, j)
}

// checkInvariants checks the internal consistency every parsed join must
// have: segment offsets and widths, key lengths, table names, slot lengths,
// CompletionSource, E-SELF and E-SINKSLOT.
func checkInvariants(t testing.TB, text string, j *Join) {
	t.Helper()
	pats := []*Pattern{&j.Sink}
	for i := range j.Sources {
		pats = append(pats, &j.Sources[i].Pattern)
	}
	for _, s := range j.Slots {
		if s.Len < 1 || s.Len > 128 {
			t.Errorf("%q: slot %q has length %d", text, s.Name, s.Len)
		}
		if s.Anonymous != strings.HasPrefix(s.Name, ".anon") {
			t.Errorf("%q: slot %q anonymous=%v", text, s.Name, s.Anonymous)
		}
	}
	for _, p := range pats {
		off := 0
		for k, sg := range p.Segs {
			if sg.Off != off {
				t.Errorf("%q: pattern %q seg %d at offset %d, want %d", text, p.Text, k, sg.Off, off)
			}
			if sg.Slot < 0 {
				if sg.Lit == "" || sg.Width != len(sg.Lit) {
					t.Errorf("%q: pattern %q bad literal segment %+v", text, p.Text, sg)
				}
			} else {
				if sg.Slot >= len(j.Slots) || sg.Width != j.Slots[sg.Slot].Len || sg.Lit != "" {
					t.Errorf("%q: pattern %q bad slot segment %+v", text, p.Text, sg)
				}
				if !p.HasSlot(sg.Slot) || p.SlotOffset(sg.Slot) > sg.Off {
					t.Errorf("%q: pattern %q slot %d offset bookkeeping wrong", text, p.Text, sg.Slot)
				}
			}
			if k > 0 && sg.Slot < 0 && p.Segs[k-1].Slot < 0 {
				t.Errorf("%q: pattern %q has adjacent literal segments", text, p.Text)
			}
			off += sg.Width
		}
		if p.KeyLen != off || off > 128 {
			t.Errorf("%q: pattern %q KeyLen %d, segments sum to %d", text, p.Text, p.KeyLen, off)
		}
		wantTable := ""
		if len(p.Segs) > 0 && p.Segs[0].Slot < 0 {
			if k := strings.IndexByte(p.Segs[0].Lit, '|'); k >= 0 {
				wantTable = p.Segs[0].Lit[:k]
			}
		}
		if p.Table != wantTable {
			t.Errorf("%q: pattern %q Table %q, want %q", text, p.Text, p.Table, wantTable)
		}
	}
	for i := range j.Sources {
		if j.Sources[i].Table == j.Sink.Table {
			t.Errorf("%q: accepted although source %d has the sink's table %q", text, i, j.Sink.Table)
		}
	}
	// CompletionSource: smallest c such that sources 0..c define every sink slot.
	c := 0
	for s := range j.Slots {
		if !j.Sink.HasSlot(s) {
			continue
		}
		def := -1
		for i := range j.Sources {
			if j.Sources[i].HasSlot(s) {
				def = i
				break
			}
		}
		if def < 0 {
			t.Errorf("%q: accepted although sink slot %q is not defined by sources", text, j.Slots[s].Name)
		} else if def > c {
			c = def
		}
	}
	if j.CompletionSource != c {
		t.Errorf("%q: CompletionSource %d, want %d", text, j.CompletionSource, c)
	}
}

// row is one line of a parse table, with its outcome under the original
// limits and (if different) under DefaultLimits.
type row struct {
	text string
	orig want
	def  *want // nil: same as orig
}

// spec28 is the whole "Verified parse outcomes" table of spec §2.8.
var spec28 = []row{
	{text: "t|<a:5> a|<a>", orig: want{err: "syntax error: expected ‘SINK = SOURCES’"}},
	{text: "t|<a:5> = ", orig: want{err: "syntax error: expected ‘SINK = SOURCES’"}},
	{text: "t|<a:5> = copy", orig: want{err: "syntax error near ‘copy’"}},
	{text: "t|<a:5> = using a|<a>", orig: want{err: "join pattern ‘t|<a:5> = using a|<a>’ lacks source key"}},
	{text: "t|<a:5> = copy a|<a> copy b|<a>", orig: want{err: "syntax error near ‘b|<a>’: transformation already defined"}},
	{text: "t|<a:5> = copy a|<a> sum b|<a>", orig: want{err: "syntax error near ‘b|<a>’: transformation already defined"}},
	{text: "t|<a:5> = eager a|<a>", orig: want{err: "syntax error near ‘eager’: 'eager' and 'lazy' designations only allowed on 'using' operator"}},
	{text: "t|<a:5> = using filter eager a|<a> copy b|<a>", orig: want{err: "syntax error near ‘eager’: 'eager' and 'lazy' designations only allowed on 'using' operator"}},
	{text: "t|<a:5> = copy using a|<a>", orig: want{err: "syntax error near ‘using’"}},
	{text: "t|<a> = a|<a>", orig: want{err: "slot ‘a’ was not given a length"}},
	{text: "t|<a:5> = a|<a:6>", orig: want{err: "slot ‘a’ has inconsistent lengths (5 vs. 6)"}},
	{
		text: "t|<a:5> = a|<a> b|<b:1> c|<c:1> d|<d:1> e|<e:1>",
		orig: want{err: "too many elements in join pattern, max 5"},
		def: &want{nsrc: 5, srcs: []string{"a|<a>", "b|<b:1>", "c|<c:1>", "d|<d:1>", "e|<e:1>"},
			op: "copy", lazy: "00000", filter: "00000", maint: "push", comp: intp(0),
			slots: "a:5 b:1 c:1 d:1 e:1"},
	},
	{
		text: "t|<a:1><b:1><c:1><d:1><e:1><f:1> = x|<a><b><c><d><e><f>",
		orig: want{err: "too many slots in join pattern, max 5"},
		def: &want{nsrc: 1, op: "copy", slots: "a:1 b:1 c:1 d:1 e:1 f:1", sinkLen: 8,
			comp: intp(0)},
	},
	{text: "t|<a:5> = t|<a>", orig: want{err: "table ‘t’ used as both source and sink"}},
	{text: "t|<a:5><b:5> = a|<a>", orig: want{err: "slot ‘b’ in sink not defined by sources"}},
	{text: "t|<a:5> = abc", orig: want{err: "key ‘abc’ lacks table name"}},
	{text: "t|<a:5> = a|<a", orig: want{err: "unterminated slot in ‘a|<a’"}},
	{text: "t|<a-b:5> = a|<a-b>", orig: want{err: "name of slot should contain only letters and underscores in ‘"}},
	{text: "t|<> = a|<>", orig: want{err: "syntax error in slot in ‘"}},
	{text: "t|<a:x> = a|<a>", orig: want{err: "syntax error in slot in ‘t|<a:x>’"}},
	{
		text: "t|<a:5> = aaaaaaaaaaaa|<a>",
		orig: want{err: "pattern ‘aaaaaaaaaaaa|<a>’ too long, max 12 chars"},
		def:  &want{nsrc: 1, op: "copy", slots: "a:5", sinkLen: 7},
	},
	{text: "t|<a:100><b:100> = a|<a><b>", orig: want{err: "too long, max 128 chars"}},
	{text: "t|<a:5> = a|<a> where a:5 where b:3", orig: want{err: "syntax error near ‘where’"}},
	{text: "t|<a:5> = a|<a> where", orig: want{err: "syntax error near ‘where’"}},
	{
		text: "t|<a:5> = pull a|<a> push",
		orig: want{nsrc: 1, srcs: []string{"a|<a>"}, op: "copy", maint: "push", lazy: "0", filter: "0", slots: "a:5"},
	},
	{text: "t|<a5> = a|<a5>", orig: want{nsrc: 1, slots: "a:5", sinkLen: 7}},
	{
		text: "t|<a:5t> = copy a|<a> and using b|<a>",
		orig: want{nsrc: 2, srcs: []string{"b|<a>", "a|<a>"}, op: "copy", lazy: "10", filter: "00",
			maint: "push", slots: "a:5t", comp: intp(0)},
	},
	{
		text: "t|<a:5> = filter using a|<a> copy b|<a>",
		orig: want{nsrc: 2, srcs: []string{"a|<a>", "b|<a>"}, op: "copy", lazy: "00", filter: "10"},
	},
	{text: "t|<a:5sd> = a|<a>", orig: want{nsrc: 1, slots: "a:5d"}},
	{text: "t|<a:5x> = a|<a>", orig: want{err: "name of slot should contain only letters and underscores in ‘t|<a:5x>’"}},
	{
		text: "t|<a:5> = using lazy a|<a>, b|<a> copy c|<a>",
		orig: want{nsrc: 3, srcs: []string{"a|<a>", "b|<a>", "c|<a>"}, op: "copy", lazy: "100", filter: "000"},
	},
	{
		text: "t|<a:5> = using a|<a> using eager b|<a> filter c|<a> copy d|<a>",
		orig: want{nsrc: 4, srcs: []string{"a|<a>", "b|<a>", "c|<a>", "d|<a>"}, op: "copy",
			lazy: "1000", filter: "0010", maint: "push"},
	},
	{
		text: "t|<a:5> = a|<a> b|<a>",
		orig: want{nsrc: 2, srcs: []string{"a|<a>", "b|<a>"}, op: "copy", lazy: "00", filter: "00", comp: intp(0)},
	},
	{text: "t|x = pull", orig: want{err: "no elements in join pattern, min 2"}},
	{text: "t|<a:300> = a|<a>", orig: want{err: "‘a’"}},
}

// TestSpecParseOutcomesOriginal runs the §2.8 table under OriginalLimits.
func TestSpecParseOutcomesOriginal(t *testing.T) {
	for _, r := range spec28 {
		t.Run(r.text, func(t *testing.T) { checkParse(t, r.text, OriginalLimits(), r.orig) })
	}
}

// TestSpecParseOutcomesDefault runs the §2.8 table under DefaultLimits (what
// Parse uses); rows whose error is a size limit have a DefaultLimits outcome.
func TestSpecParseOutcomesDefault(t *testing.T) {
	for _, r := range spec28 {
		w := r.orig
		if r.def != nil {
			w = *r.def
		}
		t.Run(r.text, func(t *testing.T) {
			checkParse(t, r.text, DefaultLimits(), w)
			// Parse is ParseWithLimits(DefaultLimits()).
			j1, err1 := Parse(r.text)
			j2, err2 := ParseWithLimits(r.text, DefaultLimits())
			if (err1 == nil) != (err2 == nil) || (err1 != nil && err1.Error() != err2.Error()) ||
				(j1 != nil && j1.String() != j2.String()) {
				t.Errorf("Parse and ParseWithLimits(DefaultLimits()) disagree: %v / %v", err1, err2)
			}
		})
	}
}

func TestLimitValues(t *testing.T) {
	if got := OriginalLimits(); got != (Limits{MaxSlots: 5, MaxPatterns: 5, MaxPatternLen: 12, MaxKeyLen: 128}) {
		t.Errorf("OriginalLimits() = %+v", got)
	}
	if got := DefaultLimits(); got != (Limits{MaxSlots: 16, MaxPatterns: 9, MaxPatternLen: 128, MaxKeyLen: 128}) {
		t.Errorf("DefaultLimits() = %+v", got)
	}
}

// slotSeq returns "<a:1><b:1>..." for the first n lowercase letters as slot
// names, and "<a><b>..." as references.
func slotSeq(n int) (defs, refs string) {
	for i := 0; i < n; i++ {
		c := string(rune('a' + i))
		defs += "<" + c + ":1>"
		refs += "<" + c + ">"
	}
	return defs, refs
}

// sourcesSeq returns n bare sources "a|<a> b|<a> ...".
func sourcesSeq(n int) string {
	var parts []string
	for i := 0; i < n; i++ {
		parts = append(parts, string(rune('a'+i))+"|<a>")
	}
	return strings.Join(parts, " ")
}

// TestSizeLimitsDefault builds the inputs that trip E-TOOMANY, E-SLOTS and
// E-KEYLEN under DefaultLimits, and the largest ones that still pass.
func TestSizeLimitsDefault(t *testing.T) {
	def := DefaultLimits()
	// 9 patterns (8 sources) pass, 10 fail.
	checkParse(t, "t|<a:1> = "+sourcesSeq(8), def, want{nsrc: 8, op: "copy", lazy: "00000000"})
	checkParse(t, "t|<a:1> = "+sourcesSeq(9), def, want{err: "too many elements in join pattern, max 9"})
	checkParse(t, "t|<a:1> = using "+sourcesSeq(8)+" count z|<a>", def, want{err: "too many elements in join pattern, max 9"})
	// 16 slots pass, 17 fail.
	d16, r16 := slotSeq(16)
	checkParse(t, "t|"+d16+" = x|"+r16, def, want{nsrc: 1, sinkLen: 18})
	d17, r17 := slotSeq(17)
	checkParse(t, "t|"+d17+" = x|"+r17, def, want{err: "too many slots in join pattern, max 16"})
	// A 17th slot defined only in a where clause still counts (§2.4: slot
	// identity spans the with/where list).
	checkParse(t, "t|"+d16+" = x|"+r16+" where q:1", def, want{err: "too many slots in join pattern, max 16"})
	// 5 / 6 under the original limits, the same way.
	d5, r5 := slotSeq(5)
	checkParse(t, "t|"+d5+" = x|"+r5, OriginalLimits(), want{nsrc: 1})
	checkParse(t, "t|"+d5+" = x|"+r5+" where f:1", OriginalLimits(), want{err: "too many slots in join pattern, max 5"})
	checkParse(t, "t|<a:5> = a|<a> b|<a> c|<a> d|<a>", OriginalLimits(), want{nsrc: 4})

	// E-PATLEN cannot be the only error under DefaultLimits: the encoded
	// length never exceeds the key length, which is capped at 128 too. A key
	// of 130 bytes from a 126-char pattern gives E-KEYLEN alone.
	long := strings.Repeat("a", 124) + "|<a>"
	checkParse(t, "t|<a:5> = "+long, def, want{err: "key in pattern ‘" + long + "’ too long, max 128 chars"})
	_, err := Parse("t|<a:5> = " + long)
	for _, m := range parseMessages(t, long, err) {
		if strings.HasPrefix(m, "pattern ") {
			t.Errorf("encoded length 126 reported as too long: %q", m)
		}
	}
	// Encoded length 129: E-KEYLEN is among the errors.
	longer := strings.Repeat("a", 127) + "|<a>"
	checkParse(t, "t|<a:5> = "+longer, def, want{err: "key in pattern ‘" + longer + "’ too long, max 128 chars"})
	// Exactly 128 bytes is fine; 129 is not.
	checkParse(t, "t|<a:126> = a|<a>", def, want{nsrc: 1, sinkLen: 128})
	checkParse(t, "t|<a:127> = a|<a>", def, want{err: "key in pattern ‘t|<a:127>’ too long, max 128 chars"})
	checkParse(t, "t|<a:5> = "+strings.Repeat("b", 121)+"|<a>", def, want{nsrc: 1})
	// Under the original limits 12 encoded chars pass, 13 fail.
	checkParse(t, "t|<a:5> = "+strings.Repeat("a", 10)+"|<a>", OriginalLimits(), want{nsrc: 1})
	checkParse(t, "t|<a:5> = aaaaaaaaaaaa|<a>", OriginalLimits(), want{err: "too long, max 12 chars"})
	checkParse(t, "t|<a:1> = a|<a><a><a><a><a><a><a><a><a><a><a>", OriginalLimits(), want{err: "too long, max 12 chars"})
	checkParse(t, "t|<a:1> = a|<a><a><a><a><a><a><a><a><a><a>", OriginalLimits(), want{nsrc: 1})
}

// TestSlotLengthRange checks §2.4's "SHOULD reject lengths outside 1..128"
// (original defect D9: <a:300> was taken as 44).
func TestSlotLengthRange(t *testing.T) {
	for _, lim := range []Limits{OriginalLimits(), DefaultLimits()} {
		for _, text := range []string{
			"t|<a:300> = a|<a>",
			"t|<a:256> = a|<a>",
			"t|<a:129> = a|<a>",
			"t|<a:5> = a|<a> where b:300",
			"t|<a:99999999999999999999999> = a|<a>",
			"t|<a:5> = a|<a> b|<:300>",
		} {
			j, err := ParseWithLimits(text, lim)
			if err == nil {
				t.Errorf("%q: accepted (slots %s)", text, slotString(j))
				continue
			}
			parseMessages(t, text, err)
		}
	}
	// Length 0 is "not given a length" (§2.4).
	checkParse(t, "t|<a:0> = a|<a>", DefaultLimits(), want{err: "slot ‘a’ was not given a length"})
	checkParse(t, "t|<a:0> = a|<a:5>", DefaultLimits(), want{nsrc: 1, slots: "a:5"})
	checkParse(t, "t|<a:005> = a|<a>", DefaultLimits(), want{nsrc: 1, slots: "a:5"})
}

// moreRows are further cases read off the prose of §2.1–§2.6.
var moreRows = []row{
	// §2.1: commas and any C isspace separate words; runs collapse.
	{text: "t|<a:5>,=,a|<a>", orig: want{nsrc: 1, srcs: []string{"a|<a>"}}},
	{text: "t|<a:5>\t=\n\v\f\r a|<a> ,, b|<a>", orig: want{nsrc: 2, srcs: []string{"a|<a>", "b|<a>"}}},
	{text: "  t|<a:5>   =   a|<a>  ", orig: want{nsrc: 1}},
	{text: "t|<a:5>=a|<a>", orig: want{err: "syntax error: expected ‘SINK = SOURCES’"}},
	{text: "", orig: want{err: "syntax error: expected ‘SINK = SOURCES’"}},
	{text: "t|<a:5> == a|<a>", orig: want{err: "syntax error: expected ‘SINK = SOURCES’"}},
	// Keywords are case-sensitive whole words: COPY is a (bad) pattern.
	{text: "t|<a:5> = COPY a|<a>", orig: want{err: "key ‘COPY’ lacks table name"}},
	{text: "t|<a:5> = a|<a> = b|<a>", orig: want{err: "key ‘=’ lacks table name"}},
	{text: "t|<a:5> = copyx|<a>", orig: want{nsrc: 1, srcs: []string{"copyx|<a>"}}},
	// §2.3 step 2/3: using/filter combinations.
	{text: "t|<a:5> = using filter a|<a> copy b|<a>", orig: want{nsrc: 2, lazy: "00", filter: "10"}},
	{text: "t|<a:5> = filter using using a|<a> copy b|<a>", orig: want{nsrc: 2, lazy: "00", filter: "10"}},
	{text: "t|<a:5> = using lazy filter a|<a> copy b|<a>", orig: want{nsrc: 2, lazy: "00", filter: "10"}},
	{text: "t|<a:5> = using filter lazy a|<a> copy b|<a>", orig: want{err: "syntax error near ‘lazy’: 'eager' and 'lazy'"}},
	{text: "t|<a:5> = filter filter a|<a> copy b|<a>", orig: want{err: "syntax error near ‘filter’"}},
	{text: "t|<a:5> = filter a|<a>", orig: want{err: "lacks source key"}},
	{text: "t|<a:5> = using eager lazy a|<a> copy b|<a>", orig: want{nsrc: 2, lazy: "10"}},
	{text: "t|<a:5> = using lazy eager a|<a> copy b|<a>", orig: want{nsrc: 2, lazy: "00"}},
	{text: "t|<a:5> = using eager a|<a> b|<a> copy c|<a>", orig: want{nsrc: 3, lazy: "000"}},
	{text: "t|<a:5> = using a|<a> lazy b|<a> copy c|<a>", orig: want{err: "syntax error near ‘lazy’: 'eager' and 'lazy'"}},
	{text: "t|<a:5> = copy a|<a> eager", orig: want{err: "syntax error near ‘eager’: 'eager' and 'lazy'"}},
	// §2.3 step 5: pull/push anywhere, last wins.
	{text: "t|<a:5> = using pull a|<a> copy b|<a>", orig: want{nsrc: 2, lazy: "10", maint: "pull"}},
	{text: "t|<a:5> = using pull lazy a|<a> copy push b|<a> pull", orig: want{nsrc: 2, lazy: "10", maint: "pull"}},
	{text: "t|<a:5> = a|<a> where a:5 pull", orig: want{nsrc: 1, maint: "pull"}},
	{text: "t|<a:5> = copy pull a|<a>", orig: want{nsrc: 1, maint: "pull"}},
	{text: "t|<a:5> = a|<a> push", orig: want{nsrc: 1, maint: "push"}},
	// §2.3 step 10 and the end-of-input check.
	{text: "t|<a:5> = count min a|<a>", orig: want{err: "syntax error near ‘min’"}},
	{text: "t|<a:5> = using using a|<a>", orig: want{err: "syntax error near ‘using’"}},
	{text: "t|<a:5> = copy filter a|<a>", orig: want{err: "syntax error near ‘filter’"}},
	{text: "t|<a:5> = a|<a> where a:5 copy b|<a>", orig: want{err: "syntax error near ‘copy’"}},
	{text: "t|<a:5> = a|<a> where where a:5", orig: want{err: "syntax error near ‘where’"}},
	{text: "t|<a:5> = a|<a> with a:5 with b:5", orig: want{err: "syntax error near ‘with’"}},
	{text: "t|<a:5> = copy a|<a> using", orig: want{err: "syntax error near ‘using’"}},
	{text: "t|<a:5> = copy a|<a> filter", orig: want{err: "syntax error near ‘filter’"}},
	{text: "t|<a:5> = a|<a> copy", orig: want{err: "syntax error near ‘copy’"}},
	{text: "t|<a:5> = copy pull", orig: want{err: "syntax error near ‘pull’"}},
	{text: "t|<a:5> = using a|<a> copy b|<a> using and", orig: want{err: "syntax error near ‘and’"}},
	{text: "t|<a:5> = a|<a> where a:5 eager", orig: want{err: "'eager' and 'lazy' designations only allowed"}},
	// Bare pattern after slot definitions is a slot definition (E-SLOTNAME).
	{text: "t|<a:5> = a|<a> where a:5 b|<a>", orig: want{err: "name of slot should contain only letters and underscores in ‘b|<a>’"}},
	{text: "t|<a:5> = a|<a> where :5", orig: want{err: "syntax error in slot in ‘:5’"}},
	{text: "t|<a:5> = a|<a> where 5", orig: want{err: "syntax error in slot in ‘5’"}},
	{text: "t|<a:5> = a|<a> where a:", orig: want{err: "syntax error in slot in ‘a:’"}},
	// No source at all (D9).
	{text: "t|<a:5> = pull push and", orig: want{err: "no elements in join pattern, min 2"}},
	{text: "t|<a:5> = where a:5", orig: want{err: "no elements in join pattern, min 2"}},
	// §2.4 slot grammar.
	{text: "t|<time10> = a|<time>", orig: want{nsrc: 1, slots: "time:10"}},
	{text: "t|<a_B:5> = a|<a_B>", orig: want{nsrc: 1, slots: "a_B:5"}},
	{text: "t|<_:5> = a|<_>", orig: want{nsrc: 1, slots: "_:5"}},
	{text: "t|<a:5snt> = a|<a:5s>", orig: want{nsrc: 1, slots: "a:5nt"}},
	{text: "t|<a:5> = a|<at>", orig: want{err: "slot ‘at’ was not given a length"}},
	{text: "t|<a:5> = a|<a:5:5>", orig: want{err: "name of slot should contain only letters and underscores"}},
	{text: "t|<a:5> = a|<a1b>", orig: want{err: "name of slot should contain only letters and underscores"}},
	{text: "t|<a:5> = a|<:>", orig: want{err: "syntax error in slot in ‘a|<:>’"}},
	{text: "t|<a:5> = a|<a><", orig: want{err: "unterminated slot in ‘a|<a><’"}},
	{text: "t|<a:5> = a|<a>>", orig: want{nsrc: 1, slots: "a:5"}},
	{text: "t|<a:5 = a|<a>", orig: want{err: "unterminated slot in ‘t|<a:5’"}},
	// Anonymous slots: each occurrence is new; in the sink never defined.
	{text: "t|<:5> = a|<:5>", orig: want{err: "slot ‘.anon2’ in sink not defined by sources"}},
	{text: "t|<5> = a|<5>", orig: want{err: "slot ‘.anon2’ in sink not defined by sources"}},
	{text: "t|<a:5> = a|<a><:3><2>", orig: want{nsrc: 1, slots: "a:5 .anon2:3 .anon3:2"}},
	{text: "t|<a:5> = a|<:3><a>", orig: want{nsrc: 1, slots: ".anon1:3 a:5"}},
	{text: "t|<a:5> = a|<a><:0>", orig: want{err: "slot ‘.anon2’ was not given a length"}},
	// E-INCONS: NEW vs OLD in parse order = sources in evaluation order,
	// then the sink, then with/where.
	{text: "t|<a:5> = a|<a> where a:6", orig: want{err: "slot ‘a’ has inconsistent lengths (6 vs. 5)"}},
	{text: "t|<a:5> = copy c|<a:6> using b|<a:7>", orig: want{err: "slot ‘a’ has inconsistent lengths (6 vs. 7)"}},
	{text: "t|<a:5> = copy c|<a:6> using b|<a:7>", orig: want{err: "slot ‘a’ has inconsistent lengths (5 vs. 7)"}},
	{text: "t|<a:5> = a|<a:5> where a:5", orig: want{nsrc: 1, slots: "a:5"}},
	// E-NOTABLE: a '<' is enough; table names for E-SELF.
	{text: "t|<a:5> = k<a>", orig: want{nsrc: 1, srcs: []string{"k<a>"}}},
	{text: "t<a:5> = k<a>", orig: want{err: "table ‘’ used as both source and sink"}},
	{text: "<a:5>|t = <a>|k", orig: want{err: "table ‘’ used as both source and sink"}},
	{text: "t|<a:5> = <a>|t", orig: want{nsrc: 1}},
	{text: "t|<a:5> = a|<a> t|<a> b|<a>", orig: want{err: "table ‘t’ used as both source and sink"}},
	{text: "t|<a:5> = tt|<a>", orig: want{nsrc: 1}},
	{text: "t|<a:5> = abc def|<a>", orig: want{err: "key ‘abc’ lacks table name"}},
	{text: "abc = a|<a:5>", orig: want{err: "key ‘abc’ lacks table name"}},
	// E-SINKSLOT: one message per missing slot.
	{text: "t|<a:5><b:5><c:5> = a|<a>", orig: want{err: "slot ‘c’ in sink not defined by sources"}},
	// Free variables and with/where-only slots are allowed.
	{text: "t|<a:5> = a|<a>|<v:3> where w:2", orig: want{nsrc: 1, slots: "a:5 v:3 w:2"}},
	// Sink without slots.
	{text: "t|x = a|<a:1>", orig: want{nsrc: 1, comp: intp(0), sinkLen: 3}},
	// §10 A2: one table may feed two sources.
	{text: "k|<y:1> = count b|<y> b|<y>", orig: want{nsrc: 2, srcs: []string{"b|<y>", "b|<y>"}, op: "count", lazy: "00"}},
	{text: "k|<a:1><c:1> = using b|<a>|<b:1> copy b|<b>|<c:1>", orig: want{nsrc: 2, lazy: "10", comp: intp(1)}},
	// §3.1 count example.
	{
		text: "k|<u:1> = count v|<x:1> using a|<u>|<y:1>, b|<y>|<x>",
		orig: want{nsrc: 3, srcs: []string{"a|<u>|<y:1>", "b|<y>|<x>", "v|<x:1>"}, op: "count",
			lazy: "100", filter: "000", slots: "u:1 y:1 x:1", comp: intp(0)},
	},
	// Every operator keyword.
	{text: "t|<a:5> = min a|<a>", orig: want{nsrc: 1, op: "min"}},
	{text: "t|<a:5> = max a|<a>", orig: want{nsrc: 1, op: "max"}},
	{text: "t|<a:5> = count a|<a>", orig: want{nsrc: 1, op: "count"}},
	{text: "t|<a:5> = sum a|<a>", orig: want{nsrc: 1, op: "sum"}},
	{text: "t|<a:5> = copy a|<a>", orig: want{nsrc: 1, op: "copy"}},
	// Non-ASCII literal bytes (§2.4: SHOULD accept any literal byte).
	{text: "t|\xff\x80<a:5> = a\xc3\xa9|<a>", orig: want{nsrc: 1, sinkLen: 9}},
}

func TestParseGrammarCases(t *testing.T) {
	for _, r := range moreRows {
		t.Run(r.text, func(t *testing.T) {
			checkParse(t, r.text, OriginalLimits(), r.orig)
			w := r.orig
			if r.def != nil {
				w = *r.def
			}
			checkParse(t, r.text, DefaultLimits(), w)
		})
	}
}

// TestTooManySlotsReportedOnce: E-SLOTS is one error ("More than 5 distinct
// slots → E-SLOTS"), but the package repeats it for every later occurrence
// of the first slot over the limit (here f occurs in the source and the sink).
func TestTooManySlotsReportedOnce(t *testing.T) {
	for _, c := range []struct {
		text string
		lim  Limits
		msg  string
	}{
		{"t|<a:1><b:1><c:1><d:1><e:1><f:1> = x|<a><b><c><d><e><f>", OriginalLimits(), "too many slots in join pattern, max 5"},
		{"t|<a:1><b:1><c:1><d:1><e:1><f:1> = x|<a><b><c><d><e><f> where f:1", OriginalLimits(), "too many slots in join pattern, max 5"},
		{"t|<a:1><b:1><c:1><d:1><e:1><f:1><g:1> = x|<a><b><c><d><e><f><g>", OriginalLimits(), "too many slots in join pattern, max 5"},
	} {
		_, err := ParseWithLimits(c.text, c.lim)
		if err == nil {
			t.Errorf("%q: accepted", c.text)
			continue
		}
		if msgs := parseMessages(t, c.text, err); len(msgs) != 1 || msgs[0] != c.msg {
			t.Errorf("%q: messages %q, want exactly [%q]", c.text, msgs, c.msg)
		}
	}
}

func TestSinkSlotOneMessageEach(t *testing.T) {
	text := "t|<a:5><b:5><c:5> = a|<a>"
	_, err := Parse(text)
	msgs := parseMessages(t, text, err)
	want := []string{
		"slot ‘b’ in sink not defined by sources",
		"slot ‘c’ in sink not defined by sources",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages %q, want %q", msgs, want)
	}
}

// TestExactMessages pins the full wording of a few templates (§2.2–§2.6).
func TestExactMessages(t *testing.T) {
	for text, msg := range map[string]string{
		"t|<a:5> a|<a>":                     "syntax error: expected ‘SINK = SOURCES’",
		"t|<a:5> = copy":                    "syntax error near ‘copy’",
		"t|<a:5> = using a|<a>":             "join pattern ‘t|<a:5> = using a|<a>’ lacks source key",
		"t|<a:5> = copy a|<a> sum b|<a>":    "syntax error near ‘b|<a>’: transformation already defined",
		"t|<a:5> = eager a|<a>":             "syntax error near ‘eager’: 'eager' and 'lazy' designations only allowed on 'using' operator",
		"t|<a> = a|<a>":                     "slot ‘a’ was not given a length",
		"t|<a:5> = a|<a:6>":                 "slot ‘a’ has inconsistent lengths (5 vs. 6)",
		"t|<a:5> = t|<a>":                   "table ‘t’ used as both source and sink",
		"t|<a:5><b:5> = a|<a>":              "slot ‘b’ in sink not defined by sources",
		"t|<a:5> = abc":                     "key ‘abc’ lacks table name",
		"t|<a:5> = a|<a":                    "unterminated slot in ‘a|<a’",
		"t|<a:x> = a|<a>":                   "syntax error in slot in ‘t|<a:x>’",
		"t|x = pull":                        "no elements in join pattern, min 2",
		"t|<a:5> = a|<a> where a:5 where b": "syntax error near ‘where’",
	} {
		_, err := ParseWithLimits(text, OriginalLimits())
		if err == nil {
			t.Errorf("%q: accepted", text)
			continue
		}
		if msgs := parseMessages(t, text, err); len(msgs) != 1 || msgs[0] != msg {
			t.Errorf("%q: messages %q, want exactly %q", text, msgs, msg)
		}
	}
	for text, msg := range map[string]string{
		"t|<a:5> = aaaaaaaaaaaa|<a>":                      "pattern ‘aaaaaaaaaaaa|<a>’ too long, max 12 chars",
		"t|<a:5> = a|<a> b|<b:1> c|<c:1> d|<d:1> e|<e:1>": "too many elements in join pattern, max 5",
	} {
		_, err := ParseWithLimits(text, OriginalLimits())
		if err == nil {
			t.Errorf("%q: accepted", text)
			continue
		}
		if msgs := parseMessages(t, text, err); len(msgs) != 1 || msgs[0] != msg {
			t.Errorf("%q: messages %q, want exactly %q", text, msgs, msg)
		}
	}
	// Errors in several patterns are all reported.
	for text, want := range map[string][]string{
		"t|<a-b:5> = a|<a-b>": {
			"name of slot should contain only letters and underscores in ‘a|<a-b>’",
			"name of slot should contain only letters and underscores in ‘t|<a-b:5>’",
		},
		"t|<a:5> = abc def": {"key ‘abc’ lacks table name", "key ‘def’ lacks table name"},
	} {
		_, err := ParseWithLimits(text, OriginalLimits())
		if err == nil {
			t.Errorf("%q: accepted", text)
			continue
		}
		if msgs := parseMessages(t, text, err); strings.Join(msgs, "\n") != strings.Join(want, "\n") {
			t.Errorf("%q: messages %q, want %q", text, msgs, want)
		}
	}
	// E-KEYLEN: both the sink and the source are too long.
	text := "t|<a:100><b:100> = a|<a><b>"
	_, err := ParseWithLimits(text, OriginalLimits())
	msgs := parseMessages(t, text, err)
	for _, m := range []string{
		"key in pattern ‘t|<a:100><b:100>’ too long, max 128 chars",
		"key in pattern ‘a|<a><b>’ too long, max 128 chars",
	} {
		if !strings.Contains(strings.Join(msgs, "\n"), m) {
			t.Errorf("%q: messages %q lack %q", text, msgs, m)
		}
	}
}

// sec8 lists every join text of spec §8 with the structure it must parse to.
var sec8 = []struct {
	sec  string
	text string
	w    want
}{
	{"8.1", "t|<subscriber:5>|<time:10>|<poster:5> = using f|<subscriber>|<poster> copy p|<poster>|<time>",
		want{nsrc: 2, srcs: []string{"f|<subscriber>|<poster>", "p|<poster>|<time>"}, op: "copy", lazy: "10", filter: "00",
			maint: "push", comp: intp(1), slots: "subscriber:5 poster:5 time:10", sinkLen: 24}},
	{"8.2", "t|<subscriber:5>|<time:10>|<poster:5> = using s|<subscriber>|<poster> copy p|<poster>|<time>",
		want{nsrc: 2, srcs: []string{"s|<subscriber>|<poster>", "p|<poster>|<time>"}, op: "copy", lazy: "10",
			maint: "push", comp: intp(1), slots: "subscriber:5 poster:5 time:10", sinkLen: 24}},
	{"8.3 J1", "t|<u>|<t>|<p> = using filter cs|<u>|<p> pull copy ct|<t>|<p> where u:5, p:5, t:10",
		want{nsrc: 2, srcs: []string{"cs|<u>|<p>", "ct|<t>|<p>"}, op: "copy", lazy: "00", filter: "10",
			maint: "pull", comp: intp(1), slots: "u:5 p:5 t:10", sinkLen: 24}},
	{"8.3 J2", "ct|<t>|<p> = copy cp|<p>|<t> where p:5, t:10",
		want{nsrc: 1, srcs: []string{"cp|<p>|<t>"}, op: "copy", lazy: "0", filter: "0", maint: "push",
			comp: intp(0), slots: "p:5 t:10", sinkLen: 19}},
	{"8.3 J3", "cs|<u>|<p> = using filter celeb|<p> copy s|<u>|<p> where u:5, p:5",
		want{nsrc: 2, srcs: []string{"celeb|<p>", "s|<u>|<p>"}, op: "copy", lazy: "00", filter: "10",
			maint: "push", comp: intp(1), slots: "p:5 u:5", sinkLen: 14}},
	{"8.4 A", "t|<subscriber:5>|<time:10>|<poster:5> = using f|<subscriber>|<poster> copy p|<poster>|<time>",
		want{nsrc: 2, lazy: "10", sinkLen: 24}},
	{"8.4 B", "t|<subscriber:5><time:10><poster:5> = using s|<subscriber>|<poster> copy p|<poster>|<time>",
		want{nsrc: 2, srcs: []string{"s|<subscriber>|<poster>", "p|<poster>|<time>"}, lazy: "10", comp: intp(1),
			slots: "subscriber:5 poster:5 time:10", sinkLen: 22}},
	{"8.5 J1", "c|<a_id:5>|<time:10>|<b_id:5> = using a|<a_id>|<b_id> copy b|<b_id>|<time>",
		want{nsrc: 2, srcs: []string{"a|<a_id>|<b_id>", "b|<b_id>|<time>"}, op: "copy", lazy: "10",
			comp: intp(1), slots: "a_id:5 b_id:5 time:10", sinkLen: 24}},
	{"8.5 J2", "e|<d_id:5>|<time:10>|<b_id:5> = using d|<d_id>|<a_id:5> copy c|<a_id>|<time>|<b_id>",
		want{nsrc: 2, srcs: []string{"d|<d_id>|<a_id:5>", "c|<a_id>|<time>|<b_id>"}, op: "copy", lazy: "10",
			comp: intp(1), slots: "d_id:5 a_id:5 time:10 b_id:5", sinkLen: 24}},
	{"8.6 J1", "c|<a_id:5>|<time>|<b_id> = copy b|<b_id:5>|<time:10d> using a|<a_id:5>|<b_id>",
		want{nsrc: 2, srcs: []string{"a|<a_id:5>|<b_id>", "b|<b_id:5>|<time:10d>"}, op: "copy", lazy: "10",
			comp: intp(1), slots: "a_id:5 b_id:5 time:10d", sinkLen: 24}},
	{"8.6 J2", "e|<d_id:5>|<time:10>|<b_id:5> = using d|<d_id>|<a_id:5> copy c|<a_id>|<time>|<b_id>",
		want{nsrc: 2, lazy: "10", comp: intp(1)}},
	{"8.7 J1", "c|<a_id>|<time>|<b_id> = using a|<a_id>|<b_id> copy b|<b_id>|<time> pull where a_id:5d, time:10d, b_id:5d",
		want{nsrc: 2, srcs: []string{"a|<a_id>|<b_id>", "b|<b_id>|<time>"}, op: "copy", lazy: "10",
			maint: "pull", comp: intp(1), slots: "a_id:5d b_id:5d time:10d", sinkLen: 24}},
	{"8.7 J2", "f|<d_id:5>|<time:10>|<e_id:5> = using d|<d_id>|<e_id> copy e|<e_id>|<time>",
		want{nsrc: 2, srcs: []string{"d|<d_id>|<e_id>", "e|<e_id>|<time>"}, lazy: "10", maint: "push",
			comp: intp(1), slots: "d_id:5 e_id:5 time:10"}},
	{"8.8 X", "X|<a_id>|<time>|<b_id> = using a|<a_id>|<b_id> copy b|<b_id>|<time> with a_id:5, b_id:5, time:10",
		want{nsrc: 2, lazy: "10", filter: "00", maint: "push", slots: "a_id:5 b_id:5 time:10", sinkLen: 24}},
	{"8.8 Y", "Y|<a_id>|<time>|<b_id> = using eager a|<a_id>|<b_id> copy b|<b_id>|<time> with a_id:5, b_id:5, time:10",
		want{nsrc: 2, lazy: "00", filter: "00", maint: "push", slots: "a_id:5 b_id:5 time:10", sinkLen: 24}},
	{"8.9", "c|<a_id:5>|<b_id:5>|<index:5> = using a|<a_id>|<b_id> copy b|<index>|<b_id>",
		want{nsrc: 2, srcs: []string{"a|<a_id>|<b_id>", "b|<index>|<b_id>"}, op: "copy", lazy: "10",
			comp: intp(1), slots: "a_id:5 b_id:5 index:5", sinkLen: 19}},
	{"8.10", "k|<uid> = count v|<aid>|<voter> using a|<uid>|<aid>  where aid:5d, uid:5d, voter:5d",
		want{nsrc: 2, srcs: []string{"a|<uid>|<aid>", "v|<aid>|<voter>"}, op: "count", lazy: "10",
			comp: intp(0), slots: "uid:5d aid:5d voter:5d", sinkLen: 7}},
	{"8.11", "k|<uid:5> = using a|<uid>|<aid:5> count v|<aid>|<voter:5>",
		want{nsrc: 2, srcs: []string{"a|<uid>|<aid:5>", "v|<aid>|<voter:5>"}, op: "count", lazy: "10",
			comp: intp(0), slots: "uid:5 aid:5 voter:5", sinkLen: 7}},
	{"8.12", "k|<uid:5> = using a|<uid>|<aid:5> min v|<aid>|<voter:5>",
		want{nsrc: 2, op: "min", lazy: "10", comp: intp(0), slots: "uid:5 aid:5 voter:5"}},
	{"8.13", "k|<uid:5> = using a|<uid>|<aid:5> max v|<aid>|<voter:5>",
		want{nsrc: 2, op: "max", lazy: "10", comp: intp(0), slots: "uid:5 aid:5 voter:5"}},
	{"8.14", "sum|<sid:5> = using a|<sid>|<aid:5> sum b|<aid>|<bid:5>",
		want{nsrc: 2, srcs: []string{"a|<sid>|<aid:5>", "b|<aid>|<bid:5>"}, op: "sum", lazy: "10",
			comp: intp(0), slots: "sid:5 aid:5 bid:5", sinkLen: 9}},
	{"8.15 J1", "t|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster> where user:5t, time:10, poster:5t",
		want{nsrc: 2, srcs: []string{"s|<user>|<poster>", "p|<poster>|<time>"}, op: "copy", lazy: "10",
			comp: intp(1), slots: "user:5t poster:5t time:10", sinkLen: 24}},
	{"8.15 J2", "u|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster> where user:5, time:10, poster:5",
		want{nsrc: 2, srcs: []string{"s|<user>|<poster>", "p|<poster>|<time>"}, op: "copy", lazy: "10",
			comp: intp(1), slots: "user:5 poster:5 time:10", sinkLen: 24}},
	{"8.16", "k|<author> = count v|<chapter>|<voter> using b|<author>|<book>, c|<book>|<chapter> where author:5, chapter:5, book:5, voter:5",
		want{nsrc: 3, srcs: []string{"b|<author>|<book>", "c|<book>|<chapter>", "v|<chapter>|<voter>"}, op: "count",
			lazy: "100", filter: "000", maint: "push", comp: intp(0), slots: "author:5 book:5 chapter:5 voter:5", sinkLen: 7}},
	{"8.17", "k|<author> = count v|<chapter>|<voter> using b|<author>|<book>, c|<book>|<chapter> where author:5, chapter:5t, book:5, voter:5",
		want{nsrc: 3, op: "count", lazy: "100", comp: intp(0), slots: "author:5 book:5 chapter:5t voter:5"}},
	{"8.18", "k|<author> = count v|<chapter>|<voter> using b|<author>|<book>, c|<book>|<chapter> where author:1, chapter:2, book:1, voter:1",
		want{nsrc: 3, op: "count", lazy: "100", comp: intp(0), slots: "author:1 book:1 chapter:2 voter:1", sinkLen: 3}},
	{"8.20 KK", "kk|<author> = copy k|<author> where author:1",
		want{nsrc: 1, srcs: []string{"k|<author>"}, op: "copy", comp: intp(0), slots: "author:1", sinkLen: 4}},
	{"8.20 BB", "bb|<bid> = copy b|<bid> where bid:3",
		want{nsrc: 1, srcs: []string{"b|<bid>"}, op: "copy", comp: intp(0), slots: "bid:3", sinkLen: 6}},
	{"8.21", "k|<uid:5> = using a|<uid>|<aid:5> count v|<aid>|<voter:5>",
		want{nsrc: 2, op: "count", lazy: "10", slots: "uid:5 aid:5 voter:5"}},
	{"8.23 J1", "k|<author:5> = using a|<author:5><seqid:5> count v|<author><seqid>|<voter:5>",
		want{nsrc: 2, srcs: []string{"a|<author:5><seqid:5>", "v|<author><seqid>|<voter:5>"}, op: "count",
			lazy: "10", comp: intp(0), slots: "author:5 seqid:5 voter:5", sinkLen: 7}},
	{"8.23 J2", "ma|<author:5><seqid:5>|k = using a|<author><seqid> copy k|<author>",
		want{nsrc: 2, srcs: []string{"a|<author><seqid>", "k|<author>"}, op: "copy", lazy: "10",
			comp: intp(0), slots: "author:5 seqid:5", sinkLen: 15}},
}

// TestSection8Joins parses every join of spec §8 under both limit sets.
func TestSection8Joins(t *testing.T) {
	for _, c := range sec8 {
		t.Run(c.sec, func(t *testing.T) {
			checkParse(t, c.text, OriginalLimits(), c.w)
			checkParse(t, c.text, DefaultLimits(), c.w)
		})
	}
}

// TestSection8Layout checks segment offsets for test_simple's join (§8.1)
// and the undelimited sink of §8.4 join B.
func TestSection8Layout(t *testing.T) {
	j := mustParse(t, sec8[0].text)
	type seg struct {
		lit  string
		slot string
		off  int
		w    int
	}
	dump := func(p *Pattern) []seg {
		var out []seg
		for _, s := range p.Segs {
			g := seg{lit: s.Lit, off: s.Off, w: s.Width}
			if s.Slot >= 0 {
				g.slot = j.Slots[s.Slot].Name
			}
			out = append(out, g)
		}
		return out
	}
	wantSink := []seg{{"t|", "", 0, 2}, {"", "subscriber", 2, 5}, {"|", "", 7, 1}, {"", "time", 8, 10}, {"|", "", 18, 1}, {"", "poster", 19, 5}}
	if got := dump(&j.Sink); fmt.Sprint(got) != fmt.Sprint(wantSink) {
		t.Errorf("sink segments %v, want %v", got, wantSink)
	}
	wantP := []seg{{"p|", "", 0, 2}, {"", "poster", 2, 5}, {"|", "", 7, 1}, {"", "time", 8, 10}}
	if got := dump(&j.Sources[1].Pattern); fmt.Sprint(got) != fmt.Sprint(wantP) {
		t.Errorf("p segments %v, want %v", got, wantP)
	}
	if j.Sink.Table != "t" || j.Sources[0].Table != "f" || j.Sources[1].Table != "p" {
		t.Errorf("tables %q %q %q", j.Sink.Table, j.Sources[0].Table, j.Sources[1].Table)
	}
	if j.Sources[1].SlotOffset(0) != -1 || j.Sources[1].SlotOffset(1) != 2 || j.Sources[1].SlotOffset(2) != 8 {
		t.Errorf("p slot offsets %d %d %d", j.Sources[1].SlotOffset(0), j.Sources[1].SlotOffset(1), j.Sources[1].SlotOffset(2))
	}
	if j.Sources[1].HasSlot(0) || !j.Sources[1].HasSlot(2) || j.Sources[1].HasSlot(99) || j.Sources[1].SlotOffset(99) != -1 {
		t.Error("HasSlot/SlotOffset wrong for p")
	}
	jb := mustParse(t, sec8[6].text)
	wantB := []seg{{"t|", "", 0, 2}, {"", "subscriber", 2, 5}, {"", "time", 7, 10}, {"", "poster", 17, 5}}
	j = jb
	if got := dump(&jb.Sink); fmt.Sprint(got) != fmt.Sprint(wantB) {
		t.Errorf("join B sink segments %v, want %v", got, wantB)
	}
	// NewBinding is sized for the slots.
	if got := len(jb.NewBinding()); got != 3 {
		t.Errorf("NewBinding has %d entries", got)
	}
}

// TestStaleness covers §8.7 J2's set_staleness(0.1) and §3.8's rules.
func TestStaleness(t *testing.T) {
	j := mustParse(t, "f|<d_id:5>|<time:10>|<e_id:5> = using d|<d_id>|<e_id> copy e|<e_id>|<time>")
	if !j.Maintained || j.Staleness != 0 {
		t.Fatalf("fresh join: maintained %v staleness %v", j.Maintained, j.Staleness)
	}
	if err := j.SetStaleness(0); err == nil {
		t.Error("SetStaleness(0) accepted")
	}
	if err := j.SetStaleness(-time.Second); err == nil {
		t.Error("SetStaleness(-1s) accepted")
	}
	if !j.Maintained || j.Staleness != 0 {
		t.Errorf("rejected SetStaleness changed the join: %v %v", j.Maintained, j.Staleness)
	}
	if err := j.SetStaleness(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if j.Maintained || j.Staleness != 100*time.Millisecond {
		t.Errorf("after SetStaleness(0.1s): maintained %v staleness %v", j.Maintained, j.Staleness)
	}
}

func TestOperatorString(t *testing.T) {
	for op, s := range map[Operator]string{Copy: "copy", Min: "min", Max: "max", Count: "count", Sum: "sum", Operator(9): "op(9)", Operator(-1): "op(-1)"} {
		if op.String() != s {
			t.Errorf("Operator(%d).String() = %q, want %q", int(op), op.String(), s)
		}
	}
}

// TestStringCanonical checks the canonical reprint of a few joins.
func TestStringCanonical(t *testing.T) {
	for text, s := range map[string]string{
		sec8[0].text:                              "t|<subscriber:5>|<time:10>|<poster:5> = using f|<subscriber:5>|<poster:5> copy p|<poster:5>|<time:10>",
		"t|<a:5> = a|<a> b|<a>":                   "t|<a:5> = using eager a|<a:5> copy b|<a:5>",
		"t|<a:5sd> = filter x|<a> pull sum a|<a>": "t|<a:5d> = filter x|<a:5d> sum a|<a:5d> pull",
		"t|<a:5t> = a|<a><:3>":                    "t|<a:5t> = copy a|<a:5t><:3>",
	} {
		j := mustParse(t, text)
		if got := j.String(); got != s {
			t.Errorf("%q.String() = %q, want %q", text, got, s)
		}
	}
}

// TestStringKeepsWithOnlySlots: String's doc promises that reparsing gives
// "the same structure, slots and flags". A slot defined only in a with/where
// clause is part of j.Slots (and counts against MaxSlots), but String drops
// it, so the reparsed join has fewer slots.
func TestStringKeepsWithOnlySlots(t *testing.T) {
	text := "t|<a:5> = a|<a> where b:3"
	j := mustParse(t, text)
	j2, err := Parse(j.String())
	if err != nil {
		t.Fatalf("reparse of %q: %v", j.String(), err)
	}
	if slotString(j) != slotString(j2) {
		t.Errorf("%q: slots %q; String() = %q reparses with slots %q", text, slotString(j), j.String(), slotString(j2))
	}
}

func mustParse(t testing.TB, text string) *Join {
	t.Helper()
	j, err := Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return j
}

// refOutcome is an independent model of the §2.3 word-level state machine.
// words are the words after `SINK =`; a source word without '|' or '<' is
// E-NOTABLE, and "a:5" is the only valid slot definition. It returns a description
// comparable with describeOutcome.
func refOutcome(words []string, maxPatterns int) string {
	const (
		none = iota
		operator
		using
		filter
		slotdef
		slotdef1
	)
	type src struct {
		text         string
		lazy, filter bool
	}
	var (
		op         = none
		opName     string
		pendingOp  string
		lazy       bool
		ctx        []src
		value      *src
		maintained = true
		anyOp      bool
		defs       []string
	)
	for _, w := range words {
		newOp, set := none, false
		switch w {
		case "copy", "min", "max", "count", "sum":
			newOp, set = operator, true
		case "using":
			if op == filter {
				continue
			}
			newOp, set = using, true
			lazy = true
		case "filter":
			if op == using {
				op = none
			}
			newOp, set = filter, true
		case "with", "where":
			newOp, set = slotdef, true
		case "pull":
			maintained = false
			continue
		case "push":
			maintained = true
			continue
		case "and":
			continue
		case "eager", "lazy":
			if op != using {
				return "E-EAGER " + w
			}
			lazy = w == "lazy"
			continue
		}
		if set {
			if op != none {
				return "E-NEAR " + w
			}
			op = newOp
			if newOp == operator {
				pendingOp = w
			}
			if newOp != slotdef {
				anyOp = true
			}
			continue
		}
		if op == slotdef || op == slotdef1 {
			defs = append(defs, w)
			op = slotdef1
			continue
		}
		switch op {
		case filter:
			ctx = append(ctx, src{text: w, filter: true})
		case using, none:
			ctx = append(ctx, src{text: w, lazy: lazy})
		case operator:
			if value != nil {
				return "E-TWOOPS " + w
			}
			value = &src{text: w}
			opName = pendingOp
		}
		op, lazy = none, false
	}
	if op != none && op != slotdef1 {
		return "E-NEAR " + words[len(words)-1]
	}
	var srcs []src
	switch {
	case value != nil:
		srcs = append(ctx, *value)
	case anyOp:
		return "E-NOSRC"
	case len(ctx) == 0:
		return "E-NOELEM"
	default:
		srcs = ctx
		srcs[len(srcs)-1].lazy = false
		opName = "copy"
	}
	if 1+len(srcs) > maxPatterns {
		return "E-TOOMANY"
	}
	for _, s := range srcs {
		if !strings.ContainsAny(s.text, "|<") {
			return "E-NOTABLE"
		}
	}
	for _, d := range defs {
		if d != "a:5" {
			return "E-SLOTDEF"
		}
	}
	var texts []string
	var lz, fl strings.Builder
	for _, s := range srcs {
		texts = append(texts, s.text)
		lz.WriteString(map[bool]string{true: "1", false: "0"}[s.lazy])
		fl.WriteString(map[bool]string{true: "1", false: "0"}[s.filter])
	}
	return fmt.Sprintf("OK %s %v lazy=%s filter=%s maintained=%v", opName, texts, lz.String(), fl.String(), maintained)
}

// describeOutcome classifies the package's result like refOutcome.
func describeOutcome(t testing.TB, text string, j *Join, err error) string {
	if err == nil {
		var texts []string
		for _, s := range j.Sources {
			texts = append(texts, s.Text)
		}
		n := len(j.Sources)
		return fmt.Sprintf("OK %s %v lazy=%s filter=%s maintained=%v", j.Op, texts,
			bits(func(i int) bool { return j.Sources[i].Lazy }, n),
			bits(func(i int) bool { return j.Sources[i].Filter }, n), j.Maintained)
	}
	m := parseMessages(t, text, err)[0]
	switch {
	case strings.Contains(m, "'eager' and 'lazy' designations only allowed on 'using' operator"):
		return "E-EAGER " + between(m, "‘", "’")
	case strings.HasSuffix(m, ": transformation already defined"):
		return "E-TWOOPS " + between(m, "‘", "’")
	case strings.HasPrefix(m, "syntax error near ‘") && strings.HasSuffix(m, "’"):
		return "E-NEAR " + between(m, "‘", "’")
	case strings.HasSuffix(m, "lacks source key"):
		return "E-NOSRC"
	case m == "no elements in join pattern, min 2":
		return "E-NOELEM"
	case strings.HasPrefix(m, "too many elements in join pattern"):
		return "E-TOOMANY"
	case strings.HasPrefix(m, "key ‘") && strings.HasSuffix(m, "’ lacks table name"):
		return "E-NOTABLE"
	case strings.HasPrefix(m, "name of slot should contain only letters and underscores in"):
		return "E-SLOTDEF"
	}
	return "unexpected error: " + m
}

func between(s, a, b string) string {
	i := strings.Index(s, a)
	if i < 0 {
		return ""
	}
	s = s[i+len(a):]
	if k := strings.Index(s, b); k >= 0 {
		return s[:k]
	}
	return s
}

// TestGrammarStateMachineExhaustive compares the parser with the reference
// model of §2.3 on every sequence of up to 5 words (4 with -short) drawn
// from the keywords, two patterns and a slot definition, under both limit
// sets.
func TestGrammarStateMachineExhaustive(t *testing.T) {
	tokens := []string{"copy", "count", "using", "filter", "with", "where", "pull", "push", "and",
		"eager", "lazy", "a|<a>", "b|<a>", "a:5"}
	maxLen := 5
	if testing.Short() {
		maxLen = 4
	}
	seq := make([]string, 0, maxLen)
	n, bad := 0, 0
	var rec func()
	rec = func() {
		if len(seq) > 0 {
			text := "t|<a:5> = " + strings.Join(seq, " ")
			for _, lim := range []Limits{OriginalLimits(), DefaultLimits()} {
				n++
				j, err := ParseWithLimits(text, lim)
				got := describeOutcome(t, text, j, err)
				want := refOutcome(seq, lim.MaxPatterns)
				if got != want {
					bad++
					if bad <= 20 {
						t.Errorf("%q (max %d patterns): got %s, want %s", text, lim.MaxPatterns, got, want)
					}
				}
			}
		}
		if len(seq) == maxLen {
			return
		}
		for _, tok := range tokens {
			seq = append(seq, tok)
			rec()
			seq = seq[:len(seq)-1]
		}
	}
	rec()
	if bad > 0 {
		t.Errorf("%d of %d parses differ from the §2.3 model", bad, n)
	}
	t.Logf("%d parses compared", n)
}
