package engine

import (
	"fmt"
	"math/rand"
	"testing"
)

// timelineJoin is twitternew's timeline join (spec/apps.md §2.5) with text ids.
const timelineJoin = "t|<user:8>|<time:10>|<poster:8> = copy p|<poster>|<time> using s|<user>|<poster>"

// timelineWorld loads a twitternew-shaped graph: users × ~subs subscriptions
// (uniformly random posters) and postsPerUser posts each at distinct times.
func timelineWorld(tb testing.TB, users, subs, postsPerUser int) (*Engine, int) {
	tb.Helper()
	e := New(Options{})
	if _, err := e.AddJoinText("t|", "t}", timelineJoin); err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	for u := 0; u < users; u++ {
		for k := 0; k < subs; k++ {
			e.Insert(fmt.Sprintf("s|%08d|%08d", u, rng.Intn(users)), "1")
		}
	}
	now := 0
	for i := 0; i < postsPerUser; i++ {
		for u := 0; u < users; u++ {
			now++
			e.Insert(fmt.Sprintf("p|%08d|%010d", u, now), "tweet tweet tweet")
		}
	}
	return e, now
}

// BenchmarkTimelineValidateAll validates every user's whole timeline once on
// a 5000-user, 13-subscription, 10-posts-per-user graph; one op = all users.
func BenchmarkTimelineValidateAll(b *testing.B) {
	const users = 5000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e, _ := timelineWorld(b, users, 13, 10)
		b.StartTimer()
		total := 0
		for u := 0; u < users; u++ {
			n, err := e.Count(fmt.Sprintf("t|%08d|", u), fmt.Sprintf("t|%08d}", u), "")
			if err != nil {
				b.Fatal(err)
			}
			total += n
		}
		b.ReportMetric(float64(total), "entries")
	}
}

// BenchmarkTimelinePost measures maintaining every validated timeline per new
// post (fan-out ~13 on average) after all 5000 timelines were validated.
func BenchmarkTimelinePost(b *testing.B) {
	const users = 5000
	e, now := timelineWorld(b, users, 13, 10)
	for u := 0; u < users; u++ {
		if err := e.Validate(fmt.Sprintf("t|%08d|", u), fmt.Sprintf("t|%08d}", u)); err != nil {
			b.Fatal(err)
		}
	}
	keys := make([]string, b.N)
	rng := rand.New(rand.NewSource(2))
	for i := range keys {
		now++
		keys[i] = fmt.Sprintf("p|%08d|%010d", rng.Intn(users), now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Insert(keys[i], "new tweet")
	}
}

// TestTimelineFanout checks the benchmark world is what it claims: every
// post reaches exactly its subscribers' validated timelines.
func TestTimelineFanout(t *testing.T) {
	e, now := timelineWorld(t, 200, 5, 3)
	for u := 0; u < 200; u++ {
		mustValidate(t, e, fmt.Sprintf("t|%08d|", u), fmt.Sprintf("t|%08d}", u))
	}
	before := e.CountStored("t|", "t}")
	subscribers := e.CountStored("s|", "s}") // multiset of (user, poster) pairs
	_ = subscribers
	fans := 0
	e.ScanStored("s|", "s}", func(k, _ string) bool {
		if k[11:] == "00000007" {
			fans++
		}
		return true
	})
	mustInsert(t, e, fmt.Sprintf("p|%08d|%010d", 7, now+1), "hello")
	if got := e.CountStored("t|", "t}") - before; got != fans {
		t.Fatalf("post reached %d timelines, want %d", got, fans)
	}
}
