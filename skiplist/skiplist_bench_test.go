package skiplist

import (
	"encoding/binary"
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
