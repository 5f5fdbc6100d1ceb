package interval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// checkTree verifies every structural invariant of t: parent links, owner
// links, (Lo, seq) order, AVL heights and balance, exact maxHi, the item
// count and the height bound of an AVL tree.
func checkTree[V any](t testing.TB, tr *Tree[V]) {
	t.Helper()
	var prev *Item[V]
	count := 0
	var walk func(n, parent *Item[V]) (int32, string)
	walk = func(n, parent *Item[V]) (int32, string) {
		if n == nil {
			return 0, ""
		}
		if n.parent != parent {
			t.Fatalf("item [%q,%q) seq %d: wrong parent", n.Lo, n.Hi, n.seq)
		}
		if n.tree != tr {
			t.Fatalf("item [%q,%q) seq %d: wrong owner", n.Lo, n.Hi, n.seq)
		}
		lh, lm := walk(n.left, n)
		if prev != nil && !(prev.Lo < n.Lo || prev.Lo == n.Lo && prev.seq < n.seq) {
			t.Fatalf("order: [%q seq %d] before [%q seq %d]", prev.Lo, prev.seq, n.Lo, n.seq)
		}
		prev = n
		count++
		rh, rm := walk(n.right, n)
		if d := lh - rh; d < -1 || d > 1 {
			t.Fatalf("item [%q,%q): unbalanced, heights %d/%d", n.Lo, n.Hi, lh, rh)
		}
		h := max(lh, rh) + 1
		if n.height != h {
			t.Fatalf("item [%q,%q): height %d, want %d", n.Lo, n.Hi, n.height, h)
		}
		m := max(lm, rm)
		if n.Lo < n.Hi {
			m = max(m, n.Hi)
		}
		if n.maxHi != m {
			t.Fatalf("item [%q,%q): maxHi %q, want %q", n.Lo, n.Hi, n.maxHi, m)
		}
		return h, m
	}
	if tr.root != nil && tr.root.parent != nil {
		t.Fatalf("root has a parent")
	}
	h, _ := walk(tr.root, nil)
	if count != tr.n || tr.Len() != count {
		t.Fatalf("Len %d, walked %d items", tr.Len(), count)
	}
	// AVL: h < 1.4405*log2(n+2) - 0.3277.
	if bound := 1.4405*math.Log2(float64(count+2)) - 0.3277; float64(h) >= bound {
		t.Fatalf("height %d with %d items exceeds AVL bound %.2f", h, count, bound)
	}
}

// model is the brute-force reference: a slice of live items in insertion
// order.
type model struct {
	items []*Item[int]
}

func (m *model) remove(it *Item[int]) {
	if i := slices.Index(m.items, it); i >= 0 {
		m.items = slices.Delete(m.items, i, i+1)
	}
}

// sorted returns the items satisfying keep in ascending (Lo, insertion)
// order.
func (m *model) sorted(keep func(*Item[int]) bool) []*Item[int] {
	var out []*Item[int]
	for _, it := range m.items {
		if keep(it) {
			out = append(out, it)
		}
	}
	slices.SortStableFunc(out, func(a, b *Item[int]) int { return strings.Compare(a.Lo, b.Lo) })
	return out
}

func (m *model) stab(key string) []*Item[int] {
	return m.sorted(func(it *Item[int]) bool { return it.Lo <= key && key < it.Hi })
}

func (m *model) overlap(lo, hi string) []*Item[int] {
	return m.sorted(func(it *Item[int]) bool {
		return lo < hi && it.Lo < it.Hi && it.Lo < hi && lo < it.Hi
	})
}

func (m *model) all() []*Item[int] { return m.sorted(func(*Item[int]) bool { return true }) }

// collect runs a visitor-style query, stopping after limit items if limit >= 0.
func collect(query func(func(*Item[int]) bool), limit int) []*Item[int] {
	var out []*Item[int]
	query(func(it *Item[int]) bool {
		out = append(out, it)
		return limit < 0 || len(out) < limit
	})
	return out
}

func describe(items []*Item[int]) string {
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "[%q,%q)#%d ", it.Lo, it.Hi, it.Value)
	}
	return b.String()
}

// checkQuery compares a full query against want, then checks that stopping
// after limit items yields exactly the first limit items.
func checkQuery(t testing.TB, what string, query func(func(*Item[int]) bool), want []*Item[int], limit int) {
	t.Helper()
	got := collect(query, -1)
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %s\n want %s", what, describe(got), describe(want))
	}
	if limit >= 1 {
		got = collect(query, limit)
		if !slices.Equal(got, want[:min(limit, len(want))]) {
			t.Fatalf("%s stopping after %d:\n got  %s\n want %s", what, limit, describe(got), describe(want))
		}
	}
}

