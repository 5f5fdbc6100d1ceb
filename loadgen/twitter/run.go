package twitter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/mt"
	"github.com/pequod-go/pequod/wire"
)

// userState is the per-user state of a managed user (§2.8).
type userState struct {
	lastRead      uint32 // 0 = logged out
	lastSubscribe uint32
	checking      bool // a check is in flight
}

// runner is one process's twitternew run. Everything runs on the goroutine
// that called Run; completions come back through loop.
type runner struct {
	ctx  context.Context
	p    Params
	be   Backend
	loop *async.Loop
	out  io.Writer

	graph    *Graph
	n        uint32
	postDist *mt.Discrete
	opDist   *mt.Discrete
	users    []userState // managed users, indexed by u / ngroups

	active         []uint32
	activeSelected bool
	loggedIn       []uint32 // FIFO of logged-in users
	loggedHead     int
	checkIdx       int // next active user to check

	currtime uint32
	res      Result
	err      error // first asynchronous failure

	rtt *rttLog // nil unless logging RTTs

	// postsInFlight are the measured run's posts not yet complete (fan-out
	// included), in issue order, i.e. by time; settle waits on them.
	postsInFlight []*postInFlight
}

// postInFlight is one post of the run whose completion a check may await.
type postInFlight struct {
	time uint32
	done bool
}

// Run executes one twitternew process (spec/apps.md §2.9): initialize,
// populate and the measured run, with parameters p (raw: Run normalizes
// them, see Params.Normalize) against be, whose completions run on loop.
// Progress messages (verbose, log, stats printout) go to progress. Run must
// be called on the goroutine that owns loop; it returns when the run ends
// or ctx is done (then with ctx's error). The caller closes be.
//
// The Result has Executed false when p.Execute is off.
func Run(ctx context.Context, p Params, be Backend, loop *async.Loop, progress io.Writer) (*Result, error) {
	q, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	if progress == nil {
		progress = io.Discard
	}
	r := &runner{ctx: ctx, p: q, be: be, loop: loop, out: progress,
		opDist: mt.NewDiscrete(q.opWeights())}
	r.res.Master = q.GroupID == 0
	if q.Push {
		// A push-mode post fans out to every follower from a completion,
		// where nothing paces. Pace on fewer outstanding requests so the
		// fan-outs of one loop batch stay bounded (thousands of posts ×
		// ~100 followers, not the §3.2 thresholds' 131072 × 100).
		loop.PaceHigh, loop.PaceLow = pushPaceHigh, pushPaceLow
	}
	if err := r.initialize(); err != nil {
		return nil, err
	}
	if err := r.populate(); err != nil {
		return nil, err
	}
	if err := r.run(); err != nil {
		return nil, err
	}
	return &r.res, nil
}

// Pacing thresholds in push mode (see Run).
const (
	pushPaceHigh = 4096
	pushPaceLow  = 2048
)

// fail records the first asynchronous error.
func (r *runner) fail(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
}

// check returns the first recorded error or ctx's.
func (r *runner) check() error {
	if r.err != nil {
		return fmt.Errorf("twitternew: request failed: %w", r.err)
	}
	return r.ctx.Err()
}

func (r *runner) pace() error {
	if err := r.loop.Pace(r.ctx); err != nil {
		return err
	}
	return r.check()
}

func (r *runner) drain() error {
	if err := r.loop.Drain(r.ctx); err != nil {
		return err
	}
	return r.check()
}

func (r *runner) verbosef(format string, a ...any) {
	if r.p.Verbose {
		fmt.Fprintf(r.out, format, a...)
	}
}

// managed returns u's state; u must be managed by this group.
func (r *runner) managed(u uint32) *userState { return &r.users[int(u)/r.p.NGroups] }

func (r *runner) isCeleb(u uint32) bool {
	return r.p.Celebrity != 0 && r.graph.Followers[u] > uint32(r.p.Celebrity)
}

// Random users (§2.6.3).
func (r *runner) randUserPost(gen *mt.Rand) uint32 { return uint32(r.postDist.Sample(gen)) }
func (r *runner) randUserAll(gen *mt.Rand) uint32  { return uint32(gen.IntRange(0, int(r.n)-1)) }
func (r *runner) randUserManaged(gen *mt.Rand) uint32 {
	ng := r.p.NGroups
	g := int(r.n)
	if ng > 1 {
		g = int(r.n)/ng + 1
	}
	for {
		u := gen.IntRange(0, g-1)*ng + r.p.GroupID
		if u < int(r.n) {
			return uint32(u)
		}
	}
}

