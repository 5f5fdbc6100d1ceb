package kv

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// clusterOf starts n independent servers and returns their host list.
func clusterOf(t *testing.T, n int) []route.Host {
	t.Helper()
	var lines []string
	for i := 0; i < n; i++ {
		lines = append(lines, strings.Replace(startPequod(t, 1), ":", " ", 1))
	}
	hosts, err := route.ParseHosts(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return hosts
}

// TestClusterRun populates keys p|NNNNN through the routing back end with
// twitternew-text over three servers (key n on server n mod 3) and checks
// on each server that it holds exactly its keys.
func TestClusterRun(t *testing.T) {
	hosts := clusterOf(t, 3)
	servers, err := route.NewServers("twitternew-text", 0, 3)
	if err != nil {
		t.Fatal(err)
	}
	const keys = 300
	res, err := Run(context.Background(), Config{
		Backend: Cluster{Hosts: hosts, Servers: servers}, Addr: "test cluster",
		Conns: 3, Depth: 8, Keys: keys, Prefix: "p|", KeySize: 7, ValueSize: 12,
		Gets: 1, Sets: 1, Requests: 600, Populate: true, Seed: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Total != 0 || res.Populate.Errors.Total != 0 {
		t.Fatalf("errors: %+v, populate %+v", res.Errors, res.Populate.Errors)
	}
	if res.Get.Hits != res.Get.Ops {
		t.Errorf("%d of %d gets missed after populate", res.Get.Misses, res.Get.Ops)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, h := range hosts {
		c, err := wire.Dial(h.Addr())
		if err != nil {
			t.Fatal(err)
		}
		kvs, err := c.Scan(ctx, "p|", "p}")
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(kvs) != keys/3 {
			t.Errorf("%s holds %d keys, want %d", h, len(kvs), keys/3)
		}
		for _, kv := range kvs {
			var n int
			if _, err := fmt.Sscanf(string(kv.Key), "p|%05d", &n); err != nil || n%3 != i {
				t.Errorf("%s holds %q (owner %d)", h, kv.Key, servers.Owner(string(kv.Key)))
			}
		}
	}
}

// TestClusterUnownedKeys checks that keys no server owns are counted as
// errors, not sent.
func TestClusterUnownedKeys(t *testing.T) {
	hosts := clusterOf(t, 2)
	servers, _ := route.NewServers("twitternew-text", 0, 2)
	res, err := Run(context.Background(), Config{
		Backend: Cluster{Hosts: hosts, Servers: servers}, Addr: "test cluster",
		Conns: 1, Depth: 4, Keys: 10, Prefix: "zz|", Requests: 20, Seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors.Total != 20 || !strings.Contains(res.Errors.First, "no owning server") {
		t.Errorf("errors %+v, want 20 unowned keys", res.Errors)
	}
}

func TestClusterDialError(t *testing.T) {
	hosts := clusterOf(t, 1)
	bad, _ := route.ParseHosts(strings.NewReader(strings.Replace(hosts[0].Addr(), ":", " ", 1) + "\n127.0.0.1 1\n"))
	servers, _ := route.NewServers("unit", 0, 2)
	_, err := Cluster{Hosts: bad, Servers: servers}.Dial(context.Background(), "x", 1)
	if err == nil || !strings.Contains(err.Error(), "server 1 (127.0.0.1:1)") {
		t.Errorf("Dial = %v, want an error naming server 1", err)
	}
}
