package difftest

import (
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/oracle"
)

// Failure describes a case that failed.
type Failure struct {
	Case   *Case
	Config Config
	// Op is the index in Case.Ops of the failing operation, or -1 when the
	// failure happened while installing the joins.
	Op int
	// Call is the failing call.
	Call string
	// Problems lists what was wrong.
	Problems []string
	// Got is the failing scan's result.
	Got []KV
	// Log lists every call made to the target, with scan results.
	Log []string
	// Original is the number of operations before shrinking.
	Original int
}

// Execute plays c against t and checks every scan. It returns nil if the
// target behaved, else the first failure. Panics in the target are failures.
func Execute(c *Case, t Target) (f *Failure) { return execute(c, t, nil) }

func execute(c *Case, t Target, st *Stats) (f *Failure) {
	var log []string
	opIdx := -1
	call := ""
	defer func() {
		if r := recover(); r != nil {
			stack := string(debug.Stack())
			if len(stack) > 3000 {
				stack = stack[:3000] + "\n…"
			}
			f = &Failure{Case: c, Op: opIdx, Call: call, Log: log,
				Problems: []string{fmt.Sprintf("panic: %v\n%s", r, stack)}}
		}
	}()
	fail := func(probs ...string) *Failure {
		return &Failure{Case: c, Op: opIdx, Call: call, Problems: probs, Log: log}
	}
	var js []oracle.Installed
	var maxStale time.Duration
	for _, s := range c.Joins {
		j, err := joins.Parse(s.Text)
		if err != nil {
			return fail(fmt.Sprintf("join %q does not parse: %v", s.Text, err))
		}
		if s.Staleness > 0 {
			if err := j.SetStaleness(s.Staleness); err != nil {
				return fail(err.Error())
			}
			maxStale = max(maxStale, s.Staleness)
		}
		if !s.Redundant {
			js = append(js, oracle.Installed{Join: j, First: s.First, Last: s.Last})
		}
	}
	// Scans of t may be checked against the staleness window if t's joins
	// read base tables only and one has a window.
	windowT := func(t string) time.Duration {
		var w time.Duration
		for _, in := range js {
			if in.Table() != t {
				continue
			}
			for _, s := range in.Join.Sources {
				for _, o := range js {
					if o.Table() == s.Table {
						return 0
					}
				}
			}
			w = max(w, in.Join.Staleness)
		}
		return w
	}
	// Base data, and its history for window reads. Time is whole seconds
	// (windows are k.5 s), so clock-resolution effects cannot matter.
	type state struct {
		at   time.Duration
		base map[string]string
	}
	base := map[string]string{}
	hist := []state{{0, maps.Clone(base)}}
	var now time.Duration
	advance := func(d time.Duration) {
		t.Advance(d)
		now += d
		log = append(log, fmt.Sprintf("Advance(%v)", d))
	}
	// Stored checks (§3.6): when every join is push and no context source is
	// lazy, a write must leave every validated range of every sink table up
	// to date before it returns, so the stored keys there are checked after
	// each write (non-validating, through Peek). Keys may be missing where
	// maintenance legitimately removes them until the next validate:
	// min/max keys (§3.5) and tables fed by sink tables (§3.9). Eviction
	// ends the checks.
	peeker, _ := t.(Peeker)
	storedOK := peeker != nil
	mayMiss := map[string]bool{}
	for _, in := range js {
		if !in.Join.Maintained {
			storedOK = false
		}
		for i, s := range in.Join.Sources {
			if i < len(in.Join.Sources)-1 && s.Lazy {
				storedOK = false
			}
			for _, o := range js {
				if o.Table() == s.Table {
					mayMiss[in.Table()] = true
				}
			}
		}
		if in.Join.Op == joins.Min || in.Join.Op == joins.Max {
			mayMiss[in.Table()] = true
		}
	}
	validated := map[string][][2]string{}
	isSink := func(t string) bool {
		for _, in := range js {
			if in.Table() == t {
				return true
			}
		}
		return false
	}
	checkStored := func() *Failure {
		if !storedOK {
			return nil
		}
		for _, tbl := range sortedKeys(validated) {
			stored, err := peeker.Peek(tbl+"|", tbl+"}")
			if err != nil {
				return fail(fmt.Sprintf("Peek(%q): %v", tbl, err))
			}
			c := newChecker(js, base, peeker.Peek)
			c.allowMissing = func(t string) bool { return mayMiss[t] }
			if probs := c.checkStored(tbl, validated[tbl], stored); len(probs) > 0 {
				log = append(log, fmt.Sprintf("Peek(%q, %q) -> %s", tbl+"|", tbl+"}", fmtKVs(stored)))
				call = fmt.Sprintf("non-validating read of table %s after %s", tbl, call)
				f := fail(probs...)
				f.Got = stored
				return f
			}
		}
		return nil
	}
	installed := false
	install := func() *Failure {
		installed = true
		opIdx, call = -1, ""
		for _, s := range c.Joins {
			call = s.String()
			log = append(log, call)
			err := t.AddJoin(s.First, s.Last, s.Text, s.Staleness)
			switch {
			case s.Redundant && err != nil && !errors.Is(err, ErrJoinIgnored):
				return fail(fmt.Sprintf("AddJoin of a redundant join: want ErrJoinIgnored (or nil), got %v", err))
			case !s.Redundant && err != nil:
				return fail(fmt.Sprintf("AddJoin failed: %v", err))
			}
		}
		return nil
	}
	for i, op := range c.Ops {
		if !op.BeforeJoins && !installed {
			if f := install(); f != nil {
				return f
			}
		}
		opIdx, call = i, op.String()
		switch op.Kind {
		case OpInsert, OpErase:
			log = append(log, call)
			var err error
			if op.Kind == OpInsert {
				err = t.Insert(op.Key, op.Value)
				base[op.Key] = op.Value
			} else {
				err = t.Erase(op.Key)
				delete(base, op.Key)
			}
			if err != nil {
				return fail(fmt.Sprintf("%s: unexpected error %v", call, err))
			}
			hist = append(hist, state{now, maps.Clone(base)})
			if f := checkStored(); f != nil {
				return f
			}
		case OpAdvance:
			advance(op.D)
		case OpEvict:
			if e, ok := t.(Evicter); ok {
				storedOK = false
				ok := e.EvictOne()
				log = append(log, fmt.Sprintf("%s -> %v", call, ok))
			}
		case OpScan:
			tbl := joins.RangeTableName(op.First, op.Last)
			w := time.Duration(0)
			if c.WindowReads {
				w = windowT(tbl)
			}
			if maxStale > 0 && w == 0 {
				// Expire every staleness window: the result must be current.
				advance(maxStale.Truncate(time.Second) + time.Second)
			}
			got, err := t.Scan(op.First, op.Last)
			log = append(log, call+" -> "+fmtKVs(got))
			if st != nil {
				st.Scans++
				st.Keys += len(got)
				if len(got) > 0 {
					st.NonEmpty++
				}
			}
			if err != nil {
				return fail(fmt.Sprintf("%s: unexpected error %v", call, err))
			}
			var probs []string
			if w > 0 {
				// States in effect at some instant of [now-⌊w⌋, now].
				from := now - w.Truncate(time.Second)
				k := len(hist) - 1
				for k > 0 && hist[k].at >= from {
					k--
				}
				var sts []map[string]string
				for _, s := range hist[k:] {
					sts = append(sts, s.base)
				}
				probs = checkWindow(js, sts, op.First, op.Last, got)
			} else {
				var peek func(first, last string) ([]KV, error)
				if p, ok := t.(Peeker); ok {
					peek = p.Peek
				}
				probs = newChecker(js, base, peek).checkScan(op.First, op.Last, got)
			}
			if len(probs) > 0 {
				f := fail(probs...)
				f.Got = got
				return f
			}
			if isSink(tbl) {
				validated[tbl] = append(validated[tbl], [2]string{op.First, op.Last})
			}
		}
	}
	if !installed {
		return install()
	}
	return nil
}

