// Command benchreport turns the raw results of bench.sh into
// DIR/README.md: a header describing the machine and the benchmark
// command, then per suite a markdown table and a PNG bar chart.
//
//	go run ./loadgen/benchreport -dir results [-gnuplot auto|never]
//
// Input: DIR/raw/manifest.tsv, one line per benchmark run, tab-separated:
//
//	suite  system  order  file  wall_s  client_cpu_s  server_cpu_s  other_cpu_s
//
// suite groups the runs compared with each other; system names the
// configuration (a table row, a bar); order sorts the systems of a suite
// (a number; ties keep the manifest order); file is the run's result
// relative to DIR/raw, or "-" when the run failed; wall_s is the run's
// wall time and the *_cpu_s fields the CPU seconds used meanwhile by the
// client, the server(s) and every other process (all optional: missing,
// empty or "-" is unknown). Lines starting with # are comments, except
// "# command: CMD", the exact benchmark command shown in the header, and
// "# note: TEXT", shown as a note.
//
// Suites and their result files:
//   - twitter* (e.g. twitter-5k, twitter-50k): a twitternew output JSON or
//     an aggregate_output_app.json (or a directory of output_app_*.json,
//     aggregated in memory). Table: wall s, checks/s, posts/s,
//     nposts_read, nfull, CPU; chart: checks/s. The systems check the
//     same timelines, so a run whose nposts_read differs from the first
//     single-group run's is flagged with ⚠
//     as a correctness finding.
//   - hn*: an hn output JSON (or aggregate). Table: ops/s (iterations =
//     nread + npost per wall s), nread, nvote, ncomment, wall s, CPU, and
//     karma errors (flagged with ⚠ when not 0) when the outputs report
//     them; chart: ops/s.
//   - kv-get, kv-set: a `pequod kv` result (loadgen/kv.Result). One table
//     for both: get and set ops/s, p50 and p99 latency, errors; charts:
//     get ops/s (kv-get.png) and set ops/s (kv-set.png).
//   - anything else: the manifest's numbers only.
//
// A missing or malformed result file or a failed run is a row saying
// "failed", with the reason below the table, never an error.
//
// Outputs in DIR: README.md, <suite>.png per suite (the headline metric per
// system, higher is better, the value on each bar) and summary.png (every
// chart in one image). When gnuplot is installed (and -gnuplot is auto)
// the suite charts are drawn by gnuplot from <suite>.dat and <suite>.gp,
// written alongside; otherwise, or when gnuplot fails, by the built-in
// renderer (loadgen/chart), which always draws summary.png.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pequod-go/pequod/loadgen/chart"
)

// options configure one report.
type options struct {
	dir      string    // results directory
	manifest string    // manifest path; DIR/raw/manifest.tsv when empty
	gnuplot  string    // "auto" (use gnuplot when installed) or "never"
	command  string    // benchmark command; the manifest's when empty
	report   string    // the command that makes this report, for the header
	now      time.Time // generation time
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", "results", "results `directory`: reads DIR/raw/manifest.tsv, writes DIR/README.md and charts")
	flag.StringVar(&o.manifest, "manifest", "", "manifest `file` (default DIR/raw/manifest.tsv); result files are relative to its directory")
	flag.StringVar(&o.gnuplot, "gnuplot", "auto", "`auto`: draw the suite charts with gnuplot when installed; never: always use the built-in renderer")
	flag.StringVar(&o.command, "command", "", "benchmark `command` for the header (default: the manifest's \"# command:\" line)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "benchreport: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	o.report = "go run ./loadgen/benchreport " + shellJoin(os.Args[1:])
	o.now = time.Now()
	path, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchreport:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "benchreport: wrote", path)
}

