package reactor

// A soak of the joins/difftest differential test over real sockets: random
// joins (push, pull, chains of pull joins across partitions) and random
// operations are played through wire.Client against a gnet reactor with a
// four-partition partition.Server behind it, every reply is checked against
// the joins/oracle model, and every request's latency is measured. Several
// connections run cases concurrently on disjoint tables of one server, so
// their requests interleave in the partitions and in the peer protocol.
//
//	go test ./reactor -run 'TestSoak$' -v                      # default size (CI): 40k operations
//	go test ./reactor -run 'TestSoak$' -soak.ops=1000000 -v    # the long form
//	go test ./reactor -run 'TestSoak$' -soak.seed=123 -v       # replay one seed alone
//
// Each seed is one difftest case (difftest.Generate), adjusted for the soak:
// a third of the cases keep their joins as generated, a third make every
// join a pull join and a third make each join pull with probability 1/2 (the
// generator alone rarely chains two pull joins); and every table is renamed
// t<seed><table> (t17x|…), which keeps the cases of different seeds apart on
// one server and places each case's tables on the same partitions whether it
// runs in the soak or alone. Redundant joins (§2.7) are sent too: the server
// must ignore them, which the reads check.
//
// Validating reads are sent as scans, as a count followed by a scan of the
// same range (the two must agree unless the case has count or sum joins,
// whose "0" keys may come and go, §10 A5), or, for one-key ranges, as a get
// (followed by a count when it reads "", which cannot tell an empty value
// from a missing key); the choice is a hash of the seed and the request, so
// a replay or a shrunk case sends the same requests. The target implements
// difftest.Peeker (see Peek), so chains may read any upstream join: three
// levels, count and sum upstream.
//
// A request fails the test when its reply is not the oracle's, when it
// takes longer than -soak.slow (2 s), or when no reply comes within
// -soak.timeout (10 s): the wait is bounded, so a hung request is reported
// with its seed and trace instead of hanging the test. A failing seed is
// replayed alone on a fresh server; if it fails there too it is shrunk with
// difftest.Shrink (within -soak.shrinktime) and the minimal trace is printed
// as the wire requests it sends, with their replies and latencies;
// otherwise the full trace of the failing run is printed with the seeds that
// ran concurrently.
//
// Staleness windows are an API setting the wire protocol cannot carry
// (joins.md §2.3), so the generator's stale and window features are off;
// eviction is not reachable over the wire either (difftest skips it).

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/difftest"
	"github.com/pequod-go/pequod/joins/oracle"
	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/wire"
)

var (
	soakOps = flag.Int("soak.ops", 40000,
		"soak: total operations (joins installed, inserts, erases, reads) across seeds; 0 = no limit")
	soakSeeds = flag.Int("soak.seeds", 0,
		"soak: number of seeds (cases); 0 = as many as -soak.ops needs. Given alone, it replaces the default -soak.ops")
	soakSeed = flag.Int64("soak.seed", -1,
		"soak: replay this one seed alone against a fresh server (then -soak.ops, -soak.seeds and -soak.conns do not apply)")
	soakFirst = flag.Int64("soak.first", 1,
		"soak: first seed")
	soakConns = flag.Int("soak.conns", 4,
		"soak: client connections running cases concurrently against one server, on disjoint tables")
	soakParts = flag.Int("soak.partitions", 4,
		"soak: server partitions")
	soakRound = flag.Int("soak.round", 200,
		"soak: cases one server runs before it is replaced by a fresh one")
	soakCaseOps = flag.Int("soak.caseops", 100,
		"soak: maximum generated operations per case (difftest MaxOps)")
	soakFeatures = flag.String("soak.features", "all,-stale,-window",
		"soak: difftest generator features (see difftest.ParseFeatures)")
	soakTimeout = flag.Duration("soak.timeout", 10*time.Second,
		"soak: how long to wait for a reply before the request counts as hung")
	soakSlow = flag.Duration("soak.slow", 2*time.Second,
		"soak: a reply slower than this fails the test")
	soakMaxFail = flag.Int("soak.maxfail", 3,
		"soak: stop after this many failing seeds; 0 = never stop (the first 5 are shrunk, later ones get one line)")
	soakShrinkTime = flag.Duration("soak.shrinktime", time.Minute,
		"soak: time budget for shrinking one failure")
	soakClock = flag.String("soak.clock", "real",
		"soak: server clock: real (time.Now) or frozen (one fixed instant; the engines still tick 1µs per operation)")
)

