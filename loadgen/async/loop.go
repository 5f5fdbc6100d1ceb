// Package async owns the workloads' completion loop: an application issues
// pipelined requests to back ends from one goroutine, and every reply's
// continuation runs back on that goroutine, in the order replies arrived.
// Application state therefore needs no locks, and a run is as deterministic
// as the order in which its back ends answer (one connection answers in
// issue order). This is the Go form of the original's tamer event loop.
package async

import (
	"context"
	"sync"
	"sync/atomic"
)

// Default pacing thresholds (apps.md §3.2): block new requests at 131072
// outstanding, resume at 65536.
const (
	DefaultPaceHigh = 131072
	DefaultPaceLow  = 65536
)

// Loop runs completions on the goroutine that calls Poll, Wait, Pace or
// Drain. Start and Finish may be called from any goroutine; the other
// methods only from the application goroutine.
type Loop struct {
	mu    sync.Mutex // guards queue
	queue []func()
	spare []func()
	wake  chan struct{}
	// started counts requests ever started, pending those started and not
	// yet run. Atomics, not mu: every request touches them twice, and the
	// back ends' goroutines contend for mu in Finish.
	started atomic.Int64
	pending atomic.Int64

	// PaceHigh and PaceLow are Pace's hysteresis thresholds.
	PaceHigh, PaceLow int
}

// New returns a loop with the default pacing thresholds.
func New() *Loop {
	return &Loop{wake: make(chan struct{}, 1), PaceHigh: DefaultPaceHigh, PaceLow: DefaultPaceLow}
}

// Start notes one request issued. Every Start must be matched by exactly
// one Finish.
func (l *Loop) Start() {
	l.pending.Add(1)
	l.started.Add(1)
}

// Finish queues fn (which may be nil) to run on the application goroutine
// and ends the request begun by Start once fn has run. It never blocks.
func (l *Loop) Finish(fn func()) {
	if fn == nil {
		fn = func() {}
	}
	l.mu.Lock()
	l.queue = append(l.queue, fn)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Go is Start followed by a Finish that runs fn: a shorthand for back ends
// whose reply arrives as a callback. It returns the finish function.
func (l *Loop) Go() func(fn func()) {
	l.Start()
	return l.Finish
}

// Outstanding is the number of requests started whose completions have not
// yet run.
func (l *Loop) Outstanding() int { return int(l.pending.Load()) }

// Issued is the number of requests ever started.
func (l *Loop) Issued() int64 { return l.started.Load() }

// Poll runs every completion already queued, without blocking, and reports
// how many ran.
func (l *Loop) Poll() int {
	ran := 0
	for {
		l.mu.Lock()
		batch := l.queue
		l.queue = l.spare[:0]
		l.mu.Unlock()
		if len(batch) == 0 {
			l.spare = batch
			return ran
		}
		for i, fn := range batch {
			fn()
			batch[i] = nil
			l.pending.Add(-1)
			ran++
		}
		l.spare = batch[:0]
	}
}

// Wait runs completions until at most n requests are outstanding.
func (l *Loop) Wait(ctx context.Context, n int) error {
	for {
		l.Poll()
		if l.Outstanding() <= n {
			return nil
		}
		select {
		case <-l.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Drain runs completions until nothing is outstanding (apps.md §2.17).
// Completions that issue further requests are waited for too.
func (l *Loop) Drain(ctx context.Context) error { return l.Wait(ctx, 0) }

// Pace runs the completions that are ready and, when PaceHigh or more
// requests are outstanding, blocks until at most PaceLow are.
func (l *Loop) Pace(ctx context.Context) error {
	l.Poll()
	if l.Outstanding() >= l.PaceHigh {
		return l.Wait(ctx, l.PaceLow)
	}
	return ctx.Err()
}

// Until runs completions until cond reports true.
func (l *Loop) Until(ctx context.Context, cond func() bool) error {
	for {
		l.Poll()
		if cond() {
			return nil
		}
		select {
		case <-l.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
