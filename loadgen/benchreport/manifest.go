package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// entry is one line of the manifest: one benchmark run.
type entry struct {
	line   int // 1-based line number in the manifest
	suite  string
	system string
	order  float64
	// file is the run's result, relative to DIR/raw; "-" when the run
	// failed before producing one.
	file string
	// CPU seconds used during the run by the client, the server(s) and the
	// rest of the machine, and the run's wall seconds (population
	// included); NaN when unknown.
	wall, clientCPU, serverCPU, otherCPU float64
}

// manifest is the parsed manifest.tsv.
type manifest struct {
	entries []entry
	// command is the exact benchmark command ("# command: ..." line).
	command string
	// notes are "# note: ..." lines, shown in the report.
	notes []string
	// problems are lines that could not be parsed.
	problems []string
}

// parseManifest reads the manifest: one run per line, tab-separated
//
//	suite  system  order  file  wall_s  client_cpu_s  server_cpu_s  other_cpu_s
//
// with at least the first four fields; a missing, empty or "-" number is
// unknown. Empty lines and lines starting with # are comments, except
// "# command: CMD" (the exact command that ran the benchmarks) and
// "# note: TEXT" (a line shown in the report). Bad lines are recorded as
// problems, not errors.
func parseManifest(r io.Reader) (*manifest, error) {
	m := &manifest{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if c, ok := strings.CutPrefix(line, "#"); ok {
			c = strings.TrimSpace(c)
			if v, ok := strings.CutPrefix(c, "command:"); ok {
				m.command = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(c, "note:"); ok {
				m.notes = append(m.notes, strings.TrimSpace(v))
			}
			continue
		}
		f := strings.Split(line, "\t")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if len(f) < 4 || f[0] == "" || f[1] == "" || f[3] == "" {
			m.problems = append(m.problems, fmt.Sprintf("line %d: want at least 4 tab-separated fields (suite, system, order, file), got %q", n, line))
			continue
		}
		e := entry{line: n, suite: f[0], system: f[1], file: f[3]}
		order, err := strconv.ParseFloat(f[2], 64)
		if err != nil || math.IsNaN(order) {
			m.problems = append(m.problems, fmt.Sprintf("line %d: order %q is not a number; using 0", n, f[2]))
			order = 0
		}
		e.order = order
		nums := []*float64{&e.wall, &e.clientCPU, &e.serverCPU, &e.otherCPU}
		for i, p := range nums {
			*p = math.NaN()
			if 4+i >= len(f) || f[4+i] == "" || f[4+i] == "-" {
				continue
			}
			v, err := strconv.ParseFloat(f[4+i], 64)
			if err != nil {
				m.problems = append(m.problems, fmt.Sprintf("line %d: field %d %q is not a number", n, 5+i, f[4+i]))
				continue
			}
			*p = v
		}
		m.entries = append(m.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	return m, nil
}