// TestSoak is the wire-level soak of the differential test (see the top of
// this file).
func TestSoak(t *testing.T) {
	cfg, err := soakConfig()
	if err != nil {
		t.Fatal(err)
	}
	if *soakClock != "real" && *soakClock != "frozen" {
		t.Fatalf("-soak.clock=%q: want real or frozen", *soakClock)
	}
	r := &soakRun{t: t, cfg: cfg, next: *soakFirst, start: time.Now(), opsLimit: *soakOps}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case set["soak.seeds"] && !set["soak.ops"]:
		r.opsLimit = 0
	case testing.Short() && !set["soak.ops"]:
		r.opsLimit = 10000
	}
	if r.opsLimit <= 0 && *soakSeeds <= 0 && *soakSeed < 0 {
		t.Fatal("-soak.ops=0 needs -soak.seeds")
	}
	r.warnings = quietJoinWarnings(t)
	defer r.report()
	if *soakSeed >= 0 {
		r.replay(*soakSeed)
	} else {
		r.soak()
	}
}

// quietJoinWarnings diverts os.Stderr while the soak runs: the server
// prints a warning there for every redundant join it ignores (§2.7; the
// generator makes some on purpose), which would bury the report. Those
// lines are counted; any other line goes to the real stderr. The returned
// function restores os.Stderr and returns the count.
func quietJoinWarnings(t *testing.T) func() int {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	orig := os.Stderr
	os.Stderr = w
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			switch line := sc.Text(); {
			case strings.Contains(line, "has same structure as overlapping join"):
				n++
			case line == "(new join ignored)":
			default:
				fmt.Fprintln(orig, line)
			}
		}
		_, _ = io.Copy(orig, r) // a line too long for the scanner
	}()
	var once sync.Once
	return func() int {
		once.Do(func() {
			os.Stderr = orig
			w.Close()
			<-done
			r.Close()
		})
		return n
	}
}

func soakConfig() (difftest.Config, error) {
	f, err := difftest.ParseFeatures(*soakFeatures)
	if err != nil {
		return difftest.Config{}, err
	}
	// Staleness is an API setting the wire protocol cannot carry.
	f &^= difftest.FeatStale | difftest.FeatWindow
	// The target can Peek (stored reads through scanlast), so chains may
	// read any upstream join (RunCases decides the same way).
	return difftest.Config{Features: f, MaxOps: *soakCaseOps}, nil
}

// --- cases -------------------------------------------------------------------

// soakCase is difftest case seed with more pull joins and with every table
// renamed t<seed><table>.
func soakCase(seed int64, cfg difftest.Config) (*difftest.Case, error) {
	c := difftest.Generate(seed, cfg)
	r := rand.New(rand.NewPCG(uint64(seed), 0x50a650a6))
	mode := r.IntN(3) // 0: as generated; 1: every join pull; 2: each join pull with probability 1/2
	for i := range c.Joins {
		if coin := r.IntN(2) == 0; mode == 1 || mode == 2 && coin {
			c.Joins[i].Text = pullText(c.Joins[i].Text)
		}
	}
	if err := renameTables(c, fmt.Sprintf("t%d", seed)); err != nil {
		return nil, fmt.Errorf("seed %d: %w", seed, err)
	}
	return c, nil
}

// pullText makes a push join pull (§3.8) by adding the `pull` keyword right
// after the `=`, where the generator also puts it sometimes.
func pullText(text string) string {
	j, err := joins.Parse(text)
	if err != nil || !j.Maintained || j.Staleness != 0 || strings.Contains(text, " push") {
		return text
	}
	pulled := strings.Replace(text, " = ", " = pull ", 1)
	if pj, err := joins.Parse(pulled); err != nil || pj.Maintained || !joins.SameStructure(j, pj) {
		return text
	}
	return pulled
}

// patternStart matches the table name at the start of a pattern in join
// text: patterns start the text or follow a space; the generator's tables
// are one lower-case letter.
var patternStart = regexp.MustCompile(`(^|\s)([a-z]\|)`)

