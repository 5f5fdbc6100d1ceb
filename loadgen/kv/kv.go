// Package kv is a memtier-like key-value load generator: N connections,
// each keeping up to D get/set requests in flight (pipelining), over a key
// space of K keys, with a get:set ratio, for a duration or a total number of
// requests, after an optional populate phase that sets every key once.
//
// Two back ends share one driver (Backend, Conn): Pequod over its msgpack
// RPC protocol (wire.Client; get and insert) and Redis over RESP2
// (redisclient; GET and SET). Both clients have the same architecture (a
// writer goroutine batching requests into one write, a reader goroutine
// completing calls), so the comparison measures the servers. Cluster is
// the Pequod back end over several servers: a connection per server, each
// request sent to its key's owner under a §2.9 partition function.
//
// Keys are Prefix followed by the key number zero-padded to fill KeySize
// bytes ("m|0000001234"; Pequod keys need a table, the part before '|').
// The value of key i is its zero-padded number followed by '.' up to
// ValueSize bytes (truncated when shorter), so every get can be checked
// against its key whatever set came before it. Each connection draws its
// operations and keys from its own PCG generator seeded with (Seed,
// connection index): the per-connection sequences are deterministic.
//
// Latencies are measured per request from Issue to completion (including
// queueing behind the D-1 other requests of the pipeline, as memtier does)
// into log-linear histograms (Histogram). Run returns a Result, whose JSON
// form is the output of `pequod kv`.
package kv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pequod-go/pequod/loadgen/redisclient"
	"github.com/pequod-go/pequod/wire"
)

// Config describes a load. Zero fields take the defaults noted.
type Config struct {
	Backend Backend
	Addr    string

	Conns     int    // connections (default 50)
	Depth     int    // requests in flight per connection (default 32)
	Keys      int    // key space: keys 0 .. Keys-1 (default 100000)
	Prefix    string // key prefix (default "m|"; use NoPrefix for none)
	KeySize   int    // total key length in bytes (default len(Prefix)+10)
	ValueSize int    // value length in bytes (default 32)

	// Gets:Sets is the ratio of operations (default 1:1). 1:0 is read-only,
	// 0:1 write-only.
	Gets, Sets int

	// Duration of the measured phase (default 5 s), unless Requests > 0:
	// then exactly Requests requests are issued and the phase ends when all
	// have completed.
	Duration time.Duration
	Requests int64

	// Populate sets every key once before measuring.
	Populate bool
	// Seed seeds the per-connection generators.
	Seed uint64

	// Progress receives a line per ProgressInterval (default 1 s); nil
	// means no progress output.
	Progress         io.Writer
	ProgressInterval time.Duration
	// DrainTimeout bounds the wait for outstanding replies after the
	// measured phase (default 10 s); requests still unanswered then are
	// reported as stalled.
	DrainTimeout time.Duration
}

// NoPrefix as Config.Prefix means keys without a prefix.
const NoPrefix = "\x00none"

const defaultDigits = 10

