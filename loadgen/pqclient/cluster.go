package pqclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// Client is what the workloads ask of Pequod: one server (*Conn) or every
// server of a cluster with requests routed by key (*Cluster). Request
// methods are called on the loop's goroutine and complete there.
type Client interface {
	// Loop is the loop completions run on.
	Loop() *async.Loop
	// String describes the connection(s).
	String() string
	Insert(key, value string, done func(error))
	Erase(key string, done func(error))
	Get(key string, done func([]byte, error))
	Count(first, last, scanlast string, done func(int64, error))
	Scan(first, last, scanlast string, done func([]wire.KV, error))
	// AddJoin installs a join; msg is the text the server(s) returned.
	AddJoin(first, last, text string, done func(msg string, err error))
	// ServerStats returns the stats object (spec/server.md §5.1) of each
	// server, indexed by seqid (one element for a single server).
	ServerStats(ctx context.Context) ([]json.RawMessage, error)
	// ServerControl sends a control object to each server and returns the
	// replies, indexed by seqid (one element for a single server).
	ServerControl(ctx context.Context, obj map[string]any) ([]json.RawMessage, error)
	// Close closes the connection(s).
	Close() error
}

var (
	_ Client = (*Conn)(nil)
	_ Client = (*Cluster)(nil)
)

// ServerStats implements Client: the server's stats as a one-element list.
func (c *Conn) ServerStats(ctx context.Context) ([]json.RawMessage, error) {
	v, err := c.Stats(ctx)
	if err != nil {
		return nil, err
	}
	return []json.RawMessage{v}, nil
}

// ServerControl implements Client: the server's reply as a one-element
// list.
func (c *Conn) ServerControl(ctx context.Context, obj map[string]any) ([]json.RawMessage, error) {
	v, err := c.Control(ctx, obj)
	if err != nil {
		return nil, err
	}
	return []json.RawMessage{v}, nil
}

// ErrUnowned is the error of a request for a key no server owns under the
// cluster's partition function (owner −1, spec/server.md §2.9). The
// original aborts the client; this one fails the request.
var ErrUnowned = errors.New("pqclient: key has no owning server")

// ClusterConfig describes a cluster and how to route to it
// (spec/server.md §2.10).
type ClusterConfig struct {
	// Hosts are the servers in seqid order (route.ReadHostFile).
	Hosts []route.Host
	// Servers is the partition function; the workload picks it (twitternew
	// or twitternew-text, hackernews), with Servers.N() == len(Hosts).
	Servers *route.Servers
	// RandCache sends every scan and count to a uniformly random cache
	// server (seqids NBacking..N−1) instead of the owner of its first key,
	// from a generator seeded with RandCacheSeed (--rand-cache).
	RandCache bool
	// Colocated sends every request, stats, control and add_join included,
	// to the server whose seqid is Colocate (-c=N together with -H).
	Colocated bool
	Colocate  int
}

// Cluster is a connection to every server of a Pequod cluster, one *Conn
// per server, routing each request as the original's MultiClient:
// get/insert/erase to the key's owner, scan/count to the owner of the first
// key (or, with RandCache, a random cache server), add_join to every cache
// server, stats and control to every server. Like Conn, its request methods
// run on the loop's goroutine.
type Cluster struct {
	loop    *async.Loop
	conns   []*Conn
	hosts   []route.Host
	servers *route.Servers
	cfg     ClusterConfig
	rng     *minstd // RandCache choices; loop goroutine only
}

// DialCluster connects to every server of cfg.Hosts in seqid order. A
// connection that fails closes those already made and names the server.
func DialCluster(ctx context.Context, cfg ClusterConfig, loop *async.Loop) (*Cluster, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("pqclient: cluster with no servers")
	}
	if cfg.Servers == nil {
		return nil, errors.New("pqclient: cluster without a partition function")
	}
	if n := cfg.Servers.N(); n != len(cfg.Hosts) {
		return nil, fmt.Errorf("pqclient: partition function %q is for %d servers, the host list has %d", cfg.Servers.Name(), n, len(cfg.Hosts))
	}
	if cfg.Colocated && (cfg.Colocate < 0 || cfg.Colocate >= len(cfg.Hosts)) {
		return nil, fmt.Errorf("pqclient: colocated server %d: the host list has %d servers (seqids 0..%d)", cfg.Colocate, len(cfg.Hosts), len(cfg.Hosts)-1)
	}
	cl := &Cluster{loop: loop, hosts: cfg.Hosts, servers: cfg.Servers, cfg: cfg, rng: newMinstd(RandCacheSeed)}
	for i, h := range cfg.Hosts {
		if h.Seqid != i {
			cl.Close()
			return nil, fmt.Errorf("pqclient: host list out of order: %s at index %d", h, i)
		}
		wc, err := wire.DialContext(ctx, h.Addr(), nil)
		if err != nil {
			cl.Close()
			return nil, fmt.Errorf("pqclient: connection error (%s): %w", h, err)
		}
		cl.conns = append(cl.conns, &Conn{loop: loop, t: newRemote(wc, loop)})
	}
	return cl, nil
}

