package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/hn"
	"github.com/pequod-go/pequod/loadgen/pqclient"
	"github.com/pequod-go/pequod/partition"
)

// hnDefaultClientPort is the port of a bare -c (apps.md §1).
const hnDefaultClientPort = "8000"

// hnDBOptions are the PostgreSQL options of `pequod hn --pg` (apps.md §1
// database options).
type hnDBOptions struct {
	Host      string
	Port      int
	Name      string
	PoolMax   int
	PoolDepth int
}

// hnOptions are the parsed flags of `pequod hn`.
type hnOptions struct {
	prof   profiling
	params hn.Params
	// client is the Pequod server's host:port; "" means an in-process
	// server. With hostFile it is the seqid everything goes to (-c=N with
	// -H), or "".
	client string
	// hostFile lists the servers of a cluster (-H); keys are routed by the
	// hackernews function over nbacking base servers (-B).
	hostFile string
	nbacking int
	// partitions of the in-process server.
	partitions int
	// backend is "pequod", "redis" or "pg".
	backend   string
	redisAddr string
	db        hnDBOptions
}

// hnBoolFlags are the boolean options; they accept --no-NAME (apps.md §1).
var hnBoolFlags = []string{"large", "pull", "push", "p", "super_materialize", "s",
	"populate_only", "run_only", "log", "verbose", "redis", "pg"}

// hnNegate rewrites --no-NAME (or -no-NAME) of a boolean option NAME into
// --NAME=false; anything else is returned unchanged.
func hnNegate(arg string) string {
	name, ok := strings.CutPrefix(arg, "--no-")
	if !ok {
		name, ok = strings.CutPrefix(arg, "-no-")
	}
	if !ok || strings.Contains(name, "=") {
		return arg
	}
	for _, b := range hnBoolFlags {
		if b == name {
			return "--" + name + "=false"
		}
	}
	return arg
}

// hnNormalizeArgs applies hnNegate and the optional value of -c/--client:
// a bare -c (last, or followed by another option) means port 8000, and
// -cPORT means -c=PORT.
func hnNormalizeArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := hnNegate(args[i])
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		switch {
		case a == "-c" || a == "--c" || a == "-client" || a == "--client":
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				out = append(out, "-c="+args[i+1])
				i++
			} else {
				out = append(out, "-c="+hnDefaultClientPort)
			}
		case strings.HasPrefix(a, "-c") && len(a) > 2 && a[2] != '=' && isDigits(a[2:]):
			out = append(out, "-c="+a[2:])
		default:
			out = append(out, a)
		}
	}
	return out
}

