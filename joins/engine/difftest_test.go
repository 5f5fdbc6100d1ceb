package engine_test

import (
	"flag"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/difftest"
	"github.com/pequod-go/pequod/joins/engine"
)

// Differential test of the engine against joins/oracle (see joins/difftest).
//
//	go test ./joins/engine -run TestDifferentialOracle                      # fixed seeds
//	go test ./joins/engine -run 'TestDifferentialOracle$' -difftest.seed=42 -difftest.cases=100000
//	go test ./joins/engine -run 'TestDifferentialOracle$' -difftest.seed=N -difftest.cases=1   # replay one case
//	-difftest.features=all,-stale  -difftest.ops=count,sum  -difftest.maxfail=5  (bisecting)
var (
	dtSeed     = flag.Int64("difftest.seed", 0, "difftest: first case seed (0: the fixed CI seeds)")
	dtCases    = flag.Int("difftest.cases", 0, "difftest: number of cases (0: default budget)")
	dtFeatures = flag.String("difftest.features", "all", "difftest: generator features, e.g. all,-stale,-chain")
	dtOps      = flag.String("difftest.ops", "", "difftest: operators, e.g. count,sum (default all)")
	dtMaxOps   = flag.Int("difftest.maxops", 0, "difftest: max operations per case (default 60)")
	dtMaxFail  = flag.Int("difftest.maxfail", 1, "difftest: stop after this many failing cases (0: no limit)")
	dtAlphabet = flag.String("difftest.alphabet", "", `difftest: slot bytes, e.g. "01" (default: "012", "01" or "0123" per case)`)
)

// engineTarget adapts an *engine.Engine with a fake clock to difftest.Target.
type engineTarget struct {
	e   *engine.Engine
	now time.Time
}

func newEngineTarget() difftest.Target {
	t := &engineTarget{now: time.Unix(1_700_000_000, 0)}
	t.e = engine.New(engine.Options{Clock: func() time.Time { return t.now }})
	return t
}

func (t *engineTarget) Insert(key, value string) error { return t.e.Insert(key, value) }
func (t *engineTarget) Erase(key string) error         { return t.e.Erase(key) }
func (t *engineTarget) Advance(d time.Duration)        { t.now = t.now.Add(d) }
func (t *engineTarget) EvictOne() bool                 { return t.e.EvictOne() }

func (t *engineTarget) AddJoin(first, last, text string, staleness time.Duration) error {
	j, err := joins.Parse(text)
	if err != nil {
		return err
	}
	if staleness > 0 {
		if err := j.SetStaleness(staleness); err != nil {
			return err
		}
	}
	warn, err := t.e.AddJoin(first, last, j)
	if err == nil && warn != "" {
		err = fmt.Errorf("%w: %s", difftest.ErrJoinIgnored, warn)
	}
	return err
}

func (t *engineTarget) Scan(first, last string) ([]difftest.KV, error) {
	var out []difftest.KV
	err := t.e.Scan(first, last, "", func(k, v string) bool {
		out = append(out, difftest.KV{Key: k, Value: v})
		return true
	})
	return out, err
}

// Peek is a non-validating scan (engine.ScanStored), used by the checker to
// see which upstream keys a downstream join read.
func (t *engineTarget) Peek(first, last string) ([]difftest.KV, error) {
	var out []difftest.KV
	t.e.ScanStored(first, last, func(k, v string) bool {
		out = append(out, difftest.KV{Key: k, Value: v})
		return true
	})
	return out, nil
}

func difftestConfig(t *testing.T) difftest.Config {
	cfg := difftest.DefaultConfig()
	f, err := difftest.ParseFeatures(*dtFeatures)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Features = f
	if cfg.Ops, err = difftest.ParseOps(*dtOps); err != nil {
		t.Fatal(err)
	}
	cfg.MaxOps = *dtMaxOps
	cfg.Alphabet = *dtAlphabet
	return cfg
}

func TestDifferentialOracle(t *testing.T) {
	cfg := difftestConfig(t)
	if *dtSeed != 0 || *dtCases != 0 {
		seed, n := *dtSeed, *dtCases
		if seed == 0 {
			seed = 1
		}
		if n == 0 {
			n = 1000
		}
		difftest.Run(t, newEngineTarget, seed, n, cfg, *dtMaxFail)
		return
	}
	// Fixed seeds: a broad run with every feature, plus focused runs that
	// keep failures in one area from hiding the others.
	n := 5000
	if testing.Short() {
		n = 500
	}
	runs := []struct {
		name  string
		seed  int64
		feats string
		ops   string
		n     int
	}{
		{"all", 1_000_000, "all", "", n},
		{"push-base", 2_000_000, "lazy,eager,bare,filter,selfjoin,erase,wide,anon,garbage,syntax,bytes", "", n / 2},
		{"chains", 3_000_000, "chain,lazy,eager,bare,filter,erase,evict", "", n / 2},
		{"pull-stale", 4_000_000, "pull,stale,window,lazy,filter,erase,chain", "", n / 4},
		{"ranges", 5_000_000, "narrow,multi,redundant,wide,erase,lazy,eager,evict", "", n / 4},
		{"aggregates", 6_000_000, "all,-pull,-stale", "count,sum,min,max", n / 4},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			c := cfg
			if *dtFeatures == "all" {
				c.Features, _ = difftest.ParseFeatures(r.feats)
			}
			if *dtOps == "" && r.ops != "" {
				c.Ops, _ = difftest.ParseOps(r.ops)
			}
			difftest.Run(t, newEngineTarget, r.seed, r.n, c, *dtMaxFail)
		})
	}
}

// brokenTarget corrupts scans of sink tables, to prove the checker fails.
type brokenTarget struct {
	difftest.Target
	mode string
}

func (b brokenTarget) Peek(first, last string) ([]difftest.KV, error) {
	return b.Target.(difftest.Peeker).Peek(first, last)
}

func (b brokenTarget) Scan(first, last string) ([]difftest.KV, error) {
	kv, err := b.Target.Scan(first, last)
	if tbl := joins.RangeTableName(first, last); tbl != "x" && tbl != "y" {
		return kv, err
	}
	switch b.mode {
	case "drop-one-key":
		if len(kv) > 0 {
			kv = kv[:len(kv)-1]
		}
	case "count-plus-one":
		for i := range kv {
			if n, e := strconv.Atoi(kv[i].Value); e == nil && strconv.Itoa(n) == kv[i].Value {
				kv[i].Value = strconv.Itoa(n + 1)
			}
		}
	}
	return kv, err
}

func TestDifferentialOracleCatchesBrokenTarget(t *testing.T) {
	for _, mode := range []string{"drop-one-key", "count-plus-one"} {
		newTarget := func() difftest.Target { return brokenTarget{newEngineTarget(), mode} }
		st := difftest.RunCases(newTarget, 77, 300, difftest.DefaultConfig(), 1)
		if len(st.Failures) == 0 {
			t.Errorf("%s: the differential checker did not notice", mode)
			continue
		}
		t.Logf("%s caught as expected:\n%s", mode, difftest.Format(st.Failures[0]))
	}
}