// initialize is §2.9 initialize.
func (r *runner) initialize() error {
	if !r.p.Initialize {
		return nil
	}
	if err := r.be.WaitReady(r.ctx); err != nil {
		return fmt.Errorf("twitternew: waiting for servers: %w", err)
	}
	if err := r.be.Initialize(r.ctx); err != nil {
		return fmt.Errorf("twitternew: initialize: %w", err)
	}
	return nil
}

// buildGraph builds the graph and the post-author distribution from gen.
func (r *runner) buildGraph(gen *mt.Rand) error {
	var g *Graph
	var err error
	if r.p.Graph != "" {
		f, ferr := os.Open(r.p.Graph)
		if ferr != nil {
			return fmt.Errorf("twitternew: graph: %w", ferr)
		}
		g, err = ReadGraph(f, r.p.NGroups, r.p.GroupID)
		f.Close()
	} else {
		g, err = GenerateGraph(GraphConfig{
			N: r.p.NUsers, MinFollowers: r.p.MinFollowers,
			MinSubs: r.p.MinSubscriptions, MaxSubs: r.p.MaxSubscriptions,
			Shape: r.p.Shape, NGroups: r.p.NGroups, GroupID: r.p.GroupID,
			Retry: func(shape float64) { fmt.Fprintf(r.out, "RETRYING with shape %g...\n", shape) },
		}, gen)
	}
	if err != nil {
		return err
	}
	r.graph = g
	r.n = uint32(g.N)
	r.users = make([]userState, (g.N+r.p.NGroups-1)/r.p.NGroups)
	if r.p.Verbose && r.p.NGroups == 1 && r.p.GroupID == 0 {
		writeGraphStats(r.out, g.Followers)
	}
	r.postDist = mt.NewDiscrete(PostWeights(g.Followers, gen))
	return nil
}

// populate is §2.9 populate.
func (r *runner) populate() error {
	r.currtime = BaseTime
	if !r.p.Populate && !r.p.Execute {
		return nil
	}
	gen := mt.New(uint32(PopulateSeed + r.p.GroupID))
	if err := r.buildGraph(gen); err != nil {
		return err
	}
	end := BaseTime + uint32(r.p.PopDuration)
	if !r.p.Populate {
		r.currtime = end
		return nil
	}
	if err := r.be.WaitReady(r.ctx); err != nil {
		return fmt.Errorf("twitternew: waiting for servers: %w", err)
	}
	if r.p.PrevalidateBeforeSub {
		if err := r.selectActive(); err != nil {
			return err
		}
	}
	nsubs := len(r.graph.Subs)
	lastPct := 0
	for i, s := range r.graph.Subs {
		r.subscribe(s.User, s.Poster, nil)
		if err := r.pace(); err != nil {
			return err
		}
		// Populate progress; the original divides by subs/10 (§2.18): guard.
		if r.p.Verbose && nsubs >= 10 {
			if pct := (i + 1) * 10 / nsubs * 10; pct > lastPct {
				lastPct = pct
				fmt.Fprintf(r.out, "subscriptions %d%% loaded\n", pct)
			}
		}
	}
	for u := r.p.GroupID; u < int(r.n); u += r.p.NGroups {
		if r.isCeleb(uint32(u)) {
			r.be.MarkCelebrity(uint32(u), r.fail)
		}
	}
	if err := r.drain(); err != nil {
		return err
	}
	for t := r.currtime; t < end; t++ {
		r.post(r.randUserPost(gen), t, nil)
		if err := r.pace(); err != nil {
			return err
		}
	}
	if err := r.drain(); err != nil {
		return err
	}
	r.currtime = end
	if _, err := r.be.Control(r.ctx, map[string]any{"flush_db_queue": true}); err != nil {
		return fmt.Errorf("twitternew: flush_db_queue: %w", err)
	}
	r.verbosef("populated %d subscriptions, %d posts\n", nsubs, r.p.PopDuration)
	return nil
}

