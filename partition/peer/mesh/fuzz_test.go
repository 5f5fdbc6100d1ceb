package mesh

import (
	"testing"

	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// FuzzLinkDecode feeds arbitrary bytes, split at an arbitrary point, to a
// link's frame decoder (server 0's link to server 1, with a subscribe, a
// tracked notification and a forwarded write pending). It must never
// panic; whatever it delivers must be well-formed; once it reports an
// error (which closes that link only) nothing more is decoded.
func FuzzLinkDecode(f *testing.F) {
	seed := func(b []byte) { f.Add(b, uint16(len(b)/2)) }
	msg := func(k peer.Kind, mod func(*peer.Msg)) *peer.Msg {
		m := &peer.Msg{Kind: k, From: addr(1, 1), Lo: "a|", Hi: "a}", Key: "a|1", Value: "v", Seq: 3, Track: 4}
		if mod != nil {
			mod(m)
		}
		return m
	}
	for _, k := range []peer.Kind{peer.Subscribe, peer.Unsubscribe, peer.NotifyInsert, peer.NotifyErase, peer.Invalidate, peer.ForwardInsert, peer.ForwardErase} {
		seed(appendRequest(nil, 1, 9, addr(0, 1), msg(k, nil)))
		seed(appendRequest(nil, 1, 9, addr(0, 1), msg(k, func(m *peer.Msg) { m.Track = 0 })))
	}
	seed(appendSnapshotReply(nil, 0, &peer.Msg{KVs: []string{"a|1", "x", "a|2", ""}, FreshFor: 5}))
	seed(appendSnapshotReply(nil, 0, &peer.Msg{Err: "no"}))
	seed(appendAckReply(nil, wire.CmdNotifyInsert, 1, ""))
	seed(appendAckReply(nil, wire.CmdInsert, 2, "failed"))
	seed(appendAckReply(nil, wire.CmdInsert, 1, ""))
	seed(appendPing(nil, 4))
	seed(append(appendPing(nil, 4), appendRequest(nil, 1, 5, addr(0, 0), msg(peer.NotifyErase, nil))...))
	seed([]byte{0xc1})
	seed([]byte{0x94, 0xf8, 0x00, 0x00, 0x80})

	hosts := []route.Host{{Seqid: 0, Name: "127.0.0.1", Port: 1}, {Seqid: 1, Name: "127.0.0.1", Port: 2}}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		m := New(Config{Self: 0, Hosts: hosts, Partitions: 2})
		defer m.Close()
		boxes := []*peer.Inbox{m.Register(addr(0, 0)), m.Register(addr(0, 1))}
		lay, _ := newLayout(2, "default")
		l := newLink(m, m.peers[1], nil, nil, nil, lay, false)
		l.calls[0] = call{kind: peer.Subscribe, from: addr(0, 0), to: addr(1, 0), lo: "a|", hi: "a}", seq: 7}
		l.calls[1] = call{kind: peer.NotifyInsert, from: addr(0, 1), to: addr(1, 1), track: 8}
		l.calls[2] = call{kind: peer.ForwardInsert, from: addr(0, 1), to: addr(1, 0), track: 9}

		// As the Conn's reader does: the unconsumed tail, then more bytes.
		cut := int(split) % (len(data) + 1)
		buf := append([]byte(nil), data[:cut]...)
		used, _, err := l.decode(buf)
		if err == nil {
			buf = append(buf[used:], data[cut:]...)
			_, _, err = l.decode(buf)
		}
		_ = err
		for p, in := range boxes {
			for _, msg := range in.Take(nil) {
				if msg.From.Server != 1 || msg.From.Partition < 0 || msg.From.Partition > 1 {
					t.Fatalf("partition %d got %v from a bad address", p, msg.String())
				}
				switch msg.Kind {
				case peer.Snapshot:
					if p != 0 || msg.Seq != 7 || msg.Lo != "a|" || len(msg.KVs)%2 != 0 {
						t.Fatalf("partition %d got %v", p, msg.String())
					}
				case peer.Ack:
					if p != 1 || (msg.Ack != 8 && msg.Ack != 9) {
						t.Fatalf("partition %d got %v", p, msg.String())
					}
				case peer.Subscribe, peer.Unsubscribe, peer.NotifyInsert, peer.NotifyErase, peer.Invalidate,
					peer.ForwardInsert, peer.ForwardErase:
				default:
					t.Fatalf("partition %d got %v", p, msg.String())
				}
			}
		}
	})
}
