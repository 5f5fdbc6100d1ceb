package route

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/pequod-go/pequod/joins"
)

// The named partition functions of the original Pequod (server.md §2.9):
// twitternew, twitternew-text, twitter, hackernews, unit and the original's
// "default" (offered as "original-default").
//
// A function is an ordered list of prefix groups. A key belongs to the group
// with the greatest prefix <= key; keys below every prefix belong to the
// default owner. Adding a group with prefix P also adds a default group at
// P with its last byte incremented (owned by the default owner), unless a
// group with that prefix already exists; a later group with the same prefix
// as an existing one replaces it (this is how `unit` chains its one-byte
// groups: the default group after " " is replaced by the group for "!").
//
// Mapping to partitions. In one process the "servers" are the partitions:
// nservers = n, nbacking = 0, so BASE and CACHE are both every partition and
// a user's s|, p|, cp| and t| keys share a partition. The original's owner
// −1 ("local, not owned by anyone": prefixes with no group, such as ct|, cs|
// and xxx| in Twitter-new or p| in Hacker News, and the default owner) has no
// meaning here because every key must live in exactly one partition, so it
// is mapped to partition 0. Router methods report mapped partitions; owner
// reports the original's server number (−1 included).

// gkind is the type of a prefix group.
type gkind uint8

const (
	gSingle  gkind = iota // every key on server off
	gBinary               // top d bits of the big-endian uint32 after the prefix
	gDecimal              // first d decimal digits after the prefix
	gText                 // the byte after the prefix
)

// pgroup is one prefix group.
type pgroup struct {
	prefix string
	kind   gkind
	d      int // bits (binary) or digits (decimal); text ignores it but needs d > 0
	off, n int // first server and server count; single groups use off only
}

// multi reports whether keys of the group are spread over several servers.
func (g *pgroup) multi() bool { return g.kind != gSingle && g.d > 0 && g.n > 1 }

// width is the number of bytes after the prefix a position is read from;
// keys with fewer ("short" keys) have position 0.
func (g *pgroup) width() int {
	switch g.kind {
	case gBinary:
		return 4
	case gDecimal:
		return g.d
	}
	return 1
}

// npos is the number of positions of a multi-server group.
func (g *pgroup) npos() uint64 {
	switch g.kind {
	case gBinary:
		return 1 << uint(g.d)
	case gDecimal:
		return pow10(g.d)
	}
	return 256
}

func pow10(d int) uint64 {
	v := uint64(1)
	for ; d > 0; d-- {
		v *= 10
	}
	return v
}

// suffix returns the bytes of key after the group's prefix.
func (g *pgroup) suffix(key string) string {
	if len(key) < len(g.prefix) {
		return ""
	}
	return key[len(g.prefix):]
}

// pos is the position of key in a multi-server group (§2.9).
func (g *pgroup) pos(key string) uint64 {
	s := g.suffix(key)
	switch g.kind {
	case gBinary:
		if len(s) < 4 {
			return 0
		}
		u := uint64(s[0])<<24 | uint64(s[1])<<16 | uint64(s[2])<<8 | uint64(s[3])
		return u >> uint(32-g.d)
	case gDecimal:
		if len(s) < g.d {
			return 0
		}
		return decimalPos(s[:g.d])
	case gText:
		if len(s) == 0 {
			return 0
		}
		return uint64(s[0])
	}
	return 0
}

// decimalPos parses len(s) decimal digits, keeping the mapping monotone in
// key order: a byte above '9' turns it and the rest into 9s; a byte below
// '0' after a non-zero value turns the rest into 0s and subtracts 1 (after a
// zero value it keeps 0).
func decimalPos(s string) uint64 {
	v := uint64(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			v = v*10 + uint64(c-'0')
			continue
		}
		p := pow10(len(s) - i)
		if c > '9' {
			return v*p + p - 1
		}
		if v == 0 {
			return 0
		}
		return v*p - 1
	}
	return v
}

// server is the server of position x.
func (g *pgroup) server(x uint64) int { return g.off + int(x%uint64(g.n)) }

