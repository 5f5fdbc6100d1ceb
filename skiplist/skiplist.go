// Package skiplist owns Pequod-Go's ordered byte-string store: an ordered map
// from binary keys to values, on which the join engine keeps every table.
//
// Keys are arbitrary byte strings held in Go strings. They compare as raw
// bytes, unsigned and lexicographically, with a proper prefix sorting first:
// exactly Go's string < operator. NUL and 0xFF bytes, big-endian binary ids
// and the empty key are all ordinary keys.
//
// The store is built on github.com/huandu/skiplist with a comparator of its
// own: a key's score (huandu's float64 ordering hint) is an order-preserving
// float64 of the key's first bytes (about 15 decimal digits or 6 other
// bytes; see textScore), so the score never disagrees with bytewise order
// and most comparisons never look at the key bytes. In a store split into
// subtables the score is taken from the bytes after the shared prefix, where
// the keys of one subtable differ.
//
// A Store is not safe for concurrent mutation. Any number of goroutines may
// read it at once (Get, Seek, First, Count, Range and iteration) as long as
// none modifies it.
package skiplist

import (
	"math"
	"math/bits"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"

	hs "github.com/huandu/skiplist"
)

// node is what the underlying skip list stores as an element's key. It holds
// both the key and the value, so a new entry costs one allocation of ours
// (besides huandu's element and level slice) and values never get boxed into
// interface{}. The huandu Element.Value field is left nil.
type node[V any] struct {
	key string
	val V
}

// keyOrder is the huandu Comparable of a store's key lists. Stored keys are
// *node[V]. Every key of one list shares its first off bytes (the subtable
// prefix; a key shorter than that is alone in its list), so the score is
// computed from the bytes after them.
type keyOrder[V any] struct{ off int }

// keyOf returns the byte string held by a stored key (or a string probe).
func keyOf[V any](k any) string {
	if n, ok := k.(*node[V]); ok {
		return n.key
	}
	return k.(string)
}

// Compare orders keys bytewise, as Go's string comparison does.
func (*keyOrder[V]) Compare(lhs, rhs any) int {
	return strings.Compare(keyOf[V](lhs), keyOf[V](rhs))
}

// CalcScore returns the key's score within its list; see keyScore.
func (o *keyOrder[V]) CalcScore(key any) float64 { return o.keyScore(keyOf[V](key)) }

// keyScore is textScore of the key without the list's shared prefix.
// Dropping a common prefix preserves the order of the keys that share it.
func (o *keyOrder[V]) keyScore(k string) float64 {
	return textScore(k[min(o.off, len(k)):])
}

// textCode holds each byte's code for textScore: the code in the low bits,
// its length (4 or 10) in bits 12 and up. Decimal digits get 4-bit codes
// 0001..1010; bytes below '0' get 0000 and 6 bits of b; bytes above '9'
// get 1011..1111 and 6 bits of b-':'. The code is alphabetic (codes order as
// the bytes do) and prefix-free (no code is a prefix of another).
var textCode = func() (t [256]uint16) {
	for b := range t {
		switch {
		case b < '0':
			t[b] = 10<<12 | uint16(b)
		case b <= '9':
			t[b] = 4<<12 | uint16(b-'0'+1)
		default:
			t[b] = 10<<12 | (11<<6 + uint16(b-':'))
		}
	}
	return t
}()

// textScore is the score of the key lists. Like score it is an
// order-preserving float64 of the key's first 62 bits, but of the key's
// bytes encoded by textCode rather than of the raw bytes, so a key made of
// decimal digits has about 15 of them in its score instead of 8. Keys that
// hold decimal ids and times (the text workloads' keys) then rarely share a
// score, and comparisons rarely read key bytes; other bytes take 10 bits,
// so about 6 of them count. An alphabetic prefix-free code maps bytewise
// order to bitwise order of the encodings (a key that is a proper prefix of
// another encodes as a prefix of its encoding), and truncating to 62 bits
// and zero-padding keeps that order non-strict, as score's.
func textScore(k string) float64 {
	var x uint64
	n := 0 // bits of x filled, from the top
	for i := 0; i < len(k); i++ {
		c := textCode[k[i]]
		l := int(c >> 12)
		v := uint64(c & 0x3ff)
		if n+l >= 64 {
			x |= v >> (n + l - 64)
			break
		}
		x |= v << (64 - n - l)
		n += l
	}
	return math.Float64frombits(x>>2 + 1<<52)
}