// selectActive is §2.10.
func (r *runner) selectActive() error {
	gen := mt.New(uint32(ActiveSeed + r.p.GroupID))
	var inactive []uint32
	r.active = r.active[:0]
	for u := r.p.GroupID; u < int(r.n); u += r.p.NGroups {
		if gen.Real(0, 100) >= r.p.PActive {
			inactive = append(inactive, uint32(u))
			continue
		}
		r.active = append(r.active, uint32(u))
		if r.p.Prevalidate {
			r.prevalidate(uint32(u))
			if err := r.pace(); err != nil {
				return err
			}
		}
	}
	if err := r.drain(); err != nil {
		return err
	}
	if r.p.PrevalidateInactive {
		for _, u := range inactive {
			r.prevalidate(u)
			if err := r.pace(); err != nil {
				return err
			}
		}
		if err := r.drain(); err != nil {
			return err
		}
	}
	gen.Shuffle(len(r.active), func(i, j int) { r.active[i], r.active[j] = r.active[j], r.active[i] })
	if r.p.PActive > 0 && len(r.active) == 0 {
		return fmt.Errorf("twitternew: pactive is %g but no user of group %d is active", r.p.PActive, r.p.GroupID)
	}
	r.activeSelected = true
	r.res.NActive = int64(len(r.active))
	return nil
}

// prevalidate counts u's whole timeline, making the server compute and
// maintain it (§2.10).
func (r *runner) prevalidate(u uint32) {
	r.be.Check(u, 0, EndTime, false, func(_ int, _ []Entry, err error) { r.fail(err) })
}

// subscribe is §2.11 subscribe(user, poster); push mode stores the
// follower list, s|poster|user. done may be nil.
func (r *runner) subscribe(user, poster uint32, done func()) {
	a, b := user, poster
	if r.p.Push {
		a, b = poster, user
	}
	if r.p.Log {
		fmt.Fprintf(r.out, "%d: subscribe s|%08d|%08d\n", r.currtime, a, b)
	}
	r.be.Subscribe(a, b, func(err error) {
		r.fail(err)
		if done != nil {
			done()
		}
	})
}

// post is §2.11 post(u, t): the post write and, in push mode, the
// fan-out to every follower. done (may be nil) runs when all is written.
func (r *runner) post(author, t uint32, done func()) {
	if done == nil {
		done = func() {}
	}
	celeb := r.isCeleb(author)
	if r.p.Log {
		fmt.Fprintf(r.out, "%d: post %s\n", t, Keys{}.Post(author, t, false))
	}
	if !r.p.Push {
		r.be.Post(author, t, tweet, celeb, func(err error) { r.fail(err); done() })
		return
	}
	waiting := 2
	var followers []uint32
	fanout := func() {
		waiting--
		if waiting > 0 {
			return
		}
		if len(followers) == 0 {
			done()
			return
		}
		left := len(followers)
		for _, f := range followers {
			r.be.PushPost(f, author, t, tweet, func(err error) {
				r.fail(err)
				if left--; left == 0 {
					done()
				}
			})
		}
	}
	r.be.Post(author, t, tweet, celeb, func(err error) { r.fail(err); fanout() })
	r.be.FollowerScan(author, func(fs []uint32, err error) { r.fail(err); followers = fs; fanout() })
}

// backfill is §2.11 backfill(user, f, t): copy f's posts of the last login
// window into user's timeline (Go fix, §2.12: into the subscriber).
// done runs when every copy is written.
func (r *runner) backfill(user, f, t uint32, done func()) {
	r.be.PostScan(f, t-LoginWindow, t, func(posts []Post, err error) {
		r.fail(err)
		r.res.NBackPosts += int64(len(posts))
		left := len(posts)
		if left == 0 {
			done()
			return
		}
		for _, p := range posts {
			r.be.PushPost(user, f, p.Time, p.Value, func(err error) {
				r.fail(err)
				if left--; left == 0 {
					done()
				}
			})
		}
	})
}

// prunePosts drops the completed posts at the head of postsInFlight.
func (r *runner) prunePosts() {
	for len(r.postsInFlight) > 0 && r.postsInFlight[0].done {
		r.postsInFlight[0] = nil
		r.postsInFlight = r.postsInFlight[1:]
	}
}

// settle waits until every run post with time < end has completed (in
// push mode with its fan-out): the posts a check over times before end
// reads. The original issues the check regardless, so with deep
// pipelining a check may overtake a post it should see, and nposts_read
// then depends on request interleaving (apps.md §6). Waiting makes it a
// function of the op stream, identical embedded and over the network and
// across back ends — except where a back end is genuinely stale: a
// client-push baseline's backfill after a subscribe is not waited for, so
// a check that overtakes it reads the stale timeline, which is the point
// of the comparison (Pequod's joins are never stale). The posts are at
// least SKEW ticks old, so the wait is rare and short.
func (r *runner) settle(end uint32) error {
	ready := func() bool {
		r.prunePosts()
		return len(r.postsInFlight) == 0 || r.postsInFlight[0].time >= end
	}
	if ready() {
		return nil
	}
	return r.loop.Until(r.ctx, ready)
}

