// Package skiplist owns Pequod-Go's ordered byte-string store: an ordered map
// from binary keys to values, on which the join engine keeps every table.
//
// Keys are arbitrary byte strings held in Go strings. They compare as raw
// bytes, unsigned and lexicographically, with a proper prefix sorting first:
// exactly Go's string < operator. NUL and 0xFF bytes, big-endian binary ids
// and the empty key are all ordinary keys.
//
// # Layout
//
// A store is an unrolled skip list, split into subtables:
//
//   - Groups. Keys are grouped by their first cut bytes (SetCut; cut 0 puts
//     every key in one group). A hash map finds a group by prefix, and a
//     github.com/huandu/skiplist list orders the groups by prefix.
//   - Blocks. Each group is a huandu list of blocks. A block holds up to
//     blockMax (64) entries in key order, as an array of 8-byte slots, and a
//     separator sep, fixed when the block is made: every key of the block
//     is >= sep, and < the next block's sep. A group's first block has sep
//     "" and lives as long as the group, so a key below every separator
//     still has a home, and no block ever changes its place in the list.
//     huandu orders the blocks by sep, with a score (its float64 ordering
//     hint): an order-preserving float64 of the separator's first bytes
//     after the group prefix (about 15 decimal digits or 6 other bytes; see
//     textScore), so finding a key's block rarely reads separator bytes.
//     A full block splits in half, or, when the new key goes past its last
//     key, starts a new block (so keys arriving in order fill blocks
//     completely); a block that falls under blockMax/4 entries merges with
//     a neighbour when the two fit in 3/4 of a block.
//   - Slots. A slot is an entry id and a 32-bit fingerprint of the key that
//     orders as the keys do: the bits of the key's textBits code that
//     follow the prefix all the block's codes share. A search within a
//     block is a binary search of its slot array that reads a key only
//     where fingerprints tie (see search).
//   - Entries. Key and value pairs live in slabs of 64 (slab.go), never
//     move, and are named by a 4-byte id; freed ids are reused.
//   - Index. A group whose lookups keep finding keys inside it gets a hash
//     index of key -> id (index.go), built on demand by whichever reader
//     first needs it.
//
// A key thus costs its entry (a string header and the value), its slot, and
// its share of a block (a huandu element, the block header and the unused
// part of its array) and of its group: 32 to 36 bytes besides the key's
// bytes and the value on stores of a million keys (mem_test.go), where a
// huandu element and a node per key cost about 130.
//
// # Pointers
//
// GetPtr, Iter.Ptr and RangePtr return pointers into the slabs. A pointer
// returned for key k stays valid, and keeps k's value, until k is deleted,
// whatever else happens to the store meanwhile (other Puts and Deletes,
// splits, merges, SetCut). After Delete(k) or Iter.Remove on k, the old
// pointer still reads k's last value until the next Put on that store,
// which may reuse or clear the entry; writes through it after the delete
// are lost.
//
// # Concurrency
//
// A Store is not safe for concurrent mutation. Any number of goroutines may
// read it at once (Get, GetPtr, Seek, First, Count, Range, RangePtr and
// iteration) as long as none modifies it; a reader may build a group's
// index, race-free (see probe).
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

// node is one entry: the key and its value. Nodes live in slabs (slab.go).
type node[V any] struct {
	key string
	val V
}

const (
	// blockMax is the most entries a block holds.
	blockMax = 64
	// blockMin: a block with fewer entries merges with a neighbour if the
	// two fit in mergeMax.
	blockMin = blockMax / 4
	mergeMax = blockMax * 3 / 4
	// minBlockCap is the capacity of a new block's slot array; it doubles up
	// to blockMax as the block fills, so small groups stay small.
	minBlockCap = 4
)