func TestEdgeCases(t *testing.T) {
	type iv struct{ lo, hi string }
	type stabCase struct {
		key  string
		want []int // indexes into ivs, in (Lo, insertion) order
	}
	type overlapCase struct {
		lo, hi string
		want   []int
	}
	tests := []struct {
		name    string
		ivs     []iv
		stabs   []stabCase
		overlap []overlapCase
	}{
		{
			name: "empty tree",
			stabs: []stabCase{
				{"", nil}, {"a", nil},
			},
			overlap: []overlapCase{{"", "\xff", nil}},
		},
		{
			name: "empty intervals match nothing",
			ivs:  []iv{{"b", "b"}, {"c", "a"}, {"", ""}},
			stabs: []stabCase{
				{"", nil}, {"a", nil}, {"b", nil}, {"c", nil},
			},
			overlap: []overlapCase{{"", "z", nil}, {"a", "c", nil}, {"b", "c", nil}},
		},
		{
			name: "empty query matches nothing",
			ivs:  []iv{{"a", "z"}},
			overlap: []overlapCase{
				{"m", "m", nil}, {"m", "c", nil}, {"z", "a", nil}, {"", "", nil},
			},
		},
		{
			name: "stab at Lo and at Hi",
			ivs:  []iv{{"b", "d"}},
			stabs: []stabCase{
				{"a", nil}, {"b", []int{0}}, {"c", []int{0}}, {"c\xff\xff", []int{0}},
				{"d", nil}, {"d\x00", nil}, {"b\x00", []int{0}}, {"", nil},
			},
		},
		{
			name: "adjacent intervals do not overlap",
			ivs:  []iv{{"a", "b"}, {"b", "c"}},
			stabs: []stabCase{
				{"a", []int{0}}, {"a\xff", []int{0}}, {"b", []int{1}}, {"c", nil},
			},
			overlap: []overlapCase{
				{"a", "b", []int{0}}, {"b", "c", []int{1}}, {"a", "b\x00", []int{0, 1}},
				{"a\xff", "b", []int{0}}, {"c", "d", nil}, {"", "a", nil},
			},
		},
		{
			name: "identical intervals are distinct",
			ivs:  []iv{{"k", "m"}, {"k", "m"}, {"k", "m"}},
			stabs: []stabCase{
				{"k", []int{0, 1, 2}}, {"l", []int{0, 1, 2}}, {"m", nil},
			},
			overlap: []overlapCase{{"l", "l\x00", []int{0, 1, 2}}, {"m", "n", nil}},
		},
		{
			name: "NUL and 0xFF bytes",
			ivs: []iv{
				{"", "\x00"}, {"\x00", "\x00\x00"}, {"\x00", "\xff"},
				{"\xff", "\xff\xff"}, {"a\x00b", "a\x00c"}, {"\xfe\xff", "\xff"},
			},
			stabs: []stabCase{
				{"", []int{0}},
				{"\x00", []int{1, 2}},
				{"\x00\x00", []int{2}},
				{"a\x00b", []int{2, 4}},
				{"a\x00b\xff", []int{2, 4}},
				{"a\x00c", []int{2}},
				{"\xfe\xff\x00", []int{2, 5}},
				{"\xff", []int{3}},
				{"\xff\xfe", []int{3}},
				{"\xff\xff", nil},
			},
			overlap: []overlapCase{
				{"", "\x00", []int{0}},
				{"", "\x00\x00", []int{0, 1, 2}},
				{"\xff", "\xff\x00", []int{3}},
				{"\xfe", "\xff\xff\xff", []int{2, 5, 3}},
				{"\xff\xff", "\xff\xff\xff", nil},
			},
		},
		{
			name: "nested and equal Lo",
			ivs:  []iv{{"c", "z"}, {"a", "z"}, {"c", "d"}, {"b", "c"}, {"c", "c"}},
			stabs: []stabCase{
				{"c", []int{1, 0, 2}}, {"b", []int{1, 3}}, {"d", []int{1, 0}},
			},
			overlap: []overlapCase{
				{"a", "b", []int{1}}, {"b", "c", []int{1, 3}}, {"c", "c\x00", []int{1, 0, 2}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr Tree[int]
			var items []*Item[int]
			for i, iv := range tc.ivs {
				items = append(items, tr.Insert(iv.lo, iv.hi, i))
				checkTree(t, &tr)
			}
			pick := func(idx []int) []*Item[int] {
				var out []*Item[int]
				for _, i := range idx {
					out = append(out, items[i])
				}
				return out
			}
			for _, s := range tc.stabs {
				got := collect(func(fn func(*Item[int]) bool) { tr.Stab(s.key, fn) }, -1)
				if want := pick(s.want); !slices.Equal(got, want) {
					t.Errorf("Stab(%q) = %s, want %s", s.key, describe(got), describe(want))
				}
			}
			for _, o := range tc.overlap {
				got := collect(func(fn func(*Item[int]) bool) { tr.Overlap(o.lo, o.hi, fn) }, -1)
				if want := pick(o.want); !slices.Equal(got, want) {
					t.Errorf("Overlap(%q, %q) = %s, want %s", o.lo, o.hi, describe(got), describe(want))
				}
			}
			// Delete everything, each twice, checking as we go.
			for i, it := range items {
				tr.Delete(it)
				tr.Delete(it)
				if tr.Contains(it) {
					t.Fatalf("item %d still contained after Delete", i)
				}
				checkTree(t, &tr)
				if tr.Len() != len(items)-i-1 {
					t.Fatalf("Len = %d after %d deletes", tr.Len(), i+1)
				}
			}
		})
	}
}

func TestDeleteForeignAndNil(t *testing.T) {
	var a, b Tree[string]
	x := a.Insert("a", "c", "x")
	y := b.Insert("a", "c", "y")
	a.Delete(nil)
	a.Delete(y)
	if a.Len() != 1 || b.Len() != 1 || !a.Contains(x) || !b.Contains(y) || a.Contains(y) || a.Contains(nil) {
		t.Fatalf("foreign/nil delete changed a tree")
	}
	b.Delete(y)
	b.Delete(y)
	a.Delete(y)
	if a.Len() != 1 || b.Len() != 0 || !a.Contains(x) {
		t.Fatalf("double delete changed a tree")
	}
	checkTree(t, &a)
	checkTree(t, &b)
	x.Value = "changed"
	a.Stab("b", func(it *Item[string]) bool {
		if it.Value != "changed" {
			t.Errorf("Value = %q", it.Value)
		}
		return true
	})
}

// keyGen draws keys from a small space so that ties, nesting, adjacency and
// NUL/0xFF bytes are common.
func keyGen(r *rand.Rand) string {
	const alphabet = "\x00ab\xff"
	n := r.IntN(4)
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// harness drives a Tree and the model together, checking after every step.
type harness struct {
	t       testing.TB
	tree    Tree[int]
	other   Tree[int] // a second tree, for foreign-item deletes
	m       model
	dead    []*Item[int]
	foreign *Item[int]
	nextVal int
}

func newHarness(t testing.TB) *harness {
	h := &harness{t: t}
	h.foreign = h.other.Insert("", "\xff", -1)
	return h
}

func (h *harness) insert(lo, hi string) {
	it := h.tree.Insert(lo, hi, h.nextVal)
	h.nextVal++
	if it.Lo != lo || it.Hi != hi || !h.tree.Contains(it) || h.other.Contains(it) {
		h.t.Fatalf("Insert(%q, %q) returned a bad item", lo, hi)
	}
	h.m.items = append(h.m.items, it)
}

func (h *harness) delete(i int) {
	if len(h.m.items) == 0 {
		return
	}
	it := h.m.items[i%len(h.m.items)]
	h.tree.Delete(it)
	h.m.remove(it)
	h.dead = append(h.dead, it)
	if h.tree.Contains(it) {
		h.t.Fatalf("deleted item still contained")
	}
}

func (h *harness) deleteDead(i int) {
	if len(h.dead) == 0 || i%3 == 0 {
		h.tree.Delete(h.foreign)
		h.tree.Delete(nil)
		if !h.other.Contains(h.foreign) || h.other.Len() != 1 {
			h.t.Fatalf("foreign delete touched the other tree")
		}
		return
	}
	it := h.dead[i%len(h.dead)]
	h.tree.Delete(it)
	if h.tree.Contains(it) {
		h.t.Fatalf("dead item contained")
	}
}

func (h *harness) stab(key string, limit int) {
	checkQuery(h.t, fmt.Sprintf("Stab(%q)", key),
		func(fn func(*Item[int]) bool) { h.tree.Stab(key, fn) }, h.m.stab(key), limit)
}

func (h *harness) overlap(lo, hi string, limit int) {
	checkQuery(h.t, fmt.Sprintf("Overlap(%q, %q)", lo, hi),
		func(fn func(*Item[int]) bool) { h.tree.Overlap(lo, hi, fn) }, h.m.overlap(lo, hi), limit)
}

func (h *harness) ascend(limit int) {
	checkQuery(h.t, "Ascend", h.tree.Ascend, h.m.all(), limit)
}

func (h *harness) check() {
	h.t.Helper()
	checkTree(h.t, &h.tree)
	if h.tree.Len() != len(h.m.items) {
		h.t.Fatalf("Len = %d, model has %d", h.tree.Len(), len(h.m.items))
	}
	for _, it := range h.m.items {
		if !h.tree.Contains(it) {
			h.t.Fatalf("live item [%q,%q) not contained", it.Lo, it.Hi)
		}
	}
}

func TestRandomModel(t *testing.T) {
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
			h := newHarness(t)
			ops := 4000
			if testing.Short() {
				ops = 1000
			}
			for step := 0; step < ops; step++ {
				// Bias toward growth in the first half, shrinkage in the second.
				insertWeight := 45
				if step > ops/2 {
					insertWeight = 25
				}
				switch op := r.IntN(100); {
				case op < insertWeight:
					lo, hi := keyGen(r), keyGen(r)
					if r.IntN(4) != 0 && hi < lo {
						lo, hi = hi, lo
					}
					h.insert(lo, hi)
				case op < 60:
					h.delete(r.IntN(1 << 30))
				case op < 65:
					h.deleteDead(r.IntN(1 << 30))
				case op < 80:
					key := keyGen(r)
					if n := len(h.m.items); n > 0 && r.IntN(2) == 0 {
						it := h.m.items[r.IntN(n)]
						key = []string{it.Lo, it.Hi}[r.IntN(2)]
					}
					h.stab(key, r.IntN(4))
				case op < 95:
					lo, hi := keyGen(r), keyGen(r)
					if r.IntN(5) != 0 && hi < lo {
						lo, hi = hi, lo
					}
					h.overlap(lo, hi, r.IntN(4))
				default:
					h.ascend(r.IntN(6))
				}
				h.check()
			}
			for len(h.m.items) > 0 {
				h.delete(r.IntN(1 << 30))
				h.check()
			}
		})
	}
}