// timelineCheck issues a check of user over [beg, end) (§2.11); got gets
// the count.
func (r *runner) timelineCheck(user, beg, end uint32, got func(n int)) {
	fetch := r.p.Fetch || r.p.Log
	tick := r.currtime
	r.be.Check(user, beg, end, fetch, func(n int, entries []Entry, err error) {
		r.fail(err)
		if r.p.Log {
			fmt.Fprintf(r.out, "%d: scan [t|%08d|%010d, t|%08d|%010d)\n", tick, user, beg, user, end)
			for _, e := range entries {
				fmt.Fprintf(r.out, "  %s: %s\n", textTimeline(e.User, e.Time, e.Poster), e.Value)
			}
		}
		got(n)
	})
}

// barrier is one side of the §2.13 barrier.
type barrier interface {
	Wait(ctx context.Context) error
	Close() error
}

type noBarrier struct{}

func (noBarrier) Wait(context.Context) error { return nil }
func (noBarrier) Close() error               { return nil }

// run is the measured run, §2.12.
func (r *runner) run() error {
	if !r.p.Execute {
		return nil
	}
	r.res.Executed = true
	master := r.p.GroupID == 0
	// Step 2: multi-client setup.
	var bar barrier = noBarrier{}
	if r.p.NGroups > 1 {
		addr := net.JoinHostPort(r.p.MasterHost, strconv.Itoa(r.p.MasterPort))
		if master {
			m, err := wire.ListenBarrier(addr, r.p.NGroups)
			if err != nil {
				return fmt.Errorf("twitternew: barrier listen on %s: %w", addr, err)
			}
			bar = m
		} else {
			m, err := wire.DialBarrier(r.ctx, addr)
			if err != nil {
				return fmt.Errorf("twitternew: barrier connect to %s: %w", addr, err)
			}
			bar = m
		}
	}
	defer bar.Close()
	wait := func(step string) error {
		if err := bar.Wait(r.ctx); err != nil {
			return fmt.Errorf("twitternew: barrier (%s): %w", step, err)
		}
		return nil
	}
	// Step 3.
	if master {
		if err := r.be.WaitReady(r.ctx); err != nil {
			return fmt.Errorf("twitternew: waiting for servers: %w", err)
		}
	}
	if err := wait("ready"); err != nil {
		return err
	}
	// Step 4: active selection (and prevalidation) outside the measurement.
	if !r.activeSelected {
		if err := r.selectActive(); err != nil {
			return err
		}
	}
	if err := wait("active"); err != nil {
		return err
	}
	// Step 5.
	var oldStats []json.RawMessage
	if master {
		if _, err := r.be.Control(r.ctx, map[string]any{"clear_log": true}); err != nil {
			return fmt.Errorf("twitternew: clear_log: %w", err)
		}
		var err error
		if oldStats, err = r.be.Stats(r.ctx); err != nil {
			return fmt.Errorf("twitternew: stats: %w", err)
		}
	}
	if err := wait("stats"); err != nil {
		return err
	}
	// Step 6.
	clog := newClientLog()
	clog.start(time.Second)
	defer clog.stopLog()
	runGen := mt.New(uint32(RunSeed + r.p.GroupID))
	if r.p.LogRTT {
		l, err := newRTTLog(r.p.OutPath, r.p.GroupID)
		if err != nil {
			return err
		}
		r.rtt = l
		defer func() {
			if r.rtt != nil { // error path: still close the file
				_ = r.rtt.finish()
			}
		}()
	}
	u0, s0, _ := rusage()
	wallStart := time.Now()

	// Step 7.
	if err := r.mainLoop(runGen, wallStart); err != nil {
		return err
	}
	// Step 8.
	if err := r.drain(); err != nil {
		return err
	}
	rtt := r.rtt
	r.rtt = nil // disables RTT logging
	// Step 9: final scan.
	for _, u := range r.active {
		st := r.managed(u)
		if st.lastRead == 0 {
			continue
		}
		r.timelineCheck(u, st.lastRead, r.currtime, func(n int) { r.res.NPostsRead += int64(n) })
		if err := r.pace(); err != nil {
			return err
		}
	}
	if err := r.drain(); err != nil {
		return err
	}
	// Step 10.
	if r.p.NGroups > 1 {
		if err := wait("end"); err != nil {
			return err
		}
	}
	bar.Close()
	// Step 11.
	u1, s1, _ := rusage()
	r.res.WallTime = time.Since(wallStart).Seconds()
	r.res.UserTime = (u1 - u0).Seconds()
	r.res.SystemTime = (s1 - s0).Seconds()
	// Step 12.
	if master {
		stats, err := r.be.Stats(r.ctx)
		if err != nil {
			return fmt.Errorf("twitternew: stats: %w", err)
		}
		logs, err := r.be.Control(r.ctx, map[string]any{"print_validation_log": true, "get_log": true})
		if err != nil {
			return fmt.Errorf("twitternew: get_log: %w", err)
		}
		if r.p.PrintTable != "" {
			if _, err := r.be.Control(r.ctx, map[string]any{"print_table_keys": r.p.PrintTable + "|"}); err != nil {
				return fmt.Errorf("twitternew: print_table_keys: %w", err)
			}
		}
		for i := range stats {
			if i < len(oldStats) {
				if stats[i], err = diffStats(stats[i], oldStats[i]); err != nil {
					return err
				}
			}
		}
		r.res.ServerStats = stats
		r.res.ServerLogs = logs
	}
	// Step 14 (the JSON is printed by the caller).
	clog.stopLog()
	r.res.Log = clog.JSON()
	if rtt != nil {
		if err := rtt.finish(); err != nil {
			return err
		}
	}
	if r.p.PostRate != 0 && r.p.Verbose && r.res.WallTime > 0 {
		fmt.Fprintf(r.out, "Post rate: %g (target %d)\n", float64(r.res.NPosts)/r.res.WallTime, r.p.PostRate)
	}
	return nil
}

