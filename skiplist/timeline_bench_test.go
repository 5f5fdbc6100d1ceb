package skiplist

import (
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"sync"
	"testing"
)

// Timeline benchmarks mimic the twitternew-text workload's timeline table:
// a cut-10 store (the engine cuts t| after the user slot) of tlGroups
// subtables t|%08d of 50–500 keys t|%08d|%010d|%08d (user, time, poster),
// times spread over a million ticks. Timeline checks count the tail of one
// subtable; maintenance looks up and inserts keys near a subtable's end.
const tlGroups = 5000

type tlData struct {
	users [][]string // users[u] = u's keys, sorted
	total int
}

func tlKey(u, t, p int) string { return fmt.Sprintf("t|%08d|%010d|%08d", u, t, p) }

var tlKeys = sync.OnceValue(func() *tlData {
	r := rand.New(rand.NewSource(7))
	d := &tlData{users: make([][]string, tlGroups)}
	for u := range d.users {
		n := 50 + r.Intn(451)
		ks := make([]string, n)
		for i := range ks {
			ks[i] = tlKey(u, r.Intn(1000000), r.Intn(tlGroups))
		}
		sort.Strings(ks)
		d.users[u] = ks
		d.total += n
	}
	return d
})

func newTimelineStore() *Store[int] {
	d := tlKeys()
	s := New(func(int) int { return 8 })
	s.SetCut(10)
	// Insert in a shuffled order, as posts arrive scattered over users.
	type uk struct{ u, i int }
	all := make([]uk, 0, d.total)
	for u, ks := range d.users {
		for i := range ks {
			all = append(all, uk{u, i})
		}
	}
	rand.New(rand.NewSource(8)).Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for n, x := range all {
		s.Put(d.users[x.u][x.i], n)
	}
	runtime.GC()
	return s
}

var tlStore = sync.OnceValue(newTimelineStore)

// tlQuery is a tail query: user u, counting from the key k places before
// the end of u's timeline.
type tlQuery struct {
	first, last string
	want        int
	miss        string // an absent key sorting just before first
	// A windowed count [first, mid): mid is a time prefix some keys after
	// first, with later keys in the subtable (a check reading up to
	// now - Skew).
	mid     string
	wantMid int
}

var tlQueries = sync.OnceValue(func() []tlQuery {
	d := tlKeys()
	r := rand.New(rand.NewSource(9))
	qs := make([]tlQuery, 1<<16)
	for i := range qs {
		u := r.Intn(tlGroups)
		ks := d.users[u]
		k := 1 + r.Intn(40)
		key := ks[len(ks)-k]
		// first is t|<user>|<time>: the range starts at the key's time.
		first := key[:21]
		want := 0
		for _, x := range ks {
			if x >= first {
				want++
			}
		}
		qs[i] = tlQuery{first: first, last: fmt.Sprintf("t|%08d}", u), want: want,
			miss: key[:len(key)-1] + "\x00"} // not a real poster id, so absent
		if qs[i].miss > key {
			qs[i].miss = first // first itself (no poster) is absent too
		}
		mk := ks[len(ks)-1-r.Intn(k)]
		qs[i].mid = mk[:21]
		for _, x := range ks {
			if x >= first && x < qs[i].mid {
				qs[i].wantMid++
			}
		}
	}
	return qs
})

// benchTimeline runs op b.N times on the shared workload-shaped store, over
// the queries in turn.
func benchTimeline(b *testing.B, op func(b *testing.B, s *Store[int], q *tlQuery, i int)) {
	s, qs := tlStore(), tlQueries()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		op(b, s, &qs[i%len(qs)], i)
	}
}

// BenchmarkTimelineCount counts the tail (1–20 keys) of a random subtable.
func BenchmarkTimelineCount(b *testing.B) {
	benchTimeline(b, func(b *testing.B, s *Store[int], q *tlQuery, i int) {
		if c := s.Count(q.first, q.last); c != q.want {
			b.Fatalf("Count(%q, %q) = %d, want %d", q.first, q.last, c, q.want)
		}
	})
}

// BenchmarkTimelineCountWindow counts a window of the tail of a random
// subtable, with later keys after it.
func BenchmarkTimelineCountWindow(b *testing.B) {
	benchTimeline(b, func(b *testing.B, s *Store[int], q *tlQuery, i int) {
		if c := s.Count(q.first, q.mid); c != q.wantMid {
			b.Fatalf("Count(%q, %q) = %d, want %d", q.first, q.mid, c, q.wantMid)
		}
	})
}

// BenchmarkTimelineSeek seeks into the tail of a random subtable.
func BenchmarkTimelineSeek(b *testing.B) {
	benchTimeline(b, func(b *testing.B, s *Store[int], q *tlQuery, i int) {
		if it := s.Seek(q.first); !it.Valid() {
			b.Fatal("Seek ran off the end")
		}
	})
}

// BenchmarkTimelineRange ranges over the tail of a random subtable.
func BenchmarkTimelineRange(b *testing.B) {
	benchTimeline(b, func(b *testing.B, s *Store[int], q *tlQuery, i int) {
		n := 0
		s.Range(q.first, q.last, func(string, int) bool { n++; return true })
		if n != q.want {
			b.Fatalf("Range saw %d, want %d", n, q.want)
		}
	})
}

// BenchmarkTimelineGetMiss looks up absent keys near the tail of a random
// subtable (the engine's lookup of a new sink key); misses never build an
// index, so every lookup searches the list.
func BenchmarkTimelineGetMiss(b *testing.B) {
	benchTimeline(b, func(b *testing.B, s *Store[int], q *tlQuery, i int) {
		if _, ok := s.Get(q.miss); ok {
			b.Fatal("absent key found")
		}
	})
}

// BenchmarkTimelineInsert looks up, inserts and deletes a new key near the
// tail of a random subtable.
func BenchmarkTimelineInsert(b *testing.B) {
	benchTimeline(b, func(b *testing.B, s *Store[int], q *tlQuery, i int) {
		if _, ok := s.Get(q.miss); ok {
			b.Fatal("absent key found")
		}
		s.Put(q.miss, i)
		if _, ok := s.Delete(q.miss); !ok {
			b.Fatal("inserted key missing")
		}
	})
}

// BenchmarkTimelineGetHit looks up present keys anywhere in random
// subtables of a fresh store (so groups get indexed as they are probed).
func BenchmarkTimelineGetHit(b *testing.B) {
	d := tlKeys()
	s := newTimelineStore()
	r := rand.New(rand.NewSource(10))
	keys := make([]string, 1<<16)
	for i := range keys {
		ks := d.users[r.Intn(tlGroups)]
		keys[i] = ks[r.Intn(len(ks))]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := s.Get(keys[i%len(keys)]); !ok {
			b.Fatal("present key missing")
		}
	}
}