// score maps a key to the float64 huandu compares before calling Compare in
// the list of subtable prefixes (key lists use textScore).
// It takes the first 8 bytes of the key read big-endian, zero-padded, drops
// the low 2 bits and adds 2^52. A truncated zero-padded prefix never
// decreases as keys grow bytewise, and the result x lies in [2^52, 2^62+2^52),
// where reading x's bits as a float64 gives positive normal finite numbers
// whose order is the order of x. So k1 < k2 implies score(k1) <= score(k2),
// equal keys score equally, and keys that differ within their first 62 bits
// score differently, so huandu rarely needs to call Compare.
func score(k string) float64 {
	var x uint64
	if len(k) >= 8 {
		x = uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 |
			uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | uint64(k[7])
	} else {
		for i := 0; i < len(k); i++ {
			x |= uint64(k[i]) << (56 - 8*uint(i))
		}
	}
	return math.Float64frombits(x>>2 + 1<<52)
}

// Store is an ordered map from byte-string keys to values of type V.
//
// Create one with New; the zero Store is not usable. Keys are kept as the
// strings passed in (not copied), so they must be genuinely immutable.
//
// A store may be split into subtables (SetCut, spec/joins.md §1.5): keys are
// grouped by their first cut bytes, each group in a skip list of its own,
// with an ordered skip list of the groups' prefixes on top. A key shorter
// than cut is a group by itself. Every key of a group sorts after every key
// of a smaller prefix, so walking the groups in prefix order and each group
// in key order is exactly bytewise order. Inserting into a small group is
// far cheaper than into one huge list.
//
// Point operations find the group through a hash map of prefixes, then
// answer a key past the group's last one (the usual new key) in O(1) and
// otherwise search the list. A group whose list searches keep finding
// present keys gets a hash index of its own (see probe), so random lookups
// of present keys cost a hash probe, while groups that only see appends (and
// lookups of new keys) pay no index upkeep.
type Store[V any] struct {
	cut   int
	ord   *keyOrder[V]    // comparator of the group lists
	tmpl  *hs.SkipList    // empty list new groups copy (nil until needed)
	subs  map[string]*sub // prefix -> group
	order *hs.SkipList    // groups by prefix (keys are *sub)
	last  *sub            // the group the last Put or Delete touched
	free  []*sub          // emptied groups kept for reuse
	size  func(V) int
	bytes int
	n     int
}

// sub is one group of keys sharing a cut-byte prefix.
type sub struct {
	list   hs.SkipList // the group's keys; its elements point at it
	prefix string
	oe     *hs.Element // the group's element in Store.order
	grow   int         // list length at which to raise its max level

	// index maps key -> element once indexed is set. A reader may build it:
	// it sets index and then indexed, so readers that see indexed (an
	// atomic load) see the whole map; only mutations change it after.
	index    map[string]*hs.Element
	indexed  atomic.Bool
	probes   atomic.Int32 // list searches that found their key, so far
	building atomic.Bool  // one searcher won the right to build index
}

const (
	// probeMinLen and probeMin: a group of at least probeMinLen keys gets
	// a hash index once searches of its list have found a key
	// max(probeMin, len/32) times. Smaller lists are searched in a few
	// steps; appends and lookups past the end never search.
	probeMinLen = 16
	probeMin    = 8
	// minLevel is the max level of a new group's list; it is raised as the
	// list grows (see raiseLevel), so small lists keep short towers.
	minLevel = 5
	// maxFree bounds the emptied groups kept for reuse.
	maxFree = 64
)

// subOrder orders groups by prefix.
type subOrder struct{}

