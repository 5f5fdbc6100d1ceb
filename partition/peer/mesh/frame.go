package mesh

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/wire"
)

// The frames of a link (see the package comment for the table). Encoders
// run under the wire.Conn's lock, so they only append bytes; parsers run on
// the link's reader goroutine and copy what they keep out of the read
// buffer.

// Keys of the trailing routing map of a peer request.
const (
	optSubscriber = "subscriber" // the sender's seqid (§1.6 subscribe/unsubscribe)
	optFrom       = "from"       // the sending partition on the sender's server
	optTo         = "to"         // the receiving partition on the receiver's server
	optSeq        = "seq"        // Msg.Seq of a subscribe
	optTrack      = "track"      // true: the request expects a reply, the Ack

	// Keys of a subscribe reply's payload.
	replyKVs      = "kvs"
	replyFreshFor = "fresh_for"

	// Control keys of a link.
	ctlPing = "ping"
)

// errProtocol marks frames a peer must never send; the link is closed.
var errProtocol = errors.New("protocol error")

func protocolErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errProtocol}, args...)...)
}

// expectsReply reports whether a request for m is answered: a subscribe by
// its snapshot, a tracked notification, invalidation or forwarded write by
// its Ack. Unsubscribes are never tracked (no partition acknowledges them).
func expectsReply(m *peer.Msg) bool {
	switch m.Kind {
	case peer.Subscribe:
		return true
	case peer.NotifyInsert, peer.NotifyErase, peer.Invalidate, peer.ForwardInsert, peer.ForwardErase:
		return m.Track != 0
	}
	return false
}

// cmdOf is the RPC of a request kind.
func cmdOf(k peer.Kind) wire.Cmd {
	switch k {
	case peer.Subscribe:
		return wire.CmdSubscribe
	case peer.Unsubscribe:
		return wire.CmdUnsubscribe
	case peer.NotifyInsert:
		return wire.CmdNotifyInsert
	case peer.NotifyErase:
		return wire.CmdNotifyErase
	case peer.Invalidate:
		return wire.CmdInvalidate
	case peer.ForwardInsert:
		return wire.CmdInsert
	case peer.ForwardErase:
		return wire.CmdErase
	}
	return 0
}

// kindOf is the message kind of a request RPC (0 for other commands).
func kindOf(c wire.Cmd) peer.Kind {
	switch c {
	case wire.CmdSubscribe:
		return peer.Subscribe
	case wire.CmdUnsubscribe:
		return peer.Unsubscribe
	case wire.CmdNotifyInsert:
		return peer.NotifyInsert
	case wire.CmdNotifyErase:
		return peer.NotifyErase
	case wire.CmdInvalidate:
		return peer.Invalidate
	case wire.CmdInsert:
		return peer.ForwardInsert
	case wire.CmdErase:
		return peer.ForwardErase
	}
	return 0
}

// appendRequest appends the request frame carrying m from self to to.
// m.Kind must be a request kind (cmdOf non-zero).
func appendRequest(b []byte, self int32, seq uint64, to peer.Addr, m *peer.Msg) []byte {
	cmd := cmdOf(m.Kind)
	tracked := expectsReply(m) && m.Kind != peer.Subscribe
	nopts := 2 // from, to
	if tracked {
		nopts++
	}
	switch m.Kind {
	case peer.Subscribe:
		nopts += 2 // subscriber, seq
	case peer.Unsubscribe:
		nopts++ // subscriber
	}
	var nargs int
	switch m.Kind {
	case peer.Subscribe, peer.Unsubscribe, peer.Invalidate, peer.NotifyInsert, peer.ForwardInsert:
		nargs = 3
	default: // NotifyErase, ForwardErase
		nargs = 2
	}
	b = wire.AppendRequestHeader(b, cmd, seq, nargs)
	switch m.Kind {
	case peer.Subscribe, peer.Unsubscribe, peer.Invalidate:
		b = wire.AppendString(wire.AppendString(b, m.Lo), m.Hi)
	case peer.NotifyInsert, peer.ForwardInsert:
		b = wire.AppendString(wire.AppendString(b, m.Key), m.Value)
	default:
		b = wire.AppendString(b, m.Key)
	}
	b = wire.AppendMapHeader(b, nopts)
	if m.Kind == peer.Subscribe || m.Kind == peer.Unsubscribe {
		b = wire.AppendInt(wire.AppendString(b, optSubscriber), int64(self))
	}
	b = wire.AppendInt(wire.AppendString(b, optFrom), int64(m.From.Partition))
	b = wire.AppendInt(wire.AppendString(b, optTo), int64(to.Partition))
	if m.Kind == peer.Subscribe {
		b = wire.AppendUint(wire.AppendString(b, optSeq), m.Seq)
	}
	if tracked {
		b = wire.AppendBool(wire.AppendString(b, optTrack), true)
	}
	return b
}