// boundary is the smallest key of position p > 0 (§2.9 range analysis).
func (g *pgroup) boundary(p uint64) string {
	switch g.kind {
	case gBinary:
		u := uint32(p << uint(32-g.d))
		return g.prefix + string([]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
	case gDecimal:
		s := strconv.FormatUint(p, 10)
		for len(s) < g.d {
			s = "0" + s
		}
		return g.prefix + s
	}
	return g.prefix + string([]byte{byte(p)})
}

// mono is the position of the smallest key >= key that has a full position
// field (key padded with zero bytes); for such keys it equals pos.
func (g *pgroup) mono(key string) uint64 {
	s := g.suffix(key)
	if w := g.width(); len(s) < w {
		b := make([]byte, len(g.prefix)+w)
		copy(b, g.prefix)
		copy(b[len(g.prefix):], s)
		return g.pos(string(b))
	}
	return g.pos(key)
}

// isShort reports whether key (in the group) has too few bytes after the
// prefix to carry a position, so it maps to position 0.
func (g *pgroup) isShort(key string) bool { return len(g.suffix(key)) < g.width() }

// nextShort returns the smallest short key greater than the full key key,
// or false if there is none in the group.
func (g *pgroup) nextShort(key string) (string, bool) {
	s := g.suffix(key)
	for i := g.width() - 2; i >= 0; i-- {
		if s[i] != 0xFF {
			return g.prefix + s[:i] + string([]byte{s[i] + 1}), true
		}
	}
	return "", false
}

// partFunc is a partition function: groups sorted by prefix.
type partFunc struct {
	name     string
	groups   []pgroup
	defOwner int // owner of default groups and of keys below every prefix
	all0     bool
}

// partFuncNames are the §2.9 names New accepts.
var partFuncNames = []string{"twitternew", "twitternew-text", "twitter", "hackernews", "unit", "original-default"}

// newPartFunc builds the named function of the original for nbacking backing
// servers among nservers, with the original's default owner −1. If
// nservers == 1 every name yields everything on server 0.
func newPartFunc(name string, nbacking, nservers int) (*partFunc, error) {
	known := false
	for _, k := range partFuncNames {
		known = known || k == name
	}
	if !known {
		return nil, fmt.Errorf("unknown partition function %q", name)
	}
	if nservers < 1 || nbacking < 0 || (nservers > 1 && nbacking >= nservers) || (nservers == 1 && nbacking > 0) {
		return nil, fmt.Errorf("partition function %q: bad server counts nbacking=%d nservers=%d (need 0 <= nbacking < nservers)", name, nbacking, nservers)
	}
	f := &partFunc{name: name, defOwner: -1}
	if nservers == 1 || name == "original-default" {
		// The original's "default" meant text 1 over all servers, but the
		// default group added after the empty prefix shadows it, so every
		// key maps to server 0 [verified defect, reproduced].
		f.all0 = true
		return f, nil
	}
	base, nbase := 0, nservers
	if nbacking > 0 {
		nbase = nbacking
	}
	cache, ncache := nbacking, nservers-nbacking
	single := func(p string, s int) pgroup { return pgroup{prefix: p, kind: gSingle, off: s, n: 1} }
	spread := func(p string, k gkind, d, off, n int) pgroup {
		return pgroup{prefix: p, kind: k, d: d, off: off, n: n}
	}
	switch name {
	case "twitternew", "twitternew-text":
		k, d := gBinary, 24
		if name == "twitternew-text" {
			k, d = gDecimal, 5
		}
		f.add(single("c|", 0))
		f.add(spread("cp|", k, d, base, nbase))
		f.add(spread("p|", k, d, base, nbase))
		f.add(single("prog", 0))
		f.add(spread("s|", k, d, base, nbase))
		f.add(spread("t|", k, d, cache, ncache))
	case "twitter":
		f.add(single("c|", 0))
		f.add(spread("f|", gDecimal, 5, base, nbase))
		f.add(spread("p|", gDecimal, 5, base, nbase))
		f.add(single("prog", 0))
		f.add(spread("s|", gDecimal, 5, base, nbase))
		f.add(spread("t|", gDecimal, 5, cache, ncache))
	case "hackernews":
		f.add(spread("a|", gDecimal, 5, base, nbase))
		f.add(spread("c|", gDecimal, 5, base, nbase))
		f.add(spread("v|", gDecimal, 5, base, nbase))
		f.add(spread("k|", gDecimal, 5, cache, ncache))
		f.add(spread("ma|", gDecimal, 5, cache, ncache))
	case "unit":
		for i := 0; ' '+i <= '}'; i++ {
			f.add(single(string([]byte{byte(' ' + i)}), i%nservers))
		}
	}
	if err := f.check(); err != nil {
		return nil, err
	}
	return f, nil
}

// add inserts g (replacing a group with the same prefix) and the default
// group after it (unless its prefix is taken).
func (f *partFunc) add(g pgroup) {
	f.put(g, true)
	f.put(pgroup{prefix: joins.PrefixEnd(g.prefix), kind: gSingle, off: f.defOwner, n: 1}, false)
}

func (f *partFunc) put(g pgroup, replace bool) {
	i := sort.Search(len(f.groups), func(i int) bool { return f.groups[i].prefix >= g.prefix })
	if i < len(f.groups) && f.groups[i].prefix == g.prefix {
		if replace {
			f.groups[i] = g
		}
		return
	}
	f.groups = append(f.groups, pgroup{})
	copy(f.groups[i+1:], f.groups[i:])
	f.groups[i] = g
}

// check verifies what range analysis relies on: every multi-server group is
// followed by the group at its incremented prefix, so the group's keys are
// exactly the keys that start with its prefix.
func (f *partFunc) check() error {
	for i := range f.groups {
		g := &f.groups[i]
		if !g.multi() {
			continue
		}
		if (g.kind == gBinary && g.d > 32) || (g.kind == gDecimal && g.d > 18) {
			return fmt.Errorf("partition function %q: group %q: bad digit count %d", f.name, g.prefix, g.d)
		}
		next := joins.PrefixEnd(g.prefix)
		if next == "" || i+1 >= len(f.groups) || f.groups[i+1].prefix != next {
			return fmt.Errorf("partition function %q: group %q is not followed by its default group", f.name, g.prefix)
		}
	}
	return nil
}

// find returns the index of the group of key, or -1 if key is below every
// prefix.
func (f *partFunc) find(key string) int {
	return sort.Search(len(f.groups), func(i int) bool { return f.groups[i].prefix > key }) - 1
}

// owner is the original's server of key (−1: nobody).
func (f *partFunc) owner(key string) int {
	if f.all0 {
		return 0
	}
	i := f.find(key)
	if i < 0 {
		return f.defOwner
	}
	g := &f.groups[i]
	if !g.multi() {
		return g.off
	}
	return g.server(g.pos(key))
}

// piece is one piece of a range analysis: keys from start (up to the next
// piece) belong to owner.
type piece struct {
	start string
	owner int
}

// walk is the §2.9 range analysis of [first, last) (last == "" means no
// upper bound): it calls emit with the first piece (first, owner(first)),
// then with each boundary key where the owner changes, in key order, until a
// boundary >= last or emit returns false. The boundaries are those of the
// spec's walk, which follows the positions of keys that carry a full
// position field. A "short" key (fewer bytes after the prefix than the
// position needs) has position 0 wherever it sorts: a short first key is
// followed by a piece at the smallest full key when the owners differ, but
// short keys further inside a multi-server group are not listed (there can
// be 2^24 of them; RangeOwner checks them separately).
func (f *partFunc) walk(first, last string, emit func(start string, owner int) bool) {
	below := func(k string) bool { return last == "" || k < last }
	cur := f.owner(first)
	if !emit(first, cur) || f.all0 {
		return
	}
	step := func(k string, o int) bool {
		if o == cur {
			return true
		}
		cur = o
		return emit(k, o)
	}
	i := f.find(first)
	at := first // the key the walk is at, in group i
	for {
		if i >= 0 && f.groups[i].multi() {
			g := &f.groups[i]
			x := g.mono(at)
			if g.isShort(at) {
				// Keys from at up to at padded with zero bytes are short
				// (position 0); the padded key is the first full one.
				pad := at + string(make([]byte, g.width()-len(g.suffix(at))))
				if !below(pad) || !step(pad, g.server(x)) {
					return
				}
			}
			for p := x + 1; p < g.npos(); p++ {
				b := g.boundary(p)
				if !below(b) || !step(b, g.server(p)) {
					return
				}
			}
		}
		i++
		if i >= len(f.groups) {
			return
		}
		at = f.groups[i].prefix
		if !below(at) || !step(at, f.owner(at)) {
			return
		}
	}
}

// analyze returns the pieces of [first, last), at most limit of them
// (limit <= 0: no limit; a whole multi-server group has up to 2^24 pieces).
func (f *partFunc) analyze(first, last string, limit int) []piece {
	var ps []piece
	f.walk(first, last, func(s string, o int) bool {
		ps = append(ps, piece{s, o})
		return limit <= 0 || len(ps) < limit
	})
	return ps
}

// toPart maps an owner of the original to a partition: −1 goes to 0.
func toPart(owner int) int {
	if owner < 0 {
		return 0
	}
	return owner
}

// Owner implements Router.
func (f *partFunc) Owner(key string) int { return toPart(f.owner(key)) }

// RangeOwner implements Router: the partition owning every key of
// [first, last), or -1. It is exact: the pieces of the range analysis must
// all map to one partition, and so must every short key of a multi-server
// group inside the range. last == "" is taken as no upper bound; an empty
// range (first >= last != "") is owned by the owner of first.
func (f *partFunc) RangeOwner(first, last string) int {
	want := f.Owner(first)
	if f.all0 || (last != "" && last <= first) {
		return want
	}
	ok := true
	f.walk(first, last, func(_ string, o int) bool {
		ok = toPart(o) == want
		return ok
	})
	if !ok {
		return -1
	}
	// Short keys inside multi-server groups the range touches map to the
	// group's first server.
	for i := f.find(first); i < len(f.groups); i++ {
		if i < 0 {
			continue
		}
		g := &f.groups[i]
		if last != "" && g.prefix >= last {
			break
		}
		if !g.multi() || g.off == want {
			continue
		}
		a := first
		if a < g.prefix {
			a = g.prefix
		}
		if g.isShort(a) {
			return -1 // a itself is a short key in the range
		}
		if s, ok := g.nextShort(a); ok && (last == "" || s < last) {
			return -1
		}
	}
	return want
}
