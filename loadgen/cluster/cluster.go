// Package cluster starts, watches and stops a set of Pequod processes on
// loopback and runs named experiments over them: the job of the
// original's scripts/local.py (spec/server.md §6.2, apps.md §7.1).
//
// Run starts NBase base and NCache cache servers (`pequod serve`, each in
// a process group of its own) on 127.0.0.1, writes their host file
// (spec/server.md §2.8), waits until every one answers control
// {"is_ready": true}, runs the experiment's phases as `pequod twitternew`
// processes (init once, populate by one or Groups processes, then Groups
// clients started together, split with --ngroups/--groupid and the
// §2.13 barrier), stops the servers and merges the clients' JSON with
// loadgen/aggregate (§5.5). Every process's output is kept in the result
// directory, with README.txt listing the exact commands.
//
// Any failure, a server exiting early, or the end of the context
// (Ctrl-C) stops every child: SIGTERM to its group, SIGKILL after
// Config.StopTimeout; Run returns only when all are reaped.
//
// One server (NBase 0, NCache 1) is started without -H, -B, -P and
// --self, and its clients get --client=ADDR instead of -H and -B; several
// servers get all four, their clients -H and -B.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pequod-go/pequod/loadgen/aggregate"
	"github.com/pequod-go/pequod/wire"
)

// Defaults of Config's durations.
const (
	DefaultReadyTimeout = 60 * time.Second
	DefaultStopTimeout  = 10 * time.Second
)

// Host is the address every server listens on and the host file names.
const Host = "127.0.0.1"

// readyPoll is how often Run asks a starting server whether it is ready.
const readyPoll = 100 * time.Millisecond

// logTailLines is how much of a failed process's log an error quotes.
const logTailLines = 20

// File names in the result directory.
const (
	HostFileName = "hosts.txt"
	ReadmeName   = "README.txt"
)

// Config says how to run an experiment; the experiment says what.
type Config struct {
	// Binary is the pequod executable every child runs.
	Binary string
	// Dir is the result directory; it is created if missing.
	Dir string
	// Partitions is each server's -partitions; 0 means the machine's CPUs
	// shared among the servers (at least 1).
	Partitions int
	// BasePort is server 0's port, server s listening on BasePort+s; 0
	// lets the system choose free ports.
	BasePort int
	// Extra are workload options appended to every phase's command line
	// (after the experiment's own, so they override them).
	Extra []string
	// Progress receives one line per step (which phase, which process);
	// nil discards them.
	Progress io.Writer
	// ReadyTimeout bounds the wait for the servers (DefaultReadyTimeout
	// if 0); StopTimeout is how long a child may take to exit after
	// SIGTERM before it is killed (DefaultStopTimeout if 0).
	ReadyTimeout, StopTimeout time.Duration
}

// Result is what a successful Run leaves in Config.Dir.
type Result struct {
	// Dir is the absolute result directory.
	Dir string
	// Aggregate is the path of the merged client output
	// (aggregate_output_app.json).
	Aggregate string
	// Outputs are the clients' outputs, output_app_<group>.json, in group
	// order.
	Outputs []string
}

// Validate checks exp's numbers and that its servers and clients agree on
// the partition function.
func (exp Experiment) Validate(extra []string) error {
	switch {
	case exp.NBase < 0:
		return fmt.Errorf("experiment %s: bad number of base servers %d", exp.Name, exp.NBase)
	case exp.NCache < 1:
		return fmt.Errorf("experiment %s: %d cache servers; a cluster needs at least one (spec/server.md §2.9)", exp.Name, exp.NCache)
	case exp.Groups < 1:
		return fmt.Errorf("experiment %s: bad number of client groups %d", exp.Name, exp.Groups)
	case exp.Client == nil:
		return fmt.Errorf("experiment %s: no client phase", exp.Name)
	}
	if exp.NBase+exp.NCache == 1 {
		return nil // no -P: one server owns everything
	}
	args := append(append(append([]string(nil), exp.Workload...), exp.Client...), extra...)
	if want := ClientPartFunc(args); exp.PartFunc != want {
		return fmt.Errorf("experiment %s: the servers' partition function is %s but the clients route by %s "+
			"(twitternew for binary keys, twitternew-text with --no-binary); give -partfunc %s",
			exp.Name, exp.PartFunc, want, want)
	}
	return nil
}

