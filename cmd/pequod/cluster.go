package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pequod-go/pequod/loadgen/cluster"
)

// clusterResultsRoot is where runs go without -out; each run gets a
// directory named by its start time, and clusterLastLink points to the
// latest one (as the original's local.py does).
const (
	clusterResultsRoot = "results"
	clusterLastLink    = "last"
)

// runCluster is `pequod cluster`: run a named experiment over a cluster of
// Pequod processes on this machine (loadgen/cluster; the original's
// scripts/local.py, spec/server.md §6.2). The aggregated client JSON
// (§5.5) goes to stdout, progress and a short table to stderr; every
// process's output stays in the result directory.
func runCluster(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: pequod cluster [-e NAME] [-nb NB] [-nc NC] [-g G] [-partitions P] [-base-port PORT] [-out DIR] [--] [workload flags...]\n\n"+
			"Start NB base and NC cache servers (pequod serve) on 127.0.0.1, run the experiment's twitternew\n"+
			"phases (init, populate, then G client groups together), stop everything and print the clients'\n"+
			"aggregated JSON (spec/server.md §5.5) on stdout. Workload flags after -- go to every twitternew\n"+
			"command and override the experiment's. -e list describes the experiments.\n\n")
		fs.PrintDefaults()
	}
	name := fs.String("e", "basic", "experiment `name`, or list")
	nb := fs.Int("nb", 0, "base servers (default: the experiment's)")
	nc := fs.Int("nc", 0, "cache servers (default: the experiment's)")
	groups := fs.Int("g", 0, "client groups of the measured run (default: the experiment's)")
	partitions := fs.Int("partitions", 0, "partitions per server (default: CPUs / servers, at least 1)")
	partfunc := fs.String("partfunc", "", "the servers' partition `function` (default: the experiment's)")
	basePort := fs.Int("base-port", 7000, "server s listens on `PORT`+s; 0 picks free ports")
	out := fs.String("out", "", "result `directory` (default: results/<start time>)")
	readyTimeout := fs.Duration("ready-timeout", cluster.DefaultReadyTimeout, "how long the servers may take to become ready")
	stopTimeout := fs.Duration("stop-timeout", cluster.DefaultStopTimeout, "how long a process may take to exit after SIGTERM before it is killed")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	extra := fs.Args()
	if len(extra) > 0 && (len(args) == len(extra) || args[len(args)-len(extra)-1] != "--") {
		return fmt.Errorf("unexpected argument %q: workload flags go after --", extra[0])
	}
	if *name == "list" {
		return cluster.PrintList(stdout)
	}
	exp, err := cluster.Lookup(*name)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "nb":
			exp.NBase = *nb
		case "nc":
			exp.NCache = *nc
		case "g":
			exp.Groups = *groups
		case "partfunc":
			exp.PartFunc = *partfunc
		}
	})
	if err := exp.Validate(extra); err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the pequod binary: %w", err)
	}
	dir := *out
	if dir == "" {
		if dir, err = newResultDir(time.Now()); err != nil {
			return err
		}
	}
	res, err := cluster.Run(ctx, cluster.Config{
		Binary:       bin,
		Dir:          dir,
		Partitions:   *partitions,
		BasePort:     *basePort,
		Extra:        extra,
		Progress:     stderr,
		ReadyTimeout: *readyTimeout,
		StopTimeout:  *stopTimeout,
	}, exp)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(res.Aggregate)
	if err != nil {
		return fmt.Errorf("reading back the aggregate: %w", err)
	}
	if _, err := stdout.Write(data); err != nil {
		return fmt.Errorf("writing the aggregate to stdout: %w", err)
	}
	printClusterTable(stderr, exp, res)
	return nil
}

// newResultDir creates results/<YYYY_MM_DD-HH_MM_SS> (with a suffix if
// that exists) and points results/last at it.
func newResultDir(now time.Time) (string, error) {
	base := filepath.Join(clusterResultsRoot, now.Format("2006_01_02-15_04_05"))
	dir := base
	for i := 1; ; i++ {
		err := os.MkdirAll(filepath.Dir(dir), 0o755)
		if err == nil {
			err = os.Mkdir(dir, 0o755)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("creating the result directory: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	link := filepath.Join(clusterResultsRoot, clusterLastLink)
	if fi, err := os.Lstat(link); err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return dir, nil // something else is there: leave it alone
	}
	_ = os.Remove(link)
	_ = os.Symlink(filepath.Base(dir), link)
	return dir, nil
}

// clusterTableCounters are the columns of the human summary.
var clusterTableCounters = []string{"nposts", "nsubscribes", "nchecks", "nposts_read", "wall_time"}

// printClusterTable writes a short summary of a run to w: one row per
// client group and the aggregate, then where the results are. Fields it
// cannot read are shown as "?"; the JSON on stdout is the record.
func printClusterTable(w io.Writer, exp cluster.Experiment, res *cluster.Result) {
	fmt.Fprintf(w, "\n%s: %d base + %d cache %s, %d client %s\n", exp.Name,
		exp.NBase, exp.NCache, clusterPlural(exp.NBase+exp.NCache, "server"), exp.Groups, clusterPlural(exp.Groups, "group"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "group\t%s\t\n", strings.Join(clusterTableCounters, "\t"))
	row := func(label, path string) {
		var obj map[string]json.Number
		cells := make([]string, len(clusterTableCounters))
		data, err := os.ReadFile(path)
		if err == nil {
			var raw map[string]json.RawMessage
			if json.Unmarshal(data, &raw) == nil {
				obj = map[string]json.Number{}
				for _, k := range clusterTableCounters {
					var n json.Number
					if json.Unmarshal(raw[k], &n) == nil {
						obj[k] = n
					}
				}
			}
		}
		for i, k := range clusterTableCounters {
			cells[i] = "?"
			if v, ok := obj[k]; ok {
				cells[i] = v.String()
				if k == "wall_time" {
					if f, err := v.Float64(); err == nil {
						cells[i] = fmt.Sprintf("%.2f s", f)
					}
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", label, strings.Join(cells, "\t"))
	}
	for g, path := range res.Outputs {
		row(fmt.Sprint(g), path)
	}
	row("all", res.Aggregate)
	_ = tw.Flush()
	fmt.Fprintf(w, "(wall_time of \"all\" is the groups' average) results: %s\n", res.Dir)
}

// clusterPlural is noun, with an s unless n is 1.
func clusterPlural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
