package skiplist

import (
	"encoding/binary"
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"sync"
	"testing"
)

const benchN = 1 << 20 // about 1M keys

// benchKeys returns benchN distinct random 16-byte keys, in random order, and
// the same keys sorted.
var benchKeys = sync.OnceValues(func() (random, sorted []string) {
	r := rand.New(rand.NewSource(1))
	seen := make(map[string]struct{}, benchN)
	random = make([]string, 0, benchN)
	var b [16]byte
	for len(random) < benchN {
		binary.BigEndian.PutUint64(b[:8], r.Uint64())
		binary.BigEndian.PutUint64(b[8:], r.Uint64())
		k := string(b[:])
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		random = append(random, k)
	}
	sorted = append([]string(nil), random...)
	sort.Strings(sorted)
	return random, sorted
})

// benchStore is a 1M-key store built once and shared by the read benchmarks.
var benchStore = sync.OnceValue(func() *Store[int] {
	keys, _ := benchKeys()
	s := New(func(int) int { return 8 })
	for i, k := range keys {
		s.Put(k, i)
	}
	runtime.GC()
	return s
})

// BenchmarkPutRandom1M inserts random keys into a store that is refilled from
// empty every 1M inserts; ns/op is per insert.
func BenchmarkPutRandom1M(b *testing.B) {
	keys, _ := benchKeys()
	var s *Store[int]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % benchN
		if j == 0 {
			b.StopTimer()
			s = nil
			runtime.GC()
			s = New(func(int) int { return 8 })
			b.StartTimer()
		}
		s.Put(keys[j], i)
	}
}

// BenchmarkPutOverwrite overwrites existing keys of a 1M-key store.
func BenchmarkPutOverwrite(b *testing.B) {
	keys, _ := benchKeys()
	s := benchStore()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % benchN
		s.Put(keys[j], j) // same value, so the shared store is unchanged
	}
}

// BenchmarkGet does point gets of present keys, in random order, on a
// 1M-key store.
func BenchmarkGet(b *testing.B) {
	keys, _ := benchKeys()
	s := benchStore()
	b.ReportAllocs()
	b.ResetTimer()
	sum := 0
	for i := 0; i < b.N; i++ {
		v, ok := s.Get(keys[i%benchN])
		if !ok {
			b.Fatal("missing key")
		}
		sum += v
	}
	sink = sum
}

// BenchmarkScan100 reads 100 consecutive keys from a random start on a
// 1M-key store, via Range and via Seek+Next.
func BenchmarkScan100(b *testing.B) {
	_, sorted := benchKeys()
	s := benchStore()
	starts := rand.New(rand.NewSource(2)).Perm(benchN - 100)
	b.Run("Range", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; i < b.N; i++ {
			j := starts[i%len(starts)]
			n := 0
			s.Range(sorted[j], sorted[j+100], func(_ string, v int) bool {
				n++
				sum += v
				return true
			})
			if n != 100 {
				b.Fatalf("Range saw %d keys", n)
			}
		}
		sink = sum
	})
	b.Run("Iter", func(b *testing.B) {
		b.ReportAllocs()
		sum := 0
		for i := 0; i < b.N; i++ {
			j := starts[i%len(starts)]
			it := s.Seek(sorted[j])
			for n := 0; n < 100; n++ {
				sum += it.Value()
				it.Next()
			}
			if it.Key() != sorted[j+100] {
				b.Fatal("Iter ended at the wrong key")
			}
		}
		sink = sum
	})
}

var sink int

// Split-store benchmarks mimic the join engine's vote table in the karma
// scenario (§8.22): cut 7, splitGroups groups of splitPer keys v|%05d|%05d,
// the keys of each group arriving in order, group after group.
const splitGroups, splitPer = 10000, 200

var splitKeys = sync.OnceValue(func() []string {
	keys := make([]string, 0, splitGroups*splitPer)
	for g := 0; g < splitGroups; g++ {
		for j := 0; j < splitPer; j++ {
			keys = append(keys, fmt.Sprintf("v|%05d|%05d", g, j))
		}
	}
	return keys
})

// BenchmarkPutSplitSequential inserts the split keys group by group into a
// cut-7 store that is refilled from empty every 2M inserts; ns/op is per
// insert. GetPut first looks the new key up, as the engine's Insert does.
func BenchmarkPutSplitSequential(b *testing.B) {
	keys := splitKeys()
	for _, getFirst := range []bool{false, true} {
		name := "Put"
		if getFirst {
			name = "GetPut"
		}
		b.Run(name, func(b *testing.B) {
			var s *Store[int]
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				j := i % len(keys)
				if j == 0 {
					b.StopTimer()
					s = nil
					runtime.GC()
					s = New(func(int) int { return 8 })
					s.SetCut(7)
					b.StartTimer()
				}
				if getFirst {
					if _, ok := s.Get(keys[j]); ok {
						b.Fatal("key present before its insert")
					}
				}
				s.Put(keys[j], i)
			}
		})
	}
}

// splitStore is the full 2M-key split store, shared by the read benchmarks.
var splitStore = sync.OnceValue(func() *Store[int] {
	s := New(func(int) int { return 8 })
	s.SetCut(7)
	for i, k := range splitKeys() {
		s.Put(k, i)
	}
	runtime.GC()
	return s
})

// BenchmarkGetSplit does point gets of present keys, in random order, on the
// 2M-key split store (groups of 200).
func BenchmarkGetSplit(b *testing.B) {
	keys := splitKeys()
	s := splitStore()
	perm := rand.New(rand.NewSource(3)).Perm(len(keys))
	b.ReportAllocs()
	b.ResetTimer()
	sum := 0
	for i := 0; i < b.N; i++ {
		v, ok := s.Get(keys[perm[i%len(perm)]])
		if !ok {
			b.Fatal("missing key")
		}
		sum += v
	}
	sink = sum
}

// BenchmarkPutSplitScattered mimics timeline maintenance: a cut-10 store of
// 5000 groups × 130 keys t|%08d|%010d gets each new key appended to a random
// group (times only grow), so every insert lands in a cold list. ns/op is per
// insert; GetPut first looks the new key up, as the engine does.
func BenchmarkPutSplitScattered(b *testing.B) {
	const groups, per = 5000, 130
	for _, getFirst := range []bool{false, true} {
		name := "Put"
		if getFirst {
			name = "GetPut"
		}
		b.Run(name, func(b *testing.B) {
			s := New(func(int) int { return 8 })
			s.SetCut(10)
			r := rand.New(rand.NewSource(4))
			now := 0
			for i := 0; i < groups*per; i++ {
				now++
				s.Put(fmt.Sprintf("t|%08d|%010d", r.Intn(groups), now), i)
			}
			keys := make([]string, b.N)
			for i := range keys {
				now++
				keys[i] = fmt.Sprintf("t|%08d|%010d", r.Intn(groups), now)
			}
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			for i, k := range keys {
				if getFirst {
					if _, ok := s.Get(k); ok {
						b.Fatal("key present before its insert")
					}
				}
				s.Put(k, i)
			}
		})
	}
}
