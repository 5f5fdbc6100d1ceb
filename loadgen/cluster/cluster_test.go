package cluster

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary a child process for the Proc tests
// (TestMain): "term" lives until signalled; "stubborn" ignores SIGTERM,
// starts a "term" grandchild in its process group and prints its pid.
const helperEnv = "PEQUOD_CLUSTER_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "stubborn":
		signal.Ignore(syscall.SIGTERM)
		gc := exec.Command(os.Args[0])
		gc.Env = append(os.Environ(), helperEnv+"=term")
		if err := gc.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("%d\n", gc.Process.Pid)
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
	os.Exit(0)
}

// alive reports whether pid is a live process (a zombie counts as dead).
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		if _, serr := os.Stat("/proc/self/stat"); serr != nil {
			return syscall.Kill(pid, 0) == nil // no /proc
		}
		return false
	}
	// pid (comm) S ...: the state follows the last ')'.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func startHelper(t *testing.T, mode string) (*Proc, []string) {
	t.Helper()
	dir := t.TempDir()
	argv := []string{os.Args[0], "-test.run=^$"}
	t.Setenv(helperEnv, mode)
	p, err := StartProc("helper "+mode, argv, filepath.Join(dir, "log"), filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(time.Second) })
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, _ := os.ReadFile(filepath.Join(dir, "out"))
		if lines := strings.Fields(string(data)); len(lines) > 0 && lines[len(lines)-1] == "ready" {
			return p, lines[:len(lines)-1]
		}
		if time.Now().After(deadline) || p.Exited() {
			t.Fatalf("helper %s did not start: %s; log:\n%s", mode, p.ExitStatus(), Tail(p.Log, 20))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcStopTerminates(t *testing.T) {
	p, _ := startHelper(t, "term")
	start := time.Now()
	err := p.Stop(10 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "terminated") || time.Since(start) > 5*time.Second {
		t.Errorf("Stop: %v after %v, want SIGTERM's exit at once", err, time.Since(start))
	}
	if p.Unasked() || alive(p.Pid()) {
		t.Errorf("unasked %v, alive %v", p.Unasked(), alive(p.Pid()))
	}
}

// TestProcStopKillsGroup: a child that ignores SIGTERM is killed after the
// timeout, and so is the grandchild in its process group.
func TestProcStopKillsGroup(t *testing.T) {
	p, out := startHelper(t, "stubborn")
	if len(out) != 1 {
		t.Fatalf("helper printed %q", out)
	}
	gc, err := strconv.Atoi(out[0])
	if err != nil || !alive(gc) {
		t.Fatalf("grandchild %q: %v", out[0], err)
	}
	start := time.Now()
	err = p.Stop(300 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed") || time.Since(start) < 300*time.Millisecond {
		t.Errorf("Stop: %v after %v, want SIGKILL after the timeout", err, time.Since(start))
	}
	deadline := time.Now().Add(5 * time.Second)
	for alive(gc) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(gc) {
		t.Errorf("grandchild %d outlived the group kill", gc)
		_ = syscall.Kill(gc, syscall.SIGKILL)
	}
}

func TestProcUnaskedExit(t *testing.T) {
	dir := t.TempDir()
	p, err := StartProc("false", []string{"/bin/sh", "-c", "echo one; echo two >&2; exit 3"}, filepath.Join(dir, "log"), "")
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if !p.Unasked() || p.ExitStatus() != "exit status 3" {
		t.Errorf("unasked %v, status %q", p.Unasked(), p.ExitStatus())
	}
	rep := exitReport(p, 5)
	if !strings.Contains(rep, "exit status 3") || !strings.Contains(rep, "    one\n    two") {
		t.Errorf("report:\n%s", rep)
	}
	if _, err := StartProc("missing", []string{filepath.Join(dir, "nothing")}, filepath.Join(dir, "log2"), ""); err == nil {
		t.Error("starting a missing program succeeded")
	}
}

func TestTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	var b bytes.Buffer
	for i := range 5000 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(path, 3); got != "line 4997\nline 4998\nline 4999" {
		t.Errorf("Tail = %q", got)
	}
	if got := Tail(filepath.Join(t.TempDir(), "none"), 3); !strings.Contains(got, "cannot read") {
		t.Errorf("Tail of a missing file = %q", got)
	}
}

func TestExperiments(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Experiments() {
		if seen[e.Name] {
			t.Errorf("experiment %s twice", e.Name)
		}
		seen[e.Name] = true
		if err := e.Validate(nil); err != nil {
			t.Error(err)
		}
		if e.Doc == "" {
			t.Errorf("experiment %s has no Doc", e.Name)
		}
	}
	for _, name := range []string{"basic", "celebrity", "scale"} {
		if _, err := Lookup(name); err != nil {
			t.Error(err)
		}
	}
	if _, err := Lookup("nope"); err == nil || !strings.Contains(err.Error(), "basic") {
		t.Errorf("Lookup(nope): %v", err)
	}
	var b bytes.Buffer
	if err := PrintList(&b); err != nil || !strings.Contains(b.String(), "celebrity") || !strings.Contains(b.String(), "--celebrity=") {
		t.Errorf("PrintList: %v\n%s", err, b.String())
	}
}

