package partition

import (
	"fmt"
	"testing"

	"github.com/pequod-go/pequod/wire"
)

// Regression tests for the cross-partition defects of issue 8. Both had one
// root cause: an owner that recomputed non-maintained (pull) join output —
// because it expired, or because a recomputation needed ranges not yet
// copied — sent invalidate to every subscriber of that output, although
// every copy of it carries the output's expiry and lapses by itself (§10
// A4). The spurious invalidation dropped copies other partitions had just
// fetched and computed from.

// scanKVs sends a scan and returns its key/value list, failing the test on
// a failure reply or on no reply at all.
func (h *harness) scanKVs(first, last string) []string {
	h.t.Helper()
	var out []string
	h.call(&Request{Cmd: wire.CmdScan, Key: first, Arg3: last}, func(r wire.Reply) {
		if r.Status != wire.StatusOK {
			h.t.Fatalf("scan %q %q failed: %v", first, last, r.Payload)
		}
		n := r.Payload.Len()
		for i := 0; i < n; i++ {
			out = append(out, string(r.Payload.Index(i).Bytes()))
		}
	})
	return out
}

// TestPullChainScanAnswers is the 15-operation trace that hung the last
// scan forever with 4 partitions: partitions serving each other's
// subscriptions to pull output recomputed it, found a source copy expired,
// and invalidated the subscribers' copies while their requests were parked
// on them; each re-subscription did the same to another partition.
func TestPullChainScanAnswers(t *testing.T) {
	h := newHarness(t, 4)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.AddJoin("k|", "k}", "k|<u> = max c|<u> using d|<u> with u:1 pull", 0))
	must(h.Insert("d|b", "v1"))
	must(h.AddJoin("m|", "m}", "m|<u:1> = copy k|<u:1> pull", 0))
	must(h.Insert("c|b", "ba"))
	must(h.AddJoin("n|", "n}", "n|<u> = pull copy d|<u> and using filter m|<u:1>", 0))
	must(h.Insert("d|a", "v2"))
	must(h.Erase("d|a"))
	if got := h.scanKVs("m|", "m|b"); len(got) != 0 {
		t.Fatalf("scan m| m|b = %q, want empty", got)
	}
	if err := h.Validate("c|", "c}"); err != nil {
		t.Fatal(err)
	}
	must(h.Insert("c|a", "v10"))
	if got := h.scanKVs("n|", "n|b"); len(got) != 0 {
		t.Fatalf("scan n| n|b = %q, want empty", got)
	}
	must(h.Insert("d|b", "ab"))
	must(h.Insert("d|a", "v10"))
	if got, want := fmt.Sprint(h.scanKVs("m|", "m}")), "[m|a v10 m|b ba]"; got != want {
		t.Fatalf("scan m| m} = %s, want %s", got, want)
	}
	// n|<u> copies d|<u> where m|<u:1> exists: m|a and m|b do.
	if got, want := fmt.Sprint(h.scanKVs("n|", "n}")), "[n|a v10 n|b ab]"; got != want {
		t.Fatalf("scan n| n} = %s, want %s", got, want)
	}
}

// TestPullRecomputeKeepsRemoteCopies: partition Q computes q|k (push) from
// its copy of p|k (pull output owned by P, itself over pull output r|k
// owned by R). Another partition then reads p|k; P recomputes it and, its
// copy of r|k having expired, must fetch r|k again. Before the fix P told Q
// to drop its copy of p|k, and Q's freshly computed q|k vanished although
// nothing was written. No read may destroy another partition's data.
func TestPullRecomputeKeepsRemoteCopies(t *testing.T) {
	h := newHarness(t, 4)
	r := h.s.router
	// A key whose r, p, q and q2 rows live in four different partitions.
	k := ""
	for i := byte('a'); i <= 'z' && k == ""; i++ {
		c := string(rune(i))
		o := map[int]bool{r.Owner("r|" + c): true, r.Owner("p|" + c): true, r.Owner("q|" + c): true, r.Owner("w|" + c): true}
		if len(o) == 4 && r.Owner("s|"+c) != r.Owner("p|"+c) {
			k = c
		}
	}
	if k == "" {
		t.Fatal("no key spreads over four partitions")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.AddJoin("r|", "r}", "r|<x:1> = copy s|<x> pull", 0))
	must(h.AddJoin("p|", "p}", "p|<x:1> = copy r|<x> pull", 0))
	must(h.AddJoin("q|", "q}", "q|<x:1> = copy p|<x>", 0))
	must(h.AddJoin("w|", "w}", "w|<x:1> = copy p|<x>", 0))
	must(h.Insert("s|"+k, "1"))
	if got := fmt.Sprint(h.scanKVs("q|"+k, "q|"+k+"\x00")); got != "[q|"+k+" 1]" {
		t.Fatalf("scan q|%s = %s", k, got)
	}
	// Another partition reads p|k.
	if got := fmt.Sprint(h.scanKVs("w|"+k, "w|"+k+"\x00")); got != "[w|"+k+" 1]" {
		t.Fatalf("scan w|%s = %s", k, got)
	}
	if v, ok, _ := h.Find("q|" + k); !ok || v != "1" {
		t.Fatalf("q|%s after another partition's read: %q, present %v; want \"1\"", k, v, ok)
	}
	// And a validating read still sees a write: the copies lapse by expiry.
	must(h.Insert("s|"+k, "2"))
	if got := fmt.Sprint(h.scanKVs("q|"+k, "q|"+k+"\x00")); got != "[q|"+k+" 2]" {
		t.Fatalf("scan q|%s after the write = %s", k, got)
	}
}
