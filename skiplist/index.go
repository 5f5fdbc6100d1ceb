package skiplist

import "hash/maphash"

// index is a group's hash index: an open-addressed table, linear probing,
// of key -> entry id. A slot holds tag<<32 | id+1 (0: empty), where tag is
// the low 32 bits of the key's hash; a key's home slot is tag & mask. So a
// probe reads a key only when the tags match, and growing, shrinking and
// deleting (backward shift, no tombstones) never rehash keys. The load
// stays between 3/16 and 3/4: 11–43 bytes per key, about 16 on average,
// and only in groups whose lookups asked for it.
type index struct {
	slots []uint64
	n     int
}

var hashSeed = maphash.MakeSeed()

func keyTag(key string) uint32 { return uint32(maphash.String(hashSeed, key)) }

const minIndexSlots = 16

// newIndex returns an empty index sized for n keys.
func newIndex(n int) index {
	size := minIndexSlots
	for size*3/4 < n {
		size *= 2
	}
	return index{slots: make([]uint64, size)}
}

// lookup returns the id of key, if present; m resolves ids to keys.
func lookup[V any](x *index, m *slabs[V], key string) (uint32, bool) {
	tag := keyTag(key)
	mask := uint32(len(x.slots) - 1)
	for i := tag & mask; ; i = (i + 1) & mask {
		v := x.slots[i]
		if v == 0 {
			return 0, false
		}
		if uint32(v>>32) == tag {
			if id := uint32(v) - 1; m.node(id).key == key {
				return id, true
			}
		}
	}
}

// add files id under key, which must be absent.
func (x *index) add(key string, id uint32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.resize(2 * len(x.slots))
	}
	x.put(uint64(keyTag(key))<<32 | (uint64(id) + 1))
	x.n++
}

// put stores slot value v in the first empty slot from its home.
func (x *index) put(v uint64) {
	mask := uint32(len(x.slots) - 1)
	i := uint32(v>>32) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = v
}

// resize rebuilds the table with size slots, from the tags alone.
func (x *index) resize(size int) {
	old := x.slots
	x.slots = make([]uint64, size)
	for _, v := range old {
		if v != 0 {
			x.put(v)
		}
	}
}

// remove drops key's entry id, which must be present, shifting later
// entries of its cluster back so no probe sequence is broken.
func (x *index) remove(key string, id uint32) {
	v := uint64(keyTag(key))<<32 | (uint64(id) + 1)
	mask := uint32(len(x.slots) - 1)
	i := uint32(v>>32) & mask
	for x.slots[i] != v {
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		w := x.slots[j]
		if w == 0 {
			break
		}
		// w may move to the hole at i unless its home lies cyclically in
		// (i, j].
		if h := uint32(w>>32) & mask; (j-h)&mask >= (j-i)&mask {
			x.slots[i] = w
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
	if len(x.slots) > minIndexSlots && x.n*16 < len(x.slots)*3 {
		x.resize(len(x.slots) / 2)
	}
}
