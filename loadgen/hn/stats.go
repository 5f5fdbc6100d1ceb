package hn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// diffedStatsFields are the server stats fields reported as deltas over the
// measured phase (apps.md §2.12 step 12).
var diffedStatsFields = []string{
	"server_user_time", "server_system_time", "server_wall_time",
	"server_wall_time_insert", "server_wall_time_validate",
	"server_wall_time_evict", "server_wall_time_other",
}

// diffStats returns the servers' end stats with the time fields replaced by
// end − start, per server (matched by position). Key order is kept. A
// server without a start object, or a field missing or non-numeric in
// either, is left as is.
func diffStats(start, end []json.RawMessage) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(end))
	for i, e := range end {
		if i >= len(start) {
			out[i] = e
			continue
		}
		d, err := diffStatsObject(start[i], e)
		if err != nil {
			return nil, fmt.Errorf("hn: server %d stats: %w", i, err)
		}
		out[i] = d
	}
	return out, nil
}

// field is one member of a JSON object.
type field struct {
	key string
	val json.RawMessage
}

// objectFields decodes a JSON object keeping member order.
func objectFields(b json.RawMessage) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("stats is not a JSON object")
	}
	var fs []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		fs = append(fs, field{k, v})
	}
	return fs, nil
}

func diffStatsObject(start, end json.RawMessage) (json.RawMessage, error) {
	sf, err := objectFields(start)
	if err != nil {
		return nil, err
	}
	ef, err := objectFields(end)
	if err != nil {
		return nil, err
	}
	old := map[string]float64{}
	for _, f := range sf {
		if x, err := strconv.ParseFloat(string(f.val), 64); err == nil {
			old[f.key] = x
		}
	}
	diffed := map[string]bool{}
	for _, k := range diffedStatsFields {
		diffed[k] = true
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range ef {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(f.key)
		b.Write(kb)
		b.WriteByte(':')
		v := f.val
		if diffed[f.key] {
			if o, ok := old[f.key]; ok {
				if x, err := strconv.ParseFloat(string(f.val), 64); err == nil {
					v = strconv.AppendFloat(nil, x-o, 'g', -1, 64)
				}
			}
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
