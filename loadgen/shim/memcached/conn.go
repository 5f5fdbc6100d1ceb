// Package memcached owns the memcached back ends of the workload
// generators: the twitternew timeline application with client-side fan-out
// (apps.md §3.3, type Twitter, a twitter.Backend), the Hacker News
// application (apps.md §5.6, type HN, an hn.Backend) and the raw key-value
// load (apps.md §8, type KV, a kv.Backend).
//
// Every back end talks memcached's binary protocol through loadgen/memcache,
// one pipelined connection per server. Requests are issued on the run's
// goroutine and every response's continuation is delivered through the
// run's async.Loop (Start when issued, Finish when answered), so callbacks
// run on that goroutine in the order the servers answered. Each memcached
// request counts as one outstanding request of the loop, matching the
// original's pacing on outstanding replies (§3.2, §3.3).
//
// Adapter rules (§3.3): a GET of a missing key reads as an empty value; an
// APPEND to a missing key creates it (memcache.Request.Create: retried as
// ADD, which unlike the original's SET cannot overwrite a list another
// pipelined APPEND just created; the Twitter back end also sends ADD ""
// before its first APPEND to a list, because the retry is sent behind
// requests issued meanwhile, see Twitter); a counter INCREMENT creates a missing
// counter at 1 in the same request (Initial 1, expiration 0) instead of the
// original's INCREMENT-with-0xFFFFFFFF-then-SET "1", which loses increments
// when two are pipelined. Any other non-success status is an error for the
// operation's callback (the runner treats it as fatal).
package memcached

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/memcache"
)

// conn is one server connection whose completions run on a loop.
type conn struct {
	c    *memcache.Client
	loop *async.Loop
}

// MaxListSize is the largest value the Twitter and HN back ends accept in
// a response. Lists grow by appends, so they reach the server's item size
// limit first: memcached's default -I 1m holds 41,943 timeline records.
// Larger runs need the server started with a larger -I (memcached.sh:
// MEMCACHED_ARGS="-I 64m"); an APPEND past the server's limit fails with
// an error matching memcache.ErrValueTooLarge.
const MaxListSize = 128 << 20

func dial(ctx context.Context, addr string, loop *async.Loop) (*conn, error) {
	c, err := memcache.Dial(ctx, addr, &memcache.Options{MaxValueSize: MaxListSize})
	if err != nil {
		return nil, fmt.Errorf("memcached shim: %w", err)
	}
	return &conn{c: c, loop: loop}, nil
}

// dialAll connects to every address of a comma-separated list.
func dialAll(ctx context.Context, addrs string, loop *async.Loop) ([]*conn, error) {
	var cns []*conn
	for _, a := range strings.Split(addrs, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		cn, err := dial(ctx, a, loop)
		if err != nil {
			closeAll(cns)
			return nil, err
		}
		cns = append(cns, cn)
	}
	if len(cns) == 0 {
		return nil, fmt.Errorf("memcached shim: no server address in %q", addrs)
	}
	return cns, nil
}

func closeAll(cns []*conn) error {
	var errs []error
	for _, cn := range cns {
		errs = append(errs, cn.c.Close())
	}
	return errors.Join(errs...)
}

// send issues req; cb runs on the loop's goroutine with the completed call,
// which is released after cb returns (cb must copy what it keeps).
func (cn *conn) send(req memcache.Request, cb func(*memcache.Call)) {
	cn.loop.Start()
	cn.c.GoFunc(req, func(call *memcache.Call) {
		cn.loop.Finish(func() {
			cb(call)
			call.Release()
		})
	})
}

// sendDecode issues req; decode runs with the completed call on the
// client's reader goroutine and returns the continuation to run on the
// loop. Lists are parsed there, so that only the (small) result waits in
// the loop's queue rather than the whole value: a check reads a user's
// entire timeline. decode must not touch state owned by the loop goroutine.
func (cn *conn) sendDecode(req memcache.Request, decode func(*memcache.Call) func()) {
	cn.loop.Start()
	cn.c.GoFunc(req, func(call *memcache.Call) {
		f := decode(call)
		call.Release()
		cn.loop.Finish(f)
	})
}

// fail completes an operation that could not be issued, through the loop.
func (cn *conn) fail(err error, done func(error)) {
	cn.loop.Start()
	cn.loop.Finish(func() { done(err) })
}

// check wraps a call's failure with the operation's name.
func check(call *memcache.Call, op string) error {
	if err := call.Check(); err != nil {
		return fmt.Errorf("memcached shim: %s: %w", op, err)
	}
	return nil
}

// value is a GET's value with the adapter rule "missing = empty"; the
// slice aliases the call.
func value(call *memcache.Call, op string) ([]byte, error) {
	if call.Err == nil && call.Status == memcache.StatusKeyNotFound {
		return nil, nil
	}
	if err := check(call, op); err != nil {
		return nil, err
	}
	return call.Value, nil
}

// gather calls done once n parts have finished, with the first error.
type gather struct {
	n    int
	err  error
	done func(error)
}

func (g *gather) finish(err error) {
	if g.err == nil {
		g.err = err
	}
	g.n--
	if g.n == 0 {
		g.done(g.err)
	}
}

// stats reads every server's STAT and renders each as a JSON object: the
// statistics as memcached sends them (strings), plus server_user_time =
// rusage_user, server_system_time = rusage_system and server_wall_time =
// uptime as numbers (§3.3), which the runner diffs (§2.12).
func stats(ctx context.Context, loop *async.Loop, cns []*conn) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(cns))
	errs := make([]error, len(cns))
	left := len(cns)
	for i, cn := range cns {
		cn.send(memcache.Request{Op: memcache.OpStat}, func(call *memcache.Call) {
			defer func() { left-- }()
			if err := check(call, "stats"); err != nil {
				errs[i] = err
				return
			}
			out[i], errs[i] = statsJSON(call.Stats)
		})
	}
	if err := loop.Until(ctx, func() bool { return left == 0 }); err != nil {
		return nil, fmt.Errorf("memcached shim: stats: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func statsJSON(st map[string]string) (json.RawMessage, error) {
	obj := make(map[string]any, len(st)+3)
	for k, v := range st {
		obj[k] = v
	}
	for _, f := range [][2]string{
		{"server_user_time", "rusage_user"},
		{"server_system_time", "rusage_system"},
		{"server_wall_time", "uptime"},
	} {
		s, ok := st[f[1]]
		if !ok {
			return nil, fmt.Errorf("memcached shim: stats: the server reported no %s", f[1])
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("memcached shim: stats: %s = %q: %w", f[1], s, err)
		}
		obj[f[0]] = x
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("memcached shim: stats: %w", err)
	}
	return b, nil
}
