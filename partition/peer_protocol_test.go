package partition

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/wire"
)

// kindCounter counts the peer messages sent, by kind.
type kindCounter [peer.Ack + 1]atomic.Int64

func (k *kindCounter) observe(_ peer.Addr, m *peer.Msg) { k[m.Kind].Add(1) }

// peerStat reads one top-level peer figure of the stats RPC.
func (h *harness) peerStat(name string) int64 {
	h.t.Helper()
	var n int64
	h.call(&Request{Cmd: wire.CmdStats}, func(r wire.Reply) { n = num(field(r.Payload, name)) })
	return n
}

// TestParkedRequestDeadline: a request waiting for a copy that never comes
// fails after the peer wait with an error naming the range, the stats
// count it, the abandoned fetch is retried by the next request, and the
// late snapshot harms nothing.
func TestParkedRequestDeadline(t *testing.T) {
	tr := peer.NewLocal()
	h := newHarnessWith(t, Config{Partitions: 4, Transport: tr, PeerWait: 300 * time.Millisecond})
	r := h.s.router
	k := ""
	for c := byte('a'); c <= 'z' && k == ""; c++ {
		if r.Owner("q|"+string(c)) != r.Owner("s|"+string(c)) {
			k = string(c)
		}
	}
	q, s := h.s.addrOf(r.Owner("q|"+k)), h.s.addrOf(r.Owner("s|"+k))
	if err := h.AddJoin("q|", "q}", "q|<x:1> = copy s|<x>", 0); err != nil {
		t.Fatal(err)
	}
	if err := h.Insert("s|"+k, "1"); err != nil {
		t.Fatal(err)
	}
	tr.Hold(q, s) // the subscribe is lost, as to a dead peer
	failed := make(chan string, 1)
	go func() {
		var msg string
		h.call(&Request{Cmd: wire.CmdGet, Key: "q|" + k}, func(rep wire.Reply) {
			if rep.Status != wire.StatusOK {
				msg = string(rep.Payload.Bytes())
			}
		})
		failed <- msg
	}()
	// While it waits, the stats show it parked.
	for i := 0; h.peerStat("parked_requests") != 1; i++ {
		if i > 1000 {
			t.Fatal("the request never showed as parked")
		}
		time.Sleep(time.Millisecond)
	}
	msg := <-failed
	if !strings.Contains(msg, "timed out") || !strings.Contains(msg, `"s|`+k+`"`) {
		t.Fatalf("get failed with %q; want a timeout naming s|%s", msg, k)
	}
	if n := h.peerStat("peer_wait_timeouts"); n != 1 {
		t.Fatalf("peer_wait_timeouts = %d, want 1", n)
	}
	if n := h.peerStat("parked_requests"); n != 0 {
		t.Fatalf("parked_requests = %d after the timeout", n)
	}
	// The next request subscribes afresh (the first subscribe is still held).
	tr.Release(q, s)
	var v string
	h.call(&Request{Cmd: wire.CmdGet, Key: "q|" + k}, func(rep wire.Reply) { v = string(rep.Payload.Bytes()) })
	if v != "1" {
		t.Fatalf("get q|%s after release = %q, want 1", k, v)
	}
	if err := h.Insert("s|"+k, "2"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := h.Find("q|" + k); got != "2" {
		t.Fatalf("q|%s after a write = %q, want 2 (maintained through the copy)", k, got)
	}
}

// TestReadsSendNoInvalidate: reads alone, however their pull chains cross
// partitions, never invalidate another partition's copies; expired copies
// are unsubscribed exactly, so the owners' books do not grow with reads.
func TestReadsSendNoInvalidate(t *testing.T) {
	tr := peer.NewLocal()
	var kinds kindCounter
	tr.Observe = kinds.observe
	h := newHarnessWith(t, Config{Partitions: 4, Transport: tr})
	for _, j := range [][3]string{
		{"r|", "r}", "r|<x:1> = copy s|<x> pull"},
		{"p|", "p}", "p|<x:1> = copy r|<x> pull"},
		{"q|", "q}", "q|<x:1> = copy p|<x>"},
		{"w|", "w}", "w|<x:1> = copy p|<x>"},
	} {
		if err := h.AddJoin(j[0], j[1], j[2], 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		if err := h.Insert("s|"+k, k+"1"); err != nil {
			t.Fatal(err)
		}
	}
	var subs []int64
	for i := 0; i < 20; i++ {
		if got := len(h.scanKVs("q|", "q}")); got != 10 {
			t.Fatalf("round %d: scan q| = %d items, want 10", i, got)
		}
		if got := len(h.scanKVs("w|c", "w|c\x00")); got != 2 {
			t.Fatalf("round %d: scan w|c = %d items, want 2", i, got)
		}
		subs = append(subs, h.peerStat("subscriptions"))
	}
	if n := kinds[peer.Invalidate].Load(); n != 0 {
		t.Fatalf("%d invalidate messages sent by reads alone", n)
	}
	if kinds[peer.Unsubscribe].Load() == 0 {
		t.Fatal("expired copies were never unsubscribed")
	}
	if subs[len(subs)-1] > subs[0] {
		t.Fatalf("owners' subscriptions grew with reads: %v", subs)
	}
}