// renameTables prefixes every table name of c with prefix. Every key and
// range bound of a generated case starts with its table name, so prefixing
// the whole string renames the table and keeps the order of keys within it.
func renameTables(c *difftest.Case, prefix string) error {
	key := func(s string) (string, error) {
		if t := joins.TableName(s); t == "" || t != s[:len(t)] {
			return "", fmt.Errorf("key %q does not start with a table name", s)
		}
		return prefix + s, nil
	}
	var err error
	must := func(s string) string {
		r, e := key(s)
		if e != nil && err == nil {
			err = e
		}
		return r
	}
	for i := range c.Joins {
		js := &c.Joins[i]
		old, e := joins.Parse(js.Text)
		if e != nil {
			return fmt.Errorf("join %q: %v", js.Text, e)
		}
		js.Text = patternStart.ReplaceAllString(js.Text, "${1}"+prefix+"${2}")
		nj, e := joins.Parse(js.Text)
		if e != nil {
			return fmt.Errorf("renamed join %q: %v", js.Text, e)
		}
		ok := nj.Sink.Table == prefix+old.Sink.Table && len(nj.Sources) == len(old.Sources) && nj.Maintained == old.Maintained
		for k := 0; ok && k < len(nj.Sources); k++ {
			ok = nj.Sources[k].Pattern.Table == prefix+old.Sources[k].Pattern.Table
		}
		if !ok {
			return fmt.Errorf("renaming the tables of join %q gave %q", old.String(), nj.String())
		}
		js.First, js.Last = must(js.First), must(js.Last)
		if joins.RangeTableName(js.First, js.Last) != nj.Sink.Table {
			return fmt.Errorf("join range [%q, %q) is not in table %q", js.First, js.Last, nj.Sink.Table)
		}
	}
	for i := range c.Ops {
		op := &c.Ops[i]
		switch op.Kind {
		case difftest.OpInsert, difftest.OpErase:
			op.Key = must(op.Key)
		case difftest.OpScan:
			t := joins.RangeTableName(op.First, op.Last)
			op.First, op.Last = must(op.First), must(op.Last)
			if joins.RangeTableName(op.First, op.Last) != prefix+t {
				return fmt.Errorf("renamed scan range [%q, %q) left table %q", op.First, op.Last, prefix+t)
			}
		}
	}
	return err
}

// caseOps is the number of operations a case runs: its joins and its ops.
func caseOps(c *difftest.Case) int { return len(c.Joins) + len(c.Ops) }

// --- server ------------------------------------------------------------------

// soakServer is a reactor in front of a partition.Server on a loopback port.
type soakServer struct {
	srv *partition.Server
	rs  *Server
}

func startSoakServer() (*soakServer, error) {
	cfg := partition.Config{Partitions: *soakParts}
	if *soakClock == "frozen" {
		at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		cfg.Clock = func() time.Time { return at }
	}
	srv, err := partition.New(cfg)
	if err != nil {
		return nil, err
	}
	rs, err := Start(Config{Addr: "127.0.0.1:0", Loops: 2}, srv)
	if err != nil {
		srv.Close()
		return nil, err
	}
	return &soakServer{srv: srv, rs: rs}, nil
}

func (s *soakServer) dial() (*wire.Client, error) { return wire.Dial(s.rs.Addr().String()) }

// close stops the reactor and the partitions. A server wedged by a failure
// may not stop: after wait it is abandoned (close reports false).
func (s *soakServer) close(wait time.Duration) bool {
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = s.rs.Stop(ctx)
		s.srv.Close()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(wait + time.Second):
		return false
	}
}

// --- target ------------------------------------------------------------------

// The request kinds, for counting.
const (
	reqAddJoin = iota
	reqInsert
	reqErase
	reqGet
	reqCount
	reqScan
	reqPeek
	nReqKinds
)

var reqNames = [nReqKinds]string{"add_join", "insert", "erase", "get", "count", "scan", "stored scan"}

// Faults the target detects itself (the checker finds the mismatches).
const (
	faultHung         = "no reply (hung request)"
	faultSlow         = "slow reply"
	faultError        = "error reply"
	faultInconsistent = "mismatch (count disagrees with the read right after it)"
	faultMismatch     = "mismatch"
	faultPanic        = "panic"
)

// soakTarget is a difftest.Target that sends each call as wire requests on
// a connection shared by the cases one worker runs in turn, bounding and
// timing every request.
type soakTarget struct {
	c             *wire.Client
	seed          int64
	timeout, slow time.Duration
	lat           *latencies // nil: not recorded (replays and shrinking)

	log   []string       // the wire requests sent, with replies and latencies
	seen  map[string]int // validating reads of each range so far
	reqs  [nReqKinds]int
	fault string // the first problem the target itself detected
	// afterRead: the last difftest call was a validating read (Scan), not
	// a write.
	afterRead bool
	// zeroTables are the sink tables of count and sum joins, whose "0"
	// keys may exist or not (§3.1, §10 A5), so two reads may disagree on
	// them, here or downstream.
	zeroTables map[string]bool
}

func newSoakTarget(c *wire.Client, seed int64, timeout time.Duration, lat *latencies) *soakTarget {
	return &soakTarget{c: c, seed: seed, timeout: timeout, slow: *soakSlow, lat: lat,
		seen: map[string]int{}, zeroTables: map[string]bool{}}
}

func (s *soakTarget) setFault(f string) {
	if s.fault == "" {
		s.fault = f
	}
}

