package main

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// section is one part of the report: a suite, or the two kv suites
// together.
type section struct {
	kind    string
	name    string   // heading
	suites  []string // suites shown, in manifest order
	results []result // by order, then manifest line
}

// sections groups the results by suite, in the order in which the suites
// first appear in the manifest; kv-get and kv-set form one section.
func sections(results []result) []*section {
	var out []*section
	byName := map[string]*section{}
	for _, r := range results {
		kind := suiteKind(r.suite)
		name := r.suite
		if kind == kindKV {
			name = "kv"
		}
		s := byName[name]
		if s == nil {
			s = &section{kind: kind, name: name}
			byName[name] = s
			out = append(out, s)
		}
		if !slices.Contains(s.suites, r.suite) {
			s.suites = append(s.suites, r.suite)
		}
		s.results = append(s.results, r)
	}
	for _, s := range out {
		slices.SortStableFunc(s.results, byOrder)
	}
	return out
}

func byOrder(a, b result) int {
	switch {
	case a.order < b.order:
		return -1
	case a.order > b.order:
		return 1
	}
	return a.line - b.line
}

// val is *p, or NaN when p is nil.
func val(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// per is n/d, or NaN unless d > 0.
func per(n, d float64) float64 {
	if !(d > 0) {
		return math.NaN()
	}
	return n / d
}

// headline is the charted metric of a run of suite: higher is better; NaN
// when unknown.
func headline(r result) float64 {
	if !r.ok() {
		return math.NaN()
	}
	switch {
	case suiteKind(r.suite) == kindTwitter:
		return per(val(r.app.NChecks), val(r.app.WallTime))
	case suiteKind(r.suite) == kindHN:
		return per(hnOps(r.app), val(r.app.WallTime))
	case r.suite == "kv-get":
		return r.kv.Get.OpsPerSec
	case r.suite == "kv-set":
		return r.kv.Set.OpsPerSec
	}
	return math.NaN()
}

// headlineName names the charted metric of suite ("" when it has none).
func headlineName(suite string) string {
	switch {
	case suiteKind(suite) == kindTwitter:
		return "checks/s"
	case suiteKind(suite) == kindHN:
		return "ops/s"
	case suite == "kv-get":
		return "get ops/s"
	case suite == "kv-set":
		return "set ops/s"
	}
	return ""
}

// hnOps is the number of iterations of an hn run: each one posts an
// article (npost) or reads one (nread, possibly followed by a vote and a
// comment). npost is 0 unless post_rate is set, which no option does.
func hnOps(a *appOutput) float64 {
	n := val(a.NRead)
	if a.NPost != nil {
		n += *a.NPost
	}
	return n
}

// fmtInt formats v rounded, with thousands separators; "–" for NaN.
func fmtInt(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	s := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var b strings.Builder
	if v <= -0.5 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtRate formats a rate: integral from 100 up, else with 3 significant
// digits at most.
func fmtRate(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case math.Abs(v) >= 99.95:
		return fmtInt(v)
	case math.Abs(v) >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// fmtSec formats seconds with 2 decimals; "–" for NaN.
func fmtSec(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// cell makes s safe for a markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

// table is a markdown table under construction.
type table struct {
	b strings.Builder
}

func newTable(header ...string) *table {
	t := &table{}
	t.row(header...)
	t.b.WriteString("|")
	for i := range header {
		if i == 0 {
			t.b.WriteString("---|")
		} else {
			t.b.WriteString("---:|")
		}
	}
	t.b.WriteString("\n")
	return t
}

func (t *table) row(cells ...string) {
	t.b.WriteString("|")
	for _, c := range cells {
		t.b.WriteString(" " + cell(c) + " |")
	}
	t.b.WriteString("\n")
}

func (t *table) String() string { return t.b.String() }

// failedRow is a table row for a failed run: the system, "failed", and
// "–" in the other columns.
func failedRow(t *table, system string, ncols int) {
	cells := []string{system, "failed"}
	for len(cells) < ncols {
		cells = append(cells, "–")
	}
	t.row(cells...)
}

// failures lists why runs failed, below a table.
func failures(b *strings.Builder, results []result) {
	first := true
	for _, r := range results {
		if r.ok() {
			continue
		}
		if first {
			b.WriteString("\nFailed runs:\n\n")
			first = false
		}
		fmt.Fprintf(b, "- %s (%s, manifest line %d): %s\n", r.system, r.suite, r.line, r.failed)
	}
}

// busyNote warns when other processes used a noticeable share of the
// machine during some run of results.
func busyNote(b *strings.Builder, results []result) {
	worst, who := 0.0, ""
	for _, r := range results {
		if c := per(r.otherCPU, r.wall); c > worst {
			worst, who = c, r.system+" ("+r.suite+")"
		}
	}
	if worst >= 0.2 {
		fmt.Fprintf(b, "\n**Warning:** other processes used up to %.2f cores during the runs (%s): absolute numbers are depressed and noisy; compare ratios, or re-run on a quiet machine.\n", worst, who)
	}
}

// twitterSection writes the table of a twitternew suite.
func twitterSection(b *strings.Builder, s *section) {
	b.WriteString("twitternew timelines. *wall s* is the measured phase (`wall_time`); checks/s = nchecks / wall s and posts/s = nposts / wall s; " +
		"*nposts_read* counts the posts returned by all timeline checks (final scans included) and *nfull* the checks from a logged-out state. " +
		"CPU seconds are those of the client and the server processes over the whole run (population included), which took *run s*.\n\n")
	t := newTable("system", "wall s", "checks/s", "posts/s", "nposts_read", "nfull", "client CPU s", "server CPU s", "run s")
	// The reference is the first successful single-group run (bench.sh
	// lists Pequod embedded first). Multi-group runs generate one graph per
	// group (apps.md §2.18), so they check different timelines and are left
	// out of the comparison.
	var ref *result
	for i := range s.results {
		if r := &s.results[i]; r.ok() && !(val(r.app.NGroups) > 1) {
			ref = r
			break
		}
	}
	comparable := func(r result) bool { return ref != nil && r.ok() && !(val(r.app.NGroups) > 1) }
	var differ []string
	for _, r := range s.results {
		if !r.ok() {
			failedRow(t, r.system, 9)
			continue
		}
		a := r.app
		system := r.system
		if g := val(a.NGroups); g > 1 {
			system += fmt.Sprintf(" (%d clients)", int(g))
		}
		read := fmtInt(val(a.NPostsRead))
		if comparable(r) && val(a.NPostsRead) != val(ref.app.NPostsRead) {
			d := val(a.NPostsRead) - val(ref.app.NPostsRead)
			read += fmt.Sprintf(" (%+.0f) ⚠", d)
			differ = append(differ, fmt.Sprintf("%s %+.0f", r.system, d))
		}
		wall := val(a.WallTime)
		t.row(system, fmtSec(wall), fmtRate(per(val(a.NChecks), wall)), fmtRate(per(val(a.NPosts), wall)),
			read, fmtInt(val(a.NFull)), fmtSec(r.clientCPU), fmtSec(r.serverCPU), fmtSec(r.wall))
	}
	b.WriteString(t.String())
	if len(differ) > 0 {
		fmt.Fprintf(b, "\n⚠ **nposts_read differs from %s's %s**: %s. The runs check the same timelines with the same op stream, and each check waits for the posts it reads, so a system that returns fewer posts served a stale timeline (a client-push baseline checked before its backfill was written) or never backfills (PostgreSQL, apps.md §3.4), and one that returns more served duplicates. Pequod's timelines come from a cache join that is never stale: a Pequod row flagged here is a bug.",
			ref.system, fmtInt(val(ref.app.NPostsRead)), strings.Join(differ, "; "))
		var single []result
		for _, r := range s.results {
			if comparable(r) {
				single = append(single, r)
			}
		}
		_, checks := modal(single, func(a *appOutput) *float64 { return a.NChecks })
		_, posts := modal(single, func(a *appOutput) *float64 { return a.NPosts })
		if checks || posts {
			b.WriteString(" (nchecks or nposts differ too, so the runs did not issue the same operations: compare the workload parameters first.)")
		}
		b.WriteString("\n")
	}
	for _, r := range s.results {
		if r.ok() && !(val(r.app.WallTime) > 0) {
			fmt.Fprintf(b, "\nNote: %s reports wall_time %s, so its rates are unknown.\n", r.system, fmtSec(val(r.app.WallTime)))
		}
	}
	failures(b, s.results)
	busyNote(b, s.results)
}

// modal returns the most frequent value of field among the successful
// runs (the first one on ties) and whether the runs disagree.
func modal(results []result, field func(*appOutput) *float64) (float64, bool) {
	count := map[float64]int{}
	var order []float64
	for _, r := range results {
		if !r.ok() || field(r.app) == nil {
			continue
		}
		v := *field(r.app)
		if count[v] == 0 {
			order = append(order, v)
		}
		count[v]++
	}
	if len(order) == 0 {
		return math.NaN(), false
	}
	best := order[0]
	for _, v := range order {
		if count[v] > count[best] {
			best = v
		}
	}
	return best, len(order) > 1
}

// hnSection writes the table of an hn suite.
func hnSection(b *strings.Builder, s *section) {
	b.WriteString("Hacker News (hn). ops/s = iterations / wall s, an iteration being an article read (nread; with a vote and a comment for some) " +
		"or a new article (npost, 0 unless post_rate is set); *wall s* is the measured phase (`wall_time`). " +
		"CPU seconds are those of the client and the server processes over the whole run (population included), which took *run s*.\n\n")
	// karma errors: shown when some run reports them (Go's hn checks the
	// karma the server computes against the client's model).
	karma := slices.ContainsFunc(s.results, func(r result) bool { return r.ok() && r.app.KarmaErrors != nil })
	header := []string{"system", "ops/s", "nread", "nvote", "ncomment", "wall s", "client CPU s", "server CPU s", "run s"}
	if karma {
		header = append(header, "karma errors")
	}
	t := newTable(header...)
	var bad []string
	for _, r := range s.results {
		if !r.ok() {
			failedRow(t, r.system, len(header))
			continue
		}
		a := r.app
		system := r.system
		if g := val(a.NGroups); g > 1 {
			system += fmt.Sprintf(" (%d clients)", int(g))
		}
		wall := val(a.WallTime)
		cells := []string{system, fmtRate(per(hnOps(a), wall)), fmtInt(val(a.NRead)), fmtInt(val(a.NVote)), fmtInt(val(a.NComment)),
			fmtSec(wall), fmtSec(r.clientCPU), fmtSec(r.serverCPU), fmtSec(r.wall)}
		if karma {
			k := fmtInt(val(a.KarmaErrors))
			if val(a.KarmaErrors) > 0 {
				k += " ⚠"
				bad = append(bad, fmt.Sprintf("%s: %s", r.system, fmtInt(val(a.KarmaErrors))))
			}
			cells = append(cells, k)
		}
		t.row(cells...)
	}
	b.WriteString(t.String())
	if len(bad) > 0 {
		fmt.Fprintf(b, "\n⚠ **Karma check failures** (%s): the karma read back disagreed with the client's model of the votes; this is a correctness finding.\n", strings.Join(bad, "; "))
	}
	failures(b, s.results)
	busyNote(b, s.results)
}

// kvSection writes the table of the kv suites: a row per system with its
// kv-get and kv-set runs.
func kvSection(b *strings.Builder, s *section) {
	b.WriteString("Key-value get and set (`pequod kv`): throughput of the measured phase and per-request latency from issue to reply (pipeline queueing included); " +
		"errors counts failed requests of both runs, population included.\n\n")
	t := newTable("system", "get ops/s", "get p50 µs", "get p99 µs", "set ops/s", "set p50 µs", "set p99 µs", "errors")
	var systems []string
	for _, r := range s.results {
		if !slices.Contains(systems, r.system) {
			systems = append(systems, r.system)
		}
	}
	for _, sys := range systems {
		cells := []string{sys}
		errs, haveErrs := uint64(0), false
		for _, suite := range []string{"kv-get", "kv-set"} {
			i := slices.IndexFunc(s.results, func(r result) bool { return r.system == sys && r.suite == suite })
			switch {
			case i < 0:
				cells = append(cells, "–", "–", "–")
			case !s.results[i].ok():
				cells = append(cells, "failed", "–", "–")
			default:
				res := s.results[i].kv
				op := res.Get
				if suite == "kv-set" {
					op = res.Set
				}
				cells = append(cells, fmtInt(op.OpsPerSec), fmtInt(op.LatencyUs.P50), fmtInt(op.LatencyUs.P99))
				errs += res.Errors.Total
				if res.Populate != nil {
					errs += res.Populate.Errors.Total
				}
				haveErrs = true
			}
		}
		if haveErrs {
			cells = append(cells, strconv.FormatUint(errs, 10))
		} else {
			cells = append(cells, "–")
		}
		t.row(cells...)
	}
	b.WriteString(t.String())
	for _, r := range s.results {
		if r.ok() {
			res := r.kv
			fmt.Fprintf(b, "\nLoad: %d connections x pipeline depth %d, %d keys, %d-byte values, %.0f s per run.\n",
				res.Conns, res.Depth, res.Keys, res.ValueSize, res.Elapsed)
			break
		}
	}
	failures(b, s.results)
	busyNote(b, s.results)
}

// otherSection writes the manifest's numbers for a suite of unknown kind.
func otherSection(b *strings.Builder, s *section) {
	b.WriteString("A suite unknown to benchreport: the numbers measured by bench.sh only.\n\n")
	t := newTable("system", "file", "run s", "client CPU s", "server CPU s")
	for _, r := range s.results {
		file := r.file
		if !r.ok() {
			file = "failed"
		}
		t.row(r.system, file, fmtSec(r.wall), fmtSec(r.clientCPU), fmtSec(r.serverCPU))
	}
	b.WriteString(t.String())
	failures(b, s.results)
}
