package hn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pequod-go/pequod/loadgen/pqclient"
	"github.com/pequod-go/pequod/wire"
)

// PequodConfig configures the Pequod back end.
type PequodConfig struct {
	// Conn is the client: one server, or a cluster routed by key
	// (pqclient.Cluster with the hackernews function, -H). The back end
	// owns it (Close closes it).
	Conn pqclient.Client
	// Params select the mode (pull, push, super_materialize); they are
	// normalized by NewPequod.
	Params Params
	// InProcess marks an embedded server: it has no server log to report,
	// so Control sends the control but returns nil replies (§2.15:
	// server_logs is null for the in-process server).
	InProcess bool
}

// Pequod is the Pequod back end of HN (apps.md §5.2–§5.4).
type Pequod struct {
	c         pqclient.Client
	mk, ma    bool
	push      bool
	inProcess bool
}

var _ Backend = (*Pequod)(nil)

// NewPequod returns the Pequod back end for cfg.
func NewPequod(cfg PequodConfig) (*Pequod, error) {
	if cfg.Conn == nil {
		return nil, errors.New("hn: pequod back end needs a connection")
	}
	p, err := cfg.Params.Normalize()
	if err != nil {
		return nil, err
	}
	return &Pequod{c: cfg.Conn, mk: p.MK(), ma: p.MA(), push: p.Push, inProcess: cfg.InProcess}, nil
}

// Name implements Backend.
func (b *Pequod) Name() string { return "pequod" }

// Initialize installs the joins of §5.3 (none in push mode).
func (b *Pequod) Initialize(ctx context.Context) error {
	js := Joins(Params{Pull: !b.mk, Push: b.push, SuperMaterialize: b.ma})
	pending := len(js)
	var first error
	for _, j := range js {
		b.c.AddJoin(j.First, j.Last, j.Text, func(_ string, err error) {
			pending--
			if err != nil && first == nil {
				first = fmt.Errorf("add join %q on [%s, %s): %w", j.Text, j.First, j.Last, err)
			}
		})
	}
	if err := b.c.Loop().Until(ctx, func() bool { return pending == 0 }); err != nil {
		return err
	}
	return first
}

// counter calls done with the first error once n completions arrived.
func counter(n int, done func(error)) func(error) {
	var first error
	return func(err error) {
		if err != nil && first == nil {
			first = err
		}
		n--
		if n == 0 {
			done(first)
		}
	}
}

// PostArticle inserts a|AID14 and the self-vote v|AID14|author = "1"; in
// push mode also k|author = %07d(karma) (§5.4).
func (b *Pequod) PostArticle(author, aid uint32, karma int64, done func(error)) {
	n := 2
	if b.push {
		n = 3
	}
	fin := counter(n, done)
	b.c.Insert(ArticleKey(author, aid), ArticleValue, fin)
	b.c.Insert(VoteKey(author, aid, author), SelfVoteValue, fin)
	if b.push {
		b.c.Insert(KarmaKey(author), karmaValue(karma), fin)
	}
}

// karmaValue is the push-mode karma value, %07d of the model karma.
func karmaValue(k int64) string {
	if k < 0 || k >= MaxID {
		return fmt.Sprint(k)
	}
	return key("", uint32(k))
}

// Vote inserts v|AID14|voter = ""; in push mode also writes k|author.
func (b *Pequod) Vote(voter, aid, author uint32, karma int64, done func(error)) {
	if !b.push {
		b.c.Insert(VoteKey(author, aid, voter), VoteValue, done)
		return
	}
	fin := counter(2, done)
	b.c.Insert(VoteKey(author, aid, voter), VoteValue, fin)
	b.c.Insert(KarmaKey(author), karmaValue(karma), fin)
}

// PostComment inserts c|AID14|cid|commenter.
func (b *Pequod) PostComment(commenter, aid, author, cid uint32, done func(error)) {
	b.c.Insert(CommentKey(author, aid, cid, commenter), CommentValue, done)
}

// ReadArticle reads aid's page (§5.4): with materialized pages one scan of
// [ma|AID14|, ma|AID14}); otherwise get a|AID14, scan the comments and get
// p|AID14 together, then each commenter's karma — get k|commenter when
// karma is materialized or pushed, else computed from the commenter's
// articles and their votes.
func (b *Pequod) ReadArticle(aid, author uint32, done func(Page, error)) {
	if b.ma {
		b.readPage(aid, author, done)
		return
	}
	pg := Page{Author: author, Votes: -1}
	var first error
	pending := 3
	finish := func(err error) {
		if err != nil && first == nil {
			first = err
		}
		pending--
		if pending > 0 {
			return
		}
		if first != nil || len(pg.Comments) == 0 {
			done(pg, first)
			return
		}
		b.readKarma(&pg, done)
	}
	b.c.Get(ArticleKey(author, aid), func(v []byte, err error) {
		if err == nil && len(v) == 0 {
			err = fmt.Errorf("article %s missing", AID14(author, aid))
		}
		finish(err)
	})
	b.c.Scan(CommentsFirst(author, aid), CommentsLast(author, aid), "", func(kvs []wire.KV, err error) {
		if err == nil {
			pg.Comments, err = parseComments(kvs, len("c|")+14+1)
		}
		finish(err)
	})
	b.c.Get(VoteCountKey(author, aid), func(v []byte, err error) {
		if err == nil && b.mk {
			pg.Votes, err = parseCount(v)
		}
		finish(err)
	})
}