// rpc runs one request with a bounded wait; desc describes it and f sends
// it, returning a description of the reply.
func (s *soakTarget) rpc(kind int, desc string, f func(ctx context.Context) (string, error)) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	start := time.Now()
	res, err := f(ctx)
	d := time.Since(start)
	cancel()
	s.reqs[kind]++
	if s.lat != nil {
		s.lat.add(d, s.seed, desc)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		s.setFault(faultHung)
		s.log = append(s.log, fmt.Sprintf("%s -> NO REPLY within %v", desc, s.timeout))
		return fmt.Errorf("%s: no reply within %v (hung request)", desc, s.timeout)
	case err != nil:
		s.setFault(faultError)
		s.log = append(s.log, fmt.Sprintf("%s -> error %v  [%v]", desc, err, fmtDur(d)))
		return fmt.Errorf("%s: %w", desc, err)
	}
	s.log = append(s.log, fmt.Sprintf("%s -> %s  [%v]", desc, res, fmtDur(d)))
	if d > s.slow {
		s.setFault(faultSlow)
		return fmt.Errorf("%s: reply took %v, over the %v limit", desc, fmtDur(d), s.slow)
	}
	return nil
}

func (s *soakTarget) Insert(k, v string) error {
	s.afterRead = false
	return s.rpc(reqInsert, fmt.Sprintf("insert(%q, %q)", k, v), func(ctx context.Context) (string, error) {
		return "OK", s.c.Insert(ctx, k, v)
	})
}

func (s *soakTarget) Erase(k string) error {
	s.afterRead = false
	return s.rpc(reqErase, fmt.Sprintf("erase(%q)", k), func(ctx context.Context) (string, error) {
		return "OK", s.c.Erase(ctx, k)
	})
}

// AddJoin sends every join, redundant ones too: the server must answer OK
// and ignore them (§2.7), which the scans check.
func (s *soakTarget) AddJoin(first, last, text string, staleness time.Duration) error {
	if staleness != 0 {
		return errStalenessOverWire
	}
	s.afterRead = false
	if j, err := joins.Parse(text); err == nil && (j.Op == joins.Count || j.Op == joins.Sum) {
		s.zeroTables[j.Sink.Table] = true
	}
	return s.rpc(reqAddJoin, fmt.Sprintf("add_join(%q, %q, %q)", first, last, text), func(ctx context.Context) (string, error) {
		msg, err := s.c.AddJoin(ctx, first, last, text)
		if err != nil && msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return "OK " + strconv.Quote(msg), err
	})
}

// Advance is never called: without staleness windows the generator makes
// no clock moves.
func (s *soakTarget) Advance(time.Duration) {}

// Scan answers a validating read of [first, last) with a scan, a count and
// a scan, or (one-key ranges) a get; see the top of the file.
func (s *soakTarget) Scan(first, last string) ([]difftest.KV, error) {
	s.afterRead = true
	rk := first + "\x00" + last
	n := s.seen[rk]
	s.seen[rk]++
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%s\x00%d", s.seed, first, last, n)
	x := h.Sum64() % 100
	if last == joins.KeySuccessor(first) {
		switch {
		case x < 60:
			return s.get(first)
		case x < 80:
			return s.countScan(first, last)
		}
		return s.scan(first, last)
	}
	if x < 35 {
		return s.countScan(first, last)
	}
	return s.scan(first, last)
}

func (s *soakTarget) scan(first, last string) ([]difftest.KV, error) {
	var out []difftest.KV
	err := s.rpc(reqScan, fmt.Sprintf("scan(%q, %q)", first, last), func(ctx context.Context) (string, error) {
		kvs, err := s.c.Scan(ctx, first, last)
		out = make([]difftest.KV, len(kvs))
		for i, kv := range kvs {
			out[i] = difftest.KV{Key: string(kv.Key), Value: string(kv.Value)}
		}
		return fmtKVs(out), err
	})
	return out, err
}

// Peek is difftest's read of a sink table without validating it
// (difftest.Peeker), which the checker uses for two things:
//
//   - After a write, to check that eager maintenance left the validated
//     ranges current (§3.6). That is a stored read: a scan that validates
//     the empty range [first, first) and reads up to scanlast = last, where
//     "keys outside the validated range are counted as they happen to be"
//     (server.md §1, count/scan); over a whole table every partition
//     reports the keys it owns.
//   - After a validating read of a table fed by sink tables, to learn what
//     the downstream join read upstream (which copy value, "007" or "7",
//     count/sum "0" keys). In one engine the stored upstream keys say that.
//     Across partitions they do not: the owner of upstream output that
//     expires (pull joins and what they feed, §10 A4) may drop it once the
//     downstream partition has its copy, so a stored read right after the
//     scan can miss keys the downstream join did read. So Peek then
//     validates the upstream table too (with no write in between, the
//     owner computes the contents the downstream partition read), after a
//     stored read whose "0" keys of count and sum tables it adds: validation
//     may drop a "0" key that the downstream join read (§10 A5).
func (s *soakTarget) Peek(first, last string) ([]difftest.KV, error) {
	stored, err := s.stored(first, last)
	if err != nil || !s.afterRead {
		return stored, err
	}
	kvs, err := s.scan(first, last)
	if err != nil || !s.zeroTables[joins.RangeTableName(first, last)] {
		return kvs, err
	}
	have := map[string]bool{}
	for _, kv := range kvs {
		have[kv.Key] = true
	}
	n := len(kvs)
	for _, kv := range stored {
		if !have[kv.Key] && oracle.ParseInt(kv.Value) == 0 {
			kvs = append(kvs, kv)
		}
	}
	if len(kvs) > n {
		slices.SortFunc(kvs, func(a, b difftest.KV) int { return strings.Compare(a.Key, b.Key) })
	}
	return kvs, nil
}

