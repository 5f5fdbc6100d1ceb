package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pequod-go/pequod/loadgen/chart"
)

// plot is the bar chart of one suite: its headline metric per system.
type plot struct {
	suite   string
	metric  string
	systems []string
	values  []float64 // NaN = failed
}

// plotOf builds the chart data of suite from the results of its section;
// ok is false when the suite has no headline metric.
func plotOf(suite string, results []result) (p plot, ok bool) {
	p = plot{suite: suite, metric: headlineName(suite)}
	if p.metric == "" {
		return p, false
	}
	for _, r := range results {
		if r.suite != suite {
			continue
		}
		p.systems = append(p.systems, r.system)
		p.values = append(p.values, headline(r))
	}
	return p, len(p.systems) > 0
}

func (p plot) title() string { return p.suite + ": " + p.metric + " per system" }

func (p plot) ylabel() string { return p.metric + " (higher is better)" }

// chart is the built-in renderer's chart of p at the given size.
func (p plot) chart(w, h int) *chart.BarChart {
	values := make([]float64, len(p.values))
	for i, v := range p.values {
		values[i] = v
		if math.IsNaN(v) {
			values[i] = -1
		}
	}
	return &chart.BarChart{
		Title:        p.title(),
		YLabel:       p.ylabel(),
		Series:       p.systems,
		Groups:       []chart.Group{{Name: p.metric, Values: values}},
		Width:        w,
		Height:       h,
		MissingLabel: "failed",
	}
}

// fileName makes suite usable as a file name.
func fileName(suite string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, suite)
}

// gpString quotes s for a gnuplot script.
func gpString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// datFile is the gnuplot data of p: one row per system with its name, the
// value (NaN when failed), the label above the bar and its height.
func (p plot) datFile() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n# system\tvalue\tlabel\tlabel_y\n", p.title())
	for i, s := range p.systems {
		v := p.values[i]
		name := `"` + strings.ReplaceAll(s, `"`, "'") + `"`
		if math.IsNaN(v) {
			fmt.Fprintf(&b, "%s\tNaN\t\"failed\"\t0\n", name)
			continue
		}
		fmt.Fprintf(&b, "%s\t%g\t\"%s\"\t%g\n", name, v, fmtRate(v), v)
	}
	return b.String()
}

// gnuplotScript draws <suite>.dat into <suite>.png (run it in the results
// directory): one coloured box per system, its value above it.
func (p plot) gnuplotScript() string {
	base := fileName(p.suite)
	n := len(p.systems)
	var b strings.Builder
	fmt.Fprintf(&b, `set terminal pngcairo size %d,%d font "sans,12"
set output %s
set title %s
set ylabel %s
set style fill solid 0.85 border -1
set boxwidth 0.6
set xrange [-0.6:%g]
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set grid ytics
set xtics nomirror
unset key
plot %s using 0:2:($0+1):xtic(1) with boxes linecolor variable, \
     "" using 0:4:3 with labels offset 0,0.8
`, chart.DefaultWidth, chart.DefaultHeight, gpString(base+".png"), gpString(p.title()), gpString(p.ylabel()),
		float64(n)-0.4, gpString(base+".dat"))
	return b.String()
}

// render draws p into dir/<suite>.png: with gnuplot (also writing the
// .dat and .gp files) when useGnuplot, falling back to the built-in
// renderer when gnuplot fails. It returns how the chart was drawn.
func (p plot) render(dir string, useGnuplot bool) (how string, err error) {
	base := fileName(p.suite)
	out := filepath.Join(dir, base+".png")
	reason := ""
	if useGnuplot {
		how, err := p.gnuplot(dir)
		if err == nil {
			return how, nil
		}
		reason = err.Error()
	}
	var buf bytes.Buffer
	if err := p.chart(0, 0).WritePNG(&buf); err != nil {
		return "", fmt.Errorf("drawing %s: %w", out, err)
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("writing the chart: %w", err)
	}
	if reason != "" {
		return fmt.Sprintf("built-in renderer (gnuplot failed: %s)", reason), nil
	}
	return "built-in renderer (loadgen/chart)", nil
}

// gnuplot writes <suite>.dat and .gp and runs gnuplot on them.
func (p plot) gnuplot(dir string) (string, error) {
	base := fileName(p.suite)
	if err := os.WriteFile(filepath.Join(dir, base+".dat"), []byte(p.datFile()), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, base+".gp"), []byte(p.gnuplotScript()), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, base+".png")
	os.Remove(out) // never mistake an old chart for a new one
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "gnuplot", base+".gp")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		return "", fmt.Errorf("%v %s", err, msg)
	}
	f, err := os.Open(out)
	if err != nil {
		return "", fmt.Errorf("no %s: %w", base+".png", err)
	}
	defer f.Close()
	if _, err := png.DecodeConfig(f); err != nil {
		return "", fmt.Errorf("%s: %w", base+".png", err)
	}
	return fmt.Sprintf("gnuplot (%s.gp, %s.dat)", base, base), nil
}
