package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests of `pequod cluster` (cluster.go, loadgen/cluster): the launcher
// runs as a real process of the built binary (pequodBinary) and starts
// real servers and clients.

// tinyClusterWorkload is a twitternew run of well under a second.
var tinyClusterWorkload = []string{"--nusers=300", "--min-subscriptions=10", "--max-subscriptions=50", "--duration=4000"}

// clusterLaunch is a running `pequod cluster`.
type clusterLaunch struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr bytes.Buffer
	lines  chan string // stderr lines, for waitLine
	done   chan struct{}
	err    error // cmd.Wait's, once done is closed
}

func startClusterLaunch(t *testing.T, args ...string) *clusterLaunch {
	t.Helper()
	l := &clusterLaunch{lines: make(chan string, 1000), done: make(chan struct{})}
	l.cmd = exec.Command(pequodBinary(t), append([]string{"cluster"}, args...)...)
	l.cmd.Stdout = &l.stdout
	pipe, err := l.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			l.mu.Lock()
			l.stderr.WriteString(sc.Text() + "\n")
			l.mu.Unlock()
			select {
			case l.lines <- sc.Text():
			default:
			}
		}
		_, _ = io.Copy(io.Discard, pipe)
		l.err = l.cmd.Wait()
		close(l.lines)
		close(l.done)
	}()
	t.Cleanup(func() {
		select {
		case <-l.done:
		default:
			_ = l.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-l.done:
			case <-time.After(30 * time.Second):
				_ = l.cmd.Process.Kill()
				<-l.done
			}
		}
		// Whatever the test said, no child may outlive its launcher.
		for _, pid := range l.pids() {
			if clusterPidAlive(pid) {
				t.Errorf("child pid %d outlived the launcher", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return l
}

func (l *clusterLaunch) stderrText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stderr.String()
}

// wait waits for the launcher to exit and returns its exit error.
func (l *clusterLaunch) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-l.done:
		return l.err
	case <-time.After(timeout):
		t.Fatalf("pequod cluster still running after %v; stderr:\n%s", timeout, l.stderrText())
		return nil
	}
}

// waitLine waits for a stderr line containing substr.
func (l *clusterLaunch) waitLine(t *testing.T, substr string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case line, ok := <-l.lines:
			if !ok {
				t.Fatalf("pequod cluster exited before printing %q; stderr:\n%s", substr, l.stderrText())
			}
			if strings.Contains(line, substr) {
				return
			}
		case <-deadline:
			t.Fatalf("no %q on stderr after %v:\n%s", substr, timeout, l.stderrText())
		}
	}
}

var clusterPidRE = regexp.MustCompile(`: pid (\d+),`)

// pids are the children the launcher reported starting.
func (l *clusterLaunch) pids() []int {
	var out []int
	for _, m := range clusterPidRE.FindAllStringSubmatch(l.stderrText(), -1) {
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	return out
}

// checkNoChildren fails unless every child is gone and at least want were
// started.
func (l *clusterLaunch) checkNoChildren(t *testing.T, want int) {
	t.Helper()
	pids := l.pids()
	if len(pids) < want {
		t.Errorf("%d children reported, want at least %d; stderr:\n%s", len(pids), want, l.stderrText())
	}
	for _, pid := range pids {
		deadline := time.Now().Add(5 * time.Second)
		for clusterPidAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if clusterPidAlive(pid) {
			t.Errorf("child pid %d still running after the launcher exited", pid)
		}
	}
}

// clusterPidAlive reports whether pid is a live process (zombies count as
// dead: the launcher is gone, nobody may be left to reap them).
func clusterPidAlive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, serr := os.Stat("/proc/self/stat"); serr != nil {
			return syscall.Kill(pid, 0) == nil
		}
		return false
	}
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// TestClusterOneServer: one server, two client groups through the barrier;
// the aggregate on stdout, every file in the result directory, no child
// left.
func TestClusterOneServer(t *testing.T) {
	out := filepath.Join(t.TempDir(), "res")
	l := startClusterLaunch(t, append([]string{"-nb", "0", "-nc", "1", "-g", "2", "-partitions", "1",
		"-base-port", "0", "-out", out, "--"}, tinyClusterWorkload...)...)
	if err := l.wait(t, 2*time.Minute); err != nil {
		t.Fatalf("pequod cluster: %v; stderr:\n%s", err, l.stderrText())
	}
	var agg struct {
		NGroups    int `json:"ngroups"`
		NPostsRead int `json:"nposts_read"`
		NChecks    int `json:"nchecks"`
	}
	if err := json.Unmarshal(l.stdout.Bytes(), &agg); err != nil {
		t.Fatalf("stdout is not the aggregate JSON: %v\n%s", err, l.stdout.String())
	}
	if agg.NGroups != 2 || agg.NPostsRead <= 0 || agg.NChecks <= 0 {
		t.Errorf("aggregate %+v", agg)
	}
	for _, f := range []string{"hosts.txt", "srv_0.log", "init.log", "populate_0.log", "populate_1.log",
		"output_app_0.json", "output_app_1.json", "app_0.log", "app_1.log", "aggregate_output_app.json", "README.txt"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("result file: %v", err)
		}
	}
	readme, _ := os.ReadFile(filepath.Join(out, "README.txt"))
	for _, want := range []string{"outcome: succeeded", " serve -l=", " twitternew --client=127.0.0.1:", "--groupid=1", "> output_app_1.json 2> app_1.log"} {
		if !bytes.Contains(readme, []byte(want)) {
			t.Errorf("README.txt lacks %q:\n%s", want, readme)
		}
	}
	if s := l.stderrText(); !strings.Contains(s, "nposts_read") || !strings.Contains(s, "run: started client 1") {
		t.Errorf("stderr lacks the table or the progress:\n%s", s)
	}
	l.checkNoChildren(t, 6) // server, init, 2 populate, 2 clients
}

