package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pequod-go/pequod/loadgen/async"
)

// ErrClosed is reported by operations issued after, or pending at, Close.
var ErrClosed = errors.New("postgres: back end closed")

// request is one queued operation. A batched request (run == nil) adds its
// statements to a batch with queue and reads their results with read; a
// run request executes alone on the connection, between batches.
type request struct {
	enqueued time.Time // set only when partial batches wait

	// queue adds the request's statements to b.
	queue func(b *pgx.Batch)
	// read consumes those statements' results, on the worker goroutine,
	// and returns the completion to run on the loop.
	read func(br pgx.BatchResults) (func(), error)
	// run, when set, replaces queue and read.
	run func(ctx context.Context, conn *pgx.Conn) func()
	// fail returns the completion reporting err.
	fail func(err error) func()
}

// pool is a fixed set of connections, one worker goroutine each.
type pool struct {
	loop    *async.Loop
	depth   int
	timeout time.Duration // > 0: partial batches wait up to this long
	workers []*worker

	maxBatch atomic.Int64 // largest batch sent, for tests

	ctx       context.Context // canceled by close
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// worker owns one connection and its queue.
type worker struct {
	id   int
	p    *pool
	conn *pgx.Conn
	wake chan struct{}

	mu     sync.Mutex
	queue  []*request // queue[head:] are pending
	head   int
	closed bool

	batch []*request  // worker goroutine only
	done  []func()    // worker goroutine only
	timer *time.Timer // worker goroutine only
}

// newPool opens cfg.PoolMax connections (cfg has its defaults) and starts
// their workers.
func newPool(ctx context.Context, cfg Config, loop *async.Loop) (*pool, error) {
	if loop == nil {
		return nil, errors.New("postgres: nil async.Loop")
	}
	pctx, cancel := context.WithCancel(context.Background())
	p := &pool{loop: loop, depth: cfg.Depth, ctx: pctx, cancel: cancel}
	if cfg.Depth > 1 && cfg.PipelineTimeout > 0 {
		p.timeout = cfg.PipelineTimeout
	}
	for i := 0; i < cfg.PoolMax; i++ {
		conn, err := connect(ctx, cfg)
		if err != nil {
			for _, w := range p.workers {
				w.conn.Close(context.Background()) //nolint:errcheck // already failing
			}
			cancel()
			return nil, fmt.Errorf("connection %d of %d: %w", i+1, cfg.PoolMax, err)
		}
		p.workers = append(p.workers, &worker{id: i, p: p, conn: conn, wake: make(chan struct{}, 1)})
	}
	for _, w := range p.workers {
		p.wg.Add(1)
		go w.loop()
	}
	return p, nil
}

// submit queues r on the connection chosen by key. Application goroutine
// only.
func (p *pool) submit(key uint32, r *request) {
	w := p.workers[int(key%uint32(len(p.workers)))]
	p.loop.Start()
	if p.timeout > 0 {
		r.enqueued = time.Now()
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		p.loop.Finish(r.fail(ErrClosed))
		return
	}
	w.queue = append(w.queue, r)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// fail reports err to done through the loop, for operations the back end
// does not support.
func fail(loop *async.Loop, done func(error), err error) {
	loop.Go()(func() { done(err) })
}

// runOn runs fn alone on the connections with the given indexes (all when
// idx is nil), in their queue order, and waits for all of them while running
// the loop. It reports the first error.
func (p *pool) runOn(ctx context.Context, idx []int, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	if idx == nil {
		for i := range p.workers {
			idx = append(idx, i)
		}
	}
	remaining := len(idx)
	errs := make([]error, len(idx))
	for k, i := range idx {
		finish := func(err error) func() {
			return func() { errs[k] = err; remaining-- }
		}
		p.submit(uint32(i), &request{
			run:  func(ctx context.Context, conn *pgx.Conn) func() { return finish(fn(ctx, conn)) },
			fail: finish,
		})
	}
	if err := p.loop.Until(ctx, func() bool { return remaining == 0 }); err != nil {
		return err
	}
	for k, err := range errs {
		if err != nil {
			return fmt.Errorf("connection %d: %w", idx[k], err)
		}
	}
	return nil
}

// close stops the workers, fails the operations still queued and closes the
// connections.
func (p *pool) close() error {
	var err error
	p.closeOnce.Do(func() {
		for _, w := range p.workers {
			w.mu.Lock()
			w.closed = true
			w.mu.Unlock()
		}
		p.cancel()
		p.wg.Wait()
		for _, w := range p.workers {
			for _, r := range w.queue[w.head:] {
				p.loop.Finish(r.fail(ErrClosed))
			}
			w.queue, w.head = nil, 0
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if cerr := w.conn.Close(ctx); cerr != nil && err == nil {
				err = fmt.Errorf("postgres: close connection %d: %w", w.id, cerr)
			}
			cancel()
		}
	})
	return err
}

// loop is the worker goroutine: it takes requests in order, runs run
// requests alone and sends batched ones in batches of up to depth, holding
// a partial batch until its oldest request is timeout old.
func (w *worker) loop() {
	p := w.p
	defer p.wg.Done()
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return
		}
		pending := w.queue[w.head:]
		if len(pending) == 0 {
			w.mu.Unlock()
			select {
			case <-w.wake:
			case <-p.ctx.Done():
			}
			continue
		}
		if r := pending[0]; r.run != nil {
			w.take(1)
			w.mu.Unlock()
			p.loop.Finish(r.run(p.ctx, w.conn))
			continue
		}
		k := 0
		for k < len(pending) && k < p.depth && pending[k].run == nil {
			k++
		}
		if p.timeout > 0 && k == len(pending) && k < p.depth {
			// A partial batch that may still grow: wait for more requests
			// or for the oldest to time out.
			if wait := time.Until(pending[0].enqueued.Add(p.timeout)); wait > 0 {
				w.mu.Unlock()
				w.sleep(wait)
				continue
			}
		}
		w.batch = append(w.batch[:0], pending[:k]...)
		w.take(k)
		w.mu.Unlock()
		w.send()
	}
}