func subKey(k any) string {
	if s, ok := k.(*sub); ok {
		return s.prefix
	}
	return k.(string)
}

func (subOrder) Compare(lhs, rhs any) int  { return strings.Compare(subKey(lhs), subKey(rhs)) }
func (subOrder) CalcScore(key any) float64 { return score(subKey(key)) }

// orderTmpl is an empty group-order list to copy: hs.New seeds a 5 KB
// math/rand source, which costs microseconds.
var orderTmpl = sync.OnceValue(func() *hs.SkipList { return hs.New(subOrder{}) })

// newList returns an empty list copied from the empty list t, with its own
// head and the given source of level choices.
func newList(t *hs.SkipList, r rand.Source) *hs.SkipList {
	l := new(hs.SkipList)
	*l = *t
	l.Init() // a fresh head; the copy shared t's
	l.SetRandSource(r)
	return l
}

// New returns an empty store. size reports the bytes a value holds for memory
// accounting (nil: values count 0).
func New[V any](size func(V) int) *Store[V] {
	return &Store[V]{
		ord:   &keyOrder[V]{},
		subs:  map[string]*sub{},
		order: newList(orderTmpl(), &splitMix{state: 0x5eed}),
		size:  size,
	}
}

// SetCut splits the store into subtables by the first cut bytes of each key
// (0: one table). Existing keys are redistributed, which costs O(n log n).
func (s *Store[V]) SetCut(cut int) {
	if cut < 0 {
		cut = 0
	}
	if cut == s.cut {
		return
	}
	type kv struct {
		k string
		v V
	}
	all := make([]kv, 0, s.n)
	for it := s.First(); it.Valid(); it.Next() {
		all = append(all, kv{it.Key(), it.Value()})
	}
	size := s.size
	*s = *New[V](size)
	s.cut = cut
	s.ord.off = cut
	for _, x := range all {
		s.Put(x.k, x.v)
	}
}

// Cut returns the subtable prefix length (0: not split).
func (s *Store[V]) Cut() int { return s.cut }

// Subtables returns the number of key groups.
func (s *Store[V]) Subtables() int { return len(s.subs) }

func (s *Store[V]) prefix(key string) string {
	if len(key) > s.cut {
		return key[:s.cut]
	}
	return key
}

func (s *Store[V]) sizeOf(v V) int {
	if s.size == nil {
		return 0
	}
	return s.size(v)
}

// Len returns the number of keys in the store.
func (s *Store[V]) Len() int { return s.n }

// Bytes returns the sum of len(key) + size(value) over all keys. It is kept
// incrementally, so it costs O(1).
func (s *Store[V]) Bytes() int { return s.bytes }

// group returns the group of prefix p, or nil. Consecutive operations mostly
// stay in one group, so the last one touched is checked before hashing.
func (s *Store[V]) group(p string) *sub {
	if g := s.last; g != nil && g.prefix == p {
		return g
	}
	return s.subs[p]
}

// less reports whether element e's key sorts before key, whose score is sc.
func less[V any](e *hs.Element, key string, sc float64) bool {
	if es := e.Score(); es != sc {
		return es < sc
	}
	return e.Key().(*node[V]).key < key
}

// seekList returns the first element of l whose key is >= key (score sc), or
// nil. It walks huandu's element links itself, so it boxes nothing (the key
// does not escape) and compares scores inline. Keys past the last one (new
// keys appended) are answered in O(1). Otherwise it is a finger search from
// the back, since the keys sought (timeline tails, new keys a little older
// than the newest) mostly lie near the end: it climbs back along each
// element's top level (PrevLevel of the top level is a field read) while
// that stays >= key, to an element x whose predecessor at that level, p,
// is < key, and then searches forward from p below x's top level. That
// costs O(log d) steps for a key d elements from the end. If the climb
// reaches the first element of its height, the search continues from the
// front the same way.
func seekList[V any](l *hs.SkipList, key string, sc float64) *hs.Element {
	x := l.Back()
	if x == nil || less[V](x, key, sc) {
		return nil // past the end: the common case of a new key
	}
	// x >= key. Climb back while the previous element at x's top level is
	// still >= key.
	var p *hs.Element
	for {
		p = x.PrevLevel(x.Level() - 1)
		if p == nil || less[V](p, key, sc) {
			break
		}
		x = p
	}
	if p == nil {
		return seekFront[V](l, key, sc)
	}
	// p < key <= x, and p.NextLevel(x.Level()-1) == x: search down from p.
	e := p
	for i := x.Level() - 2; i >= 0; i-- {
		for {
			nx := e.NextLevel(i)
			if nx == x || !less[V](nx, key, sc) {
				break
			}
			e = nx
		}
	}
	return e.Next()
}