func TestValidate(t *testing.T) {
	basic, _ := Lookup("basic")
	for _, c := range []struct {
		change func(*Experiment)
		extra  []string
		want   string
	}{
		{func(e *Experiment) { e.NCache = 0 }, nil, "at least one"},
		{func(e *Experiment) { e.NBase = -1 }, nil, "base servers"},
		{func(e *Experiment) { e.Groups = 0 }, nil, "client groups"},
		{nil, []string{"--binary"}, "give -partfunc twitternew"},
		{func(e *Experiment) { e.PartFunc = "twitternew" }, nil, "give -partfunc twitternew-text"},
		{func(e *Experiment) { e.NBase, e.NCache = 0, 1 }, []string{"--binary"}, ""}, // one server: no -P
		{func(e *Experiment) { e.PartFunc = "twitternew" }, []string{"--binary=true"}, ""},
	} {
		e := basic
		if c.change != nil {
			c.change(&e)
		}
		err := e.Validate(c.extra)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v %v: %v, want %q", e, c.extra, err, c.want)
		}
	}
}

func TestBinaryKeys(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"--no-binary"}, false},
		{[]string{"--no-binary", "-binary"}, true},
		{[]string{"--binary=false"}, false},
		{[]string{"--binary=0", "--x", "--", "--binary"}, false},
		{[]string{"binary"}, true},
		{[]string{"--no-binary", "--binary=true"}, true},
	} {
		if got := binaryKeys(c.args); got != c.want {
			t.Errorf("binaryKeys(%q) = %v", c.args, got)
		}
	}
}

func TestCommandLines(t *testing.T) {
	e := Experiment{Name: "x", NBase: 1, NCache: 2, Groups: 2, PartFunc: "twitternew", Workload: []string{"--nusers=10"}}
	got := ServerArgs(e, "/r/hosts.txt", 2, 7002, 3)
	want := []string{"serve", "-l=7002", "-H=/r/hosts.txt", "-B=1", "-P=twitternew", "--self=2", "-partitions=3", "-bind=127.0.0.1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ServerArgs = %q", got)
	}
	e.NBase, e.NCache = 0, 1
	if got := ServerArgs(e, "/r/hosts.txt", 0, 7000, 1); !reflect.DeepEqual(got, []string{"serve", "-l=7000", "-partitions=1", "-bind=127.0.0.1"}) {
		t.Errorf("one server: ServerArgs = %q", got)
	}
	e.NBase, e.NCache = 1, 2
	got = ClientArgs(e, ClientSpec{HostFile: "/r/h", Server0: "127.0.0.1:7000", PhaseArgs: []string{"--fetch"},
		Extra: []string{"--nusers=20"}, Group: 1, NGroups: 2, MasterPort: 4000, OutPath: "/r"})
	want = []string{"twitternew", "-H", "/r/h", "-B", "1", "--nusers=10", "--fetch", "--nusers=20",
		"--ngroups=2", "--groupid=1", "--master-host=127.0.0.1", "--master-port=4000", "--outpath=/r"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ClientArgs = %q", got)
	}
	e.NBase, e.NCache = 0, 1
	got = ClientArgs(e, ClientSpec{HostFile: "/r/h", Server0: "127.0.0.1:7000", NGroups: 1})
	if want := []string{"twitternew", "--client=127.0.0.1:7000", "--nusers=10"}; !reflect.DeepEqual(got, want) {
		t.Errorf("one server, one group: ClientArgs = %q", got)
	}
}

func TestPickPorts(t *testing.T) {
	ps, err := pickPorts(7000, 3)
	if err != nil || !reflect.DeepEqual(ps, []int{7000, 7001, 7002}) {
		t.Errorf("pickPorts(7000, 3) = %v, %v", ps, err)
	}
	if _, err := pickPorts(65535, 2); err == nil {
		t.Error("pickPorts(65535, 2) succeeded")
	}
	ps, err = pickPorts(0, 4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ps {
		if p == 0 || seen[p] {
			t.Errorf("free ports %v", ps)
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d not free: %v", p, err)
			continue
		}
		l.Close()
	}
}

func TestShellQuote(t *testing.T) {
	got := quoteArgs([]string{"pequod", "--x=a b", "it's", "", "-H=/r/h.txt"})
	if want := `pequod '--x=a b' 'it'\''s' '' -H=/r/h.txt`; got != want {
		t.Errorf("quoteArgs = %s, want %s", got, want)
	}
	// The quoting round-trips through a shell.
	out, err := exec.Command("/bin/sh", "-c", "printf '%s\\n' "+quoteArgs([]string{"a b", "it's", "$HOME"})).Output()
	if err != nil {
		t.Skip("no /bin/sh:", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if !reflect.DeepEqual(lines, []string{"a b", "it's", "$HOME"}) {
		t.Errorf("shell read %q", lines)
	}
}
