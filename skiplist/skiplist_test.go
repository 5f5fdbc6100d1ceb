package skiplist

import (
	"encoding/binary"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// keysOf lists the store's keys in iteration order.
func keysOf[V any](s *Store[V]) []string {
	var ks []string
	for it := s.First(); it.Valid(); it.Next() {
		ks = append(ks, it.Key())
	}
	return ks
}

func be64(x uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], x)
	return string(b[:])
}

func TestEmptyStore(t *testing.T) {
	s := New[int](nil)
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("Len, Bytes = %d, %d; want 0, 0", s.Len(), s.Bytes())
	}
	if v, ok := s.Get(""); ok || v != 0 {
		t.Fatalf(`Get("") = %d, %v`, v, ok)
	}
	if _, ok := s.Delete("a"); ok {
		t.Fatal("Delete on empty store reported a key")
	}
	if it := s.First(); it.Valid() {
		t.Fatal("First on empty store is valid")
	}
	if it := s.Seek(""); it.Valid() {
		t.Fatal(`Seek("") on empty store is valid`)
	}
	if n := s.Count("", "\xff\xff"); n != 0 {
		t.Fatalf("Count = %d", n)
	}
	s.Range("", "\xff", func(string, int) bool { t.Fatal("Range called fn"); return true })

	var it Iter[int]
	if it.Valid() || it.Key() != "" || it.Value() != 0 {
		t.Fatal("zero Iter is not invalid/empty")
	}
	it.Next() // no-op, must not panic
}

