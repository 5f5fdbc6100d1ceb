package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/redisclient"
)

// The tests share one throw-away redis-server started by
// loadgen/scripts/redis.sh; each test flushes it first.
var (
	redisAddr string
	skipWhy   string // set when redis-server is missing and cannot be installed
	setupErr  error  // set when the server failed to start for another reason
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	script, err := filepath.Abs("../../scripts/redis.sh")
	if err != nil {
		setupErr = err
		return m.Run()
	}
	runDir, err := os.MkdirTemp("", "redis-shim-test")
	if err != nil {
		setupErr = err
		return m.Run()
	}
	defer os.RemoveAll(runDir)
	port, err := freePort()
	if err != nil {
		setupErr = err
		return m.Run()
	}
	env := append(os.Environ(), "REDIS_RUN_DIR="+runDir)
	start := exec.Command("bash", script, "start", strconv.Itoa(port))
	start.Env = env
	out, err := start.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit) && exit.ExitCode() == 3:
		skipWhy = fmt.Sprintf("redis-server not installed and could not be installed: %s", out)
		return m.Run()
	case err != nil:
		setupErr = fmt.Errorf("redis.sh start %d: %v: %s", port, err, out)
		return m.Run()
	}
	defer func() {
		stop := exec.Command("bash", script, "stop", strconv.Itoa(port))
		stop.Env = env
		if out, err := stop.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "redis.sh stop %d: %v: %s\n", port, err, out)
		}
	}()
	redisAddr = "127.0.0.1:" + strconv.Itoa(port)
	return m.Run()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// needRedis skips the test when redis-server is unavailable and returns a
// raw client to a flushed server (closed at cleanup).
func needRedis(t *testing.T) *redisclient.Client {
	t.Helper()
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	ctx := testCtx(t)
	raw, err := redisclient.Dial(ctx, redisAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if _, err := raw.Do(ctx, "FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	return raw
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// await runs loop until *flag is set.
func await(t *testing.T, loop *async.Loop, flag *bool) {
	t.Helper()
	if err := loop.Until(testCtx(t), func() bool { return *flag }); err != nil {
		t.Fatal(err)
	}
}

// do runs one err-only op to completion.
func do(t *testing.T, loop *async.Loop, op func(done func(error))) {
	t.Helper()
	finished := false
	var err error
	op(func(e error) { err, finished = e, true })
	await(t, loop, &finished)
	if err != nil {
		t.Fatal(err)
	}
}

// rawDo runs a command on the raw client.
func rawDo(t *testing.T, raw *redisclient.Client, args ...string) redisclient.Reply {
	t.Helper()
	r, err := raw.Do(testCtx(t), args...)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return r
}
