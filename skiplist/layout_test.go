package skiplist

import (
	"math/rand"
	"slices"
	"strconv"
	"testing"
)

// checkLayout checks the store's internal invariants: groups, blocks,
// separators, counts, indexes and the entry slabs.
func checkLayout[V any](t testing.TB, s *Store[V]) {
	t.Helper()
	used := map[uint32]bool{}
	total, groups := 0, 0
	var prevKey string
	for ge := s.order.Front(); ge != nil; ge = ge.Next() {
		g := ge.Key().(*sub)
		groups++
		if s.subs[g.prefix] != g || g.oe != ge {
			t.Fatalf("group %q: not filed under its prefix or element", g.prefix)
		}
		n := 0
		for e := g.list.Front(); e != nil; e = e.Next() {
			b := blockOf(e)
			if b.e != e {
				t.Fatalf("group %q: block's element is not its own", g.prefix)
			}
			first := e.Prev() == nil
			if first != (b.sep == "") {
				t.Fatalf("group %q: block with separator %q first=%v", g.prefix, b.sep, first)
			}
			if len(b.slots) == 0 || len(b.slots) > blockMax || cap(b.slots) > blockMax {
				t.Fatalf("group %q: block of %d slots (cap %d)", g.prefix, len(b.slots), cap(b.slots))
			}
			if b.skip < 0 || b.skip > 64 || b.base&^prefixMask(b.skip) != 0 {
				t.Fatalf("group %q: block prefix %x of %d bits", g.prefix, b.base, b.skip)
			}
			var nextSep string
			if nx := e.Next(); nx != nil {
				nextSep = blockOf(nx).sep
				if nextSep <= b.sep && !first {
					t.Fatalf("group %q: separators %q, %q out of order", g.prefix, b.sep, nextSep)
				}
			}
			for _, v := range b.slots {
				id := slotID(v)
				if used[id] {
					t.Fatalf("id %d used twice", id)
				}
				used[id] = true
				nd := s.ents.node(id)
				k := nd.key
				if s.prefix(k) != g.prefix {
					t.Fatalf("key %q in group %q", k, g.prefix)
				}
				if total+n > 0 && k <= prevKey {
					t.Fatalf("key %q after %q", k, prevKey)
				}
				if k < b.sep || nextSep != "" && k >= nextSep {
					t.Fatalf("key %q outside its block [%q, %q)", k, b.sep, nextSep)
				}
				if c := s.ord.code(k); (c^b.base)&prefixMask(b.skip) != 0 || slotFP(v) != b.fpOf(c) {
					t.Fatalf("key %q (code %x) in block of prefix %x/%d has fingerprint %x, want %x",
						k, c, b.base, b.skip, slotFP(v), b.fpOf(c))
				}
				if g.indexed.Load() {
					if got, ok := lookup(&g.index, &s.ents, k); !ok || got != id {
						t.Fatalf("index of %q = %d, %v; want %d", k, got, ok, id)
					}
				}
				prevKey = k
				n++
			}
		}
		if n != g.n {
			t.Fatalf("group %q: %d keys, n = %d", g.prefix, n, g.n)
		}
		if g.indexed.Load() && g.index.n != n {
			t.Fatalf("group %q: index of %d keys, group %d", g.prefix, g.index.n, n)
		}
		total += n
	}
	if total != s.n || groups != len(s.subs) {
		t.Fatalf("%d keys in %d groups; n = %d, %d groups filed", total, groups, s.n, len(s.subs))
	}
	// Every live slab slot is in use or free, never both.
	m := &s.ents
	live := make([]int, len(m.s))
	for id := range used {
		if m.s[id>>slabBits] == nil {
			t.Fatalf("id %d in a released slab", id)
		}
		live[id>>slabBits]++
	}
	for _, id := range m.free {
		if used[id] || m.s[id>>slabBits] == nil {
			t.Fatalf("free id %d is in use or released", id)
		}
	}
	nslots := 0
	for sn, p := range m.s {
		if p == nil {
			if slices.Index(m.holes, uint32(sn)) < 0 {
				t.Fatalf("released slab %d is not a hole", sn)
			}
			continue
		}
		nslots += slabSize
		if int(m.live[sn]) != live[sn] {
			t.Fatalf("slab %d: live %d, counted %d", sn, m.live[sn], live[sn])
		}
	}
	if nslots != total+len(m.free) || m.unclr > len(m.free) {
		t.Fatalf("%d slots, %d used, %d free (%d not cleared)", nslots, total, len(m.free), m.unclr)
	}
}

