// Package route maps keys and key ranges to the partitions that own them:
// the default group hash and the named partition functions of the original
// (spec/server.md §2.9). A Router is pure: it keeps no state beyond its
// configuration and is safe for concurrent use.
//
// The same functions place keys on the servers of a cluster: Servers (the
// original's owners, −1 included, and range analysis) and the host file
// with its identity rules (Host, ReadHostFile, FindSelf; server.md §2.8).
package route

import (
	"fmt"
	"strings"

	"github.com/pequod-go/pequod/joins"
)

// Router maps keys and ranges to partitions.
type Router interface {
	// Owner returns the partition that owns key.
	Owner(key string) int
	// RangeOwner returns the single partition owning every key of
	// [first,last), or -1 if the range may span partitions.
	RangeOwner(first, last string) int
}

// New returns the named partition function for n partitions.
//
// "default" (or "") keeps each `table|first-field|…` group in one partition:
// a key is placed by a hash of its text through its second '|' (the whole
// key if it has fewer), so a user's timeline, a poster's posts or an
// article's votes each live in one partition and a scan of one of them is
// answered by one partition.
//
// "twitternew", "twitternew-text", "twitter", "hackernews" and "unit" are
// the named partition functions of the original (server.md §2.9,
// partfunc.go) with the partitions as its servers: nservers = n and
// nbacking = 0, so the backing and caching groups both spread over every
// partition. Keys the original gives to nobody (owner −1: prefixes with no
// group and the default owner) go to partition 0. "original-default" is the
// original's "default", which was meant as text 1 over all servers but, by
// a verified defect (the default group added after the empty prefix shadows
// it), maps every key to server 0; it is reproduced as such.
func New(name string, n int) (Router, error) {
	if n < 1 {
		return nil, fmt.Errorf("partition function %q: need at least one partition, got %d", name, n)
	}
	switch name {
	case "", "default":
		return groupHash{n: n}, nil
	case "twitternew", "twitternew-text", "twitter", "hackernews", "unit", "original-default":
		f, err := newPartFunc(name, 0, n)
		if err != nil {
			return nil, err
		}
		return f, nil
	}
	return nil, fmt.Errorf("unknown partition function %q (known: default, %s)", name, strings.Join(partFuncNames, ", "))
}

// groupHash is the default partition function.
type groupHash struct{ n int }

// group returns the key's `table|field|` prefix, or the whole key.
func group(key string) string {
	i := strings.IndexByte(key, '|')
	if i < 0 {
		return key
	}
	j := strings.IndexByte(key[i+1:], '|')
	if j < 0 {
		return key
	}
	return key[:i+1+j+1]
}

func (g groupHash) Owner(key string) int {
	if g.n == 1 {
		return 0
	}
	h := uint32(2166136261) // FNV-1a
	gr := group(key)
	for i := 0; i < len(gr); i++ {
		h ^= uint32(gr[i])
		h *= 16777619
	}
	return int(h % uint32(g.n))
}

func (g groupHash) RangeOwner(first, last string) int {
	if g.n == 1 {
		return 0
	}
	if last == joins.KeySuccessor(first) {
		return g.Owner(first)
	}
	gr := group(first)
	if strings.HasSuffix(gr, "|") && strings.Count(gr, "|") == 2 && last <= joins.PrefixEnd(gr) {
		return g.Owner(first)
	}
	return -1
}
