package pqclient

// RandCacheSeed seeds each client's generator of --rand-cache server
// choices (spec/apps.md: std::default_random_engine seeded 112181).
const RandCacheSeed = 112181

// minstd is the original's std::default_random_engine, libstdc++'s
// minstd_rand0 (x ← 16807·x mod 2³¹−1), with libstdc++'s
// uniform_int_distribution on top, so --rand-cache picks the servers the
// original picks in the same order of requests.
type minstd struct{ x uint64 }

const minstdM = 1<<31 - 1

func newMinstd(seed uint64) *minstd {
	x := seed % minstdM
	if x == 0 {
		x = 1
	}
	return &minstd{x: x}
}

// next returns the engine's next value, in [1, 2³¹−2].
func (m *minstd) next() uint64 {
	m.x = m.x * 16807 % minstdM
	return m.x
}

// uniform returns a value in [a, b] (a <= b) as libstdc++'s
// uniform_int_distribution does for an engine whose range is below 2³²:
// downscaling with rejection of the top partial bucket.
func (m *minstd) uniform(a, b int) int {
	const urngrange = minstdM - 2 // max − min of the engine
	erange := uint64(b-a) + 1
	scaling := urngrange / erange
	past := erange * scaling
	for {
		r := m.next() - 1
		if r < past {
			return a + int(r/scaling)
		}
	}
}