func (c *Config) setDefaults() error {
	if c.Backend == nil {
		return errors.New("kv: no backend")
	}
	if c.Addr == "" {
		return errors.New("kv: no address")
	}
	if c.Conns == 0 {
		c.Conns = 50
	}
	if c.Depth == 0 {
		c.Depth = 32
	}
	if c.Keys == 0 {
		c.Keys = 100000
	}
	switch c.Prefix {
	case "":
		c.Prefix = "m|"
	case NoPrefix:
		c.Prefix = ""
	}
	if c.KeySize == 0 {
		c.KeySize = len(c.Prefix) + defaultDigits
	}
	if c.ValueSize == 0 {
		c.ValueSize = 32
	}
	if c.Gets == 0 && c.Sets == 0 {
		c.Gets, c.Sets = 1, 1
	}
	if c.Duration == 0 && c.Requests == 0 {
		c.Duration = 5 * time.Second
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	switch {
	case c.Conns < 0 || c.Depth < 0 || c.Keys < 0 || c.ValueSize < 0:
		return errors.New("kv: conns, depth, keys and value size must be positive")
	case c.Gets < 0 || c.Sets < 0:
		return errors.New("kv: the get:set ratio must not be negative")
	case c.Duration < 0 || c.Requests < 0:
		return errors.New("kv: duration and requests must not be negative")
	case c.Depth > 1<<20:
		return errors.New("kv: depth too large")
	}
	if digits := len(strconv.Itoa(c.Keys - 1)); c.KeySize-len(c.Prefix) < digits {
		return fmt.Errorf("kv: key size %d cannot hold prefix %q and %d digits", c.KeySize, c.Prefix, digits)
	}
	return nil
}

// AppendKey appends key i: prefix, then i zero-padded to keySize bytes.
func AppendKey(dst []byte, prefix string, keySize int, i uint64) []byte {
	dst = append(dst, prefix...)
	return appendPadded(dst, i, keySize-len(prefix))
}

// AppendValue appends the value of key i: i zero-padded to the key's digit
// width, then '.' up to size bytes (truncated to size).
func AppendValue(dst []byte, digits, size int, i uint64) []byte {
	start := len(dst)
	dst = appendPadded(dst, i, digits)
	if len(dst)-start >= size {
		return dst[:start+size]
	}
	for len(dst)-start < size {
		dst = append(dst, '.')
	}
	return dst
}

func appendPadded(dst []byte, i uint64, width int) []byte {
	var tmp [20]byte
	s := strconv.AppendUint(tmp[:0], i, 10)
	for n := len(s); n < width; n++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// Latency summarises a histogram, in microseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func latencyOf(h *Histogram) Latency {
	us := func(ns int64) float64 { return round3(float64(ns) / 1e3) }
	return Latency{
		P50: us(h.Percentile(50)), P90: us(h.Percentile(90)), P99: us(h.Percentile(99)),
		P999: us(h.Percentile(99.9)), Max: us(h.Max()), Mean: round3(h.Mean() / 1e3),
	}
}

func round3(f float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', 3, 64), 64)
	return v
}

// OpResult is the outcome of one kind of operation.
type OpResult struct {
	Ops       uint64  `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	// Hits and Misses count gets that found a (non-empty) value or not.
	Hits      uint64  `json:"hits,omitempty"`
	Misses    uint64  `json:"misses,omitempty"`
	LatencyUs Latency `json:"latency_us"`
}

// Errors counts failed requests by cause.
type Errors struct {
	Total uint64 `json:"total"`
	// Status: the server answered with a failure (Pequod status -1, Redis
	// error reply).
	Status uint64 `json:"status"`
	// Conn: the connection failed (the request got no reply).
	Conn uint64 `json:"conn"`
	// Mismatch: a get returned a value that is not its key's value.
	Mismatch uint64 `json:"mismatch"`
	// Missing: a get found nothing although the key space was populated.
	Missing uint64 `json:"missing"`
	// Stalled: requests still unanswered DrainTimeout after the end.
	Stalled uint64 `json:"stalled"`
	// First is the first error seen.
	First string `json:"first,omitempty"`
}

func (e *Errors) add(o *Errors) {
	e.Total += o.Total
	e.Status += o.Status
	e.Conn += o.Conn
	e.Mismatch += o.Mismatch
	e.Missing += o.Missing
	e.Stalled += o.Stalled
	if e.First == "" {
		e.First = o.First
	}
}

func (e *Errors) note(kind *uint64, msg func() string) {
	*kind++
	e.Total++
	if e.First == "" {
		e.First = msg()
	}
}

// PopulateResult describes the populate phase.
type PopulateResult struct {
	Keys      int     `json:"keys"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	Errors    Errors  `json:"errors"`
}

// Result is the outcome of Run (the JSON output of `pequod kv`).
type Result struct {
	Backend   string  `json:"backend"`
	Addr      string  `json:"addr"`
	Conns     int     `json:"conns"`
	Depth     int     `json:"depth"`
	Keys      int     `json:"keys"`
	KeySize   int     `json:"key_size"`
	Prefix    string  `json:"prefix"`
	ValueSize int     `json:"value_size"`
	Ratio     string  `json:"ratio"`
	Duration  float64 `json:"duration_s,omitempty"`
	Requests  int64   `json:"requests,omitempty"`
	Seed      uint64  `json:"seed"`

	Populate *PopulateResult `json:"populate,omitempty"`

	// Elapsed is the measured phase's wall time in seconds: the duration,
	// or until the last of Requests completed.
	Elapsed   float64  `json:"elapsed_s"`
	Ops       uint64   `json:"ops"`
	OpsPerSec float64  `json:"ops_per_sec"`
	Get       OpResult `json:"get"`
	Set       OpResult `json:"set"`
	LatencyUs Latency  `json:"latency_us"`
	Errors    Errors   `json:"errors"`
	// Extra holds caller-provided annotations (e.g. the server's
	// partition count).
	Extra map[string]any `json:"extra,omitempty"`
}

// Run connects, populates if asked, runs the measured phase and returns
// the result. Cancelling ctx ends the current phase early (the result then
// covers what was measured). Connection failures during the load do not
// make Run fail: they are counted in Result.Errors.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	res := &Result{
		Backend: cfg.Backend.Name(), Addr: cfg.Addr, Conns: cfg.Conns, Depth: cfg.Depth,
		Keys: cfg.Keys, KeySize: cfg.KeySize, Prefix: cfg.Prefix, ValueSize: cfg.ValueSize,
		Ratio: fmt.Sprintf("%d:%d", cfg.Gets, cfg.Sets), Requests: cfg.Requests, Seed: cfg.Seed,
	}
	if cfg.Requests == 0 {
		res.Duration = cfg.Duration.Seconds()
	}
	progress := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "kv: "+format+"\n", args...)
		}
	}

	progress("%s %s: connecting %d connections", res.Backend, cfg.Addr, cfg.Conns)
	workers := make([]*worker, cfg.Conns)
	defer func() {
		for _, w := range workers {
			if w != nil {
				_ = w.conn.Close()
			}
		}
	}()
	for i := range workers {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := cfg.Backend.Dial(dctx, cfg.Addr, cfg.Depth)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("kv: connecting to %s: %w", cfg.Addr, err)
		}
		workers[i] = newWorker(&cfg, i, conn)
	}

	if cfg.Populate {
		progress("populating %d keys (key %d bytes, value %d bytes)", cfg.Keys, cfg.KeySize, cfg.ValueSize)
		ph := newPhase(ctx, &cfg, 0, 0)
		start := time.Now()
		runPhase(ph, workers, (*worker).populate, func(el time.Duration, done uint64) {
			progress("populate %5.1fs: %d/%d keys", el.Seconds(), done, cfg.Keys)
		})
		el := time.Since(start)
		pr := &PopulateResult{Keys: cfg.Keys, Seconds: round3(el.Seconds())}
		for _, w := range workers {
			pr.Errors.add(&w.errs)
			w.errs = Errors{}
		}
		if el > 0 {
			pr.OpsPerSec = float64(int64(float64(cfg.Keys) / el.Seconds()))
		}
		res.Populate = pr
		progress("populated %d keys in %.2fs (%.0f sets/s), %d errors", cfg.Keys, el.Seconds(), pr.OpsPerSec, pr.Errors.Total)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}

	what := fmt.Sprintf("%v", cfg.Duration)
	if cfg.Requests > 0 {
		what = fmt.Sprintf("%d requests", cfg.Requests)
	}
	progress("running %s, get:set %s, %d conns x depth %d, %d keys", what, res.Ratio, cfg.Conns, cfg.Depth, cfg.Keys)
	ph := newPhase(ctx, &cfg, cfg.Duration, cfg.Requests)
	var last uint64
	lastT := time.Duration(0)
	el := runPhase(ph, workers, (*worker).run, func(el time.Duration, done uint64) {
		rate := float64(done-last) / (el - lastT).Seconds()
		var nerr uint64
		for _, w := range workers {
			nerr += w.nerr.Load()
		}
		progress("run %5.1fs: %d ops, %.0f ops/s now, %d errors", el.Seconds(), done, rate, nerr)
		last, lastT = done, el
	})
	if cfg.Requests == 0 && el > cfg.Duration {
		el = cfg.Duration
	}

	var hGet, hSet, hAll Histogram
	for _, w := range workers {
		hGet.Merge(&w.hist[OpGet])
		hSet.Merge(&w.hist[OpSet])
		res.Get.Hits += w.hits
		res.Get.Misses += w.misses
		res.Errors.add(&w.errs)
	}
	hAll.Merge(&hGet)
	hAll.Merge(&hSet)
	secs := el.Seconds()
	res.Elapsed = round3(secs)
	rate := func(n uint64) float64 {
		if secs <= 0 {
			return 0
		}
		return float64(int64(float64(n) / secs))
	}
	res.Get.Ops, res.Set.Ops, res.Ops = hGet.Count(), hSet.Count(), hAll.Count()
	res.Get.OpsPerSec, res.Set.OpsPerSec, res.OpsPerSec = rate(res.Get.Ops), rate(res.Set.Ops), rate(res.Ops)
	res.Get.LatencyUs, res.Set.LatencyUs, res.LatencyUs = latencyOf(&hGet), latencyOf(&hSet), latencyOf(&hAll)
	progress("done: %.0f ops/s (get %.0f, set %.0f), p50 %.0fus p99 %.0fus, %d errors",
		res.OpsPerSec, res.Get.OpsPerSec, res.Set.OpsPerSec, res.LatencyUs.P50, res.LatencyUs.P99, res.Errors.Total)
	return res, nil
}

