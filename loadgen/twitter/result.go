package twitter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Result is the outcome of one twitternew run; it marshals to the output
// JSON of spec/apps.md §2.15 with the keys in the original's order. Master
// results (group 0) include server_logs and server_stats.
type Result struct {
	// Executed is false when the execute phase was off (nothing to print).
	Executed bool
	// Master is true for group 0.
	Master bool

	// Log is the client's periodic log (§2.16).
	Log json.RawMessage
	// ServerLogs is the get_log reply, one element per server; nil (JSON
	// null) for an in-process server.
	ServerLogs []json.RawMessage
	// ServerStats are the servers' stats objects with the time fields
	// diffed over the measured phase.
	ServerStats []json.RawMessage

	NPosts      int64 // posts issued in the run
	NBackPosts  int64 // posts copied by push-mode backfill
	NSubscribes int64 // subscribes issued
	NChecks     int64 // timeline checks issued (final scan excluded)
	NFull       int64 // checks that started from the logged-out state
	NPostsRead  int64 // sum of the checks' counts, final scan included
	NActive     int64 // active users of this group
	NLogouts    int64 // logouts performed

	UserTime   float64 // client CPU user seconds in the measured phase
	SystemTime float64 // client CPU system seconds in the measured phase
	WallTime   float64 // wall seconds from run start to after the final barrier (Go fix, §2.15)
}

// Counters returns the integer counters in output order, for comparisons.
func (r *Result) Counters() [8]int64 {
	return [8]int64{r.NPosts, r.NBackPosts, r.NSubscribes, r.NChecks, r.NFull, r.NPostsRead, r.NActive, r.NLogouts}
}

// MarshalJSON writes the §2.15 object with keys in order.
func (r *Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	key := func(k string) {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
	}
	raw := func(v json.RawMessage) error {
		if len(v) == 0 {
			b.WriteString("null")
			return nil
		}
		if !json.Valid(v) {
			return fmt.Errorf("twitternew result: invalid JSON %q", v)
		}
		b.Write(v)
		return nil
	}
	list := func(vs []json.RawMessage) error {
		if vs == nil {
			b.WriteString("null")
			return nil
		}
		b.WriteByte('[')
		for i, v := range vs {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := raw(v); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	}
	b.WriteByte('{')
	key("log")
	log := r.Log
	if len(log) == 0 {
		log = json.RawMessage("{}")
	}
	if err := raw(log); err != nil {
		return nil, err
	}
	if r.Master {
		key("server_logs")
		if err := list(r.ServerLogs); err != nil {
			return nil, err
		}
		key("server_stats")
		if err := list(r.ServerStats); err != nil {
			return nil, err
		}
	}
	for i, name := range []string{"nposts", "nbackposts", "nsubscribes", "nchecks", "nfull", "nposts_read", "nactive", "nlogouts"} {
		key(name)
		b.WriteString(strconv.FormatInt(r.Counters()[i], 10))
	}
	for _, f := range []struct {
		k string
		v float64
	}{{"user_time", r.UserTime}, {"system_time", r.SystemTime}, {"wall_time", r.WallTime}} {
		key(f.k)
		b.WriteString(strconv.FormatFloat(f.v, 'f', -1, 64))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Indented is the result as printed: JSON indented by 4 spaces and a
// trailing newline.
func (r *Result) Indented() ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "    ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// timeFields are the server stats fields diffed over the measured phase
// (§2.12 step 12).
var timeFields = []string{"server_user_time", "server_system_time", "server_wall_time",
	"server_wall_time_insert", "server_wall_time_validate", "server_wall_time_evict", "server_wall_time_other"}

// diffStats subtracts old's time fields from cur's, keeping cur's key
// order. Non-object values are returned unchanged.
func diffStats(cur, old json.RawMessage) (json.RawMessage, error) {
	curKV, err := orderedObject(cur)
	if err != nil || curKV == nil {
		return cur, err
	}
	oldKV, err := orderedObject(old)
	if err != nil {
		return nil, err
	}
	oldVal := map[string]json.RawMessage{}
	for _, kv := range oldKV {
		oldVal[kv.k] = kv.v
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range curKV {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(kv.k))
		b.WriteByte(':')
		v := kv.v
		for _, f := range timeFields {
			if kv.k != f {
				continue
			}
			var c, o float64
			if json.Unmarshal(v, &c) == nil && json.Unmarshal(oldVal[f], &o) == nil {
				v = strconv.AppendFloat(nil, c-o, 'g', -1, 64)
			}
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

type rawKV struct {
	k string
	v json.RawMessage
}

// orderedObject splits a JSON object into its members in order; nil if v
// is not an object.
func orderedObject(v json.RawMessage) ([]rawKV, error) {
	d := json.NewDecoder(bytes.NewReader(v))
	tok, err := d.Token()
	if err != nil {
		return nil, fmt.Errorf("twitternew: server stats: %w", err)
	}
	if delim, ok := tok.(json.Delim); !ok || delim != '{' {
		return nil, nil
	}
	var out []rawKV
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("twitternew: server stats: %w", err)
		}
		k, _ := tok.(string)
		var val json.RawMessage
		if err := d.Decode(&val); err != nil {
			return nil, fmt.Errorf("twitternew: server stats: %w", err)
		}
		out = append(out, rawKV{k, val})
	}
	return out, nil
}
