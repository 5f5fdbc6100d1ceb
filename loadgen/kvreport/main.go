// Command kvreport turns the raw results of bench.sh into a markdown table,
// a gnuplot data file and script, and (with -png) a bar chart drawn with the
// standard library only (loadgen/chart), for machines without gnuplot.
//
//	go run ./loadgen/kvreport -dir results [-png]
//
// Inputs, in DIR/raw/:
//   - kv-*.json: `pequod kv` results annotated with -extra label=NAME,
//     -extra order=N (column order) and, for Pequod, -extra partitions=N;
//   - redis-benchmark.tsv (optional): lines "op<TAB>ops_per_sec<TAB>p50_ms"
//     from redis-benchmark -q, shown as a reference column;
//   - runs.tsv (optional): lines "run<TAB>ops_per_sec<TAB>wall_s<TAB>
//     client_cpu_s<TAB>server_cpu_s<TAB>other_cpu_s" (CPU seconds used by
//     each party during the run named raw/kv-RUN.json).
//
// Outputs in DIR: kv.md, kv.dat, kv.gp (gnuplot script writing kv.png), and
// kv.png when -png is given.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pequod-go/pequod/loadgen/chart"
	"github.com/pequod-go/pequod/loadgen/kv"
)

// row is one measured (configuration, operation).
type row struct {
	label      string
	order      float64
	backend    string
	partitions string
	op         string
	opsPerSec  float64
	p50, p99   float64 // µs; p99 < 0 when unknown
	errors     uint64
	reference  bool
	res        *kv.Result
}

func main() {
	dir := flag.String("dir", "results", "results `directory` (reads DIR/raw, writes DIR/kv.*)")
	png := flag.Bool("png", false, "also draw DIR/kv.png with the built-in renderer (when gnuplot is missing)")
	title := flag.String("title", "", "chart title (default: a summary of the load)")
	flag.Parse()
	if err := run(*dir, *png, *title); err != nil {
		fmt.Fprintln(os.Stderr, "kvreport:", err)
		os.Exit(1)
	}
}

func run(dir string, drawPNG bool, title string) error {
	rows, err := readRows(filepath.Join(dir, "raw"))
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("no kv-*.json results in %s", filepath.Join(dir, "raw"))
	}
	ops := []string{"get", "set"}
	labels := columnLabels(rows)
	if title == "" {
		title = defaultTitle(rows)
	}
	md := markdown(rows, ops, title) + cpuTable(filepath.Join(dir, "raw"))
	if err := os.WriteFile(filepath.Join(dir, "kv.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kv.dat"), []byte(datFile(rows, ops, labels)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "kv.gp"), []byte(gnuplotScript(title, len(labels))), 0o644); err != nil {
		return err
	}
	if drawPNG {
		c := &chart.BarChart{
			Title:  title,
			XLabel: "operation",
			YLabel: "throughput (thousand ops/s)",
			YScale: 1000,
			Series: labels,
			ValueLabel: func(v float64) string {
				return strconv.FormatFloat(math.Round(v/1000), 'f', 0, 64) + "K"
			},
		}
		for _, op := range ops {
			g := chart.Group{Name: op}
			for _, l := range labels {
				v := -1.0
				if r := find(rows, l, op); r != nil {
					v = r.opsPerSec
				}
				g.Values = append(g.Values, v)
			}
			c.Groups = append(c.Groups, g)
		}
		f, err := os.Create(filepath.Join(dir, "kv.png"))
		if err != nil {
			return err
		}
		if err := c.WritePNG(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}

func readRows(raw string) ([]row, error) {
	files, err := filepath.Glob(filepath.Join(raw, "kv-*.json"))
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var res kv.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		r := row{label: res.Backend, backend: res.Backend, partitions: "-", res: &res}
		if s, ok := res.Extra["label"].(string); ok {
			r.label = s
		}
		if f, ok := res.Extra["order"].(float64); ok {
			r.order = f
		}
		if f, ok := res.Extra["partitions"].(float64); ok {
			r.partitions = strconv.Itoa(int(f))
		}
		// A read-only run reports gets, a write-only run sets; a mixed run
		// gives one row per operation.
		for _, o := range []struct {
			name string
			res  kv.OpResult
		}{{"get", res.Get}, {"set", res.Set}} {
			if o.res.Ops == 0 {
				continue
			}
			rr := r
			rr.op = o.name
			rr.opsPerSec = o.res.OpsPerSec
			rr.p50, rr.p99 = o.res.LatencyUs.P50, o.res.LatencyUs.P99
			rr.errors = res.Errors.Total
			if res.Populate != nil {
				rr.errors += res.Populate.Errors.Total
			}
			rows = append(rows, rr)
		}
	}
	ref, err := os.Open(filepath.Join(raw, "redis-benchmark.tsv"))
	if err == nil {
		defer ref.Close()
		sc := bufio.NewScanner(ref)
		for sc.Scan() {
			f := strings.Split(sc.Text(), "\t")
			if len(f) < 2 {
				continue
			}
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				continue
			}
			r := row{label: "redis-benchmark", order: 1e9, backend: "redis-benchmark", partitions: "-",
				op: strings.ToLower(f[0]), opsPerSec: v, p50: -1, p99: -1, reference: true}
			if len(f) > 2 {
				if ms, err := strconv.ParseFloat(f[2], 64); err == nil {
					r.p50 = ms * 1000
				}
			}
			rows = append(rows, r)
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		if a.order != b.order {
			if a.order < b.order {
				return -1
			}
			return 1
		}
		return strings.Compare(a.label, b.label)
	})
	return rows, nil
}