// TestBlockBoundaries drives one group through splits and merges at every
// block boundary: keys in order, in reverse, and interleaved, then deletes
// from the front, the back, the middle and every other key, checking the
// layout and the model after each phase.
func TestBlockBoundaries(t *testing.T) {
	key := func(i int) string { return "k|" + strconv.Itoa(100000+i) }
	for _, cut := range []int{0, 2} {
		for _, n := range []int{blockMax - 1, blockMax, blockMax + 1, 2*blockMax + 1, 10 * blockMax} {
			orders := map[string][]int{
				"ascending":  nil,
				"descending": nil,
				"interleave": nil,
				"random":     rand.New(rand.NewSource(int64(n))).Perm(n),
			}
			for i := 0; i < n; i++ {
				orders["ascending"] = append(orders["ascending"], i)
				orders["descending"] = append(orders["descending"], n-1-i)
				if i%2 == 0 {
					orders["interleave"] = append(orders["interleave"], i/2)
				} else {
					orders["interleave"] = append(orders["interleave"], n-1-i/2)
				}
			}
			deletes := map[string]func(i, n int) bool{
				"front":  func(i, n int) bool { return i < n-1 },
				"back":   func(i, n int) bool { return i > 0 },
				"middle": func(i, n int) bool { return i > n/4 && i < 3*n/4 },
				"odd":    func(i, n int) bool { return i%2 == 1 },
				"most":   func(i, n int) bool { return i%blockMax != 3 },
				"all":    func(i, n int) bool { return true },
			}
			for oname, order := range orders {
				for dname, del := range deletes {
					name := "cut=" + strconv.Itoa(cut) + "/n=" + strconv.Itoa(n) + "/" + oname + "/" + dname
					t.Run(name, func(t *testing.T) {
						s, m := New(strLen), newModel()
						s.SetCut(cut)
						for _, i := range order {
							s.Put(key(i), "v"+strconv.Itoa(i))
							m.put(key(i), "v"+strconv.Itoa(i))
						}
						checkFull(t, s, m)
						var gone []int
						for i := 0; i < n; i++ {
							if del(i, n) {
								gone = append(gone, i)
							}
						}
						if dname == "back" {
							slices.Reverse(gone)
						}
						for _, i := range gone {
							if v, ok := s.Delete(key(i)); !ok || v != "v"+strconv.Itoa(i) {
								t.Fatalf("Delete(%d) = %q, %v", i, v, ok)
							}
							m.del(key(i))
						}
						checkFull(t, s, m)
						// Refill what was deleted, in the same order.
						for _, i := range gone {
							s.Put(key(i), "w")
							m.put(key(i), "w")
						}
						checkFull(t, s, m)
					})
				}
			}
		}
	}
}