// phase is the shared state of one phase.
type phase struct {
	ctx      context.Context
	wait     context.Context // for waiting on replies: ends DrainTimeout after stop
	endWait  context.CancelFunc
	cfg      *Config
	start    time.Time
	deadline int64 // ns since start after which completions are not counted (0: none)
	budget   int64 // requests left to issue when > 0 at the start (Requests mode)
	limited  bool
	left     atomic.Int64
	stop     atomic.Bool
}

func newPhase(ctx context.Context, cfg *Config, d time.Duration, requests int64) *phase {
	ph := &phase{ctx: ctx, cfg: cfg}
	ph.wait, ph.endWait = context.WithCancel(context.Background())
	if requests > 0 {
		ph.limited = true
		ph.left.Store(requests)
	} else if d > 0 {
		ph.deadline = int64(d)
	}
	return ph
}

// claim reserves one request of the budget.
func (ph *phase) claim() bool {
	if ph.stop.Load() {
		return false
	}
	if ph.limited && ph.left.Add(-1) < 0 {
		return false
	}
	return true
}

// runPhase runs fn on every worker, reports progress once per interval and
// returns the elapsed time until the last worker finished.
func runPhase(ph *phase, workers []*worker, fn func(*worker, *phase), tick func(time.Duration, uint64)) time.Duration {
	ph.start = time.Now()
	defer ph.endWait()
	var drainTimer *time.Timer
	stop := func() {
		if !ph.stop.Swap(true) {
			drainTimer = time.AfterFunc(ph.cfg.DrainTimeout, ph.endWait)
		}
	}
	defer func() {
		if drainTimer != nil {
			drainTimer.Stop()
		}
	}()
	for _, w := range workers {
		w.done.Store(0)
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w, ph)
		}()
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	t := time.NewTicker(ph.cfg.ProgressInterval)
	defer t.Stop()
	var timer <-chan time.Time
	if ph.deadline > 0 {
		tm := time.NewTimer(time.Duration(ph.deadline))
		defer tm.Stop()
		timer = tm.C
	}
	ctxDone := ph.ctx.Done()
	for {
		select {
		case <-finished:
			return time.Since(ph.start)
		case <-timer:
			stop()
		case <-ctxDone:
			stop()
			ctxDone = nil
		case <-t.C:
			var done uint64
			for _, w := range workers {
				done += w.done.Load()
			}
			tick(time.Since(ph.start), done)
		}
	}
}

