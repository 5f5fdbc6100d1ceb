package mesh

import (
	"testing"

	"github.com/pequod-go/pequod/partition/peer"
)

// BenchmarkNotify: one partition streams notifications to a partition of
// another server over loopback; ns/op is per message delivered.
func BenchmarkNotify(b *testing.B) {
	nodes, _ := newClusterB(b)
	s, r := nodes[1].box(0), nodes[0].box(0)
	b.ReportAllocs()
	b.ResetTimer()
	done := make(chan struct{})
	go func() {
		n := 0
		var buf []peer.Msg
		for n < b.N {
			<-r.in.Ready()
			buf = r.in.Take(buf[:0])
			n += len(buf)
		}
		close(done)
	}()
	for i := 0; i < b.N; i++ {
		s.send(r.addr, peer.Msg{Kind: peer.NotifyInsert, Key: "p|00001234|00005678", Value: "a value of some thirty bytes.."})
	}
	<-done
}

// BenchmarkTrackedRoundTrip: a tracked notification and its Ack, one at a
// time (latency of a cross-server acknowledgement).
func BenchmarkTrackedRoundTrip(b *testing.B) {
	nodes, _ := newClusterB(b)
	s, r := nodes[1].box(0), nodes[0].box(0)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.send(r.addr, peer.Msg{Kind: peer.NotifyInsert, Key: "p|1", Value: "v", Track: uint64(i + 1)})
		<-r.in.Ready()
		for _, m := range r.in.Take(nil) {
			r.send(m.From, peer.Msg{Kind: peer.Ack, Ack: m.Track})
		}
		<-s.in.Ready()
		s.in.Take(nil)
	}
}
