package peer

import (
	"fmt"
	"sync"
	"testing"
)

// TestLocalFIFOPerPair: messages of each sender reach a receiver in the
// order sent, with several senders sending concurrently.
func TestLocalFIFOPerPair(t *testing.T) {
	l := NewLocal()
	to := Addr{0, 9}
	in := l.Register(to)
	const senders, n = 4, 2000
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func(s int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				l.Send(to, Msg{Kind: NotifyInsert, From: Addr{0, int32(s)}, Key: fmt.Sprint(i)})
			}
		}(s)
	}
	next := make([]int, senders)
	got := 0
	var buf []Msg
	for got < senders*n {
		<-in.Ready()
		buf = in.Take(buf[:0])
		for _, m := range buf {
			if want := fmt.Sprint(next[m.From.Partition]); m.Key != want {
				t.Fatalf("from %v: got %s, want %s", m.From, m.Key, want)
			}
			next[m.From.Partition]++
			got++
		}
	}
	wg.Wait()
}

// TestLocalHoldRelease: held messages wait, keep their order, and others
// pass meanwhile.
func TestLocalHoldRelease(t *testing.T) {
	l := NewLocal()
	a, b, c := Addr{0, 0}, Addr{0, 1}, Addr{0, 2}
	in := l.Register(c)
	var seen []string
	l.Observe = func(to Addr, m *Msg) { seen = append(seen, m.Key) }
	l.Hold(a, c)
	l.Send(c, Msg{From: a, Kind: NotifyErase, Key: "a1"})
	l.Send(c, Msg{From: b, Kind: NotifyErase, Key: "b1"})
	l.Send(c, Msg{From: a, Kind: NotifyErase, Key: "a2"})
	if got := keys(in.Take(nil)); got != "[b1]" {
		t.Fatalf("before release: %s", got)
	}
	if n := l.Release(a, c); n != 2 {
		t.Fatalf("released %d, want 2", n)
	}
	l.Send(c, Msg{From: a, Kind: NotifyErase, Key: "a3"})
	if got := keys(in.Take(nil)); got != "[a1 a2 a3]" {
		t.Fatalf("after release: %s", got)
	}
	if fmt.Sprint(seen) != "[a1 b1 a2 a3]" {
		t.Fatalf("observed %v", seen)
	}
}

func keys(ms []Msg) string {
	var ks []string
	for _, m := range ms {
		ks = append(ks, m.Key)
	}
	return fmt.Sprint(ks)
}

func TestMsgString(t *testing.T) {
	m := Msg{Kind: Snapshot, From: Addr{1, 2}, Lo: "a|", Hi: "a}", KVs: []string{"a|x", "1"}, Track: 3}
	if got, want := m.String(), `snapshot from 1/2 ["a|", "a}") 1 keys track 3`; got != want {
		t.Fatalf("%s, want %s", got, want)
	}
}