// block is a run of consecutive entries of one group. It is the key of its
// element in the group's huandu list (the element's Value is nil).
//
// A slot is fp<<32 | id: the entry's id, and a fingerprint of its key that
// orders as the keys do (non-strictly), so a search of the block reads
// the slot array and, mostly, no key. Every key of the block has a code
// (its textBits after the group prefix, blockOrder.code) whose first skip
// bits are base's; its fingerprint is the next 32 bits of the code. A key
// whose code leaves that prefix lowers skip, and the fingerprints are
// recomputed from base and themselves (rebase), without reading keys.
type block struct {
	sep   string      // lower bound of the keys; immutable; "" in a first block
	slots []uint64    // fp<<32 | id, in key order; never empty but briefly
	e     *hs.Element // the block's element
	base  uint64      // the code bits all keys share: the first skip bits
	skip  int         // 0..64
}

func slotID(v uint64) uint32 { return uint32(v) }
func slotFP(v uint64) uint32 { return uint32(v >> 32) }

// prefixMask has the first k of 64 bits set.
func prefixMask(k int) uint64 { return ^uint64(0) << (64 - k) }

// fpOf returns the fingerprint of code c in b, whose prefix c must share.
func (b *block) fpOf(c uint64) uint32 { return uint32(c << b.skip >> 32) }

// fit prepares b for a key of code c: an empty block takes c as its
// prefix, a code off the prefix shortens it.
func (b *block) fit(c uint64) {
	if len(b.slots) == 0 {
		b.base, b.skip = c, 64
	} else if d := (c ^ b.base) & prefixMask(b.skip); d != 0 {
		b.rebase(bits.LeadingZeros64(d))
	}
}

// rebase shortens b's prefix to k bits. A fingerprint holds code bits
// [skip, skip+32), and base the bits before: together bits [0, skip+32),
// which contain the new window [k, k+32).
func (b *block) rebase(k int) {
	if k >= b.skip {
		return
	}
	for i, v := range b.slots {
		c := b.base | uint64(slotFP(v))<<32>>b.skip
		b.slots[i] = uint64(uint32(c<<k>>32))<<32 | uint64(slotID(v))
	}
	b.base &= prefixMask(k)
	b.skip = k
}

// blockOrder is the huandu Comparable of a store's block lists: blocks
// compare by separator. Every key of one group shares its first off bytes
// (the subtable prefix; a key shorter than that is alone in its group), so
// the score is computed from the bytes after them.
type blockOrder struct{ off int }

// Compare orders blocks bytewise by separator, as Go's string comparison does.
func (*blockOrder) Compare(lhs, rhs any) int {
	return strings.Compare(lhs.(*block).sep, rhs.(*block).sep)
}

// CalcScore returns the block's score within its list; see code.
func (o *blockOrder) CalcScore(key any) float64 { return scoreOf(o.code(key.(*block).sep)) }

