package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
	"github.com/pequod-go/pequod/loadgen/redisclient"
	"github.com/pequod-go/pequod/loadgen/shim/hashhn"
)

// HNConfig carries the hn parameters that decide whether the Redis back end
// can run (apps.md §5.1, §5.6). The zero value is the default, supported
// configuration.
type HNConfig struct {
	// Pull, Push and SuperMaterialize are the hn parameters of the same
	// names. The Redis back end requires mk (= not Pull; Push forces Pull)
	// and not ma (= SuperMaterialize).
	Pull, Push, SuperMaterialize bool
}

// HN is the Hacker News back end on Redis (apps.md §5.6). Ids are unpadded
// decimal:
//
//	post(author, aid)         SET a|<aid> "<author>|lalalalaxx"; INCR k|<author>
//	vote(voter, aid, author)  APPEND v|<aid> "<voter>,"; INCR k|<author>
//	comment(c, aid, cid)      SET c|<cid> calalalaxx; APPEND ac|<aid> "<c>|<cid>" 0xAD
//	read(aid)                 GET a|<aid>, GET ac|<aid>; per entry GET c|<cid>, GET k|<c>
//
// Karma is maintained by Redis (INCR), so the karma arguments of
// PostArticle and Vote are not used.
//
// Deliberate deviations from the original (the spec's "Go:" rule of fixing
// defects):
//   - the comment list holds the comment id, not the article id (§5.6 Go:);
//   - PostArticle also increments k|<author> for the author's self-vote. The
//     original does not, so its karma falls one short of the model per
//     article the author wrote, and the run's karma check (k ≤ m < k+3)
//     fails for every author with three or more articles. With the
//     increment, k| equals the model karma (which counts the self-vote,
//     §5.1) exactly.
//
// The self-vote itself is not appended to v|<aid>, as in the original;
// nothing reads v| (ReadArticle reports Votes = -1).
type HN struct {
	cn *conn
}

var _ hn.Backend = (*HN)(nil)

// ErrConfig is the error of an hn configuration the Redis back end cannot
// run.
var ErrConfig = errors.New("redis shim: unsupported hn configuration")

// NewHN connects to the Redis server at addr; completions run on loop. It
// fails (with ErrConfig) unless cfg has mk and not ma.
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
	return &HN{cn: cn}, nil
}

// Name reports "redis".
func (h *HN) Name() string { return "redis" }

// Initialize does nothing: there are no joins or schema.
func (h *HN) Initialize(ctx context.Context) error { return nil }

// PostPopulate does nothing: karma is maintained eagerly.
func (h *HN) PostPopulate(ctx context.Context) error { return nil }

// PostArticle stores a|aid and counts the author's self-vote in k|author
// (see HN for why the latter deviates from the original).
func (h *HN) PostArticle(author, aid uint32, karma int64, done func(error)) {
	g := &gather{n: 2, done: done}
	v := hashhn.ArticleValue(author)
	h.cn.send(func(call *redisclient.Call) { g.finish(check(call, "post_article")) }, cmdSET, hashhn.Key("a|", aid), v)
	h.cn.send(func(call *redisclient.Call) { g.finish(check(call, "post_article karma")) }, cmdINCR, hashhn.Key("k|", author))
}

// Vote appends voter to v|aid and increments the author's karma.
func (h *HN) Vote(voter, aid, author uint32, karma int64, done func(error)) {
	g := &gather{n: 2, done: done}
	v := hashhn.VoteEntry(voter)
	h.cn.send(func(call *redisclient.Call) { g.finish(check(call, "vote")) }, cmdAPPEND, hashhn.Key("v|", aid), v)
	h.cn.send(func(call *redisclient.Call) { g.finish(check(call, "vote karma")) }, cmdINCR, hashhn.Key("k|", author))
}

// PostComment stores c|cid and appends "commenter|cid" 0xAD to ac|aid.
func (h *HN) PostComment(commenter, aid, author, cid uint32, done func(error)) {
	g := &gather{n: 2, done: done}
	e := hashhn.CommentEntry(commenter, cid)
	h.cn.send(func(call *redisclient.Call) { g.finish(check(call, "post_comment")) }, cmdSET, hashhn.Key("c|", cid), []byte(hashhn.CommentText))
	h.cn.send(func(call *redisclient.Call) { g.finish(check(call, "post_comment list")) }, cmdAPPEND, hashhn.Key("ac|", aid), e)
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
	h.cn.send(func(call *redisclient.Call) {
		if err := check(call, "read_article"); err != nil {
			g.finish(err)
			return
		}
		if !call.Reply.Nil {
			v := call.Reply.Str
			a, err := hashhn.ArticleAuthor(v)
			if err != nil {
				g.finish(fmt.Errorf("redis shim: read_article: a|%d: %w", aid, err))
				return
			}
			page.Author = a
		}
		g.finish(nil)
	}, cmdGET, hashhn.Key("a|", aid))
	h.cn.send(func(call *redisclient.Call) {
		if err := check(call, "read_article comments"); err != nil {
			g.finish(err)
			return
		}
		cs, err := hashhn.ParseComments(call.Reply.Str)
		if err != nil {
			g.finish(fmt.Errorf("redis shim: read_article ac|%d: %w", aid, err))
			return
		}
		page.Comments = cs
		g.n += 2 * len(cs)
		for i := range cs {
			h.cn.send(func(call *redisclient.Call) {
				g.finish(check(call, "read_article comment"))
			}, cmdGET, hashhn.Key("c|", cs[i].ID))
			h.cn.send(func(call *redisclient.Call) {
				if err := check(call, "read_article karma"); err != nil {
					g.finish(err)
					return
				}
				if !call.Reply.Nil {
					k, err := strconv.ParseInt(string(call.Reply.Str), 10, 64)
					if err != nil {
						g.finish(fmt.Errorf("redis shim: read_article: k|%d = %q: %w", cs[i].Commenter, call.Reply.Str, err))
						return
					}
					cs[i].Karma = k
				}
				g.finish(nil)
			}, cmdGET, hashhn.Key("k|", cs[i].Commenter))
		}
		g.finish(nil)
	}, cmdGET, hashhn.Key("ac|", aid))
}

// Stats returns nil: the Redis back end reports no server statistics.
func (h *HN) Stats(ctx context.Context) ([]json.RawMessage, error) { return nil, nil }

// Control returns nil: the Redis back end has no controls.
func (h *HN) Control(ctx context.Context, obj map[string]any) ([]json.RawMessage, error) {
	return nil, nil
}

// Close closes the connection. Requests still outstanding complete with
// errors when the loop next runs.
func (h *HN) Close() error { return h.cn.close() }
