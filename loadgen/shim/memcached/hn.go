package memcached

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
	"github.com/pequod-go/pequod/loadgen/memcache"
	"github.com/pequod-go/pequod/loadgen/shim/hashhn"
)

// HNConfig carries the hn parameters that decide whether the memcached back
// end can run (apps.md §5.1, §5.6). The zero value is the default,
// supported configuration.
type HNConfig struct {
	// Pull, Push and SuperMaterialize are the hn parameters of the same
	// names. The back end requires mk (= not Pull; Push forces Pull) and
	// not ma (= SuperMaterialize).
	Pull, Push, SuperMaterialize bool
}

// ErrConfig is the error of an hn configuration the memcached back end
// cannot run.
var ErrConfig = errors.New("memcached shim: unsupported hn configuration")

// HN is the Hacker News back end on memcached (apps.md §5.6), on one
// server. Ids are unpadded decimal:
//
//	post(author, aid)         SET a|<aid> "<author>|lalalalaxx"; INCR k|<author>
//	vote(voter, aid, author)  APPEND v|<aid> "<voter>,"; INCR k|<author>
//	comment(c, aid, cid)      SET c|<cid> calalalaxx; APPEND ac|<aid> "<c>|<cid>" 0xAD
//	read(aid)                 GET a|<aid>, GET ac|<aid>; per entry GET c|<cid>, GET k|<c>
//
// APPENDs create missing lists and INCR creates a missing counter at 1 (see
// the package comment). Karma is maintained by memcached, so the karma
// arguments of PostArticle and Vote are not used.
//
// Deliberate deviations from the original (the spec's "Go:" rule of fixing
// defects):
//   - the comment list holds the comment id, not the article id (§5.6 Go:);
//   - PostArticle also increments k|<author> for the author's self-vote. The
//     original does not, so its karma falls one short of the model per
//     article, and the run's karma check (k ≤ m < k+3) fails for authors of
//     three or more articles. With the increment k| equals the model karma
//     (which counts the self-vote, §5.1).
//
// The self-vote is not appended to v|<aid>, as in the original; nothing
// reads v| (ReadArticle reports Votes = -1). A commenter without k| has
// karma 0 (missing reads as empty).
type HN struct {
	cn   *conn
	loop *async.Loop
}

var _ hn.Backend = (*HN)(nil)

// NewHN connects to the memcached server at addr; completions run on loop.
// It fails (with ErrConfig) unless cfg has mk and not ma.
func NewHN(ctx context.Context, addr string, loop *async.Loop, cfg HNConfig) (*HN, error) {
	if cfg.Pull || cfg.Push {
		return nil, fmt.Errorf("%w: requires the karma table (mk): pull and push must be off", ErrConfig)
	}
	if cfg.SuperMaterialize {
		return nil, fmt.Errorf("%w: super_materialize (ma) is not supported", ErrConfig)
	}
	cn, err := dial(ctx, addr, loop)
	if err != nil {
		return nil, err
	}
	return &HN{cn: cn, loop: loop}, nil
}

// Name reports "memcached".
func (h *HN) Name() string { return "memcached" }

// Initialize does nothing: there are no joins or schema.
func (h *HN) Initialize(ctx context.Context) error { return nil }

// PostPopulate does nothing: karma is maintained eagerly.
func (h *HN) PostPopulate(ctx context.Context) error { return nil }

func (h *HN) incrKarma(author uint32, op string, g *gather) {
	h.cn.send(memcache.Request{Op: memcache.OpIncrement, Key: hashhn.Key("k|", author), Delta: 1, Initial: 1},
		func(call *memcache.Call) { g.finish(check(call, op)) })
}

func (h *HN) appendTo(key, v []byte, op string, g *gather) {
	h.cn.send(memcache.Request{Op: memcache.OpAppend, Key: key, Value: v, Create: true},
		func(call *memcache.Call) { g.finish(check(call, op)) })
}

// PostArticle stores a|aid and counts the author's self-vote in k|author.
func (h *HN) PostArticle(author, aid uint32, karma int64, done func(error)) {
	g := &gather{n: 2, done: done}
	v := hashhn.ArticleValue(author)
	h.cn.send(memcache.Request{Op: memcache.OpSet, Key: hashhn.Key("a|", aid), Value: v},
		func(call *memcache.Call) { g.finish(check(call, "post_article")) })
	h.incrKarma(author, "post_article karma", g)
}

