package hn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/mt"
)

// Result is the output of a run (apps.md §5.5), in the original's key
// order, plus KarmaErrors.
type Result struct {
	// Log is the periodic client log (§2.16).
	Log json.RawMessage `json:"log"`
	// ServerLogs holds the servers' get_log replies, one per server; null
	// when the back end has none (in-process Pequod, §2.15).
	ServerLogs []json.RawMessage `json:"server_logs"`
	// ServerStats holds the servers' stats at the end of the run with the
	// seven time fields diffed over the run (§2.12 step 12).
	ServerStats []json.RawMessage `json:"server_stats"`
	NRead       int64             `json:"nread"`
	NPost       int64             `json:"npost"`
	NComment    int64             `json:"ncomment"`
	NVote       int64             `json:"nvote"`
	// UserTime and SystemTime are the client process's CPU seconds during
	// the run; WallTime its wall-clock seconds.
	UserTime   float64 `json:"user_time"`
	SystemTime float64 `json:"system_time"`
	WallTime   float64 `json:"wall_time"`
	// KarmaErrors counts comments whose karma failed the check (§5.4); not
	// in the original's output. Always 0 when the check is off (run_only).
	KarmaErrors int64 `json:"karma_errors"`
}

// ErrKarma is the error of a run whose karma check found violations.
var ErrKarma = errors.New("hn: karma check failed")

// logInterval is the client log's sampling period (§2.16).
const logInterval = time.Second

// maxReportedViolations bounds the karma violations described on the
// progress writer.
const maxReportedViolations = 10

// runner is one run's state; it lives on the run's goroutine.
type runner struct {
	p        Params
	be       Backend
	loop     *async.Loop
	progress io.Writer
	m        *Model

	err         error // first failed request
	karmaErrors int64
}

func (r *runner) fail(err error) {
	if err != nil && r.err == nil {
		r.err = err
	}
}

func (r *runner) logf(format string, a ...any) {
	if r.progress != nil {
		fmt.Fprintf(r.progress, format, a...)
	}
}

// done is a completion that only records errors.
func (r *runner) done(what string) func(error) {
	return func(err error) {
		if err != nil {
			r.fail(fmt.Errorf("hn: %s: %w", what, err))
		}
	}
}

// karmaDone is the completion of a write that adds one to author's karma.
func (r *runner) karmaDone(what string, author uint32) func(error) {
	return func(err error) {
		if err != nil {
			r.fail(fmt.Errorf("hn: %s: %w", what, err))
			return
		}
		r.m.ack(author)
	}
}

// Run performs an hn run with p against be (apps.md §5.5): initialize,
// population (or, with RunOnly, a replay of it into the model),
// post-populate, and unless PopulateOnly the measured run of NOps
// iterations. be must complete its requests through loop, and Run must be
// called on the goroutine that owns loop. progress receives the stderr
// lines of the original (and the Log/Verbose output); it may be nil.
//
// Run returns a nil Result with PopulateOnly. A run whose karma check
// fails returns its Result and an error wrapping ErrKarma.
func Run(ctx context.Context, p Params, be Backend, loop *async.Loop, progress io.Writer) (*Result, error) {
	p, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	if be == nil || loop == nil {
		return nil, errors.New("hn: Run needs a back end and a loop")
	}
	r := &runner{p: p, be: be, loop: loop, progress: progress}
	if err := be.Initialize(ctx); err != nil {
		return nil, fmt.Errorf("hn: initialize %s: %w", be.Name(), err)
	}
	if p.RunOnly {
		if r.m, err = ReplayPopulation(p); err != nil {
			return nil, err
		}
	} else {
		if err := r.populate(ctx); err != nil {
			return nil, err
		}
		if p.Log && progress != nil {
			// Go: the original prints the table to stdout; here it goes
			// with the other log output so stdout stays one JSON object.
			r.m.WriteKarma(progress)
		}
	}
	if err := be.PostPopulate(ctx); err != nil {
		return nil, fmt.Errorf("hn: post_populate: %w", err)
	}
	r.logf("Running with %d users, %d articles, %d votes, %d comments.\n",
		r.m.Users(), r.m.Articles(), r.m.Votes(), r.m.Comments())
	if p.PopulateOnly {
		return nil, nil
	}
	return r.run(ctx)
}

// populate stores the population (§5.5): article aid by aid mod hnusers
// with its self-vote, uniform[0,20) comments by uniform commenters,
// uniform[0,50) uniform voters minus duplicates; pace per article; drain.
func (r *runner) populate(ctx context.Context) error {
	p := r.p
	r.m = NewModel(p.HNUsers)
	pop := newPopulator(p.HNUsers)
	var a article
	for i := 0; i < p.NArticles && r.err == nil; i++ {
		author := uint32(i % p.HNUsers)
		aid, karma, err := r.m.PostArticle(author)
		if err != nil {
			return err
		}
		r.be.PostArticle(author, aid, karma, r.karmaDone("populate: post article", author))
		pop.next(&a)
		for _, c := range a.commenters {
			cid, err := r.m.NextComment()
			if err != nil {
				return err
			}
			r.be.PostComment(c, aid, author, cid, r.done("populate: comment"))
		}
		for _, v := range a.voters {
			if ok, karma := r.m.Vote(v, aid, false); ok {
				r.be.Vote(v, aid, author, karma, r.karmaDone("populate: vote", author))
			}
		}
		if err := r.loop.Pace(ctx); err != nil {
			return fmt.Errorf("hn: populate: %w", err)
		}
	}
	if err := r.loop.Drain(ctx); err != nil {
		return fmt.Errorf("hn: populate: drain: %w", err)
	}
	return r.err
}