func columnLabels(rows []row) []string {
	var labels []string
	for _, r := range rows {
		if !slices.Contains(labels, r.label) {
			labels = append(labels, r.label)
		}
	}
	return labels
}

func find(rows []row, label, op string) *row {
	for i := range rows {
		if rows[i].label == label && rows[i].op == op {
			return &rows[i]
		}
	}
	return nil
}

// redisRow is the loadgen's Redis measurement of op, the ratio baseline.
func redisRow(rows []row, op string) *row {
	for i := range rows {
		if rows[i].backend == "redis" && rows[i].op == op && !rows[i].reference {
			return &rows[i]
		}
	}
	return nil
}

func defaultTitle(rows []row) string {
	for _, r := range rows {
		if r.res != nil {
			return fmt.Sprintf("get/set throughput, %d conns x pipeline %d, %d keys, %d-byte values, loopback",
				r.res.Conns, r.res.Depth, r.res.Keys, r.res.ValueSize)
		}
	}
	return "get/set throughput"
}

func fmtRate(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func fmtUs(v float64) string {
	switch {
	case v < 0:
		return "–"
	case v >= 1000:
		return fmt.Sprintf("%.2f ms", v/1000)
	}
	return fmt.Sprintf("%.0f µs", v)
}

func markdown(rows []row, ops []string, title string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Pequod vs Redis: %s\n\n", title)
	fmt.Fprintf(&b, "Generated %s by bench.sh (loadgen/kvreport).\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	b.WriteString("| backend | partitions | op | ops/s | ratio to Redis | p50 | p99 | errors |\n")
	b.WriteString("|---|---:|---|---:|---:|---:|---:|---:|\n")
	for _, op := range ops {
		base := redisRow(rows, op)
		for _, r := range rows {
			if r.op != op {
				continue
			}
			ratio := "–"
			if base != nil && base.opsPerSec > 0 {
				ratio = fmt.Sprintf("%.2f", r.opsPerSec/base.opsPerSec)
			}
			name := r.label
			if r.reference {
				name += " (reference)"
			}
			errs := strconv.FormatUint(r.errors, 10)
			if r.reference {
				errs = "–"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
				name, r.partitions, r.op, fmtRate(r.opsPerSec), ratio, fmtUs(r.p50), fmtUs(r.p99), errs)
		}
	}
	for _, r := range rows {
		if r.res != nil {
			res := r.res
			what := fmt.Sprintf("%.0f s", res.Duration)
			if res.Requests > 0 {
				what = fmt.Sprintf("%d requests", res.Requests)
			}
			fmt.Fprintf(&b, "\nLoad: `pequod kv`, %d connections x pipeline depth %d, %d keys (%d-byte keys `%s...`), %d-byte values, %s per run after populating every key; latency is per request from issue to reply (includes pipeline queueing). Ratio is ops/s divided by Redis's ops/s for the same operation measured by the same load generator.\n",
				res.Conns, res.Depth, res.Keys, res.KeySize, res.Prefix, res.ValueSize, what)
			break
		}
	}
	return b.String()
}

func datFile(rows []row, ops []string, labels []string) string {
	var b strings.Builder
	b.WriteString("op")
	for _, l := range labels {
		fmt.Fprintf(&b, "\t%q", l)
	}
	b.WriteString("\n")
	for _, op := range ops {
		b.WriteString(op)
		for _, l := range labels {
			if r := find(rows, l, op); r != nil {
				fmt.Fprintf(&b, "\t%.0f", r.opsPerSec)
			} else {
				b.WriteString("\tNaN")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// gnuplotScript plots kv.dat (run it in the results directory): clustered
// bars per operation, one colour per configuration, values in thousands of
// ops/s printed above the bars.
func gnuplotScript(title string, ncols int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `set terminal pngcairo size 1100,650 font "sans,12"
set output "kv.png"
set title %q
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.95
set xlabel "operation"
set ylabel "throughput (thousand ops/s, higher is better)"
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set grid ytics
set key outside right top
set xtics nomirror
# Every plot reads the first line of kv.dat as its header, so that $0 is
# the data row (0 = get, 1 = set) in the label plots too.
set key autotitle columnhead
`, title)
	b.WriteString("plot ")
	for i := 0; i < ncols; i++ {
		if i > 0 {
			b.WriteString(", \\\n     ")
		}
		if i == 0 {
			fmt.Fprintf(&b, `"kv.dat" using ($%d/1000):xtic(1) title columnheader(%d)`, i+2, i+2)
		} else {
			fmt.Fprintf(&b, `"" using ($%d/1000) title columnheader(%d)`, i+2, i+2)
		}
	}
	for i := 0; i < ncols; i++ {
		off := (float64(i) - float64(ncols-1)/2) / float64(ncols+1)
		fmt.Fprintf(&b, `, \
     "" using ($0%+.4f):($%d/1000):(sprintf("%%.0fk", $%d/1000)) with labels offset 0,0.8 font ",10" notitle`, off, i+2, i+2)
	}
	b.WriteString("\n")
	return b.String()
}

// cpuTable renders raw/runs.tsv (if present) as a table of the cores used
// during each run and the server's CPU time per request, with a warning
// when other processes competed for the machine.
func cpuTable(raw string) string {
	b, err := os.ReadFile(filepath.Join(raw, "runs.tsv"))
	if err != nil {
		return ""
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nCPU during each run (cores = CPU seconds / wall seconds of the whole `pequod kv` run, populate included; the machine has %d). "+
		"Server CPU per request divides the server's CPU time by every request of the run (populate included); unlike ops/s it hardly depends on what else runs on the machine.\n\n"+
		"| run | ops/s | client cores | server cores | other processes' cores | server CPU per request |\n|---|---:|---:|---:|---:|---:|\n", numCPU())
	maxOther := 0.0
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 6 {
			continue
		}
		var v [6]float64
		for i := 1; i < 6; i++ {
			v[i], _ = strconv.ParseFloat(f[i], 64)
		}
		wall := v[2]
		if wall <= 0 {
			continue
		}
		perReq := "–"
		if rb, err := os.ReadFile(filepath.Join(raw, "kv-"+f[0]+".json")); err == nil {
			var res kv.Result
			if json.Unmarshal(rb, &res) == nil {
				n := float64(res.Ops)
				if res.Populate != nil {
					n += float64(res.Populate.Keys)
				}
				if n > 0 {
					perReq = fmt.Sprintf("%.2f µs", v[4]/n*1e6)
				}
			}
		}
		maxOther = max(maxOther, v[5]/wall)
		fmt.Fprintf(&out, "| %s | %s | %.2f | %.2f | %.2f | %s |\n", f[0], fmtRate(v[1]), v[3]/wall, v[4]/wall, v[5]/wall, perReq)
	}
	if maxOther >= 0.2 {
		fmt.Fprintf(&out, "\n**Warning:** other processes used up to %.2f cores during the runs: the absolute numbers are depressed and noisy; compare ratios, or re-run on a quiet machine.\n", maxOther)
	}
	return out.String()
}

func numCPU() int { return runtime.NumCPU() }
