package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Proc is one child process of a run: started in its own process group
// (so a Ctrl-C at the terminal reaches only the launcher, which then stops
// the children in order), its output in files, waited for by a goroutine.
// Stop ends the whole group.
type Proc struct {
	// Name says what the process is in messages ("server 1", "client 0").
	Name string
	// Argv is the command line, Argv[0] the program.
	Argv []string
	// Log is the file with the process's stderr (and stdout, unless it
	// has its own file).
	Log string

	cmd  *exec.Cmd
	done chan struct{} // closed once the process has been reaped
	err  error         // cmd.Wait's result, set before done is closed

	mu       sync.Mutex
	reaped   bool // the pid may be reused: never signal it again
	stopping bool // Stop was called: an exit is no surprise
	unasked  bool // it exited before Stop was called
}

// StartProc starts argv with stderr to the file logPath and stdout to
// outPath, or to logPath as well when outPath is "". Both files are
// created (truncated).
func StartProc(name string, argv []string, logPath, outPath string) (*Proc, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("starting %s: empty command", name)
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = logf
	cmd.Stdout = logf
	if outPath != "" {
		outf, err := os.Create(outPath)
		if err != nil {
			return nil, fmt.Errorf("starting %s: %w", name, err)
		}
		defer outf.Close()
		cmd.Stdout = outf
	}
	configure(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (%s): %w", name, argv[0], err)
	}
	p := &Proc{Name: name, Argv: argv, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err, p.reaped, p.unasked = err, true, !p.stopping
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id (also its process group id).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is the exit error (nil for status 0) once Done is closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Unasked reports whether the process exited before Stop was called
// (false while it runs).
func (p *Proc) Unasked() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unasked
}

// StoppedCleanly reports whether the process exited with status 0, or
// was ended by the SIGTERM of Stop (a process still starting up has no
// handler yet): an exit worth no remark.
func (p *Proc) StoppedCleanly() bool {
	<-p.done
	return p.err == nil || !p.unasked && terminated(p.err)
}

// ExitStatus describes how the process ended ("exit status 0", "signal:
// killed"), or "running".
func (p *Proc) ExitStatus() string {
	if !p.Exited() {
		return "running"
	}
	if p.err == nil {
		return "exit status 0"
	}
	return p.err.Error()
}

// signalGroup sends the terminating (kill false) or killing signal to the
// process's group, unless the process has been reaped (its id may belong
// to another process by now). Our children do not fork, so once the
// leader is gone the group is empty.
func (p *Proc) signalGroup(kill bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return
	}
	if kill {
		_ = killGroup(p.cmd.Process)
	} else {
		_ = terminateGroup(p.cmd.Process)
	}
}

// Stop ends the process: SIGTERM to its group, then SIGKILL after
// timeout; it returns once the process is reaped, with its exit error.
func (p *Proc) Stop(timeout time.Duration) error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	p.signalGroup(false)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.signalGroup(true)
		<-p.done
	}
	return p.err
}

// StopAll stops every process concurrently (see Proc.Stop).
func StopAll(procs []*Proc, timeout time.Duration) {
	var wg sync.WaitGroup
	for _, p := range procs {
		if p == nil {
			continue
		}
		wg.Go(func() { _ = p.Stop(timeout) })
	}
	wg.Wait()
}

// tailBytes bounds how much of a log Tail reads.
const tailBytes = 16 << 10

// Tail returns the last n lines of the file at path (a note when it cannot
// be read).
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	defer f.Close()
	var data []byte
	if st, err := f.Stat(); err == nil && st.Size() > tailBytes {
		data = make([]byte, tailBytes)
		_, err = f.ReadAt(data, st.Size()-tailBytes)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Sprintf("(cannot read %s: %v)", path, err)
		}
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			data = data[i+1:]
		}
	} else if data, err = io.ReadAll(f); err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// exitReport describes a process that ended on its own: its status and
// the tail of its log.
func exitReport(p *Proc, tailLines int) string {
	return fmt.Sprintf("%s (pid %d) exited: %s; last lines of %s:\n%s",
		p.Name, p.Pid(), p.ExitStatus(), p.Log, indent(Tail(p.Log, tailLines)))
}

func indent(s string) string {
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