// Loop is the loop the connections' completions run on.
func (cl *Cluster) Loop() *async.Loop { return cl.loop }

// String describes the cluster.
func (cl *Cluster) String() string {
	s := fmt.Sprintf("cluster of %d servers (%d base, partition function %s)", len(cl.hosts), cl.servers.NBacking(), cl.servers.Name())
	if cl.cfg.Colocated {
		s += fmt.Sprintf(", everything to %s", cl.hosts[cl.cfg.Colocate])
	}
	return s
}

// Close closes every connection.
func (cl *Cluster) Close() error {
	var errs []error
	for i, c := range cl.conns {
		if err := c.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cl.hosts[i], err))
		}
	}
	return errors.Join(errs...)
}

// owner returns the connection to key's owner, or an error for a key no
// server owns.
func (cl *Cluster) owner(key string) (*Conn, error) {
	if cl.cfg.Colocated {
		return cl.conns[cl.cfg.Colocate], nil
	}
	o := cl.servers.Owner(key)
	if o < 0 {
		return nil, fmt.Errorf("%w: %q under partition function %q (spec/server.md §2.9)", ErrUnowned, key, cl.servers.Name())
	}
	return cl.conns[o], nil
}

// reader returns the connection a scan or count of a range starting at
// first goes to.
func (cl *Cluster) reader(first string) (*Conn, error) {
	if cl.cfg.RandCache && !cl.cfg.Colocated {
		return cl.conns[cl.rng.uniform(cl.servers.NBacking(), len(cl.conns)-1)], nil
	}
	return cl.owner(first)
}

// fail completes a request that could not be sent, on the loop.
func (cl *Cluster) fail(fn func()) {
	cl.loop.Start()
	cl.loop.Finish(fn)
}

// Insert stores key = value on the key's owner.
func (cl *Cluster) Insert(key, value string, done func(error)) {
	c, err := cl.owner(key)
	if err != nil {
		cl.fail(func() {
			if done != nil {
				done(err)
			}
		})
		return
	}
	c.Insert(key, value, done)
}

// Erase removes key on its owner.
func (cl *Cluster) Erase(key string, done func(error)) {
	c, err := cl.owner(key)
	if err != nil {
		cl.fail(func() {
			if done != nil {
				done(err)
			}
		})
		return
	}
	c.Erase(key, done)
}

// Get reads key from its owner.
func (cl *Cluster) Get(key string, done func([]byte, error)) {
	c, err := cl.owner(key)
	if err != nil {
		cl.fail(func() { done(nil, err) })
		return
	}
	c.Get(key, done)
}

// Count counts on the owner of first (or a random cache server).
func (cl *Cluster) Count(first, last, scanlast string, done func(int64, error)) {
	c, err := cl.reader(first)
	if err != nil {
		cl.fail(func() { done(0, err) })
		return
	}
	c.Count(first, last, scanlast, done)
}

// Scan scans on the owner of first (or a random cache server).
func (cl *Cluster) Scan(first, last, scanlast string, done func([]wire.KV, error)) {
	c, err := cl.reader(first)
	if err != nil {
		cl.fail(func() { done(nil, err) })
		return
	}
	c.Scan(first, last, scanlast, done)
}

// joinResult is one cache server's add_join outcome in the combined reply
// (spec/server.md §2.10).
type joinResult struct {
	Range   [2]string `json:"range"`
	OK      bool      `json:"ok,omitempty"`
	Message string    `json:"message,omitempty"`
}

