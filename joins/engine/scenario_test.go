package engine

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/scenario"
)

// fakeClock is the injected clock of the scenario adapter. It only moves when
// a scenario says `advance`.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time { return c.now }

// engineTarget adapts *Engine to scenario.Target.
type engineTarget struct {
	e     *Engine
	clock *fakeClock
	logf  func(format string, args ...any)
}

var _ scenario.Target = (*engineTarget)(nil)

func newEngineTarget(logf func(string, ...any)) *engineTarget {
	c := &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}
	return &engineTarget{e: New(Options{Clock: c.Now}), clock: c, logf: logf}
}

func (t *engineTarget) Insert(key, value string) error { return t.e.Insert(key, value) }
func (t *engineTarget) Erase(key string) error         { return t.e.Erase(key) }
func (t *engineTarget) Validate(first, last string) error {
	return t.e.Validate(first, last)
}
func (t *engineTarget) CountStored(first, last string) (int, error) {
	return t.e.CountStored(first, last), nil
}
func (t *engineTarget) Find(key string) (string, bool, error) {
	v, ok := t.e.Find(key)
	return v, ok, nil
}
func (t *engineTarget) AddJoin(first, last, text string, staleness time.Duration) error {
	var warning string
	var err error
	if staleness > 0 {
		j, perr := joins.Parse(text)
		if perr != nil {
			return perr
		}
		if err := j.SetStaleness(staleness); err != nil {
			return err
		}
		warning, err = t.e.AddJoin(first, last, j)
	} else {
		warning, err = t.e.AddJoinText(first, last, text)
	}
	if warning != "" && t.logf != nil {
		// Over the request protocol a redundant join still replies OK
		// (§2.7); the warning only goes to the log.
		t.logf("add_join warning: %s", warning)
	}
	return err
}
func (t *engineTarget) Advance(d time.Duration) { t.clock.now = t.clock.now.Add(d) }

// TestScenarios runs every file in testdata/scenarios as a subtest
// (spec/joins.md §8 plus the §9/§10 Go requirements). Set
// SCENARIO_TRACE=1 to log each command as it runs.
func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	trace := os.Getenv("SCENARIO_TRACE") != ""
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		t.Run(name, func(t *testing.T) {
			s, err := scenario.ParseFile(f)
			if err != nil {
				t.Fatal(err)
			}
			opts := scenario.Options{}
			if trace {
				opts.Trace = func(pos scenario.Pos, cmd string) { t.Logf("%s: %s", pos, cmd) }
			}
			err = s.Run(newEngineTarget(t.Logf), opts)
			var fs scenario.Failures
			switch {
			case errors.As(err, &fs):
				for _, f := range fs {
					t.Error(f)
				}
			case err != nil:
				t.Fatal(err)
			}
		})
	}
}

// karmaFull runs §8.21/§8.22 at their full size (10M votes; about a minute
// of loading). By default the tests run scaled down and the full sizes run
// as BenchmarkKarmaValidate / BenchmarkKarmaOnline.
var karmaFull = flag.Bool("karma.full", false, "run the karma tests at the full §8.21/§8.22 size")

// karmaSize returns the full §8.21/§8.22 size with -karma.full, else the
// scaled-down one.
func karmaSize(full int, short int) int {
	if *karmaFull {
		return full
	}
	return short
}

// TestKarma is §8.21 test_karma: 10000 articles × 1000 votes with
// -karma.full (1000 × 100 by default); validate [k|,k}) gives one key per article, each "1000"
// ("100").
func TestKarma(t *testing.T) {
	articles, votes := karmaSize(10000, 1000), karmaSize(1000, 100)
	start := time.Now()
	if err := scenario.Karma(newEngineTarget(t.Logf), articles, votes); err != nil {
		t.Fatal(err)
	}
	t.Logf("karma %d×%d: %v", articles, votes, time.Since(start))
}

// TestKarmaOnline is §8.22 test_karma_online: 10000 articles with one vote
// each, validate (each "1"), then 199 more votes per article through push
// maintenance (each "200"). By default (no -karma.full): 1000 articles,
// 100 votes.
func TestKarmaOnline(t *testing.T) {
	articles, votes := karmaSize(10000, 1000), karmaSize(200, 100)
	start := time.Now()
	if err := scenario.KarmaOnline(newEngineTarget(t.Logf), articles, votes); err != nil {
		t.Fatal(err)
	}
	t.Logf("karma_online %d×%d: %v", articles, votes, time.Since(start))
}
