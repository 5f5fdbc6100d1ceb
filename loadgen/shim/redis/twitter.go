package redis

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/redisclient"
	"github.com/pequod-go/pequod/loadgen/twitter"
)

// ErrUnsupported is the error of operations the Redis back ends do not
// implement (mark_celebrity, apps.md §3.2).
var ErrUnsupported = errors.New("redis shim: operation not supported")

// TwitterConfig configures the twitternew Redis back end.
type TwitterConfig struct {
	// Binary selects the binary key and member encodings (BE32 ids and
	// times, apps.md §2.3); otherwise the text ones (%08u ids, %010u times).
	Binary bool
}

// Twitter is the twitternew back end on Redis (apps.md §3.2): the client
// fans posts out to its followers' timelines (push mode). Subscriptions are
// sets, posts and timelines are sorted sets scored by time:
//
//	subscribe(poster, follower)  SADD s|<poster> <follower>
//	post(poster, t)              ZADD p|<poster> t "<t> <tweet>"
//	push_post(follower)          ZADD t|<follower> t "<t>|<poster> <tweet>"
//	check(u, b, e)               ZRANGEBYSCORE t|<u> b (e
//	follower_scan(poster)        SMEMBERS s|<poster>
//	post_scan(poster, b, e)      ZRANGEBYSCORE p|<poster> b (e
//	update_progress              SET prog|<group> tick; GET prog|000 …
//
// Ids are %08u and times %010u in text mode, BE32 in binary mode (keys and
// members alike); prog| keys and values are always text. Its methods follow
// twitter.Backend's threading rules.
type Twitter struct {
	cn     *conn
	binary bool
	// scratch buffers for building commands on the run's goroutine; the
	// client copies arguments into its write buffer before Go returns.
	key, member []byte
}

var _ twitter.Backend = (*Twitter)(nil)

// NewTwitter connects to the Redis server at addr; completions run on loop.
func NewTwitter(ctx context.Context, addr string, loop *async.Loop, cfg TwitterConfig) (*Twitter, error) {
	cn, err := dial(ctx, addr, loop)
	if err != nil {
		return nil, err
	}
	return &Twitter{cn: cn, binary: cfg.Binary}, nil
}

// Name reports "redis".
func (t *Twitter) Name() string { return "redis" }

// Initialize does nothing (apps.md §3.2).
func (t *Twitter) Initialize(ctx context.Context) error { return nil }

// WaitReady does nothing: Redis is ready once it accepts connections.
func (t *Twitter) WaitReady(ctx context.Context) error { return nil }

