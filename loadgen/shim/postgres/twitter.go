package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/twitter"
)

// twitterSchema creates the twitternew tables, indexes and fan-out trigger
// of apps.md §3.4 (scripts/exp/twitter-pg-schema.sql) when missing.
var twitterSchema = []string{
	`CREATE TABLE IF NOT EXISTS s (usr INT, poster INT, PRIMARY KEY (usr, poster))`,
	`CREATE INDEX IF NOT EXISTS s_usr ON s (usr)`,
	`CREATE INDEX IF NOT EXISTS s_poster ON s (poster)`,
	`CREATE TABLE IF NOT EXISTS p (poster INT, value VARCHAR(140), time INT, PRIMARY KEY (poster, time))`,
	`CREATE INDEX IF NOT EXISTS p_time ON p (time)`,
	`CREATE INDEX IF NOT EXISTS p_poster ON p (poster)`,
	`CREATE TABLE IF NOT EXISTS t (usr INT, poster INT, value VARCHAR(140), time INT)`,
	`CREATE INDEX IF NOT EXISTS t_usr ON t (usr)`,
	`CREATE INDEX IF NOT EXISTS t_time ON t (time)`,
	`CREATE OR REPLACE FUNCTION twitter_fanout() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO t (usr, poster, value, time)
		SELECT s.usr, NEW.poster, NEW.value, NEW.time FROM s WHERE s.poster = NEW.poster;
	RETURN NULL;
END
$$`,
	`DROP TRIGGER IF EXISTS p_fanout ON p`,
	`CREATE TRIGGER p_fanout AFTER INSERT ON p FOR EACH ROW EXECUTE FUNCTION twitter_fanout()`,
}

// twitterDrop drops the twitternew tables and trigger function.
var twitterDrop = []string{
	`DROP TABLE IF EXISTS t, p, s CASCADE`,
	`DROP FUNCTION IF EXISTS twitter_fanout() CASCADE`,
}

// twitterStatements are the prepared statements of §3.4. A post or
// subscription that already exists is ignored (no error, no second fan-out),
// as a Pequod insert of an existing key leaves one timeline entry. Scans
// return entries in Pequod key order (time, then poster).
var twitterStatements = [][2]string{
	{"subscribe", `INSERT INTO s (usr, poster) VALUES ($1, $2) ON CONFLICT DO NOTHING`},
	{"post", `INSERT INTO p (poster, value, time) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`},
	{"timeline_scan", `SELECT usr, poster, value, time FROM t WHERE usr = $1 AND time >= $2 AND time < $3 ORDER BY time, poster`},
	{"timeline_add_count", `SELECT count(*) FROM t WHERE usr = $1 AND time >= $2 AND time < $3`},
}

// ResetTwitter drops and recreates the twitternew schema, emptying the
// tables. A benchmark must start from an empty database; Initialize only
// creates what is missing because every process of a run (the populate
// processes and the clients) calls it. So the driver that starts the
// database (the role of the original harness's schema script, §7.1) calls
// ResetTwitter once before the first populate process; a server freshly
// started by loadgen/scripts/postgres.sh is empty already.
func ResetTwitter(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	conn, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background()) //nolint:errcheck // read-only afterwards
	return execSchema(ctx, conn, "reset twitter schema", append(append([]string(nil), twitterDrop...), twitterSchema...))
}

// Twitter is the twitternew back end on PostgreSQL (`--dbshim`, apps.md
// §3.4): the database fans posts out into timelines with a trigger. It
// implements twitter.Backend; push-mode and celebrity operations are
// unsupported. Subscriptions and checks go to connection usr mod PoolMax,
// posts to poster mod PoolMax.
type Twitter struct {
	cfg  Config
	loop *async.Loop
	pool *pool
}

var _ twitter.Backend = (*Twitter)(nil)

// errUnsupported is reported by push-mode and celebrity operations.
var errUnsupported = errors.New("unsupported by the PostgreSQL back end")

// NewTwitter connects cfg.PoolMax connections. Call Initialize before any
// operation.
func NewTwitter(ctx context.Context, cfg Config, loop *async.Loop) (*Twitter, error) {
	cfg = cfg.withDefaults()
	p, err := newPool(ctx, cfg, loop)
	if err != nil {
		return nil, fmt.Errorf("postgres twitter: %w", err)
	}
	return &Twitter{cfg: cfg, loop: loop, pool: p}, nil
}

// Name reports "postgres".
func (*Twitter) Name() string { return "postgres" }

// Initialize creates the schema if missing (serialized across processes by
// an advisory lock), then sets every connection to READ COMMITTED and
// prepares subscribe, post, timeline_scan and timeline_add_count on it. It
// does not empty existing tables (see ResetTwitter).
func (t *Twitter) Initialize(ctx context.Context) error {
	err := t.pool.runOn(ctx, []int{0}, func(ctx context.Context, conn *pgx.Conn) error {
		return execSchema(ctx, conn, "create twitter schema", twitterSchema)
	})
	if err == nil {
		err = t.pool.runOn(ctx, nil, func(ctx context.Context, conn *pgx.Conn) error {
			return prepareAll(ctx, conn, twitterStatements)
		})
	}
	if err != nil {
		return fmt.Errorf("postgres twitter: initialize: %w", err)
	}
	return nil
}

// WaitReady returns at once: the connections are open.
func (*Twitter) WaitReady(context.Context) error { return nil }

// Subscribe inserts (usr a, poster b) into s unless present; no backfill.
func (t *Twitter) Subscribe(a, b uint32, done func(error)) {
	t.pool.submit(a, execRequest(wrapDone(done, "postgres twitter: subscribe %d %d", a, b), func(q *pgx.Batch) {
		q.Queue("subscribe", int64(a), int64(b))
	}, 1))
}

