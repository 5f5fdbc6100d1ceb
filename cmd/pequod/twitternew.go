package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/twitter"
)

// defaultClientPort is the port of a bare -c/--client (spec/apps.md §1).
const defaultClientPort = "8000"

// twitternewFlags holds the flag set of `pequod twitternew` and the names
// of its boolean flags (for the --no-X negation).
type twitternewFlags struct {
	fs    *flag.FlagSet
	bools map[string]bool
}

func (f *twitternewFlags) boolVar(p *bool, usage string, names ...string) {
	for _, n := range names {
		f.fs.BoolVar(p, n, *p, usage)
		f.bools[n] = true
	}
}

func (f *twitternewFlags) intVar(p *int, usage string, names ...string) {
	for _, n := range names {
		f.fs.IntVar(p, n, *p, usage)
	}
}

func (f *twitternewFlags) floatVar(p *float64, usage string, names ...string) {
	for _, n := range names {
		f.fs.Float64Var(p, n, *p, usage)
	}
}

func (f *twitternewFlags) stringVar(p *string, usage string, names ...string) {
	for _, n := range names {
		f.fs.StringVar(p, n, *p, usage)
	}
}

// parseTwitternewArgs parses the options of spec/apps.md §1 and §2.1 into
// back-end options (Params included).
func parseTwitternewArgs(args []string, stderr io.Writer) (twitterBackendOptions, error) {
	o := twitterBackendOptions{
		Backend: "pequod", Params: twitter.DefaultParams(),
		RedisAddr: "127.0.0.1:6379", MemcachedAddr: "127.0.0.1:11211",
		DBHost: "127.0.0.1", DBPort: 10000, DBName: "pequod",
		DBPoolMin: 1, DBPoolMax: 1, DBPoolDepth: 1,
		Progress: stderr,
	}
	p := &o.Params
	f := &twitternewFlags{fs: flag.NewFlagSet("twitternew", flag.ContinueOnError), bools: map[string]bool{}}
	fs := f.fs
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: pequod twitternew [options]\n\nThe twitternew timeline workload (spec/apps.md §2); JSON result on stdout, progress on stderr.\nBoolean options accept --no-NAME. Without -c or -H an in-process server is used.\n\n")
		fs.PrintDefaults()
	}
	var redis, memcached, dbshim, ignoredBool bool
	var ignoredInt int
	f.boolVar(&redis, "use the Redis back end (client push)", "redis")
	f.boolVar(&memcached, "use the memcached back end (client push, text keys)", "memcached")
	f.boolVar(&dbshim, "use the PostgreSQL back end", "dbshim")
	f.boolVar(&ignoredBool, "accepted (twitternew is this subcommand)", "twitternew")
	f.stringVar(&o.Client, "Pequod server `HOST:PORT` (PORT alone means localhost:PORT; bare -c means 8000); with -H the seqid of the one server to use; default: in-process server", "c", "client")
	f.stringVar(&o.HostFile, "host `file` of a Pequod cluster (lines `<host> <port>`): connect to every server and route keys by twitternew / twitternew-text", "H", "hostfile")
	f.intVar(&o.NBacking, "with -H: the first `N` servers are base servers, the rest cache servers", "B", "nbacking")
	f.intVar(&o.Partitions, "partitions of the in-process server (default runtime.NumCPU())", "partitions")
	f.stringVar(&o.RedisAddr, "Redis `address`", "redis-addr")
	f.stringVar(&o.MemcachedAddr, "memcached `address`", "memcached-addr")
	f.stringVar(&o.DBHost, "database host", "dbhost")
	f.intVar(&o.DBPort, "database port", "dbport")
	f.stringVar(&o.DBName, "database name", "dbname")
	f.intVar(&o.DBPoolMin, "database pool minimum connections", "dbpool-min")
	f.intVar(&o.DBPoolMax, "database pool maximum connections", "dbpool-max")
	f.intVar(&o.DBPoolDepth, "database pool pipeline depth", "dbpool-depth")

	f.intVar(&p.NUsers, "users of the synthetic graph", "n", "nusers")
	f.intVar(&p.NGroups, "cooperating client groups", "ngroups")
	f.intVar(&p.GroupID, "this process's group", "groupid")
	f.intVar(&p.Duration, "run length in ticks (divided by ngroups)", "d", "duration")
	f.intVar(&p.PopDuration, "posts generated during population", "popduration")
	f.intVar(&p.PostLimit, "stop after this many posts (0 = off)", "postlimit")
	f.intVar(&p.CheckLimit, "stop after this many checks (0 = off)", "checklimit")
	f.intVar(&p.PostRate, "open-loop target posts/second (0 = closed loop)", "postrate")
	f.intVar(&p.Timeout, "open-loop time limit in seconds", "timeout")
	f.intVar(&p.Synchronous, "drain every N ops (0 = fully pipelined)", "synchronous")
	f.intVar(&ignoredInt, "accepted and ignored (as in the original)", "seed")
	f.intVar(&ignoredInt, "accepted and ignored by twitternew", "o", "nops")
	f.boolVar(&p.Initialize, "install the joins", "initialize")
	f.boolVar(&p.Populate, "load subscriptions and posts", "populate")
	f.boolVar(&p.Execute, "run the measured workload", "execute")
	f.boolVar(&p.Push, "client-side fan-out on write", "p", "push")
	f.boolVar(&p.Pull, "pull timeline join", "pull")
	f.boolVar(&p.Fetch, "checks return data (scan) instead of a count", "fetch")
	f.boolVar(&p.Subtables, "subtable markers in the join slots", "subtables")
	f.boolVar(&p.Eager, "eager subscription source", "eager")
	f.boolVar(&p.Prevalidate, "materialize active timelines before the run", "prevalidate")
	f.boolVar(&p.PrevalidateInactive, "also inactive users' timelines", "prevalidate-inactive")
	f.boolVar(&p.PrevalidateBeforeSub, "prevalidate before loading subscriptions", "prevalidate-before-sub")
	f.boolVar(&p.Writearound, "base-data writes to the database (not supported by Pequod-Go)", "writearound")
	f.boolVar(&p.RandCache, "with -H: checks (scan, count) to a random cache server instead of the timeline's owner", "rand-cache")
	f.boolVar(&p.ProgressReport, "cross-group progress rate limiting", "progress-report")
	f.boolVar(&p.Log, "print every operation to stderr", "log")
	f.boolVar(&p.LogRTT, "record latencies to <outpath>/rtt_log_<groupid>.txt.gz", "log-rtt")
	f.boolVar(&p.Binary, "binary (BE32) keys", "binary")
	f.boolVar(&p.Verbose, "progress messages", "verbose")
	f.boolVar(&ignoredBool, "accepted and ignored", "visualize")
	f.stringVar(&p.OutPath, "directory of the RTT log", "outpath")
	f.stringVar(&p.PrintTable, "at the end, the server prints this table's keys", "print-table")
	f.stringVar(&p.MasterHost, "group-0 rendezvous host", "master-host")
	f.intVar(&p.MasterPort, "group-0 rendezvous port", "master-port")
	f.intVar(&p.Celebrity, "users with more followers are celebrities (0 = off)", "celebrity")
	f.floatVar(&p.PActive, "percent of users that are active", "pactive")
	f.stringVar(&p.Graph, "social-graph `file` to import", "graph")
	f.intVar(&p.MinFollowers, "graph generator: minimum followers", "min-followers")
	f.intVar(&p.MinSubscriptions, "graph generator: minimum subscriptions", "min-subscriptions")
	f.intVar(&p.MaxSubscriptions, "graph generator: maximum subscriptions", "max-subscriptions")
	f.floatVar(&p.Shape, "graph skew exponent", "shape")
	f.floatVar(&p.PPost, "op weight: post", "ppost")
	f.floatVar(&p.PSubscribe, "op weight: subscribe", "psubscribe")
	f.floatVar(&p.PLogout, "op weight: logout", "plogout")
	f.floatVar(&p.PRead, "op weight: timeline check", "pread")

	o.Profiling.register(fs)
	if err := fs.Parse(normalizeTwitternewArgs(args, f.bools)); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	n := 0
	for _, b := range []struct {
		on   bool
		name string
	}{{redis, "redis"}, {memcached, "memcached"}, {dbshim, "dbshim"}} {
		if b.on {
			o.Backend = b.name
			n++
		}
	}
	if n > 1 {
		return o, errors.New("--redis, --memcached and --dbshim exclude each other")
	}
	if o.HostFile != "" {
		if o.Backend != "pequod" {
			return o, fmt.Errorf("-H lists Pequod servers; --%s takes its address from --%s-addr", o.Backend, o.Backend)
		}
		if o.Client != "" && !isDigits(o.Client) {
			return o, fmt.Errorf("bad -c %q with -H: want the seqid of a server of the host file", o.Client)
		}
		if o.NBacking < 0 {
			return o, fmt.Errorf("bad -B %d: want a number of base servers", o.NBacking)
		}
	} else if o.NBacking != 0 {
		return o, errors.New("-B needs -H (a host file)")
	} else if o.Client != "" {
		if isDigits(o.Client) {
			o.Client = net.JoinHostPort("localhost", o.Client)
		} else if _, _, err := net.SplitHostPort(o.Client); err != nil {
			return o, fmt.Errorf("bad -c %q: want PORT or HOST:PORT", o.Client)
		}
	}
	if _, err := p.Normalize(); err != nil {
		return o, err
	}
	return o, nil
}

