package twitter

import (
	"context"
	"encoding/json"
)

// Entry is one timeline entry a check returned (fetch mode or log), in
// Pequod's key format so that every back end prints the same lines
// (apps.md §3: shims "mimic Pequod key formats").
type Entry struct {
	User, Time, Poster uint32
	Value              []byte
}

// Post is one post a post scan returned (push-mode backfill).
type Post struct {
	Time  uint32
	Value []byte
}

// Backend is the store a twitternew run talks to (apps.md §3): Pequod with
// cache joins, Pequod with client push, Redis, memcached or PostgreSQL.
//
// Every asynchronous method is called on the run's goroutine, must not
// block, and calls done exactly once, also on that goroutine (through the
// run's async.Loop). The synchronous methods run the loop while they wait.
type Backend interface {
	// Name is the back end's name in results ("pequod", "redis", ...).
	Name() string
	// Initialize installs the joins (Pequod) or prepares the schema and
	// statements (PostgreSQL); others do nothing (§2.9).
	Initialize(ctx context.Context) error
	// WaitReady blocks until the servers are ready (§2.9 "server
	// readiness"); back ends without the notion return at once.
	WaitReady(ctx context.Context) error

	// Subscribe writes the subscription key s|a|b: (user, poster) in pull
	// and lazy modes, (poster, follower) in push mode — the runner swaps
	// (§2.11).
	Subscribe(a, b uint32, done func(error))
	// MarkCelebrity inserts c|u (celebrity mode; Pequod only).
	MarkCelebrity(u uint32, done func(error))
	// Post writes poster's post at time with the 5-byte tweet; celeb
	// selects cp| over p| (Pequod; other back ends ignore it).
	Post(poster, time uint32, tweet []byte, celeb bool, done func(error))
	// PushPost writes one fanned-out timeline entry t|follower|time|poster
	// (push mode, §3).
	PushPost(follower, poster, time uint32, tweet []byte, done func(error))
	// Check reads user's timeline entries with beg <= time < end and
	// reports how many there were; with fetch it also returns them (a scan
	// rather than a count, §2.11). Pequod validates through the end of the
	// user's timeline.
	Check(user, beg, end uint32, fetch bool, done func(n int, entries []Entry, err error))
	// FollowerScan lists poster's followers (push mode; s| is reversed).
	FollowerScan(poster uint32, done func(followers []uint32, err error))
	// PostScan lists poster's posts with beg <= time < end (push-mode
	// backfill).
	PostScan(poster, beg, end uint32, done func(posts []Post, err error))
	// UpdateProgress publishes this group's tick and reports the slowest
	// group's (§2.12 progress report); back ends without shared state
	// report tick itself.
	UpdateProgress(groupid, ngroups int, tick uint32, done func(slowest uint32, err error))

	// Stats returns the servers' statistics, one element per server
	// (§2.15 server_stats), or nil when the back end has none.
	Stats(ctx context.Context) ([]json.RawMessage, error)
	// Control sends a control object to every server and returns the
	// replies, one per server, or nil when the back end has no controls
	// (§2.12 steps 5 and 12).
	Control(ctx context.Context, obj map[string]any) ([]json.RawMessage, error)
	// Close releases the back end's connections.
	Close() error
}
