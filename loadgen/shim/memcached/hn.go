package memcached

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
	"github.com/pequod-go/pequod/loadgen/memcache"
)

// HN values (apps.md §5.2): article and comment texts.
const (
	articleText = "lalalalaxx"
	commentText = "calalalaxx"
	// commentSep terminates each entry of an ac| list (apps.md §5.6).
	commentSep = 0xAD
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

func hnKey(prefix string, id uint32) []byte {
	return strconv.AppendUint([]byte(prefix), uint64(id), 10)
}

func (h *HN) incrKarma(author uint32, op string, g *gather) {
	h.cn.send(memcache.Request{Op: memcache.OpIncrement, Key: hnKey("k|", author), Delta: 1, Initial: 1},
		func(call *memcache.Call) { g.finish(check(call, op)) })
}

func (h *HN) appendTo(key, v []byte, op string, g *gather) {
	h.cn.send(memcache.Request{Op: memcache.OpAppend, Key: key, Value: v, Create: true},
		func(call *memcache.Call) { g.finish(check(call, op)) })
}

// PostArticle stores a|aid and counts the author's self-vote in k|author.
func (h *HN) PostArticle(author, aid uint32, karma int64, done func(error)) {
	g := &gather{n: 2, done: done}
	v := strconv.AppendUint(nil, uint64(author), 10)
	v = append(append(v, '|'), articleText...)
	h.cn.send(memcache.Request{Op: memcache.OpSet, Key: hnKey("a|", aid), Value: v},
		func(call *memcache.Call) { g.finish(check(call, "post_article")) })
	h.incrKarma(author, "post_article karma", g)
}

// Vote appends voter to v|aid and increments the author's karma.
func (h *HN) Vote(voter, aid, author uint32, karma int64, done func(error)) {
	g := &gather{n: 2, done: done}
	h.appendTo(hnKey("v|", aid), append(strconv.AppendUint(nil, uint64(voter), 10), ','), "vote", g)
	h.incrKarma(author, "vote karma", g)
}

// PostComment stores c|cid and appends "commenter|cid" 0xAD to ac|aid.
func (h *HN) PostComment(commenter, aid, author, cid uint32, done func(error)) {
	g := &gather{n: 2, done: done}
	e := strconv.AppendUint(nil, uint64(commenter), 10)
	e = strconv.AppendUint(append(e, '|'), uint64(cid), 10)
	e = append(e, commentSep)
	h.cn.send(memcache.Request{Op: memcache.OpSet, Key: hnKey("c|", cid), Value: []byte(commentText)},
		func(call *memcache.Call) { g.finish(check(call, "post_comment")) })
	h.appendTo(hnKey("ac|", aid), e, "post_comment list", g)
}

func parseU32(b []byte) (uint32, error) {
	if len(b) == 0 {
		return 0, errors.New("empty number")
	}
	v, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(v), err
}

// parseComments splits an ac| value into its comments.
func parseComments(v []byte) ([]hn.Comment, error) {
	var cs []hn.Comment
	for len(v) > 0 {
		end := bytes.IndexByte(v, commentSep)
		if end < 0 {
			return nil, fmt.Errorf("%w: unterminated comment entry %q", ErrMalformed, v)
		}
		ent := v[:end]
		v = v[end+1:]
		bar := bytes.IndexByte(ent, '|')
		if bar < 0 {
			return nil, fmt.Errorf("%w: comment entry %q", ErrMalformed, ent)
		}
		commenter, err1 := parseU32(ent[:bar])
		cid, err2 := parseU32(ent[bar+1:])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%w: comment entry %q: %w", ErrMalformed, ent, err)
		}
		cs = append(cs, hn.Comment{ID: cid, Commenter: commenter})
	}
	return cs, nil
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
	h.cn.send(memcache.Request{Op: memcache.OpGet, Key: hnKey("a|", aid)}, func(call *memcache.Call) {
		v, err := value(call, "read_article")
		if err != nil || call.Status == memcache.StatusKeyNotFound {
			g.finish(err)
			return
		}
		bar := bytes.IndexByte(v, '|')
		a, err := parseU32(v[:max(bar, 0)])
		if bar < 0 || err != nil {
			g.finish(fmt.Errorf("memcached shim: read_article: %w: a|%d = %q", ErrMalformed, aid, v))
			return
		}
		page.Author = a
		g.finish(nil)
	})
	h.cn.send(memcache.Request{Op: memcache.OpGet, Key: hnKey("ac|", aid)}, func(call *memcache.Call) {
		v, err := value(call, "read_article comments")
		if err != nil {
			g.finish(err)
			return
		}
		cs, err := parseComments(v)
		if err != nil {
			g.finish(fmt.Errorf("memcached shim: read_article ac|%d: %w", aid, err))
			return
		}
		page.Comments = cs
		g.n += 2 * len(cs)
		for i := range cs {
			h.cn.send(memcache.Request{Op: memcache.OpGet, Key: hnKey("c|", cs[i].ID)}, func(call *memcache.Call) {
				_, err := value(call, "read_article comment")
				g.finish(err)
			})
			h.cn.send(memcache.Request{Op: memcache.OpGet, Key: hnKey("k|", cs[i].Commenter)}, func(call *memcache.Call) {
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