// TestIterRemoveRuns removes runs of keys through an iterator, across block
// and group boundaries, and checks where the iterator lands each time.
func TestIterRemoveRuns(t *testing.T) {
	for _, cut := range []int{0, 3} {
		for _, run := range []int{1, 2, blockMax / 2, blockMax, 3 * blockMax} {
			for _, skip := range []int{0, 1, 5, blockMax} {
				s, m := New(strLen), newModel()
				s.SetCut(cut)
				r := rand.New(rand.NewSource(int64(run*100 + skip)))
				for _, i := range r.Perm(2000) {
					k := "g" + strconv.Itoa(i%7) + "|" + strconv.Itoa(10000+i)
					s.Put(k, k)
					m.put(k, k)
				}
				it := s.First()
				pos := 0
				for it.Valid() {
					for j := 0; j < run && it.Valid(); j++ {
						checkIterAt(t, pos, &it, m, pos)
						m.del(m.keys[pos])
						it.Remove()
					}
					for j := 0; j < skip && it.Valid(); j++ {
						checkIterAt(t, pos, &it, m, pos)
						it.Next()
						pos++
					}
				}
				checkIterAt(t, pos, &it, m, pos)
				checkFull(t, s, m)
			}
		}
	}
}

// TestPointerStability takes pointers to values and then puts, deletes,
// re-splits (SetCut) and iterates around them: each pointer must keep
// reading its key's value, and writes through it must be seen by Get.
func TestPointerStability(t *testing.T) {
	type val struct {
		key string
		n   int
	}
	s := New[val](nil)
	r := rand.New(rand.NewSource(3))
	key := func(i int) string { return "p|" + strconv.Itoa(i%50) + "|" + strconv.Itoa(1000000+i) }
	const n = 20000
	for _, i := range r.Perm(n) {
		s.Put(key(i), val{key(i), 0})
	}
	// Pin every 17th key, by all three ways of getting a pointer.
	pins := map[string]*val{}
	for i := 0; i < n; i += 17 {
		k := key(i)
		switch i % 3 {
		case 0:
			pins[k] = s.GetPtr(k)
		case 1:
			it := s.Seek(k)
			pins[k] = it.Ptr()
		default:
			s.RangePtr(k, k+"\x00", func(_ string, v *val) bool { pins[k] = v; return true })
		}
	}
	check := func(stage string) {
		t.Helper()
		for k, p := range pins {
			if p.key != k {
				t.Fatalf("%s: pointer of %q reads %q", stage, k, p.key)
			}
			p.n++
			if v, ok := s.Get(k); !ok || v != *p {
				t.Fatalf("%s: Get(%q) = %v, %v; pointer reads %v", stage, k, v, ok, *p)
			}
		}
	}
	check("start")
	for round := 0; round < 6; round++ {
		// Delete most unpinned keys (merges, released slabs), put many new
		// ones (splits, reused entries), then re-split.
		for it := s.First(); it.Valid(); {
			if _, pinned := pins[it.Key()]; !pinned && r.Intn(10) < 8 {
				it.Remove()
			} else {
				it.Next()
			}
		}
		check("after removes")
		for _, i := range r.Perm(n) {
			if k := key(n*(round+1) + i); r.Intn(2) == 0 {
				s.Put(k, val{k, 0})
			}
		}
		for i := 0; i < n; i++ {
			if _, pinned := pins[key(i)]; !pinned {
				s.Delete(key(i))
			}
		}
		check("after puts and deletes")
		s.SetCut([]int{0, 2, 4, 5}[round%4])
		check("after SetCut")
		checkLayout(t, s)
	}
}