// stored reads the stored keys of [first, last) (see Peek).
func (s *soakTarget) stored(first, last string) ([]difftest.KV, error) {
	var out []difftest.KV
	err := s.rpc(reqPeek, fmt.Sprintf("scan(%q, %q, scanlast=%q)", first, first, last), func(ctx context.Context) (string, error) {
		kvs, err := s.c.Scan(ctx, first, first, last)
		out = make([]difftest.KV, len(kvs))
		for i, kv := range kvs {
			out[i] = difftest.KV{Key: string(kv.Key), Value: string(kv.Value)}
		}
		return fmtKVs(out), err
	})
	return out, err
}

func (s *soakTarget) count(first, last string) (int64, error) {
	var n int64
	err := s.rpc(reqCount, fmt.Sprintf("count(%q, %q)", first, last), func(ctx context.Context) (string, error) {
		var err error
		n, err = s.c.Count(ctx, first, last)
		return strconv.FormatInt(n, 10), err
	})
	return n, err
}

// countScan counts the range, then scans it, and the scan goes to the
// checker. With no write in between (the other connections write other
// tables) the two must agree, unless the case has count or sum joins: a
// "0" key without derivations may be there for one read and gone for the
// next (§10 A5), here or in an upstream table.
func (s *soakTarget) countScan(first, last string) ([]difftest.KV, error) {
	n, err := s.count(first, last)
	if err != nil {
		return nil, err
	}
	kvs, err := s.scan(first, last)
	if err != nil {
		return kvs, err
	}
	if n != int64(len(kvs)) && len(s.zeroTables) == 0 {
		s.setFault(faultInconsistent)
		return kvs, fmt.Errorf("count(%q, %q) = %d but the scan of the same range right after it returned %d keys %s",
			first, last, n, len(kvs), fmtKVs(kvs))
	}
	return kvs, nil
}

// get reads one key; "" is either an empty value or no key, and a count of
// the one-key range tells which.
func (s *soakTarget) get(k string) ([]difftest.KV, error) {
	var v []byte
	err := s.rpc(reqGet, fmt.Sprintf("get(%q)", k), func(ctx context.Context) (string, error) {
		var err error
		v, err = s.c.Get(ctx, k)
		return strconv.Quote(string(v)), err
	})
	if err != nil {
		return nil, err
	}
	if len(v) > 0 {
		return []difftest.KV{{Key: k, Value: string(v)}}, nil
	}
	n, err := s.count(k, joins.KeySuccessor(k))
	switch {
	case err != nil:
		return nil, err
	case n == 0:
		return nil, nil
	case n == 1:
		return []difftest.KV{{Key: k, Value: ""}}, nil
	}
	s.setFault(faultInconsistent)
	return nil, fmt.Errorf("count of the one-key range %q = %d", k, n)
}

// classify names what went wrong in a failed case.
func (s *soakTarget) classify(f *difftest.Failure) string {
	if s.fault != "" {
		return s.fault
	}
	for _, p := range f.Problems {
		if strings.HasPrefix(p, "panic:") {
			return faultPanic
		}
		if strings.Contains(p, "unexpected error") || strings.Contains(p, "AddJoin failed") {
			return faultError
		}
	}
	return faultMismatch
}

// --- latencies -----------------------------------------------------------------

// latencies records every reply latency of one worker.
type latencies struct {
	d       []time.Duration
	max     time.Duration
	maxSeed int64
	maxReq  string
}

func (l *latencies) add(d time.Duration, seed int64, req string) {
	l.d = append(l.d, d)
	if d > l.max {
		l.max, l.maxSeed, l.maxReq = d, seed, req
	}
}

func (l *latencies) merge(o *latencies) {
	l.d = append(l.d, o.d...)
	if o.max > l.max {
		l.max, l.maxSeed, l.maxReq = o.max, o.maxSeed, o.maxReq
	}
}

// quantile returns the q-quantile of the sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func fmtDur(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// --- the run -------------------------------------------------------------------

// soakFailure is one failing seed.
type soakFailure struct {
	seed       int64
	class      string
	f          *difftest.Failure
	log        []string // wire requests of the failing run
	where      string   // server round, connection, concurrent seeds
	conn       int
	start, end time.Time
}