// TestClusterServerFails: a server that cannot listen fails the run with
// its exit status and log, and nothing is left running.
func TestClusterServerFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	out := filepath.Join(t.TempDir(), "res")
	l := startClusterLaunch(t, "-nb", "0", "-nc", "1", "-partitions", "1", "-base-port", strconv.Itoa(port), "-out", out)
	err = l.wait(t, time.Minute)
	if err == nil {
		t.Fatalf("pequod cluster succeeded with its port taken; stderr:\n%s", l.stderrText())
	}
	s := l.stderrText()
	for _, want := range []string{"server 0", "exited: exit status 1", "srv_0.log", "address already in use"} {
		if !strings.Contains(s, want) {
			t.Errorf("stderr lacks %q:\n%s", want, s)
		}
	}
	if readme, _ := os.ReadFile(filepath.Join(out, "README.txt")); !bytes.Contains(readme, []byte("outcome: failed")) {
		t.Errorf("README.txt:\n%s", readme)
	}
	l.checkNoChildren(t, 1)
}

// TestClusterInterrupt: SIGINT to the launcher during the measured run
// stops every child.
func TestClusterInterrupt(t *testing.T) {
	out := filepath.Join(t.TempDir(), "res")
	l := startClusterLaunch(t, "-nb", "0", "-nc", "1", "-g", "2", "-partitions", "1", "-base-port", "0", "-out", out, "--",
		"--nusers=300", "--min-subscriptions=10", "--max-subscriptions=50", "--duration=1000000000")
	l.waitLine(t, "run: started client 1", time.Minute)
	time.Sleep(200 * time.Millisecond) // let the clients get going
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := l.wait(t, time.Minute); err == nil {
		t.Errorf("pequod cluster succeeded after SIGINT")
	}
	if s := l.stderrText(); !strings.Contains(s, "interrupted") {
		t.Errorf("stderr:\n%s", s)
	}
	l.checkNoChildren(t, 6)
}

// serveAcceptsHostFile reports whether `pequod serve` knows -H (the server
// mesh); without it only one-server clusters can run.
func serveAcceptsHostFile(t *testing.T) bool {
	path := filepath.Join(t.TempDir(), "hosts.txt")
	if err := os.WriteFile(path, []byte("127.0.0.1 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, pequodBinary(t), "serve", "-H="+path, "-h").CombinedOutput()
	return !bytes.Contains(out, []byte("flag provided but not defined: -H"))
}

// TestClusterBasicThreeServers runs -e basic (text keys, init, populate,
// fetching checks) scaled down on one base and two cache servers.
func TestClusterBasicThreeServers(t *testing.T) {
	if !serveAcceptsHostFile(t) {
		t.Skip("pequod serve does not accept -H yet (the server mesh): only one-server clusters can run")
	}
	out := filepath.Join(t.TempDir(), "res")
	l := startClusterLaunch(t, append([]string{"-e", "basic", "-nb", "1", "-nc", "2", "-partitions", "1",
		"-base-port", "0", "-out", out, "--"}, tinyClusterWorkload...)...)
	if err := l.wait(t, 3*time.Minute); err != nil {
		t.Fatalf("pequod cluster: %v; stderr:\n%s", err, l.stderrText())
	}
	var agg struct {
		NPostsRead  int               `json:"nposts_read"`
		ServerStats []json.RawMessage `json:"server_stats"`
	}
	if err := json.Unmarshal(l.stdout.Bytes(), &agg); err != nil {
		t.Fatalf("%v\n%s", err, l.stdout.String())
	}
	if agg.NPostsRead <= 0 || len(agg.ServerStats) != 3 {
		t.Errorf("aggregate: nposts_read %d, %d server stats", agg.NPostsRead, len(agg.ServerStats))
	}
	l.checkNoChildren(t, 6) // 3 servers, init, populate, client
}

// TestClusterArgs covers what is decided before any process starts.
func TestClusterArgs(t *testing.T) {
	var out, errb bytes.Buffer
	if err := runCluster(context.Background(), []string{"-e", "list"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"basic", "celebrity", "scale"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("-e list lacks %s:\n%s", name, out.String())
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-e", "nope"}, `no experiment "nope"`},
		{[]string{"--nusers=10"}, "flag provided but not defined"},
		{[]string{"-e", "basic", "extra"}, "workload flags go after --"},
		{[]string{"-nb", "1", "-nc", "0"}, "at least one"},
		{[]string{"-e", "basic", "--", "--binary"}, "give -partfunc twitternew"},
		{[]string{"-e", "celebrity", "-g", "0"}, "client groups"},
	} {
		errb.Reset()
		err := runCluster(context.Background(), c.args, io.Discard, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("cluster %q: %v, want %q", c.args, err, c.want)
		}
	}
}