// seekFront returns the first element of the non-empty list l whose key is
// >= key (score sc), which must exist. It is a finger search from the
// front: along each element's top level while that stays before key, then
// down. (huandu's Find starts at the list head, but boxing the key for it
// allocates and makes the key escape.)
func seekFront[V any](l *hs.SkipList, key string, sc float64) *hs.Element {
	e := l.Front()
	if !less[V](e, key, sc) {
		return e
	}
	// front < key <= back: the answer exists and follows e.
	for {
		nx := e.NextLevel(e.Level() - 1)
		if nx == nil || !less[V](nx, key, sc) {
			break
		}
		e = nx
	}
	for i := e.Level() - 2; i >= 0; i-- {
		for {
			nx := e.NextLevel(i)
			if nx == nil || !less[V](nx, key, sc) {
				break
			}
			e = nx
		}
	}
	return e.Next()
}

// find returns the element holding key in group g, or nil. The group's
// index answers if it has one (an insert then updates the same map slots,
// so asking first costs it little). Otherwise a key past the group's last
// one (the usual new key) costs one comparison, and other keys a search of
// its list. Concurrent readers may call find.
func (s *Store[V]) find(g *sub, key string) *hs.Element {
	if g.indexed.Load() {
		return g.index[key]
	}
	b := g.list.Back()
	if b == nil {
		return nil
	}
	sc := s.ord.keyScore(key)
	if less[V](b, key, sc) {
		return nil
	}
	if b.Score() == sc && b.Key().(*node[V]).key == key {
		return b
	}
	e := seekList[V](&g.list, key, sc)
	if e == nil || e.Score() != sc || e.Key().(*node[V]).key != key {
		// Misses do not count towards an index: a miss inside the list is
		// mostly followed by an insert, whose Set walks the list anyway
		// (and finds it cache-warm after this search).
		return nil
	}
	if e != g.list.Front() {
		s.probe(g)
	}
	return e
}

// probe counts a search of g's list that found its key, and builds g's
// index when such searches get frequent: a cold search of a list of n keys
// costs about log2(n) cache misses, a hash probe a few. Readers may build
// (one at a time, while others keep searching the list); the finished map
// is published by an atomic store.
func (s *Store[V]) probe(g *sub) {
	n := g.list.Len()
	if n < probeMinLen || g.probes.Add(1) < int32(max(probeMin, n/32)) ||
		!g.building.CompareAndSwap(false, true) {
		return
	}
	m := make(map[string]*hs.Element, n)
	for x := g.list.Front(); x != nil; x = x.Next() {
		m[x.Key().(*node[V]).key] = x
	}
	g.index = m
	g.indexed.Store(true)
}

// elem returns the group of key (nil if none) and the element holding key
// (nil if none). The index check is repeated here so that lookups in an
// indexed group take no further call.
func (s *Store[V]) elem(key string) (*sub, *hs.Element) {
	g := s.group(s.prefix(key))
	if g == nil {
		return nil, nil
	}
	if g.indexed.Load() {
		return g, g.index[key]
	}
	return g, s.find(g, key)
}

// Get returns the value stored under key and whether the key is present.
func (s *Store[V]) Get(key string) (V, bool) {
	_, e := s.elem(key)
	if e == nil {
		var zero V
		return zero, false
	}
	return e.Key().(*node[V]).val, true
}