// code is textBits of the key without the list's shared prefix. Dropping a
// common prefix preserves the order of the keys that share it, and ""
// (a first block's separator) codes lowest.
func (o *blockOrder) code(k string) uint64 {
	return textBits(k[min(o.off, len(k)):])
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

// textScore is the score of the block lists: textBits as an
// order-preserving float64 (see scoreOf). Like score it keeps the key's
// first 62 bits, but of the key's bytes encoded by textCode rather than of
// the raw bytes, so a key made of decimal digits has about 15 of them in its
// score instead of 8. Keys that hold decimal ids and times (the text
// workloads' keys) then rarely share a score, and comparisons rarely read
// key bytes; other bytes take 10 bits, so about 6 of them count.
func textScore(k string) float64 { return scoreOf(textBits(k)) }

// textBits is the key's bytes encoded by textCode, truncated to 64 bits and
// zero-padded. An alphabetic prefix-free code maps bytewise order to
// bitwise order of the encodings (a key that is a proper prefix of another
// encodes as a prefix of its encoding), and truncating and zero-padding
// keeps that order non-strict: k1 < k2 implies textBits(k1) <=
// textBits(k2). So textBits(k1) < textBits(k2) proves k1 < k2, and blocks
// keep windows of these bits as fingerprints of their keys (see search).
func textBits(k string) uint64 {
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
	return x
}

// scoreOf maps 64 order-preserving bits to a float64 that orders as their
// first 62: x>>2 + 2^52 lies in [2^52, 2^62+2^52), where reading the bits
// as a float64 gives positive normal finite numbers in the same order.
func scoreOf(x uint64) float64 { return math.Float64frombits(x>>2 + 1<<52) }

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
// grouped by their first cut bytes, each group in a list of blocks of its
// own, with an ordered list of the groups' prefixes on top. A key shorter
// than cut is a group by itself. Every key of a group sorts after every key
// of a smaller prefix, so walking the groups in prefix order and each group
// in key order is exactly bytewise order. Inserting into a small group is
// far cheaper than into one huge list.
//
// Point operations find the group through a hash map of prefixes, then
// answer a key past the group's last one (the usual new key) in O(1) and
// otherwise search the group's blocks, then the block. A group whose
// searches keep finding present keys gets a hash index of its own (see
// probe), so random lookups of present keys cost a hash probe, while groups
// that only see appends (and lookups of new keys) pay no index upkeep.
type Store[V any] struct {
	cut   int
	ord   *blockOrder     // comparator of the block lists
	tmpl  *hs.SkipList    // empty list new groups copy (nil until needed)
	subs  map[string]*sub // prefix -> group
	order *hs.SkipList    // groups by prefix (keys are *sub)
	last  *sub            // the group the last Put or Delete touched
	free  []*sub          // emptied groups kept for reuse
	ents  slabs[V]        // the entries
	size  func(V) int
	bytes int
	n     int
}

// sub is one group of keys sharing a cut-byte prefix.
type sub struct {
	list   hs.SkipList // the group's blocks; their elements point at it
	prefix string
	oe     *hs.Element // the group's element in Store.order
	grow   int         // block count at which to raise the list's max level
	n      int         // keys in the group

	// index maps key -> id once indexed is set. A reader may build it: it
	// sets index and then indexed, so readers that see indexed (an atomic
	// load) see the whole table; only mutations change it after.
	index    index
	indexed  atomic.Bool
	probes   atomic.Int32 // searches that found their key, so far
	building atomic.Bool  // one searcher won the right to build index
}

const (
	// probeMinLen and probeMin: a group of at least probeMinLen keys gets
	// a hash index once searches of its blocks have found a key
	// max(probeMin, len/32) times. Smaller groups are searched in a few
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
		ord:   &blockOrder{},
		subs:  map[string]*sub{},
		order: newList(orderTmpl(), &splitMix{state: 0x5eed}),
		size:  size,
	}
}