// run is the measured run (§5.5).
func (r *runner) run(ctx context.Context) (*Result, error) {
	p, be, m := r.p, r.be, r.m
	if _, err := be.Control(ctx, map[string]any{"clear_log": true}); err != nil {
		return nil, fmt.Errorf("hn: clear server logs: %w", err)
	}
	oldStats, err := be.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("hn: server stats: %w", err)
	}
	m.trackAcks()
	clog := startClientLog(logInterval)
	ru0, t0 := getRusage(), time.Now()

	rng := mt.New(uint32(PopulateSeed + p.GroupID))
	res := &Result{}
	check, force := p.Check(), p.RunOnly
	nextPct := 1
	var loopErr error
	for i := 0; i < p.NOps && r.err == nil; i++ {
		pct := rng.Intn(100)
		user := uint32(rng.Intn(p.HNUsers))
		if pct < p.PostRate {
			aid, karma, err := m.PostArticle(user)
			if err != nil {
				loopErr = err
				break
			}
			if p.Log {
				r.logf("post %07d %07d\n", user, aid)
			}
			be.PostArticle(user, aid, karma, r.karmaDone("post article", user))
			res.NPost++
		} else {
			aid := uint32(rng.Intn(m.Articles()))
			author := m.Author(aid)
			// The read, vote and comment of one iteration are issued
			// together, without waiting for each other (§5.5).
			r.read(aid, author, check, res)
			if pct < p.VoteRate {
				if ok, karma := m.Vote(user, aid, force); ok {
					if p.Log {
						r.logf("vote %07d %07d\n", user, aid)
					}
					be.Vote(user, aid, author, karma, r.karmaDone("vote", author))
					res.NVote++
				}
			}
			if pct < p.CommentRate {
				cid, err := m.NextComment()
				if err != nil {
					loopErr = err
					break
				}
				if p.Log {
					r.logf("comment %07d %07d %07d\n", user, aid, cid)
				}
				be.PostComment(user, aid, author, cid, r.done("comment"))
				res.NComment++
			}
		}
		if err := r.loop.Pace(ctx); err != nil {
			loopErr = err
			break
		}
		if p.Verbose && p.NOps >= 10 && (i+1)*10 >= nextPct*p.NOps {
			r.logf("%d%% complete\n", nextPct*10)
			nextPct++
		}
	}
	// Drain even after a failure so no completion outlives the run.
	dctx := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
	}
	drainErr := r.loop.Drain(dctx)
	ru1, t1 := getRusage(), time.Now()
	res.Log = clog.finish()
	switch {
	case loopErr != nil:
		return nil, fmt.Errorf("hn: run: %w", loopErr)
	case r.err != nil:
		return nil, r.err
	case drainErr != nil:
		return nil, fmt.Errorf("hn: run: drain: %w", drainErr)
	}

	newStats, err := be.Stats(ctx)
	if err != nil {
		return nil, fmt.Errorf("hn: server stats: %w", err)
	}
	if res.ServerStats, err = diffStats(oldStats, newStats); err != nil {
		return nil, err
	}
	if res.ServerLogs, err = be.Control(ctx, map[string]any{"print_validation_log": true, "get_log": true}); err != nil {
		return nil, fmt.Errorf("hn: server logs: %w", err)
	}
	res.UserTime = (ru1.user - ru0.user).Seconds()
	res.SystemTime = (ru1.sys - ru0.sys).Seconds()
	res.WallTime = t1.Sub(t0).Seconds()
	res.KarmaErrors = r.karmaErrors
	qps := 0.0
	if res.WallTime > 0 {
		qps = float64(p.NOps) / res.WallTime
	}
	r.logf("%d done, %g seconds, %g qps\n", p.NOps, res.WallTime, qps)
	if check && r.karmaErrors > 0 {
		return res, fmt.Errorf("%w: %d comments with wrong karma", ErrKarma, r.karmaErrors)
	}
	return res, nil
}

// read issues a read of aid and checks the karma of every comment on the
// page when check is on.
func (r *runner) read(aid, author uint32, check bool, res *Result) {
	res.NRead++
	if r.p.Log {
		r.logf("read %07d %07d\n", author, aid)
	}
	mark := r.m.ackMark()
	r.be.ReadArticle(aid, author, func(pg Page, err error) {
		if err != nil {
			r.fail(fmt.Errorf("hn: read article %d: %w", aid, err))
			return
		}
		if !check {
			return
		}
		for _, c := range pg.Comments {
			if int(c.Commenter) >= r.m.Users() {
				r.karmaErrors++
				continue
			}
			if !r.m.KarmaOK(c.Commenter, c.Karma, mark) {
				r.karmaErrors++
				if r.karmaErrors <= maxReportedViolations {
					r.logf("karma check: article %d comment %d: user %07d has karma %d, model %d (acknowledged %d)\n",
						aid, c.ID, c.Commenter, c.Karma, r.m.Karma(c.Commenter), r.m.karmaLowerBound(c.Commenter, mark))
				}
			}
		}
	})
}
