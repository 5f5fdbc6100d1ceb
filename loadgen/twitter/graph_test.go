package twitter

import (
	"slices"
	"strings"
	"testing"

	"github.com/pequod-go/pequod/loadgen/mt"
)

func TestGenerateGraph(t *testing.T) {
	cfg := GraphConfig{N: 1000, MinFollowers: 10, MinSubs: 20, MaxSubs: 200, Shape: 8, NGroups: 1}
	g, err := GenerateGraph(cfg, mt.New(PopulateSeed))
	if err != nil {
		t.Fatal(err)
	}
	perUser := make([]int, g.N)
	seen := map[Sub]bool{}
	var followers = make([]uint32, g.N)
	for _, s := range g.Subs {
		if s.User == s.Poster {
			t.Fatalf("self-subscription %v", s)
		}
		if seen[s] {
			t.Fatalf("duplicate subscription %v", s)
		}
		seen[s] = true
		perUser[s.User]++
		followers[s.Poster]++
	}
	for u, n := range perUser {
		if n < cfg.MinSubs || n > cfg.MaxSubs {
			t.Fatalf("user %d has %d subscriptions, outside [%d, %d]", u, n, cfg.MinSubs, cfg.MaxSubs)
		}
	}
	if !slices.Equal(followers, g.Followers) {
		t.Fatal("follower counts disagree with the subscriptions")
	}
	// Skew: the most followed user has many more followers than the median.
	sorted := slices.Clone(g.Followers)
	slices.Sort(sorted)
	if sorted[len(sorted)-1] < 2*sorted[len(sorted)/2] {
		t.Errorf("graph not skewed: max %d, median %d", sorted[len(sorted)-1], sorted[len(sorted)/2])
	}
	// Deterministic.
	g2, err := GenerateGraph(cfg, mt.New(PopulateSeed))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Subs, g2.Subs) || !slices.Equal(g.Followers, g2.Followers) {
		t.Fatal("same seed, different graphs")
	}
	// Groups: the same seed keeps exactly the managed users' subscriptions
	// with the same follower counts.
	cfg.NGroups, cfg.GroupID = 3, 1
	g3, err := GenerateGraph(cfg, mt.New(PopulateSeed))
	if err != nil {
		t.Fatal(err)
	}
	var want []Sub
	for _, s := range g.Subs {
		if s.User%3 == 1 {
			want = append(want, s)
		}
	}
	if !slices.Equal(g3.Subs, want) || !slices.Equal(g3.Followers, g.Followers) {
		t.Fatal("group 1 of 3 does not keep its own subscriptions of the same graph")
	}
}

func TestGenerateGraphErrors(t *testing.T) {
	for _, cfg := range []GraphConfig{
		{N: 300, MinFollowers: 10, MinSubs: 20, MaxSubs: 200, Shape: 8, NGroups: 1}, // shape loop cannot end
		{N: 1, MinSubs: 0, MaxSubs: 0, Shape: 8, NGroups: 1},
		{N: 100, MinSubs: 20, MaxSubs: 10, Shape: 8, NGroups: 1},
		{N: 100, MinSubs: 20, MaxSubs: 100, Shape: 8, NGroups: 1},
		{N: 100, MinSubs: 2, MaxSubs: 10, Shape: 8, NGroups: 2, GroupID: 2},
	} {
		if _, err := GenerateGraph(cfg, mt.New(1)); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestReadGraph(t *testing.T) {
	const file = "5\n0 1\n0 2\n3 0\n0 4\n2 1" // no newline at EOF
	g, err := ReadGraph(strings.NewReader(file), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g.N != 5 {
		t.Fatalf("N = %d", g.N)
	}
	// Go fix (§2.6.2): the last pair is processed once.
	if want := []uint32{3, 0, 1, 1, 0}; !slices.Equal(g.Followers, want) {
		t.Errorf("followers %v, want %v", g.Followers, want)
	}
	if want := []Sub{{1, 0}, {2, 0}, {0, 3}, {4, 0}, {1, 2}}; !slices.Equal(g.Subs, want) {
		t.Errorf("subs %v, want %v", g.Subs, want)
	}
	// Trailing whitespace changes nothing.
	g2, err := ReadGraph(strings.NewReader(file+"\n\n  "), 1, 0)
	if err != nil || !slices.Equal(g2.Subs, g.Subs) || !slices.Equal(g2.Followers, g.Followers) {
		t.Errorf("trailing whitespace: %v %v", g2, err)
	}
	// Group 1 of 2 keeps followers 1 (odd ids) only, all follower counts.
	g3, err := ReadGraph(strings.NewReader(file), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g3.Subs, []Sub{{1, 0}, {1, 2}}) {
		t.Errorf("group subs %v", g3.Subs)
	}
	if !slices.Equal(g3.Followers, g.Followers) {
		t.Errorf("group followers %v", g3.Followers)
	}
	for _, bad := range []string{"", "x", "3 0", "3 0 1 2", "3 0 3", "3 0 -1", "0"} {
		if _, err := ReadGraph(strings.NewReader(bad), 1, 0); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestPostWeights(t *testing.T) {
	w := PostWeights([]uint32{0, 1, 9, 10, 99, 100, 100000}, mt.New(5))
	if w[0] != 0 || w[1] != 0.1 || w[2] != 0.1 {
		t.Errorf("small weights %v", w[:3])
	}
	for i, f := range []uint32{10, 99, 100, 100000} {
		hi := map[uint32]float64{10: 2, 99: 3, 100: 4, 100000: 10}[f]
		if v := w[3+i]; v < 1 || v > hi || v != float64(int(v)) {
			t.Errorf("followers %d: weight %v outside [1, %v]", f, v, hi)
		}
	}
}