// shellJoin quotes args for a shell command line.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
		}) < 0 {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// run writes the report and returns the path of README.md.
func run(o options) (string, error) {
	if o.gnuplot != "auto" && o.gnuplot != "never" {
		return "", fmt.Errorf("-gnuplot %q: want auto or never", o.gnuplot)
	}
	if o.manifest == "" {
		o.manifest = filepath.Join(o.dir, "raw", "manifest.tsv")
	}
	if o.now.IsZero() {
		o.now = time.Now()
	}
	f, err := os.Open(o.manifest)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("no manifest %s (written by bench.sh)", o.manifest)
	}
	if err != nil {
		return "", err
	}
	m, err := parseManifest(f)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("%s: %w", o.manifest, err)
	}
	if o.command != "" {
		m.command = o.command
	}
	raw := filepath.Dir(o.manifest)
	var results []result
	for _, e := range m.entries {
		results = append(results, load(raw, e))
	}
	useGnuplot := false
	if o.gnuplot == "auto" {
		_, err := exec.LookPath("gnuplot")
		useGnuplot = err == nil
	}

	var b strings.Builder
	header(&b, o, m, useGnuplot)
	secs := sections(results)
	if len(secs) == 0 {
		b.WriteString("\nThe manifest lists no runs.\n")
	}
	var panels []*chart.BarChart
	var body strings.Builder
	for _, s := range secs {
		fmt.Fprintf(&body, "\n## %s\n\n", s.name)
		switch s.kind {
		case kindTwitter:
			twitterSection(&body, s)
		case kindHN:
			hnSection(&body, s)
		case kindKV:
			kvSection(&body, s)
		default:
			otherSection(&body, s)
		}
		for _, suite := range s.suites {
			p, ok := plotOf(suite, s.results)
			if !ok {
				continue
			}
			how, err := p.render(o.dir, useGnuplot)
			if err != nil {
				fmt.Fprintf(&body, "\nNo chart for %s: %v\n", suite, err)
				continue
			}
			fmt.Fprintf(&body, "\n![%s](%s.png)\n\n*%s.png: %s, drawn by %s.*\n", p.title(), fileName(suite), fileName(suite), p.ylabel(), how)
			panels = append(panels, p.chart(800, 480))
		}
	}
	if len(panels) > 0 {
		if err := writeSummary(filepath.Join(o.dir, "summary.png"), panels); err != nil {
			fmt.Fprintf(&b, "\nNo summary chart: %v\n", err)
		} else {
			b.WriteString("\nAll suites at a glance (summary.png; details and failures below):\n\n![summary](summary.png)\n")
		}
	}
	b.WriteString(body.String())
	out := filepath.Join(o.dir, "README.md")
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("writing the report: %w", err)
	}
	return out, nil
}

// writeSummary draws every suite chart into one image, two per row.
func writeSummary(path string, panels []*chart.BarChart) error {
	var buf bytes.Buffer
	if err := chart.WritePanels(&buf, 2, panels...); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the summary chart: %w", err)
	}
	return nil
}

// header writes the title, the machine and the commands.
func header(b *strings.Builder, o options, m *manifest, useGnuplot bool) {
	b.WriteString("# Pequod-Go benchmark results\n\n")
	fmt.Fprintf(b, "Generated %s by `%s` from `%s`.\n\n", o.now.UTC().Format("2006-01-02 15:04 UTC"), o.report, filepath.ToSlash(o.manifest))
	host, _ := os.Hostname()
	if host == "" {
		host = "unknown host"
	}
	machine := fmt.Sprintf("%s, %d cores", host, runtime.NumCPU())
	if model := cpuModel(); model != "" {
		machine += " (" + model + ")"
	}
	machine += ", " + memory() + " memory, " + runtime.GOOS + "/" + runtime.GOARCH
	fmt.Fprintf(b, "- Machine: %s\n", machine)
	fmt.Fprintf(b, "- Go: %s\n", runtime.Version())
	if m.command != "" {
		fmt.Fprintf(b, "- Command: `%s`\n", strings.ReplaceAll(m.command, "`", "'"))
	} else {
		b.WriteString("- Command: unknown (the manifest has no `# command:` line)\n")
	}
	if useGnuplot {
		b.WriteString("- Charts: gnuplot, falling back to the built-in renderer\n")
	} else {
		b.WriteString("- Charts: built-in renderer (loadgen/chart)\n")
	}
	for _, n := range m.notes {
		fmt.Fprintf(b, "- Note: %s\n", n)
	}
	if len(m.problems) > 0 {
		b.WriteString("\nManifest lines skipped or partly read:\n\n")
		for _, p := range m.problems {
			fmt.Fprintf(b, "- %s\n", p)
		}
	}
}

// cpuModel is the processor's model name from /proc/cpuinfo, or "".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

// memory is the machine's memory from /proc/meminfo ("15.5 GiB"), or
// "unknown".
func memory() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if kb, err := strconv.ParseFloat(f[0], 64); err == nil {
					return fmt.Sprintf("%.1f GiB", kb/(1<<20))
				}
			}
		}
	}
	return "unknown"
}
