package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pequod-go/pequod/wire"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listeningRE = regexp.MustCompile(`listening on port (\d+)`)

// served is an in-process `pequod serve`.
type served struct {
	addr   string
	stderr *syncBuffer
	cancel context.CancelFunc
	errc   chan error
}

// startServe runs runServe with args (plus -bind 127.0.0.1 and port 0 unless
// given) and waits for "listening on port P".
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "-l") }) {
		args = append(args, "-l=0")
	}
	args = append([]string{"-bind", "127.0.0.1"}, args...)
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{stderr: &syncBuffer{}, cancel: cancel, errc: make(chan error, 1)}
	go func() { s.errc <- runServe(ctx, args, io.Discard, s.stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listeningRE.FindStringSubmatch(s.stderr.String()); m != nil {
			s.addr = "127.0.0.1:" + m[1]
			break
		}
		select {
		case err := <-s.errc:
			cancel()
			t.Fatalf("serve exited early: %v\n%s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start:\n%s", s.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s
}

// stop cancels the server's context and returns runServe's result.
func (s *served) stop() error {
	s.cancel()
	return s.wait()
}

func (s *served) wait() error {
	select {
	case err, ok := <-s.errc:
		if !ok {
			return nil
		}
		close(s.errc)
		return err
	case <-time.After(15 * time.Second):
		return errors.New("serve did not stop")
	}
}

func (s *served) dial(t *testing.T) *wire.Client {
	t.Helper()
	c, err := wire.Dial(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// settleGoroutines waits up to 5 s for the goroutine count to drop to n.
func settleGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutine leak: want <= %d, have %d\n%s", n, runtime.NumGoroutine(), buf)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNormalizeServeArgs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"-l=7000", "-l=7000"},
		{"-l7000", "-l=7000"},
		{"-l 7000", "-l=7000"},
		{"--listen=7000", "--listen=7000"},
		{"--listen 7000", "-l=7000"},
		{"-listen 7000", "-l=7000"},
		{"-kl=7000", "-k -l=7000"},
		{"-kl7000", "-k -l=7000"},
		{"-kl", "-k -l=8000"},
		{"-l", "-l=8000"},
		{"-l -loops 2", "-l=8000 -loops 2"},
		{"-loops 2 -log-level debug", "-loops 2 -log-level debug"},
		{"-k -l=1", "-k -l=1"},
	} {
		got, err := normalizeServeArgs(strings.Fields(tc.in))
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%q -> %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestServeFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-l=notaport"},
		{"-l=70000"},
		{"-partitions=0"},
		{"-log-level=loud"},
		{"-no-such-flag"},
		{"-l=0", "positional"},
	} {
		if err := runServe(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// TestServeAllRPCs: every RPC of spec/server.md §1.6 gets a sane reply from
// the real partitions behind the reactor.
func TestServeAllRPCs(t *testing.T) {
	s := startServe(t, "-partitions=3", "-loops=2")
	c := s.dial(t)
	ctx := testCtx(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// get / insert / erase
	if v, err := c.Get(ctx, "k|missing"); err != nil || len(v) != 0 {
		t.Fatalf("get missing = %q, %v", v, err)
	}
	for i := 1; i <= 5; i++ {
		must(c.Insert(ctx, fmt.Sprintf("k|%d", i), fmt.Sprintf("v%d", i)))
	}
	if v, err := c.Get(ctx, "k|3"); err != nil || string(v) != "v3" {
		t.Fatalf("get = %q, %v", v, err)
	}
	must(c.Insert(ctx, "k|3", "v3b"))
	if v, err := c.Get(ctx, "k|3"); err != nil || string(v) != "v3b" {
		t.Fatalf("get after overwrite = %q, %v", v, err)
	}
	must(c.Erase(ctx, "k|5"))
	if v, err := c.Get(ctx, "k|5"); err != nil || len(v) != 0 {
		t.Fatalf("get erased = %q, %v", v, err)
	}
	must(c.Erase(ctx, "never|existed")) // joins.md §10 A6

	// count / scan, with and without scanlast
	if n, err := c.Count(ctx, "k|", "k}"); err != nil || n != 4 {
		t.Fatalf("count = %d, %v", n, err)
	}
	if n, err := c.Count(ctx, "k|", "k}", "k|3"); err != nil || n != 2 {
		t.Fatalf("count with scanlast = %d, %v", n, err)
	}
	kvs, err := c.Scan(ctx, "k|", "k}")
	if err != nil || len(kvs) != 4 || string(kvs[2].Key) != "k|3" || string(kvs[2].Value) != "v3b" {
		t.Fatalf("scan = %v, %v", kvs, err)
	}
	kvs, err = c.Scan(ctx, "k|", "k}", "k|3")
	if err != nil || len(kvs) != 2 || string(kvs[1].Key) != "k|2" {
		t.Fatalf("scan with scanlast = %v, %v", kvs, err)
	}

	// add_join OK, then the join's output; add_join parse error text.
	const join = "t|<user:3>|<time:10>|<poster:3> = copy p|<poster>|<time> using s|<user>|<poster>"
	if _, err := c.AddJoin(ctx, "t|", "t}", join); err != nil {
		t.Fatalf("add_join: %v", err)
	}
	must(c.Insert(ctx, "s|ann|bob", "1"))
	must(c.Insert(ctx, "p|bob|0000000100", "hello"))
	must(c.Insert(ctx, "p|bob|0000000200", "again"))
	must(c.Insert(ctx, "p|cat|0000000150", "not followed"))
	kvs, err = c.Scan(ctx, "t|ann|", "t|ann}")
	if err != nil || len(kvs) != 2 || string(kvs[0].Key) != "t|ann|0000000100|bob" || string(kvs[0].Value) != "hello" {
		t.Fatalf("timeline scan = %v, %v", kvs, err)
	}
	if n, err := c.Count(ctx, "t|ann|", "t|ann}", "t|ann|0000000150"); err != nil || n != 1 {
		t.Fatalf("timeline count with scanlast = %d, %v", n, err)
	}
	must(c.Insert(ctx, "p|bob|0000000300", "third"))
	if n, err := c.Count(ctx, "t|ann|", "t|ann}"); err != nil || n != 3 {
		t.Fatalf("timeline count after a post = %d, %v", n, err)
	}
	msg, err := c.AddJoin(ctx, "u|", "u}", "u|<x:3> = garbage")
	var se *wire.StatusError
	if !errors.As(err, &se) || msg == "" {
		t.Fatalf("add_join parse error: payload %q, err %v", msg, err)
	}
	t.Logf("add_join parse error text: %q", msg)

	// stats
	st, err := c.Stats(ctx)
	if err != nil || !st.IsMap() {
		t.Fatalf("stats = %v, %v", st, err)
	}
	if v, ok := st.Get("store_size"); !ok || !v.IsInteger() {
		t.Errorf("stats has no integer store_size: %v", st)
	}
	if v, ok := st.Get("tables"); !ok || !v.IsArray() {
		t.Errorf("stats has no tables array: %v", st)
	}

	// control
	if v, err := c.Control(ctx, map[string]any{"is_ready": true}); err != nil || v.Kind() != wire.KindBool || !v.Bool() {
		t.Fatalf("is_ready = %v, %v", v, err)
	}
	v, err := c.Control(ctx, map[string]any{"get_log": true})
	if err != nil || !v.IsMap() {
		t.Fatalf("get_log = %v, %v", v, err)
	}
	if d, ok := v.Get("data"); !ok || !d.IsMap() {
		t.Errorf("get_log has no data object: %v", v)
	}
	if b, ok := v.Get("backend"); !ok || b.Kind() != wire.KindBool {
		t.Errorf("get_log has no backend bool: %v", v)
	}
	if v, err := c.Control(ctx, map[string]any{"clear_log": true}); err != nil || !v.IsMap() || v.Len() != 0 {
		t.Fatalf("clear_log = %v, %v", v, err)
	}
	if v, err := c.Control(ctx, map[string]any{}); err != nil || !v.IsMap() {
		t.Fatalf("empty control = %v, %v", v, err)
	}

	// noop_get
	if v, err := c.NoopGet(ctx, "anything"); err != nil || string(v) != strings.Repeat(".", 512) {
		t.Fatalf("noop_get = %q, %v", v, err)
	}

	// Server-to-server RPCs on a stand-alone server: a reply each, no crash
	// (joins.md §10 A6: subscribe sent to a stand-alone server).
	for _, call := range []*wire.Call{
		c.NotifyInsertAsync("k|9", "v9", nil),
		c.NotifyEraseAsync("k|9", nil),
		c.InvalidateAsync("k|", "k}", nil),
		c.SubscribeAsync("k|", "k}", 1, nil),
		c.UnsubscribeAsync("k|", "k}", 1, nil),
	} {
		<-call.Done
		if call.Err != nil {
			t.Fatalf("%v: %v", call.Cmd, call.Err)
		}
		t.Logf("%v: status %d payload %v", call.Cmd, call.Status, call.Payload)
	}
	if v, err := c.Get(ctx, "k|1"); err != nil || string(v) != "v1" {
		t.Fatalf("get after server-to-server RPCs = %q, %v", v, err)
	}
}

// TestServePipelined: one connection, many requests in flight.
func TestServePipelined(t *testing.T) {
	s := startServe(t, "-partitions=4", "-loops=2")
	c := s.dial(t)
	const n = 20000
	done := make(chan *wire.Call, n)
	for i := 0; i < n; i++ {
		c.InsertAsync(fmt.Sprintf("p|%05d|x", i), strconv.Itoa(i), done)
	}
	for i := 0; i < n; i++ {
		if err := (<-done).Check(); err != nil {
			t.Fatal(err)
		}
	}
	calls := make([]*wire.Call, n)
	for i := range calls {
		calls[i] = c.GetAsync(fmt.Sprintf("p|%05d|x", i), nil)
	}
	for i, call := range calls {
		<-call.Done
		if v, err := call.Bytes(); err != nil || string(v) != strconv.Itoa(i) {
			t.Fatalf("get %d = %q, %v", i, v, err)
		}
	}
	if n2, err := c.Count(testCtx(t), "p|", "p}"); err != nil || n2 != n {
		t.Fatalf("count = %d, %v", n2, err)
	}
}

// TestServeManyConnections: 50 connections × 32 requests in flight.
func TestServeManyConnections(t *testing.T) {
	s := startServe(t, "-partitions=4", "-loops=4")
	const conns, depth, rounds = 50, 32, 10
	var wg sync.WaitGroup
	errc := make(chan error, conns)
	for ci := 0; ci < conns; ci++ {
		wg.Add(1)
		go func(ci int) {
			defer wg.Done()
			c, err := wire.Dial(s.addr)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			done := make(chan *wire.Call, depth)
			for r := 0; r < rounds; r++ {
				for i := 0; i < depth; i++ {
					key := fmt.Sprintf("c%02d|%04d", ci, r*depth+i)
					if i%2 == 0 {
						c.InsertAsync(key, key, done)
					} else {
						c.GetAsync(fmt.Sprintf("c%02d|%04d", ci, r*depth+i-1), done)
					}
				}
				for i := 0; i < depth; i++ {
					call := <-done
					if err := call.Check(); err != nil {
						errc <- err
						return
					}
					if call.Cmd == wire.CmdGet {
						// Requests on one connection start in order, so
						// the insert before each get has been applied.
						if v, _ := call.Bytes(); !strings.HasPrefix(string(v), fmt.Sprintf("c%02d|", ci)) {
							errc <- fmt.Errorf("conn %d: get = %q", ci, v)
							return
						}
					}
				}
			}
			n, err := c.Count(context.Background(), fmt.Sprintf("c%02d|", ci), fmt.Sprintf("c%02d}", ci))
			if err != nil || n != rounds*depth/2 {
				errc <- fmt.Errorf("conn %d: count = %d, %v", ci, n, err)
			}
		}(ci)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

// rawConn sends arbitrary bytes and reads replies.
type rawConn struct {
	t     *testing.T
	c     net.Conn
	dec   *wire.Decoder
	buf   []byte
	queue []wire.Value
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, dec: wire.NewDecoder()}
}

func (r *rawConn) read(d time.Duration) (wire.Value, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(d))
	tmp := make([]byte, 64<<10)
	for len(r.queue) == 0 {
		k, err := r.c.Read(tmp)
		r.buf = append(r.buf, tmp[:k]...)
		msgs, n, derr := r.dec.Decode(r.buf)
		if derr != nil {
			r.t.Fatalf("bad reply stream: %v", derr)
		}
		for _, m := range msgs {
			r.queue = append(r.queue, m.Clone())
		}
		r.buf = append(r.buf[:0], r.buf[n:]...)
		if err != nil && len(r.queue) == 0 {
			return wire.Value{}, err
		}
	}
	m := r.queue[0]
	r.queue = r.queue[1:]
	return m, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func encode(vs ...any) []byte {
	b, err := wire.AppendAny(nil, vs)
	if err != nil {
		panic(err)
	}
	return b
}

// TestServeBadInput: each bad input of spec/server.md §1.5 and joins.md
// §10 A6 either fails its request (the connection stays usable) or closes
// its connection only; the server keeps serving other connections with
// their data intact, and no goroutine leaks.
func TestServeBadInput(t *testing.T) {
	s := startServe(t, "-partitions=2", "-loops=2", "-max-frame=1048576")
	good := s.dial(t)
	ctx := testCtx(t)
	if err := good.Insert(ctx, "p|keep|1", "safe"); err != nil {
		t.Fatal(err)
	}
	nested := append(bytes.Repeat([]byte{0x91}, 100000), 0x01)
	for _, tc := range []struct {
		name       string
		input      []byte
		closeWrite bool
		reply      string // "" = closed without reply; "-" = nothing, stays open
	}{
		{name: "malformed msgpack", input: []byte{0x93, 0x01, 0x00, 0xc1}},
		{name: "ext type", input: []byte{0x93, 0x01, 0x00, 0xd7, 0x00, 1, 2, 3, 4, 5, 6, 7, 8}},
		{name: "non-array frame", input: []byte{0xa3, 'a', 'b', 'c'}},
		{name: "non-array frame int", input: []byte{0x2a}},
		{name: "too short", input: encode(1)},
		{name: "elem0 not integer", input: encode("get", 1, "p|keep|1")},
		{name: "non-string key", input: encode(1, 3, 42), reply: `[-1,3,-1,null]`},
		{name: "insert non-string value", input: encode(2, 4, "p|keep|1", 42), reply: `[-2,4,-1,null]`},
		{name: "notify_insert non-string value", input: encode(4, 4, "p|keep|1", nil), reply: `[-4,4,-1,null]`},
		{name: "empty table name", input: encode(2, 5, "nokey", "v"), reply: `[-2,5,-1,null]`},
		{name: "range across tables", input: encode(6, 5, "p|", "s|"), reply: `[-6,5,-1,null]`},
		{name: "unknown command", input: encode(42, 6, "p|keep|1"), reply: `[-42,6,-1,null]`},
		{name: "erase in a table that never existed", input: encode(3, 7, "nosuch|k"), reply: `[-3,7,0,null]`},
		{name: "subscribe to a stand-alone server", input: encode(8, 8, "p|keep|", "p|keep}", map[string]any{"subscriber": 5}), reply: "any"},
		{name: "reply-shaped message", input: encode(-1, 9, 0, nil), reply: "-"},
		{name: "str32 2^31 then EOF", input: []byte{0x93, 0x01, 0x00, 0xdb, 0x80, 0x00, 0x00, 0x00}, closeWrite: true},
		{name: "100000 nested arrays", input: nested},
		{name: "frame over -max-frame", input: encode(2, 10, "p|big|1", strings.Repeat("x", 2<<20))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := runtime.NumGoroutine()
			r := dialRaw(t, s.addr)
			_, werr := r.c.Write(tc.input)
			if werr != nil && tc.reply != "" {
				t.Fatal(werr)
			}
			if tc.closeWrite {
				_ = r.c.(*net.TCPConn).CloseWrite()
			}
			wait := 5 * time.Second
			if tc.reply == "-" {
				wait = 300 * time.Millisecond
			}
			m, err := r.read(wait)
			switch tc.reply {
			case "":
				if err == nil {
					t.Fatalf("got %v, want the connection closed", m)
				}
				if isTimeout(err) {
					t.Fatal("the connection stayed open")
				}
			case "-":
				if err == nil || !isTimeout(err) {
					t.Fatalf("got %v, %v; want silence", m, err)
				}
			case "any":
				if err != nil {
					t.Fatalf("no reply: %v", err)
				}
				t.Logf("reply %v", m)
			default:
				if err != nil || m.String() != tc.reply {
					t.Fatalf("reply %v, %v; want %s", m, err, tc.reply)
				}
			}
			if tc.reply != "" {
				if _, err := r.c.Write(encode(1, 100, "p|keep|1")); err != nil {
					t.Fatal(err)
				}
				if m, err := r.read(5 * time.Second); err != nil || m.String() != `[-1,100,0,"safe"]` {
					t.Fatalf("connection not usable afterwards: %v, %v", m, err)
				}
			}
			if v, err := good.Get(ctx, "p|keep|1"); err != nil || string(v) != "safe" {
				t.Fatalf("other connection: get = %q, %v", v, err)
			}
			r.c.Close()
			settleGoroutines(t, base)
		})
	}
	if !strings.Contains(s.stderr.String(), "bad rpc") {
		t.Errorf("no \"bad rpc\" in the log:\n%s", s.stderr.String())
	}
}

// TestServeQuitInProcess: control {"quit": true} makes runServe return nil;
// the quit request itself gets no reply (spec/server.md §1.7), the
// connection is closed by the shutdown.
func TestServeQuitInProcess(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServe(t, "-partitions=2", "-loops=1")
	c, err := wire.Dial(s.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Insert(testCtx(t), "p|a|1", "x"); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s.addr)
	if _, err := r.c.Write(encode(13, 1, map[string]any{"quit": true})); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(); err != nil {
		t.Fatalf("serve after quit: %v", err)
	}
	if m, err := r.read(5 * time.Second); err == nil {
		t.Errorf("quit got a reply: %v", m)
	} else if isTimeout(err) {
		t.Error("connection still open after the server stopped")
	}
	if _, err := c.Get(testCtx(t), "p|a|1"); !errors.Is(err, wire.ErrConnLost) {
		t.Errorf("after quit: get error %v, want connection lost", err)
	}
	c.Close()
	r.c.Close()
	settleGoroutines(t, base)
}

func TestServeListenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var stderr syncBuffer
	err = runServe(context.Background(), []string{"-bind", "127.0.0.1", "-l=" + strconv.Itoa(port), "-partitions=1", "-loops=1"}, io.Discard, &stderr)
	if err == nil {
		t.Fatal("serve on a busy port succeeded")
	}
	t.Logf("error: %v", err)
}

func TestServePprof(t *testing.T) {
	port := freePort(t)
	s := startServe(t, "-partitions=1", "-loops=1", "-pprof", "127.0.0.1:"+strconv.Itoa(port))
	_ = s
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/", port))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("pprof status %d", resp.StatusCode)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pequodBinary builds the command once per test run.
func pequodBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pequod-serve-test")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pequod")
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			goTool = "go"
		}
		out, err := exec.Command(goTool, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// proc is a running pequod binary.
type proc struct {
	cmd   *exec.Cmd
	lines chan string // stderr lines
	exit  chan error
	done  chan struct{} // closed once the process has been waited for
}

func startBinary(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(pequodBinary(t), args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000), exit: make(chan error, 1), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		close(p.lines)
		p.exit <- cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLine waits for a stderr line containing substr.
func (p *proc) waitLine(t *testing.T, substr string) string {
	t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("process exited before printing %q", substr)
			}
			t.Logf("stderr: %s", l)
			if strings.Contains(l, substr) {
				return l
			}
		case <-timeout:
			t.Fatalf("no %q on stderr", substr)
		}
	}
}

// waitExit waits for the process and returns its exit code.
func (p *proc) waitExit(t *testing.T) int {
	t.Helper()
	select {
	case err := <-p.exit:
		if err == nil {
			return 0
		}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		t.Fatal(err)
	case <-time.After(15 * time.Second):
		t.Fatal("process did not exit")
	}
	return -1
}

func talk(t *testing.T, addr string) *wire.Client {
	t.Helper()
	c, err := wire.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := c.Insert(ctx, "p|bin|1", "hello"); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get(ctx, "p|bin|1"); err != nil || string(v) != "hello" {
		t.Fatalf("get = %q, %v", v, err)
	}
	if v, err := c.Control(ctx, map[string]any{"is_ready": true}); err != nil || !v.Bool() {
		t.Fatalf("is_ready = %v, %v", v, err)
	}
	return c
}

// TestBinaryQuit runs the built binary with `serve -l=PORT`, talks to it,
// sends control quit and expects exit status 0.
func TestBinaryQuit(t *testing.T) {
	port := freePort(t)
	p := startBinary(t, "serve", "-l="+strconv.Itoa(port), "-partitions=2", "-loops=2")
	p.waitLine(t, fmt.Sprintf("listening on port %d", port))
	c := talk(t, fmt.Sprintf("127.0.0.1:%d", port))
	defer c.Close()
	c.ControlAsync(map[string]any{"quit": true}, nil)
	if code := p.waitExit(t); code != 0 {
		t.Fatalf("exit status %d after quit", code)
	}
}

// TestBinarySIGTERM: SIGTERM stops the server cleanly (exit 0); also the
// original's -kl=PORT spelling.
func TestBinarySIGTERM(t *testing.T) {
	port := freePort(t)
	p := startBinary(t, "serve", "-kl="+strconv.Itoa(port), "-partitions=2", "-loops=2")
	p.waitLine(t, fmt.Sprintf("listening on port %d", port))
	c := talk(t, fmt.Sprintf("127.0.0.1:%d", port))
	defer c.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(t); code != 0 {
		t.Fatalf("exit status %d after SIGTERM", code)
	}
}

// TestBinaryKill: -k stops a server already on the port, then listens.
func TestBinaryKill(t *testing.T) {
	port := freePort(t)
	a := startBinary(t, "serve", "--listen="+strconv.Itoa(port), "-partitions=1", "-loops=1")
	a.waitLine(t, fmt.Sprintf("listening on port %d", port))
	b := startBinary(t, "serve", "-kl="+strconv.Itoa(port), "-partitions=1", "-loops=1")
	b.waitLine(t, fmt.Sprintf("killing existing server on port %d", port))
	if code := a.waitExit(t); code != 0 {
		t.Fatalf("first server: exit status %d", code)
	}
	b.waitLine(t, fmt.Sprintf("listening on port %d", port))
	c := talk(t, fmt.Sprintf("127.0.0.1:%d", port))
	c.Close()
	_ = b.cmd.Process.Signal(syscall.SIGINT)
	if code := b.waitExit(t); code != 0 {
		t.Fatalf("second server: exit status %d", code)
	}
}

// TestBinaryListenFails: a busy port is a non-zero exit.
func TestBinaryListenFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	p := startBinary(t, "serve", "-bind", "127.0.0.1", "-l="+strconv.Itoa(port), "-partitions=1", "-loops=1")
	if code := p.waitExit(t); code == 0 {
		t.Fatal("exit status 0 although the port was busy")
	}
}

// TestServeClientsVanish: clients that pipeline large replies and disconnect
// without reading them leave the server healthy and leak nothing.
func TestServeClientsVanish(t *testing.T) {
	s := startServe(t, "-partitions=4", "-loops=2")
	c := s.dial(t)
	ctx := testCtx(t)
	val := strings.Repeat("v", 250)
	for i := 0; i < 200; i++ {
		if err := c.Insert(ctx, fmt.Sprintf("p|big|%04d", i), val); err != nil {
			t.Fatal(err)
		}
	}
	base := runtime.NumGoroutine()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			conn, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Error(err)
				return
			}
			var b []byte
			for j := 0; j < 200; j++ {
				b = append(b, encode(7, j, "p|big|", "p|big}")...) // ~50 KB reply each
			}
			_, _ = conn.Write(b)
			time.Sleep(time.Duration(i) * time.Millisecond)
			conn.Close()
		}(i)
	}
	wg.Wait()
	if n, err := c.Count(ctx, "p|big|", "p|big}"); err != nil || n != 200 {
		t.Fatalf("count = %d, %v", n, err)
	}
	settleGoroutines(t, base)
}

