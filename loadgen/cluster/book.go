package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// book keeps the result directory's README.txt: what ran, the exact
// commands with their output files and exit statuses. It is rewritten
// after every start and at the end, so an interrupted run leaves it too.
type book struct {
	path    string
	header  string
	outcome string // "" while running

	mu      sync.Mutex
	entries []bookEntry
}

type bookEntry struct {
	p   *Proc
	out string // stdout file when not the log
}

func (b *book) add(p *Proc, out string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.entries = append(b.entries, bookEntry{p: p, out: out})
}

func (b *book) write() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	s.WriteString(b.header)
	outcome := b.outcome
	if outcome == "" {
		outcome = "running (or the launcher was killed)"
	}
	fmt.Fprintf(&s, "outcome: %s\n\n", outcome)
	s.WriteString("Files: " + HostFileName + " (the host file, spec/server.md §2.8); srv_<s>.log (server s's\n" +
		"stdout and stderr); init.log, populate*.log; output_app_<g>.json and app_<g>.log (client group\n" +
		"g's stdout, its JSON result, and stderr); aggregate_output_app.json (the merged result,\n" +
		"spec/server.md §5.5); rtt_log_<g>.txt.gz with --log-rtt.\n\n")
	s.WriteString("Commands, in the order they were started:\n")
	for _, e := range b.entries {
		p := e.p
		redirect := "> " + filepath.Base(p.Log) + " 2>&1"
		if e.out != "" {
			redirect = "> " + filepath.Base(e.out) + " 2> " + filepath.Base(p.Log)
		}
		fmt.Fprintf(&s, "\n# %s, pid %d: %s\n%s %s\n", p.Name, p.Pid(), p.ExitStatus(), quoteArgs(p.Argv), redirect)
	}
	tmp := b.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s.String()), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", b.path, err)
	}
	if err := os.Rename(tmp, b.path); err != nil {
		return fmt.Errorf("writing %s: %w", b.path, err)
	}
	return nil
}

// quoteArgs renders argv for a POSIX shell.
func quoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	return strings.Join(q, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_=./,:@%+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