// appendPad appends v in decimal, zero padded to width digits (%0*u).
func appendPad(dst []byte, v uint32, width int) []byte {
	var tmp [10]byte
	s := strconv.AppendUint(tmp[:0], uint64(v), 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendID appends a user id: %08u or BE32.
func (t *Twitter) appendID(dst []byte, id uint32) []byte {
	if t.binary {
		return binary.BigEndian.AppendUint32(dst, id)
	}
	return appendPad(dst, id, 8)
}

// appendTime appends a time: %010u or BE32.
func (t *Twitter) appendTime(dst []byte, tm uint32) []byte {
	if t.binary {
		return binary.BigEndian.AppendUint32(dst, tm)
	}
	return appendPad(dst, tm, 10)
}

func (t *Twitter) tableKey(prefix string, id uint32) []byte {
	t.key = t.appendID(append(t.key[:0], prefix...), id)
	return t.key
}

func appendScore(dst []byte, v uint32) []byte { return strconv.AppendUint(dst, uint64(v), 10) }

// Subscribe adds b to the set s|a: in push mode the runner passes
// (poster, follower), giving SADD s|poster follower (apps.md §3.2).
func (t *Twitter) Subscribe(a, b uint32, done func(error)) {
	key := t.tableKey("s|", a)
	t.member = t.appendID(t.member[:0], b)
	t.cn.send(func(call *redisclient.Call) { done(check(call, "subscribe")) }, cmdSADD, key, t.member)
}

// MarkCelebrity is not supported on Redis (apps.md §3.2): done receives an
// error wrapping ErrUnsupported.
func (t *Twitter) MarkCelebrity(u uint32, done func(error)) {
	t.cn.fail(fmt.Errorf("%w: mark_celebrity(%d) on redis (celebrity mode needs Pequod)", ErrUnsupported, u), done)
}

// Post adds the post to p|poster, scored by time; celeb is ignored.
func (t *Twitter) Post(poster, time uint32, tweet []byte, celeb bool, done func(error)) {
	key := t.tableKey("p|", poster)
	score := appendScore(nil, time)
	m := t.appendTime(t.member[:0], time)
	m = append(m, ' ')
	m = append(m, tweet...)
	t.member = m
	t.cn.send(func(call *redisclient.Call) { done(check(call, "post")) }, cmdZADD, key, score, m)
}

// PushPost adds the timeline entry to t|follower, scored by time.
func (t *Twitter) PushPost(follower, poster, time uint32, tweet []byte, done func(error)) {
	key := t.tableKey("t|", follower)
	score := appendScore(nil, time)
	m := t.appendTime(t.member[:0], time)
	m = append(m, '|')
	m = t.appendID(m, poster)
	m = append(m, ' ')
	m = append(m, tweet...)
	t.member = m
	t.cn.send(func(call *redisclient.Call) { done(check(call, "push_post")) }, cmdZADD, key, score, m)
}

// rangeArgs returns ZRANGEBYSCORE's bounds for beg <= score < end.
func rangeArgs(beg, end uint32) (lo, hi []byte) {
	return appendScore(nil, beg), appendScore([]byte{'('}, end)
}

// members returns an array reply's elements.
func members(call *redisclient.Call, op string) ([]redisclient.Reply, error) {
	if err := check(call, op); err != nil {
		return nil, err
	}
	if call.Reply.Kind != redisclient.KindArray {
		return nil, fmt.Errorf("redis shim: %s: expected an array, got %s", op, call.Reply)
	}
	return call.Reply.Array, nil
}

// Check reads t|user over beg <= time < end. The count is the number of
// members; with fetch the entries are decoded from the members (the data
// is transferred either way, as in the original).
func (t *Twitter) Check(user, beg, end uint32, fetch bool, done func(n int, entries []twitter.Entry, err error)) {
	key := t.tableKey("t|", user)
	lo, hi := rangeArgs(beg, end)
	t.cn.send(func(call *redisclient.Call) {
		ms, err := members(call, "check")
		if err != nil {
			done(0, nil, err)
			return
		}
		if !fetch {
			done(len(ms), nil, nil)
			return
		}
		entries := make([]twitter.Entry, len(ms))
		for i, m := range ms {
			e, err := t.parseTimeline(m.Str)
			if err != nil {
				done(0, nil, fmt.Errorf("redis shim: check t|%d: %w", user, err))
				return
			}
			e.User = user
			entries[i] = e
		}
		done(len(ms), entries, nil)
	}, cmdZRANGEBYSCORE, key, lo, hi)
}

// parseTimeline decodes a timeline member: time|poster tweet.
func (t *Twitter) parseTimeline(m []byte) (twitter.Entry, error) {
	var e twitter.Entry
	if t.binary {
		if len(m) < 10 || m[4] != '|' || m[9] != ' ' {
			return e, fmt.Errorf("malformed binary timeline member %q", m)
		}
		e.Time = binary.BigEndian.Uint32(m)
		e.Poster = binary.BigEndian.Uint32(m[5:])
		e.Value = bytes.Clone(m[10:])
		return e, nil
	}
	bar := bytes.IndexByte(m, '|')
	if bar < 0 {
		return e, fmt.Errorf("malformed timeline member %q", m)
	}
	sp := bytes.IndexByte(m[bar+1:], ' ')
	if sp < 0 {
		return e, fmt.Errorf("malformed timeline member %q", m)
	}
	sp += bar + 1
	var err1, err2 error
	e.Time, err1 = parseU32(m[:bar])
	e.Poster, err2 = parseU32(m[bar+1 : sp])
	if err := errors.Join(err1, err2); err != nil {
		return e, fmt.Errorf("malformed timeline member %q: %w", m, err)
	}
	e.Value = bytes.Clone(m[sp+1:])
	return e, nil
}

// parsePost decodes a post member: time tweet.
func (t *Twitter) parsePost(m []byte) (twitter.Post, error) {
	var p twitter.Post
	if t.binary {
		if len(m) < 5 || m[4] != ' ' {
			return p, fmt.Errorf("malformed binary post member %q", m)
		}
		p.Time = binary.BigEndian.Uint32(m)
		p.Value = bytes.Clone(m[5:])
		return p, nil
	}
	sp := bytes.IndexByte(m, ' ')
	if sp < 0 {
		return p, fmt.Errorf("malformed post member %q", m)
	}
	tm, err := parseU32(m[:sp])
	if err != nil {
		return p, fmt.Errorf("malformed post member %q: %w", m, err)
	}
	p.Time, p.Value = tm, bytes.Clone(m[sp+1:])
	return p, nil
}

// parseID decodes a set member: a follower id.
func (t *Twitter) parseID(m []byte) (uint32, error) {
	if t.binary {
		if len(m) != 4 {
			return 0, fmt.Errorf("malformed binary id %q", m)
		}
		return binary.BigEndian.Uint32(m), nil
	}
	return parseU32(m)
}

func parseU32(b []byte) (uint32, error) {
	v, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(v), err
}

// FollowerScan lists the members of s|poster, in increasing id order (Redis
// sets are unordered; sorting keeps a run's fan-out order reproducible).
func (t *Twitter) FollowerScan(poster uint32, done func(followers []uint32, err error)) {
	key := t.tableKey("s|", poster)
	t.cn.send(func(call *redisclient.Call) {
		ms, err := members(call, "follower_scan")
		if err != nil {
			done(nil, err)
			return
		}
		fs := make([]uint32, len(ms))
		for i, m := range ms {
			if fs[i], err = t.parseID(m.Str); err != nil {
				done(nil, fmt.Errorf("redis shim: follower_scan s|%d: %w", poster, err))
				return
			}
		}
		slices.Sort(fs)
		done(fs, nil)
	}, cmdSMEMBERS, key)
}

// PostScan reads p|poster over beg <= time < end.
func (t *Twitter) PostScan(poster, beg, end uint32, done func(posts []twitter.Post, err error)) {
	key := t.tableKey("p|", poster)
	lo, hi := rangeArgs(beg, end)
	t.cn.send(func(call *redisclient.Call) {
		ms, err := members(call, "post_scan")
		if err != nil {
			done(nil, err)
			return
		}
		posts := make([]twitter.Post, len(ms))
		for i, m := range ms {
			if posts[i], err = t.parsePost(m.Str); err != nil {
				done(nil, fmt.Errorf("redis shim: post_scan p|%d: %w", poster, err))
				return
			}
		}
		done(posts, nil)
	}, cmdZRANGEBYSCORE, key, lo, hi)
}

// progressKey is prog|%03u(groupid).
func progressKey(groupid int) []byte {
	k := append([]byte("prog|"), fmt.Sprintf("%03d", groupid)...)
	return k
}

// UpdateProgress sets prog|<groupid> to tick, then reads prog|000 …
// prog|<ngroups−1>; slowest is the minimum of the values present (tick if
// none). The SET and the GETs are pipelined on one connection, so the GETs
// see the SET.
func (t *Twitter) UpdateProgress(groupid, ngroups int, tick uint32, done func(slowest uint32, err error)) {
	slowest, found := uint32(0), false
	g := &gather{n: 1 + max(ngroups, 0), done: func(err error) {
		if err != nil {
			done(0, err)
			return
		}
		if !found {
			slowest = tick
		}
		done(slowest, nil)
	}}
	t.cn.send(func(call *redisclient.Call) { g.finish(check(call, "update_progress set")) },
		cmdSET, progressKey(groupid), appendScore(nil, tick))
	for i := range max(ngroups, 0) {
		t.cn.send(func(call *redisclient.Call) {
			if err := check(call, "update_progress get"); err != nil {
				g.finish(err)
				return
			}
			if call.Reply.Nil || len(call.Reply.Str) == 0 {
				g.finish(nil)
				return
			}
			v, err := parseU32(call.Reply.Str)
			if err != nil {
				g.finish(fmt.Errorf("redis shim: update_progress: prog|%03d = %q: %w", i, call.Reply.Str, err))
				return
			}
			if !found || v < slowest {
				slowest, found = v, true
			}
			g.finish(nil)
		}, cmdGET, progressKey(i))
	}
}

// Stats returns nil: the Redis back end reports no server statistics.
func (t *Twitter) Stats(ctx context.Context) ([]json.RawMessage, error) { return nil, nil }

// Control returns nil: the Redis back end has no controls.
func (t *Twitter) Control(ctx context.Context, obj map[string]any) ([]json.RawMessage, error) {
	return nil, nil
}

// Close closes the connection. Requests still outstanding complete with
// errors when the loop next runs.
func (t *Twitter) Close() error { return t.cn.close() }