// serveSecret is the shared secret of the authentication tests.
const serveSecret = "a shared secret of some length"

// writeSecretFile writes content to a fresh file and returns its path.
func writeSecretFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeRefusesExposedBindWithoutSecret: beyond loopback, serve does
// not start without -auth-file, and says why.
func TestServeRefusesExposedBindWithoutSecret(t *testing.T) {
	for _, bind := range []string{"0.0.0.0", "::", "", "192.168.1.20", "example.com"} {
		var stderr syncBuffer
		err := runServe(context.Background(), []string{"-bind", bind, "-l=0", "-partitions=1", "-loops=1"}, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), "refusing to listen") || !strings.Contains(err.Error(), "-auth-file") {
			t.Errorf("-bind %q without -auth-file: %v", bind, err)
		}
		if strings.Contains(stderr.String(), "listening on port") {
			t.Errorf("-bind %q without -auth-file listened:\n%s", bind, stderr.String())
		}
	}
}

// TestBinaryRefusesExposedBind: the same refusal is a non-zero exit with
// the message on stderr.
func TestBinaryRefusesExposedBind(t *testing.T) {
	p := startBinary(t, "serve", "-bind", "0.0.0.0", "-l=0", "-partitions=1", "-loops=1")
	p.waitLine(t, "refusing to listen")
	if code := p.waitExit(t); code == 0 {
		t.Fatal("exit status 0 for -bind 0.0.0.0 without -auth-file")
	}
}

