package partition

import (
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/scenario"
	"github.com/pequod-go/pequod/wire"
)

// replies collects the encoded replies of one in-process "connection".
type replies chan []byte

func (r replies) SendReply(b []byte) { r <- b }

// harness drives a Server in-process with real encoded replies.
type harness struct {
	t   testing.TB
	s   *Server
	now atomic.Int64 // fake clock, ns
}

func newHarness(t testing.TB, n int) *harness {
	h := &harness{t: t}
	h.now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s, err := New(Config{Partitions: n, Clock: func() time.Time { return time.Unix(0, h.now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(s.Close)
	return h
}

// replyTimeout bounds the wait for one reply in tests.
var replyTimeout = 10 * time.Second

// call dispatches one request and decodes its reply; fn sees the reply
// while its storage is valid.
func (h *harness) call(q *Request, fn func(wire.Reply)) {
	r := make(replies, 1)
	q.Reply = r
	if q.Seq == nil {
		q.Seq = []byte{0x07}
	}
	h.s.Dispatch([]*Request{q})
	var b []byte
	select {
	case b = <-r:
	case <-time.After(replyTimeout):
		h.t.Fatalf("no reply to %v %q", q.Cmd, q.Key)
	}
	msgs, n, err := wire.NewDecoder().Decode(b)
	if err != nil || n != len(b) || len(msgs) != 1 {
		h.t.Fatalf("bad reply %x: %v", b, err)
	}
	rep, ok := wire.ParseReply(msgs[0])
	if !ok || rep.Cmd != q.Cmd || rep.Seq != 7 {
		h.t.Fatalf("reply %v does not answer %v", msgs[0], q.Cmd)
	}
	fn(rep)
}

// num and field read reply payloads.
func num(v wire.Value) int64 { n, _ := v.Int(); return n }

func field(v wire.Value, k string) wire.Value { x, _ := v.Get(k); return x }

func (h *harness) status(q *Request) error {
	var err error
	h.call(q, func(r wire.Reply) {
		if r.Status != wire.StatusOK {
			err = fmt.Errorf("%v failed: %v", q.Cmd, r.Payload)
		}
	})
	return err
}

// onAll runs fn on every partition's goroutine and waits.
func (h *harness) onAll(fn func(p *part)) {
	var wg sync.WaitGroup
	wg.Add(len(h.s.parts))
	for i := range h.s.parts {
		h.s.send(i, func(p *part) { defer wg.Done(); fn(p) })
	}
	wg.Wait()
}

// Target for joins/scenario, over the server's request path.

func (h *harness) Insert(k, v string) error {
	return h.status(&Request{Cmd: wire.CmdInsert, Key: k, Arg3: v})
}
func (h *harness) Erase(k string) error { return h.status(&Request{Cmd: wire.CmdErase, Key: k}) }
func (h *harness) Validate(first, last string) error {
	return h.status(&Request{Cmd: wire.CmdCount, Key: first, Arg3: last})
}
func (h *harness) Advance(d time.Duration) { h.now.Add(int64(d)) }

func (h *harness) CountStored(first, last string) (int, error) {
	var n atomic.Int64
	h.onAll(func(p *part) {
		p.eng.ScanStored(first, last, func(k, _ string) bool {
			if h.s.router.Owner(k) == p.id {
				n.Add(1)
			}
			return true
		})
	})
	return int(n.Load()), nil
}

func (h *harness) Find(k string) (string, bool, error) {
	var v string
	var ok bool
	h.onAll(func(p *part) {
		if h.s.router.Owner(k) == p.id {
			v, ok = p.eng.Find(k)
		}
	})
	return v, ok, nil
}

func (h *harness) AddJoin(first, last, text string, staleness time.Duration) error {
	if staleness == 0 {
		return h.status(&Request{Cmd: wire.CmdAddJoin, Key: first, Arg3: last, Arg4: text, HasArg4: true})
	}
	j, err := joins.Parse(text)
	if err != nil {
		return err
	}
	if err := j.SetStaleness(staleness); err != nil {
		return err
	}
	q := &Request{Cmd: wire.CmdAddJoin, Key: first, Arg3: last}
	r := make(replies, 1)
	q.Reply, q.Seq = r, []byte{7}
	h.s.installJoin(q, j, func(t task) {
		for i := range h.s.parts {
			h.s.send(i, t)
		}
	})
	<-r
	return nil
}

// TestKVAcrossPartitions checks plain get/insert/erase/count/scan with 1 and
// 4 partitions, including whole-table scans merged in key order.
func TestKVAcrossPartitions(t *testing.T) {
	for _, n := range []int{1, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			h := newHarness(t, n)
			var keys []string
			for i := 0; i < 200; i++ {
				k := fmt.Sprintf("v|%03d|%d", i%37, i)
				keys = append(keys, k)
				if err := h.Insert(k, "val"+k); err != nil {
					t.Fatal(err)
				}
			}
			sort.Strings(keys)
			h.call(&Request{Cmd: wire.CmdGet, Key: keys[5]}, func(r wire.Reply) {
				if string(r.Payload.Bytes()) != "val"+keys[5] {
					t.Fatalf("get = %q", r.Payload.Bytes())
				}
			})
			h.call(&Request{Cmd: wire.CmdGet, Key: "v|missing"}, func(r wire.Reply) {
				if r.Status != 0 || len(r.Payload.Bytes()) != 0 {
					t.Fatalf("get missing = %v", r.Payload)
				}
			})
			h.call(&Request{Cmd: wire.CmdCount, Key: "v|", Arg3: "v}"}, func(r wire.Reply) {
				if num(r.Payload) != 200 {
					t.Fatalf("count = %d", num(r.Payload))
				}
			})
			h.call(&Request{Cmd: wire.CmdScan, Key: "v|", Arg3: "v}"}, func(r wire.Reply) {
				if r.Payload.Len() != 400 {
					t.Fatalf("scan returned %d items", r.Payload.Len())
				}
				for i := 0; i < 200; i++ {
					if k := string(r.Payload.Index(2 * i).Bytes()); k != keys[i] {
						t.Fatalf("scan[%d] = %q, want %q", i, k, keys[i])
					}
				}
			})
			// One group: answered by one partition; scanlast narrows.
			h.call(&Request{Cmd: wire.CmdCount, Key: "v|001|", Arg3: "v|001}", Arg4: "v|001|2", HasArg4: true}, func(r wire.Reply) {
				want := 0
				for _, k := range keys {
					if k >= "v|001|" && k < "v|001|2" {
						want++
					}
				}
				if int(num(r.Payload)) != want {
					t.Fatalf("count with scanlast = %d, want %d", num(r.Payload), want)
				}
			})
			if err := h.Erase(keys[0]); err != nil {
				t.Fatal(err)
			}
			if n, _ := h.CountStored("v|", "v}"); n != 199 {
				t.Fatalf("after erase %d keys", n)
			}
			if err := h.Insert("nobar", "x"); err == nil {
				t.Fatal("insert of a key without a table succeeded")
			}
		})
	}
}

// TestAddJoinErrors checks parse errors come back as failure text and stats
// merge partitions.
func TestAddJoinErrorsAndStats(t *testing.T) {
	h := newHarness(t, 3)
	h.call(&Request{Cmd: wire.CmdAddJoin, Key: "t|", Arg3: "t}", Arg4: "t|<a:5> = using a|<a>", HasArg4: true}, func(r wire.Reply) {
		if r.Status != -1 || string(r.Payload.Bytes()) == "" {
			t.Fatalf("bad join: status %d payload %v", r.Status, r.Payload)
		}
	})
	if err := h.AddJoin("t|", "t}", "t|<a:5> = copy a|<a>", 0); err != nil {
		t.Fatal(err)
	}
	h.Insert("a|00001", "x")
	h.call(&Request{Cmd: wire.CmdStats}, func(r wire.Reply) {
		if got := num(field(r.Payload, "join_ranges_size")); got != 1 {
			t.Fatalf("join_ranges_size = %d", got)
		}
		if got := num(field(r.Payload, "id")); got != -1 {
			t.Fatalf("id = %d", got)
		}
		if got := field(r.Payload, "partitions").Len(); got != 3 {
			t.Fatalf("%d partition entries", got)
		}
	})
	h.call(&Request{Cmd: wire.CmdControl, Control: map[string]any{"is_ready": true}}, func(r wire.Reply) {
		if !r.Payload.Bool() {
			t.Fatal("not ready")
		}
	})
	h.call(&Request{Cmd: wire.CmdNoopGet, Key: "x"}, func(r wire.Reply) {
		if len(r.Payload.Bytes()) != 512 {
			t.Fatal("noop_get")
		}
	})
}

// TestScenariosOnePartition replays every joins.md §8 scenario through the
// server's request path with one partition.
func TestScenariosOnePartition(t *testing.T) {
	files, _ := filepath.Glob("../joins/engine/testdata/scenarios/*.txt")
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if err := scenario.RunFile(f, newHarness(t, 1), scenario.Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// knownCrossPartition lists scenarios that do not yet pass across
// partitions, with the reason. Each is an open defect, not an accepted
// difference.
var knownCrossPartition = map[string]string{}

// TestScenariosFourPartitions replays every scenario with four partitions,
// so joins read sources other partitions own (subscriptions, notifications,
// invalidations across partitions) and must give the same results.
func TestScenariosFourPartitions(t *testing.T) {
	files, _ := filepath.Glob("../joins/engine/testdata/scenarios/*.txt")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if why, ok := knownCrossPartition[filepath.Base(f)]; ok {
				t.Skip(why)
			}
			if err := scenario.RunFile(f, newHarness(t, 4), scenario.Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDispatchDuringClose checks that requests racing Close are failed or
// served, never sent on a closed mailbox.
func TestDispatchDuringClose(t *testing.T) {
	for i := 0; i < 20; i++ {
		s, err := New(Config{Partitions: 2})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := make(replies, 1000)
			for k := 0; k < 500; k++ {
				s.Dispatch([]*Request{{Cmd: wire.CmdInsert, Key: fmt.Sprintf("a|%d", k), Arg3: "v", Seq: []byte{1}, Reply: r}})
			}
		}()
		s.Close()
		wg.Wait()
	}
}

// TestServerLog checks control get_log (server.md §5.2): the series exist,
// a sample counts the RPCs of its interval, and clear_log empties the log.
func TestServerLog(t *testing.T) {
	h := newHarness(t, 2)
	for i := 0; i < 5; i++ {
		h.Insert(fmt.Sprintf("a|%d", i), "v")
	}
	h.s.log5.sample(h.s, time.Now())
	var data wire.Value
	h.call(&Request{Cmd: wire.CmdControl, Control: map[string]any{"get_log": true}}, func(r wire.Reply) {
		data = field(r.Payload, "data").Clone()
	})
	for _, name := range logSeries {
		if _, ok := data.Get(name); !ok {
			t.Fatalf("series %s missing", name)
		}
	}
	// Whole numbers come back as msgpack integers.
	if ins := field(data, "ninsert"); ins.Len() != 1 || num(ins.Index(0).Index(1)) != 5 {
		t.Fatalf("ninsert samples = %v, want one sample of 5", ins)
	}
	h.call(&Request{Cmd: wire.CmdControl, Control: map[string]any{"clear_log": true}}, func(wire.Reply) {})
	h.call(&Request{Cmd: wire.CmdControl, Control: map[string]any{"get_log": true}}, func(r wire.Reply) {
		if n := field(field(r.Payload, "data"), "ninsert").Len(); n != 0 {
			t.Fatalf("after clear_log %d samples", n)
		}
	})
}