// mainLoop is §2.12 step 7.
func (r *runner) mainLoop(gen *mt.Rand, wallStart time.Time) error {
	p := &r.p
	start := r.currtime
	r.loggedIn, r.loggedHead, r.checkIdx = nil, 0, 0
	batch := 0
	postShare := 0.0
	if tot := r.opDist.Total(); tot > 0 {
		postShare = p.PPost / tot
	}
	rateLimited := false
	lastPct := 0
	progressive := p.ProgressReport && p.NGroups > 1
	for (p.Duration == 0 || r.currtime < start+uint32(p.Duration)) &&
		(p.PostLimit == 0 || r.res.NPosts < int64(p.PostLimit)) &&
		(p.CheckLimit == 0 || r.res.NChecks < int64(p.CheckLimit)) {
		switch r.opDist.Sample(gen) {
		case opPost:
			r.opPost(gen)
		case opSubscribe:
			r.opSubscribe(gen)
		case opLogout:
			r.opLogout()
		case opCheck:
			if err := r.opCheck(); err != nil {
				return err
			}
		}
		// Pacing and synchronous batching.
		batch++
		if batch == p.Synchronous {
			batch = 0
			if err := r.drain(); err != nil {
				return err
			}
			if p.PostRate > 0 {
				elapsed := time.Since(wallStart).Seconds()
				if elapsed > float64(p.Timeout) {
					r.verbosef("Timing out after %g seconds\n", elapsed)
					break
				}
				ops := float64(r.currtime - start)
				if oprate := float64(p.PostRate) / postShare; postShare > 0 && elapsed > 0 && ops/elapsed > oprate {
					if err := sleepCtx(r.ctx, time.Duration((ops/oprate-elapsed)*float64(time.Second))); err != nil {
						return err
					}
				}
			}
		} else if err := r.pace(); err != nil {
			return err
		}
		r.currtime++
		ticks := r.currtime - start
		// Progress report (§2.12): cross-group rate limiting.
		if progressive && ticks%ProgReportPeriod == 0 {
			if err := r.drain(); err != nil {
				return err
			}
			slowest, err := r.updateProgress()
			if err != nil {
				return err
			}
			rateLimited = int64(r.currtime)-int64(slowest) >= RateLimitThresh
		}
		if rateLimited && ticks%RateLimitPeriod == 0 {
			if err := sleepCtx(r.ctx, time.Millisecond); err != nil {
				return err
			}
		}
		if p.Verbose {
			lastPct = r.printPercent(lastPct, ticks, wallStart)
		}
		if ticks%1024 == 0 {
			r.loop.Poll()
			if err := r.check(); err != nil {
				return err
			}
		}
	}
	return nil
}

