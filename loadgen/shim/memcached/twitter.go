package memcached

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/memcache"
	"github.com/pequod-go/pequod/loadgen/twitter"
)

// Record layouts (apps.md §3.3). Lists are values of fixed-width records
// appended one per operation.
const (
	// TweetLength is the only tweet length the record layouts allow
	// (apps.md §2.2 TWEET_LENGTH).
	TweetLength = 5
	// idWidth and timeWidth are the decimal widths of ids and times.
	idWidth   = 8
	timeWidth = 10
	// maxID is the largest id that fits idWidth digits.
	maxID = 99_999_999
	// postRecord is "%010u(time)|" + tweet.
	postRecord = timeWidth + 1 + TweetLength
	// timelineRecord is "%010u(time)|%08u(poster)|" + tweet.
	timelineRecord = timeWidth + 1 + idWidth + 1 + TweetLength
	// partitionBlock is the id block of the twitternew-text partitioner:
	// the first 5 of the 8 decimal digits (§2.4).
	partitionBlock = 1000
)

// ErrUnsupported is the error of operations the memcached back end does not
// support (celebrity marking).
var ErrUnsupported = errors.New("memcached shim: unsupported operation")

// ErrMalformed is the error of a list value that does not hold whole,
// well-formed records.
var ErrMalformed = errors.New("memcached shim: malformed list value")

// Twitter is the twitternew back end on memcached (apps.md §3.3), for push
// mode with text keys only: NewTwitter has no binary-key option, because
// the list records are fixed-width decimal text.
//
//	subscribe(poster, follower)  APPEND s|%08u(poster) "%08u(follower)"
//	post(poster, t)              APPEND p|%08u(poster) "%010u(t)|" tweet          (16 bytes)
//	push_post(follower, p, t)    APPEND t|%08u(follower) "%010u(t)|%08u(p)|" tweet (25 bytes)
//	follower_scan(poster)        GET s|%08u → 8-byte ids
//	check / timeline_scan(u,b,e) GET t|%08u → records with b ≤ time < e
//	post_scan(poster, b, e)      GET p|%08u → records with b ≤ time < e
//	update_progress              SET prog|%03u(group) tick; GET prog|000 … (server 0)
//
// Lists are created in order. The first time this instance appends to a
// list it sends ADD "" for the key immediately before the APPEND, on the
// same connection, so the APPEND always finds the key. ADD never
// overwrites, unlike the original's pre-creating SET "" (which also ran
// during the measured run and could wipe a user's existing p| and t| lists,
// §3.3 Bug); an ADD that finds the key is not an error. The APPEND keeps
// memcache.Request.Create as a fallback (a list removed behind our back).
//
// Relying on Create alone reorders operations: the client sends the ADD
// retry of a NOT_STORED APPEND only when that answer arrives, behind every
// request issued meanwhile, so a GET issued after the APPEND (a backfill's
// post_scan, a post's follower_scan, a check) could be served before the
// record existed and miss it for good. In a 5000-user push run
// (--nusers=5000 --duration=20000 --no-binary --push) backfill found 69
// of the 85 posts and nposts_read was 36,113 where Pequod and Redis read
// 36,121: 11 posts lost, 3 duplicates (below) gained; the loss varied run
// to run. Now backfill finds 85 and 36,124 are read, every run. See
// TestTwitterCreateKeepsOrder.
//
// Inherent difference (§3.3 design, kept): a list is a sequence of
// appended records, not a set, so nothing deduplicates. Pequod stores
// t|user|time|poster as one key and Redis uses SADD/ZADD members, so a
// repeated write there is idempotent; here it is a second record. This
// happens when a user subscribes again to a poster it already follows
// (the generator does not exclude that): s|poster then holds the follower
// twice, so each later post is pushed twice, and the subscribe's backfill
// pushes the poster's recent posts, which the follower already received by
// fan-out, a second time. Checks count every record in [beg, end), so
// with the same op stream, drained per op, a push run on memcached reads
// what Pequod or Redis read plus those duplicates (+3 in the run above:
// two backfills after a re-subscribe, one post pushed twice). The extra
// ADD costs one request per list, once per instance.
//
// MarkCelebrity fails with ErrUnsupported; the celeb flag of Post is
// ignored (§2.3). Initialize, WaitReady and Control do nothing.
type Twitter struct {
	loop    *async.Loop
	cns     []*conn
	kb      []byte // key scratch (requests are encoded at issue)
	vb      []byte // value scratch
	addrs   string
	created [3]idSet // ids whose s|, p|, t| list this instance has ADDed
}

