package engine

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// Stats is a snapshot of the counters of spec/joins.md §7. Its MarshalJSON
// writes the fields in the specified order, leaving out zero per-table
// counters.
type Stats struct {
	StoreSize        int
	SourceRanges     int
	JoinRanges       int
	ValidRanges      int
	MaxRSSMB         float64
	UserTime         float64
	SystemTime       float64
	WallTime         float64
	WallTimeInsert   float64
	WallTimeValidate float64
	WallTimeEvict    float64
	// Lanes is the number of partitions whose insert/validate/evict times
	// are summed here (0 means 1). server_wall_time_other is the lanes'
	// total wall time minus those, so it stays the idle-or-other share
	// when several partitions run in parallel (server.md §5.1 defines it
	// for one single-threaded server: wall − insert − validate − evict).
	Lanes          int
	InvalidateHits int64
	Tables         []TableStats
}

// TableStats are one table's counters (§7).
type TableStats struct {
	Name         string
	NInsert      int64
	NModify      int64
	NErase       int64
	StoreSize    int
	SourceRanges int
	SinkRanges   int
	NValidate    int64
	NSubtables   int
	EvictKeys    int64
	EvictRanges  int64
}

// Stats returns the engine's statistics.
func (e *Engine) Stats() Stats {
	s := Stats{
		JoinRanges:       e.njoins,
		WallTime:         e.clock().Sub(e.start).Seconds(),
		WallTimeInsert:   e.timeIns.Seconds(),
		WallTimeValidate: e.timeVal.Seconds(),
		WallTimeEvict:    e.timeEvict.Seconds(),
		InvalidateHits:   e.invHits,
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.MaxRSSMB = float64(ru.Maxrss) / 1024
		s.UserTime = time.Duration(ru.Utime.Nano()).Seconds()
		s.SystemTime = time.Duration(ru.Stime.Nano()).Seconds()
	}
	names := make([]string, 0, len(e.tables))
	for n := range e.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t := e.tables[n]
		ts := TableStats{
			Name: n, NInsert: t.ninsert, NModify: t.nmodify, NErase: t.nerase,
			StoreSize: t.store.Len(), SourceRanges: t.regs.Len(), SinkRanges: t.sinks.Len(),
			NValidate: t.nvalidate, NSubtables: subtables(t), EvictKeys: t.nevictKeys, EvictRanges: t.nevictRanges,
		}
		s.StoreSize += ts.StoreSize
		s.SourceRanges += ts.SourceRanges
		s.ValidRanges += ts.SinkRanges
		s.Tables = append(s.Tables, ts)
	}
	return s
}

// subtables reports a split table's key groups (0 for an unsplit table).
func subtables(t *table) int {
	if t.store.Cut() == 0 {
		return 0
	}
	return t.store.Subtables()
}

// MemoryBytes approximates the bytes held by keys, values and bookkeeping
// (§6.2 M), for eviction thresholds.
func (e *Engine) MemoryBytes() int {
	n := 0
	for _, t := range e.tables {
		n += t.store.Bytes() + 64*t.regs.Len() + 80*t.nregs + 96*t.sinks.Len()
	}
	return n
}

// MarshalJSON writes the §7 stats object.
func (s Stats) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	w := jsonWriter{b: &b}
	w.int("store_size", int64(s.StoreSize))
	w.int("source_ranges_size", int64(s.SourceRanges))
	w.int("join_ranges_size", int64(s.JoinRanges))
	w.int("valid_ranges_size", int64(s.ValidRanges))
	w.float("server_max_rss_mb", s.MaxRSSMB)
	w.float("server_user_time", s.UserTime)
	w.float("server_system_time", s.SystemTime)
	w.float("server_wall_time", s.WallTime)
	w.float("server_wall_time_insert", s.WallTimeInsert)
	w.float("server_wall_time_validate", s.WallTimeValidate)
	w.float("server_wall_time_evict", s.WallTimeEvict)
	w.float("server_wall_time_other", s.WallTime*float64(max(1, s.Lanes))-s.WallTimeInsert-s.WallTimeValidate-s.WallTimeEvict)
	if s.InvalidateHits != 0 {
		w.int("invalidate_hits", s.InvalidateHits)
	}
	w.key("tables")
	b.WriteByte('[')
	for i, t := range s.Tables {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		tw := jsonWriter{b: &b}
		tw.str("name", t.Name)
		tw.nonzero("ninsert", t.NInsert)
		tw.nonzero("nmodify", t.NModify)
		tw.nonzero("nmodify_nohint", t.NModify)
		tw.nonzero("nerase", t.NErase)
		tw.nonzero("store_size", int64(t.StoreSize))
		tw.nonzero("source_ranges_size", int64(t.SourceRanges))
		tw.nonzero("sink_ranges_size", int64(t.SinkRanges))
		tw.nonzero("nvalidate", t.NValidate)
		tw.nonzero("nsubtables", int64(t.NSubtables))
		if t.EvictKeys != 0 || t.EvictRanges != 0 {
			tw.key("nevict_sink")
			b.WriteString(`{"keys":` + strconv.FormatInt(t.EvictKeys, 10) +
				`,"ranges":` + strconv.FormatInt(t.EvictRanges, 10) + `,"reload":0,"kept":0}`)
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

type jsonWriter struct {
	b *bytes.Buffer
	n int
}

func (w *jsonWriter) key(k string) {
	if w.n > 0 {
		w.b.WriteByte(',')
	}
	w.n++
	w.quote(k)
	w.b.WriteByte(':')
}

func (w *jsonWriter) int(k string, v int64) {
	w.key(k)
	w.b.WriteString(strconv.FormatInt(v, 10))
}

func (w *jsonWriter) nonzero(k string, v int64) {
	if v != 0 {
		w.int(k, v)
	}
}

func (w *jsonWriter) float(k string, v float64) {
	w.key(k)
	w.b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
}

func (w *jsonWriter) str(k, v string) {
	w.key(k)
	w.quote(v)
}

// quote writes s as a JSON string (table names may hold any bytes).
func (w *jsonWriter) quote(s string) {
	q, _ := json.Marshal(s)
	w.b.Write(q)
}