// MarkCelebrity is unsupported.
func (t *Twitter) MarkCelebrity(_ uint32, done func(error)) {
	fail(t.loop, done, fmt.Errorf("postgres twitter: mark celebrity: %w", errUnsupported))
}

// Post inserts the post into p; the trigger fans it out into t. celeb is
// ignored.
func (t *Twitter) Post(poster, time uint32, tweet []byte, _ bool, done func(error)) {
	t.pool.submit(poster, execRequest(wrapDone(done, "postgres twitter: post %d at %d", poster, time), func(q *pgx.Batch) {
		q.Queue("post", int64(poster), string(tweet), int64(time))
	}, 1))
}

// PushPost is unsupported (the database fans out).
func (t *Twitter) PushPost(_, _, _ uint32, _ []byte, done func(error)) {
	fail(t.loop, done, fmt.Errorf("postgres twitter: push post: %w", errUnsupported))
}

// Check counts (timeline_add_count) or, with fetch, reads (timeline_scan)
// user's timeline entries with beg <= time < end.
func (t *Twitter) Check(user, beg, end uint32, fetch bool, done func(int, []twitter.Entry, error)) {
	var (
		n       int64
		entries []twitter.Entry
	)
	r := &request{
		fail: func(err error) func() {
			return func() { done(0, nil, fmt.Errorf("postgres twitter: check %d [%d, %d): %w", user, beg, end, err)) }
		},
	}
	if fetch {
		r.queue = func(q *pgx.Batch) { q.Queue("timeline_scan", int64(user), int64(beg), int64(end)) }
		r.read = func(br pgx.BatchResults) (func(), error) {
			rows, err := br.Query()
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			for rows.Next() {
				var usr, poster, tm int64
				var value []byte
				if err := rows.Scan(&usr, &poster, &value, &tm); err != nil {
					return nil, err
				}
				entries = append(entries, twitter.Entry{User: uint32(usr), Time: uint32(tm), Poster: uint32(poster), Value: value})
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			return func() { done(len(entries), entries, nil) }, nil
		}
	} else {
		r.queue = func(q *pgx.Batch) { q.Queue("timeline_add_count", int64(user), int64(beg), int64(end)) }
		r.read = func(br pgx.BatchResults) (func(), error) {
			if err := br.QueryRow().Scan(&n); err != nil {
				return nil, err
			}
			return func() { done(int(n), nil, nil) }, nil
		}
	}
	t.pool.submit(user, r)
}

// FollowerScan is unsupported.
func (t *Twitter) FollowerScan(_ uint32, done func([]uint32, error)) {
	t.loop.Go()(func() { done(nil, fmt.Errorf("postgres twitter: follower scan: %w", errUnsupported)) })
}

// PostScan is unsupported.
func (t *Twitter) PostScan(_, _, _ uint32, done func([]twitter.Post, error)) {
	t.loop.Go()(func() { done(nil, fmt.Errorf("postgres twitter: post scan: %w", errUnsupported)) })
}

// UpdateProgress reports tick itself: no cross-client rate limiting.
func (t *Twitter) UpdateProgress(_, _ int, tick uint32, done func(uint32, error)) {
	t.loop.Go()(func() { done(tick, nil) })
}

// tableStats is one table of a stats object.
type tableStats struct {
	Name      string `json:"name"`
	StoreSize int64  `json:"store_size"`
}

// Stats counts the rows of p, s and t in one query, on connection 0 after
// the operations queued there, and returns one object
// {"tables":[{"name":"p","store_size":P},{"name":"s",...},{"name":"t",...}]}.
func (t *Twitter) Stats(ctx context.Context) ([]json.RawMessage, error) {
	msg, err := t.pool.tableStats(ctx, []string{"p", "s", "t"})
	if err != nil {
		return nil, fmt.Errorf("postgres twitter: stats: %w", err)
	}
	return []json.RawMessage{msg}, nil
}

// Control returns nil: the back end has no controls.
func (*Twitter) Control(context.Context, map[string]any) ([]json.RawMessage, error) {
	return nil, nil
}

// Close fails the operations still queued and closes the connections.
func (t *Twitter) Close() error { return t.pool.close() }

// execRequest is a request of nstmts statements without results, queued by
// queue, reporting to done.
func execRequest(done func(error), queue func(q *pgx.Batch), nstmts int) *request {
	return &request{
		queue: queue,
		read: func(br pgx.BatchResults) (func(), error) {
			for range nstmts {
				if _, err := br.Exec(); err != nil {
					return nil, err
				}
			}
			return func() { done(nil) }, nil
		},
		fail: func(err error) func() { return func() { done(err) } },
	}
}

// tableStats counts the rows of tables (trusted names) in one query on
// connection 0 and encodes them as a stats object.
func (p *pool) tableStats(ctx context.Context, tables []string) (json.RawMessage, error) {
	q := "SELECT "
	for i, name := range tables {
		if i > 0 {
			q += ", "
		}
		q += "(SELECT count(*) FROM " + pgx.Identifier{name}.Sanitize() + ")"
	}
	counts := make([]int64, len(tables))
	err := p.runOn(ctx, []int{0}, func(ctx context.Context, conn *pgx.Conn) error {
		dst := make([]any, len(counts))
		for i := range counts {
			dst[i] = &counts[i]
		}
		return conn.QueryRow(ctx, q).Scan(dst...)
	})
	if err != nil {
		return nil, err
	}
	var obj struct {
		Tables []tableStats `json:"tables"`
	}
	for i, name := range tables {
		obj.Tables = append(obj.Tables, tableStats{Name: name, StoreSize: counts[i]})
	}
	msg, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode stats: %w", err)
	}
	return msg, nil
}