// appendPing appends a heartbeat: control {"ping": true}, never answered.
func appendPing(b []byte, seq uint64) []byte {
	b = wire.AppendRequestHeader(b, wire.CmdControl, seq, 1)
	b = wire.AppendMapHeader(b, 1)
	return wire.AppendBool(wire.AppendString(b, ctlPing), true)
}

// appendReplyHead appends [-cmd, seq, status, ... (the payload follows).
func appendReplyHead(b []byte, cmd wire.Cmd, seq uint64, status int) []byte {
	b = wire.AppendArrayHeader(b, 4)
	b = wire.AppendInt(b, -int64(cmd))
	b = wire.AppendUint(b, seq)
	return wire.AppendInt(b, int64(status))
}

// appendSnapshotReply appends the reply to subscribe seq carrying m: on
// success {"kvs": [k1, v1, ...], "fresh_for": µs}; on failure status -1
// and the error text.
func appendSnapshotReply(b []byte, seq uint64, m *peer.Msg) []byte {
	if m.Err != "" {
		return wire.AppendString(appendReplyHead(b, wire.CmdSubscribe, seq, wire.StatusFail), m.Err)
	}
	b = appendReplyHead(b, wire.CmdSubscribe, seq, wire.StatusOK)
	b = wire.AppendMapHeader(b, 2)
	b = wire.AppendArrayHeader(wire.AppendString(b, replyKVs), len(m.KVs))
	for _, s := range m.KVs {
		b = wire.AppendString(b, s)
	}
	return wire.AppendInt(wire.AppendString(b, replyFreshFor), m.FreshFor)
}

// appendAckReply appends the reply to a tracked request: null, or status
// -1 and the error text.
func appendAckReply(b []byte, cmd wire.Cmd, seq uint64, errText string) []byte {
	if errText != "" {
		return wire.AppendString(appendReplyHead(b, cmd, seq, wire.StatusFail), errText)
	}
	return wire.AppendNil(appendReplyHead(b, cmd, seq, wire.StatusOK))
}

// frame is a decoded link frame: a request (cmd > 0) or a reply.
type frame struct {
	cmd     wire.Cmd // the request's command, or the command replied to
	reply   bool
	seq     uint64
	args    [4]wire.Value // request: elements 2..5; reply: status, payload
	nargs   int
	status  int64 // reply
	payload wire.Value
}

// parseFrame splits a message into a frame. Anything that is not
// [int, uint, ...] is a protocol error.
func parseFrame(v wire.Value) (frame, error) {
	var f frame
	if v.Kind() != wire.KindArray || v.Len() < 2 {
		return f, protocolErr("frame is not an array of at least 2 elements: %s", brief(v))
	}
	var cmdV, seqV wire.Value
	for i, e := range v.All() {
		switch i {
		case 0:
			cmdV = e
		case 1:
			seqV = e
		default:
			f.args[i-2] = e
			f.nargs++
		}
		if i+1-2 == len(f.args) {
			break // elements past the last one any frame uses are ignored
		}
	}
	c, ok := cmdV.Int()
	if !ok || c == 0 {
		return f, protocolErr("frame's element 0 is not a command: %s", brief(v))
	}
	if f.seq, ok = seqV.Uint(); !ok {
		return f, protocolErr("frame's seq is not a non-negative integer: %s", brief(v))
	}
	if c < 0 {
		if c == math.MinInt64 {
			return f, protocolErr("bad reply command: %s", brief(v))
		}
		f.reply, f.cmd = true, wire.Cmd(-c)
		f.status = wire.StatusFail
		if st, ok := f.args[0].Int(); ok {
			f.status = st
		}
		f.payload = f.args[1]
		return f, nil
	}
	f.cmd = wire.Cmd(c)
	return f, nil
}