// AddJoin installs the join on every cache server (seqid >= NBacking), or
// on the colocated server alone. As the original's MultiClient, the result
// is empty unless some server returned a message; then msg is the JSON
// array of per-server results indexed by seqid (null for base servers),
// each {"range": [first, last], "ok": true?, "message": text?}: the
// "message" of the original's {"message": [...]}. err is set if any server
// failed, naming the one with the lowest seqid.
func (cl *Cluster) AddJoin(first, last, text string, done func(msg string, err error)) {
	if cl.cfg.Colocated {
		cl.conns[cl.cfg.Colocate].AddJoin(first, last, text, done)
		return
	}
	res := make([]*joinResult, len(cl.conns))
	errs := make([]error, len(cl.conns))
	anyMsg := false
	left := len(cl.conns) - cl.servers.NBacking()
	for i := cl.servers.NBacking(); i < len(cl.conns); i++ {
		cl.conns[i].AddJoin(first, last, text, func(msg string, err error) {
			res[i] = &joinResult{Range: [2]string{first, last}, OK: err == nil, Message: msg}
			anyMsg = anyMsg || msg != ""
			if err != nil {
				errs[i] = fmt.Errorf("add_join on %s: %w", cl.hosts[i], err)
			}
			if left--; left > 0 {
				return
			}
			var firstErr error
			for _, e := range errs {
				if e != nil {
					firstErr = e
					break
				}
			}
			out := ""
			if anyMsg {
				b, merr := json.Marshal(res)
				if merr != nil && firstErr == nil {
					firstErr = fmt.Errorf("add_join: encode the servers' results: %w", merr)
				}
				out = string(b)
			}
			done(out, firstErr)
		})
	}
}

// targets are the connections stats and control go to, by seqid.
func (cl *Cluster) targets() []*Conn {
	if cl.cfg.Colocated {
		return cl.conns[cl.cfg.Colocate : cl.cfg.Colocate+1]
	}
	return cl.conns
}

// ServerStats implements Client: every server's stats, indexed by seqid
// (the colocated server's alone in colocated mode).
func (cl *Cluster) ServerStats(ctx context.Context) ([]json.RawMessage, error) {
	return cl.all(ctx, "stats", func(c *Conn, done func(json.RawMessage, error)) { c.StatsAsync(done) })
}

// ServerControl implements Client: obj sent to every server, the replies
// indexed by seqid (the colocated server's alone in colocated mode).
// {"quit": true} gets no replies; do not send it through here.
func (cl *Cluster) ServerControl(ctx context.Context, obj map[string]any) ([]json.RawMessage, error) {
	return cl.all(ctx, "control", func(c *Conn, done func(json.RawMessage, error)) { c.ControlAsync(obj, done) })
}

// all sends one request per target and waits for every reply.
func (cl *Cluster) all(ctx context.Context, what string, send func(*Conn, func(json.RawMessage, error))) ([]json.RawMessage, error) {
	ts := cl.targets()
	out := make([]json.RawMessage, len(ts))
	errs := make([]error, len(ts))
	left := len(ts)
	for i, c := range ts {
		send(c, func(v json.RawMessage, err error) {
			out[i] = v
			if err != nil {
				seqid := i
				if cl.cfg.Colocated {
					seqid = cl.cfg.Colocate
				}
				errs[i] = fmt.Errorf("%s on %s: %w", what, cl.hosts[seqid], err)
			}
			left--
		})
	}
	if err := cl.loop.Until(ctx, func() bool { return left == 0 }); err != nil {
		return nil, err
	}
	if err := errors.Join(errs...); err != nil {
		return out, err
	}
	return out, nil
}

// ReadyInterval is how often WaitReady asks the servers whether they are
// ready (spec/server.md §3.2).
const ReadyInterval = time.Second

// WaitReady sends control {"is_ready": true} to every server of c every
// interval until every reply is true (a non-boolean reply counts as ready,
// spec/server.md §3.2).
func WaitReady(ctx context.Context, c Client, interval time.Duration) error {
	for {
		vs, err := c.ServerControl(ctx, map[string]any{"is_ready": true})
		if err != nil {
			return fmt.Errorf("is_ready: %w", err)
		}
		if allReady(vs) {
			return nil
		}
		t := time.NewTimer(interval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// allReady reports whether no reply is false (an array reply counts
// element by element).
func allReady(vs []json.RawMessage) bool {
	for _, v := range vs {
		var x any
		if json.Unmarshal(v, &x) != nil {
			continue
		}
		elems, ok := x.([]any)
		if !ok {
			elems = []any{x}
		}
		for _, e := range elems {
			if b, ok := e.(bool); ok && !b {
				return false
			}
		}
	}
	return true
}