// GetPtr returns a pointer to the value stored under key, or nil if the
// key is absent. The pointer stays valid (and keeps the value alive) after
// the key is deleted; writes through it change the stored value without
// the Bytes accounting. A store of struct values thus costs one allocation
// per key, not two.
func (s *Store[V]) GetPtr(key string) *V {
	_, e := s.elem(key)
	if e == nil {
		return nil
	}
	return &e.Key().(*node[V]).val
}

// Put stores v under key. If the key was already present its value is
// replaced in place and the previous value is returned with replaced set.
func (s *Store[V]) Put(key string, v V) (old V, replaced bool) {
	p := s.prefix(key)
	g := s.group(p)
	if g == nil {
		g = s.newGroup(p)
	} else if e := s.find(g, key); e != nil {
		cur := e.Key().(*node[V])
		old, cur.val = cur.val, v
		s.bytes += s.sizeOf(v) - s.sizeOf(old)
		return old, true
	}
	s.last = g
	e := g.list.Set(&node[V]{key: key, val: v}, nil)
	if g.indexed.Load() {
		g.index[key] = e
	}
	if g.list.Len() >= g.grow {
		raiseLevel(g)
	}
	s.n++
	s.bytes += len(key) + s.sizeOf(v)
	return old, false
}

// raiseLevel lets g's towers grow with its list: the max level stays about
// log2(len)+2, enough for O(log n) searches, while small lists keep their
// searches from starting at 48 mostly empty levels.
func raiseLevel(g *sub) {
	n := g.list.Len()
	lvl := max(minLevel, bits.Len(uint(n))+2)
	if lvl > g.list.MaxLevel() {
		g.list.SetMaxLevel(lvl)
	}
	g.grow = 1 << (g.list.MaxLevel() - 1)
}

// newGroup creates the group of prefix p (reusing an emptied one if any).
func (s *Store[V]) newGroup(p string) *sub {
	var g *sub
	if k := len(s.free); k > 0 {
		g, s.free = s.free[k-1], s.free[:k-1]
	} else {
		if s.tmpl == nil {
			// Groups copy this list rather than calling hs.New, which seeds
			// a 5 KB math/rand source each time; one comparator and one
			// level source serve all groups.
			t := hs.New(s.ord)
			t.SetRandSource(&splitMix{state: 0x5eed ^ uint64(s.cut)})
			t.SetMaxLevel(minLevel)
			s.tmpl = t
		}
		g = &sub{list: *s.tmpl}
		g.list.Init() // a head of its own
	}
	// A copy of the prefix, not a slice of the first key: 10k small copies
	// stay cache-resident, while every first key's bytes would be a cache
	// miss on each group lookup.
	g.prefix = strings.Clone(p)
	g.grow = 1 << (g.list.MaxLevel() - 1)
	g.oe = s.order.Set(g, nil)
	s.subs[g.prefix] = g
	return g
}

// Delete removes key and returns the value it held, if it was present.
func (s *Store[V]) Delete(key string) (old V, ok bool) {
	g, e := s.elem(key)
	if e == nil {
		return old, false
	}
	old = e.Key().(*node[V]).val
	s.remove(g, e)
	return old, true
}

// remove unlinks e from its group g, drops g if emptied and keeps the counts
// in step.
func (s *Store[V]) remove(g *sub, e *hs.Element) {
	n := e.Key().(*node[V])
	g.list.RemoveElement(e)
	if g.indexed.Load() {
		delete(g.index, n.key)
	}
	s.last = g
	if g.list.Len() == 0 {
		delete(s.subs, g.prefix)
		s.order.RemoveElement(g.oe)
		s.last = nil
		g.prefix, g.oe = "", nil
		g.indexed.Store(false)
		g.index = nil
		g.probes.Store(0)
		g.building.Store(false)
		if len(s.free) < maxFree {
			s.free = append(s.free, g)
		}
	}
	s.n--
	s.bytes -= len(n.key) + s.sizeOf(n.val)
}

