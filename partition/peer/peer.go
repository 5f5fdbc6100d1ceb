// Package peer is the protocol by which partitions keep copies of each
// other's key ranges (spec/server.md §3.4–§3.7), as data: messages with
// addresses, and a Transport that carries them. It knows nothing of
// engines or goroutines; a partition is a state machine that takes
// messages in and sends messages out, as in etcd-io/raft, and the
// transport is outside it.
//
// The protocol, seen from a subscriber S and an owner O of [lo,hi):
//
//	S → O  Subscribe [lo,hi)          O validates, registers (S,[lo,hi)) and
//	O → S  Snapshot  [lo,hi) kvs      answers with its keys there, atomically
//	O → S  NotifyInsert / NotifyErase every later change of one of those keys
//	O → S  Invalidate [lo,hi)         O can no longer keep the copy current;
//	                                  the subscription is gone
//	S → O  Unsubscribe [lo,hi)        S dropped its copy (expired, evicted,
//	                                  replaced): O forgets exactly (S,[lo,hi))
//	X → Y  Ack id                     the work Y's message id set off is done
//
// Between servers (§3.3, §3.9) two more:
//
//	S → O  ForwardInsert / ForwardErase  a client's write of a key O owns,
//	                                  always tracked: O's Ack (with Err if it
//	                                  failed) is the write's reply
//	T → S  PeerDown server            the transport lost server's link: S
//	                                  drops every copy from it and every
//	                                  subscription of it (never stale data)
//
// Subscriptions are keyed by (subscriber, exact interval): the Go fix of
// the original's overlapping unsubscribe (§3.6). A transport must deliver
// the messages of one sender to one receiver in the order sent (§3.7): a
// snapshot is then always applied before the notifications that follow it.
package peer

import (
	"fmt"
	"strings"
)

// Addr names a partition of a server of the cluster. A single-process
// server is server 0. Partition AnyPartition names a server as a whole
// (PeerDown's From).
type Addr struct {
	Server    int32
	Partition int32
}

// AnyPartition is the Partition of an Addr that names a whole server.
const AnyPartition = -1

func (a Addr) String() string { return fmt.Sprintf("%d/%d", a.Server, a.Partition) }

// Kind is a message type. Each maps onto an RPC of spec/server.md §3.
type Kind uint8

const (
	// Subscribe asks the owner for its keys in [Lo,Hi) and to be kept
	// current (RPC subscribe, §3.4 step 4, §3.5).
	Subscribe Kind = iota + 1
	// Snapshot answers Subscribe: the owner's keys in [Lo,Hi) as KVs, how
	// long they stay fresh (FreshFor), or why it could not (Err). It is
	// the reply of the subscribe RPC.
	Snapshot
	// NotifyInsert reports a new value of Key (RPC notify_insert).
	NotifyInsert
	// NotifyErase reports the erase of Key (RPC notify_erase).
	NotifyErase
	// Invalidate ends the subscription [Lo,Hi): the receiver drops its
	// copies overlapping it that are not being fetched (RPC invalidate).
	Invalidate
	// Unsubscribe ends exactly the subscription (From, [Lo,Hi)) (RPC
	// unsubscribe with the §3.6 fix).
	Unsubscribe
	// Ack tells the sender of the message whose Track was Ack that it and
	// everything it set off elsewhere has been processed. In the cluster
	// it is the reply of a notify or invalidate RPC. On the Ack of a
	// forwarded write, Err says why the write failed.
	Ack
	// ForwardInsert asks the owner of Key to insert Key=Value on a
	// client's behalf (§3.3: the insert RPC on the interconnect). Always
	// tracked: the Ack is the write's reply.
	ForwardInsert
	// ForwardErase asks the owner of Key to erase it (the erase RPC).
	ForwardErase
	// PeerDown comes from the transport, not from a partition: the link
	// to server From.Server was lost (closed, reset, or silent past the
	// heartbeat deadline). Every copy from that server is invalid at once,
	// and its subscriptions here are gone (§3.9, the Go recommendation).
	// Messages to it are answered by the transport meanwhile: Subscribe
	// with an error Snapshot, tracked messages with an Ack (with Err for
	// forwarded writes), so nothing waits forever.
	PeerDown
)

var kindNames = [...]string{"", "subscribe", "snapshot", "notify_insert", "notify_erase", "invalidate", "unsubscribe", "ack",
	"forward_insert", "forward_erase", "peer_down"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && k != 0 {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Msg is one peer message. Which fields are set depends on Kind.
type Msg struct {
	Kind Kind
	// From is the sender; replies and acknowledgements go back to it.
	From Addr
	// Lo and Hi bound the range of Subscribe, Snapshot, Invalidate and
	// Unsubscribe.
	Lo, Hi string
	// Key and Value are NotifyInsert's (Key alone for NotifyErase).
	Key, Value string
	// KVs are Snapshot's keys and values, alternating, in key order.
	KVs []string
	// FreshFor is how long a Snapshot's data stays fresh, in µs, as the
	// owner's validation reported it (math.MaxInt64: maintained data,
	// kept current by notifications). Relative, because each partition
	// keeps its own clock.
	FreshFor int64
	// Err, on a Snapshot, says why the owner could not validate the range;
	// the subscriber fails the requests that waited for it. On an Ack of
	// a forwarded write, why the write failed.
	Err string
	// Track, when non-zero, asks the receiver to send Ack{Ack: Track} back
	// to From once this message and all the work it set off in other
	// partitions is done: a write is acknowledged to its client only then
	// (read-your-writes across partitions).
	Track uint64
	// Ack is the Track value an Ack answers.
	Ack uint64
	// Seq identifies a Subscribe; its Snapshot echoes it, so that a late
	// answer to an abandoned subscribe is never taken for a newer one's.
	Seq uint64
}

func (m *Msg) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%v from %v", m.Kind, m.From)
	switch m.Kind {
	case Subscribe, Invalidate, Unsubscribe:
		fmt.Fprintf(&sb, " [%q, %q)", m.Lo, m.Hi)
	case Snapshot:
		fmt.Fprintf(&sb, " [%q, %q) %d keys", m.Lo, m.Hi, len(m.KVs)/2)
		if m.Err != "" {
			fmt.Fprintf(&sb, " error %q", m.Err)
		}
	case NotifyInsert, ForwardInsert:
		fmt.Fprintf(&sb, " %q=%q", m.Key, m.Value)
	case NotifyErase, ForwardErase:
		fmt.Fprintf(&sb, " %q", m.Key)
	case Ack:
		fmt.Fprintf(&sb, " %d", m.Ack)
		if m.Err != "" {
			fmt.Fprintf(&sb, " error %q", m.Err)
		}
	}
	if m.Track != 0 {
		fmt.Fprintf(&sb, " track %d", m.Track)
	}
	return sb.String()
}

// Transport carries messages between partitions. Send never blocks on the
// receiver (partitions sending to each other must not deadlock), and
// delivers the messages of one sender to one receiver in the order sent.
type Transport interface {
	Send(to Addr, m Msg)
}

// Network is a Transport that partitions join: Register gives an address
// its Inbox, where messages sent to it arrive. Local is the in-process
// Network; a cluster's wraps one, delivering messages for this server's
// partitions locally and carrying the others over the interconnect, so a
// partition cannot tell which.
type Network interface {
	Transport
	Register(a Addr) *Inbox
}
