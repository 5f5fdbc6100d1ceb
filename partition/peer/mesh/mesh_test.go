package mesh

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/partition/route"
)

const wait = 10 * time.Second

// TestLayout: each side learns the other's partitions and function from
// the handshake.
func TestLayout(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 3, partitions: []int{2, 3, 5}, partfuncs: []string{"default", "unit", "twitternew"}})
	for _, nd := range nodes {
		for s, want := range []int{2, 3, 5} {
			r, n, ok := nd.m.Layout(s)
			if !ok || n != want {
				t.Fatalf("server %d: Layout(%d) = %d, %v; want %d", nd.m.Self(), s, n, ok, want)
			}
			want, _ := route.New([]string{"default", "unit", "twitternew"}[s], want)
			for _, k := range []string{"p|0001|x", "t|ann|5", "s|bob|carl", "zz"} {
				if r.Owner(k) != want.Owner(k) {
					t.Fatalf("server %d: Layout(%d).Owner(%q) = %d, want %d", nd.m.Self(), s, k, r.Owner(k), want.Owner(k))
				}
			}
		}
		if !nd.m.Ready() {
			t.Fatalf("server %d not ready", nd.m.Self())
		}
		if _, ok := nd.m.PeerRouter(7); ok {
			t.Fatal("PeerRouter of a server not in the host file")
		}
		for _, st := range nd.m.Status() {
			if !st.Up || st.Dialer != (st.Server < nd.m.Self()) {
				t.Fatalf("server %d: status %+v", nd.m.Self(), st)
			}
		}
	}
}

// TestRoundTrips carries every kind both ways between two servers.
func TestRoundTrips(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 2, partitions: []int{2, 3}})
	for _, dir := range [][2]int{{1, 0}, {0, 1}} {
		s, o := nodes[dir[0]], nodes[dir[1]]
		sub, own := s.box(1), o.box(1)
		t.Run(fmt.Sprintf("%d->%d", dir[0], dir[1]), func(t *testing.T) {
			roundTrips(t, sub, own, 20000)
		})
	}
	// Local delivery is direct.
	nodes[1].m.Send(addr(1, 2), peer.Msg{Kind: peer.NotifyInsert, From: addr(1, 0), Key: "k", Value: "v"})
	if m := nodes[1].box(2).expect(t, peer.NotifyInsert, addr(1, 0)); m.Key != "k" || m.Value != "v" {
		t.Fatalf("local: %v", m.String())
	}
}

