// Package skiplist owns Pequod-Go's ordered byte-string store: an ordered map
// from binary keys to values, on which the join engine keeps every table.
//
// Keys are arbitrary byte strings held in Go strings. They compare as raw
// bytes, unsigned and lexicographically, with a proper prefix sorting first:
// exactly Go's string < operator. NUL and 0xFF bytes, big-endian binary ids
// and the empty key are all ordinary keys.
//
// The store is built on github.com/huandu/skiplist with a comparator of its
// own: a key's score (huandu's float64 ordering hint) is its first 53 bits
// read big-endian, which a float64 holds exactly, so the score never
// disagrees with bytewise order.
//
// A Store is not safe for concurrent mutation. Any number of goroutines may
// read it at once (Get, Seek, First, Count, Range and iteration) as long as
// none modifies it.
package skiplist

import (
	"math/rand"
	"strings"

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

// byteOrder is the huandu Comparable for Store keys. The stored key of every
// element is a *node[V]; a probe key is either a *node[V] (Put) or a string
// (lookups).
type byteOrder[V any] struct{}

// keyOf returns the byte string held by a probe or stored key.
func keyOf[V any](k any) string {
	if n, ok := k.(*node[V]); ok {
		return n.key
	}
	return k.(string)
}

// Compare orders keys bytewise, as Go's string comparison does.
func (byteOrder[V]) Compare(lhs, rhs any) int {
	return strings.Compare(keyOf[V](lhs), keyOf[V](rhs))
}

// CalcScore returns score(key); see score.
func (byteOrder[V]) CalcScore(key any) float64 {
	return score(keyOf[V](key))
}

// score maps a key to the float64 huandu compares before calling Compare.
// It is the first 53 bits of the key read big-endian, zero-padded: the first
// six bytes and the high five bits of the seventh. A truncated zero-padded
// prefix never decreases as keys grow bytewise, and 53 bits fit a float64
// mantissa exactly, so k1 < k2 implies score(k1) <= score(k2) and equal keys
// score equally, which is all huandu requires.
func score(k string) float64 {
	var x uint64
	n := len(k)
	if n > 7 {
		n = 7
	}
	for i := 0; i < n; i++ {
		x |= uint64(k[i]) << (56 - 8*uint(i))
	}
	return float64(x >> 11)
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
// far cheaper than into one huge list. A hash index serves point lookups.
type Store[V any] struct {
	cut   int
	subs  map[string]*sub        // prefix -> group
	order *hs.SkipList           // groups by prefix (keys are *sub)
	index map[string]*hs.Element // point lookups without walking any list
	size  func(V) int
	bytes int
	n     int
	spare *node[V] // unused node kept from a Put that overwrote a key
}

// sub is one group of keys sharing a cut-byte prefix.
type sub struct {
	prefix string
	list   *hs.SkipList
}

// subOrder orders groups by prefix; probes are strings.
type subOrder struct{}

func subKey(k any) string {
	if s, ok := k.(*sub); ok {
		return s.prefix
	}
	return k.(string)
}

func (subOrder) Compare(lhs, rhs any) int  { return strings.Compare(subKey(lhs), subKey(rhs)) }
func (subOrder) CalcScore(key any) float64 { return score(subKey(key)) }

// New returns an empty store. size reports the bytes a value holds for memory
// accounting (nil: values count 0).
func New[V any](size func(V) int) *Store[V] {
	o := hs.New(subOrder{})
	o.SetRandSource(&splitMix{state: 0x5eed})
	return &Store[V]{subs: map[string]*sub{}, order: o, index: map[string]*hs.Element{}, size: size}
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

// Get returns the value stored under key and whether the key is present.
func (s *Store[V]) Get(key string) (V, bool) {
	e := s.index[key]
	if e == nil {
		var zero V
		return zero, false
	}
	return e.Key().(*node[V]).val, true
}

// Put stores v under key. If the key was already present its value is
// replaced in place and the previous value is returned with replaced set.
func (s *Store[V]) Put(key string, v V) (old V, replaced bool) {
	if e := s.index[key]; e != nil {
		cur := e.Key().(*node[V])
		old, cur.val = cur.val, v
		s.bytes += s.sizeOf(v) - s.sizeOf(old)
		return old, true
	}
	p := s.prefix(key)
	g := s.subs[p]
	if g == nil {
		l := hs.New(byteOrder[V]{})
		l.SetRandSource(&splitMix{state: 0x5eed ^ uint64(len(s.subs))})
		g = &sub{prefix: p, list: l}
		s.subs[p] = g
		s.order.Set(g, nil)
	}
	n := s.spare
	if n == nil {
		n = new(node[V])
	} else {
		s.spare = nil
	}
	n.key, n.val = key, v
	e := g.list.Set(n, nil)
	s.index[key] = e
	s.n++
	s.bytes += len(key) + s.sizeOf(v)
	return old, false
}

// Delete removes key and returns the value it held, if it was present.
func (s *Store[V]) Delete(key string) (old V, ok bool) {
	e := s.index[key]
	if e == nil {
		return old, false
	}
	old = e.Key().(*node[V]).val
	s.remove(e)
	return old, true
}

// remove unlinks e, drops an emptied group and keeps the counts in step.
func (s *Store[V]) remove(e *hs.Element) {
	n := e.Key().(*node[V])
	p := s.prefix(n.key)
	g := s.subs[p]
	g.list.RemoveElement(e)
	delete(s.index, n.key)
	if g.list.Len() == 0 {
		delete(s.subs, p)
		s.order.Remove(p)
	}
	s.n--
	s.bytes -= len(n.key) + s.sizeOf(n.val)
}

// Seek returns an iterator positioned at the first key >= key (invalid if
// there is none).
func (s *Store[V]) Seek(key string) Iter[V] {
	it := Iter[V]{s: s, g: s.order.Find(s.prefix(key))}
	if it.g == nil {
		return it
	}
	if g := it.g.Key().(*sub); g.prefix == s.prefix(key) {
		it.e = g.list.Find(key)
	} else {
		it.e = g.list.Front()
	}
	if it.e == nil {
		it.nextGroup()
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
	for it := s.Seek(first); it.Valid() && it.Key() < last; it.Next() {
		c++
	}
	return c
}

// Range calls fn for each key k with first <= k < last, in ascending order,
// and stops early when fn returns false. If last <= first it calls nothing.
// fn must not modify the store.
func (s *Store[V]) Range(first, last string, fn func(key string, v V) bool) {
	if last <= first {
		return
	}
	for it := s.Seek(first); it.Valid(); it.Next() {
		n := it.e.Key().(*node[V])
		if n.key >= last || !fn(n.key, n.val) {
			return
		}
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
	e := it.e
	it.Next() // move off first: removing may drop the current group
	it.s.remove(e)
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
