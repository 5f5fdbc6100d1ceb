package twitter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/pqclient"
	"github.com/pequod-go/pequod/wire"
)

// PequodConfig configures the Pequod back end.
type PequodConfig struct {
	// InProcess marks a connection to an in-process server: its get_log
	// reply is reported as null (§2.15 server_logs).
	InProcess bool
	// Progress receives "installing join: …" messages; nil discards them.
	Progress io.Writer
}

// Pequod is the twitternew back end over a Pequod client: one server (in
// process or over TCP) or a cluster routed by key (pqclient.Cluster, -H).
// Timelines are maintained by the server's cache joins, or by the client in
// push mode (spec/apps.md §2.5, §2.11, §3.1).
type Pequod struct {
	conn pqclient.Client
	p    Params
	keys Keys
	cfg  PequodConfig
}

// NewPequod returns the Pequod back end for parameters p over conn; the
// back end owns conn (Close closes it). Write-around (insert_db) is not
// supported by the Pequod-Go server and is rejected.
func NewPequod(conn pqclient.Client, p Params, cfg PequodConfig) (*Pequod, error) {
	if conn == nil {
		return nil, errors.New("twitternew pequod: nil connection")
	}
	if p.Writearound {
		return nil, errors.New("twitternew pequod: writearound (insert_db) is not supported by the Pequod-Go server")
	}
	if p.Push && p.Pull {
		return nil, errors.New("twitternew pequod: push and pull exclude each other")
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	return &Pequod{conn: conn, p: p, keys: Keys{Binary: p.Binary}, cfg: cfg}, nil
}

// Name implements Backend.
func (b *Pequod) Name() string { return "pequod" }

// Initialize installs the joins of §2.5, all issued together; a reply
// message is printed as "installing join: …".
func (b *Pequod) Initialize(ctx context.Context) error {
	js := Joins(b.p)
	var firstErr error
	left := len(js)
	for _, j := range js {
		b.conn.AddJoin(j.First, j.Last, j.Text, func(msg string, err error) {
			left--
			if msg != "" {
				fmt.Fprintf(b.cfg.Progress, "installing join: %s\n", msg)
			}
			if err != nil && firstErr == nil {
				firstErr = fmt.Errorf("join %q on [%q, %q): %w", j.Text, j.First, j.Last, err)
			}
		})
	}
	if err := b.conn.Loop().Until(ctx, func() bool { return left == 0 }); err != nil {
		return err
	}
	return firstErr
}

// WaitReady sends control {"is_ready": true} to every server every
// pqclient.ReadyInterval until every reply is true (a non-boolean counts as
// ready), spec/server.md §3.2.
func (b *Pequod) WaitReady(ctx context.Context) error {
	return pqclient.WaitReady(ctx, b.conn, pqclient.ReadyInterval)
}

// Subscribe implements Backend: s|a|b = "1".
func (b *Pequod) Subscribe(a, c uint32, done func(error)) {
	b.conn.Insert(b.keys.Subscription(a, c), "1", done)
}

// MarkCelebrity implements Backend: c|u = "1".
func (b *Pequod) MarkCelebrity(u uint32, done func(error)) {
	b.conn.Insert(b.keys.Celebrity(u), "1", done)
}

// Post implements Backend: p|poster|time (cp| for a celebrity).
func (b *Pequod) Post(poster, time uint32, tweet []byte, celeb bool, done func(error)) {
	b.conn.Insert(b.keys.Post(poster, time, celeb), string(tweet), done)
}

// PushPost implements Backend: t|follower|time|poster.
func (b *Pequod) PushPost(follower, poster, time uint32, tweet []byte, done func(error)) {
	b.conn.Insert(b.keys.Timeline(follower, time, poster), string(tweet), done)
}

// Check implements Backend (§2.11): a count (or, with fetch, a scan) with
// first t|user|beg, last t|user} and scanlast t|user|end, so the server
// validates from beg through the end of the timeline and returns only
// [beg, end).
func (b *Pequod) Check(user, beg, end uint32, fetch bool, done func(int, []Entry, error)) {
	first, last, scanlast := b.keys.TimelineAt(user, beg), b.keys.TimelineEnd(user), b.keys.TimelineAt(user, end)
	if !fetch {
		b.conn.Count(first, last, scanlast, func(n int64, err error) { done(int(n), nil, err) })
		return
	}
	b.conn.Scan(first, last, scanlast, func(kvs []wire.KV, err error) {
		if err != nil {
			done(0, nil, err)
			return
		}
		entries := make([]Entry, 0, len(kvs))
		for _, kv := range kvs {
			u, t, p, ok := b.keys.ParseTimeline(kv.Key)
			if !ok {
				done(0, nil, fmt.Errorf("bad timeline key %q", kv.Key))
				return
			}
			entries = append(entries, Entry{User: u, Time: t, Poster: p, Value: append([]byte(nil), kv.Value...)})
		}
		done(len(entries), entries, nil)
	})
}

// FollowerScan implements Backend: scan [s|poster, s|poster}) and parse
// each follower id at its fixed offset.
func (b *Pequod) FollowerScan(poster uint32, done func([]uint32, error)) {
	first, last := b.keys.Followers(poster)
	b.conn.Scan(first, last, "", func(kvs []wire.KV, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		fs := make([]uint32, 0, len(kvs))
		for _, kv := range kvs {
			f, ok := b.keys.ParseSubscriptionSecond(kv.Key)
			if !ok {
				done(nil, fmt.Errorf("bad subscription key %q", kv.Key))
				return
			}
			fs = append(fs, f)
		}
		done(fs, nil)
	})
}

// PostScan implements Backend: scan [p|poster|beg, p|poster|end).
func (b *Pequod) PostScan(poster, beg, end uint32, done func([]Post, error)) {
	first, last := b.keys.PostRange(poster, beg, end)
	b.conn.Scan(first, last, "", func(kvs []wire.KV, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		ps := make([]Post, 0, len(kvs))
		for _, kv := range kvs {
			t, ok := b.keys.ParsePostTime(kv.Key)
			if !ok {
				done(nil, fmt.Errorf("bad post key %q", kv.Key))
				return
			}
			ps = append(ps, Post{Time: t, Value: append([]byte(nil), kv.Value...)})
		}
		done(ps, nil)
	})
}

// UpdateProgress implements Backend (§2.12): write prog|<groupid> = tick in
// decimal, then read every group's progress; the slowest is the minimum
// reported (tick itself if none parse).
func (b *Pequod) UpdateProgress(groupid, ngroups int, tick uint32, done func(uint32, error)) {
	var firstErr error
	slowest := tick
	left := 2
	finish := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if left--; left == 0 {
			done(slowest, firstErr)
		}
	}
	b.conn.Insert(Progress(groupid), strconv.FormatUint(uint64(tick), 10), finish)
	b.conn.Scan("prog|", "prog}", "", func(kvs []wire.KV, err error) {
		for _, kv := range kvs {
			if v, perr := strconv.ParseUint(string(kv.Value), 10, 32); perr == nil && uint32(v) < slowest {
				slowest = uint32(v)
			}
		}
		finish(err)
	})
}

// Stats implements Backend: every server's stats, indexed by seqid.
func (b *Pequod) Stats(ctx context.Context) ([]json.RawMessage, error) {
	return b.conn.ServerStats(ctx)
}

// Control implements Backend: every server's reply, indexed by seqid; nil
// for an in-process server (whose log is reported as null).
func (b *Pequod) Control(ctx context.Context, obj map[string]any) ([]json.RawMessage, error) {
	v, err := b.conn.ServerControl(ctx, obj)
	if err != nil {
		return nil, err
	}
	if b.cfg.InProcess {
		return nil, nil
	}
	return v, nil
}

// Close implements Backend: it closes the connection.
func (b *Pequod) Close() error { return b.conn.Close() }

var _ Backend = (*Pequod)(nil)
