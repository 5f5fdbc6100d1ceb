package engine

import (
	"fmt"
	"testing"

	"github.com/pequod-go/pequod/joins/scenario"
)

// Benchmarks for the experimental scenarios §8.21 and §8.22. Each iteration
// builds a fresh engine with the timer stopped, so run them with
// -benchtime=1x (the setup of 10M votes dominates wall time):
//
//	go test ./joins/engine -run '^$' -bench Karma -benchtime=1x

// BenchmarkKarmaValidate times only the validate of [k|,k}) over 10000
// articles × 1000 votes (§8.21); the inserts happen outside the timer.
func BenchmarkKarmaValidate(b *testing.B) {
	const articles, votes = 10000, 1000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tg := newEngineTarget(nil)
		if err := scenario.KarmaSetup(tg, articles, votes); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := tg.Validate("k|", "k}"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := scenario.KarmaCheck(tg, articles, "1000"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(articles*votes), "ns/vote")
}

// BenchmarkKarmaOnline times the ~2M incremental votes of §8.22 (10000
// articles × 199 new votes each, pushed through the count join); the
// initial load, the validate and the key formatting happen outside the
// timer (the keys are the ones scenario.KarmaOnlineVotes writes).
func BenchmarkKarmaOnline(b *testing.B) {
	const articles, votes = 10000, 200
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tg := newEngineTarget(nil)
		if err := scenario.KarmaOnlineSetup(tg, articles); err != nil {
			b.Fatal(err)
		}
		keys := make([]string, 0, articles*(votes-1))
		for a := 0; a < articles; a++ {
			for j := 2; j <= votes; j++ {
				keys = append(keys, fmt.Sprintf("v|%05d|%05d", a, j))
			}
		}
		b.StartTimer()
		for _, k := range keys {
			if err := tg.Insert(k, "vote"); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := scenario.KarmaCheck(tg, articles, "200"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(articles*(votes-1)), "ns/vote")
}