// Shrink reduces a failing case by delta debugging over its operations, then
// tries to drop joins, running at most maxRuns executions. It returns the
// smallest failure found (f itself if nothing smaller fails).
func Shrink(f *Failure, newTarget func() Target, maxRuns int) *Failure {
	runs := 0
	try := func(c *Case) *Failure {
		if runs >= maxRuns {
			return nil
		}
		runs++
		return Execute(c, newTarget())
	}
	best := f
	accept := func(g *Failure) {
		c := g.Case.clone()
		if g.Op >= 0 {
			c.Ops = c.Ops[:g.Op+1]
		}
		g.Case = c
		best = g
	}
	accept(f)
	ddmin := func() {
		n := 2
		for len(best.Case.Ops) >= 2 && runs < maxRuns {
			ops := best.Case.Ops
			chunk := (len(ops) + n - 1) / n
			reduced := false
			for start := 0; start < len(ops); start += chunk {
				c := best.Case.clone()
				c.Ops = append(append([]Op(nil), ops[:start]...), ops[min(start+chunk, len(ops)):]...)
				if g := try(c); g != nil {
					accept(g)
					n = max(n-1, 2)
					reduced = true
					break
				}
			}
			if !reduced {
				if n >= len(ops) {
					break
				}
				n = min(2*n, len(ops))
			}
		}
	}
	ddmin()
	for changed := true; changed && runs < maxRuns; {
		changed = false
		for i := len(best.Case.Joins) - 1; i >= 0; i-- {
			if len(best.Case.Joins) == 1 {
				break
			}
			c := best.Case.clone()
			c.Joins = append(c.Joins[:i:i], c.Joins[i+1:]...)
			if g := try(c); g != nil {
				accept(g)
				changed = true
			}
		}
		if best.Case.WindowReads {
			c := best.Case.clone()
			c.WindowReads = false
			if g := try(c); g != nil {
				accept(g)
				changed = true
			}
		}
		if changed {
			ddmin()
		}
	}
	// Simplify the remaining values where possible.
	for i := range best.Case.Ops {
		if op := best.Case.Ops[i]; op.Kind == OpInsert && op.Value != "1" {
			c := best.Case.clone()
			c.Ops[i].Value = "1"
			if g := try(c); g != nil {
				accept(g)
			}
		}
	}
	best.Config = f.Config
	best.Original = f.Original
	return best
}

