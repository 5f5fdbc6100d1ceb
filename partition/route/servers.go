package route

import (
	"fmt"
	"strings"
)

// Unowned is the owner of a key no server owns (server.md §2.9: prefixes
// with no group, such as ct|, cs| and xxx| in Twitter-new or p| in Hacker
// News, and keys under the default owner). A server treats such a key as
// local; a client routing by key cannot place it.
const Unowned = -1

// Servers is a §2.9 named partition function over the servers of a
// cluster: make(name, nbacking, nservers, default_owner = −1) of the
// original. Servers 0..NB−1 are the base (backing) servers, NB..N−1 the
// cache servers; with NB = 0 every server is both. Unlike a Router it
// reports the original's owners, Unowned included, since in a cluster a
// key nobody owns must not be sent anywhere in particular. A Servers is
// immutable and safe for concurrent use.
type Servers struct {
	f           *partFunc
	nbacking, n int
}

// ServerFuncNames are the names NewServers accepts: the §2.9 functions,
// with "default" meaning the original's default (every key on server 0, a
// verified defect reproduced; "original-default" is the same function).
func ServerFuncNames() []string { return append([]string{"default"}, partFuncNames...) }

// NewServers builds the named partition function for nservers servers of
// which the first nbacking are base servers (the server passes nservers =
// the host file's length). It rejects nbacking >= nservers, which the
// original silently turns into a cache group on a server that does not
// exist (§2.9, last paragraph). With one server every name puts every key
// on server 0.
func NewServers(name string, nbacking, nservers int) (*Servers, error) {
	if nservers < 1 {
		return nil, fmt.Errorf("partition function %q: need at least one server, got %d", name, nservers)
	}
	if nbacking < 0 || nbacking >= nservers {
		return nil, fmt.Errorf("partition function %q: %d base servers (-B) among %d: need 0 <= nbacking < nservers, so at least one cache server (server.md §2.9)", name, nbacking, nservers)
	}
	fname := name
	if name == "default" {
		fname = "original-default"
	}
	known := false
	for _, k := range partFuncNames {
		known = known || k == fname
	}
	if !known {
		return nil, fmt.Errorf("unknown partition function %q (known: %s)", name, strings.Join(ServerFuncNames(), ", "))
	}
	f, err := newPartFunc(fname, nbacking, nservers)
	if err != nil {
		return nil, err
	}
	f.name = name
	return &Servers{f: f, nbacking: nbacking, n: nservers}, nil
}

// Name is the function's name as given to NewServers.
func (s *Servers) Name() string { return s.f.name }

// N is the number of servers.
func (s *Servers) N() int { return s.n }

// NBacking is the number of base servers (seqids 0..NBacking()-1).
func (s *Servers) NBacking() int { return s.nbacking }

// IsBacking reports whether seqid is a base server. Joins are installed on
// the other servers only (§2.10 add_join; with NBacking() == 0, on all).
func (s *Servers) IsBacking(seqid int) bool { return seqid < s.nbacking }

// Owner returns the seqid of the server that owns key, or Unowned.
func (s *Servers) Owner(key string) int { return s.f.owner(key) }

// Piece is one piece of a range analysis: the keys from Start up to the
// next piece's Start belong to Owner (a seqid or Unowned).
type Piece struct {
	Start string
	Owner int
}

// Analyze is the §2.9 range analysis of [first, last) (last == "" means
// no upper bound), at most limit pieces (limit <= 0: all of them; a whole
// multi-server group has up to 2^24). The first piece starts at first; each
// further one at a partition boundary where the owner changes. A server
// validating a range splits it at these boundaries (§3.4).
func (s *Servers) Analyze(first, last string, limit int) []Piece {
	ps := s.f.analyze(first, last, limit)
	out := make([]Piece, len(ps))
	for i, p := range ps {
		out[i] = Piece{Start: p.start, Owner: p.owner}
	}
	return out
}
