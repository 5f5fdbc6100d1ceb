package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/kv"
	"github.com/pequod-go/pequod/loadgen/pqclient"
	memcachedshim "github.com/pequod-go/pequod/loadgen/shim/memcached"
	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/reactor"
)

// kvOptions are the parsed flags of `pequod kv`.
type kvOptions struct {
	prof       profiling
	cfg        kv.Config
	backend    string
	embedded   bool
	partitions int
	loops      int
	extra      map[string]any
	quiet      bool
	// hostFile, when set, is the cluster the load goes to (-H); cluster
	// holds its hosts and partition function once parsed.
	hostFile string
	cluster  *kv.Cluster
}

// defaultKVAddr is the server address per back end when -addr is not given.
var defaultKVAddr = map[string]string{"pequod": "127.0.0.1:8000", "redis": "127.0.0.1:6379", "memcached": "127.0.0.1:11211"}

// parseKVArgs parses the flags of `pequod kv`.
func parseKVArgs(args []string, stderr io.Writer) (*kvOptions, error) {
	o := &kvOptions{extra: map[string]any{}}
	fs := flag.NewFlagSet("kv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: pequod kv [flags]\n\nmemtier-like get/set load against Pequod or Redis; JSON result on stdout, progress on stderr.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.backend, "backend", "pequod", "server `kind`: pequod, redis or memcached")
	addr := fs.String("addr", "", "server `host:port` (default 127.0.0.1:8000 for pequod, 127.0.0.1:6379 for redis)")
	fs.BoolVar(&o.embedded, "embedded", false, "pequod only, without -addr: start an in-process server on a free loopback port")
	fs.IntVar(&o.partitions, "partitions", runtime.NumCPU(), "partitions of the -embedded server")
	fs.IntVar(&o.loops, "loops", runtime.NumCPU(), "network event loops of the -embedded server")
	conns := fs.Int("conns", 50, "connections")
	depth := fs.Int("depth", 32, "pipeline depth: requests in flight per connection")
	keys := fs.Int("keys", 100000, "key space: keys 0 .. keys-1")
	keySize := fs.Int("key-size", 0, "total key length in `bytes` (default: prefix + 10 digits)")
	prefix := fs.String("prefix", "m|", "key prefix (Pequod keys need a table: \"T|\")")
	value := fs.Int("value", 32, "value size in `bytes`")
	ratio := fs.String("ratio", "1:1", "get:set ratio (1:0 read-only, 0:1 write-only)")
	duration := fs.Duration("duration", 5*time.Second, "length of the measured phase")
	requests := fs.Int64("requests", 0, "issue exactly `N` requests instead of running for -duration")
	populate := fs.Bool("populate", true, "set every key once before measuring")
	seed := fs.Uint64("seed", 1, "seed of the per-connection key/op sequences")
	drain := fs.Duration("drain-timeout", 10*time.Second, "how long to wait for outstanding replies at the end")
	fs.BoolVar(&o.quiet, "q", false, "no progress on stderr")
	fs.StringVar(&o.hostFile, "H", "", "pequod only: host `file` of a cluster (lines `<host> <port>`); every key goes to its owner under -partfunc")
	fs.StringVar(&o.hostFile, "hostfile", "", "same as -H")
	var nbacking int
	fs.IntVar(&nbacking, "B", 0, "with -H: the first `N` servers are base servers")
	fs.IntVar(&nbacking, "nbacking", 0, "same as -B")
	partfunc := fs.String("partfunc", "unit", "with -H: the servers' partition `function` (server.md §2.9); keys p|NNNNN with -prefix p| -key-size 7 spread over the base servers under twitternew-text")
	fs.Func("extra", "annotate the JSON result: `key=value` (repeatable; numbers stay numbers)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return errors.New("want key=value")
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			o.extra[k] = f
		} else {
			o.extra[k] = v
		}
		return nil
	})
	o.prof.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var be kv.Backend
	if o.backend == "memcached" {
		be = memcachedshim.KV{}
	} else {
		var err error
		if be, err = kv.NewBackend(o.backend); err != nil {
			return nil, err
		}
	}
	gets, sets, err := parseRatio(*ratio)
	if err != nil {
		return nil, err
	}
	if *conns <= 0 || *depth <= 0 || *keys <= 0 || *value < 0 || *keySize < 0 {
		return nil, errors.New("-conns, -depth and -keys must be positive, -value and -key-size non-negative")
	}
	if *requests < 0 || *duration < 0 || (*requests == 0 && *duration == 0) {
		return nil, errors.New("need a positive -duration or -requests")
	}
	if o.hostFile != "" {
		switch {
		case o.backend != "pequod":
			return nil, errors.New("-H needs -backend pequod")
		case o.embedded || *addr != "":
			return nil, errors.New("-H excludes -embedded and -addr")
		}
		hosts, err := route.ReadHostFile(o.hostFile)
		if err != nil {
			return nil, err
		}
		servers, err := route.NewServers(*partfunc, nbacking, len(hosts))
		if err != nil {
			return nil, fmt.Errorf("-H %s -B %d: %w", o.hostFile, nbacking, err)
		}
		o.cluster = &kv.Cluster{Hosts: hosts, Servers: servers}
		be = *o.cluster
		*addr = fmt.Sprintf("%s (%d servers, %s)", o.hostFile, len(hosts), *partfunc)
	} else if nbacking != 0 {
		return nil, errors.New("-B needs -H (a host file)")
	}
	if o.embedded {
		if o.backend != "pequod" {
			return nil, errors.New("-embedded needs -backend pequod")
		}
		if *addr != "" {
			return nil, errors.New("-embedded and -addr exclude each other")
		}
		if o.partitions <= 0 || o.loops <= 0 {
			return nil, errors.New("-partitions and -loops must be positive")
		}
	} else if *addr == "" {
		*addr = defaultKVAddr[o.backend]
	}
	p := *prefix
	if p == "" {
		p = kv.NoPrefix
	}
	if *value == 0 {
		return nil, errors.New("-value must be positive")
	}
	o.cfg = kv.Config{
		Backend: be, Addr: *addr,
		Conns: *conns, Depth: *depth, Keys: *keys, KeySize: *keySize, Prefix: p, ValueSize: *value,
		Gets: gets, Sets: sets, Duration: *duration, Requests: *requests,
		Populate: *populate, Seed: *seed, DrainTimeout: *drain,
	}
	if *requests > 0 {
		o.cfg.Duration = 0
	}
	return o, nil
}