// TestSequentialBalance inserts keys in sorted and reverse order, the worst
// case for an unbalanced tree, and deletes them in order.
func TestSequentialBalance(t *testing.T) {
	var tr Tree[int]
	var items []*Item[int]
	for i := range 5000 {
		k := fmt.Sprintf("%08d", i)
		items = append(items, tr.Insert(k, k+"\xff", i))
		if i < 3000 {
			k = fmt.Sprintf("%08d", 100000-i)
			items = append(items, tr.Insert(k, k+"\x00", i))
		}
		if i%500 == 0 {
			checkTree(t, &tr)
		}
	}
	checkTree(t, &tr)
	n := 0
	tr.Stab("00001234\x01", func(it *Item[int]) bool { n++; return true })
	if n != 1 {
		t.Fatalf("stab found %d items, want 1", n)
	}
	for i, it := range items {
		tr.Delete(it)
		if i%500 == 0 {
			checkTree(t, &tr)
		}
	}
	checkTree(t, &tr)
	if tr.Len() != 0 || tr.root != nil {
		t.Fatalf("tree not empty after deleting everything")
	}
}

// FuzzTree interprets data as a sequence of operations and checks each
// against the brute-force model and the tree invariants.
func FuzzTree(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 1, 'a', 1, 'c', 0, 0, 1, 'b', 3, 1, 'b'})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 2, 0, 3, 0, 5, 0})
	f.Add([]byte("\x00\x01a\x01b\x00\x01b\x01c\x04\x01a\x01b\x03\x01b\x05\x01\x02\x00"))
	f.Add([]byte("\x00\x02\x00\xff\x01\xff\x00\x00\x00\x02\x00\xff\x03\x02\x00\xff\x04\x00\x01\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		pos := 0
		next := func() byte {
			if pos >= len(data) {
				return 0
			}
			b := data[pos]
			pos++
			return b
		}
		key := func() string {
			n := int(next() % 4)
			b := make([]byte, n)
			for i := range b {
				b[i] = next()
			}
			return string(b)
		}
		h := newHarness(t)
		for steps := 0; pos < len(data) && steps < 500; steps++ {
			switch op := next(); op % 6 {
			case 0:
				lo := key()
				h.insert(lo, key())
			case 1:
				h.delete(int(next()))
			case 2:
				h.deleteDead(int(next()))
			case 3:
				k := key()
				h.stab(k, int(op/6%4))
			case 4:
				lo := key()
				h.overlap(lo, key(), int(op/6%4))
			case 5:
				h.ascend(int(op / 6 % 4))
			}
			h.check()
		}
	})
}