// TestOrdering inserts each table's keys in shuffled order and checks the
// store iterates them in the listed (bytewise) order.
func TestOrdering(t *testing.T) {
	tests := []struct {
		name string
		keys []string // in expected order
	}{
		{"prefix", []string{"", "a", "a\x00", "a\x00\x00", "a\x01", "aa", "b"}},
		{"nul", []string{"", "\x00", "\x00\x00", "\x00\x00\x00\x00\x00\x00\x00\x00\x00", "\x00\x01", "\x01"}},
		{"high bytes", []string{"\x7f", "\x7f\xff", "\x80", "\x80\x00", "\xfe", "\xfe\xff\xff", "\xff", "\xff\x00", "\xff\xff", "\xff\xff\xff\xff\xff\xff\xff\xff\xff"}},
		{"utf8 vs bytes", []string{"z", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff"}},
		{"big-endian ids", []string{be64(0), be64(1), be64(255), be64(256), be64(1 << 32), be64(1<<63 - 1), be64(1 << 63), be64(^uint64(0))}},
		{"long common prefix", []string{
			"table|orders|\x00", "table|orders|\x00\x00", "table|orders|\x01",
			"table|orders|\x7f", "table|orders|\x80", "table|orders|\xff", "table|orders}"}},
		{"differ in byte 7/8", []string{
			"\xff\xff\xff\xff\xff\xff\x00", "\xff\xff\xff\xff\xff\xff\x07", "\xff\xff\xff\xff\xff\xff\x08",
			"\xff\xff\xff\xff\xff\xff\xff", "\xff\xff\xff\xff\xff\xff\xff\x00", "\xff\xff\xff\xff\xff\xff\xff\xfe",
			"\xff\xff\xff\xff\xff\xff\xff\xff"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !sort.StringsAreSorted(tc.keys) {
				t.Fatalf("bad table: %q is not in Go string order", tc.keys)
			}
			r := rand.New(rand.NewSource(1))
			for trial := 0; trial < 20; trial++ {
				s := New(func(v int) int { return 1 })
				for _, i := range r.Perm(len(tc.keys)) {
					s.Put(tc.keys[i], i)
				}
				if got := keysOf(s); !slices.Equal(got, tc.keys) {
					t.Fatalf("order = %q\nwant    %q", got, tc.keys)
				}
				for i, k := range tc.keys {
					if v, ok := s.Get(k); !ok || v != i {
						t.Fatalf("Get(%q) = %d, %v; want %d", k, v, ok, i)
					}
					if it := s.Seek(k); !it.Valid() || it.Key() != k {
						t.Fatalf("Seek(%q) did not land on it", k)
					}
					if n := s.Count(k, k+"\x00"); n != 1 {
						t.Fatalf("Count(%q, %q) = %d, want 1", k, k+"\x00", n)
					}
				}
				if n := s.Count(tc.keys[0], tc.keys[len(tc.keys)-1]); n != len(tc.keys)-1 {
					t.Fatalf("Count over all but last = %d", n)
				}
			}
		})
	}
}

func TestSeekCountRange(t *testing.T) {
	s := New(strLen)
	for _, k := range []string{"a", "a\x00", "a\x01", "b", "b\xff", "c"} {
		s.Put(k, strings.ToUpper(k))
	}
	tests := []struct {
		first, last string
		want        []string
	}{
		{"", "\xff", []string{"a", "a\x00", "a\x01", "b", "b\xff", "c"}},
		{"a", "a\x01", []string{"a", "a\x00"}},
		{"a\x00", "b", []string{"a\x00", "a\x01"}},
		{"a\x00\x00", "b\xff", []string{"a\x01", "b"}},
		{"b", "b\xff\x00", []string{"b", "b\xff"}},
		{"c", "c", nil},            // empty interval
		{"c", "a", nil},            // last < first
		{"c\x00", "\xff\xff", nil}, // past the end
		{"", "a", nil},             // before the start
		{"", "", nil},              // empty
		{"b\xff", "c\x00", []string{"b\xff", "c"}}, // last just past the end
	}
	for _, tc := range tests {
		var got []string
		s.Range(tc.first, tc.last, func(k, v string) bool {
			if v != strings.ToUpper(k) {
				t.Errorf("Range value for %q = %q", k, v)
			}
			got = append(got, k)
			return true
		})
		if !slices.Equal(got, tc.want) {
			t.Errorf("Range(%q, %q) = %q, want %q", tc.first, tc.last, got, tc.want)
		}
		if n := s.Count(tc.first, tc.last); n != len(tc.want) {
			t.Errorf("Count(%q, %q) = %d, want %d", tc.first, tc.last, n, len(tc.want))
		}
	}

	seeks := []struct{ key, want string }{
		{"", "a"}, {"a", "a"}, {"a\x00", "a\x00"}, {"a\x00\x00", "a\x01"}, {"a\x02", "b"},
		{"b\x00", "b\xff"}, {"b\xff\x00", "c"}, {"c", "c"}, {"c\x00", ""}, {"\xff", ""},
	}
	for _, tc := range seeks {
		it := s.Seek(tc.key)
		if tc.want == "" {
			if it.Valid() {
				t.Errorf("Seek(%q) at %q, want end", tc.key, it.Key())
			}
			continue
		}
		if !it.Valid() || it.Key() != tc.want || it.Value() != strings.ToUpper(tc.want) {
			t.Errorf("Seek(%q) at %q (valid %v), want %q", tc.key, it.Key(), it.Valid(), tc.want)
		}
	}

	// Range stops as soon as fn returns false.
	calls := 0
	s.Range("", "\xff", func(string, string) bool { calls++; return calls < 2 })
	if calls != 2 {
		t.Errorf("Range kept calling after false: %d calls", calls)
	}
}

func TestPutGetDeleteBytes(t *testing.T) {
	s := New(strLen)
	check := func(wantLen, wantBytes int) {
		t.Helper()
		if s.Len() != wantLen || s.Bytes() != wantBytes {
			t.Fatalf("Len, Bytes = %d, %d; want %d, %d", s.Len(), s.Bytes(), wantLen, wantBytes)
		}
	}
	if old, rep := s.Put("k\x00", "abc"); rep || old != "" {
		t.Fatalf("first Put = %q, %v", old, rep)
	}
	check(1, 2+3)
	if old, rep := s.Put("k\x00", "z"); !rep || old != "abc" {
		t.Fatalf("overwrite Put = %q, %v", old, rep)
	}
	check(1, 2+1)
	s.Put("", "empty key")
	check(2, 3+9)
	if v, ok := s.Get(""); !ok || v != "empty key" {
		t.Fatalf(`Get("") = %q, %v`, v, ok)
	}
	if _, ok := s.Get("k"); ok {
		t.Fatal(`Get("k") found a key that is only a prefix of a stored one`)
	}
	if _, ok := s.Delete("k"); ok {
		t.Fatal(`Delete("k") removed something`)
	}
	if old, ok := s.Delete("k\x00"); !ok || old != "z" {
		t.Fatalf("Delete = %q, %v", old, ok)
	}
	check(1, 9)
	if old, ok := s.Delete("k\x00"); ok || old != "" {
		t.Fatalf("second Delete = %q, %v", old, ok)
	}
	if old, ok := s.Delete(""); !ok || old != "empty key" {
		t.Fatalf(`Delete("") = %q, %v`, old, ok)
	}
	check(0, 0)
}

func TestNilSizeCountsKeysOnly(t *testing.T) {
	s := New[[]byte](nil)
	s.Put("abc", make([]byte, 100))
	s.Put("de", nil)
	if s.Bytes() != 5 {
		t.Fatalf("Bytes = %d, want 5", s.Bytes())
	}
}

// TestPutOverwritesInPlace checks that overwriting keeps the same entry, so
// it neither removes nor re-adds it.
func TestPutOverwritesInPlace(t *testing.T) {
	type big struct{ a, b, c int }
	s := New(func(v big) int { return v.a })
	for i := 0; i < 100; i++ {
		s.Put(be64(uint64(i)), big{a: i})
	}
	k := be64(42)
	before := s.GetPtr(k)
	it := s.Seek(k)
	old, rep := s.Put(k, big{a: 7, b: 1})
	if !rep || old != (big{a: 42}) {
		t.Fatalf("Put = %v, %v", old, rep)
	}
	if after := s.GetPtr(k); after != before || *after != (big{a: 7, b: 1}) {
		t.Fatal("Put replaced the entry instead of updating it")
	}
	// An iterator on the element sees the new value.
	if !it.Valid() || it.Value() != (big{a: 7, b: 1}) {
		t.Fatalf("iterator value after overwrite = %v", it.Value())
	}
	it.Next()
	if it.Key() != be64(43) {
		t.Fatalf("iterator after overwrite moved to %x", it.Key())
	}
	want := 100*8 + 99*100/2 - 42 + 7
	if s.Bytes() != want {
		t.Fatalf("Bytes = %d, want %d", s.Bytes(), want)
	}
}

func TestIterRemoveAndSetValue(t *testing.T) {
	s := New(strLen)
	for i := 0; i < 10; i++ {
		s.Put(be64(uint64(i)), "v")
	}
	// Remove the even keys, double the odd ones' values.
	for it := s.First(); it.Valid(); {
		if it.Key()[7]%2 == 0 {
			it.Remove()
		} else {
			it.SetValue("vv")
			it.Next()
		}
	}
	want := []string{be64(1), be64(3), be64(5), be64(7), be64(9)}
	if got := keysOf(s); !slices.Equal(got, want) {
		t.Fatalf("keys = %x, want %x", got, want)
	}
	if s.Bytes() != 5*(8+2) {
		t.Fatalf("Bytes = %d", s.Bytes())
	}
	// Remove lands on the next key; removing the last invalidates.
	it := s.Seek(be64(7))
	it.Remove()
	if !it.Valid() || it.Key() != be64(9) {
		t.Fatal("Remove did not advance to the next key")
	}
	it.Remove()
	if it.Valid() {
		t.Fatal("Remove of the last key left the iterator valid")
	}
	for it := s.First(); it.Valid(); {
		it.Remove()
	}
	if s.Len() != 0 || s.Bytes() != 0 {
		t.Fatalf("after removing all: Len %d Bytes %d", s.Len(), s.Bytes())
	}
	if it := s.First(); it.Valid() {
		t.Fatal("First valid on emptied store")
	}
	// The store is still usable.
	s.Put("x", "y")
	if got := keysOf(s); !slices.Equal(got, []string{"x"}) {
		t.Fatalf("keys = %q", got)
	}
}

func TestInvalidIterMutationPanics(t *testing.T) {
	s := New[int](nil)
	for name, f := range map[string]func(it *Iter[int]){
		"Remove":   func(it *Iter[int]) { it.Remove() },
		"SetValue": func(it *Iter[int]) { it.SetValue(1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			it := s.First()
			f(&it)
		})
	}
}

// TestScoreConsistent checks the property huandu relies on: the score never
// contradicts bytewise order, and it is exact over the first 62 bits.
func TestScoreConsistent(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	gen := func() string {
		b := make([]byte, r.Intn(11))
		for i := range b {
			if r.Intn(2) == 0 {
				b[i] = keyAlphabet[r.Intn(len(keyAlphabet))]
			} else {
				b[i] = byte(r.Intn(256))
			}
		}
		return string(b)
	}
	for i := 0; i < 200000; i++ {
		a, b := gen(), gen()
		if r.Intn(3) == 0 && len(a) > 0 { // share a prefix
			b = a[:r.Intn(len(a))] + b
		}
		sa, sb := score(a), score(b)
		switch {
		case a < b && sa > sb, a > b && sa < sb, a == b && sa != sb:
			t.Fatalf("score(%q)=%v, score(%q)=%v contradict byte order", a, sa, b, sb)
		}
	}
	// Distinct within the first 62 bits means distinct scores.
	pairs := [][2]string{
		{"", "\x00\x00\x00\x00\x00\x00\x08"},
		{"\xff\xff\xff\xff\xff\xff", "\xff\xff\xff\xff\xff\xff\x08"},
		{"\xff\xff\xff\xff\xff\xfe\xff\xff", "\xff\xff\xff\xff\xff\xff"},
		{"a", "b"},
		{"\x00\x00\x00\x00\x00\x00\x00\x03", "\x00\x00\x00\x00\x00\x00\x00\x04"},
		{"\xff\xff\xff\xff\xff\xff\xff\xfb", "\xff\xff\xff\xff\xff\xff\xff\xfc"},
	}
	for _, p := range pairs {
		if !(score(p[0]) < score(p[1])) {
			t.Errorf("score(%q)=%v not < score(%q)=%v", p[0], score(p[0]), p[1], score(p[1]))
		}
	}
	// Not distinct within 62 bits: equal scores (Compare decides).
	if score("\x00\x00\x00\x00\x00\x00\x00\x03") != score("") {
		t.Errorf("score of a key below 2 bits of the 8th byte differs from score(\"\")")
	}
	// The extremes are positive normal finite floats, read back exactly.
	lo, hi := score(""), score("\xff\xff\xff\xff\xff\xff\xff\xff\xff")
	if math.Float64bits(lo) != 1<<52 || math.Float64bits(hi) != 1<<62-1+1<<52 {
		t.Errorf("score range = [%x, %x], want [2^52, 2^62+2^52)", math.Float64bits(lo), math.Float64bits(hi))
	}
	if math.IsInf(hi, 0) || math.IsNaN(hi) || lo < math.SmallestNonzeroFloat64 || lo < 0x1p-1022 {
		t.Errorf("score range [%v, %v] leaves the positive normal floats", lo, hi)
	}
}

func TestModelRandom(t *testing.T) {
	seeds := []int64{1, 2, 3, 42, 1 << 40}
	nops := 20000
	if testing.Short() {
		nops = 3000
	}
	// Every seed runs unsplit and split into subtables by 1, 2 and 3 bytes;
	// half way through the ops the store is re-split (SetCut redistributes).
	for _, seed := range seeds {
		for cut := 0; cut <= 3; cut++ {
			t.Run("seed="+strconv.FormatInt(seed, 10)+"/cut="+strconv.Itoa(cut), func(t *testing.T) {
				r := rand.New(rand.NewSource(seed))
				s, m := New(strLen), newModel()
				s.SetCut(cut)
				runOps(t, r, s, m, nops/2)
				s.SetCut((cut + 2) % 4)
				checkFull(t, s, m)
				runOps(t, r, s, m, nops/2)
				t.Logf("seed %d cut %d: %d ops, final Len %d, %d subtables", seed, cut, nops, s.Len(), s.Subtables())
			})
		}
	}
}

// TestLargeSequential covers deeper towers and many equal-score keys (all
// keys share the first 7 bytes, so ordering falls to Compare).
func TestLargeSequential(t *testing.T) {
	s := New(func(v uint64) int { return 8 })
	const n = 20000
	r := rand.New(rand.NewSource(9))
	for _, i := range r.Perm(n) {
		s.Put("prefix|"+be64(uint64(i)), uint64(i))
	}
	if s.Len() != n || s.Bytes() != n*(15+8) {
		t.Fatalf("Len %d Bytes %d", s.Len(), s.Bytes())
	}
	i := uint64(0)
	for it := s.First(); it.Valid(); it.Next() {
		if it.Key() != "prefix|"+be64(i) || it.Value() != i {
			t.Fatalf("element %d is %x=%d", i, it.Key(), it.Value())
		}
		i++
	}
	if got := s.Count("prefix|"+be64(100), "prefix|"+be64(200)); got != 100 {
		t.Fatalf("Count = %d", got)
	}
	for _, i := range r.Perm(n) {
		if i%3 == 0 {
			if v, ok := s.Delete("prefix|" + be64(uint64(i))); !ok || v != uint64(i) {
				t.Fatalf("Delete(%d) = %d, %v", i, v, ok)
			}
		}
	}
	if want := n - (n+2)/3; s.Len() != want {
		t.Fatalf("Len after deletes = %d, want %d", s.Len(), want)
	}
	// Every key's code is the same ("prefix|" fills it): all searches
	// fall to comparing keys among tied fingerprints.
	checkLayout(t, s)
}

// TestAllocs pins the hot paths' allocations, on an unsplit store and on a
// split one: lookups, overwrites, iteration and SetValue allocate nothing
// (the Get runs also build the group's hash index on demand, a few
// allocations amortized away), lookups do not make their key escape (Get
// missing), and a new key in an existing group costs less than one
// allocation (TestPutAllocsAmortized has the exact figures).
func TestAllocs(t *testing.T) {
	for _, cut := range []int{0, 7} {
		s := New(func(v int) int { return 8 })
		s.SetCut(cut)
		for i := 0; i < 1000; i++ {
			s.Put(be64(uint64(i)), i)
		}
		k := be64(500)
		var fresh []string // new keys past the end of k's group
		for i := 0; i < 200; i++ {
			fresh = append(fresh, be64(1000)+strconv.Itoa(i))
		}
		cases := []struct {
			name string
			max  float64
			f    func()
		}{
			{"Get", 0, func() { s.Get(k) }},
			{"Get missing", 0, func() { s.Get(k + "\x00") }},
			{"Seek", 0, func() { s.Seek(k) }},
			{"Put overwrite", 0, func() { s.Put(k, 5) }},
			{"First+Next", 0, func() {
				it := s.First()
				for j := 0; j < 10; j++ {
					it.Next()
				}
			}},
			{"SetValue", 0, func() { it := s.First(); it.SetValue(3) }},
			{"Range 10", 0, func() {
				n := 0
				s.Range(k, "\xff", func(string, int) bool { n++; return n < 10 })
			}},
			{"Count", 0, func() { s.Count(k, "\xff") }},
		}
		if cut > 0 {
			// fresh keys go to a group without an index (an index may grow
			// on insert), so this pins the list insert alone.
			cases = append(cases, struct {
				name string
				max  float64
				f    func()
			}{"Put new", 1, func() { s.Put(fresh[0], 1); fresh = fresh[1:] }})
		}
		for _, c := range cases {
			if got := testing.AllocsPerRun(100, c.f); got > c.max {
				t.Errorf("cut %d: %s: %v allocs/op, want <= %v", cut, c.name, got, c.max)
			}
		}
	}
}

// TestConcurrentReads backs the package doc's promise that readers may share
// a store; run it under -race.
func TestConcurrentReads(t *testing.T) {
	s := New(func(v int) int { return 8 })
	for i := 0; i < 2000; i++ {
		s.Put(be64(uint64(i)), i)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; i < 2000; i += 7 {
				if v, ok := s.Get(be64(uint64(i))); !ok || v != i {
					t.Errorf("Get(%d) = %d, %v", i, v, ok)
					return
				}
				if n := s.Count(be64(uint64(i)), be64(uint64(i+10))); n != min(10, 2000-i) {
					t.Errorf("Count from %d = %d", i, n)
					return
				}
				it := s.Seek(be64(uint64(i)))
				it.Next()
				if i+1 < 2000 && it.Value() != i+1 {
					t.Errorf("Seek(%d)+Next = %d", i, it.Value())
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func FuzzStore(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 1, 0, 0, 4, 0, 0, 9})
	f.Add([]byte("\x00\x05\x00\xff\x01\x00\x00\x03\x02\x07\x07\x00\x01\x01\x01\x01\x09"))
	r := rand.New(rand.NewSource(5))
	for i := 0; i < 8; i++ {
		b := make([]byte, 64+r.Intn(512))
		r.Read(b)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, m := New(strLen), newModel()
		if len(data) > 0 {
			s.SetCut(int(data[0] % 4))
			data = data[1:]
		}
		runOps(t, &byteSource{b: data}, s, m, 1<<30)
	})
}

// TestIndexOnDemand checks when a group gets its hash index: appends and
// lookups of absent keys never build one; repeated lookups that find keys
// inside the list do, and the index then stays right through puts, deletes,
// iterator removals and the group being emptied and reused.
func TestIndexOnDemand(t *testing.T) {
	s := New(strLen)
	s.SetCut(2)
	key := func(i int) string { return "g|" + be64(uint64(i)) }
	for i := 0; i < 1000; i += 2 { // appends
		s.Put(key(i), "v")
	}
	g := s.subs["g|"]
	for i := 1; i < 1000; i += 2 { // absent keys inside the list
		if _, ok := s.Get(key(i)); ok {
			t.Fatalf("Get(%d) found an absent key", i)
		}
	}
	if g.indexed.Load() {
		t.Fatal("appends and misses built an index")
	}
	r := rand.New(rand.NewSource(11))
	for n := 0; n < 100; n++ {
		i := 2 * r.Intn(500)
		if v, ok := s.Get(key(i)); !ok || v != "v" {
			t.Fatalf("Get(%d) = %q, %v", i, v, ok)
		}
	}
	if !g.indexed.Load() || g.index.n != 500 {
		t.Fatalf("after 100 hits: indexed %v, index size %d", g.indexed.Load(), g.index.n)
	}
	// Mutations keep the index in step with the list.
	for i := 1; i < 1000; i += 4 {
		s.Put(key(i), "w") // inserts inside the list
	}
	for i := 0; i < 1000; i += 8 {
		s.Delete(key(i))
	}
	for it := s.Seek(key(500)); it.Valid() && it.Key() < key(600); {
		it.Remove()
	}
	n := 0
	for it := s.First(); it.Valid(); it.Next() {
		if id, ok := lookup(&g.index, &s.ents, it.Key()); !ok || id != slotID(it.b.slots[it.i]) {
			t.Fatalf("index entry for %x is %d, %v; want %d", it.Key(), id, ok, slotID(it.b.slots[it.i]))
		}
		n++
	}
	if n != g.index.n || n != s.Len() {
		t.Fatalf("index has %d keys, list %d, Len %d", g.index.n, n, s.Len())
	}
	for i := 0; i < 1000; i++ {
		_, ok := s.Get(key(i))
		want := (i%2 == 0 && i%8 != 0 || i%4 == 1) && (i < 500 || i >= 600)
		if ok != want {
			t.Fatalf("Get(%d) present = %v, want %v", i, ok, want)
		}
	}
	// Emptying the group drops it; its reuse starts without an index.
	for it := s.First(); it.Valid(); {
		it.Remove()
	}
	if s.Subtables() != 0 || len(s.free) != 1 {
		t.Fatalf("emptied store: %d subtables, %d free", s.Subtables(), len(s.free))
	}
	s.Put("h|x", "y")
	if h := s.subs["h|"]; h != g || h.indexed.Load() || h.index.slots != nil || h.probes.Load() != 0 {
		t.Fatal("reused group kept its old index state")
	}
	if v, ok := s.Get("h|x"); !ok || v != "y" || s.Len() != 1 {
		t.Fatalf("Get after reuse = %q, %v", v, ok)
	}
}

// TestConcurrentIndexBuild has readers race to build group indexes (run it
// under -race): each group's first frequent hits happen in parallel Gets.
func TestConcurrentIndexBuild(t *testing.T) {
	s := New(func(v int) int { return 8 })
	s.SetCut(4)
	const groups, per = 8, 300
	key := func(g, i int) string { return "k" + strconv.Itoa(g) + "|" + be64(uint64(i)) }
	for g := 0; g < groups; g++ {
		for i := 0; i < per; i++ {
			s.Put(key(g, i), g*per+i)
		}
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			for n := 0; n < 3000; n++ {
				g, i := r.Intn(groups), r.Intn(per)
				if v, ok := s.Get(key(g, i)); !ok || v != g*per+i {
					t.Errorf("Get(%d,%d) = %d, %v", g, i, v, ok)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	for p, g := range s.subs {
		if !g.indexed.Load() || g.index.n != per {
			t.Errorf("group %q: indexed %v, %d keys", p, g.indexed.Load(), g.index.n)
		}
	}
	// The store stays fully usable after the readers built the indexes.
	s.Put(key(0, 1), -1)
	s.Delete(key(1, 2))
	if v, _ := s.Get(key(0, 1)); v != -1 {
		t.Fatalf("Get after overwrite = %d", v)
	}
	if _, ok := s.Get(key(1, 2)); ok || s.Len() != groups*per-1 {
		t.Fatalf("after delete: present %v, Len %d", ok, s.Len())
	}
}
