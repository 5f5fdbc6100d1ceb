package skiplist

// Entries live in slabs: a store's key/value pairs are node[V]s in arrays of
// slabSize, allocated one array at a time and never moved, so a *V handed
// out stays put while blocks split, merge and shift their slot arrays.
// Blocks and the hash index name an entry by its id, slab<<slabBits | index
// in the slab: four bytes instead of an eight-byte pointer, and
// pointer-free, so the garbage collector never scans their arrays.
//
// Freed ids go on a stack and are reused last-in first-out. A freed node
// keeps its key and value until the next Put (the engine reads an entry
// through its pointer right after deleting it), which zeroes every node
// freed since the previous Put, so deleted values are not kept alive for
// long. A slab whose entries are all free is released when free ids
// outnumber live ones, and everything is released when the store empties.

const (
	slabBits = 6
	slabSize = 1 << slabBits
	slabMask = slabSize - 1
	// minRelease is the fewest free ids worth a release pass.
	minRelease = 8 * slabSize
)

type slab[V any] [slabSize]node[V]

// slabs is the entry storage of one store.
type slabs[V any] struct {
	s     []*slab[V] // by slab number; nil once released
	live  []uint8    // live entries per slab
	holes []uint32   // numbers of released slabs, for reuse
	free  []uint32   // free ids, reused from the end
	unclr int        // the last unclr free ids are not zeroed yet
	relAt int        // len(free) at which the next release pass runs
}

// node returns the entry with id id.
func (m *slabs[V]) node(id uint32) *node[V] { return &m.s[id>>slabBits][id&slabMask] }

// alloc stores key and v in a free entry and returns its id.
func (m *slabs[V]) alloc(key string, v V) uint32 {
	if m.unclr > 0 {
		m.clear()
	}
	k := len(m.free)
	if k == 0 {
		m.grow()
		k = len(m.free)
	}
	id := m.free[k-1]
	m.free = m.free[:k-1]
	m.live[id>>slabBits]++
	n := m.node(id)
	n.key, n.val = key, v
	return id
}

// clear zeroes the nodes freed since the last alloc: from now on their old
// pointers may read anything.
func (m *slabs[V]) clear() {
	for _, id := range m.free[len(m.free)-m.unclr:] {
		*m.node(id) = node[V]{}
	}
	m.unclr = 0
}

// grow adds a slab and pushes its ids, the lowest last, so that entries
// allocated one after another sit side by side.
func (m *slabs[V]) grow() {
	var sn uint32
	if k := len(m.holes); k > 0 {
		sn, m.holes = m.holes[k-1], m.holes[:k-1]
		m.s[sn] = new(slab[V])
	} else {
		if uint64(len(m.s)) >= 1<<(32-slabBits)-1 { // id+1 must fit 32 bits (index)
			panic("skiplist: more than 2^32 entries in one store")
		}
		sn = uint32(len(m.s))
		m.s = append(m.s, new(slab[V]))
		m.live = append(m.live, 0)
	}
	for i := slabSize - 1; i >= 0; i-- {
		m.free = append(m.free, sn<<slabBits|uint32(i))
	}
}

// release frees entry id; its node keeps its contents until the next alloc.
// live is the number of entries left in the store.
func (m *slabs[V]) release(id uint32, live int) {
	if live == 0 {
		// The store is empty: drop every slab (outstanding pointers keep
		// theirs alive, contents unchanged).
		*m = slabs[V]{}
		return
	}
	m.free = append(m.free, id)
	m.unclr++
	m.live[id>>slabBits]--
	if len(m.free) >= max(m.relAt, minRelease) && len(m.free) > live {
		m.releaseEmpty()
	}
}

// releaseEmpty drops the slabs whose entries are all free, and their ids
// from the free stack. The next pass waits until the stack has doubled, so
// scattered free ids (no slab empty) cost amortized O(1) per release.
func (m *slabs[V]) releaseEmpty() {
	dropped := false
	for sn, p := range m.s {
		if p != nil && m.live[sn] == 0 {
			m.s[sn] = nil
			m.holes = append(m.holes, uint32(sn))
			dropped = true
		}
	}
	if dropped {
		cut := len(m.free) - m.unclr
		out := m.free[:0]
		unclr := 0
		for i, id := range m.free {
			if m.s[id>>slabBits] == nil {
				continue
			}
			out = append(out, id)
			if i >= cut {
				unclr++
			}
		}
		clear(m.free[len(out):])
		m.free, m.unclr = out, unclr
		if cap(m.free) > 4*len(m.free)+slabSize {
			m.free = append([]uint32(nil), m.free...)
		}
	}
	m.relAt = 2 * len(m.free)
}