// roundTrips runs every kind from partition sub to owner partition own on
// another server, the owner answering where it must; the first snapshot
// has nkeys keys.
func roundTrips(t *testing.T, sub, own *box, nkeys int) {
	S, O := sub.addr, own.addr
	send := func(m peer.Msg) { sub.send(O, m) }
	answer := func(m peer.Msg) { own.send(S, m) }

	// Subscribe → Snapshot with many keys, as the subscribe's reply.
	var kvs []string
	for i := range nkeys {
		kvs = append(kvs, fmt.Sprintf("p|%08d|\x00key", i), strings.Repeat("v", i%300))
	}
	send(peer.Msg{Kind: peer.Subscribe, Lo: "p|", Hi: "p}", Seq: 7})
	m := own.expect(t, peer.Subscribe, S)
	if m.Lo != "p|" || m.Hi != "p}" || m.Seq != 7 || m.Track != 0 {
		t.Fatalf("subscribe arrived as %v (seq %d)", m.String(), m.Seq)
	}
	answer(peer.Msg{Kind: peer.Snapshot, Lo: m.Lo, Hi: m.Hi, Seq: m.Seq, KVs: kvs, FreshFor: 12345})
	m = sub.expect(t, peer.Snapshot, O)
	if m.Lo != "p|" || m.Hi != "p}" || m.Seq != 7 || m.FreshFor != 12345 || m.Err != "" || !slices.Equal(m.KVs, kvs) {
		t.Fatalf("snapshot arrived as %v (seq %d fresh %d)", m.String(), m.Seq, m.FreshFor)
	}

	// An empty maintained snapshot, and an error snapshot.
	send(peer.Msg{Kind: peer.Subscribe, Lo: "a|", Hi: "a}", Seq: 8})
	send(peer.Msg{Kind: peer.Subscribe, Lo: "b|", Hi: "b}", Seq: 9})
	m8 := own.expect(t, peer.Subscribe, S)
	m9 := own.expect(t, peer.Subscribe, S)
	// Answer out of order: each reply finds its own subscribe.
	answer(peer.Msg{Kind: peer.Snapshot, Lo: m9.Lo, Hi: m9.Hi, Seq: m9.Seq, Err: "cannot validate b|"})
	answer(peer.Msg{Kind: peer.Snapshot, Lo: m8.Lo, Hi: m8.Hi, Seq: m8.Seq, FreshFor: math.MaxInt64})
	m = sub.expect(t, peer.Snapshot, O)
	if m.Seq != 9 || m.Lo != "b|" || m.Err != "cannot validate b|" {
		t.Fatalf("error snapshot arrived as %v", m.String())
	}
	m = sub.expect(t, peer.Snapshot, O)
	if m.Seq != 8 || m.Lo != "a|" || m.Err != "" || len(m.KVs) != 0 || m.FreshFor != math.MaxInt64 {
		t.Fatalf("empty snapshot arrived as %v fresh %d", m.String(), m.FreshFor)
	}
	// A snapshot that answers nothing is dropped.
	answer(peer.Msg{Kind: peer.Snapshot, Lo: "x|", Hi: "x}", Seq: 99})

	// Notifications, untracked and tracked; invalidate; unsubscribe.
	send(peer.Msg{Kind: peer.NotifyInsert, Key: "p|1", Value: "one"})
	send(peer.Msg{Kind: peer.NotifyErase, Key: "p|2", Track: 41})
	send(peer.Msg{Kind: peer.Invalidate, Lo: "p|3", Hi: "p|4", Track: 42})
	send(peer.Msg{Kind: peer.Unsubscribe, Lo: "p|", Hi: "p}"})
	m = own.expect(t, peer.NotifyInsert, S)
	if m.Key != "p|1" || m.Value != "one" || m.Track != 0 {
		t.Fatalf("notify_insert arrived as %v", m.String())
	}
	ne := own.expect(t, peer.NotifyErase, S)
	if ne.Key != "p|2" || ne.Track == 0 {
		t.Fatalf("notify_erase arrived as %v", ne.String())
	}
	inv := own.expect(t, peer.Invalidate, S)
	if inv.Lo != "p|3" || inv.Hi != "p|4" || inv.Track == 0 || inv.Track == ne.Track {
		t.Fatalf("invalidate arrived as %v", inv.String())
	}
	m = own.expect(t, peer.Unsubscribe, S)
	if m.Lo != "p|" || m.Hi != "p}" || m.Track != 0 {
		t.Fatalf("unsubscribe arrived as %v", m.String())
	}
	// Acks in the other order; each reaches the sender with its own Track.
	answer(peer.Msg{Kind: peer.Ack, Ack: inv.Track})
	answer(peer.Msg{Kind: peer.Ack, Ack: ne.Track})
	if m = sub.expect(t, peer.Ack, O); m.Ack != 42 || m.Err != "" {
		t.Fatalf("ack arrived as %v", m.String())
	}
	if m = sub.expect(t, peer.Ack, O); m.Ack != 41 || m.Err != "" {
		t.Fatalf("ack arrived as %v", m.String())
	}
	// An Ack that answers nothing (twice the same) is dropped.
	answer(peer.Msg{Kind: peer.Ack, Ack: ne.Track})

	// Forwarded writes: the Ack is the reply, with Err on failure.
	send(peer.Msg{Kind: peer.ForwardInsert, Key: "p|9", Value: "nine", Track: 50})
	send(peer.Msg{Kind: peer.ForwardErase, Key: "p|8", Track: 51})
	fi := own.expect(t, peer.ForwardInsert, S)
	fe := own.expect(t, peer.ForwardErase, S)
	if fi.Key != "p|9" || fi.Value != "nine" || fi.Track == 0 || fe.Key != "p|8" || fe.Track == 0 {
		t.Fatalf("forwards arrived as %v, %v", fi.String(), fe.String())
	}
	answer(peer.Msg{Kind: peer.Ack, Ack: fi.Track, Err: "insert failed: boom"})
	answer(peer.Msg{Kind: peer.Ack, Ack: fe.Track})
	if m = sub.expect(t, peer.Ack, O); m.Ack != 50 || m.Err != "insert failed: boom" {
		t.Fatalf("forward ack arrived as %v", m.String())
	}
	if m = sub.expect(t, peer.Ack, O); m.Ack != 51 || m.Err != "" {
		t.Fatalf("forward ack arrived as %v", m.String())
	}
	sub.quiet(t, 20*time.Millisecond)
	own.quiet(t, 0)
}

