package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/pequod-go/pequod/loadgen/aggregate"
	"github.com/pequod-go/pequod/loadgen/kv"
)

// Suite kinds.
const (
	kindTwitter = "twitter" // suites starting with "twitter": twitternew outputs
	kindHN      = "hn"      // suites starting with "hn": hn outputs
	kindKV      = "kv"      // kv-get and kv-set: `pequod kv` results
	kindOther   = "other"   // anything else: only the manifest's numbers
)

// suiteKind maps a suite name to the kind of its result files.
func suiteKind(suite string) string {
	switch {
	case strings.HasPrefix(suite, "twitter"):
		return kindTwitter
	case strings.HasPrefix(suite, "hn"):
		return kindHN
	case suite == "kv-get" || suite == "kv-set":
		return kindKV
	}
	return kindOther
}

// appOutput holds the fields of a twitternew or hn output (or their
// aggregate) that the report uses; nil = absent.
type appOutput struct {
	NGroups *float64 `json:"ngroups"`
	// twitternew
	NPosts     *float64 `json:"nposts"`
	NChecks    *float64 `json:"nchecks"`
	NFull      *float64 `json:"nfull"`
	NPostsRead *float64 `json:"nposts_read"`
	// hn
	NRead    *float64 `json:"nread"`
	NPost    *float64 `json:"npost"`
	NVote    *float64 `json:"nvote"`
	NComment *float64 `json:"ncomment"`
	// KarmaErrors counts comments whose karma failed the check (Go's hn).
	KarmaErrors *float64 `json:"karma_errors"`

	UserTime   *float64 `json:"user_time"`
	SystemTime *float64 `json:"system_time"`
	WallTime   *float64 `json:"wall_time"`
}

// result is a manifest entry with its decoded result file.
type result struct {
	entry
	// failed, when not empty, says why the run has no usable result.
	failed string
	app    *appOutput // twitter and hn suites
	kv     *kv.Result // kv suites
}

// ok reports whether the run has a result.
func (r *result) ok() bool { return r.failed == "" }

// load reads the result file of e from raw (the DIR/raw directory). Every
// problem is recorded in the result's failed field.
func load(raw string, e entry) result {
	r := result{entry: e}
	if e.file == "-" {
		r.failed = "the run failed (no output)"
		return r
	}
	path := e.file
	if !filepath.IsAbs(path) {
		path = filepath.Join(raw, path)
	}
	data, err := readResult(path, suiteKind(e.suite))
	if err != nil {
		r.failed = err.Error()
		return r
	}
	switch suiteKind(e.suite) {
	case kindTwitter, kindHN:
		var out appOutput
		if err := json.Unmarshal(data, &out); err != nil {
			r.failed = fmt.Sprintf("%s: malformed JSON: %v", e.file, err)
			return r
		}
		if err := checkApp(&out, suiteKind(e.suite)); err != nil {
			r.failed = fmt.Sprintf("%s: %v", e.file, err)
			return r
		}
		r.app = &out
	case kindKV:
		var res kv.Result
		if err := json.Unmarshal(data, &res); err != nil {
			r.failed = fmt.Sprintf("%s: malformed JSON: %v", e.file, err)
			return r
		}
		op := res.Get
		if e.suite == "kv-set" {
			op = res.Set
		}
		if op.Ops == 0 {
			r.failed = fmt.Sprintf("%s: no %s operations", e.file, strings.TrimPrefix(e.suite, "kv-"))
			return r
		}
		r.kv = &res
	}
	return r
}

// readResult reads a result file. For twitter and hn suites the file may
// also be a directory of client outputs: its aggregate_output_app.json
// when present, else the aggregate of its output_app_*.json computed in
// memory (loadgen/aggregate).
func readResult(path, kind string) ([]byte, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("missing result file %s", filepath.Base(path))
	}
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return os.ReadFile(path)
	}
	if kind != kindTwitter && kind != kindHN {
		return nil, fmt.Errorf("%s is a directory", filepath.Base(path))
	}
	if data, err := os.ReadFile(filepath.Join(path, aggregate.OutputName)); err == nil {
		return data, nil
	}
	inputs, err := aggregate.ReadInputs(path)
	if err != nil {
		return nil, err
	}
	agg, err := aggregate.Combine(inputs)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := aggregate.Encode(&buf, agg); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkApp verifies that out has the fields the report of kind needs.
func checkApp(out *appOutput, kind string) error {
	var need map[string]*float64
	if kind == kindTwitter {
		need = map[string]*float64{"nchecks": out.NChecks, "nposts": out.NPosts, "nposts_read": out.NPostsRead, "wall_time": out.WallTime}
	} else {
		need = map[string]*float64{"nread": out.NRead, "wall_time": out.WallTime}
	}
	var missing []string
	for _, k := range []string{"nchecks", "nposts", "nposts_read", "nread", "wall_time"} {
		if p, ok := need[k]; ok && p == nil {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("not a %s output (no %s)", map[string]string{kindTwitter: "twitternew", kindHN: "hn"}[kind], strings.Join(missing, ", "))
	}
	return nil
}
