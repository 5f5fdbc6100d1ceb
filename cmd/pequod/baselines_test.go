package main

// End-to-end runs of the twitternew and hn workloads against the baselines
// (apps.md §3, §5.6–§5.7), through runTwitternew / runHN, each against a
// real throw-away server started by loadgen/scripts/*.sh. A test skips when
// its script reports the server is not installed and cannot be (exit 3).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// baselineScript is the path of loadgen/scripts/<name>.
func baselineScript(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "loadgen", "scripts", name)
}

// startBaseline starts a server with loadgen/scripts/<script> on a free
// port, its state in a fresh run directory passed in runDirVar, and stops
// it at cleanup. It skips the test when the script exits 3 (not installed,
// cannot install) and fails it on any other start error.
func startBaseline(t *testing.T, script, runDirVar string, env ...string) int {
	t.Helper()
	// Not t.TempDir: PostgreSQL runs as another user when the test runs as
	// root and must traverse the run directory's parents; postgres.sh makes
	// the run directory itself searchable, and MkdirTemp's parent is TMPDIR.
	dir, err := os.MkdirTemp("", "pequod-baseline-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	path := baselineScript(script)
	run := func(cmd string) ([]byte, error) {
		c := exec.Command("bash", path, cmd, strconv.Itoa(port))
		c.Env = append(append(os.Environ(), runDirVar+"="+dir), env...)
		return c.CombinedOutput()
	}
	out, err := run("start")
	if err != nil {
		if ee, ok := errors.AsType[*exec.ExitError](err); ok && ee.ExitCode() == 3 {
			t.Skipf("%s: server not installed and could not be installed (exit 3):\n%s", script, out)
		}
		t.Fatalf("%s start %d: %v\n%s", script, port, err, out)
	}
	t.Cleanup(func() {
		if out, err := run("stop"); err != nil {
			t.Errorf("%s stop %d: %v\n%s", script, port, err, out)
		}
	})
	return port
}

// runJSON runs a subcommand and returns its JSON result, keys in order.
func runJSON(t *testing.T, run func(context.Context, []string, *bytes.Buffer, *bytes.Buffer) error, args []string) ([]string, map[string]json.RawMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	start := time.Now()
	if err := run(ctx, args, &out, &errb); err != nil {
		t.Fatalf("%q: %v\nstderr (tail):\n%s", args, err, tail(errb.String(), 2000))
	}
	t.Logf("%q: %v", args, time.Since(start).Round(time.Millisecond))
	d := json.NewDecoder(bytes.NewReader(out.Bytes()))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q: result is not a JSON object (%v, %v):\n%s", args, tok, err, tail(out.String(), 2000))
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		vals[k.(string)] = v
	}
	return keys, vals
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// counter reads an integer field of a result.
func counter(t *testing.T, name string, vals map[string]json.RawMessage, key string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(string(vals[key]), 10, 64)
	if err != nil {
		t.Fatalf("%s: %s = %s: %v", name, key, vals[key], err)
	}
	return n
}

// baselineTwitternew are the options of every twitternew baseline run: a
// 1000-user graph and 110,000 ticks, more than Skew (100,000), so checks
// in the last 10,000 ticks read posts of the run's first ticks, besides
// the final scan.
//
// The runs compared post by post (drained) add --synchronous=1, which
// drains after every op. Pipelined, push mode is not
// comparable check by check: a subscribe's backfill is a post_scan whose
// push_posts are only issued when it answers, so a check of the
// subscriber issued meanwhile misses backfilled posts that its window
// covers, and since lastRead then moves past them, no later check reads
// them. Lazy Pequod computes the timeline from the subscription at check
// time and always reads them. How many a pipelined push run loses depends
// on timing (observed for these options: lazy 47032, Pequod push 47025,
// Redis push 47026); drained after every op, push and lazy read exactly
// the same posts.
var baselineTwitternew = []string{"--nusers=1000", "--min-subscriptions=10", "--max-subscriptions=40",
	"--duration=110000", "--no-binary", "--partitions=2"}

const drained = "--synchronous=1"

// twitternewKeys is the §2.15 key order of the master's result.
const twitternewKeys = "log server_logs server_stats nposts nbackposts nsubscribes nchecks nfull nposts_read nactive nlogouts user_time system_time wall_time"

func TestBaselinesTwitternew(t *testing.T) {
	t.Parallel()
	type system struct {
		name string
		args func(t *testing.T) []string
	}
	systems := []system{
		{"pequod-lazy", func(t *testing.T) []string { return []string{drained} }},
		{"pequod-push", func(t *testing.T) []string { return []string{drained, "--push"} }},
		{"redis-push", func(t *testing.T) []string {
			port := startBaseline(t, "redis.sh", "REDIS_RUN_DIR")
			return []string{drained, "--push", "--redis", fmt.Sprintf("--redis-addr=127.0.0.1:%d", port)}
		}},
		{"memcached-push", func(t *testing.T) []string {
			port := startBaseline(t, "memcached.sh", "MEMCACHED_RUN_DIR", "MEMCACHED_MEMORY_MB=64")
			return []string{drained, "--push", "--memcached", fmt.Sprintf("--memcached-addr=127.0.0.1:%d", port)}
		}},
		// Pipelined, as benchmarks run: its nposts_read is timing
		// dependent (see baselineTwitternew), but its nbackposts is not.
		{"memcached-pipelined-push", func(t *testing.T) []string {
			port := startBaseline(t, "memcached.sh", "MEMCACHED_RUN_DIR", "MEMCACHED_MEMORY_MB=64")
			return []string{"--push", "--memcached", fmt.Sprintf("--memcached-addr=127.0.0.1:%d", port)}
		}},
		{"postgres", func(t *testing.T) []string {
			port := startBaseline(t, "postgres.sh", "PG_RUN_DIR")
			// Not drained per op (a round trip per op is slow on
			// PostgreSQL): pipelined on one connection, statements
			// still run in issue order, and no push, so no backfill.
			return []string{"--dbshim", fmt.Sprintf("--dbport=%d", port), "--dbpool-depth=32"}
		}},
	}
	var mu sync.Mutex
	results := map[string]map[string]int64{}
	t.Run("run", func(t *testing.T) {
		for _, s := range systems {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				args := append(append([]string{}, baselineTwitternew...), s.args(t)...)
				keys, vals := runJSON(t, func(ctx context.Context, a []string, out, errb *bytes.Buffer) error {
					return runTwitternew(ctx, a, out, errb)
				}, args)
				if got := strings.Join(keys, " "); got != twitternewKeys {
					t.Errorf("keys %s\nwant %s", got, twitternewKeys)
				}
				c := map[string]int64{}
				for _, k := range []string{"nposts", "nbackposts", "nsubscribes", "nchecks", "nfull", "nposts_read", "nactive", "nlogouts"} {
					c[k] = counter(t, s.name, vals, k)
				}
				if c["nposts"] == 0 || c["nsubscribes"] == 0 || c["nchecks"] == 0 || c["nposts_read"] == 0 {
					t.Errorf("a run that did no work: %v", c)
				}
				mu.Lock()
				results[s.name] = c
				mu.Unlock()
			})
		}
	})
	if t.Failed() {
		return
	}
	ref, ok := results["pequod-lazy"]
	if !ok {
		t.Fatal("no pequod-lazy result")
	}
	t.Logf("pequod-lazy %v", ref)
	// Same seeds, same op stream: every op counter agrees.
	for _, s := range systems {
		c, ok := results[s.name]
		if !ok {
			continue // skipped: server not installable
		}
		for _, k := range []string{"nposts", "nsubscribes", "nchecks", "nfull", "nactive", "nlogouts"} {
			if c[k] != ref[k] {
				t.Errorf("%s: %s = %d, pequod-lazy %d", s.name, k, c[k], ref[k])
			}
		}
	}
	for name, c := range results {
		push := strings.HasSuffix(name, "-push")
		if !push && c["nbackposts"] != 0 {
			t.Errorf("%s: nbackposts %d without push", name, c["nbackposts"])
		}
		if push && c["nbackposts"] != results["pequod-push"]["nbackposts"] {
			// A post_scan reads exactly the posts issued before it, drained
			// or not, if the back end applies requests in issue order.
			// (memcached used to create a list by retrying a NOT_STORED
			// APPEND as ADD, sent behind requests issued meanwhile, so a
			// pipelined post_scan right after a poster's first post could
			// miss it: 9978 backfilled posts here became 9937 in one run.)
			t.Errorf("%s: nbackposts %d, pequod-push %d", name, c["nbackposts"], results["pequod-push"]["nbackposts"])
		}
	}
	read := func(name string) int64 { return results[name]["nposts_read"] }
	for _, name := range []string{"pequod-push", "redis-push"} {
		if _, ok := results[name]; ok && read(name) != read("pequod-lazy") {
			t.Errorf("%s: nposts_read %d, pequod-lazy %d", name, read(name), read("pequod-lazy"))
		}
	}
	// memcached stores each list as appended records, not a set (apps.md
	// §3.3), so nothing deduplicates: a subscribe to a poster the user
	// already follows (the generator allows it) puts the follower in s|
	// twice, so later posts are pushed twice, and its backfill pushes
	// again the poster's recent posts the follower already has. Pequod
	// (one key t|user|time|poster) and Redis (ZADD member) store those
	// writes idempotently. So memcached reads every post the others read
	// plus the duplicates: at least as many (observed 47563 vs 47032).
	if _, ok := results["memcached-push"]; ok && read("memcached-push") < read("pequod-push") {
		t.Errorf("memcached-push: nposts_read %d < pequod-push %d", read("memcached-push"), read("pequod-push"))
	}
	// PostgreSQL fans out with a trigger at post time to the subscribers
	// of that moment and does not backfill on subscribe (apps.md §3.4),
	// while lazy Pequod's timeline holds the posts of every poster
	// subscribed at check time. Subscriptions only grow and every read
	// post was inserted at least Skew ticks before the check, in issue
	// order on one connection, so each PostgreSQL check reads a subset of
	// what the same Pequod check reads (observed 40399 vs 47032).
	if _, ok := results["postgres"]; ok && read("postgres") > read("pequod-lazy") {
		t.Errorf("postgres: nposts_read %d > pequod-lazy %d", read("postgres"), read("pequod-lazy"))
	}
}