// ReproCommand is the command Format prints to replay a case; the flags
// -difftest.seed, -difftest.cases, -difftest.features and -difftest.ops
// are appended.
var ReproCommand = "go test ./joins/engine -run 'TestDifferentialOracle$'"

// Format renders a failure as a reproducible trace.
func Format(f *Failure) string {
	var sb strings.Builder
	c := f.Case
	fmt.Fprintf(&sb, "difftest: case seed %d failed (generator: %v)\n", c.Seed, f.Config)
	fmt.Fprintf(&sb, "  reproduce: %s -difftest.seed=%d -difftest.cases=1", ReproCommand, c.Seed)
	if f.Config.Features != AllFeatures {
		fmt.Fprintf(&sb, " -difftest.features=%s", f.Config.Features)
	}
	if len(f.Config.Ops) > 0 {
		var ops []string
		for _, o := range f.Config.Ops {
			ops = append(ops, o.String())
		}
		fmt.Fprintf(&sb, " -difftest.ops=%s", strings.Join(ops, ","))
	}
	sb.WriteString("\n")
	if f.Original > 0 {
		fmt.Fprintf(&sb, "  shrunk from %d to %d operations\n", f.Original, len(c.Ops))
	}
	if c.WindowReads {
		sb.WriteString("  window reads: scans of stale tables are not preceded by an Advance past the window\n")
	}
	sb.WriteString("  calls (fake clock; Advance lines are inserted by the runner before scans when a join has a staleness window):\n")
	for _, l := range f.Log {
		fmt.Fprintf(&sb, "    %s\n", l)
	}
	fmt.Fprintf(&sb, "  failing call: %s\n", f.Call)
	for _, p := range f.Problems {
		fmt.Fprintf(&sb, "    %s\n", strings.ReplaceAll(p, "\n", "\n      "))
	}
	if f.Got != nil {
		fmt.Fprintf(&sb, "  got: %s\n", fmtKVs(f.Got))
	}
	return sb.String()
}

// Stats summarises a run.
type Stats struct {
	Cases, Ops int
	// Scans counts validating scans executed, NonEmpty those that returned
	// keys, Keys the keys returned.
	Scans, NonEmpty, Keys int
	Elapsed               time.Duration
	Failures              []*Failure
}

func (s Stats) String() string {
	rate := float64(s.Cases) / s.Elapsed.Seconds()
	return fmt.Sprintf("%d cases, %d ops, %d validating scans (%d non-empty, %d keys) in %v (%.0f cases/s), %d failures",
		s.Cases, s.Ops, s.Scans, s.NonEmpty, s.Keys, s.Elapsed.Round(time.Millisecond), rate, len(s.Failures))
}

// RunCases generates and executes cases seed, seed+1, …, seed+cases-1
// (Generate(seed+i, cfg)), shrinking each failure. It stops after maxFail
// failures (0: no limit). If the target cannot Peek, the generator is
// restricted to determined chains (Config.NoAmbiguousChains).
func RunCases(newTarget func() Target, seed int64, cases int, cfg Config, maxFail int) Stats {
	start := time.Now()
	var st Stats
	if _, ok := newTarget().(Peeker); !ok {
		cfg.NoAmbiguousChains = true
	}
	for i := range cases {
		c := Generate(seed+int64(i), cfg)
		st.Cases++
		st.Ops += len(c.Ops)
		f := execute(c, newTarget(), &st)
		if f == nil {
			continue
		}
		f.Config = cfg
		f.Original = len(c.Ops)
		f = Shrink(f, newTarget, 3000)
		st.Failures = append(st.Failures, f)
		if maxFail > 0 && len(st.Failures) >= maxFail {
			break
		}
	}
	st.Elapsed = time.Since(start)
	return st
}

// Run is RunCases for tests: every failure is reported with tb.Errorf as a
// reproducible trace, and the statistics are logged.
func Run(tb testing.TB, newTarget func() Target, seed int64, cases int, cfg Config, maxFail int) Stats {
	tb.Helper()
	tb.Logf("difftest: seeds %d..%d, %v", seed, seed+int64(cases)-1, cfg)
	st := RunCases(newTarget, seed, cases, cfg, maxFail)
	for _, f := range st.Failures {
		tb.Errorf("%s", Format(f))
	}
	tb.Logf("difftest: %v", st)
	return st
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
