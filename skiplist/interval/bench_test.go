package interval

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

const (
	benchN     = 100_000
	benchSpace = 1 << 40                     // keys are 8-byte big-endian integers below this
	benchSpan  = 2 * benchSpace / benchN * 8 // mean span 8/n of the space: ~8 intervals cover each point
)

func benchKey(x uint64) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], x)
	return string(b[:])
}

// benchIntervals returns n random intervals with short spans.
func benchIntervals(r *rand.Rand, n int) (los, his []string) {
	los, his = make([]string, n), make([]string, n)
	for i := range n {
		lo := r.Uint64N(benchSpace)
		los[i], his[i] = benchKey(lo), benchKey(lo+1+r.Uint64N(benchSpan))
	}
	return los, his
}

func benchTree(b *testing.B) (*Tree[int], []*Item[int]) {
	r := rand.New(rand.NewPCG(1, 2))
	los, his := benchIntervals(r, benchN)
	tr := new(Tree[int])
	items := make([]*Item[int], benchN)
	for i := range benchN {
		items[i] = tr.Insert(los[i], his[i], i)
	}
	return tr, items
}

// BenchmarkInsertDelete measures one Insert plus one Delete on a tree that
// stays at 100k random intervals.
func BenchmarkInsertDelete(b *testing.B) {
	tr, items := benchTree(b)
	los, his := benchIntervals(rand.New(rand.NewPCG(3, 4)), 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		j := i % benchN
		tr.Delete(items[j])
		items[j] = tr.Insert(los[i&(1<<16-1)], his[i&(1<<16-1)], i)
		i++
	}
}

// BenchmarkStab measures Stab at a random key of a 100k-interval tree
// (about 8 matches per query).
func BenchmarkStab(b *testing.B) {
	tr, _ := benchTree(b)
	r := rand.New(rand.NewPCG(5, 6))
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = benchKey(r.Uint64N(benchSpace))
	}
	found := 0
	fn := func(*Item[int]) bool { found++; return true }
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		tr.Stab(keys[i&(1<<16-1)], fn)
		i++
	}
	b.ReportMetric(float64(found)/float64(i), "hits/op")
}

// BenchmarkOverlap measures Overlap with a random query interval as wide as
// an average stored one (about 16 matches per query).
func BenchmarkOverlap(b *testing.B) {
	tr, _ := benchTree(b)
	los, his := benchIntervals(rand.New(rand.NewPCG(7, 8)), 1<<16)
	found := 0
	fn := func(*Item[int]) bool { found++; return true }
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		tr.Overlap(los[i&(1<<16-1)], his[i&(1<<16-1)], fn)
		i++
	}
	b.ReportMetric(float64(found)/float64(i), "hits/op")
}
