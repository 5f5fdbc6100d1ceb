package pqclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/async"
	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/reactor"
	"github.com/pequod-go/pequod/wire"
)

// both runs f against an embedded connection and a TCP one, each to a fresh
// 2-partition server.
func both(t *testing.T, f func(t *testing.T, c *Conn)) {
	t.Run("embedded", func(t *testing.T) {
		srv, err := partition.New(partition.Config{Partitions: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		c := Embedded(srv, async.New())
		defer c.Close()
		f(t, c)
	})
	t.Run("tcp", func(t *testing.T) {
		srv, err := partition.New(partition.Config{Partitions: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		rs, err := reactor.Start(reactor.Config{Addr: "127.0.0.1:0", Loops: 1}, srv)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = rs.Stop(ctx)
		}()
		c, err := Dial(context.Background(), rs.Addr().String(), async.New())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f(t, c)
	})
}

func TestOperations(t *testing.T) {
	both(t, func(t *testing.T, c *Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		loop := c.Loop()
		var errs []error
		note := func(err error) {
			if err != nil {
				errs = append(errs, err)
			}
		}
		noteAs := func(what string) func(error) {
			return func(err error) {
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", what, err))
				}
			}
		}
		var joinMsg string
		c.AddJoin("t|", "t}", "t|<u>|<p> = copy p|<p> using s|<u>|<p> where u:1, p:1", func(msg string, err error) { joinMsg = msg; noteAs("join")(err) })
		for _, k := range []string{"s|a|x", "s|a|y", "s|b|x"} {
			c.Insert(k, "1", noteAs("insert "+k))
		}
		c.Insert("p|x", "hello", note)
		c.Insert("p|y", "world", note)
		c.Insert("z|gone", "v", noteAs("insert z"))
		c.Erase("z|gone", noteAs("erase z"))
		if err := loop.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if len(errs) > 0 {
			t.Fatalf("errors: %v (join message %q)", errs, joinMsg)
		}
		var count int64
		var kvs []wire.KV
		var got, gone []byte
		c.Count("t|a|", "t|a}", "", func(n int64, err error) { count = n; note(err) })
		c.Scan("t|a|", "t|a}", "t|a|y", func(r []wire.KV, err error) { kvs = r; note(err) })
		c.Get("p|y", func(v []byte, err error) { got = v; note(err) })
		c.Get("z|gone", func(v []byte, err error) { gone = v; note(err) })
		if loop.Outstanding() != 4 {
			t.Fatalf("outstanding %d, want 4", loop.Outstanding())
		}
		if err := loop.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if count != 2 {
			t.Errorf("count t|a = %d, want 2", count)
		}
		if len(kvs) != 1 || string(kvs[0].Key) != "t|a|x" || string(kvs[0].Value) != "hello" {
			t.Errorf("scan = %q, want [t|a|x hello]", kvs)
		}
		if string(got) != "world" || len(gone) != 0 {
			t.Errorf("get p|y = %q, z|gone = %q", got, gone)
		}

		stats, err := c.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(stats, &m); err != nil {
			t.Fatalf("stats %s: %v", stats, err)
		}
		if _, ok := m["store_size"]; !ok {
			t.Errorf("stats without store_size: %s", stats)
		}
		ready, err := c.Control(ctx, map[string]any{"is_ready": true})
		if err != nil || string(ready) != "true" {
			t.Errorf("is_ready = %s, %v", ready, err)
		}
	})
}

func TestFailuresReachTheCallback(t *testing.T) {
	both(t, func(t *testing.T, c *Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var joinErr, insertErr error
		c.AddJoin("t|", "t}", "t|<u> = nonsense", func(_ string, err error) { joinErr = err })
		c.Insert("", "v", func(err error) { insertErr = err }) // no table name: rejected (§1.5)
		if err := c.Loop().Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if joinErr == nil || !errors.Is(joinErr, ErrFailed) {
			t.Errorf("bad join: err %v, want ErrFailed with a message", joinErr)
		}
		if insertErr == nil {
			t.Error("insert without a table name succeeded")
		}
	})
}

func TestPipelinedOrderAndVolume(t *testing.T) {
	both(t, func(t *testing.T, c *Conn) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		const n = 20000
		for i := 0; i < n; i++ {
			c.Insert(fmt.Sprintf("k|%06d", i), "v", nil)
			if err := c.Loop().Pace(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var count int64
		c.Count("k|", "k}", "", func(v int64, err error) { count = v })
		if err := c.Loop().Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if count != n {
			t.Fatalf("count %d after %d pipelined inserts", count, n)
		}
	})
}

func TestCloseFailsOutstanding(t *testing.T) {
	srv, err := partition.New(partition.Config{Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := Embedded(srv, async.New())
	c.Close()
	var got error
	c.Insert("a|b", "c", func(err error) { got = err })
	if err := c.Loop().Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("insert on a closed connection succeeded")
	}
}
