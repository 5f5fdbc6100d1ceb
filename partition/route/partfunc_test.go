package route

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
)

// be32 is the 4-byte big-endian encoding of Twitter-new binary ids.
func be32(u uint32) string {
	return string([]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}

func mustPartFunc(t testing.TB, name string, nb, n int) *partFunc {
	t.Helper()
	f, err := newPartFunc(name, nb, n)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTwitterNewVerified checks the [verified] examples of §2.9 (NB=2, N=7).
func TestTwitterNewVerified(t *testing.T) {
	bin := mustPartFunc(t, "twitternew", 2, 7)
	for _, c := range []struct {
		u        uint32
		base, tl int
	}{
		{0, 0, 2}, {1, 0, 2}, {255, 0, 2}, {256, 1, 3}, {512, 0, 4},
		{768, 1, 5}, {1024, 0, 6}, {1280, 1, 2},
	} {
		id := be32(c.u)
		for _, k := range []string{"p|" + id + "|" + be32(77), "s|" + id + "|" + be32(9), "cp|" + id + "|" + be32(1)} {
			if o := bin.owner(k); o != c.base {
				t.Errorf("twitternew owner(%q) = %d, want %d", k, o, c.base)
			}
		}
		if k := "t|" + id + "|" + be32(5) + "|" + be32(3); bin.owner(k) != c.tl {
			t.Errorf("twitternew owner(%q) = %d, want %d", k, bin.owner(k), c.tl)
		}
	}
	txt := mustPartFunc(t, "twitternew-text", 2, 7)
	for _, c := range []struct {
		u        uint32
		base, tl int
	}{
		{999, 0, 2}, {1000, 1, 3}, {12345678, 1, 2},
	} {
		id := fmt.Sprintf("%08d", c.u)
		for _, k := range []string{"p|" + id + "|0000000042", "s|" + id + "|00000001", "cp|" + id + "|0000000001"} {
			if o := txt.owner(k); o != c.base {
				t.Errorf("twitternew-text owner(%q) = %d, want %d", k, o, c.base)
			}
		}
		if k := "t|" + id + "|0000000005|00000003"; txt.owner(k) != c.tl {
			t.Errorf("twitternew-text owner(%q) = %d, want %d", k, txt.owner(k), c.tl)
		}
	}
}

// TestNamedFormulas checks the §2.9 consequences for many ids and every
// named function, with and without backing servers.
func TestNamedFormulas(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for _, sz := range []struct{ nb, n int }{{2, 7}, {0, 4}, {0, 3}, {3, 5}} {
		base, nbase := 0, sz.n
		if sz.nb > 0 {
			nbase = sz.nb
		}
		cache, ncache := sz.nb, sz.n-sz.nb
		tn := mustPartFunc(t, "twitternew", sz.nb, sz.n)
		tt := mustPartFunc(t, "twitternew-text", sz.nb, sz.n)
		tw := mustPartFunc(t, "twitter", sz.nb, sz.n)
		hn := mustPartFunc(t, "hackernews", sz.nb, sz.n)
		for i := 0; i < 2000; i++ {
			u := r.Uint32()
			if i%2 == 0 {
				u %= 20000
			}
			bid, did := be32(u), fmt.Sprintf("%08d", u%100000000)
			ud := u % 100000000
			check := func(f *partFunc, k string, want int) {
				t.Helper()
				if o := f.owner(k); o != want {
					t.Fatalf("%s(%d,%d) owner(%q) = %d, want %d", f.name, sz.nb, sz.n, k, o, want)
				}
			}
			bb, bc := base+int(u>>8)%nbase, cache+int(u>>8)%ncache
			db, dc := base+int(ud/1000)%nbase, cache+int(ud/1000)%ncache
			check(tn, "p|"+bid+"|"+be32(u), bb)
			check(tn, "s|"+bid+"|"+be32(u), bb)
			check(tn, "cp|"+bid+"|"+be32(u), bb)
			check(tn, "t|"+bid+"|"+be32(u), bc)
			check(tt, "p|"+did+"|0000000001", db)
			check(tt, "s|"+did+"|00000001", db)
			check(tt, "cp|"+did, db)
			check(tt, "t|"+did+"|0000000001|00000002", dc)
			check(tw, "f|"+did+"|00000001", db)
			check(tw, "p|"+did+"|0000000001", db)
			check(tw, "s|"+did+"|00000001", db)
			check(tw, "t|"+did+"|0000000001", dc)
			aid := fmt.Sprintf("%07d", u%10000000) // HN ids: first 5 digits
			ha, hc := base+int(u%10000000/100)%nbase, cache+int(u%10000000/100)%ncache
			check(hn, "a|"+aid, ha)
			check(hn, "c|"+aid+"|00001", ha)
			check(hn, "v|"+aid+"|00001", ha)
			check(hn, "k|"+aid, hc)
			check(hn, "ma|"+aid, hc)
			if sz.nb == 0 && (tn.owner("s|"+bid) != tn.owner("t|"+bid) || tt.owner("p|"+did) != tt.owner("t|"+did)) {
				t.Fatalf("NB=0: s|/p| and t| of user %d on different servers", u)
			}
		}
		// Single-server groups and keys with no group.
		for _, c := range []struct {
			f    *partFunc
			key  string
			want int
		}{
			{tn, "c|" + be32(5), 0}, {tn, "prog|x", 0}, {tn, "prog", 0},
			{tn, "ct|" + be32(5), -1}, {tn, "cs|" + be32(5), -1}, {tn, "xxx|1", -1},
			{tn, "", -1}, {tn, "a", -1}, {tn, "c", -1}, {tn, "c}", -1}, {tn, "p}", -1},
			{tn, "proh", -1}, {tn, "t}", -1}, {tn, "\xff", -1},
			{tt, "ct|00000005", -1}, {tw, "prog", 0}, {tw, "c|00001", 0}, {tw, "g|1", -1},
			{hn, "p|0000001", -1}, {hn, "b|0000001", -1}, {hn, "m|1", -1},
		} {
			if o := c.f.owner(c.key); o != c.want {
				t.Errorf("%s(%d,%d) owner(%q) = %d, want %d", c.f.name, sz.nb, sz.n, c.key, o, c.want)
			}
		}
	}
}

// TestUnitAndDefault checks `unit`, `original-default` and the one-server
// rule.
func TestUnitAndDefault(t *testing.T) {
	u := mustPartFunc(t, "unit", 0, 4)
	for _, c := range []struct {
		key  string
		want int
	}{
		{" ", 0}, {"!", 1}, {"\"", 2}, {"#x", 3}, {"$", 0}, {"a|x", ('a' - ' ') % 4},
		{"a", 1}, {"a}", 1}, {"}", ('}' - ' ') % 4}, {"}\xff", 1},
		{"~", -1}, {"~~", -1}, {"\x7f", -1}, {"\xff", -1}, {"\x1f", -1}, {"", -1},
	} {
		if o := u.owner(c.key); o != c.want {
			t.Errorf("unit owner(%q) = %d, want %d", c.key, o, c.want)
		}
	}
	r, err := New("unit", 4)
	if err != nil {
		t.Fatal(err)
	}
	if r.Owner("~") != 0 || r.Owner("\x00") != 0 {
		t.Errorf("unit router: owner −1 not mapped to partition 0")
	}
	for _, name := range partFuncNames {
		one := mustPartFunc(t, name, 0, 1)
		for _, k := range []string{"", "p|" + be32(1<<20), "t|99999999", "a|00001", "~", "c|"} {
			if one.owner(k) != 0 || one.RangeOwner(k, "") != 0 {
				t.Errorf("%s with one server: key %q not on 0", name, k)
			}
		}
	}
	od := mustPartFunc(t, "original-default", 0, 5)
	for _, k := range []string{"", "a", "p|" + be32(1<<20), "\xff\xff"} {
		if od.owner(k) != 0 || od.RangeOwner("", "\xff") != 0 {
			t.Errorf("original-default owner(%q) = %d, want 0", k, od.owner(k))
		}
	}
	for _, bad := range []struct {
		name  string
		nb, n int
	}{{"nope", 0, 4}, {"default", 0, 4}, {"twitternew", 2, 2}, {"twitternew", 3, 2}, {"twitternew", -1, 4}, {"unit", 0, 0}, {"unit", 1, 1}} {
		if _, err := newPartFunc(bad.name, bad.nb, bad.n); err == nil {
			t.Errorf("newPartFunc(%q, %d, %d) accepted", bad.name, bad.nb, bad.n)
		}
	}
	if _, err := New("bogus", 4); err == nil || !strings.Contains(err.Error(), "twitternew") {
		t.Errorf("New(bogus): %v", err)
	}
	for _, name := range append([]string{"", "default"}, partFuncNames...) {
		if _, err := New(name, 3); err != nil {
			t.Errorf("New(%q): %v", name, err)
		}
	}
}

// TestDecimalPositions checks the decimal parsing rules (§2.9).
func TestDecimalPositions(t *testing.T) {
	g := pgroup{prefix: "p|", kind: gDecimal, d: 5, off: 0, n: 1 << 30}
	for _, c := range []struct {
		key  string
		want uint64
	}{
		{"p|00000", 0}, {"p|00001", 1}, {"p|12345", 12345}, {"p|123456789", 12345},
		{"p|99999|x", 99999},
		{"p|12a45", 12999}, {"p|1:xyz", 19999}, {"p|:0000", 99999}, {"p|0:000", 9999},
		{"p|9999\xff", 99999}, {"p|0000~", 9},
		{"p|12/45", 11999}, {"p|1\x00000", 9999}, {"p|1234|", 12349}, {"p|1234 ", 12339}, {"p|12300/", 12300},
		{"p|0/123", 0}, {"p|00/99", 0}, {"p|/////", 0}, {"p|\x00\x00\x00\x00\x00", 0},
		{"p|00001/", 1}, {"p|0001/", 9},
		{"p|1234", 0}, {"p|9", 0}, {"p|", 0}, // shorter keys: position 0
	} {
		if x := g.pos(c.key); x != c.want {
			t.Errorf("decimal pos(%q) = %d, want %d", c.key, x, c.want)
		}
	}
	for _, c := range []struct {
		p    uint64
		want string
	}{{1, "p|00001"}, {12000, "p|12000"}, {99999, "p|99999"}} {
		if b := g.boundary(c.p); b != c.want || g.pos(b) != c.p {
			t.Errorf("decimal boundary(%d) = %q (pos %d), want %q", c.p, b, g.pos(b), c.want)
		}
	}
	// The mapping is monotone on full keys and boundary(p) is the smallest
	// full key of position p.
	r := rand.New(rand.NewSource(2))
	alpha := []byte{0, '/', '0', '1', '5', '8', '9', ':', 'a', 0xFF}
	g3 := pgroup{prefix: "d", kind: gDecimal, d: 3, n: 1 << 30}
	keys := map[string]bool{}
	for i := 0; i < 20000; i++ {
		b := []byte{'d'}
		for j := 0; j < 3+r.Intn(2); j++ {
			b = append(b, alpha[r.Intn(len(alpha))])
		}
		keys[string(b)] = true
	}
	checkMonotone(t, &g3, keys)
}

func checkMonotone(t *testing.T, g *pgroup, keys map[string]bool) {
	t.Helper()
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for i := 1; i < len(ks); i++ {
		if g.pos(ks[i-1]) > g.pos(ks[i]) {
			t.Fatalf("not monotone: pos(%q) = %d > pos(%q) = %d", ks[i-1], g.pos(ks[i-1]), ks[i], g.pos(ks[i]))
		}
	}
	for _, k := range ks {
		x := g.pos(k)
		if x > 0 && k < g.boundary(x) {
			t.Fatalf("%q (pos %d) sorts below boundary %q", k, x, g.boundary(x))
		}
		if x+1 < g.npos() && k >= g.boundary(x+1) {
			t.Fatalf("%q (pos %d) not below boundary(%d) %q", k, x, x+1, g.boundary(x+1))
		}
	}
}

// TestBinaryAndTextPositions checks binary (top d bits of the big-endian
// uint32 after the prefix) and text (the byte after the prefix) positions.
func TestBinaryAndTextPositions(t *testing.T) {
	for _, c := range []struct {
		d    int
		key  string
		want uint64
	}{
		{24, "p|\x00\x00\x00\x00", 0}, {24, "p|\x00\x00\x00\xff|x", 0}, {24, "p|\x00\x00\x01\x00", 1},
		{24, "p|\x00\x01\x2c\x00", 300}, {24, "p|\xff\xff\xff\xff", 1<<24 - 1},
		{8, "p|\x12\x34\x56\x78", 0x12}, {32, "p|\x12\x34\x56\x78", 0x12345678}, {1, "p|\x80\x00\x00\x00", 1},
		{24, "p|\xff\xff\xff", 0}, {24, "p|", 0}, // fewer than 4 bytes: position 0
	} {
		g := pgroup{prefix: "p|", kind: gBinary, d: c.d, n: 1 << 30}
		if x := g.pos(c.key); x != c.want {
			t.Errorf("binary d=%d pos(%q) = %d, want %d", c.d, c.key, x, c.want)
		}
	}
	g := pgroup{prefix: "p|", kind: gBinary, d: 24, n: 1 << 30}
	if b := g.boundary(300); b != "p|"+be32(300<<8) {
		t.Errorf("binary boundary(300) = %q", b)
	}
	tx := pgroup{prefix: "x", kind: gText, d: 1, off: 2, n: 3}
	for _, c := range []struct {
		key    string
		want   uint64
		server int
	}{{"x", 0, 2}, {"xa", 'a', 2 + 'a'%3}, {"xabc", 'a', 2 + 'a'%3}, {"x\xff", 255, 2}, {"x\x01", 1, 3}} {
		if x := tx.pos(c.key); x != c.want || tx.server(x) != c.server {
			t.Errorf("text pos(%q) = %d server %d, want %d server %d", c.key, x, tx.server(x), c.want, c.server)
		}
	}
	if b := tx.boundary('a'); b != "xa" {
		t.Errorf("text boundary = %q", b)
	}
	r := rand.New(rand.NewSource(3))
	keys := map[string]bool{}
	g8 := pgroup{prefix: "b", kind: gBinary, d: 5, n: 1 << 30}
	for i := 0; i < 20000; i++ {
		b := []byte{'b'}
		for j := 0; j < 4+r.Intn(2); j++ {
			b = append(b, []byte{0, 1, 7, 8, 0x7f, 0x80, 0xfe, 0xff}[r.Intn(8)])
		}
		keys[string(b)] = true
	}
	checkMonotone(t, &g8, keys)
}

// TestAnalyze checks range-analysis pieces.
func TestAnalyze(t *testing.T) {
	bin := mustPartFunc(t, "twitternew", 2, 7)
	txt := mustPartFunc(t, "twitternew-text", 2, 7)
	for _, c := range []struct {
		f           *partFunc
		first, last string
		limit       int
		want        []piece
	}{
		{bin, "p|" + be32(0), "p|" + be32(1024), 0,
			[]piece{{"p|" + be32(0), 0}, {"p|" + be32(256), 1}, {"p|" + be32(512), 0}, {"p|" + be32(768), 1}}},
		{bin, "t|" + be32(300) + "|", "t|" + be32(300) + "}", 0, []piece{{"t|" + be32(300) + "|", 3}}},
		// Text ids: the boundary of users 1000..1999 is t|00001.
		{txt, "t|00000999", "t|00003", 0, []piece{{"t|00000999", 2}, {"t|00001", 3}, {"t|00002", 4}}},
		{txt, "t|00000999", "t|00003\x00", 0, []piece{{"t|00000999", 2}, {"t|00001", 3}, {"t|00002", 4}, {"t|00003", 5}}},
		{txt, "t|00999", "t|01001", 0, []piece{{"t|00999", 6}, {"t|01000", 2}}},
		// Across groups (in key order cp| < cp} < c| < c} < prog < proh <
		// p| < p}): default groups (−1), single-server groups and the bare
		// prefix p| (position 0 on server 0).
		{bin, "cp}", "p|\x00", 0, []piece{{"cp}", -1}, {"c|", 0}, {"c}", -1}, {"prog", 0}, {"proh", -1}, {"p|", 0}}},
		{bin, "a", "cp|\x00", 0, []piece{{"a", -1}, {"cp|", 0}}},
		// A short first key (position 0) is followed by the first full key.
		{bin, "p|\x00\x00\x01", "p|\x00\x00\x02", 0,
			[]piece{{"p|\x00\x00\x01", 0}, {"p|\x00\x00\x01\x00", 1}}},
		{bin, "p|" + be32(1<<32-1), "", 0, []piece{{"p|" + be32(1<<32-1), 1}, {"p}", -1}, {"s|", 0}}},
	} {
		limit := c.limit
		if limit == 0 && c.last == "" {
			limit = len(c.want) // an unbounded walk covers whole groups
		}
		got := c.f.analyze(c.first, c.last, limit)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s analyze(%q, %q) = %#v, want %#v", c.f.name, c.first, c.last, got, c.want)
		}
		for _, p := range got {
			if p.start < c.first || (c.last != "" && p.start >= c.last) || c.f.owner(p.start) != p.owner {
				t.Errorf("%s analyze(%q, %q): piece %#v out of range or wrong owner", c.f.name, c.first, c.last, p)
			}
		}
	}
}

// TestRangeOwner checks RangeOwner on typical and edge ranges, through
// New (NB = 0) and with the spec's NB = 2, N = 7.
func TestRangeOwner(t *testing.T) {
	router := func(name string, n int) Router {
		r, err := New(name, n)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tn4, tt4, hn4, u4 := router("twitternew", 4), router("twitternew-text", 4), router("hackernews", 4), router("unit", 4)
	tn1 := router("twitternew", 1)
	bin7 := mustPartFunc(t, "twitternew", 2, 7)
	u600 := be32(600)
	for _, c := range []struct {
		r           Router
		first, last string
		want        int
	}{
		// One user's keys: single owner.
		{tn4, "t|" + u600 + "|" + be32(1000), "t|" + u600 + "}", 2},
		{tn4, "s|" + u600 + "|", "s|" + u600 + "}", 2},
		{tn4, "p|" + u600, "p|" + u600 + "\xff", 2},
		{bin7, "t|" + u600 + "|" + be32(1000), "t|" + u600 + "}", 4},
		{bin7, "s|" + u600 + "|", "s|" + u600 + "}", 0},
		{tt4, "t|00001234|0000000001", "t|00001234}", 1},
		{tt4, "p|00001000", "p|00001999}", 1},
		{hn4, "c|0000123|", "c|0000123}", 1},
		// A whole block of users: single owner; across a block: -1.
		{tn4, "p|" + be32(256), "p|" + be32(511) + "}", 1},
		{tn4, "p|" + be32(256), "p|" + be32(512), -1}, // short p|\x00\x00\x02 (on 0) lies inside
		{tn4, "p|" + be32(255), "p|" + be32(257), -1},
		{tn4, "p|" + be32(511) + "|", "p|" + be32(512) + "\x00", -1},
		{tt4, "p|00000999", "p|00001", 0},
		{tt4, "p|00000999", "p|00001\x00", -1},
		{tt4, "p|00000999", "p|00001000", -1}, // p|00001 is user block 1
		// Whole tables: -1 unless one server (or a single-server group).
		{tn4, "p|", "p}", -1},
		{tn4, "t|", "t}", -1},
		{tn1, "p|", "p}", 0},
		{tn1, "", "", 0},
		{tn4, "c|", "c}", 0},
		{tn4, "ct|", "ct}", 0}, // owner −1: partition 0
		{tn4, "prog", "prog}", 0},
		// Groups that all map to partition 0.
		{tn4, "cp}", "p|\x00", 0},
		{tn4, "cp}", "p|" + be32(256) + "\x00", -1},
		{tn4, "a", "cp|\x00", 0},
		{tn4, "a", "c|", -1},
		// Unbounded last.
		{tn4, "t}", "", 0},
		{tn4, "s|", "", -1},
		// Single keys and empty ranges.
		{tn4, "s|" + be32(300), "s|" + be32(300) + "\x00", 1},
		{tn4, "s|" + be32(300), "s|" + be32(300), 1},
		{tn4, "s|" + be32(300), "s|", 1},
		// Short keys (too few bytes for a position) map to position 0:
		// "p|12" sorts between p|11999… and p|12000 but lives on server 0,
		// so a range across it is not owned by the owner of p|11999.
		{tt4, "p|11999", "p|12000", -1},
		{tt4, "p|11999|", "p|11999}", 11 % 4},
		{tt4, "p|12", "p|12\x00", 0},
		{tt4, "p|12", "p|12\x00\x00\x00", 0}, // only short keys
		{tt4, "p|12", "p|12000", -1},         // p|12/xx is position 11999
		{tt4, "p|1", "p|2", -1},
		{tn4, "p|" + be32(0x1ff), "p|" + be32(0x200), -1}, // short p|\x00\x00\x02 lies inside
		{tn4, "p|" + be32(0x1ff) + "|", "p|" + be32(0x1ff) + "}", 1},
		{tn4, "p|\x00\x00", "p|\x00\x00\x01", 0},
		// unit: one table per partition.
		{u4, "a|", "a}", 1},
		{u4, "a|1", "a|2", 1},
		{u4, "a", "b", 1},
		{u4, "a", "b\x00", -1},
		{u4, "}", "~", 1},
		{u4, "}", "~\x00", -1},
		{u4, "~", "", 0},
		{u4, "", " ", 0},
		{u4, "", "!", 0}, // keys below " " (−1 → 0) and " " (server 0)
		{u4, "", "!\x00", -1},
	} {
		if got := c.r.RangeOwner(c.first, c.last); got != c.want {
			t.Errorf("%s RangeOwner(%q, %q) = %d, want %d", c.r.(*partFunc).name, c.first, c.last, got, c.want)
		}
	}
	// The short keys behind two of the cases above.
	if tt4.Owner("p|12") != 0 || tt4.Owner("p|11999") != 3 || tn4.Owner("p|\x00\x00\x02") != 0 || tn4.Owner("p|"+be32(0x1ff)) != 1 {
		t.Errorf("short-key owners changed; the cases above no longer test them")
	}
}

// TestRangeOwnerProperty: for random ranges, if RangeOwner(first, last) =
// p >= 0 then every key of the range (sampled, biased towards boundaries
// and short keys) is owned by p.
func TestRangeOwnerProperty(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	type fn struct {
		name  string
		nb, n int
	}
	for _, c := range []fn{
		{"twitternew", 0, 4}, {"twitternew", 2, 7}, {"twitternew-text", 0, 4}, {"twitternew-text", 2, 7},
		{"twitter", 0, 3}, {"hackernews", 1, 3}, {"unit", 0, 4}, {"unit", 0, 7},
	} {
		t.Run(fmt.Sprintf("%s-%d-%d", c.name, c.nb, c.n), func(t *testing.T) {
			f := mustPartFunc(t, c.name, c.nb, c.n)
			var prefixes []string
			for _, g := range f.groups {
				prefixes = append(prefixes, g.prefix)
			}
			alpha := []byte{0, 1, '/', '0', '1', '9', ':', '|', '}', 0xFE, 0xFF}
			key := func() string {
				var b []byte
				if r.Intn(10) > 0 {
					b = append(b, prefixes[r.Intn(len(prefixes))]...)
					if r.Intn(4) == 0 && len(b) > 0 {
						b[len(b)-1] += byte(r.Intn(3)) - 1
					}
				}
				for n := r.Intn(8); n > 0; n-- {
					if r.Intn(3) == 0 {
						b = append(b, byte(r.Intn(256)))
					} else {
						b = append(b, alpha[r.Intn(len(alpha))])
					}
				}
				return string(b)
			}
			// extend returns a key near k: k truncated, then extended.
			extend := func(k string) string {
				if len(k) > 0 {
					k = k[:r.Intn(len(k)+1)]
				}
				for n := r.Intn(6); n > 0; n-- {
					k += string([]byte{alpha[r.Intn(len(alpha))]})
				}
				return k
			}
			owned, checked := 0, 0
			for i := 0; i < 4000; i++ {
				first, last := key(), key()
				switch r.Intn(5) {
				case 0:
					last = extend(first)
				case 1:
					last = first + "\x00"
				case 2: // bump one byte of first: crosses few boundaries
					if i := r.Intn(len(first) + 1); i < len(first) && first[i] < 0xFF {
						last = extend(first[:i] + string([]byte{first[i] + 1}))
					}
				}
				if last != "" && last < first {
					first, last = last, first
				}
				if r.Intn(20) == 0 {
					last = ""
				}
				p := f.RangeOwner(first, last)
				if p < 0 {
					// Pieces are real witnesses of the range's owners.
					for _, pc := range f.analyze(first, last, 4) {
						if pc.start < first || (last != "" && pc.start >= last) || f.owner(pc.start) != pc.owner {
							t.Fatalf("analyze(%q, %q): bad piece %#v", first, last, pc)
						}
					}
					continue
				}
				owned++
				in := func(k string) bool { return k >= first && (last == "" || k < last) }
				var samples []string
				for j := 0; j < 60; j++ {
					samples = append(samples, extend(first), extend(last), key())
				}
				for _, pc := range f.analyze(first, last, 4) {
					samples = append(samples, pc.start, extend(pc.start))
				}
				for _, k := range samples {
					if !in(k) {
						continue
					}
					checked++
					if o := f.Owner(k); o != p {
						t.Fatalf("RangeOwner(%q, %q) = %d but Owner(%q) = %d", first, last, p, k, o)
					}
				}
			}
			if owned < 400 || checked < 4000 {
				t.Fatalf("too few owned ranges (%d) or checked keys (%d)", owned, checked)
			}
		})
	}
}
