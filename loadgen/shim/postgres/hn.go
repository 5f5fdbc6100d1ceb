package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
)

// HNConfig selects how karma is maintained (apps.md §5.7); exactly one must
// be set.
type HNConfig struct {
	// MK keeps karma in karma_mv, maintained by an after-insert trigger on
	// votes (the "materialized karma" configuration, mk = !pull).
	MK bool
	// Push keeps karma in karma, incremented by the client with each
	// article (self-vote) and vote.
	Push bool
}

// Values stored with articles and comments (as the Pequod shim's, §5.2).
const (
	hnLink    = "lalalalaxx"
	hnComment = "calalalaxx"
)

// HN is the Hacker News back end on PostgreSQL (`--pg`, apps.md §5.7). It
// implements hn.Backend. Every operation on an article goes to connection
// aid mod PoolMax, so an article's insert precedes its votes, comments and
// reads. Article and comment ids are the ones the run gives (inserted
// explicitly), so pages compare with other back ends'.
type HN struct {
	cfg   Config
	hc    HNConfig
	loop  *async.Loop
	pool  *pool
	karma string // karma table: "karma" (push) or "karma_mv" (mk)
}

var _ hn.Backend = (*HN)(nil)

// NewHN connects cfg.PoolMax connections. Call Initialize before any
// operation.
func NewHN(ctx context.Context, cfg Config, loop *async.Loop, hc HNConfig) (*HN, error) {
	if hc.MK == hc.Push {
		return nil, errors.New("postgres hn: exactly one of MK (trigger-maintained karma) and Push (client-maintained karma) must be set")
	}
	cfg = cfg.withDefaults()
	p, err := newPool(ctx, cfg, loop)
	if err != nil {
		return nil, fmt.Errorf("postgres hn: %w", err)
	}
	h := &HN{cfg: cfg, hc: hc, loop: loop, pool: p, karma: "karma_mv"}
	if hc.Push {
		h.karma = "karma"
	}
	return h, nil
}

// schema is the §5.7 schema for h's mode, dropped first.
func (h *HN) schema() []string {
	s := []string{
		`DROP TABLE IF EXISTS articles, comments, votes, karma, karma_mv CASCADE`,
		`DROP FUNCTION IF EXISTS hn_karma_mv_vote() CASCADE`,
		`CREATE TABLE articles (aid SERIAL PRIMARY KEY, author INT, link TEXT)`,
		`CREATE TABLE comments (cid SERIAL PRIMARY KEY, aid INT, commenter INT, comment TEXT)`,
		`CREATE TABLE votes (aid INT, voter INT)`,
		`CREATE INDEX articles_author ON articles (author)`,
		`CREATE INDEX comments_aid ON comments (aid)`,
		`CREATE INDEX comments_commenter ON comments (commenter)`,
		`CREATE INDEX votes_aid ON votes (aid)`,
	}
	if h.hc.Push {
		return append(s, `CREATE TABLE karma (author INT PRIMARY KEY, karma INT)`)
	}
	return append(s,
		`CREATE TABLE karma_mv (author INT PRIMARY KEY, karma INT)`,
		`INSERT INTO karma_mv (author, karma)
			SELECT a.author, count(*) FROM votes v JOIN articles a ON a.aid = v.aid GROUP BY a.author`,
		`CREATE FUNCTION hn_karma_mv_vote() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO karma_mv (author, karma)
		SELECT a.author, 1 FROM articles a WHERE a.aid = NEW.aid
		ON CONFLICT (author) DO UPDATE SET karma = karma_mv.karma + 1;
	RETURN NULL;
END
$$`,
		`CREATE TRIGGER votes_karma_mv AFTER INSERT ON votes FOR EACH ROW EXECUTE FUNCTION hn_karma_mv_vote()`,
	)
}

// statements are h's prepared statements. page joins the article with its
// comments, the commenters' karma (a commenter without votes has karma 0)
// and its votes, one row per comment (one row with NULL comment columns
// when there is none), each carrying the vote count.
func (h *HN) statements() [][2]string {
	s := [][2]string{
		{"article", `INSERT INTO articles (aid, author, link) VALUES ($1, $2, $3)`},
		{"vote", `INSERT INTO votes (aid, voter) VALUES ($1, $2)`},
		{"comment", `INSERT INTO comments (cid, aid, commenter, comment) VALUES ($1, $2, $3, $4)`},
		{"page", `SELECT a.aid, a.author, a.link, c.cid, c.commenter, c.comment, COALESCE(k.karma, 0), count(v.aid)
			FROM articles a
			LEFT OUTER JOIN comments c ON c.aid = a.aid
			LEFT OUTER JOIN ` + h.karma + ` k ON k.author = c.commenter
			INNER JOIN votes v ON v.aid = a.aid
			WHERE a.aid = $1
			GROUP BY a.aid, c.cid, k.karma
			ORDER BY c.cid`},
	}
	if h.hc.Push {
		// The original's UPDATE karma SET karma = karma+1, as an upsert
		// because population starts from empty tables. Increments commute,
		// so the pooled connections' interleaving cannot lose one.
		s = append(s, [2]string{"karma_incr",
			`INSERT INTO karma (author, karma) VALUES ($1, 1) ON CONFLICT (author) DO UPDATE SET karma = karma.karma + 1`})
	}
	return s
}

