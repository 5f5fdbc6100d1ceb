package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/reactor"
	"github.com/pequod-go/pequod/wire"
)

// hostFileOf starts n independent in-process servers on loopback (no
// mesh: each one holds what it is sent) and writes their host file.
func hostFileOf(t *testing.T, n int) (path string, addrs []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# test cluster\n")
	for i := 0; i < n; i++ {
		srv, err := partition.New(partition.Config{Partitions: 2})
		if err != nil {
			t.Fatal(err)
		}
		rs, err := reactor.Start(reactor.Config{Addr: "127.0.0.1:0", Loops: 1}, srv)
		if err != nil {
			srv.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = rs.Stop(ctx)
			srv.Close()
		})
		addr := rs.Addr().String()
		addrs = append(addrs, addr)
		fmt.Fprintln(&b, strings.Replace(addr, ":", "\t", 1))
	}
	path = filepath.Join(t.TempDir(), "hosts.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, addrs
}

func TestClusterFlags(t *testing.T) {
	o, err := parseTwitternewArgs([]string{"-H", "hosts.txt", "-B=2", "--rand-cache"}, io.Discard)
	if err != nil || o.HostFile != "hosts.txt" || o.NBacking != 2 || !o.Params.RandCache || o.Client != "" {
		t.Errorf("twitternew -H: %+v, %v", o, err)
	}
	o, err = parseTwitternewArgs([]string{"--hostfile=h", "--nbacking=1", "-c=3"}, io.Discard)
	if err != nil || o.HostFile != "h" || o.NBacking != 1 || o.Client != "3" {
		t.Errorf("twitternew --hostfile -c=3: %+v, %v", o, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-B=2"}, "-B needs -H"},
		{[]string{"-H", "h", "-c", "host:1"}, "want the seqid"},
		{[]string{"-H", "h", "--redis"}, "--redis-addr"},
		{[]string{"-H", "h", "-B=-1"}, "bad -B"},
	} {
		if _, err := parseTwitternewArgs(c.args, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("twitternew %v: %v, want %q", c.args, err, c.want)
		}
	}

	ho, err := parseHNArgs([]string{"-H", "h", "-B", "1", "-s"}, io.Discard)
	if err != nil || ho.hostFile != "h" || ho.nbacking != 1 {
		t.Errorf("hn -H: %+v, %v", ho, err)
	}
	if ho, err := parseHNArgs([]string{"--hostfile=h", "-c=2"}, io.Discard); err != nil || ho.client != "2" {
		t.Errorf("hn -H -c=2 (colocated, p| allowed): %+v, %v", ho, err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-H", "h"}, "--super_materialize"},
		{[]string{"-B", "1"}, "-B needs -H"},
		{[]string{"-H", "h", "-s", "--redis"}, "does not apply to --redis"},
	} {
		if _, err := parseHNArgs(c.args, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("hn %v: %v, want %q", c.args, err, c.want)
		}
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-B", "1"}, "-B needs -H"},
		{[]string{"-H", "h", "-addr", "x:1"}, "excludes -embedded and -addr"},
		{[]string{"-H", "h", "-backend", "redis"}, "needs -backend pequod"},
		{[]string{"-H", filepath.Join(t.TempDir(), "missing")}, "host file"},
	} {
		if _, err := parseKVArgs(c.args, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("kv %v: %v, want %q", c.args, err, c.want)
		}
	}
	path, _ := hostFileOf(t, 2)
	if _, err := parseKVArgs([]string{"-H", path, "-B", "2"}, io.Discard); err == nil || !strings.Contains(err.Error(), "nbacking < nservers") {
		t.Errorf("kv -B 2 of 2: %v", err)
	}
}

// TestKVCluster runs `pequod kv -H` over three servers with twitternew-text
// keys p|NNNNN (key n on server n mod 3) and checks each server's keys.
func TestKVCluster(t *testing.T) {
	path, addrs := hostFileOf(t, 3)
	var out, errb bytes.Buffer
	args := []string{"-H", path, "-partfunc", "twitternew-text", "-prefix", "p|", "-key-size", "7",
		"-keys", "90", "-conns", "2", "-depth", "4", "-requests", "200", "-q"}
	if err := runKV(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var res struct {
		Addr   string `json:"addr"`
		Errors struct {
			Total int `json:"total"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if res.Errors.Total != 0 || !strings.Contains(res.Addr, "3 servers") {
		t.Errorf("result %s", out.String())
	}
	ctx := testCtx(t)
	for i, a := range addrs {
		c, err := wire.Dial(a)
		if err != nil {
			t.Fatal(err)
		}
		kvs, err := c.Scan(ctx, "p|", "p}")
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(kvs) != 30 {
			t.Errorf("server %d holds %d keys, want 30", i, len(kvs))
		}
		for _, kv := range kvs {
			var n int
			if _, err := fmt.Sscanf(string(kv.Key), "p|%05d", &n); err != nil || n%3 != i {
				t.Errorf("server %d holds %q", i, kv.Key)
			}
		}
	}
}

// TestTwitternewCluster runs `pequod twitternew -H` (client push, so no
// server needs another's data) over two servers without backing servers:
// users 0..255 on server 0, 256..299 on server 1. Each server must hold
// exactly its users' subscriptions, posts and timelines, and the result
// has one stats object per server.
func TestTwitternewCluster(t *testing.T) {
	path, addrs := hostFileOf(t, 2)
	var out, errb bytes.Buffer
	args := append([]string{"-H", path, "--push"}, smallTwitternew...)
	if err := runTwitternew(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	var stats, logs []json.RawMessage
	if err := json.Unmarshal(m["server_stats"], &stats); err != nil || len(stats) != 2 {
		t.Errorf("server_stats %s: %v", m["server_stats"], err)
	}
	if err := json.Unmarshal(m["server_logs"], &logs); err != nil || len(logs) != 2 {
		t.Errorf("server_logs %s: %v", m["server_logs"], err)
	}
	ctx := testCtx(t)
	for i, a := range addrs {
		c, err := wire.Dial(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"s", "p", "t"} {
			kvs, err := c.Scan(ctx, table+"|", table+"}")
			if err != nil {
				t.Fatal(err)
			}
			if len(kvs) == 0 {
				t.Errorf("server %d has no %s| keys", i, table)
			}
			for _, kv := range kvs {
				k := kv.Key
				u := int(k[2])<<24 | int(k[3])<<16 | int(k[4])<<8 | int(k[5])
				if u>>8 != i {
					t.Errorf("server %d holds %q of user %d", i, k, u)
					break
				}
			}
		}
		c.Close()
	}
}

// TestHNColocated runs `pequod hn -H FILE -c=1`: connections to every
// server, everything sent to seqid 1 (server.md §2.10), so the karma
// checks hold without a server mesh and the other servers stay empty.
func TestHNColocated(t *testing.T) {
	path, addrs := hostFileOf(t, 3)
	var out, errb bytes.Buffer
	args := []string{"-H", path, "-c=1", "-x", "20", "-a", "100", "-o", "300", "-v", "20", "-r", "10"}
	if err := runHN(testCtx(t), args, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var obj struct {
		NRead       int               `json:"nread"`
		KarmaErrors int               `json:"karma_errors"`
		Stats       []json.RawMessage `json:"server_stats"`
	}
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if obj.NRead == 0 || obj.KarmaErrors != 0 || len(obj.Stats) != 1 {
		t.Errorf("result %s", out.String())
	}
	ctx := testCtx(t)
	for i, a := range addrs {
		c, err := wire.Dial(a)
		if err != nil {
			t.Fatal(err)
		}
		n, err := c.Count(ctx, "a|", "a}")
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if (i == 1) != (n > 0) {
			t.Errorf("server %d holds %d articles", i, n)
		}
	}
}
