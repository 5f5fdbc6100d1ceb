package partition

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/pequod-go/pequod/joins/scenario"
)

// newHarnessWith is newHarness with a given configuration (its Clock is
// replaced by the harness's fake clock).
func newHarnessWith(t testing.TB, cfg Config) *harness {
	h := &harness{t: t}
	h.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	cfg.Clock = func() time.Time { return time.Unix(0, h.now.Load()) }
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(s.Close)
	return h
}

// TestScenariosNamedPartitioners replays every scenario with four
// partitions under named §2.9 functions: `unit` puts each table in one
// partition (t and p share one, f is on another), twitternew-text and
// hackernews spread a table's keys over partitions by the first 5 digits
// after the prefix, so joins read sources other partitions own.
func TestScenariosNamedPartitioners(t *testing.T) {
	files, _ := filepath.Glob("../joins/engine/testdata/scenarios/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	for _, name := range []string{"unit", "twitternew-text", "hackernews"} {
		for _, f := range files {
			t.Run(name+"/"+filepath.Base(f), func(t *testing.T) {
				if why, ok := knownCrossPartition[filepath.Base(f)]; ok {
					t.Skip(why)
				}
				h := newHarnessWith(t, Config{Partitions: 4, Partitioner: name})
				if err := scenario.RunFile(f, h, scenario.Options{}); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}