// Name reports "postgres".
func (*HN) Name() string { return "postgres" }

// Initialize drops and recreates the schema for h's mode (so a run starts
// empty), then sets every connection to READ COMMITTED and prepares the
// statements, among them page(int).
func (h *HN) Initialize(ctx context.Context) error {
	err := h.pool.runOn(ctx, []int{0}, func(ctx context.Context, conn *pgx.Conn) error {
		return execSchema(ctx, conn, "create hn schema", h.schema())
	})
	if err == nil {
		err = h.pool.runOn(ctx, nil, func(ctx context.Context, conn *pgx.Conn) error {
			return prepareAll(ctx, conn, h.statements())
		})
	}
	if err != nil {
		return fmt.Errorf("postgres hn: initialize: %w", err)
	}
	return nil
}

// PostArticle inserts the article and its author's self-vote, and in push
// mode increments the author's karma. karma (the model's) is unused: the
// increment keeps the table equal to it.
func (h *HN) PostArticle(author, aid uint32, _ int64, done func(error)) {
	n := 2
	if h.hc.Push {
		n = 3
	}
	h.pool.submit(aid, execRequest(wrapDone(done, "postgres hn: post article %d", aid), func(q *pgx.Batch) {
		q.Queue("article", int64(aid), int64(author), hnLink)
		q.Queue("vote", int64(aid), int64(author))
		if h.hc.Push {
			q.Queue("karma_incr", int64(author))
		}
	}, n))
}

// Vote inserts voter's vote on aid (the mk trigger credits the author), and
// in push mode increments author's karma. karma is unused (see PostArticle).
func (h *HN) Vote(voter, aid, author uint32, _ int64, done func(error)) {
	n := 1
	if h.hc.Push {
		n = 2
	}
	h.pool.submit(aid, execRequest(wrapDone(done, "postgres hn: vote on %d", aid), func(q *pgx.Batch) {
		q.Queue("vote", int64(aid), int64(voter))
		if h.hc.Push {
			q.Queue("karma_incr", int64(author))
		}
	}, n))
}

// PostComment inserts comment cid by commenter on aid.
func (h *HN) PostComment(commenter, aid, _, cid uint32, done func(error)) {
	h.pool.submit(aid, execRequest(wrapDone(done, "postgres hn: comment %d on %d", cid, aid), func(q *pgx.Batch) {
		q.Queue("comment", int64(cid), int64(aid), int64(commenter), hnComment)
	}, 1))
}

// ReadArticle runs page(aid). An article that does not exist (or has no
// vote, which cannot happen as the author's self-vote is inserted with it)
// is an error.
func (h *HN) ReadArticle(aid, _ uint32, done func(hn.Page, error)) {
	var page hn.Page
	h.pool.submit(aid, &request{
		queue: func(q *pgx.Batch) { q.Queue("page", int64(aid)) },
		read: func(br pgx.BatchResults) (func(), error) {
			rows, err := br.Query()
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			found := false
			for rows.Next() {
				var (
					a, author, karma, votes int64
					cid, commenter          *int64
				)
				if err := rows.Scan(&a, &author, nil, &cid, &commenter, nil, &karma, &votes); err != nil {
					return nil, err
				}
				found = true
				page.Author, page.Votes = uint32(author), votes
				if cid != nil && commenter != nil {
					page.Comments = append(page.Comments, hn.Comment{ID: uint32(*cid), Commenter: uint32(*commenter), Karma: karma})
				}
			}
			if err := rows.Err(); err != nil {
				return nil, err
			}
			if !found {
				return func() { done(hn.Page{}, fmt.Errorf("postgres hn: read article %d: no such article", aid)) }, nil
			}
			return func() { done(page, nil) }, nil
		},
		fail: func(err error) func() {
			return func() { done(hn.Page{}, fmt.Errorf("postgres hn: read article %d: %w", aid, err)) }
		},
	})
}

// PostPopulate analyzes the tables so the run's page queries use fresh
// statistics.
func (h *HN) PostPopulate(ctx context.Context) error {
	err := h.pool.runOn(ctx, []int{0}, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, "ANALYZE articles, comments, votes, "+h.karma)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres hn: post-populate analyze: %w", err)
	}
	return nil
}

// Stats counts the rows of articles, comments, votes and the karma table
// and returns one object {"tables":[{"name":"articles","store_size":N},...]}.
func (h *HN) Stats(ctx context.Context) ([]json.RawMessage, error) {
	msg, err := h.pool.tableStats(ctx, []string{"articles", "comments", "votes", h.karma})
	if err != nil {
		return nil, fmt.Errorf("postgres hn: stats: %w", err)
	}
	return []json.RawMessage{msg}, nil
}

// Control returns nil: the back end has no controls.
func (*HN) Control(context.Context, map[string]any) ([]json.RawMessage, error) {
	return nil, nil
}

// Close fails the operations still queued and closes the connections.
func (h *HN) Close() error { return h.pool.close() }