func TestBaselinesHN(t *testing.T) {
	t.Parallel()
	base := []string{"-x", "100", "-a", "500", "-o", "5000", "-v", "20", "-r", "10"}
	type system struct {
		name string
		args func(t *testing.T) []string
	}
	systems := []system{
		{"pequod", func(t *testing.T) []string { return []string{"--partitions", "2"} }},
		{"redis", func(t *testing.T) []string {
			port := startBaseline(t, "redis.sh", "REDIS_RUN_DIR")
			return []string{"--redis", fmt.Sprintf("--redis-addr=127.0.0.1:%d", port)}
		}},
		{"postgres", func(t *testing.T) []string {
			port := startBaseline(t, "postgres.sh", "PG_RUN_DIR")
			return []string{"--pg", fmt.Sprintf("--dbport=%d", port)}
		}},
	}
	var mu sync.Mutex
	results := map[string]map[string]int64{}
	t.Run("run", func(t *testing.T) {
		for _, s := range systems {
			t.Run(s.name, func(t *testing.T) {
				t.Parallel()
				args := append(append([]string{}, base...), s.args(t)...)
				_, vals := runJSON(t, func(ctx context.Context, a []string, out, errb *bytes.Buffer) error {
					return runHN(ctx, a, out, errb)
				}, args)
				c := map[string]int64{}
				for _, k := range []string{"nread", "nvote", "ncomment", "karma_errors"} {
					c[k] = counter(t, s.name, vals, k)
				}
				if c["karma_errors"] != 0 {
					t.Errorf("karma_errors %d", c["karma_errors"])
				}
				if c["nread"] == 0 || c["nvote"] == 0 || c["ncomment"] == 0 {
					t.Errorf("a run that did no work: %v", c)
				}
				mu.Lock()
				results[s.name] = c
				mu.Unlock()
			})
		}
	})
	if t.Failed() {
		return
	}
	ref := results["pequod"]
	for name, c := range results {
		for _, k := range []string{"nread", "nvote", "ncomment"} {
			if c[k] != ref[k] {
				t.Errorf("%s: %s = %d, pequod %d", name, k, c[k], ref[k])
			}
		}
	}
}