// Vote appends voter to v|aid and increments the author's karma.
func (h *HN) Vote(voter, aid, author uint32, karma int64, done func(error)) {
	g := &gather{n: 2, done: done}
	h.appendTo(hashhn.Key("v|", aid), hashhn.VoteEntry(voter), "vote", g)
	h.incrKarma(author, "vote karma", g)
}

// PostComment stores c|cid and appends "commenter|cid" 0xAD to ac|aid.
func (h *HN) PostComment(commenter, aid, author, cid uint32, done func(error)) {
	g := &gather{n: 2, done: done}
	e := hashhn.CommentEntry(commenter, cid)
	h.cn.send(memcache.Request{Op: memcache.OpSet, Key: hashhn.Key("c|", cid), Value: []byte(hashhn.CommentText)},
		func(call *memcache.Call) { g.finish(check(call, "post_comment")) })
	h.appendTo(hashhn.Key("ac|", aid), e, "post_comment list", g)
}

// ReadArticle reads the article and its comment list, then each comment and
// its commenter's karma (0 when k| is absent). Page.Author comes from the
// article value ("<author>|text"); when the article is missing it is the
// author argument. Votes is -1: the vote list is not read.
func (h *HN) ReadArticle(aid, author uint32, done func(hn.Page, error)) {
	page := hn.Page{Author: author, Votes: -1}
	g := &gather{n: 2, done: func(err error) {
		if err != nil {
			done(hn.Page{}, err)
			return
		}
		done(page, nil)
	}}
	h.cn.send(memcache.Request{Op: memcache.OpGet, Key: hashhn.Key("a|", aid)}, func(call *memcache.Call) {
		v, err := value(call, "read_article")
		if err != nil || call.Status == memcache.StatusKeyNotFound {
			g.finish(err)
			return
		}
		a, err := hashhn.ArticleAuthor(v)
		if err != nil {
			g.finish(fmt.Errorf("memcached shim: read_article: %w: a|%d: %w", ErrMalformed, aid, err))
			return
		}
		page.Author = a
		g.finish(nil)
	})
	h.cn.send(memcache.Request{Op: memcache.OpGet, Key: hashhn.Key("ac|", aid)}, func(call *memcache.Call) {
		v, err := value(call, "read_article comments")
		if err != nil {
			g.finish(err)
			return
		}
		cs, err := hashhn.ParseComments(v)
		if err != nil {
			g.finish(fmt.Errorf("memcached shim: read_article ac|%d: %w", aid, err))
			return
		}
		page.Comments = cs
		g.n += 2 * len(cs)
		for i := range cs {
			h.cn.send(memcache.Request{Op: memcache.OpGet, Key: hashhn.Key("c|", cs[i].ID)}, func(call *memcache.Call) {
				_, err := value(call, "read_article comment")
				g.finish(err)
			})
			h.cn.send(memcache.Request{Op: memcache.OpGet, Key: hashhn.Key("k|", cs[i].Commenter)}, func(call *memcache.Call) {
				v, err := value(call, "read_article karma")
				if err != nil || len(v) == 0 {
					g.finish(err)
					return
				}
				k, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					g.finish(fmt.Errorf("memcached shim: read_article: k|%d = %q: %w", cs[i].Commenter, v, err))
					return
				}
				cs[i].Karma = k
				g.finish(nil)
			})
		}
		g.finish(nil)
	})
}

// Stats returns the server's STAT object with server_user_time,
// server_system_time and server_wall_time (one element).
func (h *HN) Stats(ctx context.Context) ([]json.RawMessage, error) {
	return stats(ctx, h.loop, []*conn{h.cn})
}

// Control returns nil: memcached has no controls.
func (h *HN) Control(ctx context.Context, obj map[string]any) ([]json.RawMessage, error) {
	return nil, nil
}

// Close closes the connection. Requests still outstanding complete with
// errors when the loop next runs.
func (h *HN) Close() error { return h.cn.c.Close() }
