// Package hashhn owns the key-value layout of the Hacker News workload on
// hash stores (apps.md §5.6), shared by the Redis and memcached back ends:
// unpadded decimal ids, articles as "<author>|text", votes and comment
// lists as appended entries. The back ends differ only in how they send
// the SET, APPEND, INCR and GET requests.
package hashhn

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	"github.com/pequod-go/pequod/loadgen/hn"
)

// Values of apps.md §5.2: article and comment texts.
const (
	ArticleText = "lalalalaxx"
	CommentText = "calalalaxx"
	// CommentSep terminates each entry of an ac| list (§5.6).
	CommentSep = 0xAD
)

// ErrMalformed is the error of a stored value that does not follow the
// layout.
var ErrMalformed = errors.New("malformed hn value")

// Key is prefix followed by id in decimal: a|<aid>, v|<aid>, c|<cid>,
// ac|<aid>, k|<author>.
func Key(prefix string, id uint32) []byte {
	return strconv.AppendUint([]byte(prefix), uint64(id), 10)
}

// ArticleValue is a|<aid>'s value: "<author>|lalalalaxx".
func ArticleValue(author uint32) []byte {
	return append(append(strconv.AppendUint(nil, uint64(author), 10), '|'), ArticleText...)
}

// ArticleAuthor reads the author back from an ArticleValue.
func ArticleAuthor(v []byte) (uint32, error) {
	bar := bytes.IndexByte(v, '|')
	if bar < 0 {
		return 0, fmt.Errorf("%w: article %q", ErrMalformed, v)
	}
	a, err := ParseU32(v[:bar])
	if err != nil {
		return 0, fmt.Errorf("%w: article %q: %w", ErrMalformed, v, err)
	}
	return a, nil
}

// VoteEntry is what a vote appends to v|<aid>: "<voter>,".
func VoteEntry(voter uint32) []byte {
	return append(strconv.AppendUint(nil, uint64(voter), 10), ',')
}

// CommentEntry is what a comment appends to ac|<aid>: "<commenter>|<cid>"
// and CommentSep (with the §5.6 Go fix: the comment id, not the article id).
func CommentEntry(commenter, cid uint32) []byte {
	e := strconv.AppendUint(nil, uint64(commenter), 10)
	e = strconv.AppendUint(append(e, '|'), uint64(cid), 10)
	return append(e, CommentSep)
}

// ParseComments splits an ac| value into its comments (Karma left 0).
func ParseComments(v []byte) ([]hn.Comment, error) {
	var cs []hn.Comment
	for len(v) > 0 {
		end := bytes.IndexByte(v, CommentSep)
		if end < 0 {
			return nil, fmt.Errorf("%w: unterminated comment entry %q", ErrMalformed, v)
		}
		ent := v[:end]
		v = v[end+1:]
		bar := bytes.IndexByte(ent, '|')
		if bar < 0 {
			return nil, fmt.Errorf("%w: comment entry %q", ErrMalformed, ent)
		}
		commenter, err1 := ParseU32(ent[:bar])
		cid, err2 := ParseU32(ent[bar+1:])
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("%w: comment entry %q: %w", ErrMalformed, ent, err)
		}
		cs = append(cs, hn.Comment{ID: cid, Commenter: commenter})
	}
	return cs, nil
}

// ParseU32 parses a non-empty unpadded decimal uint32.
func ParseU32(b []byte) (uint32, error) {
	if len(b) == 0 {
		return 0, errors.New("empty number")
	}
	v, err := strconv.ParseUint(string(b), 10, 32)
	return uint32(v), err
}
