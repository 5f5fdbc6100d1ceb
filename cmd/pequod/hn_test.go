package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestHNFlags(t *testing.T) {
	var errs bytes.Buffer
	o, err := parseHNArgs([]string{"--hnusers=7", "-a", "30", "-o=5", "-v", "20", "-r=3", "--super_materialize",
		"--no-log", "--verbose", "--no-verbose", "-c=7000", "--groupid=0"}, &errs)
	if err != nil {
		t.Fatal(err)
	}
	p := o.params
	if p.HNUsers != 7 || p.NArticles != 30 || p.NOps != 5 || p.VoteRate != 20 || p.CommentRate != 3 ||
		!p.SuperMaterialize || p.Log || p.Verbose || o.client != "127.0.0.1:7000" || o.backend != "pequod" {
		t.Errorf("parsed %+v client %q", o, o.client)
	}
	o, err = parseHNArgs([]string{"--large", "--push", "--run_only", "-c", "db1:9000"}, &errs)
	if err != nil {
		t.Fatal(err)
	}
	if o.params.NArticles != 100000 || o.params.HNUsers != 50000 || !o.params.Pull || o.client != "db1:9000" {
		t.Errorf("large push: %+v client %q", o.params, o.client)
	}
	for in, want := range map[string]string{"-c": "127.0.0.1:8000", "-c7001": "127.0.0.1:7001", "--client=:7002": "127.0.0.1:7002"} {
		o, err := parseHNArgs([]string{in, "--pull"}, &errs)
		if err != nil || o.client != want || !o.params.Pull {
			t.Errorf("%s: client %q, %v", in, o.client, err)
		}
	}
	o, err = parseHNArgs([]string{"--pg", "--dbport=5477", "--dbpool-max=4", "--dbname=hn"}, &errs)
	if err != nil || o.backend != "pg" || o.db.Port != 5477 || o.db.PoolMax != 4 || o.db.Name != "hn" || o.db.Host != "127.0.0.1" || o.db.PoolDepth != 1 {
		t.Errorf("pg: %+v, %v", o, err)
	}
	o, err = parseHNArgs([]string{"--redis"}, &errs)
	if err != nil || o.backend != "redis" || o.redisAddr != "127.0.0.1:6379" {
		t.Errorf("redis: %+v, %v", o, err)
	}
	for _, bad := range [][]string{
		{"-s", "--pull"},       // ma without mk (§5.3)
		{"-s", "--push"},       // push forces pull
		{"--redis", "--pg"},    // one back end
		{"--redis", "-c=8000"}, // -c is for Pequod
		{"--nusers=5"},         // not an hn option
		{"extra"},              // positional
		{"-x", "0"},            // no users
		{"--groupid=1"},        // population is single-group
		{"-c=host:port"},       // bad port
		{"--populate_only", "--run_only"},
	} {
		if _, err := parseHNArgs(bad, &errs); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := hnNegate("--no-super_materialize"); got != "--super_materialize=false" {
		t.Errorf("hnNegate = %q", got)
	}
	if got := hnNegate("--no-hnusers"); got != "--no-hnusers" {
		t.Errorf("hnNegate of a value option = %q", got)
	}
}

func TestHNRunJSON(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errs bytes.Buffer
	err := runHN(ctx, []string{"-x", "20", "-a", "100", "-o", "500", "-v", "20", "-r", "10", "--partitions", "2"}, &out, &errs)
	if err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	var obj map[string]any
	if err := json.Unmarshal(out.Bytes(), &obj); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, out.String())
	}
	// Key order of apps.md §5.5 (plus karma_errors).
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	var keys []string
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		tok, _ := dec.Token()
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"log", "server_logs", "server_stats", "nread", "npost", "ncomment", "nvote",
		"user_time", "system_time", "wall_time", "karma_errors"}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
	if !strings.Contains(out.String(), "\n    \"log\": ") {
		t.Errorf("not indented by 4 spaces:\n%.200s", out.String())
	}
	if obj["server_logs"] != nil || obj["nread"].(float64) == 0 || obj["karma_errors"].(float64) != 0 {
		t.Errorf("result %v", obj)
	}
	stats, ok := obj["server_stats"].([]any)
	if !ok || len(stats) != 1 {
		t.Errorf("server_stats %v", obj["server_stats"])
	}
	if !strings.Contains(errs.String(), "Running with 20 users, 100 articles, ") || !strings.Contains(errs.String(), "500 done, ") {
		t.Errorf("stderr:\n%s", errs.String())
	}

	// Populate only: no result JSON.
	out.Reset()
	if err := runHN(ctx, []string{"-x", "5", "-a", "10", "--populate_only", "--partitions", "1"}, &out, &errs); err != nil || out.Len() != 0 {
		t.Errorf("populate_only: %v, stdout %q", err, out.String())
	}
	// Combinations the baselines refuse before connecting (apps.md §5.7).
	if err := runHN(ctx, []string{"--pg", "--super_materialize"}, &out, &errs); err == nil || !strings.Contains(err.Error(), "materialized pages") {
		t.Errorf("--pg --super_materialize: %v", err)
	}
}
