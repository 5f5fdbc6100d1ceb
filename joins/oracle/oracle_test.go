package oracle

import (
	"testing"

	"github.com/pequod-go/pequod/joins"
)

func model(t *testing.T, base map[string]string, js ...[3]string) *Model {
	t.Helper()
	m := &Model{Base: base}
	for _, s := range js {
		j, err := joins.Parse(s[2])
		if err != nil {
			t.Fatalf("parse %q: %v", s[2], err)
		}
		m.Joins = append(m.Joins, Installed{Join: j, First: s[0], Last: s[1]})
	}
	return m
}

func contents(m *Model, table, first, last string) map[string]string {
	out := map[string]string{}
	for _, e := range m.Eval(table, first, last) {
		out[e.Key] = e.Canonical()
	}
	return out
}

func want(t *testing.T, got map[string]string, w map[string]string) {
	t.Helper()
	if len(got) != len(w) {
		t.Errorf("got %d keys %q, want %d %q", len(got), got, len(w), w)
	}
	for k, v := range w {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (all: %q)", k, got[k], v, got)
		}
	}
}

func TestParseInt(t *testing.T) {
	for s, w := range map[string]int64{"": 0, "5": 5, "-3": -3, "12abc": 12, "007": 7, "v9": 0, "+4": 4, "-": 0, " 5": 0, "--1": 0, "-0": 0} {
		if g := ParseInt(s); g != w {
			t.Errorf("ParseInt(%q) = %d, want %d", s, g, w)
		}
	}
}

// §3.1: one value key reached through two context bindings counts twice.
func TestBagSemantics(t *testing.T) {
	m := model(t, map[string]string{"a|u|1": "", "a|u|2": "", "b|1|x": "", "b|2|x": "", "v|x": ""},
		[3]string{"k|", "k}", "k|<u:1> = count v|<x:1> using a|<u>|<y:1>, b|<y>|<x>"})
	want(t, contents(m, "k", "k|", "k}"), map[string]string{"k|u": "2"})
}

// §8.18 test_iupdate2 data.
func TestIupdate2(t *testing.T) {
	base := map[string]string{}
	for _, k := range []string{"b|a|i", "b|b|i", "b|a|j", "c|i|i1", "c|i|i2", "c|i|i3", "c|j|j1", "c|j|j2", "v|i1|x", "v|i1|y", "v|j2|x"} {
		base[k] = ""
	}
	m := model(t, base, [3]string{"k|", "k}", "k|<author> = count v|<chapter>|<voter> using b|<author>|<book>, c|<book>|<chapter> where author:1, chapter:2, book:1, voter:1"})
	want(t, contents(m, "k", "k|", "k}"), map[string]string{"k|a": "3", "k|b": "2"})
	want(t, contents(m, "k", "k|a", "k|a\x00"), map[string]string{"k|a": "3"})
	delete(m.Base, "b|a|i")
	m.Reset()
	want(t, contents(m, "k", "k|", "k}"), map[string]string{"k|a": "1", "k|b": "2"})
}

// §8.2 test_overlap step 1: the range's lower time bound applies only to
// subscriber 00001.
func TestOverlapRange(t *testing.T) {
	base := map[string]string{"s|00001|00002": "1", "s|00001|10000": "1", "s|00003|00002": "1", "s|00003|00004": "1",
		"p|00002|0000000000": "Should not appear", "p|00002|0000000001": "Hello,", "p|00002|0000000022": "Which is awesome",
		"p|10000|0000000010": "My name is", "p|10000|0000000018": "Jennifer Jones",
		"p|10001|0000000011": "Not whatever", "p|10001|0000000019": ", Idiot,"}
	m := model(t, base, [3]string{"t|", "t}", "t|<subscriber:5>|<time:10>|<poster:5> = using s|<subscriber>|<poster> copy p|<poster>|<time>"})
	if n := len(m.Eval("t", "t|00001|0000000001", "t|00003}")); n != 7 {
		t.Errorf("count = %d, want 7", n)
	}
	if n := len(m.Eval("t", "t|00003", "t|00003}")); n != 3 {
		t.Errorf("count t|00003 = %d, want 3", n)
	}
}

// §8.14 test_op_sum final state, and verbatim acceptance.
func TestSum(t *testing.T) {
	base := map[string]string{"a|00000|00000": "", "a|00000|00001": "", "a|00001|00003": "",
		"b|00001|00000": "3", "b|00000|00001": "77", "b|00003|00000": "8"}
	m := model(t, base, [3]string{"sum|", "sum}", "sum|<sid:5> = using a|<sid>|<aid:5> sum b|<aid>|<bid:5>"})
	want(t, contents(m, "sum", "sum|", "sum}"), map[string]string{"sum|00000": "80", "sum|00001": "8"})
	e := &Entry{Op: joins.Sum, Derivs: []Deriv{{Value: "007"}}}
	if !e.Accepts("007") || !e.Accepts("7") || e.Accepts("8") {
		t.Errorf("sum acceptance wrong")
	}
}

// §8.5 test_count: recursive evaluation e <- c <- b, and join-range clipping.
func TestRecursive(t *testing.T) {
	base := map[string]string{"a|00001|00002": "1", "b|00002|0000000001": "b1", "b|00002|0000000002": "b2",
		"b|00002|0000000010": "b3", "b|00002|0000000020": "b4", "b|00003|0000000002": "b5", "d|00003|00001": "1"}
	m := model(t, base,
		[3]string{"c|", "c}", "c|<a_id:5>|<time:10>|<b_id:5> = using a|<a_id>|<b_id> copy b|<b_id>|<time>"},
		[3]string{"e|", "e}", "e|<d_id:5>|<time:10>|<b_id:5> = using d|<d_id>|<a_id:5> copy c|<a_id>|<time>|<b_id>"})
	if n := len(m.Eval("e", "e|", "e}")); n != 4 {
		t.Errorf("e count = %d, want 4", n)
	}
	m.Joins[0].Last = "c|00001|0000000010"
	m.Reset()
	if n := len(m.Eval("e", "e|", "e}")); n != 2 {
		t.Errorf("clipped e count = %d, want 2", n)
	}
}

// §10 A2: a self-join is the plain derivation multiset.
func TestSelfJoin(t *testing.T) {
	m := model(t, map[string]string{"b|1": "", "b|2": "", "b|1|2": "", "b|2|3": ""},
		[3]string{"k|", "k}", "k|<y:1> = count b|<y> b|<y>"},
		[3]string{"m|", "m}", "m|<a:1>|<c:1> = using b|<a>|<b:1> copy b|<b>|<c>"},
		[3]string{"n|", "n}", "n|<a:1> = count b|<a:1>|<b:1> b|<c:1>"})
	want(t, contents(m, "k", "k|", "k}"), map[string]string{"k|1": "1", "k|2": "1"})
	want(t, contents(m, "m", "m|", "m}"), map[string]string{"m|1|3": ""})
	want(t, contents(m, "n", "n|", "n}"), map[string]string{"n|1": "2", "n|2": "2"})
}