// Run runs exp over a fresh cluster as cfg says and returns where the
// results are. Whatever happens, every child has exited when it returns.
func Run(ctx context.Context, cfg Config, exp Experiment) (res *Result, err error) {
	if err := exp.Validate(cfg.Extra); err != nil {
		return nil, err
	}
	if cfg.Binary == "" {
		return nil, errors.New("no pequod binary")
	}
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = DefaultStopTimeout
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("result directory: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("result directory: %w", err)
	}
	r := &runner{cfg: cfg, exp: exp, dir: dir, dead: make(chan struct{})}
	r.book = &book{path: filepath.Join(dir, ReadmeName), header: r.header()}
	defer func() {
		StopAll(r.servers, cfg.StopTimeout)
		for _, p := range r.servers {
			if p != r.died() && !p.StoppedCleanly() {
				r.logf("%s: %s", p.Name, p.ExitStatus())
			}
		}
		r.book.outcome = "succeeded"
		if err != nil {
			r.book.outcome = "failed: " + err.Error()
		}
		if werr := r.book.write(); werr != nil && err == nil {
			err = werr
		}
	}()
	if err := r.book.write(); err != nil {
		return nil, err
	}
	if err := r.startServers(); err != nil {
		return nil, err
	}
	if err := r.waitReady(ctx); err != nil {
		return nil, err
	}
	if exp.Init != nil {
		if err := r.phase(ctx, "init", 1, exp.Init, false); err != nil {
			return nil, err
		}
	}
	if exp.Populate != nil {
		n := exp.Groups
		if exp.SinglePop {
			n = 1
		}
		if err := r.phase(ctx, "populate", n, exp.Populate, false); err != nil {
			return nil, err
		}
	}
	if err := r.phase(ctx, "run", exp.Groups, exp.Client, true); err != nil {
		return nil, err
	}
	r.logf("stopping %s", plural(len(r.servers), "server"))
	StopAll(r.servers, cfg.StopTimeout)
	res = &Result{Dir: dir}
	for g := range exp.Groups {
		res.Outputs = append(res.Outputs, filepath.Join(dir, outputName(g)))
	}
	if res.Aggregate, err = aggregate.Aggregate(dir); err != nil {
		return nil, err
	}
	r.logf("aggregated %s into %s", plural(exp.Groups, "client output"), res.Aggregate)
	return res, nil
}

// outputName is the stdout file of client group g (aggregate's input).
func outputName(g int) string { return fmt.Sprintf("output_app_%d.json", g) }

// runner is one Run's state.
type runner struct {
	cfg  Config
	exp  Experiment
	dir  string
	book *book

	hostFile string
	addrs    []string
	servers  []*Proc

	deadOnce sync.Once
	dead     chan struct{} // closed when a server exits unasked
	deadProc *Proc         // that server, set before dead is closed
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "cluster: "+format+"\n", args...)
}

func (r *runner) nservers() int { return r.exp.NBase + r.exp.NCache }

func (r *runner) header() string {
	e := r.exp
	pf := "partition function " + e.PartFunc
	if r.nservers() == 1 {
		pf = "one server, so no partition function"
	}
	return fmt.Sprintf("pequod cluster, experiment %s: %s\n\n"+
		"servers: %d base + %d cache on %s, %s; client groups: %d\n"+
		"extra workload options: %s\n",
		e.Name, e.Doc, e.NBase, e.NCache, Host, pf, e.Groups, quoteArgs(r.cfg.Extra))
}

// serverName says what server s is.
func (r *runner) serverName(s int) string {
	role := "cache"
	if s < r.exp.NBase {
		role = "base"
	}
	return fmt.Sprintf("server %d (%s, %s)", s, role, r.addrs[s])
}

// partitions is each server's -partitions.
func (r *runner) partitions() int {
	if r.cfg.Partitions > 0 {
		return r.cfg.Partitions
	}
	return max(1, runtime.NumCPU()/r.nservers())
}

// ServerArgs is server s's command line after the binary: `serve -l=PORT`
// and, when the cluster has several servers, -H, -B, -P and --self
// (spec/server.md §2.3, §2.8).
func ServerArgs(exp Experiment, hostFile string, s, port, partitions int) []string {
	args := []string{"serve", "-l=" + strconv.Itoa(port)}
	if exp.NBase+exp.NCache > 1 {
		args = append(args, "-H="+hostFile, "-B="+strconv.Itoa(exp.NBase), "-P="+exp.PartFunc, "--self="+strconv.Itoa(s))
	}
	return append(args, "-partitions="+strconv.Itoa(partitions), "-bind="+Host)
}