// idSet is a set of ids (a bitmap grown to the largest id seen).
type idSet struct{ bits []uint64 }

// add inserts id and reports whether it was new.
func (s *idSet) add(id uint32) bool {
	w, b := int(id/64), uint64(1)<<(id%64)
	if w >= len(s.bits) {
		s.bits = append(s.bits, make([]uint64, w+1-len(s.bits))...)
	}
	if s.bits[w]&b != 0 {
		return false
	}
	s.bits[w] |= b
	return true
}

// listIndex is the index in Twitter.created of a list prefix.
func listIndex(prefix string) int {
	switch prefix {
	case "s|":
		return 0
	case "p|":
		return 1
	default:
		return 2
	}
}

var _ twitter.Backend = (*Twitter)(nil)

// NewTwitter connects to the memcached server at addr — or, with a
// comma-separated list, to each, routing keys with the twitternew-text
// partitioner (blocks of 1000 ids; prog| on the first server, §2.4).
// Completions run on loop.
func NewTwitter(ctx context.Context, addr string, loop *async.Loop) (*Twitter, error) {
	cns, err := dialAll(ctx, addr, loop)
	if err != nil {
		return nil, err
	}
	return &Twitter{loop: loop, cns: cns, addrs: addr}, nil
}

// Name reports "memcached".
func (t *Twitter) Name() string { return "memcached" }

// Initialize does nothing: memcached has no joins or schema.
func (t *Twitter) Initialize(ctx context.Context) error { return nil }

// WaitReady returns at once.
func (t *Twitter) WaitReady(ctx context.Context) error { return nil }

// owner is the connection holding id's lists.
func (t *Twitter) owner(id uint32) *conn {
	return t.cns[int(id/partitionBlock)%len(t.cns)]
}

