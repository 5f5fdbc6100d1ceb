package partition

import (
	"fmt"

	"github.com/pequod-go/pequod/wire"
)

// Replier delivers encoded replies to one client connection. SendReply may be
// called from any goroutine and takes ownership of b, one complete msgpack
// reply.
type Replier interface {
	SendReply(b []byte)
}

// ReplyEncoder appends one complete encoded reply to b.
type ReplyEncoder interface {
	AppendTo(b []byte) []byte
}

// ReplyAppender is an optional Replier extension: AppendReply lets the
// partition encode a reply straight into the connection's output buffer,
// saving a buffer and a copy per reply. It may be called from any
// goroutine. The common replies are encoded by the Request itself, so
// sending them allocates nothing.
type ReplyAppender interface {
	AppendReply(e ReplyEncoder)
}

// ValueReplier is an optional Replier extension for clients in the same
// process: ReplyValue hands the reply over as values (Request.Result), so
// nothing is encoded or parsed. It may be called from any goroutine.
type ValueReplier interface {
	ReplyValue(q *Request)
}

// ResultKind says which field of a Result holds the payload.
type ResultKind uint8

const (
	// ResultNil: no payload (null).
	ResultNil ResultKind = iota
	// ResultString: Str (a value, or a failure's message).
	ResultString
	// ResultInt: Int (a count).
	ResultInt
	// ResultStrings: Strs (a scan's keys and values, alternating).
	ResultStrings
	// ResultEncoded: any other payload (stats, control); encode the reply
	// with AppendTo and parse it.
	ResultEncoded
)

// Result is a reply as values.
type Result struct {
	Status int
	Kind   ResultKind
	Str    string
	Int    int64
	Strs   []string
}

// Result returns the reply the partition set (for ValueReplier).
func (q *Request) Result() Result {
	r := Result{Status: q.resStatus, Str: q.resStr, Int: q.resInt, Strs: q.resStrs}
	switch q.resKind {
	case resStr:
		r.Kind = ResultString
	case resInt:
		r.Kind = ResultInt
	case resStrs:
		r.Kind = ResultStrings
	case resFn:
		r.Kind = ResultEncoded
	}
	return r
}

// Request is one accepted RPC. Its strings are owned copies, so it outlives
// the read buffer it was decoded from.
type Request struct {
	// Cmd is the command number (spec/server.md §1.6).
	Cmd wire.Cmd
	// Seq is the raw encoding of element 1, echoed in the reply.
	Seq []byte
	// Key is element 2: the key, or the first key of a range.
	Key string
	// Arg3 is element 3: the value (insert, notify_insert) or the range's last key.
	Arg3 string
	// Arg4 is element 4 when it is a string: count/scan's scanlast, or add_join's join text.
	Arg4 string
	// HasArg4 tells whether element 4 was present and not null.
	HasArg4 bool
	// Subscriber is subscribe/unsubscribe's element 4 "subscriber".
	Subscriber int64
	// Control is control's object converted to Go values (nil if not a map).
	Control map[string]any
	// Reply receives the encoded reply.
	Reply Replier

	seqBuf [10]byte // holds Seq when it is short (every integer encoding is)

	// The reply being sent (see AppendTo).
	resStatus int
	resKind   uint8 // resNil, resStr, resInt or resFn
	resStr    string
	resInt    int64
	resStrs   []string
	resFn     func([]byte) []byte
}

const (
	resNil uint8 = iota
	resStr
	resInt
	resStrs
	resFn
)

// AppendTo encodes the request's reply [-cmd, seq, status, payload]
// (ReplyEncoder).
func (q *Request) AppendTo(b []byte) []byte {
	b = wire.AppendReplyHeader(b, q.Cmd, q.Seq, q.resStatus)
	switch q.resKind {
	case resStr:
		return wire.AppendString(b, q.resStr)
	case resInt:
		return wire.AppendInt(b, q.resInt)
	case resStrs:
		return appendStrings(b, q.resStrs)
	case resFn:
		return q.resFn(b)
	}
	return wire.AppendNil(b)
}

// send delivers the reply set in the res fields.
func (q *Request) send() {
	if vr, ok := q.Reply.(ValueReplier); ok {
		vr.ReplyValue(q)
		return
	}
	if ra, ok := q.Reply.(ReplyAppender); ok {
		ra.AppendReply(q)
		return
	}
	q.Reply.SendReply(q.AppendTo(nil))
}

// FromWire converts a request the wire layer accepted (wire.Accept) into an
// owned Request. An error means the request must be failed with
// wire.AppendFailReply and the error logged.
func FromWire(r *wire.Request, reply Replier) (*Request, error) {
	q := new(Request)
	return q, q.Fill(r, reply)
}

// Fill is FromWire into an existing Request, so that a reader can allocate
// the requests of one read in one block.
func (q *Request) Fill(r *wire.Request, reply Replier) error {
	*q = Request{Cmd: r.Cmd, Reply: reply}
	if len(r.SeqRaw) <= len(q.seqBuf) {
		q.Seq = append(q.seqBuf[:0], r.SeqRaw...)
	} else {
		q.Seq = append([]byte(nil), r.SeqRaw...)
	}
	return q.fill(r)
}

func (q *Request) fill(r *wire.Request) error {
	switch r.Cmd {
	case wire.CmdStats, wire.CmdNoopGet:
		return nil
	case wire.CmdControl:
		if m, ok := r.Arg(2).Interface().(map[string]any); ok {
			q.Control = m
		}
		return nil
	}
	q.Key = string(r.Key())
	switch r.Cmd {
	case wire.CmdInsert, wire.CmdNotifyInsert:
		v := r.Arg(3)
		if !v.IsStr() {
			return fmt.Errorf("%v: value is not a string", r.Cmd)
		}
		q.Arg3 = string(v.Bytes())
	case wire.CmdCount, wire.CmdScan, wire.CmdSubscribe, wire.CmdUnsubscribe, wire.CmdInvalidate, wire.CmdAddJoin:
		q.Arg3 = string(r.Last())
		a4 := r.Arg(4)
		switch {
		case a4.IsStr():
			q.Arg4, q.HasArg4 = string(a4.Bytes()), true
		case r.Cmd == wire.CmdAddJoin:
			return fmt.Errorf("add_join: join specification is not a string")
		}
		if r.Cmd == wire.CmdSubscribe || r.Cmd == wire.CmdUnsubscribe {
			sub, ok := r.Subscriber()
			if !ok {
				return fmt.Errorf("%v: element 4 needs an integer \"subscriber\"", r.Cmd)
			}
			q.Subscriber = sub
		}
	}
	return nil
}
