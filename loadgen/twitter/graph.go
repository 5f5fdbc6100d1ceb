package twitter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/mt"
)

// Sub is one subscription: User follows Poster.
type Sub struct {
	User, Poster uint32
}

// Graph is the social graph as one group sees it (spec/apps.md §2.6):
// every user's follower count and the subscriptions of the users this
// group manages, in generation (or file) order.
type Graph struct {
	// N is the number of users; ids are 0 … N−1.
	N int
	// Followers[u] is u's follower count over the whole graph.
	Followers []uint32
	// Subs are the managed users' subscriptions.
	Subs []Sub
}

// Managed reports whether group groupid of ngroups manages u (§2.8).
func Managed(u uint32, ngroups, groupid int) bool {
	return int(u%uint32(ngroups)) == groupid
}

// GraphConfig are the synthetic-graph inputs (§2.6.1).
type GraphConfig struct {
	N                int
	MinFollowers     int
	MinSubs, MaxSubs int
	Shape            float64
	NGroups, GroupID int
	Retry            func(shape float64) // called on every "RETRYING with shape" step; may be nil
}

// GenerateGraph builds the synthetic graph of spec/apps.md §2.6.1 from gen,
// consuming it in the order the original does: the shape shuffle, then per
// user the subscription count and the follow targets.
func GenerateGraph(cfg GraphConfig, gen *mt.Rand) (*Graph, error) {
	n := cfg.N
	if n < 2 {
		return nil, fmt.Errorf("twitternew graph: need at least 2 users, have %d", n)
	}
	if cfg.MinSubs < 0 || cfg.MinSubs > cfg.MaxSubs || cfg.MaxSubs > n-1 || cfg.MinFollowers < 0 {
		return nil, fmt.Errorf("twitternew graph: bad subscription bounds [%d, %d] for %d users", cfg.MinSubs, cfg.MaxSubs, n)
	}
	if cfg.NGroups < 1 || cfg.GroupID < 0 || cfg.GroupID >= cfg.NGroups {
		return nil, fmt.Errorf("twitternew graph: bad group %d of %d", cfg.GroupID, cfg.NGroups)
	}
	expected := (cfg.MinSubs + cfg.MaxSubs) / 2
	if err := checkShapeFeasible(n, expected, cfg.MinFollowers); err != nil {
		return nil, err
	}
	shape := cfg.Shape
	x := make([]float64, n)
	var maxFollowers uint32
	for {
		s := 0.0
		for i := range x {
			x[i] = math.Pow(float64(i+1)/float64(n), shape)
			s += x[i]
		}
		mfl := math.Floor(float64(expected-cfg.MinFollowers) / (s / float64(n)))
		switch {
		case mfl < 0 || math.IsNaN(mfl):
			maxFollowers = 0 // the original's unsigned conversion is undefined here
		case mfl > math.MaxUint32:
			maxFollowers = math.MaxUint32
		default:
			maxFollowers = uint32(mfl)
		}
		if maxFollowers <= uint32(n/4) {
			break
		}
		shape *= 0.7
		if cfg.Retry != nil {
			cfg.Retry(shape)
		}
	}
	// Uniform shuffle with random_number_generator draws in [0, i] (§6).
	for i := n - 1; i > 0; i-- {
		j := gen.Intn(i + 1)
		x[i], x[j] = x[j], x[i]
	}
	// Cumulative table over [0, 2^32−1]: user i's chance of being followed
	// is proportional to mf + x_i·max_followers.
	cdf := make([]uint32, n)
	scale := 4294967295.0 / (float64(expected) * float64(n))
	if expected == 0 {
		scale = 0
	}
	pos := 0.0
	positive := 0 // users that can be drawn at all
	for i := range cdf {
		pos += float64(cfg.MinFollowers) + x[i]*float64(maxFollowers)
		v := pos * scale
		if v > math.MaxUint32 {
			v = math.MaxUint32
		}
		cdf[i] = uint32(v)
	}
	cdf[n-1] = math.MaxUint32
	width := func(i int) bool { // user i has a non-empty cdf interval
		if i == 0 {
			return cdf[0] > 0
		}
		return cdf[i] > cdf[i-1]
	}
	for i := range n {
		if width(i) {
			positive++
		}
	}

	g := &Graph{N: n, Followers: make([]uint32, n)}
	chosen := make([]bool, n)
	var picked []int
	for i := range n {
		for _, o := range picked {
			chosen[o] = false
		}
		picked = picked[:0]
		nsubs := cfg.MinSubs + gen.Intn(cfg.MaxSubs-cfg.MinSubs+1)
		// Guard against an endless redraw when fewer users can be drawn
		// than the count asks for (only with min_followers 0 and a
		// degenerate shape).
		avail := positive
		if width(i) {
			avail--
		}
		nsubs = min(nsubs, avail)
		managed := Managed(uint32(i), cfg.NGroups, cfg.GroupID)
		for range nsubs {
			var other int
			for {
				r := gen.Uint32()
				other, _ = slices.BinarySearchFunc(cdf, r, func(c, r uint32) int {
					if c > r {
						return 1
					}
					return -1
				})
				if other < n && other != i && !chosen[other] {
					break
				}
			}
			g.Followers[other]++
			chosen[other] = true
			picked = append(picked, other)
			if managed {
				g.Subs = append(g.Subs, Sub{User: uint32(i), Poster: uint32(other)})
			}
		}
	}
	return g, nil
}

