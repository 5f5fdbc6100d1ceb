package memcached

import (
	"testing"

	"github.com/pequod-go/pequod/loadgen/kv"
	"github.com/pequod-go/pequod/loadgen/memcache"
)

func TestKVConn(t *testing.T) {
	raw := needMemcached(t)
	var be kv.Backend = KV{}
	if be.Name() != "memcached" {
		t.Fatal(be.Name())
	}
	c, err := be.Dial(testCtx(t), mcAddr, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Issue(kv.OpSet, []byte("m|1"), []byte("one"), 1)
	c.Issue(kv.OpSet, []byte("m|empty"), nil, 2)
	c.Issue(kv.OpGet, []byte("m|1"), nil, 3)
	c.Issue(kv.OpGet, []byte("m|missing"), nil, 4)
	got := map[uint32]kv.Completion{}
	for range 4 {
		comp, err := c.Next(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if comp.Err != nil {
			t.Fatalf("tag %d: %v", comp.Tag, comp.Err)
		}
		comp.Value = append([]byte(nil), comp.Value...) // valid until the next Next
		if comp.Tag == 4 && comp.Value != nil {
			t.Fatal("copying made a nil value non-nil")
		}
		got[comp.Tag] = comp
	}
	if string(got[3].Value) != "one" {
		t.Fatalf("get: %q", got[3].Value)
	}
	if got[4].Value != nil {
		t.Fatalf("missing key: %q", got[4].Value)
	}
	if v := rawGet(t, raw, "m|1"); v != "one" {
		t.Fatalf("raw: %q", v)
	}
	c.Issue(kv.OpGet, []byte("m|empty"), nil, 5)
	comp, err := c.Next(testCtx(t))
	if err != nil || comp.Err != nil || comp.Value == nil || len(comp.Value) != 0 {
		t.Fatalf("empty value: %+v %v", comp, err)
	}
	// An oversized set fails locally; the connection stays usable.
	c.Issue(kv.OpSet, []byte("m|big"), make([]byte, memcache.DefaultMaxValueSize+1), 6)
	if comp, err := c.Next(testCtx(t)); err != nil || comp.Tag != 6 || comp.Err == nil {
		t.Fatalf("oversized set: %+v %v", comp, err)
	}
}

func TestKVRun(t *testing.T) {
	needMemcached(t)
	res, err := kv.Run(testCtx(t), kv.Config{
		Backend: KV{}, Addr: mcAddr, Conns: 4, Depth: 8, Keys: 1000,
		ValueSize: 64, Requests: 20000, Populate: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Backend != "memcached" || res.Errors.Total != 0 || res.Ops != 20000 {
		t.Fatalf("result: backend %s, ops %d, errors %+v", res.Backend, res.Ops, res.Errors)
	}
}
