// Package interval owns Pequod-Go's range bookkeeping: an interval tree over
// byte-string keys. The join engine keeps its source-table registrations,
// validated sink ranges and pending update regions in Trees, and a partition
// its subscriptions (owner side) and copies (subscriber side), so that "which
// intervals contain key x?" and "which intervals overlap [lo, hi)?" are
// answered by a logarithmic descent rather than a linear scan.
//
// Keys are arbitrary byte strings held in Go strings and compare bytewise,
// exactly as Go's string < operator does; NUL and 0xFF bytes and the empty
// key are ordinary keys. Intervals are half-open: [Lo, Hi) contains key x iff
// Lo <= x < Hi, and two intervals overlap iff a.Lo < b.Hi && b.Lo < a.Hi. An
// interval with Lo >= Hi is empty: it may be inserted, enumerated by Ascend
// and deleted, but it contains no key and overlaps nothing.
//
// A Tree is not safe for concurrent mutation. Any number of goroutines may
// query it at once (Len, Stab, Overlap, Ascend, Contains) as long as none
// modifies it.
package interval

// Tree is a multiset of half-open intervals over byte-string keys, each
// carrying a value of type V. Intervals may overlap and may be identical;
// every Insert yields a distinct Item.
//
// The zero value is an empty tree ready to use. A Tree must not be copied
// after its first Insert: items remember the tree they belong to by address.
//
// The tree is an AVL tree ordered by (Lo, insertion sequence) in which every
// node also records the greatest Hi of the non-empty intervals in its
// subtree, letting queries skip subtrees that cannot match.
type Tree[V any] struct {
	root *Item[V]
	n    int
	seq  uint64 // sequence number given to the next inserted item
}

// Item is one interval in a tree, returned by Insert and passed to visitors.
// Lo, Hi and Value may be read at any time. Lo and Hi must not be changed
// while the item is in a tree; Value may be changed freely. An Item is only
// ever created by Insert, and once deleted it is never reinserted.
type Item[V any] struct {
	// Lo is the inclusive lower bound of the interval.
	Lo string
	// Hi is the exclusive upper bound of the interval.
	Hi string
	// Value is the caller's payload; the tree never looks at it.
	Value V

	left, right, parent *Item[V]
	tree                *Tree[V] // owning tree; nil once deleted
	maxHi               string   // max Hi over non-empty items in this subtree, "" if none
	seq                 uint64   // insertion sequence, breaks ties on Lo
	height              int32    // AVL height of this subtree; a leaf has height 1
}

// Len reports the number of items in the tree.
func (t *Tree[V]) Len() int { return t.n }

// Contains reports whether it is currently in t. It is false for nil, for a
// deleted item and for an item of another tree.
func (t *Tree[V]) Contains(it *Item[V]) bool { return it != nil && it.tree == t }

// Insert adds the interval [lo, hi) carrying v and returns its item, the
// handle used to delete it later. An empty interval (lo >= hi) is accepted.
// Insert costs O(log n) time and exactly one allocation.
func (t *Tree[V]) Insert(lo, hi string, v V) *Item[V] {
	it := &Item[V]{Lo: lo, Hi: hi, Value: v, tree: t, seq: t.seq, height: 1}
	if lo < hi {
		it.maxHi = hi
	}
	t.seq++
	t.n++
	if t.root == nil {
		t.root = it
		return it
	}
	// it has the largest sequence number so far, so among equal Lo it goes
	// to the right of everything already present.
	p := t.root
	for {
		if lo < p.Lo {
			if p.left == nil {
				p.left = it
				break
			}
			p = p.left
		} else {
			if p.right == nil {
				p.right = it
				break
			}
			p = p.right
		}
	}
	it.parent = p
	t.fixup(p, nil)
	return it
}

// Delete removes it from t in O(log n) time. Deleting nil, an item that was
// already deleted, or an item belonging to another tree does nothing.
func (t *Tree[V]) Delete(it *Item[V]) {
	if it == nil || it.tree != t {
		return
	}
	var from *Item[V]    // lowest node whose subtree changed
	var barrier *Item[V] // node fixup must not stop below
	switch {
	case it.left == nil:
		t.replace(it, it.right)
		from = it.parent
	case it.right == nil:
		t.replace(it, it.left)
		from = it.parent
	default:
		// Put it's in-order successor s in its place.
		s := it.right
		for s.left != nil {
			s = s.left
		}
		if s.parent == it {
			from = s
		} else {
			from = s.parent
			from.left = s.right
			if s.right != nil {
				s.right.parent = from
			}
			s.right = it.right
			s.right.parent = s
		}
		s.left = it.left
		s.left.parent = s
		// it's ancestors were computed from its height and maxHi; give s
		// those so that fixup can stop early above s, but never below it:
		// s's copied maxHi may still count it.Hi.
		s.height, s.maxHi = it.height, it.maxHi
		barrier = s
		t.replace(it, s)
	}
	it.left, it.right, it.parent, it.tree = nil, nil, nil, nil
	it.maxHi, it.height = "", 1
	t.n--
	t.fixup(from, barrier)
}