// TestReuseAfterDelete pins down the contract for deleted entries: the old
// pointer reads the old value until the next Put, which may reuse or clear
// the entry; a key put again gets a fresh entry, and a store emptied and
// refilled works as new.
func TestReuseAfterDelete(t *testing.T) {
	s := New(strLen)
	for i := 0; i < 1000; i++ {
		s.Put(be64(uint64(i)), "v"+strconv.Itoa(i))
	}
	p := s.GetPtr(be64(10))
	q := s.GetPtr(be64(11))
	s.Delete(be64(10))
	it := s.Seek(be64(11))
	it.Remove()
	if *p != "v10" || *q != "v11" {
		t.Fatalf("after deletes, before any Put: pointers read %q, %q", *p, *q)
	}
	s.Get(be64(12))
	s.Count(be64(0), be64(100))
	if *p != "v10" || *q != "v11" {
		t.Fatalf("after reads: pointers read %q, %q", *p, *q)
	}
	// The next Put reuses one of the entries and clears the other.
	s.Put("new", "n")
	np := s.GetPtr("new")
	if np != p && np != q {
		t.Fatal("Put did not reuse the freed entry")
	}
	for _, x := range []*string{p, q} {
		if x != np && *x != "" {
			t.Fatalf("freed entry not cleared at the next Put: %q", *x)
		}
	}
	if *np != "n" {
		t.Fatalf("reused entry reads %q", *np)
	}
	// Putting a deleted key back gives it an entry again.
	s.Put(be64(10), "again")
	if v, ok := s.Get(be64(10)); !ok || v != "again" || *s.GetPtr(be64(10)) != "again" {
		t.Fatalf("Get after re-put = %q, %v", v, ok)
	}
	// Emptying the store releases its slabs; pointers held still read.
	last := s.GetPtr(be64(999))
	for it := s.First(); it.Valid(); {
		it.Remove()
	}
	if len(s.ents.s) != 0 || len(s.ents.free) != 0 {
		t.Fatalf("emptied store keeps %d slabs, %d free ids", len(s.ents.s), len(s.ents.free))
	}
	if *last != "v999" {
		t.Fatalf("pointer into a released slab reads %q", *last)
	}
	m := newModel()
	runOps(t, rand.New(rand.NewSource(4)), s, m, 3000)
}

// TestSlabRelease deletes most keys in a pattern that empties whole slabs
// and checks that they are released and their ids forgotten.
func TestSlabRelease(t *testing.T) {
	s := New(strLen)
	const n = 64 * slabSize
	for i := 0; i < n; i++ {
		s.Put(be64(uint64(i)), "v")
	}
	// Keys were allocated in order: slab k holds keys k*64 .. k*64+63.
	for i := 0; i < n; i++ {
		if i/slabSize%8 != 0 {
			s.Delete(be64(uint64(i)))
		}
	}
	released := 0
	for _, p := range s.ents.s {
		if p == nil {
			released++
		}
	}
	if released < 32 {
		t.Fatalf("%d of 56 emptied slabs released", released)
	}
	checkLayout(t, s)
	for i := 0; i < n; i++ {
		s.Put(be64(uint64(i)), "w")
	}
	checkLayout(t, s)
	if len(s.ents.holes) != 0 || s.Len() != n {
		t.Fatalf("refilled: %d holes left, Len %d", len(s.ents.holes), s.Len())
	}
}

// TestPutAllocsAmortized pins the allocations of new keys, amortized over
// many Puts: an entry costs 1/64 of a slab, and a block (its huandu element
// and tower, its header and its slot array as it doubles) is shared by up
// to 64 keys.
func TestPutAllocsAmortized(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	const n = 20000
	shapes := []struct {
		name string
		cut  int
		key  func(r *rand.Rand, i int) string
		max  float64
	}{
		{"sequential", 0, func(r *rand.Rand, i int) string { return be64(uint64(i)) }, 0.15},
		{"random", 0, func(r *rand.Rand, i int) string { return be64(r.Uint64()) }, 0.25},
		{"groups of 100, random", 4, func(r *rand.Rand, i int) string {
			return "g" + strconv.Itoa(100+r.Intn(n/100)) + be64(r.Uint64())
		}, 0.3},
	}
	for _, sh := range shapes {
		r := rand.New(rand.NewSource(1))
		keys := make([]string, n)
		for i := range keys {
			keys[i] = sh.key(r, i)
		}
		var s *Store[int]
		allocs := testing.AllocsPerRun(1, func() {
			s = New[int](nil)
			s.SetCut(sh.cut)
			for i, k := range keys {
				s.Put(k, i)
			}
		})
		per := allocs / n
		t.Logf("%s: %.3f allocs per Put", sh.name, per)
		if per > sh.max {
			t.Errorf("%s: %.3f allocs per Put, want <= %v", sh.name, per, sh.max)
		}
	}
}