// ClientSpec is one twitternew process of a phase.
type ClientSpec struct {
	// HostFile is the cluster's host file; Server0 is the first server's
	// address.
	HostFile, Server0 string
	// PhaseArgs are the phase's options; Extra the user's (Config.Extra).
	PhaseArgs, Extra []string
	// Group is this process's group of NGroups; with NGroups > 1 they meet
	// at the barrier on MasterPort (apps.md §2.13).
	Group, NGroups, MasterPort int
	// OutPath, if not "", is the directory of the RTT logs (--outpath).
	OutPath string
}

// ClientArgs is the command line after the binary of the twitternew
// process c of exp: the servers (-H and -B, or for a one-server cluster
// --client=Server0, which needs no host-file support from the client),
// the experiment's workload, the phase's options, the extra options, the
// group options when NGroups > 1, and --outpath.
func ClientArgs(exp Experiment, c ClientSpec) []string {
	args := []string{"twitternew"}
	if exp.NBase+exp.NCache > 1 {
		args = append(args, "-H", c.HostFile, "-B", strconv.Itoa(exp.NBase))
	} else {
		args = append(args, "--client="+c.Server0)
	}
	args = append(args, exp.Workload...)
	args = append(args, c.PhaseArgs...)
	args = append(args, c.Extra...)
	if c.NGroups > 1 {
		args = append(args, "--ngroups="+strconv.Itoa(c.NGroups), "--groupid="+strconv.Itoa(c.Group),
			"--master-host="+Host, "--master-port="+strconv.Itoa(c.MasterPort))
	}
	if c.OutPath != "" {
		args = append(args, "--outpath="+c.OutPath)
	}
	return args
}

// startServers picks the ports, writes the host file and starts every
// server.
func (r *runner) startServers() error {
	n := r.nservers()
	ports, err := pickPorts(r.cfg.BasePort, n)
	if err != nil {
		return err
	}
	var hosts strings.Builder
	fmt.Fprintf(&hosts, "# pequod cluster %s: %d base servers, then %d cache servers (seqid = line)\n", r.exp.Name, r.exp.NBase, r.exp.NCache)
	for _, p := range ports {
		addr := net.JoinHostPort(Host, strconv.Itoa(p))
		r.addrs = append(r.addrs, addr)
		fmt.Fprintf(&hosts, "%s\t%d\n", Host, p)
	}
	r.hostFile = filepath.Join(r.dir, HostFileName)
	if err := os.WriteFile(r.hostFile, []byte(hosts.String()), 0o644); err != nil {
		return fmt.Errorf("writing the host file: %w", err)
	}
	r.logf("results in %s", r.dir)
	for s := range n {
		argv := append([]string{r.cfg.Binary}, ServerArgs(r.exp, r.hostFile, s, ports[s], r.partitions())...)
		log := filepath.Join(r.dir, fmt.Sprintf("srv_%d.log", s))
		p, err := StartProc(r.serverName(s), argv, log, "")
		if err != nil {
			return err
		}
		r.servers = append(r.servers, p)
		r.book.add(p, "")
		r.logf("started %s: pid %d, log %s", p.Name, p.Pid(), filepath.Base(log))
		go r.watch(p)
	}
	return r.book.write()
}

// watch notes the first server to exit without being asked to.
func (r *runner) watch(p *Proc) {
	<-p.Done()
	if !p.Unasked() {
		return
	}
	r.deadOnce.Do(func() {
		r.deadProc = p
		close(r.dead)
	})
}

// died is the server that exited early, or nil.
func (r *runner) died() *Proc {
	select {
	case <-r.dead:
		return r.deadProc
	default:
		return nil
	}
}

// deadErr is the error of a server that exited early.
func (r *runner) deadErr() error {
	return fmt.Errorf("%s", exitReport(r.deadProc, logTailLines))
}

// waitReady waits until every server answers control {"is_ready": true}
// with true (or anything but a boolean, as the clients count it,
// apps.md §2.9).
func (r *runner) waitReady(ctx context.Context) error {
	r.logf("waiting for %s to be ready", plural(len(r.addrs), "server"))
	wctx, cancel := context.WithTimeout(ctx, r.cfg.ReadyTimeout)
	defer cancel()
	for s, addr := range r.addrs {
		var last error
		for {
			ready, err := askReady(wctx, addr)
			if ready {
				break
			}
			last = err
			t := time.NewTimer(readyPoll)
			select {
			case <-t.C:
				continue
			case <-r.dead:
				t.Stop()
				return r.deadErr()
			case <-wctx.Done():
				t.Stop()
			}
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted while waiting for the servers: %w", ctx.Err())
			}
			msg := fmt.Sprintf("%s not ready after %v", r.serverName(s), r.cfg.ReadyTimeout)
			if last != nil {
				msg += fmt.Sprintf(" (last answer: %v)", last)
			}
			return fmt.Errorf("%s; last lines of %s:\n%s", msg, r.servers[s].Log, indent(Tail(r.servers[s].Log, logTailLines)))
		}
	}
	r.logf("%s ready", plural(len(r.addrs), "server"))
	return nil
}

