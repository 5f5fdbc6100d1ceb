package cluster

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Experiment is one named run of the twitternew workload over a cluster:
// the Go form of a def of the original's experiment files
// (spec/server.md §6.1, apps.md §7). Every phase is a `pequod twitternew`
// command line; the launcher adds -H, -B, the group options and
// --outpath.
type Experiment struct {
	// Name selects the experiment (-e NAME).
	Name string
	// Doc says in one line what the experiment is and where it comes from.
	Doc string
	// NBase and NCache are the numbers of base and cache servers; Groups
	// is the number of client processes of the measured run.
	NBase, NCache, Groups int
	// PartFunc is the servers' partition function (spec/server.md §2.9);
	// it must be the one the clients pick: twitternew for binary keys,
	// twitternew-text with --no-binary.
	PartFunc string
	// Workload is given to every phase, before the phase's own options.
	Workload []string
	// Init installs the joins, run once; nil skips the phase.
	Init []string
	// Populate loads the graph, run by Groups processes (one when
	// SinglePop); nil skips the phase (the clients populate).
	Populate  []string
	SinglePop bool
	// Client is the measured run, Groups processes started together.
	Client []string
}

// Phase options of the original's experiment files (spec/apps.md §7.2,
// §7.3).
var (
	initOnly    = []string{"--initialize", "--no-populate", "--no-execute"}
	populateOne = []string{"--no-initialize", "--no-execute", "--popduration=0"}
)

// paperClosedLoop are the op weights and limits shared by the paper's
// client_push, celeb and latency experiments (apps.md §7.2), with the
// check limit scaled to about 50 checks per active user of a 5000-user
// synthetic graph (the paper's 62795845 is for its 1.8M-user graph).
var paperClosedLoop = []string{"--duration=1000000000", "--checklimit=175000",
	"--pactive=70", "--ppost=1", "--pread=100", "--psubscribe=10", "--plogout=5"}

// experiments is the table -e selects from. The server counts are the
// original local.py's defaults (1 base, 5 cache servers, 1 client group)
// unless an experiment needs more; -nb, -nc and -g override them.
var experiments = []Experiment{
	{
		Name: "basic",
		Doc: "testexperiments.py basic (apps.md §7.3): text keys, 1000 users, 100000 ticks; " +
			"joins, then a separate populate, then checks that fetch",
		NBase: 1, NCache: 5, Groups: 1,
		PartFunc: "twitternew-text",
		Workload: []string{"--no-binary", "--nusers=1000"},
		Init:     initOnly,
		Populate: populateOne,
		Client:   []string{"--no-initialize", "--no-populate", "--duration=100000", "--fetch"},
	},
	{
		Name: "celebrity",
		Doc: "paperexperiments.py celeb, def celeb (apps.md §7.2) on the 5000-user synthetic graph: " +
			"users with more than 600 followers (about 5%) are celebrities, prevalidated timelines, RTT logs",
		NBase: 1, NCache: 2, Groups: 2,
		PartFunc: "twitternew",
		Workload: []string{"--celebrity=600"},
		Init:     initOnly,
		Client: append([]string{"--no-initialize", "--popduration=0", "--fetch", "--prevalidate", "--log-rtt"},
			paperClosedLoop...),
	},
	{
		Name: "scale",
		Doc: "paperexperiments.py scale (apps.md §7.2) on one machine: 50000 users, open loop at " +
			"2000 posts/s for 60 s over 4 client groups, RTT logs",
		NBase: 2, NCache: 4, Groups: 4,
		PartFunc: "twitternew",
		Workload: []string{"--nusers=50000"},
		Init:     initOnly,
		Client: []string{"--no-initialize", "--popduration=0", "--fetch",
			"--pactive=70", "--ppost=1", "--pread=100", "--psubscribe=10", "--plogout=5",
			"--prevalidate", "--no-progress-report", "--log-rtt",
			"--synchronous=256", "--postrate=2000", "--timeout=60"},
	},
}

// Experiments returns the named experiments, in table order.
func Experiments() []Experiment {
	out := make([]Experiment, len(experiments))
	copy(out, experiments)
	return out
}

// Lookup returns the experiment called name.
func Lookup(name string) (Experiment, error) {
	var names []string
	for _, e := range experiments {
		if e.Name == name {
			return e, nil
		}
		names = append(names, e.Name)
	}
	return Experiment{}, fmt.Errorf("no experiment %q (have %s; -e list describes them)", name, strings.Join(names, ", "))
}

// PrintList writes the experiments, their server counts and phases to w.
func PrintList(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, e := range experiments {
		fmt.Fprintf(tw, "%s\tNB=%d NC=%d G=%d partfunc=%s\n", e.Name, e.NBase, e.NCache, e.Groups, e.PartFunc)
		fmt.Fprintf(tw, "\t%s\n", e.Doc)
		fmt.Fprintf(tw, "\tworkload: %s\n", strings.Join(e.Workload, " "))
		for _, ph := range []struct {
			name string
			args []string
		}{{"init", e.Init}, {"populate", e.Populate}, {"client", e.Client}} {
			if ph.args != nil {
				fmt.Fprintf(tw, "\t%s: %s\n", ph.name, strings.Join(ph.args, " "))
			}
		}
	}
	return tw.Flush()
}

// binaryKeys reports whether a twitternew command line with args uses
// binary keys: the last of --binary, --binary=V and --no-binary decides;
// the default is binary (apps.md §2.1).
func binaryKeys(args []string) bool {
	bin := true
	for _, a := range args {
		if a == "--" {
			break
		}
		name := strings.TrimLeft(a, "-")
		if len(name) == len(a) {
			continue
		}
		switch {
		case name == "binary":
			bin = true
		case name == "no-binary":
			bin = false
		case strings.HasPrefix(name, "binary="):
			v := strings.TrimPrefix(name, "binary=")
			bin = v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True"
		}
	}
	return bin
}

// ClientPartFunc is the partition function twitternew clients use with
// args (spec/server.md §2.3): twitternew for binary keys, else
// twitternew-text. Servers must run the same one.
func ClientPartFunc(args []string) string {
	if binaryKeys(args) {
		return "twitternew"
	}
	return "twitternew-text"
}
