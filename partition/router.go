package partition

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

// NewRouter returns the named partition function for n partitions.
//
// "default" (or "") keeps each `table|first-field|…` group in one partition:
// a key is placed by a hash of its text through its second '|' (the whole
// key if it has fewer), so a user's timeline, a poster's posts or an
// article's votes each live in one partition and a scan of one of them is
// answered by one partition.
func NewRouter(name string, n int) (Router, error) {
	if n < 1 {
		return nil, fmt.Errorf("partition function %q: need at least one partition, got %d", name, n)
	}
	switch name {
	case "", "default":
		return groupHash{n: n}, nil
	}
	return nil, fmt.Errorf("unknown partition function %q (known: default)", name)
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
