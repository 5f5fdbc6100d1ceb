package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/loadgen/kv"
)

func TestKVFlags(t *testing.T) {
	o, err := parseKVArgs(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if o.backend != "pequod" || c.Addr != "127.0.0.1:8000" || c.Conns != 50 || c.Depth != 32 || c.Keys != 100000 ||
		c.ValueSize != 32 || c.Gets != 1 || c.Sets != 1 || c.Duration != 5*time.Second || c.Requests != 0 ||
		!c.Populate || c.Prefix != "m|" || c.Seed != 1 || o.embedded {
		t.Errorf("defaults: %+v %+v", o, c)
	}

	o, err = parseKVArgs([]string{"-backend", "redis", "-conns", "4", "-depth=2", "-keys", "77", "-value", "100",
		"-ratio", "0:1", "-requests", "1000", "-seed", "9", "-prefix", "kv|", "-key-size", "9",
		"-populate=false", "-extra", "partitions=3", "-extra", "note=x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c = o.cfg
	if c.Backend.Name() != "redis" || c.Addr != "127.0.0.1:6379" || c.Conns != 4 || c.Depth != 2 || c.Keys != 77 ||
		c.ValueSize != 100 || c.Gets != 0 || c.Sets != 1 || c.Requests != 1000 || c.Duration != 0 ||
		c.Seed != 9 || c.Prefix != "kv|" || c.KeySize != 9 || c.Populate {
		t.Errorf("parsed: %+v", c)
	}
	if o.extra["partitions"] != 3.0 || o.extra["note"] != "x" {
		t.Errorf("extra: %v", o.extra)
	}

	o, err = parseKVArgs([]string{"-embedded", "-partitions", "3", "-ratio", "5:2", "-prefix", ""}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !o.embedded || o.partitions != 3 || o.cfg.Addr != "" || o.cfg.Gets != 5 || o.cfg.Sets != 2 || o.cfg.Prefix != kv.NoPrefix {
		t.Errorf("embedded: %+v", o)
	}

	for _, bad := range [][]string{
		{"-backend", "nosuch"},
		{"-ratio", "1"}, {"-ratio", "0:0"}, {"-ratio", "-1:2"}, {"-ratio", "a:b"},
		{"-conns", "0"}, {"-depth", "-1"}, {"-keys", "0"}, {"-value", "0"},
		{"-duration", "0s"}, {"-requests", "-5"},
		{"-embedded", "-addr", "127.0.0.1:1"}, {"-embedded", "-backend", "redis"}, {"-embedded", "-partitions", "0"},
		{"-extra", "novalue"}, {"stray"}, {"-nosuchflag"},
	} {
		if _, err := parseKVArgs(bad, io.Discard); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestKVEmbeddedRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := runKV(context.Background(), []string{"-embedded", "-partitions", "2", "-conns", "3", "-depth", "4",
		"-keys", "200", "-duration", "300ms", "-ratio", "1:1"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var res kv.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	if res.Ops == 0 || res.Errors.Total != 0 || res.Populate == nil || res.Populate.Keys != 200 ||
		res.Extra["partitions"] != 2.0 || res.Extra["embedded"] != true {
		t.Errorf("result: %s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "embedded server on 127.0.0.1:") || !strings.Contains(stderr.String(), "kv: done:") {
		t.Errorf("stderr: %s", stderr.String())
	}
}