// opts is the routing map of a peer request.
type opts struct {
	from, to int64
	seq      uint64
	track    bool
	hasFrom  bool
	hasTo    bool
	hasSeq   bool
}

func parseOpts(v wire.Value) (opts, error) {
	var o opts
	if !v.IsMap() {
		return o, protocolErr("routing argument is %s, not a map", v.Kind())
	}
	for k, x := range v.Pairs() {
		var ok bool
		switch string(k.Bytes()) {
		case optFrom:
			o.from, ok = x.Int()
			o.hasFrom = ok
		case optTo:
			o.to, ok = x.Int()
			o.hasTo = ok
		case optSeq:
			o.seq, ok = x.Uint()
			o.hasSeq = ok
		case optTrack:
			o.track, ok = x.Truthy(), true
		default:
			ok = true // "subscriber" and future keys
		}
		if !ok {
			return o, protocolErr("routing field %q is %s", k.Bytes(), x.Kind())
		}
	}
	if !o.hasFrom || !o.hasTo {
		return o, protocolErr("routing map lacks %q or %q", optFrom, optTo)
	}
	return o, nil
}

// str returns a copy of a string argument.
func str(v wire.Value, what string) (string, error) {
	if !v.IsStr() {
		return "", protocolErr("%s is %s, not a string", what, v.Kind())
	}
	return string(v.Bytes()), nil
}

// parseSnapshot reads a successful subscribe reply's payload. The keys and
// values share one string, so a snapshot of n pairs allocates twice, not
// 2n times.
func parseSnapshot(p wire.Value) (kvs []string, freshFor int64, err error) {
	if !p.IsMap() {
		return nil, 0, protocolErr("subscribe reply payload is %s, not a map", p.Kind())
	}
	var arr wire.Value
	var haveKVs, haveFresh bool
	for k, x := range p.Pairs() {
		switch string(k.Bytes()) {
		case replyKVs:
			arr, haveKVs = x, true
		case replyFreshFor:
			if freshFor, haveFresh = x.Int(); !haveFresh {
				return nil, 0, protocolErr("subscribe reply's fresh_for is %s", x.Kind())
			}
		}
	}
	if !haveKVs || !haveFresh {
		return nil, 0, protocolErr("subscribe reply lacks kvs or fresh_for")
	}
	if !arr.IsArray() || arr.Len()%2 != 0 {
		return nil, 0, protocolErr("subscribe reply's kvs is not a flat key/value array")
	}
	total := 0
	for _, e := range arr.All() {
		if !e.IsStr() {
			return nil, 0, protocolErr("subscribe reply's kvs holds a %s", e.Kind())
		}
		total += e.Len()
	}
	var sb strings.Builder
	sb.Grow(total)
	for _, e := range arr.All() {
		sb.Write(e.Bytes())
	}
	all := sb.String()
	kvs = make([]string, arr.Len())
	off := 0
	for i, e := range arr.All() {
		n := e.Len()
		kvs[i] = all[off : off+n]
		off += n
	}
	return kvs, freshFor, nil
}

// errText is a failure reply's message.
func errText(cmd wire.Cmd, status int64, p wire.Value) string {
	if p.IsStr() && p.Len() > 0 {
		return string(p.Bytes())
	}
	return fmt.Sprintf("%s failed (status %d)", cmd, status)
}

// brief renders a value for an error message, at most 200 bytes.
func brief(v wire.Value) string {
	const max = 200
	s := v.String()
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}
