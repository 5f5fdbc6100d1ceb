// Package aggregate merges the outputs of the clients of one multi-client
// run (spec/server.md §5.5, spec/apps.md §9.1): every output_app_<N>.json in
// a directory, one per client group N, into aggregate_output_app.json.
//
// Combination rules (those of the original scripts/lib/aggregate.py):
//   - client_logs: the list of every file's "log" object, in group order;
//   - server_logs: the value from the first file, in group order, that has
//     the key (group 0 in practice; null when no file has it);
//   - counters are summed: twitternew's nposts, nbackposts, nsubscribes,
//     nchecks, nfull, nposts_read, nactive, nlogouts, or hn's npost, nvote,
//     ncomment, nread;
//   - user_time, system_time and wall_time are averaged over the files.
//
// Go differences:
//   - Group order is numeric by the N of the file name (output_app_2.json
//     before output_app_10.json), not lexical; files whose suffix is not a
//     number come last, by name.
//   - The application is detected from the keys present instead of being
//     passed as an experiment name ("karma" in the original): a file with
//     any of the hn counters and none of the twitternew ones is an hn
//     output, one with any twitternew counter a twitternew output. Every
//     file must be of the same kind, and every file must have every counter
//     and time of its kind.
//   - server_stats is carried over from the first file (in group order)
//     that has it; the original drops it.
//   - ngroups, the number of merged files, is added.
//   - Optional counters that only the Go drivers print are summed over the
//     files that have them and emitted after the others when any file has
//     them: hn's karma_errors (comments whose karma failed the check).
//
// The output has a fixed key order: client_logs, server_logs, server_stats
// (when present), ngroups, the counters in the order above, user_time,
// system_time, wall_time; it is indented with 4 spaces like the clients'
// own outputs.
package aggregate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// File names.
const (
	// InputPattern matches the client outputs of a result directory.
	InputPattern = "output_app_*.json"
	// OutputName is the file Aggregate writes.
	OutputName = "aggregate_output_app.json"
)

// Kind is the application whose outputs are merged.
type Kind string

// The applications with aggregation rules.
const (
	Twitter Kind = "twitternew"
	HN      Kind = "hn"
)

// CounterNames lists the summed counters of kind, in output order (nil for
// an unknown kind).
func CounterNames(kind Kind) []string {
	switch kind {
	case Twitter:
		return []string{"nposts", "nbackposts", "nsubscribes", "nchecks", "nfull", "nposts_read", "nactive", "nlogouts"}
	case HN:
		return []string{"npost", "nvote", "ncomment", "nread"}
	}
	return nil
}

// OptionalCounterNames lists the counters of kind that are summed when
// present (Go additions), in output order.
func OptionalCounterNames(kind Kind) []string {
	if kind == HN {
		return []string{"karma_errors"}
	}
	return nil
}

// TimeNames lists the averaged fields, in output order.
func TimeNames() []string { return []string{"user_time", "system_time", "wall_time"} }

// Input is one decoded client output.
type Input struct {
	// Name identifies the input in errors (the file name).
	Name string
	// Group is the client group, the N of output_app_N.json; -1 when the
	// name has no number.
	Group int
	// Fields are the top-level members of the JSON object.
	Fields map[string]json.RawMessage
}

// Counter is one summed counter.
type Counter struct {
	Name  string
	Value json.Number
}

// Result is the aggregate of the outputs of one run.
type Result struct {
	Kind    Kind
	NGroups int
	// ClientLogs holds each input's "log" (null when an input has none).
	ClientLogs []json.RawMessage
	// ServerLogs is the first "server_logs" in group order; null if none.
	ServerLogs json.RawMessage
	// ServerStats is the first "server_stats" in group order; nil (and
	// omitted from the JSON) if none.
	ServerStats json.RawMessage
	// Counters are the sums, in the order of CounterNames(Kind), then
	// those of OptionalCounterNames(Kind) that some input has.
	Counters []Counter
	// UserTime, SystemTime and WallTime are the averages over the inputs.
	UserTime, SystemTime, WallTime float64
}