// normalizeTwitternewArgs rewrites the original's spellings into ones the
// flag package accepts: --no-X becomes --X=false for boolean X, and a bare
// -c/--client takes the next argument if it looks like a port or address,
// else means port 8000.
func normalizeTwitternewArgs(args []string, bools map[string]bool) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name := strings.TrimLeft(a, "-")
		if len(name) < len(a) && !strings.Contains(name, "=") {
			if x, ok := strings.CutPrefix(name, "no-"); ok && bools[x] {
				out = append(out, "--"+x+"=false")
				continue
			}
			if name == "c" || name == "client" {
				if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && (isDigits(args[i+1]) || strings.Contains(args[i+1], ":")) {
					out = append(out, "--client="+args[i+1])
					i++
				} else {
					out = append(out, "--client="+defaultClientPort)
				}
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// runTwitternew is `pequod twitternew`: the twitternew workload
// (spec/apps.md §2). The result JSON goes to stdout, progress to stderr.
// Cancelling ctx (SIGINT) stops the run and returns an error.
func runTwitternew(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	opts, err := parseTwitternewArgs(args, stderr)
	if err != nil {
		return err
	}
	stopProf, err := opts.Profiling.start()
	if err != nil {
		return err
	}
	defer func() {
		if err := stopProf(); err != nil {
			fmt.Fprintln(stderr, "twitternew:", err)
		}
	}()
	loop := async.New()
	be, err := openTwitterBackend(ctx, opts, loop)
	if err != nil {
		return err
	}
	if !opts.Params.Verbose {
		// A short progress line even when not --verbose (which adds the
		// spec's percentages and graph statistics).
		where := "an in-process server"
		if opts.Backend != "" && opts.Backend != "pequod" {
			where = opts.Backend
		} else if opts.HostFile != "" {
			where = "the servers of " + opts.HostFile
		} else if opts.Client != "" {
			where = opts.Client
		}
		fmt.Fprintf(stderr, "twitternew: %d users, %d ticks against %s (group %d of %d); --verbose for progress\n",
			opts.Params.NUsers, opts.Params.Duration, where, opts.Params.GroupID, max(1, opts.Params.NGroups))
	}
	start := time.Now()
	res, err := twitter.Run(ctx, opts.Params, be, loop, stderr)
	cerr := be.Close()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		return err
	}
	if cerr != nil {
		return fmt.Errorf("closing back end: %w", cerr)
	}
	if !res.Executed {
		return nil
	}
	if !opts.Params.Verbose {
		fmt.Fprintf(stderr, "twitternew: done in %.1f s: %d checks read %d posts; measured phase %.2f s\n",
			time.Since(start).Seconds(), res.NChecks, res.NPostsRead, res.WallTime)
	}
	out, err := res.Indented()
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}
