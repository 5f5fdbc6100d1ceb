package memcached

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/loadgen/memcache"
	"github.com/pequod-go/pequod/loadgen/memcache/memcachetest"
)

// The tests share one throw-away memcached started by
// loadgen/scripts/memcached.sh; each test flushes it first.
var (
	mcAddr   string
	skipWhy  string // memcached missing and not installable
	setupErr error  // the server failed to start for another reason
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "memcached-shim-test")
	if err != nil {
		setupErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	srv, err := memcachetest.Start(dir)
	switch {
	case errors.Is(err, memcachetest.ErrUnavailable):
		skipWhy = fmt.Sprintf("memcached not installed and could not be installed: %v", err)
		return m.Run()
	case err != nil:
		setupErr = err
		return m.Run()
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	mcAddr = srv.Addr
	return m.Run()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// needMemcached skips the test when memcached is unavailable and returns a
// raw client to the flushed server (closed at cleanup).
func needMemcached(t *testing.T) *memcache.Client {
	t.Helper()
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	raw, err := memcache.Dial(testCtx(t), mcAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	if err := raw.Flush(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	return raw
}

// rawGet reads key ("" when missing).
func rawGet(t *testing.T, raw *memcache.Client, key string) string {
	t.Helper()
	v, err := raw.Get(testCtx(t), []byte(key))
	if errors.Is(err, memcache.ErrNotFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return string(v)
}

// await runs loop until *flag is set.
func await(t *testing.T, loop *async.Loop, flag *bool) {
	t.Helper()
	if err := loop.Until(testCtx(t), func() bool { return *flag }); err != nil {
		t.Fatal(err)
	}
}

// do runs one err-only op to completion and returns its error.
func do(t *testing.T, loop *async.Loop, op func(done func(error))) error {
	t.Helper()
	finished := false
	var err error
	op(func(e error) { err, finished = e, true })
	await(t, loop, &finished)
	return err
}

// mustDo is do that fails the test on error.
func mustDo(t *testing.T, loop *async.Loop, op func(done func(error))) {
	t.Helper()
	if err := do(t, loop, op); err != nil {
		t.Fatal(err)
	}
}