// TestTrackCollisions: two remote partitions on different servers, and
// two on the same server, use the same Track ids toward one local
// partition; the receiving side renumbers them, and each Ack goes back to
// its own sender with the sender's id.
func TestTrackCollisions(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 3})
	own := nodes[0].box(0)
	senders := []*box{nodes[1].box(0), nodes[1].box(1), nodes[2].box(0)}
	for _, s := range senders {
		for tr := uint64(1); tr <= 3; tr++ {
			s.send(own.addr, peer.Msg{Kind: peer.NotifyInsert, Key: "k", Value: s.addr.String(), Track: tr})
		}
		s.send(own.addr, peer.Msg{Kind: peer.ForwardInsert, Key: "k", Value: s.addr.String(), Track: 3})
	}
	var got []peer.Msg
	seen := map[uint64]bool{}
	for range 4 * len(senders) {
		m := own.next(t, wait)
		if m.Track == 0 || seen[m.Track] {
			t.Fatalf("track %d given twice or zero: %v", m.Track, m.String())
		}
		seen[m.Track] = true
		got = append(got, m)
	}
	// Acknowledge in reverse order, the forwards with an error naming the sender.
	for i := len(got) - 1; i >= 0; i-- {
		m := got[i]
		ack := peer.Msg{Kind: peer.Ack, Ack: m.Track}
		if m.Kind == peer.ForwardInsert {
			ack.Err = "for " + m.Value
		}
		own.send(m.From, ack)
	}
	for _, s := range senders {
		var acks []uint64
		for range 4 {
			m := s.expect(t, peer.Ack, own.addr)
			if m.Err != "" && m.Err != "for "+s.addr.String() {
				t.Fatalf("%v got another's ack: %v", s.addr, m.String())
			}
			if (m.Err != "") != (len(acks) == 0) { // the forward was acked first (reverse order)
				t.Fatalf("%v: ack %v out of order", s.addr, m.String())
			}
			acks = append(acks, m.Ack)
		}
		if !slices.Equal(acks, []uint64{3, 3, 2, 1}) {
			t.Fatalf("%v: acks %v", s.addr, acks)
		}
		s.quiet(t, 10*time.Millisecond)
	}
}

// TestFIFO: several partitions on each of three servers send to every
// partition of the others at once, from their own goroutines; each
// receiver sees each sender's messages in the order sent, and the
// subscribe → snapshot → notifications order of §3.7 holds.
func TestFIFO(t *testing.T) {
	checkLeaks(t)
	const per = 1500
	nodes, _ := newCluster(t, clusterOpts{servers: 3, partitions: []int{3, 3, 3}})
	var all []*box
	for _, nd := range nodes {
		all = append(all, nd.boxes...)
	}
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() {
			for i := range per {
				for _, r := range all {
					if r.addr.Server == s.addr.Server {
						continue
					}
					m := peer.Msg{Kind: peer.NotifyInsert, Key: fmt.Sprint(i), Value: s.addr.String()}
					if i%7 == 0 {
						m.Kind, m.Track = peer.NotifyErase, uint64(i+1)
					}
					s.send(r.addr, m)
				}
			}
		})
	}
	// Each partition checks the order per sender of what it receives, acks
	// the tracked ones, and checks the acks it gets for its own.
	errs := make(chan error, len(all))
	for _, r := range all {
		wg.Go(func() {
			next := map[peer.Addr]int{}
			lastAck := map[peer.Addr]uint64{}
			others := len(all) - len(nodes[0].boxes)
			want, wantAcks := per*others, (per+6)/7*others
			deadline := time.After(30 * time.Second)
			for n, acks := 0, 0; n < want || acks < wantAcks; {
				select {
				case <-r.in.Ready():
				case <-deadline:
					errs <- fmt.Errorf("%v: got %d of %d messages, %d of %d acks", r.addr, n, want, acks, wantAcks)
					return
				}
				for _, m := range r.in.Take(nil) {
					if m.Kind == peer.Ack {
						if m.Ack <= lastAck[m.From] {
							errs <- fmt.Errorf("%v: ack %d from %v after %d", r.addr, m.Ack, m.From, lastAck[m.From])
							return
						}
						lastAck[m.From] = m.Ack
						acks++
						continue
					}
					n++
					if fmt.Sprint(next[m.From]) != m.Key {
						errs <- fmt.Errorf("%v: from %v got %s, want %d", r.addr, m.From, m.Key, next[m.From])
						return
					}
					next[m.From]++
					if m.Track != 0 {
						r.send(m.From, peer.Msg{Kind: peer.Ack, Ack: m.Track})
					}
				}
			}
			errs <- nil
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// §3.7: a subscribe answered at once, then notifications: the
	// subscriber sees the snapshot before them.
	sub, own := nodes[2].box(1), nodes[0].box(2)
	for round := range 200 {
		sub.send(own.addr, peer.Msg{Kind: peer.Subscribe, Lo: "a|", Hi: "a}", Seq: uint64(round)})
		m := own.expect(t, peer.Subscribe, sub.addr)
		own.send(sub.addr, peer.Msg{Kind: peer.Snapshot, Lo: m.Lo, Hi: m.Hi, Seq: m.Seq, KVs: []string{"a|1", "x"}})
		own.send(sub.addr, peer.Msg{Kind: peer.NotifyInsert, Key: "a|2", Value: "y"})
		if m := sub.expect(t, peer.Snapshot, own.addr); m.Seq != uint64(round) {
			t.Fatalf("snapshot %d, want %d", m.Seq, round)
		}
		sub.expect(t, peer.NotifyInsert, own.addr)
	}
}