// printPercent prints "<k>% complete" when progress crosses a 10% step.
// The original divides by goal/10, which fails for goals below 10 (§2.18);
// here the percentage is computed in floating point and a zero goal prints
// nothing.
func (r *runner) printPercent(last int, ticks uint32, wallStart time.Time) int {
	var done, goal float64
	switch {
	case r.p.PostRate > 0:
		done, goal = time.Since(wallStart).Seconds(), float64(r.p.Timeout)
	case r.p.PostLimit > 0:
		done, goal = float64(r.res.NPosts), float64(r.p.PostLimit)
	case r.p.CheckLimit > 0:
		done, goal = float64(r.res.NChecks), float64(r.p.CheckLimit)
	default:
		done, goal = float64(ticks), float64(r.p.Duration)
	}
	if goal <= 0 {
		return last
	}
	k := int(math.Floor(done*10/goal)) * 10
	if k > last && k <= 100 {
		fmt.Fprintf(r.out, "%d%% complete\n", k)
		return k
	}
	return last
}

func (r *runner) updateProgress() (uint32, error) {
	var slowest uint32
	finished := false
	r.be.UpdateProgress(r.p.GroupID, r.p.NGroups, r.currtime, func(s uint32, err error) {
		r.fail(err)
		slowest, finished = s, true
	})
	if err := r.loop.Until(r.ctx, func() bool { return finished }); err != nil {
		return 0, err
	}
	return slowest, r.check()
}

func (r *runner) opPost(gen *mt.Rand) {
	author := r.randUserPost(gen)
	tick := r.currtime
	// Pruned here too, so runs without checks (pactive 0) keep it short.
	r.prunePosts()
	pf := &postInFlight{time: tick}
	r.postsInFlight = append(r.postsInFlight, pf)
	done := func() { pf.done = true }
	if rtt := r.rtt; rtt != nil {
		t0 := time.Now()
		done = func() { pf.done = true; rtt.record('p', time.Since(t0), tick, 0) }
	}
	r.post(author, tick, done)
	r.res.NPosts++
}

func (r *runner) opSubscribe(gen *mt.Rand) {
	user := r.randUserManaged(gen)
	poster := r.randUserAll(gen)
	for poster == user {
		poster = r.randUserAll(gen)
	}
	r.subscribe(user, poster, nil)
	r.managed(user).lastSubscribe = r.currtime
	r.res.NSubscribes++
	if r.p.Push {
		r.backfill(user, poster, r.currtime, func() {})
	}
}

func (r *runner) opLogout() {
	if r.loggedHead == len(r.loggedIn) {
		return
	}
	u := r.loggedIn[r.loggedHead]
	r.loggedHead++
	if r.loggedHead > 1024 && r.loggedHead*2 > len(r.loggedIn) {
		r.loggedIn = append(r.loggedIn[:0], r.loggedIn[r.loggedHead:]...)
		r.loggedHead = 0
	}
	r.managed(u).lastRead = 0
	r.res.NLogouts++
	if r.p.Log {
		fmt.Fprintf(r.out, "%d: logout %08d\n", r.currtime, u)
	}
}

func (r *runner) opCheck() error {
	if len(r.active) == 0 {
		return nil // pactive 0: nobody checks
	}
	// Round-robin over the shuffled active list.
	u := r.active[r.checkIdx]
	r.checkIdx = (r.checkIdx + 1) % len(r.active)
	st := r.managed(u)
	if st.checking {
		if err := r.loop.Until(r.ctx, func() bool { return !st.checking }); err != nil {
			return err
		}
	}
	now := r.currtime
	end := now - Skew
	if err := r.settle(end); err != nil {
		return err
	}
	var beg uint32
	if st.lastRead == 0 {
		r.loggedIn = append(r.loggedIn, u)
		beg = now - LoginWindow
		r.res.NFull++
	} else {
		beg = st.lastRead - Overlap
	}
	st.lastRead = end
	aftersub := 0
	if st.lastSubscribe != 0 && st.lastSubscribe < now {
		aftersub = 1
		st.lastSubscribe = 0
	}
	st.checking = true
	rtt := r.rtt
	t0 := time.Now()
	r.timelineCheck(u, beg, end, func(n int) {
		st.checking = false
		r.res.NPostsRead += int64(n)
		if rtt != nil {
			rtt.record('c', time.Since(t0), now, aftersub)
		}
	})
	r.res.NChecks++
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
