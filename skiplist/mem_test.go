package skiplist

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"runtime"
	"testing"
	"unsafe"
)

// memVal has the size and shape of the join engine's entry (a string, a
// pointer and an int32: 32 bytes).
type memVal struct {
	value string
	owner *int
	nder  int32
}

// memShape is a 1M-key store layout: its keys in insertion order and its cut.
type memShape struct {
	name string
	cut  int
	keys func() []string
}

const memN = 1 << 20

// subKeys are the main job's s| table, binary keys s|<user:4>|<poster:4>
// in groups of about 110 posters per user, inserted in random order.
func subKeys() []string {
	r := rand.New(rand.NewSource(21))
	users := memN / 110
	keys := make([]string, 0, memN)
	seen := make(map[string]bool, memN)
	var b [11]byte
	copy(b[:], "s|")
	b[6] = '|'
	for len(keys) < memN {
		binary.BigEndian.PutUint32(b[2:], uint32(r.Intn(users)))
		binary.BigEndian.PutUint32(b[7:], uint32(r.Intn(5000)))
		if k := string(b[:]); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// timelineKeys are timelines t|<user:4>|<time:4>|<poster:4>, 5000 users
// of about 200 keys, each new key at the end of a random user's timeline.
func timelineKeys() []string {
	r := rand.New(rand.NewSource(22))
	keys := make([]string, memN)
	var b [16]byte
	copy(b[:], "t|")
	b[6], b[11] = '|', '|'
	for i := range keys {
		binary.BigEndian.PutUint32(b[2:], uint32(r.Intn(5000)))
		binary.BigEndian.PutUint32(b[7:], uint32(i))
		binary.BigEndian.PutUint32(b[12:], uint32(r.Intn(5000)))
		keys[i] = string(b[:])
	}
	return keys
}

var memShapes = []memShape{
	{"split", 7, subKeys},         // the s| table: cut after the user
	{"unsplit", 0, subKeys},       // the same keys in one group
	{"timeline", 7, timelineKeys}, // the t| table
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// memPerKey builds a store of the shape's keys and returns the heap it
// takes per key, beyond the key bytes (allocated before) and the value:
// the store's own overhead per key.
func memPerKey(sh memShape) float64 {
	keys := sh.keys()
	before := heapAlloc()
	s := New(func(v memVal) int { return len(v.value) + 24 })
	s.SetCut(sh.cut)
	for i, k := range keys {
		s.Put(k, memVal{nder: int32(i)})
	}
	after := heapAlloc()
	if s.Len() != len(keys) {
		panic(fmt.Sprintf("Len %d, want %d", s.Len(), len(keys)))
	}
	runtime.KeepAlive(s)
	runtime.KeepAlive(keys)
	return float64(after-before)/float64(len(keys)) - float64(unsafe.Sizeof(memVal{}))
}

// BenchmarkMemoryPerKey reports the store's overhead per key ("B/key": heap
// beyond the key bytes and the 32-byte value) on 1M-key stores; ns/op is
// the time to build one.
func BenchmarkMemoryPerKey(b *testing.B) {
	for _, sh := range memShapes {
		b.Run(sh.name, func(b *testing.B) {
			var per float64
			for i := 0; i < b.N; i++ {
				per = memPerKey(sh)
			}
			b.ReportMetric(per, "B/key")
		})
	}
}

// TestMemoryPerKey holds the store's overhead per key on 1M-key stores to
// at most 40 bytes (the race detector's shadow memory does not count).
func TestMemoryPerKey(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("1M-key stores; not under -short or -race")
	}
	for _, sh := range memShapes {
		per := memPerKey(sh)
		t.Logf("%s: %.1f B/key", sh.name, per)
		if per > 40 {
			t.Errorf("%s: %.1f B/key of overhead, want <= 40", sh.name, per)
		}
	}
}