// checkShapeFeasible rejects parameters for which the §2.6.1 shape loop
// never ends: since every x_i ≤ 1, max_followers ≥ expected_subs −
// min_followers whatever the shape, so the loop's exit condition
// max_followers ≤ N/4 needs expected_subs − min_followers ≤ N/4 (the
// original loops forever otherwise; e.g. the default subscription bounds
// need at least 400 users).
func checkShapeFeasible(n, expected, minFollowers int) error {
	if expected-minFollowers > n/4 {
		return fmt.Errorf("twitternew graph: (min_subscriptions+max_subscriptions)/2 − min_followers = %d exceeds nusers/4 = %d; use more users or fewer subscriptions",
			expected-minFollowers, n/4)
	}
	return nil
}

// ReadGraph imports a graph file (spec/apps.md §2.6.2): whitespace-separated
// text, the number of users, then "poster follower" pairs. Unlike the
// original it stops cleanly at end of file (the original processed the
// final pair twice). Ids must be below the user count.
func ReadGraph(r io.Reader, ngroups, groupid int) (*Graph, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	sc.Split(bufio.ScanWords)
	next := func() (uint32, bool, error) {
		if !sc.Scan() {
			return 0, false, sc.Err()
		}
		v, err := strconv.ParseUint(sc.Text(), 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("bad number %q", sc.Text())
		}
		return uint32(v), true, nil
	}
	n, ok, err := next()
	if err != nil {
		return nil, fmt.Errorf("twitternew graph: user count: %w", err)
	}
	if !ok {
		return nil, errors.New("twitternew graph: empty file")
	}
	if n < 1 {
		return nil, errors.New("twitternew graph: no users")
	}
	g := &Graph{N: int(n), Followers: make([]uint32, n)}
	for pair := 0; ; pair++ {
		poster, ok, err := next()
		if err != nil {
			return nil, fmt.Errorf("twitternew graph: pair %d: %w", pair, err)
		}
		if !ok {
			return g, nil
		}
		follower, ok, err := next()
		if err != nil {
			return nil, fmt.Errorf("twitternew graph: pair %d: %w", pair, err)
		}
		if !ok {
			return nil, fmt.Errorf("twitternew graph: pair %d: poster %d without a follower", pair, poster)
		}
		if poster >= n || follower >= n {
			return nil, fmt.Errorf("twitternew graph: pair %d (%d, %d): id not below %d", pair, poster, follower, n)
		}
		g.Followers[poster]++
		if Managed(follower, ngroups, groupid) {
			g.Subs = append(g.Subs, Sub{User: follower, Poster: poster})
		}
	}
}

// PostWeights are the post-author weights of spec/apps.md §2.6.3, drawn
// from gen: 0 without followers, 0.1 below 10 followers, else an integer
// in [1, floor(2·log10 f)].
func PostWeights(followers []uint32, gen *mt.Rand) []float64 {
	w := make([]float64, len(followers))
	for u, f := range followers {
		switch {
		case f == 0:
			w[u] = 0
		case f < 10:
			w[u] = 0.1
		default:
			m := uint32(math.Floor(2 * math.Log10(float64(f))))
			w[u] = float64(gen.Uint32()%m + 1)
		}
	}
	return w
}

// writeGraphStats prints the follower statistics of spec/apps.md §2.6.4.
func writeGraphStats(w io.Writer, followers []uint32) {
	n := len(followers)
	if n == 0 {
		return
	}
	sorted := slices.Clone(followers)
	slices.Sort(sorted)
	zero := 0
	sum := 0.0
	for _, f := range sorted {
		if f == 0 {
			zero++
		}
		sum += float64(f)
	}
	mean := sum / float64(n)
	v := 0.0
	for _, f := range sorted {
		d := float64(f) - mean
		v += d * d
	}
	sdev := math.Sqrt(v / float64(n))
	pct := func(p float64) uint32 {
		i := int(math.Floor(p * float64(n)))
		return sorted[min(i, n-1)]
	}
	fmt.Fprintf(w, "%d USERS HAVE SUBSCRIBERS:\n", n)
	fmt.Fprintf(w, "zero: %d  mean: %g  sdev: %g\n", zero, mean, sdev)
	fmt.Fprintf(w, "min %d, 1%% %d, 10%% %d, 25%% %d, 50%% %d, 75%% %d, 90%% %d, 99%% %d, max %d\n",
		sorted[0], pct(0.01), pct(0.10), pct(0.25), pct(0.50), pct(0.75), pct(0.90), pct(0.99), sorted[n-1])
}
