package kv

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsRoundTrip(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, math.MaxInt64} {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf not monotonic at %d", v)
		}
		prev = i
		if i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Fatalf("value %d outside its bucket %d [%d, %d]", v, i, lo, hi)
		}
		if v >= 256 && float64(hi-lo+1)/float64(lo) > 1.0/128+1e-12 {
			t.Fatalf("bucket %d [%d, %d] wider than 1/128", i, lo, hi)
		}
	}
	// Consecutive buckets tile the line.
	for i := 1; i < 4000; i++ {
		_, hiPrev := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if lo != hiPrev+1 {
			t.Fatalf("gap between buckets %d and %d: %d, %d", i-1, i, hiPrev, lo)
		}
	}
}

func TestPercentilesKnownData(t *testing.T) {
	var h Histogram
	if h.Percentile(50) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
	// 1..100000: the p-th percentile (nearest rank) is p*1000.
	for v := int64(1); v <= 100000; v++ {
		h.Record(v)
	}
	if h.Count() != 100000 || h.Min() != 1 || h.Max() != 100000 {
		t.Fatalf("count/min/max = %d/%d/%d", h.Count(), h.Min(), h.Max())
	}
	if m := h.Mean(); m != 50000.5 {
		t.Fatalf("mean = %v", m)
	}
	for _, p := range []float64{1, 10, 50, 90, 99, 99.9, 99.99} {
		want := int64(math.Ceil(p / 100 * 100000))
		got := h.Percentile(p)
		if got < want || float64(got-want) > float64(want)/128 {
			t.Errorf("p%v = %d, want %d (+<0.8%%)", p, got, want)
		}
	}
	if h.Percentile(100) != 100000 {
		t.Errorf("p100 = %d", h.Percentile(100))
	}

	// Small values are exact.
	var s Histogram
	for _, v := range []int64{5, 1, 3, 2, 4} {
		s.Record(v)
	}
	for p, want := range map[float64]int64{20: 1, 40: 2, 50: 3, 60: 3, 80: 4, 100: 5, 0.001: 1} {
		if got := s.Percentile(p); got != want {
			t.Errorf("small p%v = %d, want %d", p, got, want)
		}
	}
	s.Record(-7) // counts as 0
	if s.Min() != 0 || s.Percentile(1) != 0 {
		t.Errorf("negative value: min %d p1 %d", s.Min(), s.Percentile(1))
	}

	// A bimodal distribution: 99% at 100 µs, 1% at 10 ms.
	var b Histogram
	for range 9900 {
		b.Record(100_000)
	}
	for range 100 {
		b.Record(10_000_000)
	}
	if got := b.Percentile(99); got < 100_000 || got > 100_000*129/128 {
		t.Errorf("bimodal p99 = %d", got)
	}
	if got := b.Percentile(99.9); got != 10_000_000 { // clamped to max
		t.Errorf("bimodal p99.9 = %d", got)
	}
}

func TestPercentilesRandomAndMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []int64
	var parts [4]Histogram
	for i := range 50000 {
		v := int64(rng.ExpFloat64() * 1e6)
		vals = append(vals, v)
		parts[i%4].Record(v)
	}
	var h Histogram
	for i := range parts {
		h.Merge(&parts[i])
	}
	h.Merge(&Histogram{})
	slices.Sort(vals)
	for _, p := range []float64{50, 90, 99, 99.9} {
		want := vals[int(math.Ceil(p/100*float64(len(vals))))-1]
		got := h.Percentile(p)
		if got < want || float64(got-want) > float64(want)/128+1 {
			t.Errorf("p%v = %d, exact %d", p, got, want)
		}
	}
	if h.Count() != uint64(len(vals)) || h.Min() != vals[0] || h.Max() != vals[len(vals)-1] {
		t.Errorf("merged count/min/max wrong")
	}
	h.Reset()
	if h.Count() != 0 {
		t.Error("Reset")
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for i := range b.N {
		h.Record(int64(i) * 997)
	}
}