// seekGroup returns the order element of the first group whose prefix is
// >= p, or nil; like seekList, on the group order list.
func (s *Store[V]) seekGroup(p string) *hs.Element {
	sc := score(p)
	lt := func(e *hs.Element) bool {
		if es := e.Score(); es != sc {
			return es < sc
		}
		return e.Key().(*sub).prefix < p
	}
	e := s.order.Front()
	if e == nil || !lt(e) {
		return e
	}
	if lt(s.order.Back()) {
		return nil
	}
	for {
		nx := e.NextLevel(e.Level() - 1)
		if nx == nil || !lt(nx) {
			break
		}
		e = nx
	}
	for i := e.Level() - 2; i >= 0; i-- {
		for {
			nx := e.NextLevel(i)
			if nx == nil || !lt(nx) {
				break
			}
			e = nx
		}
	}
	return e.Next()
}

// Seek returns an iterator positioned at the first key >= key (invalid if
// there is none).
func (s *Store[V]) Seek(key string) Iter[V] {
	it := Iter[V]{s: s}
	p := s.prefix(key)
	if g := s.group(p); g != nil {
		it.g = g.oe
		if it.e = seekList[V](&g.list, key, s.ord.keyScore(key)); it.e == nil {
			it.nextGroup()
		}
		return it
	}
	// No group has key's prefix: every key of a group with a larger prefix
	// is larger than key, and every key of a smaller one is smaller.
	if it.g = s.seekGroup(p); it.g != nil {
		it.e = it.g.Key().(*sub).list.Front()
	}
	return it
}

// First returns an iterator positioned at the smallest key (invalid if the
// store is empty).
func (s *Store[V]) First() Iter[V] {
	it := Iter[V]{s: s, g: s.order.Front()}
	if it.g != nil {
		it.e = it.g.Key().(*sub).list.Front()
	}
	return it
}

// Count returns the number of keys k with first <= k < last. It walks the
// range, so it costs O(log n + count). If last <= first it returns 0.
func (s *Store[V]) Count(first, last string) int {
	if last <= first {
		return 0
	}
	c := 0
	it := s.Seek(first)
	for it.e != nil {
		g := it.g.Key().(*sub)
		switch s.bound(g, last) {
		case boundAll:
			for e := it.e; e != nil; e = e.Next() {
				c++
			}
		case boundNone:
			return c
		default: // boundIn: last shares g's prefix; no later key is < last
			// Seek last too (both mostly lie near the end of g, where the
			// search is short and its path is cached by the first), then
			// count back from it: a predecessor link is a field of the
			// element, while a successor link also needs a read of its
			// level slice.
			e := seekList[V](&g.list, last, s.ord.keyScore(last))
			if e == nil {
				c++
				e = g.list.Back()
			}
			for ; e != it.e; e = e.Prev() {
				c++
			}
			return c
		}
		it.nextGroup()
	}
	return c
}

// Relations of a bound key to a group's keys; see bound.
const (
	boundIn   = iota // last sorts among g's keys; every later group's are > last
	boundAll         // every key of g is < last
	boundNone        // every key of g is >= last
)

// bound tells how the exclusive upper bound last relates to the keys of
// group g, all of which start with g.prefix, so that walks need compare
// keys with last only in the group that last splits, and there by score
// first (last then shares the group's prefix, so keyScore(last) is in the
// list's terms).
func (s *Store[V]) bound(g *sub, last string) int {
	p := g.prefix
	if !strings.HasPrefix(last, p) {
		// last differs from p within len(p) bytes (or is a proper prefix of
		// p, hence smaller): every key with prefix p is on one side.
		if last < p {
			return boundNone
		}
		return boundAll
	}
	if len(p) < s.cut {
		// A group of one key shorter than cut: p itself.
		if p < last {
			return boundAll
		}
		return boundNone
	}
	// last has the full cut prefix p: a later group's prefix is > p, and
	// differs from p (so from last) within cut bytes, so all its keys are
	// > last.
	return boundIn
}