func TestServeAuthFileErrors(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"empty", "", "empty"},
		{"whitespace only", " \n\t\n", "empty"},
		{"15 bytes", "fifteen bytes!!\n", "at least 16"},
	} {
		path := writeSecretFile(t, tc.content)
		err := runServe(context.Background(), []string{"-bind", "127.0.0.1", "-l=0", "-auth-file", path}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
	err := runServe(context.Background(), []string{"-l=0", "-auth-file", filepath.Join(t.TempDir(), "missing")}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-auth-file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadSecretTrims(t *testing.T) {
	got, err := loadSecret(writeSecretFile(t, serveSecret+" \r\n\n"))
	if err != nil || string(got) != serveSecret {
		t.Fatalf("loadSecret = %q, %v; want %q", got, err, serveSecret)
	}
	if got, err := loadSecret(""); got != nil || err != nil {
		t.Fatalf("no -auth-file: %q, %v", got, err)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.2": true, "::1": true, "[::1]": true, "localhost": true,
		"0.0.0.0": false, "::": false, "": false, "10.1.2.3": false, "example.com": false,
	} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestServeAuth: a loopback server with a secret serves data operations
// without authentication, refuses quit (and keeps serving) until the
// connection authenticates, tells a wrong secret so, and quits after a
// good auth.
func TestServeAuth(t *testing.T) {
	s := startServe(t, "-partitions=2", "-loops=1", "-auth-file", writeSecretFile(t, serveSecret+"\n"))
	ctx := testCtx(t)
	c := s.dial(t)
	if err := c.Insert(ctx, "p|a|1", "x"); err != nil {
		t.Fatalf("insert on loopback without auth: %v", err)
	}
	if v, err := c.Get(ctx, "p|a|1"); err != nil || string(v) != "x" {
		t.Fatalf("get on loopback without auth = %q, %v", v, err)
	}

	r := dialRaw(t, s.addr)
	if _, err := r.c.Write(encode(13, 1, map[string]any{"quit": true})); err != nil {
		t.Fatal(err)
	}
	m, err := r.read(5 * time.Second)
	if rep, ok := wire.ParseReply(m); err != nil || !ok || rep.Seq != 1 || rep.Status != wire.StatusFail ||
		!strings.Contains(rep.Payload.Str(), `authentication required for admin control "quit"`) {
		t.Fatalf("quit without auth: %v, %v", m, err)
	}
	if v, err := c.Get(ctx, "p|a|1"); err != nil || string(v) != "x" {
		t.Fatalf("the server stopped serving after a refused quit: %q, %v", v, err)
	}

	_, err = wire.DialContext(ctx, s.addr, &wire.Options{Auth: []byte("the wrong secret, long enough")})
	if !errors.Is(err, wire.ErrAuthRefused) || !strings.Contains(err.Error(), "wrong secret") {
		t.Fatalf("dial with a wrong secret: %v", err)
	}

	if _, err := r.c.Write(append(encode(13, 2, map[string]any{"auth": serveSecret}), encode(13, 3, map[string]any{"quit": true})...)); err != nil {
		t.Fatal(err)
	}
	if m, err := r.read(5 * time.Second); err != nil || m.String() != `[-13,2,0,true]` {
		t.Fatalf("auth: %v, %v", m, err)
	}
	if err := s.wait(); err != nil {
		t.Fatalf("serve after an authenticated quit: %v", err)
	}
}

// TestServeClientAuthQuits: a wire.Client with Options.Auth may quit a
// server with a secret.
func TestServeClientAuthQuits(t *testing.T) {
	s := startServe(t, "-partitions=1", "-loops=1", "-auth-file", writeSecretFile(t, serveSecret))
	c, err := wire.DialContext(testCtx(t), s.addr, &wire.Options{Auth: []byte(serveSecret)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.ControlAsync(map[string]any{"quit": true}, nil)
	if err := s.wait(); err != nil {
		t.Fatalf("serve after quit: %v", err)
	}
}

// TestServeExposedWithSecret: with -auth-file, -bind 0.0.0.0 starts; a
// loopback client still reads and writes, and quits after authenticating.
func TestServeExposedWithSecret(t *testing.T) {
	s := startServe(t, "-bind", "0.0.0.0", "-partitions=1", "-loops=1", "-auth-file", writeSecretFile(t, serveSecret))
	ctx := testCtx(t)
	if err := s.dial(t).Insert(ctx, "p|a|1", "x"); err != nil {
		t.Fatalf("insert from loopback: %v", err)
	}
	c, err := wire.DialContext(ctx, s.addr, &wire.Options{Auth: []byte(serveSecret)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.ControlAsync(map[string]any{"quit": true}, nil)
	if err := s.wait(); err != nil {
		t.Fatalf("serve after quit: %v", err)
	}
}

// TestServeKillWithSecret: -k authenticates with this server's own
// -auth-file before it sends quit; without the secret, or with another
// one, the old server refuses and -k fails saying so, leaving it running.
func TestServeKillWithSecret(t *testing.T) {
	secretFile := writeSecretFile(t, serveSecret)
	old := startServe(t, "-partitions=1", "-loops=1", "-auth-file", secretFile)
	_, port, _ := net.SplitHostPort(old.addr)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no secret", nil, "authentication required"},
		{"another secret", []string{"-auth-file", writeSecretFile(t, "another secret, long enough")}, "wrong secret"},
	} {
		args := append([]string{"-bind", "127.0.0.1", "-k", "-l=" + port, "-partitions=1", "-loops=1"}, tc.args...)
		err := runServe(testCtx(t), args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "refused to quit") || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: -k = %v, want a refusal saying %q", tc.name, err, tc.want)
		}
		if err := probeGet(t, old.addr); err != nil {
			t.Fatalf("%s: the old server stopped: %v", tc.name, err)
		}
	}

	repl := startServe(t, "-k", "-l="+port, "-partitions=1", "-loops=1", "-auth-file", secretFile)
	if err := old.wait(); err != nil {
		t.Fatalf("old server: %v", err)
	}
	if !strings.Contains(repl.stderr.String(), "killing existing server on port "+port) {
		t.Errorf("no kill message:\n%s", repl.stderr.String())
	}
	if err := probeGet(t, repl.addr); err != nil {
		t.Fatalf("the new server: %v", err)
	}
}

// probeGet does one get on a fresh connection to addr.
func probeGet(t *testing.T, addr string) error {
	t.Helper()
	c, err := wire.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Get(testCtx(t), "p|probe|1")
	return err
}
