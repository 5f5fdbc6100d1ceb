package main

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/kv"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func twitterJSON(nchecks, nposts, nread, nfull int, wall float64) string {
	return fmt.Sprintf(`{"log": {}, "server_logs": null, "server_stats": [{"store_size": 1}], "nposts": %d, "nbackposts": 0, "nsubscribes": 0,
		"nchecks": %d, "nfull": %d, "nposts_read": %d, "nactive": 10, "nlogouts": 0, "user_time": 1.5, "system_time": 0.5, "wall_time": %g}`,
		nposts, nchecks, nfull, nread, wall)
}

func kvJSON(t *testing.T, backend string, get, set float64, p50 float64, errs uint64) string {
	t.Helper()
	r := kv.Result{Backend: backend, Conns: 50, Depth: 32, Keys: 1000, ValueSize: 32, Elapsed: 2}
	op := func(ops float64) kv.OpResult {
		return kv.OpResult{Ops: uint64(ops * 2), OpsPerSec: ops, LatencyUs: kv.Latency{P50: p50, P99: 4 * p50}}
	}
	if get > 0 {
		r.Get = op(get)
	}
	if set > 0 {
		r.Set = op(set)
	}
	r.Errors.Total = errs
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// setup writes a results directory with a manifest covering every suite
// kind and every kind of failure.
func setup(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw")
	writeFile(t, filepath.Join(raw, "tw-pequod.json"), twitterJSON(10000, 2000, 50000, 30, 10))
	writeFile(t, filepath.Join(raw, "tw-redis.json"), twitterJSON(10000, 2000, 49990, 30, 8))
	writeFile(t, filepath.Join(raw, "tw-broken.json"), `{"nchecks": 1,`)
	writeFile(t, filepath.Join(raw, "tw50", "output_app_0.json"), twitterJSON(500, 100, 7000, 1, 5))
	writeFile(t, filepath.Join(raw, "tw50", "output_app_1.json"), twitterJSON(500, 100, 7000, 1, 7))
	writeFile(t, filepath.Join(raw, "tw-hn.json"), `{"nread": 5, "wall_time": 1}`)
	writeFile(t, filepath.Join(raw, "hn-pequod.json"),
		`{"log": {}, "server_logs": null, "server_stats": [], "nread": 1000, "npost": 0, "ncomment": 5, "nvote": 10, "user_time": 1, "system_time": 0, "wall_time": 2}`)
	writeFile(t, filepath.Join(raw, "hn-redis.json"),
		`{"nread": 900, "npost": 100, "ncomment": 5, "nvote": 10, "user_time": 1, "system_time": 0, "wall_time": 4, "karma_errors": 3}`)
	writeFile(t, filepath.Join(raw, "kv-p1-get.json"), kvJSON(t, "pequod", 250000, 0, 4500, 0))
	writeFile(t, filepath.Join(raw, "kv-p1-set.json"), kvJSON(t, "pequod", 0, 200000, 900, 0))
	writeFile(t, filepath.Join(raw, "kv-redis-get.json"), kvJSON(t, "redis", 500000, 0, 2000, 3))
	writeFile(t, filepath.Join(raw, "other.txt"), "x")
	manifest := strings.Join([]string{
		"# bench.sh manifest",
		"# command: ./bench.sh --quick --duration 2s",
		"# note: quick run, numbers are noisy",
		"twitter-5k\tRedis\t2\ttw-redis.json\t13\t3\t5\t0",
		"twitter-5k\tPequod\t1\ttw-pequod.json\t12.5\t3.0\t4.0\t0.1",
		"twitter-5k\tMemcached\t3\t-\t\t\t\t",
		"twitter-5k\tPostgres\t4\tmissing.json\t1\t1\t1\t1",
		"twitter-5k\tBroken\t5\ttw-broken.json",
		"twitter-5k\tHN by mistake\t6\ttw-hn.json",
		"",
		"hn\tPequod\t1\thn-pequod.json\t4\t1.25\t2.5\t3.5",
		"hn\tRedis\t2\thn-redis.json",
		"twitter-50k\tPequod\t1\ttw50",
		"kv-get\tPequod 1 partition\t1\tkv-p1-get.json\t3\t1\t1\t0",
		"kv-set\tPequod 1 partition\t1\tkv-p1-set.json\t3\t1\t1\t0",
		"kv-get\tRedis\t10\tkv-redis-get.json\t3\t1\t1\t0",
		"kv-set\tRedis\t10\t-",
		"kv-set\tExtra\tfirst\tkv-p1-get.json",
		"a line without tabs",
		"weird\tX\t1\tother.txt\t1\tx\t2",
	}, "\n") + "\n"
	writeFile(t, filepath.Join(raw, "manifest.tsv"), manifest)
	return dir
}

func runReport(t *testing.T, dir, gnuplot string) string {
	t.Helper()
	path, err := run(options{dir: dir, gnuplot: gnuplot, report: "go run ./loadgen/benchreport -dir results",
		now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(md)
}

func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if w > 0 && (img.Bounds().Dx() != w || img.Bounds().Dy() != h) {
		t.Errorf("%s: %v, want %dx%d", path, img.Bounds(), w, h)
	}
}

func TestReport(t *testing.T) {
	dir := setup(t)
	md := runReport(t, dir, "never")
	for _, want := range []string{
		"Generated 2026-01-02 03:04 UTC by `go run ./loadgen/benchreport -dir results`",
		"- Command: `./bench.sh --quick --duration 2s`",
		"- Note: quick run, numbers are noisy",
		"cores",
		"- Go: go",
		// twitter-5k: sorted by order; rates from the output's wall_time.
		"| system | wall s | checks/s | posts/s | nposts_read | nfull | client CPU s | server CPU s | run s |",
		"| Pequod | 10.00 | 1,000 | 200 | 50,000 | 30 | 3.00 | 4.00 | 12.50 |",
		"| Redis | 8.00 | 1,250 | 250 | 49,990 (-10) ⚠ | 30 | 3.00 | 5.00 | 13.00 |",
		"| Memcached | failed | – | – | – | – | – | – | – |",
		"| Postgres | failed | – |",
		"| Broken | failed | – |",
		"⚠ **nposts_read differs from Pequod's 50,000**: Redis -10.",
		"- Memcached (twitter-5k, manifest line 6): the run failed (no output)",
		"- Postgres (twitter-5k, manifest line 7): missing result file missing.json",
		"- Broken (twitter-5k, manifest line 8): tw-broken.json: malformed JSON",
		"- HN by mistake (twitter-5k, manifest line 9): tw-hn.json: not a twitternew output (no nchecks, nposts, nposts_read)",
		// twitter-50k: a directory of client outputs, aggregated (wall
		// times averaged: 6 s; checks summed: 1000).
		"| Pequod (2 clients) | 6.00 | 167 | 33.3 | 14,000 | 2 | – | – | – |",
		// hn
		"| system | ops/s | nread | nvote | ncomment | wall s | client CPU s | server CPU s | run s | karma errors |",
		"| Pequod | 500 | 1,000 | 10 | 5 | 2.00 | 1.25 | 2.50 | 4.00 | – |",
		"| Redis | 250 | 900 | 10 | 5 | 4.00 | – | – | – | 3 ⚠ |",
		"⚠ **Karma check failures** (Redis: 3)",
		"**Warning:** other processes used up to 0.88 cores during the runs (Pequod (hn))",
		// kv
		"| system | get ops/s | get p50 µs | get p99 µs | set ops/s | set p50 µs | set p99 µs | errors |",
		"| Pequod 1 partition | 250,000 | 4,500 | 18,000 | 200,000 | 900 | 3,600 | 0 |",
		"| Redis | 500,000 | 2,000 | 8,000 | failed | – | – | 3 |",
		"- Extra (kv-set, manifest line 18): kv-p1-get.json: no set operations",
		"| Extra | – | – | – | failed | – | – | – |",
		"50 connections x pipeline depth 32, 1000 keys, 32-byte values, 2 s per run",
		// manifest problems and unknown suites
		`- line 18: order "first" is not a number; using 0`,
		`- line 19: want at least 4 tab-separated fields`,
		`- line 20: field 6 "x" is not a number`,
		"| X | other.txt | 1.00 | – | 2.00 |",
		// charts
		"![twitter-5k: checks/s per system](twitter-5k.png)",
		"![kv-get: get ops/s per system](kv-get.png)",
		"![kv-set: set ops/s per system](kv-set.png)",
		"![hn: ops/s per system](hn.png)",
		"![summary](summary.png)",
		"drawn by built-in renderer (loadgen/chart)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("README.md lacks %q", want)
		}
	}
	if n := strings.Count(md, "nposts_read differs from"); n != 1 {
		t.Errorf("%d disagreement notes, want 1", n)
	}
	// Sections in manifest order of first appearance.
	var order []int
	for _, h := range []string{"## twitter-5k", "## hn", "## twitter-50k", "## kv", "## weird"} {
		order = append(order, strings.Index(md, "\n"+h+"\n"))
	}
	for i := range order {
		if order[i] < 0 || (i > 0 && order[i] < order[i-1]) {
			t.Errorf("section order %v", order)
			break
		}
	}
	if t.Failed() {
		t.Log(md)
	}
	for _, s := range []string{"twitter-5k", "twitter-50k", "hn", "kv-get", "kv-set"} {
		checkPNG(t, filepath.Join(dir, s+".png"), 1100, 650)
		if _, err := os.Stat(filepath.Join(dir, s+".gp")); err == nil {
			t.Errorf("%s.gp written with -gnuplot never", s)
		}
	}
	checkPNG(t, filepath.Join(dir, "summary.png"), 1600, 1440)
	if _, err := os.Stat(filepath.Join(dir, "weird.png")); err == nil {
		t.Error("chart for a suite without a headline metric")
	}
}

func TestGnuplot(t *testing.T) {
	if _, err := exec.LookPath("gnuplot"); err != nil {
		t.Skip("gnuplot not installed")
	}
	dir := setup(t)
	md := runReport(t, dir, "auto")
	if !strings.Contains(md, "drawn by gnuplot (twitter-5k.gp, twitter-5k.dat)") {
		t.Errorf("README.md does not credit gnuplot:\n%s", md)
	}
	for _, s := range []string{"twitter-5k", "hn", "kv-get"} {
		checkPNG(t, filepath.Join(dir, s+".png"), 0, 0)
	}
	dat, err := os.ReadFile(filepath.Join(dir, "twitter-5k.dat"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\"Pequod\"\t1000\t\"1,000\"\t1000\n", "\"Memcached\"\tNaN\t\"failed\"\t0\n"} {
		if !strings.Contains(string(dat), want) {
			t.Errorf("twitter-5k.dat lacks %q:\n%s", want, dat)
		}
	}
}

func TestErrorsAndEdges(t *testing.T) {
	dir := t.TempDir()
	if _, err := run(options{dir: dir, gnuplot: "never"}); err == nil || !strings.Contains(err.Error(), "no manifest") {
		t.Errorf("missing manifest: %v", err)
	}
	if _, err := run(options{dir: dir, gnuplot: "sometimes"}); err == nil {
		t.Error("bad -gnuplot: no error")
	}
	writeFile(t, filepath.Join(dir, "raw", "manifest.tsv"), "# nothing yet\n")
	md := runReport(t, dir, "never")
	if !strings.Contains(md, "The manifest lists no runs.") || !strings.Contains(md, "Command: unknown") {
		t.Errorf("empty manifest:\n%s", md)
	}
	// Every run of a suite failed: a chart of "failed" labels, no crash.
	writeFile(t, filepath.Join(dir, "raw", "manifest.tsv"), "twitter-5k\tA\t1\t-\nhn\tB\t1\tnothere.json\n")
	md = runReport(t, dir, "never")
	if !strings.Contains(md, "| A | failed |") || !strings.Contains(md, "| B | failed |") {
		t.Errorf("all failed:\n%s", md)
	}
	checkPNG(t, filepath.Join(dir, "twitter-5k.png"), 1100, 650)
}

func TestFormatting(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999.4: "999", 1234567.6: "1,234,568", -1500: "-1,500"} {
		if got := fmtInt(v); got != want {
			t.Errorf("fmtInt(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{166.666: "167", 33.333: "33.3", 0.5: "0.50", 99.96: "100"} {
		if got := fmtRate(v); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", v, got, want)
		}
	}
	if got := shellJoin([]string{"-dir", "my results", "it's"}); got != `-dir 'my results' 'it'\''s'` {
		t.Errorf("shellJoin = %s", got)
	}
	if got := fileName("twitter 5k/x"); got != "twitter_5k_x" {
		t.Errorf("fileName = %s", got)
	}
	if cell("a|b\nc") != `a\|b c` {
		t.Error("cell")
	}
}