// SetCut splits the store into subtables by the first cut bytes of each key
// (0: one table). Existing keys are regrouped in O(n); their entries stay
// where they are, so pointers to values stay valid.
func (s *Store[V]) SetCut(cut int) {
	if cut < 0 {
		cut = 0
	}
	if cut == s.cut {
		return
	}
	ids := make([]uint32, 0, s.n)
	for it := s.First(); it.Valid(); it.Next() {
		ids = append(ids, slotID(it.b.slots[it.i]))
	}
	s.cut = cut
	s.ord = &blockOrder{off: cut}
	s.tmpl = nil
	s.subs = map[string]*sub{}
	s.order = newList(orderTmpl(), &splitMix{state: 0x5eed})
	s.last = nil
	s.free = nil
	// In key order every key goes past its group's last one: an append.
	for _, id := range ids {
		key := s.ents.node(id).key
		p := s.prefix(key)
		g := s.group(p)
		if g == nil {
			g = s.newGroup(p)
		}
		s.last = g
		b := g.list.Back().Key().(*block)
		s.insertAt(g, b, len(b.slots), id, key, s.ord.code(key))
		g.n++
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

// blockOf returns the block of element e.
func blockOf(e *hs.Element) *block { return e.Key().(*block) }

// sepLE reports whether the separator of block element e is <= key, whose
// score is sc.
func sepLE(e *hs.Element, key string, sc float64) bool {
	if es := e.Score(); es != sc {
		return es < sc
	}
	return blockOf(e).sep <= key
}

// blockFor returns the block of group g where key belongs: the last one
// whose separator is <= key (the first block's "" always is). It walks
// huandu's element links itself, so it boxes nothing and compares scores
// inline. A key at or past the last block's separator (new keys appended,
// timeline tails) is answered in O(1). Otherwise it is a finger search from
// the back: it climbs back along each element's top level (PrevLevel of the
// top level is a field read) while that stays > key, to an element x whose
// predecessor at that level, p, is <= key, and then searches forward from p
// below x's top level: O(log d) steps for a block d blocks from the end. If
// the climb reaches the first element of its height, the search continues
// from the front the same way.
func blockFor(g *sub, key string, sc float64) *block {
	x := g.list.Back()
	if sepLE(x, key, sc) {
		return blockOf(x)
	}
	var p *hs.Element
	for {
		p = x.PrevLevel(x.Level() - 1)
		if p == nil || sepLE(p, key, sc) {
			break
		}
		x = p
	}
	if p == nil {
		return blockFront(g, key, sc)
	}
	// p <= key < x, and p.NextLevel(x.Level()-1) == x: search down from p.
	e := p
	for i := x.Level() - 2; i >= 0; i-- {
		for {
			nx := e.NextLevel(i)
			if nx == x || !sepLE(nx, key, sc) {
				break
			}
			e = nx
		}
	}
	return blockOf(e)
}

// blockFront is blockFor searching from the front: along each element's top
// level while that stays <= key, then down.
func blockFront(g *sub, key string, sc float64) *block {
	e := g.list.Front() // separator "": <= key
	for {
		nx := e.NextLevel(e.Level() - 1)
		if nx == nil || !sepLE(nx, key, sc) {
			break
		}
		e = nx
	}
	for i := e.Level() - 2; i >= 0; i-- {
		for {
			nx := e.NextLevel(i)
			if nx == nil || !sepLE(nx, key, sc) {
				break
			}
			e = nx
		}
	}
	return blockOf(e)
}

// search returns the position in b of the first key >= key, whose code
// is c (len(b.slots) if none), and whether that key is key. It compares
// fingerprints and reads keys only among slots whose fingerprint ties with
// key's. A key past the block's last one (the usual new key) costs one
// comparison.
func (s *Store[V]) search(b *block, key string, c uint64) (int, bool) {
	sl := b.slots
	n := len(sl)
	if n == 0 {
		return 0, false
	}
	if (c^b.base)&prefixMask(b.skip) != 0 {
		// key's code leaves the prefix every key of b shares.
		if c < b.base {
			return 0, false
		}
		return n, false
	}
	q := b.fpOf(c)
	if slotFP(sl[n-1]) < q {
		return n, false
	}
	lo, hi := 0, n-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if slotFP(sl[m]) < q {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if slotFP(sl[lo]) != q {
		return lo, false
	}
	// Fingerprints tie over [lo, end): compare keys there.
	end := lo + 1
	for end < n && slotFP(sl[end]) == q {
		end++
	}
	for hi = end; lo < hi; {
		m := int(uint(lo+hi) >> 1)
		if s.ents.node(slotID(sl[m])).key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < end && s.ents.node(slotID(sl[lo])).key == key
}

// locate returns the block of g where key belongs, the position of the
// first key >= key in it, whether that key is key, and key's code.
func (s *Store[V]) locate(g *sub, key string) (b *block, i int, found bool, c uint64) {
	c = s.ord.code(key)
	b = blockFor(g, key, scoreOf(c))
	i, found = s.search(b, key, c)
	return b, i, found, c
}

// find returns the id of key in group g. The group's index answers if it
// has one. Otherwise a key past the group's last one (the usual new key)
// costs two comparisons, and other keys a search of the group's blocks and
// of one block. Concurrent readers may call find.
func (s *Store[V]) find(g *sub, key string) (uint32, bool) {
	if g.indexed.Load() {
		return lookup(&g.index, &s.ents, key)
	}
	b, i, found, _ := s.locate(g, key)
	if !found {
		// Misses do not count towards an index: a miss inside the group is
		// mostly followed by an insert, which needs the block anyway.
		return 0, false
	}
	if i < len(b.slots)-1 || b.e.Next() != nil {
		s.probe(g)
	}
	return slotID(b.slots[i]), true
}

// probe counts a search of g that found its key, and builds g's index when
// such searches get frequent: a cold search of a group costs a few cache
// misses per level of its list and per step of the block's binary search, a
// hash probe about three. Readers may build (one at a time, while others
// keep searching); the finished table is published by an atomic store.
func (s *Store[V]) probe(g *sub) {
	n := g.n
	if n < probeMinLen || g.probes.Add(1) < int32(max(probeMin, n/32)) ||
		!g.building.CompareAndSwap(false, true) {
		return
	}
	x := newIndex(n)
	for e := g.list.Front(); e != nil; e = e.Next() {
		for _, v := range blockOf(e).slots {
			x.add(s.ents.node(slotID(v)).key, slotID(v))
		}
	}
	g.index = x
	g.indexed.Store(true)
}

// lookup returns the id of key, if present.
func (s *Store[V]) lookup(key string) (uint32, bool) {
	g := s.group(s.prefix(key))
	if g == nil {
		return 0, false
	}
	if g.indexed.Load() {
		return lookup(&g.index, &s.ents, key)
	}
	return s.find(g, key)
}

// Get returns the value stored under key and whether the key is present.
func (s *Store[V]) Get(key string) (V, bool) {
	id, ok := s.lookup(key)
	if !ok {
		var zero V
		return zero, false
	}
	return s.ents.node(id).val, true
}

// GetPtr returns a pointer to the value stored under key, or nil if the
// key is absent. Writes through it change the stored value without the
// Bytes accounting. The package comment says how long it stays valid.
func (s *Store[V]) GetPtr(key string) *V {
	id, ok := s.lookup(key)
	if !ok {
		return nil
	}
	return &s.ents.node(id).val
}

// Put stores v under key. If the key was already present its value is
// replaced in place and the previous value is returned with replaced set.
func (s *Store[V]) Put(key string, v V) (old V, replaced bool) {
	p := s.prefix(key)
	g := s.group(p)
	var b *block
	var i int
	var c uint64
	if g == nil {
		g = s.newGroup(p)
		b = blockOf(g.list.Front())
		c = s.ord.code(key)
	} else {
		var id uint32
		found := false
		if g.indexed.Load() {
			if id, found = lookup(&g.index, &s.ents, key); !found {
				b, i, _, c = s.locate(g, key)
			}
		} else if b, i, found, c = s.locate(g, key); found {
			id = slotID(b.slots[i])
			if i < len(b.slots)-1 || b.e.Next() != nil {
				s.probe(g)
			}
		}
		if found {
			if s.ents.unclr > 0 {
				s.ents.clear()
			}
			cur := s.ents.node(id)
			old, cur.val = cur.val, v
			s.bytes += s.sizeOf(v) - s.sizeOf(old)
			return old, true
		}
	}
	s.last = g
	id := s.ents.alloc(key, v)
	s.insertAt(g, b, i, id, key, c)
	if g.indexed.Load() {
		g.index.add(key, id)
	}
	g.n++
	s.n++
	s.bytes += len(key) + s.sizeOf(v)
	return old, false
}

// insertAt puts id (of key, with code c) at position i of g's block b,
// splitting b if it is full.
func (s *Store[V]) insertAt(g *sub, b *block, i int, id uint32, key string, c uint64) {
	n := len(b.slots)
	if n == blockMax {
		if i == n {
			// Past the last key of a full block: a block of its own, so
			// keys arriving in order leave full blocks behind.
			nb := &block{sep: key, slots: make([]uint64, 1, minBlockCap), base: c, skip: 64}
			nb.slots[0] = uint64(id)
			s.link(g, nb)
			return
		}
		h := n / 2
		nb := &block{
			sep:   s.ents.node(slotID(b.slots[h])).key,
			slots: make([]uint64, n-h, blockMax),
			base:  b.base, skip: b.skip,
		}
		copy(nb.slots, b.slots[h:])
		clear(b.slots[h:])
		b.slots = b.slots[:h]
		s.link(g, nb)
		if i > h {
			b, i = nb, i-h
		}
		n = len(b.slots)
	}
	b.fit(c)
	if n == cap(b.slots) {
		sl := make([]uint64, n, min(blockMax, max(minBlockCap, 2*n)))
		copy(sl, b.slots)
		b.slots = sl
	}
	b.slots = b.slots[:n+1]
	copy(b.slots[i+1:], b.slots[i:n])
	b.slots[i] = uint64(b.fpOf(c))<<32 | uint64(id)
}

// link adds block nb to g's list.
func (s *Store[V]) link(g *sub, nb *block) {
	nb.e = g.list.Set(nb, nil)
	if g.list.Len() >= g.grow {
		raiseLevel(g)
	}
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

// newGroup creates the group of prefix p (reusing an emptied one if any),
// with its first block, empty.
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
	s.link(g, &block{slots: make([]uint64, 0, minBlockCap)})
	return g
}

// Delete removes key and returns the value it held, if it was present.
func (s *Store[V]) Delete(key string) (old V, ok bool) {
	g := s.group(s.prefix(key))
	if g == nil {
		return old, false
	}
	if g.indexed.Load() {
		if _, ok := lookup(&g.index, &s.ents, key); !ok {
			return old, false
		}
	}
	b, i, found, _ := s.locate(g, key)
	if !found {
		return old, false
	}
	old = s.ents.node(slotID(b.slots[i])).val
	s.removeAt(g, b, i)
	return old, true
}

// removeAt deletes the entry at position i of g's block b, drops g if that
// emptied it, and rebalances b with a neighbour. It returns the position of
// the next key of g (nil if there is none; merges may move it).
func (s *Store[V]) removeAt(g *sub, b *block, i int) (*block, int) {
	id := slotID(b.slots[i])
	n := s.ents.node(id)
	if g.indexed.Load() {
		g.index.remove(n.key, id)
	}
	s.n--
	s.bytes -= len(n.key) + s.sizeOf(n.val)
	g.n--
	s.ents.release(id, s.n) // n stays readable until the next Put
	copy(b.slots[i:], b.slots[i+1:])
	b.slots = b.slots[:len(b.slots)-1]
	s.last = g
	if g.n == 0 {
		s.dropGroup(g)
		return nil, 0
	}
	if len(b.slots) < blockMin {
		b, i = s.rebalance(g, b, i)
	}
	if i == len(b.slots) {
		nx := b.e.Next()
		if nx == nil {
			return nil, 0
		}
		return blockOf(nx), 0
	}
	return b, i
}

// rebalance merges block b, which fell under blockMin entries, with a
// neighbour if they fit in mergeMax together, or drops it if it is empty.
// It returns where position i of b went. A first block keeps its place:
// an emptied one takes over its successor's entries instead.
func (s *Store[V]) rebalance(g *sub, b *block, i int) (*block, int) {
	first := b.e.Prev() == nil
	if nx := b.e.Next(); nx != nil {
		nb := blockOf(nx)
		if len(b.slots)+len(nb.slots) <= mergeMax || first && len(b.slots) == 0 {
			// nb's keys follow b's: b absorbs them, b's separator covers
			// them.
			merge(b, nb)
			g.list.RemoveElement(nx)
			return b, i
		}
	}
	if first {
		return b, i
	}
	pv := blockOf(b.e.Prev())
	if len(pv.slots)+len(b.slots) <= mergeMax || len(b.slots) == 0 {
		k := len(pv.slots)
		merge(pv, b)
		g.list.RemoveElement(b.e)
		return pv, k + i
	}
	return b, i
}

// merge appends the slots of b, whose keys follow a's, to a (together at
// most blockMax), on the prefix both share.
func merge(a, b *block) {
	switch {
	case len(b.slots) == 0:
		return
	case len(a.slots) == 0:
		a.slots, a.base, a.skip = b.slots, b.base, b.skip
		b.slots = nil
		return
	}
	k := min(a.skip, b.skip, bits.LeadingZeros64(a.base^b.base))
	a.rebase(k)
	b.rebase(k)
	n := len(a.slots) + len(b.slots)
	if n > cap(a.slots) {
		sl := make([]uint64, len(a.slots), min(blockMax, max(minBlockCap, 2*n)))
		copy(sl, a.slots)
		a.slots = sl
	}
	a.slots = append(a.slots, b.slots...)
}

// dropGroup removes the emptied group g.
func (s *Store[V]) dropGroup(g *sub) {
	delete(s.subs, g.prefix)
	s.order.RemoveElement(g.oe)
	s.last = nil
	g.list.Init()
	g.prefix, g.oe, g.n = "", nil, 0
	g.indexed.Store(false)
	g.index = index{}
	g.probes.Store(0)
	g.building.Store(false)
	if len(s.free) < maxFree {
		s.free = append(s.free, g)
	}
}

// seekGroup returns the order element of the first group whose prefix is
// >= p, or nil; a finger search from the front of the group order list.
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
		it.b, it.i, _, _ = s.locate(g, key)
		if it.i == len(it.b.slots) {
			it.nextBlock()
		}
		return it
	}
	// No group has key's prefix: every key of a group with a larger prefix
	// is larger than key, and every key of a smaller one is smaller.
	if it.g = s.seekGroup(p); it.g != nil {
		it.b = firstBlock(it.g)
	}
	return it
}

// firstBlock returns the first block of the group of order element ge.
func firstBlock(ge *hs.Element) *block { return blockOf(ge.Key().(*sub).list.Front()) }

// First returns an iterator positioned at the smallest key (invalid if the
// store is empty).
func (s *Store[V]) First() Iter[V] {
	it := Iter[V]{s: s, g: s.order.Front()}
	if it.g != nil {
		it.b = firstBlock(it.g)
	}
	return it
}

// Count returns the number of keys k with first <= k < last. It walks the
// range a block at a time, so it costs O(log n + count/blockMax). If last <=
// first it returns 0.
func (s *Store[V]) Count(first, last string) int {
	if last <= first {
		return 0
	}
	c := 0
	it := s.Seek(first)
	for it.b != nil {
		g := it.g.Key().(*sub)
		switch s.bound(g, last) {
		case boundAll:
			if it.i == 0 && it.b.e.Prev() == nil {
				c += g.n
			} else {
				c += len(it.b.slots) - it.i
				for e := it.b.e.Next(); e != nil; e = e.Next() {
					c += len(blockOf(e).slots)
				}
			}
		case boundNone:
			return c
		default: // boundIn: last shares g's prefix; no later key is < last
			b, i := it.b, it.i
			lc := s.ord.code(last)
			sc := scoreOf(lc)
			for {
				nx := b.e.Next()
				if nx == nil || !sepLE(nx, last, sc) {
					// last falls in b.
					if j, _ := s.search(b, last, lc); j > i {
						c += j - i
					}
					return c
				}
				// Every key of b is < the next separator <= last.
				c += len(b.slots) - i
				b, i = blockOf(nx), 0
			}
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
// first (last then shares the group's prefix, so code(last) is in the
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
	for it.b != nil {
		g := it.g.Key().(*sub)
		switch s.bound(g, last) {
		case boundAll:
			for b, i := it.b, it.i; ; {
				for _, v := range b.slots[i:] {
					n := s.ents.node(slotID(v))
					if !fn(n.key, &n.val) {
						return
					}
				}
				nx := b.e.Next()
				if nx == nil {
					break
				}
				b, i = blockOf(nx), 0
			}
		case boundNone:
			return
		default:
			lc := s.ord.code(last)
			sc := scoreOf(lc)
			for b, i := it.b, it.i; ; {
				nx := b.e.Next()
				end := len(b.slots)
				if nx == nil || !sepLE(nx, last, sc) {
					end, _ = s.search(b, last, lc) // last falls in b
				}
				for j := i; j < end; j++ {
					n := s.ents.node(slotID(b.slots[j]))
					if !fn(n.key, &n.val) {
						return
					}
				}
				if end < len(b.slots) || nx == nil {
					return
				}
				b, i = blockOf(nx), 0
			}
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
	b *block      // the current block of that group; nil: invalid
	i int         // the position in b
}

// nextBlock moves to the first key of the next block, or of the next group.
func (it *Iter[V]) nextBlock() {
	if nx := it.b.e.Next(); nx != nil {
		it.b, it.i = blockOf(nx), 0
		return
	}
	it.nextGroup()
}

// nextGroup moves to the first key of the next group.
func (it *Iter[V]) nextGroup() {
	it.b, it.i = nil, 0
	if it.g = it.g.Next(); it.g != nil {
		it.b = firstBlock(it.g)
	}
}

// Valid reports whether the iterator is positioned at an element.
func (it *Iter[V]) Valid() bool { return it.b != nil }

// Key returns the current key, or "" if the iterator is not valid.
func (it *Iter[V]) Key() string {
	if it.b == nil {
		return ""
	}
	return it.s.ents.node(slotID(it.b.slots[it.i])).key
}

// Value returns the current value, or the zero V if the iterator is not valid.
func (it *Iter[V]) Value() V {
	if it.b == nil {
		var zero V
		return zero
	}
	return it.s.ents.node(slotID(it.b.slots[it.i])).val
}

// Ptr returns a pointer to the current value (see GetPtr), or nil if the
// iterator is not valid.
func (it *Iter[V]) Ptr() *V {
	if it.b == nil {
		return nil
	}
	return &it.s.ents.node(slotID(it.b.slots[it.i])).val
}

// SetValue replaces the current element's value in place, keeping the
// store's Bytes accounting right. It panics if the iterator is not valid.
func (it *Iter[V]) SetValue(v V) {
	if it.b == nil {
		panic("skiplist: SetValue on invalid Iter")
	}
	n := it.s.ents.node(slotID(it.b.slots[it.i]))
	it.s.bytes += it.s.sizeOf(v) - it.s.sizeOf(n.val)
	n.val = v
}

// Remove deletes the current element from the store and advances to the next
// one. It panics if the iterator is not valid.
func (it *Iter[V]) Remove() {
	if it.b == nil {
		panic("skiplist: Remove on invalid Iter")
	}
	g := it.g.Key().(*sub)
	if g.n == 1 {
		// Removing drops the group: move off it first.
		b, i := it.b, it.i
		it.nextGroup()
		it.s.removeAt(g, b, i)
		return
	}
	if it.b, it.i = it.s.removeAt(g, it.b, it.i); it.b == nil {
		it.nextGroup()
	}
}

// Next advances to the next key. It does nothing if the iterator is not
// valid.
func (it *Iter[V]) Next() {
	if it.b == nil {
		return
	}
	if it.i++; it.i == len(it.b.slots) {
		it.nextBlock()
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