func appendPad(dst []byte, v uint32, width int) []byte {
	var d [10]byte
	s := strconv.AppendUint(d[:0], uint64(v), 10)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

func (t *Twitter) key(prefix string, id uint32) []byte {
	t.kb = appendPad(append(t.kb[:0], prefix...), id, idWidth)
	return t.kb
}

func checkIDs(ids ...uint32) error {
	for _, id := range ids {
		if id > maxID {
			return fmt.Errorf("memcached shim: id %d does not fit %d digits", id, idWidth)
		}
	}
	return nil
}

// appendTo appends a record to id's list prefix|%08u(id), creating it
// in order (see Twitter): the first append of this instance to the list is
// preceded by ADD "" on the same connection. done runs once, after both.
func (t *Twitter) appendTo(prefix string, id uint32, rec []byte, op string, done func(error)) {
	cn := t.owner(id)
	if t.created[listIndex(prefix)].add(id) {
		g := &gather{n: 2, done: done}
		cn.send(memcache.Request{Op: memcache.OpAdd, Key: t.key(prefix, id)}, func(call *memcache.Call) {
			if call.Err == nil && (call.Status == memcache.StatusKeyExists || call.Status == memcache.StatusNotStored) {
				g.finish(nil) // another writer created it first
				return
			}
			g.finish(check(call, op+" (create list)"))
		})
		done = g.finish
	}
	cn.send(memcache.Request{Op: memcache.OpAppend, Key: t.key(prefix, id), Value: rec, Create: true},
		func(call *memcache.Call) { done(check(call, op)) })
}

// Subscribe appends follower b to poster a's follower list s|a (push
// mode's reversed subscription, §2.11).
func (t *Twitter) Subscribe(a, b uint32, done func(error)) {
	if err := checkIDs(a, b); err != nil {
		t.cns[0].fail(err, done)
		return
	}
	t.vb = appendPad(t.vb[:0], b, idWidth)
	t.appendTo("s|", a, t.vb, "subscribe", done)
}

// MarkCelebrity fails: celebrity mode needs Pequod.
func (t *Twitter) MarkCelebrity(u uint32, done func(error)) {
	t.cns[0].fail(fmt.Errorf("%w: mark_celebrity on memcached", ErrUnsupported), done)
}

func checkTweet(tweet []byte) error {
	if len(tweet) != TweetLength {
		return fmt.Errorf("memcached shim: tweet of %d bytes; the record layout needs %d", len(tweet), TweetLength)
	}
	return nil
}

// Post appends "%010u(time)|" tweet to p|poster (celeb is ignored).
func (t *Twitter) Post(poster, time uint32, tweet []byte, celeb bool, done func(error)) {
	if err := errors.Join(checkIDs(poster), checkTweet(tweet)); err != nil {
		t.cns[0].fail(err, done)
		return
	}
	v := appendPad(t.vb[:0], time, timeWidth)
	t.vb = append(append(v, '|'), tweet...)
	t.appendTo("p|", poster, t.vb, "post", done)
}

// PushPost appends "%010u(time)|%08u(poster)|" tweet to t|follower.
func (t *Twitter) PushPost(follower, poster, time uint32, tweet []byte, done func(error)) {
	if err := errors.Join(checkIDs(follower, poster), checkTweet(tweet)); err != nil {
		t.cns[0].fail(err, done)
		return
	}
	v := appendPad(t.vb[:0], time, timeWidth)
	v = appendPad(append(v, '|'), poster, idWidth)
	t.vb = append(append(v, '|'), tweet...)
	t.appendTo("t|", follower, t.vb, "push_post", done)
}

// parseDec parses a fixed-width decimal field (digits only).
func parseDec(b []byte) (uint32, bool) {
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return uint32(v), v <= 0xFFFFFFFF
}

// walkTimeline calls f for each record of a t| list.
func walkTimeline(v []byte, f func(time, poster uint32, tweet []byte)) error {
	if len(v)%timelineRecord != 0 {
		return fmt.Errorf("%w: timeline of %d bytes is not whole %d-byte records", ErrMalformed, len(v), timelineRecord)
	}
	for i := 0; i < len(v); i += timelineRecord {
		r := v[i : i+timelineRecord]
		tm, ok1 := parseDec(r[:timeWidth])
		p, ok2 := parseDec(r[timeWidth+1 : timeWidth+1+idWidth])
		if !ok1 || !ok2 || r[timeWidth] != '|' || r[timeWidth+1+idWidth] != '|' {
			return fmt.Errorf("%w: timeline record %q", ErrMalformed, r)
		}
		f(tm, p, r[timeWidth+1+idWidth+1:])
	}
	return nil
}

// walkPosts calls f for each record of a p| list.
func walkPosts(v []byte, f func(time uint32, tweet []byte)) error {
	if len(v)%postRecord != 0 {
		return fmt.Errorf("%w: post list of %d bytes is not whole %d-byte records", ErrMalformed, len(v), postRecord)
	}
	for i := 0; i < len(v); i += postRecord {
		r := v[i : i+postRecord]
		tm, ok := parseDec(r[:timeWidth])
		if !ok || r[timeWidth] != '|' {
			return fmt.Errorf("%w: post record %q", ErrMalformed, r)
		}
		f(tm, r[timeWidth+1:])
	}
	return nil
}

// Check reads t|user and counts the entries with beg <= time < end; with
// fetch it also returns them (the timeline_scan form; the count form
// transfers the whole list too).
func (t *Twitter) Check(user, beg, end uint32, fetch bool, done func(n int, entries []twitter.Entry, err error)) {
	if err := checkIDs(user); err != nil {
		t.cns[0].fail(err, func(err error) { done(0, nil, err) })
		return
	}
	t.owner(user).sendDecode(memcache.Request{Op: memcache.OpGet, Key: t.key("t|", user)}, func(call *memcache.Call) func() {
		v, err := value(call, "check")
		if err != nil {
			return func() { done(0, nil, err) }
		}
		n := 0
		var entries []twitter.Entry
		err = walkTimeline(v, func(tm, poster uint32, tweet []byte) {
			if tm < beg || tm >= end {
				return
			}
			n++
			if fetch {
				entries = append(entries, twitter.Entry{User: user, Time: tm, Poster: poster, Value: append([]byte{}, tweet...)})
			}
		})
		if err != nil {
			err = fmt.Errorf("memcached shim: check t|%08d: %w", user, err)
			return func() { done(0, nil, err) }
		}
		return func() { done(n, entries, nil) }
	})
}

// FollowerScan reads s|poster and returns its 8-digit follower ids.
func (t *Twitter) FollowerScan(poster uint32, done func(followers []uint32, err error)) {
	if err := checkIDs(poster); err != nil {
		t.cns[0].fail(err, func(err error) { done(nil, err) })
		return
	}
	t.owner(poster).sendDecode(memcache.Request{Op: memcache.OpGet, Key: t.key("s|", poster)}, func(call *memcache.Call) func() {
		fs, err := parseFollowers(call, poster)
		return func() { done(fs, err) }
	})
}

func parseFollowers(call *memcache.Call, poster uint32) ([]uint32, error) {
	v, err := value(call, "follower_scan")
	if err != nil {
		return nil, err
	}
	if len(v)%idWidth != 0 {
		return nil, fmt.Errorf("memcached shim: follower_scan s|%08d: %w: %d bytes is not whole ids", poster, ErrMalformed, len(v))
	}
	fs := make([]uint32, 0, len(v)/idWidth)
	for i := 0; i < len(v); i += idWidth {
		f, ok := parseDec(v[i : i+idWidth])
		if !ok {
			return nil, fmt.Errorf("memcached shim: follower_scan s|%08d: %w: id %q", poster, ErrMalformed, v[i:i+idWidth])
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// PostScan reads p|poster and returns the posts with beg <= time < end.
func (t *Twitter) PostScan(poster, beg, end uint32, done func(posts []twitter.Post, err error)) {
	if err := checkIDs(poster); err != nil {
		t.cns[0].fail(err, func(err error) { done(nil, err) })
		return
	}
	t.owner(poster).sendDecode(memcache.Request{Op: memcache.OpGet, Key: t.key("p|", poster)}, func(call *memcache.Call) func() {
		v, err := value(call, "post_scan")
		if err != nil {
			return func() { done(nil, err) }
		}
		var posts []twitter.Post
		err = walkPosts(v, func(tm uint32, tweet []byte) {
			if tm >= beg && tm < end {
				posts = append(posts, twitter.Post{Time: tm, Value: append([]byte{}, tweet...)})
			}
		})
		if err != nil {
			err = fmt.Errorf("memcached shim: post_scan p|%08d: %w", poster, err)
			return func() { done(nil, err) }
		}
		return func() { done(posts, nil) }
	})
}

func progressKey(dst []byte, groupid int) []byte {
	dst = append(dst[:0], "prog|"...)
	if groupid < 0 || groupid > 999 {
		return strconv.AppendInt(dst, int64(groupid), 10)
	}
	return appendPad(dst, uint32(groupid), 3)
}

// UpdateProgress sets prog|%03u(groupid) = tick on the first server, then
// reads every group's progress and reports the minimum of the values
// present (tick when none is).
func (t *Twitter) UpdateProgress(groupid, ngroups int, tick uint32, done func(slowest uint32, err error)) {
	if groupid < 0 || groupid > 999 || ngroups > 1000 {
		t.cns[0].fail(fmt.Errorf("memcached shim: update_progress: group %d of %d does not fit prog|%%03u", groupid, ngroups),
			func(err error) { done(0, err) })
		return
	}
	cn := t.cns[0]
	slowest, found := tick, false
	g := &gather{n: 1 + max(ngroups, 0), done: func(err error) {
		if !found {
			slowest = tick
		}
		done(slowest, err)
	}}
	t.kb = progressKey(t.kb, groupid)
	cn.send(memcache.Request{Op: memcache.OpSet, Key: t.kb, Value: strconv.AppendUint(t.vb[:0], uint64(tick), 10)},
		func(call *memcache.Call) { g.finish(check(call, "update_progress")) })
	for i := range max(ngroups, 0) {
		t.kb = progressKey(t.kb, i)
		cn.send(memcache.Request{Op: memcache.OpGet, Key: t.kb}, func(call *memcache.Call) {
			v, err := value(call, "update_progress")
			if err != nil || len(v) == 0 {
				g.finish(err)
				return
			}
			p, perr := strconv.ParseUint(string(v), 10, 32)
			if perr != nil {
				g.finish(fmt.Errorf("memcached shim: update_progress: prog|%03d = %q: %w", i, v, perr))
				return
			}
			if !found || uint32(p) < slowest {
				slowest, found = uint32(p), true
			}
			g.finish(nil)
		})
	}
}

// Stats returns one object per server: its STAT statistics plus
// server_user_time, server_system_time and server_wall_time (numbers).
func (t *Twitter) Stats(ctx context.Context) ([]json.RawMessage, error) {
	return stats(ctx, t.loop, t.cns)
}

// Control returns nil: memcached has no controls.
func (t *Twitter) Control(ctx context.Context, obj map[string]any) ([]json.RawMessage, error) {
	return nil, nil
}

// Close closes the connections. Requests still outstanding complete with
// errors when the loop next runs.
func (t *Twitter) Close() error { return closeAll(t.cns) }

// String describes the back end.
func (t *Twitter) String() string { return "memcached " + t.addrs }