type slot struct {
	op    Op
	key   uint64
	start int64 // ns since the phase start
}

// worker drives one connection.
type worker struct {
	cfg    *Config
	conn   Conn
	index  int
	rng    *rand.Rand
	digits int

	slots []slot
	free  []uint32

	keyBuf, valBuf, expBuf []byte

	hist   [2]Histogram
	hits   uint64
	misses uint64
	errs   Errors
	broken bool

	done atomic.Uint64 // completions counted in this phase (for progress)
	nerr atomic.Uint64
}

func newWorker(cfg *Config, i int, conn Conn) *worker {
	w := &worker{
		cfg: cfg, conn: conn, index: i,
		rng:    rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
		digits: cfg.KeySize - len(cfg.Prefix),
		slots:  make([]slot, cfg.Depth),
	}
	w.resetSlots()
	return w
}

func (w *worker) resetSlots() {
	w.free = w.free[:0]
	for i := len(w.slots) - 1; i >= 0; i-- {
		w.free = append(w.free, uint32(i))
	}
}

func (w *worker) issue(ph *phase, op Op, key uint64) {
	tag := w.free[len(w.free)-1]
	w.free = w.free[:len(w.free)-1]
	w.slots[tag] = slot{op: op, key: key, start: int64(time.Since(ph.start))}
	w.keyBuf = AppendKey(w.keyBuf[:0], w.cfg.Prefix, w.cfg.KeySize, key)
	var val []byte
	if op == OpSet {
		w.valBuf = AppendValue(w.valBuf[:0], w.digits, w.cfg.ValueSize, key)
		val = w.valBuf
	}
	w.conn.Issue(op, w.keyBuf, val, tag)
}