// Range calls fn for each key k with first <= k < last, in ascending order,
// and stops early when fn returns false. If last <= first it calls nothing.
// fn must not modify the store.
func (s *Store[V]) Range(first, last string, fn func(key string, v V) bool) {
	s.RangePtr(first, last, func(k string, v *V) bool { return fn(k, *v) })
}

// RangePtr is Range with pointers to the values (see GetPtr).
func (s *Store[V]) RangePtr(first, last string, fn func(key string, v *V) bool) {
	if last <= first {
		return
	}
	it := s.Seek(first)
	for it.e != nil {
		g := it.g.Key().(*sub)
		switch s.bound(g, last) {
		case boundAll:
			for e := it.e; e != nil; e = e.Next() {
				n := e.Key().(*node[V])
				if !fn(n.key, &n.val) {
					return
				}
			}
		case boundNone:
			return
		default:
			sc := s.ord.keyScore(last)
			for e := it.e; e != nil && less[V](e, last, sc); e = e.Next() {
				n := e.Key().(*node[V])
				if !fn(n.key, &n.val) {
					return
				}
			}
			return
		}
		it.nextGroup()
	}
}

// Iter is a forward cursor over a Store, in ascending key order. It is a
// small value; copying it copies the position. The zero Iter is invalid.
//
// The store must not be modified while an Iter is in use except through that
// Iter's Remove and SetValue.
type Iter[V any] struct {
	s *Store[V]
	g *hs.Element // the current group in s.order
	e *hs.Element // the current element of that group
}

// nextGroup moves to the first element of the next group.
func (it *Iter[V]) nextGroup() {
	it.e = nil
	for it.g != nil && it.e == nil {
		it.g = it.g.Next()
		if it.g != nil {
			it.e = it.g.Key().(*sub).list.Front()
		}
	}
}

// Valid reports whether the iterator is positioned at an element.
func (it *Iter[V]) Valid() bool { return it.e != nil }

// Key returns the current key, or "" if the iterator is not valid.
func (it *Iter[V]) Key() string {
	if it.e == nil {
		return ""
	}
	return it.e.Key().(*node[V]).key
}

// Value returns the current value, or the zero V if the iterator is not valid.
func (it *Iter[V]) Value() V {
	if it.e == nil {
		var zero V
		return zero
	}
	return it.e.Key().(*node[V]).val
}

// Ptr returns a pointer to the current value (see GetPtr), or nil if the
// iterator is not valid.
func (it *Iter[V]) Ptr() *V {
	if it.e == nil {
		return nil
	}
	return &it.e.Key().(*node[V]).val
}

// SetValue replaces the current element's value in place, keeping the
// store's Bytes accounting right. It panics if the iterator is not valid.
func (it *Iter[V]) SetValue(v V) {
	if it.e == nil {
		panic("skiplist: SetValue on invalid Iter")
	}
	n := it.e.Key().(*node[V])
	it.s.bytes += it.s.sizeOf(v) - it.s.sizeOf(n.val)
	n.val = v
}

// Remove deletes the current element from the store and advances to the next
// one. It panics if the iterator is not valid.
func (it *Iter[V]) Remove() {
	if it.e == nil {
		panic("skiplist: Remove on invalid Iter")
	}
	e, g := it.e, it.g.Key().(*sub)
	it.Next() // move off first: removing may drop the current group
	it.s.remove(g, e)
}

// Next advances to the next key. It does nothing if the iterator is not
// valid.
func (it *Iter[V]) Next() {
	if it.e == nil {
		return
	}
	if it.e = it.e.Next(); it.e == nil {
		it.nextGroup()
	}
}

// splitMix is a small, fast rand.Source64 for the skip list's level choice
// (huandu's default is a 5 KB math/rand source per list).
type splitMix struct{ state uint64 }

var _ rand.Source64 = (*splitMix)(nil)

// Uint64 returns the next splitmix64 output.
func (r *splitMix) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Int63 returns a non-negative 63-bit value.
func (r *splitMix) Int63() int64 { return int64(r.Uint64() >> 1) }

// Seed resets the generator.
func (r *splitMix) Seed(seed int64) { r.state = uint64(seed) }