// ParseInput decodes the client output data read from the file name.
func ParseInput(name string, data []byte) (Input, error) {
	in := Input{Name: name, Group: groupOf(name)}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&in.Fields); err != nil {
		return Input{}, fmt.Errorf("%s: malformed JSON: %w", name, err)
	}
	if in.Fields == nil {
		return Input{}, fmt.Errorf("%s: not a JSON object", name)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Input{}, fmt.Errorf("%s: malformed JSON: data after the top-level object", name)
	}
	return in, nil
}

// groupOf is the N of ".../output_app_N.json", or -1.
func groupOf(name string) int {
	base := filepath.Base(name)
	s := strings.TrimSuffix(strings.TrimPrefix(base, "output_app_"), ".json")
	if s == base {
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// ReadInputs reads and decodes every output_app_*.json of dir, sorted by
// group number (non-numeric names last, by name).
func ReadInputs(dir string) ([]Input, error) {
	names, err := filepath.Glob(filepath.Join(dir, InputPattern))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", dir, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no %s files in %s", InputPattern, dir)
	}
	inputs := make([]Input, 0, len(names))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("reading client output: %w", err)
		}
		in, err := ParseInput(name, data)
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, in)
	}
	sortInputs(inputs)
	return inputs, nil
}

func sortInputs(inputs []Input) {
	slices.SortStableFunc(inputs, func(a, b Input) int {
		ga, gb := a.Group, b.Group
		if ga < 0 {
			ga = math.MaxInt
		}
		if gb < 0 {
			gb = math.MaxInt
		}
		if ga != gb {
			if ga < gb {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// DetectKind tells which application produced in from the counters it
// has: hn when it has any hn counter and no twitternew one, twitternew
// when it has any twitternew counter and no hn one.
func DetectKind(in Input) (Kind, error) {
	has := func(k Kind) bool {
		for _, c := range CounterNames(k) {
			if _, ok := in.Fields[c]; ok {
				return true
			}
		}
		return false
	}
	tw, hn := has(Twitter), has(HN)
	switch {
	case tw && !hn:
		return Twitter, nil
	case hn && !tw:
		return HN, nil
	case tw && hn:
		return "", fmt.Errorf("%s: has both twitternew and hn counters", in.Name)
	}
	return "", fmt.Errorf("%s: has neither twitternew (nposts, nchecks, ...) nor hn (npost, nread, ...) counters", in.Name)
}

// Combine aggregates decoded inputs. They are merged in group order
// (Group, then Name; the slice is not modified).
func Combine(inputs []Input) (*Result, error) {
	if len(inputs) == 0 {
		return nil, errors.New("no client outputs to aggregate")
	}
	inputs = slices.Clone(inputs)
	sortInputs(inputs)
	kind, err := DetectKind(inputs[0])
	if err != nil {
		return nil, err
	}
	r := &Result{Kind: kind, NGroups: len(inputs), ServerLogs: json.RawMessage("null")}
	haveLogs := false
	counters, optional, timeNames := CounterNames(kind), OptionalCounterNames(kind), TimeNames()
	sums := make([]numSum, len(counters))
	optSums := make([]numSum, len(optional))
	optSeen := make([]bool, len(optional))
	times := make([]float64, len(timeNames))
	for _, in := range inputs {
		if k, err := DetectKind(in); err != nil {
			return nil, err
		} else if k != kind {
			return nil, fmt.Errorf("%s is a %s output, %s a %s output", inputs[0].Name, kind, in.Name, k)
		}
		log, ok := in.Fields["log"]
		if !ok {
			log = json.RawMessage("null")
		}
		r.ClientLogs = append(r.ClientLogs, log)
		if v, ok := in.Fields["server_logs"]; ok && !haveLogs {
			r.ServerLogs, haveLogs = v, true
		}
		if v, ok := in.Fields["server_stats"]; ok && r.ServerStats == nil {
			r.ServerStats = v
		}
		for i, c := range counters {
			if err := sums[i].add(in, c); err != nil {
				return nil, err
			}
		}
		for i, c := range optional {
			if _, ok := in.Fields[c]; !ok {
				continue
			}
			optSeen[i] = true
			if err := optSums[i].add(in, c); err != nil {
				return nil, err
			}
		}
		for i, t := range timeNames {
			v, err := number(in, t)
			if err != nil {
				return nil, err
			}
			f, err := v.Float64()
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", in.Name, t, err)
			}
			times[i] += f
		}
	}
	for i, c := range counters {
		r.Counters = append(r.Counters, Counter{Name: c, Value: sums[i].value()})
	}
	for i, c := range optional {
		if optSeen[i] {
			r.Counters = append(r.Counters, Counter{Name: c, Value: optSums[i].value()})
		}
	}
	n := float64(len(inputs))
	r.UserTime, r.SystemTime, r.WallTime = times[0]/n, times[1]/n, times[2]/n
	return r, nil
}

// number is the numeric field key of in.
func number(in Input, key string) (json.Number, error) {
	raw, ok := in.Fields[key]
	if !ok {
		return "", fmt.Errorf("%s: missing %q", in.Name, key)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("%s: %q: %w", in.Name, key, err)
	}
	n, ok := v.(json.Number)
	if !ok {
		return "", fmt.Errorf("%s: %q is %s, not a number", in.Name, key, raw)
	}
	return n, nil
}

// numSum sums integers exactly, switching to floating point when some
// value is not an integer.
type numSum struct {
	i     int64
	f     float64
	float bool
}

func (s *numSum) add(in Input, key string) error {
	v, err := number(in, key)
	if err != nil {
		return err
	}
	if i, err := v.Int64(); err == nil && !s.float {
		s.i += i
		return nil
	}
	f, err := v.Float64()
	if err != nil {
		return fmt.Errorf("%s: %q: %w", in.Name, key, err)
	}
	if !s.float {
		s.float, s.f = true, float64(s.i)
	}
	s.f += f
	return nil
}

func (s *numSum) value() json.Number {
	if s.float {
		return json.Number(strconv.FormatFloat(s.f, 'g', -1, 64))
	}
	return json.Number(strconv.FormatInt(s.i, 10))
}

// MarshalJSON encodes r compactly with the documented key order.
func (r *Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	field := func(key string, v any) error {
		if b.Len() == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		// An encoder that leaves <, > and & alone: the inputs' strings
		// are copied as they are.
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("encoding %q: %w", key, err)
		}
		b.Truncate(b.Len() - 1) // Encode's newline
		return nil
	}
	logs := r.ClientLogs
	if logs == nil {
		logs = []json.RawMessage{}
	}
	serverLogs := r.ServerLogs
	if serverLogs == nil {
		serverLogs = json.RawMessage("null")
	}
	if err := field("client_logs", logs); err != nil {
		return nil, err
	}
	if err := field("server_logs", serverLogs); err != nil {
		return nil, err
	}
	if r.ServerStats != nil {
		if err := field("server_stats", r.ServerStats); err != nil {
			return nil, err
		}
	}
	if err := field("ngroups", r.NGroups); err != nil {
		return nil, err
	}
	for _, c := range r.Counters {
		if err := field(c.Name, c.Value); err != nil {
			return nil, err
		}
	}
	for i, v := range []float64{r.UserTime, r.SystemTime, r.WallTime} {
		if err := field(TimeNames()[i], v); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Encode writes r as JSON indented with 4 spaces, followed by a newline.
func Encode(w io.Writer, r *Result) error {
	data, err := r.MarshalJSON() // not json.Marshal, which would escape HTML
	if err != nil {
		return fmt.Errorf("encoding the aggregate: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "    "); err != nil {
		return fmt.Errorf("indenting the aggregate: %w", err)
	}
	out.WriteByte('\n')
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("writing the aggregate: %w", err)
	}
	return nil
}

// Aggregate merges the client outputs output_app_*.json of dir into
// dir/aggregate_output_app.json and returns that file's path. The output is
// written to a temporary file and renamed, so a reader never sees half of
// it.
func Aggregate(dir string) (path string, err error) {
	inputs, err := ReadInputs(dir)
	if err != nil {
		return "", fmt.Errorf("aggregate: %w", err)
	}
	r, err := Combine(inputs)
	if err != nil {
		return "", fmt.Errorf("aggregate %s: %w", dir, err)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, r); err != nil {
		return "", fmt.Errorf("aggregate %s: %w", dir, err)
	}
	path = filepath.Join(dir, OutputName)
	tmp, err := os.CreateTemp(dir, "."+OutputName+".*")
	if err != nil {
		return "", fmt.Errorf("aggregate: %w", err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return "", fmt.Errorf("aggregate: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("aggregate: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("aggregate: writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("aggregate: %w", err)
	}
	return path, nil
}