// fmtSeeds lists seeds, or their count and range when there are many.
func fmtSeeds(s []int64) string {
	if len(s) <= 12 {
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("%d seeds from %d to %d", len(s), s[0], s[len(s)-1])
}

type soakRun struct {
	t        *testing.T
	cfg      difftest.Config
	start    time.Time
	opsLimit int        // -soak.ops, or 0 when only -soak.seeds bounds the run
	warnings func() int // ends the stderr diversion; the redundant-join warnings seen

	mu      sync.Mutex
	next    int64 // next seed to hand out
	seeds   int   // seeds handed out
	planned int   // operations of the cases handed out
	minSeed int64
	maxSeed int64

	ops     atomic.Int64 // operations run
	reqs    [nReqKinds]atomic.Int64
	lat     latencies
	rounds  int
	leaked  int // servers that did not stop
	fails   []*soakFailure
	classes map[string]int
}

// take hands out the next seed and its case, or nil when the run is done.
func (r *soakRun) take() (int64, *difftest.Case) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if *soakSeeds > 0 && r.seeds >= *soakSeeds || r.opsLimit > 0 && r.planned >= r.opsLimit {
		return 0, nil
	}
	seed := r.next
	r.next++
	c, err := soakCase(seed, r.cfg)
	if err != nil {
		r.t.Errorf("soak: %v", err) // a bug of this test, not of the server
		return 0, nil
	}
	if r.seeds == 0 {
		r.minSeed = seed
	}
	r.maxSeed = seed
	r.seeds++
	r.planned += caseOps(c)
	return seed, c
}

func (r *soakRun) done() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return *soakMaxFail > 0 && len(r.fails) >= *soakMaxFail ||
		*soakSeeds > 0 && r.seeds >= *soakSeeds || r.opsLimit > 0 && r.planned >= r.opsLimit
}

// record accounts for a case that ran (up to its failure, if any).
func (r *soakRun) record(c *difftest.Case, tg *soakTarget, f *difftest.Failure) {
	n := caseOps(c)
	if f != nil {
		n = len(c.Joins)
		if f.Op >= 0 {
			n += f.Op + 1
		}
	}
	r.ops.Add(int64(n))
	for k, v := range tg.reqs {
		r.reqs[k].Add(int64(v))
	}
}

// soak runs rounds of cases: each round is one fresh server and
// -soak.conns connections taking seeds until the round has run -soak.round
// cases, the run is done, or a case failed.
func (r *soakRun) soak() {
	conns := max(1, *soakConns)
	for !r.done() {
		r.rounds++
		srv, err := startSoakServer()
		if err != nil {
			r.t.Fatal(err)
		}
		type span struct {
			seed       int64
			conn       int
			start, end time.Time
		}
		var (
			wg     sync.WaitGroup
			left   atomic.Int64
			failed atomic.Int64 // seed+1 of the first failure of the round
			lats   = make([]latencies, conns)
			fmu    sync.Mutex
			fails  []*soakFailure
			spans  []span // every case the round ran, for the failures' reports
		)
		left.Store(int64(*soakRound))
		for w := range conns {
			c, err := srv.dial()
			if err != nil {
				r.t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				for failed.Load() == 0 && left.Add(-1) >= 0 {
					seed, cs := r.take()
					if cs == nil {
						return
					}
					tg := newSoakTarget(c, seed, *soakTimeout, &lats[w])
					sp := span{seed: seed, conn: w, start: time.Now()}
					f := difftest.Execute(cs, tg)
					sp.end = time.Now()
					r.record(cs, tg, f)
					fmu.Lock()
					spans = append(spans, sp)
					fmu.Unlock()
					if f == nil {
						continue
					}
					where := fmt.Sprintf("server %d (%d partitions), connection %d of %d", r.rounds, *soakParts, w+1, conns)
					if !failed.CompareAndSwap(0, seed+1) {
						where += fmt.Sprintf("; seed %d had already failed on this server", failed.Load()-1)
					}
					fmu.Lock()
					fails = append(fails, &soakFailure{seed: seed, class: tg.classify(f), f: f, log: tg.log, where: where,
						start: sp.start, end: sp.end, conn: w})
					fmu.Unlock()
					return
				}
			}()
		}
		wg.Wait()
		for i := range lats {
			r.lat.merge(&lats[i])
		}
		if !srv.close(10 * time.Second) {
			r.leaked++
			r.t.Logf("soak: server %d did not stop within 10s; abandoned", r.rounds)
		}
		slices.SortFunc(fails, func(a, b *soakFailure) int { return int(a.seed - b.seed) })
		for _, sf := range fails {
			var with []int64
			for _, sp := range spans {
				if sp.conn != sf.conn && sp.start.Before(sf.end) && sf.start.Before(sp.end) {
					with = append(with, sp.seed)
				}
			}
			slices.Sort(with)
			sf.where += fmt.Sprintf("; seeds that ran on the other connections meanwhile: %s", fmtSeeds(with))
			r.fail(sf)
		}
	}
}

