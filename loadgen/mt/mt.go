// Package mt owns the workloads' deterministic randomness: a 32-bit
// Mersenne Twister (MT19937) with explicit seeds, and the distributions the
// original applications draw from it (apps.md §6). Streams are fully
// deterministic for a seed; they are not bit-for-bit equal to boost's or
// libstdc++'s distributions, which §6 does not require.
package mt

import "math"

const (
	n         = 624
	m         = 397
	matrixA   = 0x9908b0df
	upperMask = 0x80000000
	lowerMask = 0x7fffffff
)

// Rand is an MT19937 generator. It is not safe for concurrent use.
type Rand struct {
	state [n]uint32
	index int
}

// New returns a generator seeded with seed (std::mt19937's seeding).
func New(seed uint32) *Rand {
	r := &Rand{}
	r.Seed(seed)
	return r
}

// Seed resets the generator to the stream of seed.
func (r *Rand) Seed(seed uint32) {
	r.state[0] = seed
	for i := 1; i < n; i++ {
		prev := r.state[i-1]
		r.state[i] = 1812433253*(prev^(prev>>30)) + uint32(i)
	}
	r.index = n
}

// Uint32 returns the next raw 32-bit output (std::mt19937::operator()).
func (r *Rand) Uint32() uint32 {
	if r.index >= n {
		r.twist()
	}
	y := r.state[r.index]
	r.index++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

func (r *Rand) twist() {
	for i := 0; i < n; i++ {
		y := (r.state[i] & upperMask) | (r.state[(i+1)%n] & lowerMask)
		v := r.state[(i+m)%n] ^ (y >> 1)
		if y&1 != 0 {
			v ^= matrixA
		}
		r.state[i] = v
	}
	r.index = 0
}

// Intn returns a uniform integer in [0, k) without modulo bias; k must be
// positive (a k of 0 returns 0).
func (r *Rand) Intn(k int) int {
	if k <= 1 {
		return 0
	}
	if uint64(k) > 1<<32 {
		// Two draws make a 64-bit value; rejection keeps it unbiased.
		bound := uint64(k)
		limit := math.MaxUint64 - math.MaxUint64%bound
		for {
			v := uint64(r.Uint32())<<32 | uint64(r.Uint32())
			if v < limit {
				return int(v % bound)
			}
		}
	}
	bound := uint32(k)
	limit := math.MaxUint32 - math.MaxUint32%bound
	for {
		v := r.Uint32()
		if v < limit {
			return int(v % bound)
		}
	}
}

// IntRange returns a uniform integer in [lo, hi] (inclusive, as
// boost::uniform_int_distribution).
func (r *Rand) IntRange(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.Intn(hi-lo+1)
}

// Float64 returns a uniform real in [0, 1) with 53 random bits.
func (r *Rand) Float64() float64 {
	a := r.Uint32() >> 5 // 27 bits
	b := r.Uint32() >> 6 // 26 bits
	return (float64(a)*67108864.0 + float64(b)) / 9007199254740992.0
}

// Real returns a uniform real in [lo, hi).
func (r *Rand) Real(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// Shuffle permutes n elements uniformly (Fisher–Yates from the back, index
// drawn as Uint32() mod (i+1), as std::random_shuffle with a generator).
func (r *Rand) Shuffle(n int, swap func(i, j int)) {
	for i := n - 1; i > 0; i-- {
		j := int(r.Uint32() % uint32(i+1))
		swap(i, j)
	}
}

// Discrete samples indices with probability proportional to fixed
// non-negative weights (boost::random::discrete_distribution).
type Discrete struct {
	cum []float64 // cumulative weights; cum[len-1] is the total
}

// NewDiscrete builds the distribution. Negative and NaN weights count as 0.
// If every weight is 0 the distribution always returns 0.
func NewDiscrete(weights []float64) *Discrete {
	d := &Discrete{cum: make([]float64, len(weights))}
	total := 0.0
	for i, w := range weights {
		if w > 0 {
			total += w
		}
		d.cum[i] = total
	}
	return d
}

// Len is the number of outcomes.
func (d *Discrete) Len() int { return len(d.cum) }

// Total is the sum of the weights.
func (d *Discrete) Total() float64 {
	if len(d.cum) == 0 {
		return 0
	}
	return d.cum[len(d.cum)-1]
}

// Sample draws one index.
func (d *Discrete) Sample(r *Rand) int {
	total := d.Total()
	if total <= 0 {
		return 0
	}
	x := r.Float64() * total
	lo, hi := 0, len(d.cum)-1
	for lo < hi { // first index with cum > x
		mid := (lo + hi) / 2
		if d.cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