// complete waits for one completion and accounts for it; it returns false
// when waiting failed (drain timeout or ctx), after counting the stalled
// requests.
func (w *worker) complete(ph *phase, measure bool) bool {
	comp, err := w.conn.Next(ph.wait)
	if err != nil {
		n := uint64(len(w.slots) - len(w.free))
		w.errs.Stalled += n
		w.errs.Total += n
		if w.errs.First == "" {
			w.errs.First = fmt.Sprintf("%d requests unanswered %v after the end of the phase", n, w.cfg.DrainTimeout)
		}
		w.nerr.Add(n)
		w.resetSlots()
		w.broken = true
		return false
	}
	now := int64(time.Since(ph.start))
	s := w.slots[comp.Tag]
	w.free = append(w.free, comp.Tag)
	counted := measure && (ph.deadline == 0 || now <= ph.deadline)
	nerr := w.errs.Total
	if comp.Err != nil {
		if isConnErr(comp.Err) {
			w.broken = true
			w.errs.note(&w.errs.Conn, func() string { return fmt.Sprintf("%s: %v", s.op, comp.Err) })
		} else {
			w.errs.note(&w.errs.Status, func() string { return fmt.Sprintf("%s key %d: %v", s.op, s.key, comp.Err) })
		}
	} else if s.op == OpGet {
		if len(comp.Value) == 0 {
			if w.cfg.Populate {
				w.errs.note(&w.errs.Missing, func() string { return fmt.Sprintf("get key %d after populate: no value", s.key) })
			} else if counted {
				w.misses++
			}
		} else {
			w.expBuf = AppendValue(w.expBuf[:0], w.digits, w.cfg.ValueSize, s.key)
			if string(comp.Value) != string(w.expBuf) {
				w.errs.note(&w.errs.Mismatch, func() string {
					return fmt.Sprintf("get key %d: value %.40q, want %.40q", s.key, comp.Value, w.expBuf)
				})
			} else if counted {
				w.hits++
			}
		}
	}
	if w.errs.Total != nerr {
		w.nerr.Add(w.errs.Total - nerr)
		return true
	}
	if counted {
		w.hist[s.op].Record(now - s.start)
		w.done.Add(1)
	}
	return true
}

func isConnErr(err error) bool {
	var rc *redisclient.ConnError
	return errors.Is(err, wire.ErrConnLost) || errors.Is(err, wire.ErrClosed) ||
		errors.As(err, &rc) || errors.Is(err, redisclient.ErrClosed)
}

// drain waits for the outstanding requests, at most DrainTimeout after the
// phase was stopped.
func (w *worker) drain(ph *phase, measure bool) {
	for len(w.free) < len(w.slots) {
		if !w.complete(ph, measure) {
			return
		}
	}
}

// populate sets keys index, index+Conns, ... once each.
func (w *worker) populate(ph *phase) {
	defer w.drain(ph, false)
	for k := uint64(w.index); k < uint64(w.cfg.Keys); k += uint64(w.cfg.Conns) {
		if w.broken || ph.stop.Load() {
			return
		}
		if len(w.free) == 0 && !w.complete(ph, false) {
			return
		}
		w.issue(ph, OpSet, k)
		w.done.Add(1)
	}
}

// run is the measured phase: keep Depth requests in flight until the
// deadline or the request budget.
func (w *worker) run(ph *phase) {
	defer w.drain(ph, true)
	total := uint64(w.cfg.Gets + w.cfg.Sets)
	gets := uint64(w.cfg.Gets)
	keys := uint64(w.cfg.Keys)
	for !w.broken {
		if len(w.free) == 0 {
			if !w.complete(ph, true) {
				return
			}
			continue
		}
		if !ph.claim() {
			return
		}
		op := OpSet
		if w.rng.Uint64N(total) < gets {
			op = OpGet
		}
		w.issue(ph, op, w.rng.Uint64N(keys))
	}
}