// replay runs one seed alone on a fresh server and logs its requests.
func (r *soakRun) replay(seed int64) {
	c, err := soakCase(seed, r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.rounds, r.seeds, r.minSeed, r.maxSeed, r.planned = 1, 1, seed, seed, caseOps(c)
	f, tg, err := runAlone(c, seed, *soakTimeout, &r.lat)
	if err != nil {
		r.t.Fatal(err)
	}
	r.record(c, tg, f)
	if f == nil {
		r.t.Logf("soak: seed %d passed; its requests:\n    %s", seed, strings.Join(tg.log, "\n    "))
		return
	}
	r.fail(&soakFailure{seed: seed, class: tg.classify(f), f: f, log: tg.log, where: "replayed alone on a fresh server"})
}

// runAlone runs case c on a fresh server with one connection.
func runAlone(c *difftest.Case, seed int64, timeout time.Duration, lat *latencies) (*difftest.Failure, *soakTarget, error) {
	srv, err := startSoakServer()
	if err != nil {
		return nil, nil, err
	}
	defer srv.close(5 * time.Second)
	cl, err := srv.dial()
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	tg := newSoakTarget(cl, seed, timeout, lat)
	return difftest.Execute(c, tg), tg, nil
}

// fail reproduces a failure alone, shrinks it if it reproduces, and reports
// it.
func (r *soakRun) fail(sf *soakFailure) {
	r.mu.Lock()
	r.fails = append(r.fails, sf)
	if r.classes == nil {
		r.classes = map[string]int{}
	}
	r.classes[sf.class]++
	n := len(r.fails)
	r.mu.Unlock()
	if *soakMaxFail > 0 && n > *soakMaxFail || *soakMaxFail == 0 && n > 5 {
		r.t.Errorf("soak: seed %d failed too (%s at %s; %s); not shrunk: too many failures",
			sf.seed, sf.class, sf.f.Call, sf.where)
		return
	}
	// Waiting past the slow limit only tells "slow" from "hung", so replays
	// wait a little longer than that.
	timeout := min(*soakTimeout, *soakSlow+time.Second)
	var sb strings.Builder
	fmt.Fprintf(&sb, "soak: seed %d FAILED: %s\n", sf.seed, sf.class)
	fmt.Fprintf(&sb, "  where: %s\n", sf.where)
	fmt.Fprintf(&sb, "  replay alone: go test ./reactor -run 'TestSoak$' -soak.seed=%d%s -v\n", sf.seed, r.flagsForReplay())
	fmt.Fprintf(&sb, "  failing op: %s\n", sf.f.Call)
	writeProblems(&sb, sf.f)

	c := sf.f.Case
	var alone *difftest.Failure
	tries := 0
	// A failure that depends on timing may need a few tries; passing runs
	// are quick.
	for t0 := time.Now(); tries < 10 && alone == nil && (tries < 3 || time.Since(t0) < 15*time.Second); {
		tries++
		f, _, err := runAlone(c, sf.seed, timeout, nil)
		if err != nil {
			r.t.Fatal(err)
		}
		alone = f
	}
	if alone == nil {
		fmt.Fprintf(&sb, "  alone on a fresh server the seed passed %d tries: the failure depends on timing or on the concurrent load.\n", tries)
		fmt.Fprintf(&sb, "  full trace of the failing run (%d operations; wire requests with replies and latencies):\n", len(c.Ops)+len(c.Joins))
		writeLines(&sb, sf.log)
		r.t.Error(sb.String())
		return
	}
	t0 := time.Now()
	runs := 0
	var cur *soakServer
	var curClient *wire.Client
	closeCur := func() {
		if curClient != nil {
			curClient.Close()
			curClient = nil
		}
		if cur != nil {
			if !cur.close(5 * time.Second) {
				r.leaked++
			}
			cur = nil
		}
	}
	deadline := t0.Add(*soakShrinkTime)
	newTarget := func() difftest.Target {
		closeCur()
		runs++
		if time.Now().After(deadline) {
			// Out of time: the model passes every check, so Shrink
			// keeps what it has and finishes quickly.
			return difftest.NewModelTarget()
		}
		s, err := startSoakServer()
		if err != nil {
			r.t.Logf("soak: shrinking seed %d: %v", sf.seed, err)
			return difftest.NewModelTarget()
		}
		cur = s
		cl, err := s.dial()
		if err != nil {
			r.t.Logf("soak: shrinking seed %d: %v", sf.seed, err)
			return difftest.NewModelTarget()
		}
		curClient = cl
		return newSoakTarget(cl, sf.seed, timeout, nil)
	}
	best := difftest.Shrink(alone, newTarget, 3000)
	closeCur()
	stopped := ""
	if time.Now().After(deadline) {
		stopped = ", stopped by -soak.shrinktime"
	}
	fmt.Fprintf(&sb, "  alone on a fresh server it fails too (try %d); shrunk from %d to %d operations (%d runs, %v%s)\n",
		tries, caseOps(c), caseOps(best.Case), runs, time.Since(t0).Round(time.Second), stopped)
	// Replay the minimal case to show its wire requests.
	var again *difftest.Failure
	var tg *soakTarget
	for range 3 {
		f, t, err := runAlone(best.Case, sf.seed, timeout, nil)
		if err != nil {
			r.t.Fatal(err)
		}
		again, tg = f, t
		if f != nil {
			break
		}
	}
	if again != nil {
		fmt.Fprintf(&sb, "  minimal trace (%s; wire requests with replies and latencies):\n", tg.classify(again))
		writeLines(&sb, tg.log)
		fmt.Fprintf(&sb, "  failing op: %s\n", again.Call)
		writeProblems(&sb, again)
	} else {
		fmt.Fprintf(&sb, "  minimal trace (it failed during shrinking but passed 3 replays since; calls as the checker saw them):\n")
		writeLines(&sb, best.Log)
		fmt.Fprintf(&sb, "  failing op: %s\n", best.Call)
		writeProblems(&sb, best)
	}
	r.t.Error(sb.String())
}

func (r *soakRun) flagsForReplay() string {
	var s string
	if *soakParts != 4 {
		s += fmt.Sprintf(" -soak.partitions=%d", *soakParts)
	}
	if *soakCaseOps != 100 {
		s += fmt.Sprintf(" -soak.caseops=%d", *soakCaseOps)
	}
	if *soakFeatures != "all,-stale,-window" {
		s += fmt.Sprintf(" -soak.features=%s", *soakFeatures)
	}
	if *soakClock != "real" {
		s += " -soak.clock=" + *soakClock
	}
	return s
}

func writeLines(sb *strings.Builder, lines []string) {
	for _, l := range lines {
		fmt.Fprintf(sb, "    %s\n", l)
	}
}

func writeProblems(sb *strings.Builder, f *difftest.Failure) {
	for _, p := range f.Problems {
		fmt.Fprintf(sb, "    %s\n", strings.ReplaceAll(p, "\n", "\n      "))
	}
	if f.Got != nil {
		fmt.Fprintf(sb, "    got: %s\n", fmtKVs(f.Got))
	}
}

func fmtKVs(kvs []difftest.KV) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, kv := range kvs {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%q=%q", kv.Key, kv.Value)
	}
	sb.WriteByte(']')
	return sb.String()
}