// Stab calls fn for every item with Lo <= key < Hi, stopping early if fn
// returns false. The order is deterministic (currently ascending (Lo,
// insertion), as in Overlap), but callers should rely only on determinism.
// fn must not modify the tree: collect the items and change the tree after
// Stab returns.
//
// Subtrees whose maximum Hi is <= key, and all items with Lo > key, are never
// visited. The cost is O(log n) plus a term proportional to the number k of
// items reported: at most O(k·log(n/k)) in the worst case, and close to O(k)
// when the reported items are clustered in key order.
func (t *Tree[V]) Stab(key string, fn func(*Item[V]) bool) {
	stab(t.root, key, fn)
}

func stab[V any](n *Item[V], key string, fn func(*Item[V]) bool) bool {
	for n != nil && key < n.maxHi {
		if l := n.left; l != nil && key < l.maxHi && !stab(l, key, fn) {
			return false
		}
		if key < n.Lo {
			return true // n and everything to its right start after key
		}
		if key < n.Hi && !fn(n) {
			return false
		}
		n = n.right
	}
	return true
}

// Overlap calls fn for every item overlapping [lo, hi), that is with
// Lo < hi && lo < Hi and both intervals non-empty, in ascending (Lo,
// insertion) order, stopping early if fn returns false. An empty query
// (lo >= hi) reports nothing. fn must not modify the tree: collect the items
// and change the tree after Overlap returns.
//
// The cost bound is the same as Stab's: O(log n) plus at most O(k·log(n/k))
// for k reported items, close to O(k) when they are clustered.
func (t *Tree[V]) Overlap(lo, hi string, fn func(*Item[V]) bool) {
	if lo < hi {
		overlap(t.root, lo, hi, fn)
	}
}

func overlap[V any](n *Item[V], lo, hi string, fn func(*Item[V]) bool) bool {
	for n != nil && lo < n.maxHi {
		if l := n.left; l != nil && lo < l.maxHi && !overlap(l, lo, hi, fn) {
			return false
		}
		if hi <= n.Lo {
			return true // n and everything to its right start at or after hi
		}
		// n.Lo < hi here, so n overlaps iff it is non-empty and ends after lo.
		if lo < n.Hi && n.Lo < n.Hi && !fn(n) {
			return false
		}
		n = n.right
	}
	return true
}

// Ascend calls fn for every item, empty ones included, in ascending (Lo,
// insertion) order, stopping early if fn returns false. fn must not modify
// the tree: collect the items and change the tree after Ascend returns.
func (t *Tree[V]) Ascend(fn func(*Item[V]) bool) {
	ascend(t.root, fn)
}

func ascend[V any](n *Item[V], fn func(*Item[V]) bool) bool {
	for n != nil {
		if n.left != nil && !ascend(n.left, fn) {
			return false
		}
		if !fn(n) {
			return false
		}
		n = n.right
	}
	return true
}

// replace puts nw (possibly nil) where old hangs from its parent.
func (t *Tree[V]) replace(old, nw *Item[V]) {
	p := old.parent
	if nw != nil {
		nw.parent = p
	}
	switch {
	case p == nil:
		t.root = nw
	case p.left == old:
		p.left = nw
	default:
		p.right = nw
	}
}

// fixup recomputes height and maxHi from n up to the root, rebalancing on
// the way. Once it has passed barrier (at once if barrier is nil) it stops
// early at a node that needed no rotation and kept the height and maxHi it
// had: that node's ancestors were computed from those values and so are
// already right. Nodes strictly between n and barrier may stop the walk
// only when barrier is nil; barrier itself is a node whose own recorded
// values are not derived from its current contents and must be recomputed.
func (t *Tree[V]) fixup(n, barrier *Item[V]) {
	for n != nil {
		h, m := n.height, n.maxHi
		if n == barrier {
			barrier = nil
		}
		update(n)
		if r := t.balance(n); r != n {
			n = r
		} else if barrier == nil && n.height == h && n.maxHi == m {
			return
		}
		n = n.parent
	}
}

func height[V any](n *Item[V]) int32 {
	if n == nil {
		return 0
	}
	return n.height
}

// update recomputes n's height and maxHi from its children.
func update[V any](n *Item[V]) {
	h, m := int32(0), ""
	if n.Lo < n.Hi {
		m = n.Hi
	}
	if l := n.left; l != nil {
		h = l.height
		m = max(m, l.maxHi)
	}
	if r := n.right; r != nil {
		h = max(h, r.height)
		m = max(m, r.maxHi)
	}
	n.height, n.maxHi = h+1, m
}

// balance restores the AVL property at n, whose children are balanced and
// up to date, and returns the (updated) root of n's subtree.
func (t *Tree[V]) balance(n *Item[V]) *Item[V] {
	switch bf := height(n.left) - height(n.right); {
	case bf > 1:
		if height(n.left.left) < height(n.left.right) {
			t.rotateLeft(n.left)
		}
		return t.rotateRight(n)
	case bf < -1:
		if height(n.right.right) < height(n.right.left) {
			t.rotateRight(n.right)
		}
		return t.rotateLeft(n)
	}
	return n
}

func (t *Tree[V]) rotateLeft(x *Item[V]) *Item[V] {
	y := x.right
	x.right = y.left
	if y.left != nil {
		y.left.parent = x
	}
	t.replace(x, y)
	y.left = x
	x.parent = y
	update(x)
	update(y)
	return y
}

func (t *Tree[V]) rotateRight(x *Item[V]) *Item[V] {
	y := x.left
	x.left = y.right
	if y.right != nil {
		y.right.parent = x
	}
	t.replace(x, y)
	y.right = x
	x.parent = y
	update(x)
	update(y)
	return y
}