// askReady asks the server at addr once whether it is ready.
func askReady(ctx context.Context, addr string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c, err := wire.DialContext(ctx, addr, nil)
	if err != nil {
		return false, err
	}
	defer c.Close()
	v, err := c.Control(ctx, map[string]any{"is_ready": true})
	if err != nil {
		return false, err
	}
	if v.Kind() == wire.KindBool && !v.Bool() {
		return false, errors.New("is_ready: false")
	}
	return true, nil
}

// phase runs n processes of a twitternew phase together and waits for all
// of them. The first to fail, a server's death or ctx's end stops the
// others and fails the phase. Clients' stdout goes to output_app_<g>.json.
func (r *runner) phase(ctx context.Context, name string, n int, phaseArgs []string, client bool) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted before %s: %w", name, ctx.Err())
	}
	master := 0
	if n > 1 {
		ports, err := pickPorts(0, 1)
		if err != nil {
			return err
		}
		master = ports[0]
	}
	r.logf("%s: starting %s", name, plural(n, "process"))
	var procs []*Proc
	stopAll := func() { StopAll(procs, r.cfg.StopTimeout) }
	for g := range n {
		outPath, log, out, pname := "", "", "", ""
		switch {
		case client:
			outPath = r.dir
			log = filepath.Join(r.dir, fmt.Sprintf("app_%d.log", g))
			out = filepath.Join(r.dir, outputName(g))
			pname = fmt.Sprintf("client %d", g)
		case n == 1:
			log = filepath.Join(r.dir, name+".log")
			pname = name
		default:
			log = filepath.Join(r.dir, fmt.Sprintf("%s_%d.log", name, g))
			pname = fmt.Sprintf("%s %d", name, g)
		}
		argv := append([]string{r.cfg.Binary}, ClientArgs(r.exp, ClientSpec{
			HostFile: r.hostFile, Server0: r.addrs[0], PhaseArgs: phaseArgs, Extra: r.cfg.Extra,
			Group: g, NGroups: n, MasterPort: master, OutPath: outPath,
		})...)
		p, err := StartProc(pname, argv, log, out)
		if err != nil {
			stopAll()
			return err
		}
		procs = append(procs, p)
		r.book.add(p, out)
		files := filepath.Base(log)
		if out != "" {
			files = filepath.Base(out) + " (stdout), " + files
		}
		r.logf("%s: started %s: pid %d, output %s", name, pname, p.Pid(), files)
	}
	if err := r.book.write(); err != nil {
		stopAll()
		return err
	}
	exited := make(chan *Proc, len(procs))
	for _, p := range procs {
		go func() { <-p.Done(); exited <- p }()
	}
	start := time.Now()
	for range procs {
		select {
		case p := <-exited:
			if p.Err() != nil {
				stopAll()
				return fmt.Errorf("%s: %s", name, exitReport(p, logTailLines))
			}
		case <-r.dead:
			stopAll()
			return fmt.Errorf("during %s: %w", name, r.deadErr())
		case <-ctx.Done():
			r.logf("%s: interrupted, stopping %s", name, plural(len(procs), "process"))
			stopAll()
			return fmt.Errorf("interrupted during %s: %w", name, ctx.Err())
		}
	}
	r.logf("%s: done in %.1f s", name, time.Since(start).Seconds())
	return nil
}

// pickPorts returns n ports: base, base+1, … or, for base 0, ports the
// system says are free now (all held open until every one is chosen, so
// they differ).
func pickPorts(base, n int) ([]int, error) {
	ports := make([]int, n)
	if base != 0 {
		if base < 1 || base+n-1 > 65535 {
			return nil, fmt.Errorf("bad base port %d for %d servers", base, n)
		}
		for i := range ports {
			ports[i] = base + i
		}
		return ports, nil
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range ports {
		l, err := net.Listen("tcp", net.JoinHostPort(Host, "0"))
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// plural is "1 server", "2 servers", "2 processes".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "s") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