// report logs the figures of the run.
func (r *soakRun) report() {
	el := time.Since(r.start)
	warnings := r.warnings()
	sorted := slices.Clone(r.lat.d)
	slices.Sort(sorted)
	var reqs []string
	total := int64(0)
	for k := range nReqKinds {
		n := r.reqs[k].Load()
		total += n
		reqs = append(reqs, fmt.Sprintf("%s %d", reqNames[k], n))
	}
	mism := r.classes[faultMismatch] + r.classes[faultInconsistent]
	var classes []string
	for _, k := range slices.Sorted(maps.Keys(r.classes)) {
		classes = append(classes, fmt.Sprintf("%s: %d", k, r.classes[k]))
	}
	conns := max(1, *soakConns)
	if *soakSeed >= 0 {
		conns = 1
	}
	r.t.Logf("soak: %d operations, %d requests (%s) over %d seeds (%d..%d) on %d servers × %d partitions, %d connections, clock %s, in %v (%.0f ops/s)",
		r.ops.Load(), total, strings.Join(reqs, ", "), r.seeds, r.minSeed, r.maxSeed, r.rounds, *soakParts,
		conns, *soakClock, el.Round(time.Millisecond), float64(r.ops.Load())/el.Seconds())
	r.t.Logf("soak: failing seeds %d (%s); mismatches %d; servers abandoned %d; redundant joins ignored by the server %d",
		len(r.fails), strings.Join(classes, ", "), mism, r.leaked, warnings)
	if len(sorted) > 0 {
		r.t.Logf("soak: reply latency over %d requests: max %v (seed %d: %s), p99.9 %v, p99 %v, median %v",
			len(sorted), fmtDur(r.lat.max), r.lat.maxSeed, r.lat.maxReq,
			fmtDur(quantile(sorted, 0.999)), fmtDur(quantile(sorted, 0.99)), fmtDur(quantile(sorted, 0.5)))
	}
}
