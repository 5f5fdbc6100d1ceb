package kv

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is an HDR-style latency histogram with log-linear buckets:
// values below 256 ns are counted exactly, and every larger power-of-two
// range [2^k, 2^(k+1)) is split into 128 equal buckets, so a reported
// percentile is within 1/128 (< 0.8%) of the true value. Recording is a
// few instructions and never allocates; the zero Histogram is empty and
// ready to use. A Histogram is not safe for concurrent use: keep one per
// goroutine and Merge them.
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      float64
	min, max int64
}

const (
	histSubBits = 7                                      // 128 sub-buckets per power of two
	histSub     = 1 << histSubBits                       // 128
	histBuckets = (64-histSubBits-1)*histSub + 2*histSub // covers every int64
)

// bucketOf returns the bucket index of a non-negative value.
func bucketOf(v int64) int {
	u := uint64(v)
	e := bits.Len64(u) - (histSubBits + 1)
	if e <= 0 {
		return int(u) // exact below 256
	}
	return e*histSub + int(u>>uint(e))
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < 2*histSub {
		return int64(i), int64(i)
	}
	e := i/histSub - 1
	m := int64(i - e*histSub) // in [128, 256)
	lo = m << uint(e)
	hi = (m+1)<<uint(e) - 1
	return lo, hi
}

// Record adds one value (nanoseconds for latencies). Negative values count
// as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// RecordDuration records d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Merge adds o's values into h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max return the exact smallest and largest recorded values (0 when
// empty).
func (h *Histogram) Min() int64 { return h.min }
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the exact mean (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Percentile returns the value at percentile p (0 < p <= 100) by the
// nearest-rank rule: the smallest recorded value v such that at least p% of
// the values are <= v, reported as the upper end of v's bucket (clamped to
// the exact min and max). It returns 0 for an empty histogram.
func (h *Histogram) Percentile(p float64) int64 {
	if h.n == 0 {
		return 0
	}
	if p >= 100 {
		return h.max
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		seen += c
		if seen >= rank {
			_, hi := bucketRange(i)
			return min(max(hi, h.min), h.max)
		}
	}
	return h.max
}