// hnClientAddr turns a -c value into host:port: a bare port means
// localhost (apps.md §1: -c=PORT connects to localhost:PORT).
func hnClientAddr(v string) (string, error) {
	if isDigits(v) {
		return net.JoinHostPort("127.0.0.1", v), nil
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil || !isDigits(port) {
		return "", fmt.Errorf("bad -c %q: want PORT or HOST:PORT", v)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// parseHNArgs parses the flags of `pequod hn` (apps.md §1 option names).
func parseHNArgs(args []string, stderr io.Writer) (*hnOptions, error) {
	o := &hnOptions{params: hn.DefaultParams()}
	p := &o.params
	fs := flag.NewFlagSet("hn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: pequod hn [flags]\n\nHacker News workload (apps.md §5); JSON result on stdout, progress on stderr.\nBoolean flags accept --no-NAME.\n\n")
		fs.PrintDefaults()
	}
	intVar := func(v *int, names []string, usage string) {
		for _, n := range names {
			fs.IntVar(v, n, *v, usage)
		}
	}
	boolVar := func(v *bool, names []string, usage string) {
		for _, n := range names {
			fs.BoolVar(v, n, *v, usage)
		}
	}
	intVar(&p.HNUsers, []string{"hnusers", "x"}, "number of users")
	intVar(&p.NArticles, []string{"narticles", "a"}, "articles created during population")
	intVar(&p.NOps, []string{"nops", "o"}, "iterations of the run")
	intVar(&p.VoteRate, []string{"vote_rate", "v"}, "percent of iterations that also vote")
	intVar(&p.CommentRate, []string{"comment_rate", "r"}, "percent of iterations that also comment")
	intVar(&p.PostRate, []string{"post_rate"}, "percent of iterations that post an article instead of reading (no CLI option in the original)")
	intVar(&p.GroupID, []string{"groupid"}, "client group id (seeds the run generator; population needs 0)")
	boolVar(&p.Large, []string{"large"}, "large data set: 100000 articles, 50000 users")
	boolVar(&p.Pull, []string{"pull"}, "no materialized karma: the client computes karma")
	boolVar(&p.Push, []string{"push", "p"}, "the client maintains karma (forces --pull)")
	boolVar(&p.SuperMaterialize, []string{"super_materialize", "s"}, "materialize whole article pages (needs materialized karma)")
	boolVar(&p.PopulateOnly, []string{"populate_only"}, "populate and stop")
	boolVar(&p.RunOnly, []string{"run_only"}, "skip population (data already loaded); karma check off")
	boolVar(&p.Log, []string{"log"}, "print the karma table and every operation to stderr")
	boolVar(&p.Verbose, []string{"verbose"}, "print progress")
	var client string
	fs.StringVar(&client, "c", "", "Pequod server `HOST:PORT` or PORT (bare -c: 8000); default an in-process server")
	fs.StringVar(&client, "client", "", "same as -c")
	fs.StringVar(&o.hostFile, "H", "", "host `file` of a Pequod cluster (lines `<host> <port>`): connect to every server and route keys by hackernews (needs --super_materialize)")
	fs.StringVar(&o.hostFile, "hostfile", "", "same as -H")
	fs.IntVar(&o.nbacking, "B", 0, "with -H: the first `N` servers are base servers, the rest cache servers")
	fs.IntVar(&o.nbacking, "nbacking", 0, "same as -B")
	fs.IntVar(&o.partitions, "partitions", runtime.NumCPU(), "partitions of the in-process server")
	var redis, pg bool
	fs.BoolVar(&redis, "redis", false, "Redis back end")
	fs.StringVar(&o.redisAddr, "redis-addr", "127.0.0.1:6379", "Redis `HOST:PORT`")
	fs.BoolVar(&pg, "pg", false, "PostgreSQL back end")
	fs.StringVar(&o.db.Host, "dbhost", "127.0.0.1", "PostgreSQL host")
	fs.IntVar(&o.db.Port, "dbport", 10000, "PostgreSQL port")
	fs.StringVar(&o.db.Name, "dbname", "pequod", "PostgreSQL database")
	fs.IntVar(&o.db.PoolMax, "dbpool-max", 1, "PostgreSQL pool: maximum connections")
	fs.IntVar(&o.db.PoolDepth, "dbpool-depth", 1, "PostgreSQL pool: pipeline depth")
	o.prof.register(fs)
	if err := fs.Parse(hnNormalizeArgs(args)); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case redis && pg:
		return nil, errors.New("--redis and --pg exclude each other")
	case redis:
		o.backend = "redis"
	case pg:
		o.backend = "pg"
	default:
		o.backend = "pequod"
	}
	if o.hostFile != "" {
		if o.backend != "pequod" {
			return nil, fmt.Errorf("-H lists Pequod servers; it does not apply to --%s", o.backend)
		}
		if client != "" && !isDigits(client) {
			return nil, fmt.Errorf("bad -c %q with -H: want the seqid of a server of the host file", client)
		}
		if o.nbacking < 0 {
			return nil, fmt.Errorf("bad -B %d: want a number of base servers", o.nbacking)
		}
		o.client = client
	} else if o.nbacking != 0 {
		return nil, errors.New("-B needs -H (a host file)")
	} else if client != "" {
		if o.backend != "pequod" {
			return nil, fmt.Errorf("-c selects a Pequod server; it does not apply to --%s", o.backend)
		}
		addr, err := hnClientAddr(client)
		if err != nil {
			return nil, err
		}
		o.client = addr
	}
	if o.partitions <= 0 {
		return nil, errors.New("--partitions must be positive")
	}
	if o.db.Port <= 0 || o.db.Port > 65535 || o.db.PoolMax <= 0 || o.db.PoolDepth <= 0 {
		return nil, errors.New("--dbport must be a port, --dbpool-max and --dbpool-depth positive")
	}
	norm, err := o.params.Normalize()
	if err != nil {
		return nil, err
	}
	o.params = norm
	if o.hostFile != "" && o.client == "" && !norm.MA() {
		// Reading an article gets its vote count p|AID14, a prefix the
		// hackernews function gives to no server (apps.md §5.5); only
		// materialized pages (ma|) avoid it.
		return nil, errors.New("-H: the vote counts p|… have no owner under the hackernews partition function (apps.md §5.5); over a cluster use --super_materialize, or -c=N to send everything to one server")
	}
	return o, nil
}

// hnEmbedded is the Pequod back end over an in-process server that it
// owns: Close also stops the server.
type hnEmbedded struct {
	*hn.Pequod
	srv *partition.Server
}

// Close closes the connection, then the server.
func (e *hnEmbedded) Close() error {
	err := e.Pequod.Close()
	e.srv.Close()
	return err
}

// openHNPequod opens the Pequod back end: an in-process server with the
// "hackernews" partition function when neither -c nor -H was given
// (apps.md §1), else a TCP connection to the server, or to every server of
// the host file with keys routed by "hackernews" (once all are ready).
func openHNPequod(ctx context.Context, o *hnOptions, loop *async.Loop) (hn.Backend, error) {
	if o.hostFile != "" {
		cl, err := dialCluster(ctx, o.hostFile, "hackernews", o.nbacking, o.client, false, loop)
		if err != nil {
			return nil, err
		}
		if err := pqclient.WaitReady(ctx, cl, pqclient.ReadyInterval); err != nil {
			_ = cl.Close()
			return nil, fmt.Errorf("waiting for the servers of %s: %w", o.hostFile, err)
		}
		be, err := hn.NewPequod(hn.PequodConfig{Conn: cl, Params: o.params})
		if err != nil {
			_ = cl.Close()
			return nil, err
		}
		return be, nil
	}
	if o.client != "" {
		conn, err := pqclient.Dial(ctx, o.client, loop)
		if err != nil {
			return nil, err
		}
		be, err := hn.NewPequod(hn.PequodConfig{Conn: conn, Params: o.params})
		if err != nil {
			_ = conn.Close()
			return nil, err
		}
		return be, nil
	}
	srv, err := partition.New(partition.Config{Partitions: o.partitions, Partitioner: "hackernews"})
	if err != nil {
		return nil, fmt.Errorf("in-process server: %w", err)
	}
	conn := pqclient.Embedded(srv, loop)
	be, err := hn.NewPequod(hn.PequodConfig{Conn: conn, Params: o.params, InProcess: true})
	if err != nil {
		_ = conn.Close()
		srv.Close()
		return nil, err
	}
	return &hnEmbedded{Pequod: be, srv: srv}, nil
}

// runHN is `pequod hn`: the Hacker News workload (apps.md §5). The result
// JSON (4-space indent) goes to stdout, progress to stderr. A failed karma
// check prints the result and returns an error.
func runHN(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseHNArgs(args, stderr)
	if err != nil {
		return err
	}
	stopProf, err := o.prof.start()
	if err != nil {
		return err
	}
	defer func() {
		if err := stopProf(); err != nil {
			fmt.Fprintln(stderr, "hn:", err)
		}
	}()
	loop := async.New()
	be, err := openHNBackend(ctx, o, loop)
	if err != nil {
		return err
	}
	res, runErr := hn.Run(ctx, o.params, be, loop, stderr)
	if cerr := be.Close(); cerr != nil && runErr == nil {
		runErr = fmt.Errorf("close %s: %w", be.Name(), cerr)
	}
	if res != nil {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "    ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	}
	return runErr
}