// parseRatio parses "G:S" (both non-negative, not both zero).
func parseRatio(s string) (gets, sets int, err error) {
	a, b, ok := strings.Cut(s, ":")
	if ok {
		gets, err = strconv.Atoi(a)
		if err == nil {
			sets, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || gets < 0 || sets < 0 || gets+sets == 0 {
		return 0, 0, fmt.Errorf("bad -ratio %q: want GETS:SETS such as 1:1, 1:0 or 0:1", s)
	}
	return gets, sets, nil
}

// runKV is `pequod kv`: the key-value load generator (loadgen/kv).
func runKV(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseKVArgs(args, stderr)
	if err != nil {
		return err
	}
	stopProf, err := o.prof.start()
	if err != nil {
		return err
	}
	defer func() {
		if err := stopProf(); err != nil {
			fmt.Fprintln(stderr, "kv:", err)
		}
	}()
	if !o.quiet {
		o.cfg.Progress = stderr
	}
	if o.embedded {
		srv, err := partition.New(partition.Config{Partitions: o.partitions})
		if err != nil {
			return err
		}
		defer srv.Close()
		rs, err := reactor.Start(reactor.Config{Addr: "127.0.0.1:0", Loops: o.loops}, srv)
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), serveStopTimeout)
			defer cancel()
			_ = rs.Stop(sctx)
		}()
		o.cfg.Addr = rs.Addr().String()
		o.extra["embedded"] = true
		o.extra["partitions"] = o.partitions
		o.extra["loops"] = o.loops
		if !o.quiet {
			fmt.Fprintf(stderr, "kv: embedded server on %s, %d partitions, %d loops\n", o.cfg.Addr, o.partitions, o.loops)
		}
	}
	if o.cluster != nil {
		if err := waitClusterReady(ctx, o.cluster); err != nil {
			return err
		}
	}
	res, err := kv.Run(ctx, o.cfg)
	if err != nil && res == nil {
		return err
	}
	if len(o.extra) > 0 {
		res.Extra = o.extra
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "    ")
	if werr := enc.Encode(res); werr != nil {
		return werr
	}
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		// Interrupted (SIGINT/SIGTERM): the partial result is printed, but
		// the exit status tells a calling script to stop.
		return errors.New("interrupted")
	}
	if res.Errors.Total > 0 || (res.Populate != nil && res.Populate.Errors.Total > 0) {
		fmt.Fprintf(stderr, "kv: WARNING: %d errors (first: %s)\n", res.Errors.Total, res.Errors.First)
	}
	return nil
}

// waitClusterReady waits until every server of cl answers is_ready with
// true (server.md §3.2), through a short-lived routing client.
func waitClusterReady(ctx context.Context, cl *kv.Cluster) error {
	c, err := pqclient.DialCluster(ctx, pqclient.ClusterConfig{Hosts: cl.Hosts, Servers: cl.Servers}, async.New())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := pqclient.WaitReady(ctx, c, pqclient.ReadyInterval); err != nil {
		return fmt.Errorf("waiting for the servers: %w", err)
	}
	return nil
}