// take drops the first n pending requests. w.mu is held.
func (w *worker) take(n int) {
	clear(w.queue[w.head : w.head+n])
	w.head += n
	switch {
	case w.head == len(w.queue):
		w.queue, w.head = w.queue[:0], 0
	case w.head >= 1024 && 2*w.head >= len(w.queue):
		m := copy(w.queue, w.queue[w.head:])
		clear(w.queue[m:])
		w.queue, w.head = w.queue[:m], 0
	}
}

// sleep waits for d, a new request or close.
func (w *worker) sleep(d time.Duration) {
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-w.timer.C:
	case <-w.wake:
		w.timer.Stop()
	case <-w.p.ctx.Done():
		w.timer.Stop()
	}
}

// send sends w.batch as one pipelined batch and delivers its completions.
func (w *worker) send() {
	p := w.p
	if n := int64(len(w.batch)); n > p.maxBatch.Load() {
		p.maxBatch.Store(n) // racy max across workers: good enough for tests
	}
	b := &pgx.Batch{}
	for _, r := range w.batch {
		r.queue(b)
	}
	br := w.conn.SendBatch(p.ctx, b)
	w.done = w.done[:0]
	var err error
	for _, r := range w.batch {
		fn, rerr := r.read(br)
		if rerr != nil {
			err = rerr
			break
		}
		w.done = append(w.done, fn)
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		// The batch ran in one implicit transaction, which the error
		// aborted: every operation of it failed.
		err = fmt.Errorf("postgres: connection %d: batch of %d operations: %w", w.id, len(w.batch), err)
		for _, r := range w.batch {
			p.loop.Finish(r.fail(err))
		}
	} else {
		for _, fn := range w.done {
			p.loop.Finish(fn)
		}
	}
	clear(w.batch)
	clear(w.done)
}

// wrapDone returns done with its error wrapped with the operation's
// description.
func wrapDone(done func(error), format string, args ...any) func(error) {
	return func(err error) {
		if err != nil {
			err = fmt.Errorf(format+": %w", append(args, err)...)
		}
		done(err)
	}
}
