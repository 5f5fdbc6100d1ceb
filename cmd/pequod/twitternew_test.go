package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// smallTwitternew are the options of a fast run.
var smallTwitternew = []string{"-n", "300", "--duration=5000", "--popduration=1000",
	"--min-subscriptions=10", "--max-subscriptions=50", "--partitions=2"}

func TestTwitternewJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if err := runTwitternew(context.Background(), smallTwitternew, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	d := json.NewDecoder(bytes.NewReader(out.Bytes()))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v\n%s", tok, err, out.String())
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		vals[k.(string)] = v
	}
	want := "log server_logs server_stats nposts nbackposts nsubscribes nchecks nfull nposts_read nactive nlogouts user_time system_time wall_time"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("keys %s\nwant %s", got, want)
	}
	if string(vals["server_logs"]) != "null" || !strings.HasPrefix(out.String(), "{\n    \"log\": ") {
		t.Errorf("output:\n%s", out.String())
	}
	var stats []map[string]any
	if err := json.Unmarshal(vals["server_stats"], &stats); err != nil || len(stats) != 1 {
		t.Errorf("server_stats %s: %v", vals["server_stats"], err)
	}
	if string(vals["nposts"]) == "0" || string(vals["nposts_read"]) == "0" {
		t.Errorf("empty run:\n%s", out.String())
	}
}

func TestTwitternewNetwork(t *testing.T) {
	s := startServe(t, "-partfunc", "twitternew", "-partitions", "2", "-loops", "1")
	var out, errb bytes.Buffer
	port := s.addr[strings.LastIndexByte(s.addr, ':')+1:]
	if err := runTwitternew(context.Background(), append([]string{"-c=" + port}, smallTwitternew...), &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if logs, ok := m["server_logs"].([]any); !ok || len(logs) != 1 {
		t.Errorf("server_logs %v", m["server_logs"])
	}
}

func TestTwitternewArgs(t *testing.T) {
	o, err := parseTwitternewArgs([]string{"--no-binary", "--push", "--no-prevalidate", "-c", "--nusers=400", "--celebrity=7", "--dbpool-max=4", "--ngroups=2", "--groupid=1", "--master-port=1234"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	p := o.Params
	if p.Binary || !p.Push || p.Prevalidate || p.NUsers != 400 || p.Celebrity != 7 || p.NGroups != 2 || p.GroupID != 1 || p.MasterPort != 1234 {
		t.Errorf("params %+v", p)
	}
	if o.Client != "localhost:8000" || o.DBPoolMax != 4 || o.Backend != "pequod" {
		t.Errorf("options %+v", o)
	}
	for args, client := range map[string]string{"-c=9000": "localhost:9000", "--client=h:1": "h:1", "-c 7000": "localhost:7000"} {
		o, err := parseTwitternewArgs(strings.Fields(args), io.Discard)
		if err != nil || o.Client != client {
			t.Errorf("%s: client %q, %v", args, o.Client, err)
		}
	}
	o, err = parseTwitternewArgs([]string{"--redis", "--push"}, io.Discard)
	if err != nil || o.Backend != "redis" || o.RedisAddr != "127.0.0.1:6379" {
		t.Errorf("redis: %+v %v", o, err)
	}
	// Combinations the baselines refuse before connecting (apps.md §3.3, §3.4).
	for args, want := range map[string]string{"--memcached --push": "--no-binary", "--dbshim --push": "trigger"} {
		o, err := parseTwitternewArgs(strings.Fields(args), io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		if _, err := openTwitterBackend(context.Background(), o, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error mentioning %s", args, err, want)
		}
	}
	for _, bad := range [][]string{{"--push", "--pull"}, {"--redis", "--memcached"}, {"--nusers=x"}, {"stray"}, {"--postrate=10"}, {"-c=a:b:c"}} {
		if _, err := parseTwitternewArgs(bad, io.Discard); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
	var out, errb bytes.Buffer
	if err := runTwitternew(context.Background(), append([]string{"--writearound"}, smallTwitternew...), &out, &errb); err == nil || !strings.Contains(err.Error(), "writearound") {
		t.Errorf("writearound: %v", err)
	}
}

func TestTwitternewCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if err := runTwitternew(ctx, smallTwitternew, &out, io.Discard); err == nil {
		t.Error("cancelled run succeeded")
	}
	if out.Len() != 0 {
		t.Errorf("cancelled run printed %q", out.String())
	}
}
