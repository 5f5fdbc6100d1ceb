package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pequod-go/pequod/loadgen/kv"
)

func writeResult(t *testing.T, dir, name string, r kv.Result) {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "raw", "kv-"+name+".json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "raw"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := kv.Result{Conns: 50, Depth: 32, Keys: 1000, KeySize: 12, Prefix: "m|", ValueSize: 32, Duration: 2}
	op := func(ops float64, p50 float64) kv.OpResult {
		return kv.OpResult{Ops: uint64(ops * 2), OpsPerSec: ops, LatencyUs: kv.Latency{P50: p50, P99: 4 * p50}}
	}
	r := base
	r.Backend, r.Get, r.Ops = "pequod", op(250000, 4500), 500000
	r.Extra = map[string]any{"label": "Pequod 1 partition", "order": 1.0, "partitions": 1.0}
	writeResult(t, dir, "p1-get", r)
	r.Get, r.Set = kv.OpResult{}, op(200000, 900)
	writeResult(t, dir, "p1-set", r)
	r = base
	r.Backend, r.Get = "redis", op(500000, 2000)
	r.Extra = map[string]any{"label": "Redis", "order": 10.0}
	r.Errors.Total = 3
	writeResult(t, dir, "redis-get", r)
	r.Get, r.Set = kv.OpResult{}, op(400000, 2100)
	r.Errors.Total = 0
	writeResult(t, dir, "redis-set", r)
	os.WriteFile(filepath.Join(dir, "raw", "redis-benchmark.tsv"), []byte("SET\t600000.5\t2.1\nGET\t650000\t2.0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "raw", "runs.tsv"), []byte("p1-get\t250000\t2.00\t0.80\t1.40\t1.80\n"), 0o644)

	if err := run(dir, true, ""); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "kv.md"))
	for _, want := range []string{
		"| Pequod 1 partition | 1 | get | 250,000 | 0.50 | 4.50 ms | 18.00 ms | 0 |",
		"| Redis | - | get | 500,000 | 1.00 | 2.00 ms | 8.00 ms | 3 |",
		"| redis-benchmark (reference) | - | get | 650,000 | 1.30 | 2.00 ms | – | – |",
		"| Pequod 1 partition | 1 | set | 200,000 | 0.50 | 900 µs | 3.60 ms | 0 |",
		"| p1-get | 250,000 | 0.40 | 0.70 | 0.90 | 2.80 µs |",
		"**Warning:** other processes used up to 0.90 cores",
		"50 connections x pipeline depth 32",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("kv.md lacks %q:\n%s", want, md)
		}
	}
	dat, _ := os.ReadFile(filepath.Join(dir, "kv.dat"))
	if want := "op\t\"Pequod 1 partition\"\t\"Redis\"\t\"redis-benchmark\"\nget\t250000\t500000\t650000\nset\t200000\t400000\t600000\n"; string(dat) != want {
		t.Errorf("kv.dat = %q, want %q", dat, want)
	}
	gp, _ := os.ReadFile(filepath.Join(dir, "kv.gp"))
	if !strings.Contains(string(gp), `columnheader(4)`) || !strings.Contains(string(gp), "with labels") {
		t.Errorf("kv.gp:\n%s", gp)
	}
	f, err := os.Open(filepath.Join(dir, "kv.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 1100 {
		t.Fatalf("kv.png: %v %v", err, img)
	}
}