// parseComments parses comment keys whose "%07d(cid)|%07d(commenter)"
// suffix starts at off.
func parseComments(kvs []wire.KV, off int) ([]Comment, error) {
	cs := make([]Comment, 0, len(kvs))
	for _, kv := range kvs {
		if len(kv.Key) < off {
			return nil, fmt.Errorf("%w: %q", errBadKey, kv.Key)
		}
		cid, commenter, err := parseCidCommenter(string(kv.Key[off:]))
		if err != nil {
			return nil, fmt.Errorf("%w: %q", err, kv.Key)
		}
		cs = append(cs, Comment{ID: cid, Commenter: commenter, Karma: -1})
	}
	return cs, nil
}

// readKarma fills in the commenters' karma and completes the read.
func (b *Pequod) readKarma(pg *Page, done func(Page, error)) {
	pending := len(pg.Comments)
	var first error
	fin := func(err error) {
		if err != nil && first == nil {
			first = err
		}
		pending--
		if pending == 0 {
			done(*pg, first)
		}
	}
	for i := range pg.Comments {
		c := &pg.Comments[i]
		if b.mk || b.push {
			b.c.Get(KarmaKey(c.Commenter), func(v []byte, err error) {
				if err == nil {
					c.Karma, err = parseCount(v)
				}
				fin(err)
			})
			continue
		}
		b.pullKarma(c.Commenter, func(k int64, err error) {
			c.Karma = k
			fin(err)
		})
	}
}

// pullKarma computes user's karma on the client (pull mode, §5.4): scan the
// user's articles, count each one's votes, add up.
func (b *Pequod) pullKarma(user uint32, done func(int64, error)) {
	b.c.Scan(AuthorArticlesFirst(user), AuthorArticlesLast(user), "", func(kvs []wire.KV, err error) {
		if err != nil || len(kvs) == 0 {
			done(0, err)
			return
		}
		var sum int64
		var first error
		pending := len(kvs)
		for _, kv := range kvs {
			k := string(kv.Key)
			if len(k) != len("a|")+14 {
				done(0, fmt.Errorf("%w: %q", errBadKey, k))
				return
			}
			aid14 := k[2:]
			b.c.Count("v|"+aid14+"|", "v|"+aid14+"}", "", func(n int64, err error) {
				if err != nil && first == nil {
					first = err
				}
				sum += n
				pending--
				if pending == 0 {
					done(sum, first)
				}
			})
		}
	})
}

// readPage reads a materialized page with one scan (§5.4). Entries:
// ma|AID14|a, ma|AID14|v (vote count), ma|AID14|c|cid|commenter and
// ma|AID14|k|cid|commenter (the commenter's karma). A commenter with no
// karma entry has none materialized: karma 0.
func (b *Pequod) readPage(aid, author uint32, done func(Page, error)) {
	first := PageFirst(author, aid)
	b.c.Scan(first, PageLast(author, aid), "", func(kvs []wire.KV, err error) {
		pg := Page{Author: author, Votes: -1}
		if err != nil {
			done(pg, err)
			return
		}
		karma := map[string]int64{}
		var article bool
		for _, kv := range kvs {
			k := string(kv.Key)
			rest, ok := strings.CutPrefix(k, first)
			if !ok {
				done(pg, fmt.Errorf("%w: %q", errBadKey, k))
				return
			}
			switch {
			case rest == "a":
				article = true
			case rest == "v":
				if pg.Votes, err = parseCount(kv.Value); err != nil {
					done(pg, err)
					return
				}
			case strings.HasPrefix(rest, "c|"):
				cid, commenter, err := parseCidCommenter(rest[2:])
				if err != nil {
					done(pg, fmt.Errorf("%w: %q", err, k))
					return
				}
				pg.Comments = append(pg.Comments, Comment{ID: cid, Commenter: commenter, Karma: 0})
			case strings.HasPrefix(rest, "k|"):
				n, err := parseCount(kv.Value)
				if err != nil {
					done(pg, err)
					return
				}
				karma[rest[2:]] = n
			default:
				done(pg, fmt.Errorf("%w: %q", errBadKey, k))
				return
			}
		}
		if !article {
			done(pg, fmt.Errorf("article %s missing from its page", AID14(author, aid)))
			return
		}
		for i := range pg.Comments {
			c := &pg.Comments[i]
			if n, ok := karma[key("", c.ID, c.Commenter)]; ok {
				c.Karma = n
			}
		}
		done(pg, nil)
	})
}

// PostPopulate scans [k|, k}) once when karma is materialized (not push),
// so the karma table is computed before the run (§5.4).
func (b *Pequod) PostPopulate(ctx context.Context) error {
	if b.push || !b.mk {
		return nil
	}
	finished := false
	var serr error
	// A count validates the whole range like the original's scan without
	// shipping the table back.
	b.c.Count("k|", "k}", "", func(_ int64, err error) { serr, finished = err, true })
	if err := b.c.Loop().Until(ctx, func() bool { return finished }); err != nil {
		return err
	}
	if serr != nil {
		return fmt.Errorf("validate k|: %w", serr)
	}
	return nil
}

// Stats implements Backend: every server's stats, indexed by seqid.
func (b *Pequod) Stats(ctx context.Context) ([]json.RawMessage, error) {
	return b.c.ServerStats(ctx)
}

// Control implements Backend: every server's reply, indexed by seqid; an
// in-process server's replies are not reported (nil).
func (b *Pequod) Control(ctx context.Context, obj map[string]any) ([]json.RawMessage, error) {
	v, err := b.c.ServerControl(ctx, obj)
	if err != nil {
		return nil, err
	}
	if b.inProcess {
		return nil, nil
	}
	return v, nil
}

// Close implements Backend.
func (b *Pequod) Close() error { return b.c.Close() }
