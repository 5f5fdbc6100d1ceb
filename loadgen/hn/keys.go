package hn

import (
	"errors"
	"strconv"
)

// Pequod key schema of HN (apps.md §5.2). Every id is a 7-digit
// zero-padded decimal field; an article's id in keys is AID14, the
// concatenation of its author's and its own 7-digit ids, so that an
// author's articles are one key range (the karma join counts over it).

// Values stored by the workload (§5.2).
const (
	ArticleValue  = "lalalalaxx"
	CommentValue  = "calalalaxx"
	SelfVoteValue = "1"
	VoteValue     = ""
)

// appendID appends x as a 7-digit zero-padded decimal field. Ids are
// below MaxID (callers check); larger ones would print more digits.
func appendID(b []byte, x uint32) []byte {
	var d [7]byte
	for i := 6; i >= 0; i-- {
		d[i] = byte('0' + x%10)
		x /= 10
	}
	if x != 0 {
		return strconv.AppendUint(b, uint64(x), 10) // never with checked ids
	}
	return append(b, d[:]...)
}

// AID14 is the 14-character article id of keys: %07d(author)%07d(aid).
func AID14(author, aid uint32) string {
	b := make([]byte, 0, 14)
	return string(appendID(appendID(b, author), aid))
}

func key(prefix string, parts ...uint32) string {
	b := make([]byte, 0, len(prefix)+8*len(parts))
	b = append(b, prefix...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '|')
		}
		b = appendID(b, p)
	}
	return string(b)
}

// ArticleKey is a|AID14 (16 bytes).
func ArticleKey(author, aid uint32) string { return "a|" + AID14(author, aid) }

// VoteKey is v|AID14|%07d(voter) (24 bytes).
func VoteKey(author, aid, voter uint32) string {
	return "v|" + AID14(author, aid) + "|" + key("", voter)
}

// CommentKey is c|AID14|%07d(cid)|%07d(commenter) (32 bytes).
func CommentKey(author, aid, cid, commenter uint32) string {
	return "c|" + AID14(author, aid) + "|" + key("", cid, commenter)
}

// KarmaKey is k|%07d(author) (9 bytes).
func KarmaKey(author uint32) string { return key("k|", author) }

// VoteCountKey is p|AID14, an article's vote count (16 bytes).
func VoteCountKey(author, aid uint32) string { return "p|" + AID14(author, aid) }

// PageFirst and PageLast bound an article's materialized page
// [ma|AID14|, ma|AID14}) (§5.4).
func PageFirst(author, aid uint32) string { return "ma|" + AID14(author, aid) + "|" }

// PageLast is the end of the article's materialized page range.
func PageLast(author, aid uint32) string { return "ma|" + AID14(author, aid) + "}" }

// CommentsFirst and CommentsLast bound an article's comments
// [c|AID14|, c|AID14}).
func CommentsFirst(author, aid uint32) string { return "c|" + AID14(author, aid) + "|" }

// CommentsLast is the end of the article's comment range.
func CommentsLast(author, aid uint32) string { return "c|" + AID14(author, aid) + "}" }

// VotesFirst and VotesLast bound an article's votes [v|AID14|, v|AID14}).
func VotesFirst(author, aid uint32) string { return "v|" + AID14(author, aid) + "|" }

// VotesLast is the end of the article's vote range.
func VotesLast(author, aid uint32) string { return "v|" + AID14(author, aid) + "}" }

// AuthorArticlesFirst and AuthorArticlesLast bound an author's articles
// [a|%07d(author)0, a|%07d(author)}) as the pull-mode karma computation
// scans them (§5.4). Article ids below MaxID start with a digit ≥ '0', so
// the range holds every article of the author.
func AuthorArticlesFirst(author uint32) string { return key("a|", author) + "0" }

// AuthorArticlesLast is the end of the author's article range.
func AuthorArticlesLast(author uint32) string { return key("a|", author) + "}" }

// errBadKey reports a key that does not follow the schema.
var errBadKey = errors.New("hn: key does not follow the schema")

// parseID parses a 7-digit field.
func parseID(s string) (uint32, bool) {
	if len(s) != 7 {
		return 0, false
	}
	var x uint32
	for i := 0; i < 7; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		x = x*10 + uint32(c-'0')
	}
	return x, true
}

// parseCidCommenter parses "%07d(cid)|%07d(commenter)".
func parseCidCommenter(s string) (cid, commenter uint32, err error) {
	if len(s) != 15 || s[7] != '|' {
		return 0, 0, errBadKey
	}
	cid, ok1 := parseID(s[:7])
	commenter, ok2 := parseID(s[8:])
	if !ok1 || !ok2 {
		return 0, 0, errBadKey
	}
	return cid, commenter, nil
}

// parseCount parses a count value: decimal, "" (an absent key) is 0.
func parseCount(v []byte) (int64, error) {
	if len(v) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, errors.New("hn: count value " + strconv.Quote(string(v)) + " is not a decimal integer")
	}
	return n, nil
}

// Join specifications installed by the Pequod back end (apps.md §5.3).
const (
	// KarmaJoin: karma = number of votes on all of the author's articles
	// (range [k|, k})).
	KarmaJoin = "k|<author> = count v|<author><seqid>|<voter> where author:7, seqid:7, voter:7"
	// VoteCountJoin: per-article vote count (range [p|, p})).
	VoteCountJoin = "p|<aid> = count v|<aid>|<voter> where aid:14, voter:7"
	// PageArticleJoin, PageVotesJoin, PageCommentsJoin and PageKarmaJoin
	// materialize article pages (range [ma|, ma})); PageKarmaJoin only with
	// materialized karma.
	PageArticleJoin  = "ma|<aid>|a = a|<aid> where aid:14"
	PageVotesJoin    = "ma|<aid>|v = copy p|<aid> where aid:14"
	PageCommentsJoin = "ma|<aid>|c|<cid>|<commenter> = c|<aid>|<cid>|<commenter> where aid:14, cid:7, commenter:7"
	PageKarmaJoin    = "ma|<aid>|k|<cid>|<commenter> = using c|<aid>|<cid>|<commenter> copy k|<commenter> where aid:14, cid:7, commenter:7"
)

// JoinSpec is one join to install: range [First, Last) and its text.
type JoinSpec struct {
	First, Last, Text string
}

// Joins lists the joins the Pequod back end installs for normalized p
// (§5.3): none in push mode; the karma and vote-count joins when karma is
// materialized; the page joins with super_materialize, the page karma join
// only together with materialized karma.
func Joins(p Params) []JoinSpec {
	if p.Push {
		return nil
	}
	var js []JoinSpec
	if p.MK() {
		js = append(js,
			JoinSpec{"k|", "k}", KarmaJoin},
			JoinSpec{"p|", "p}", VoteCountJoin})
	}
	if p.MA() {
		js = append(js,
			JoinSpec{"ma|", "ma}", PageArticleJoin},
			JoinSpec{"ma|", "ma}", PageVotesJoin},
			JoinSpec{"ma|", "ma}", PageCommentsJoin})
		if p.MK() {
			js = append(js, JoinSpec{"ma|", "ma}", PageKarmaJoin})
		}
	}
	return js
}
