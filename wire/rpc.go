package wire

import (
	"bytes"
	"strconv"

	"github.com/pequod-go/pequod/joins"
)

// Cmd is an RPC command code (spec/server.md §1.6). Requests carry cmd > 0;
// replies carry -cmd.
type Cmd int64

// The RPC codes. The order matters: §1.5 validates ranges of codes.
const (
	CmdGet          Cmd = 1
	CmdInsert       Cmd = 2
	CmdErase        Cmd = 3
	CmdNotifyInsert Cmd = 4
	CmdNotifyErase  Cmd = 5
	CmdCount        Cmd = 6
	CmdScan         Cmd = 7
	CmdSubscribe    Cmd = 8
	CmdUnsubscribe  Cmd = 9
	CmdInvalidate   Cmd = 10
	CmdAddJoin      Cmd = 11
	CmdStats        Cmd = 12
	CmdControl      Cmd = 13
	CmdNoopGet      Cmd = 14

	// CmdBarrier is the client-group barrier message (§1.9), not a server
	// RPC.
	CmdBarrier Cmd = 77
)

// Reply statuses.
const (
	StatusOK   = 0
	StatusFail = -1
)

// NoopGetValue is the payload of a noop_get reply: 512 '.' bytes.
var NoopGetValue = bytes.Repeat([]byte{'.'}, 512)

var cmdNames = [...]string{
	CmdGet: "get", CmdInsert: "insert", CmdErase: "erase",
	CmdNotifyInsert: "notify_insert", CmdNotifyErase: "notify_erase",
	CmdCount: "count", CmdScan: "scan", CmdSubscribe: "subscribe",
	CmdUnsubscribe: "unsubscribe", CmdInvalidate: "invalidate",
	CmdAddJoin: "add_join", CmdStats: "stats", CmdControl: "control",
	CmdNoopGet: "noop_get",
}

// String returns the spec name of a command ("get", "add_join", ...), or
// "cmd(N)" for unknown codes.
func (c Cmd) String() string {
	if c > 0 && int64(c) < int64(len(cmdNames)) {
		return cmdNames[c]
	}
	if c == CmdBarrier {
		return "barrier"
	}
	return "cmd(" + strconv.FormatInt(int64(c), 10) + ")"
}

// Known reports whether c is one of the RPC codes 1..14.
func (c Cmd) Known() bool { return c >= CmdGet && c <= CmdNoopGet }

// Verdict is the outcome of checking a received message (§1.2, §1.5).
type Verdict uint8

const (
	// Accept: a well-formed request; dispatch it to its handler (which can
	// still fail for semantic reasons).
	Accept Verdict = iota
	// Reject: reply [-cmd, seq, -1, null] (AppendFailReply). This covers
	// bad arguments (§1.5 rules 3-4 and the per-command checks) and unknown
	// command codes (rule 5).
	Reject
	// Close: not a request at all (§1.5 rule 1): send nothing and close the
	// connection.
	Close
	// IsReply: the message is a reply (§1.2). A server that has outstanding
	// calls on this connection matches it by seq; otherwise it is silently
	// discarded (a negative-command message sent to a server gets no
	// answer).
	IsReply
)

var verdictNames = [...]string{"accept", "reject", "close", "reply"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Request is a received request message. Its slices and Values reference
// the decoder's buffers (see Value).
type Request struct {
	// Cmd is element 0. A uint64 above math.MaxInt64 is converted with
	// two's complement (so it is negative), as the C++ Json integer
	// conversion does.
	Cmd Cmd
	// SeqRaw is the exact encoding of element 1; the reply echoes it
	// byte-for-byte whatever its type (§1.3: the server does not check it).
	SeqRaw []byte
	// Msg is the whole message array.
	Msg Value
	// Reason says why a request was rejected (empty when accepted); for
	// logs and tests.
	Reason string

	args [5]Value // elements 0..4 (zero Value when missing)
}

// Arg returns element i of the request message (0 = cmd, 1 = seq, 2 = first
// argument, ...). Missing elements read as nil (§1.5 rule 6).
func (r *Request) Arg(i int) Value {
	if i >= 0 && i < len(r.args) {
		return r.args[i]
	}
	return r.Msg.Index(i)
}

// Key returns element 2 as bytes (the key, or the first bound of a range);
// nil if it is not a string.
func (r *Request) Key() []byte { return r.args[2].Bytes() }

// Last returns element 3 as bytes (the value of insert/notify_insert, or the
// last bound of a range); nil if it is not a string.
func (r *Request) Last() []byte { return r.args[3].Bytes() }

// Seq returns element 1 as an integer when it is one.
func (r *Request) Seq() (int64, bool) { return r.args[1].Int() }

// NArgs returns the number of elements of the request message.
func (r *Request) NArgs() int { return r.Msg.Len() }

// IsReplyMsg reports whether m is a reply by the rule of §1.2: an array whose
// element 0 is a negative integer and whose element 1 is an integer.
func IsReplyMsg(m Value) bool {
	if m.Kind() != KindArray || m.Len() < 2 {
		return false
	}
	c, s := m.Index(0), m.Index(1)
	if !c.IsInteger() || !s.IsInteger() {
		return false
	}
	i, _ := c.Int()
	return i < 0
}

// Reply is a received reply message [-cmd, seq, status, payload].
type Reply struct {
	// Cmd is the command replied to (the negation of element 0).
	Cmd Cmd
	// Seq is element 1.
	Seq int64
	// Status is element 2; StatusFail when it is missing or not an integer.
	Status int64
	// Payload is element 3 (the zero Value, reading as nil, if missing).
	Payload Value
}

// ParseReply decodes a reply message; ok is false if m is not a reply by
// the rule of §1.2 (see IsReplyMsg). Its Values reference m's storage.
func ParseReply(m Value) (r Reply, ok bool) {
	if !IsReplyMsg(m) {
		return r, false
	}
	c, _ := m.Index(0).Int()
	r.Cmd = Cmd(-c)
	r.Seq, _ = m.Index(1).Int()
	r.Status = StatusFail
	if st, ok := m.Index(2).Int(); ok {
		r.Status = st
	}
	r.Payload = m.Index(3)
	return r, true
}

// ParseRequest classifies a received message and applies the validation of
// spec/server.md §1.5 in its order:
//
//  0. a reply (IsReplyMsg) gives IsReply;
//  1. not an array, fewer than 2 elements, or element 0 not an integer:
//     Close (log "bad rpc: <message>", no reply);
//  2. otherwise the failure reply is [-cmd, seq, -1, null];
//  3. cmd 1..11: element 2 must be a string with a non-empty table name;
//  4. cmd 6..11: element 3 must be a string and (element 2, element 3) must
//     have a common table name (joins.RangeTableName non-empty);
//  5. unknown codes (0, >= 15, and negative codes whose seq is not an
//     integer) are rejected.
//
// Per-command checks that the spec states in §1.6 (all Reject):
// insert and notify_insert need a string value (element 3; the C++ server
// would assert, joins.md §10 A6); subscribe and unsubscribe need element 4
// to be a map with an integer "subscriber"; add_join needs a string join
// specification in element 4; count and scan accept an optional scanlast
// in element 4 that must be a string when present and not nil.
//
// The server-level rule that only control is legal before the cluster is
// ready (§1.4) is left to the caller.
func ParseRequest(m Value) (Request, Verdict) {
	var r Request
	r.Msg = m
	if m.Kind() != KindArray || m.Len() < 2 {
		r.Reason = "not an array of at least 2 elements"
		return r, Close
	}
	// Collect elements 0..4 in one pass.
	n := m.Len()
	j := m.i + 1
	for k := 0; k < n && k < len(r.args); k++ {
		r.args[k] = Value{m.b, j}
		j = m.b.nodes[j].end
	}
	c := r.args[0]
	if !c.IsInteger() {
		r.Reason = "element 0 is not an integer"
		return r, Close
	}
	ci, _ := c.Int()
	r.Cmd = Cmd(ci)
	r.SeqRaw = r.args[1].Raw()
	if ci < 0 && r.args[1].IsInteger() {
		r.Reason = "reply"
		return r, IsReply
	}
	cmd := r.Cmd
	if !cmd.Known() {
		r.Reason = "unknown command"
		return r, Reject
	}
	if cmd <= CmdAddJoin {
		if !r.args[2].IsStr() {
			r.Reason = "element 2 is not a string"
			return r, Reject
		}
		if len(joins.TableName(r.args[2].Bytes())) == 0 {
			r.Reason = "key has no table name"
			return r, Reject
		}
	}
	if cmd >= CmdCount && cmd <= CmdAddJoin {
		if !r.args[3].IsStr() {
			r.Reason = "element 3 is not a string"
			return r, Reject
		}
		if len(joins.RangeTableName(r.args[2].Bytes(), r.args[3].Bytes())) == 0 {
			r.Reason = "range has no common table name"
			return r, Reject
		}
	}
	switch cmd {
	case CmdInsert, CmdNotifyInsert:
		if !r.args[3].IsStr() {
			r.Reason = "value is not a string"
			return r, Reject
		}
	case CmdCount, CmdScan:
		if a := r.args[4]; !a.IsNil() && !a.IsStr() {
			r.Reason = "scanlast is not a string"
			return r, Reject
		}
	case CmdSubscribe, CmdUnsubscribe:
		if s, ok := r.args[4].Get("subscriber"); !ok || !s.IsInteger() {
			r.Reason = "element 4 has no integer \"subscriber\""
			return r, Reject
		}
	case CmdAddJoin:
		if !r.args[4].IsStr() {
			r.Reason = "join specification is not a string"
			return r, Reject
		}
	}
	return r, Accept
}

// ScanLast returns the effective scanlast bound of a count or scan request:
// element 4 if it is a string, else element 3.
func (r *Request) ScanLast() []byte {
	if r.args[4].IsStr() {
		return r.args[4].Bytes()
	}
	return r.args[3].Bytes()
}

// Subscriber returns element 4["subscriber"] of a subscribe or unsubscribe
// request.
func (r *Request) Subscriber() (int64, bool) {
	s, ok := r.args[4].Get("subscriber")
	if !ok {
		return 0, false
	}
	return s.Int()
}

// AppendReplyHeader appends the first three elements of a reply,
// [-cmd, seq, status, ...: a 4-element array header, -cmd, the raw seq bytes
// echoed verbatim, and status. The caller must append exactly one payload
// value next (AppendNil for none).
func AppendReplyHeader(dst []byte, cmd Cmd, seqRaw []byte, status int) []byte {
	dst = append(dst, 0x94)
	dst = AppendInt(dst, -int64(cmd))
	if len(seqRaw) == 0 {
		dst = AppendNil(dst) // missing seq: cannot happen for parsed requests
	} else {
		dst = append(dst, seqRaw...)
	}
	return AppendInt(dst, int64(status))
}

// AppendReply appends a complete reply [-cmd, seq, status, payload]. payload
// appends the payload value; nil means a null payload. Example:
// AppendReply(nil, CmdGet, []byte{5}, StatusFail, nil) = 94 ff 05 ff c0.
func AppendReply(dst []byte, cmd Cmd, seqRaw []byte, status int, payload func([]byte) []byte) []byte {
	dst = AppendReplyHeader(dst, cmd, seqRaw, status)
	if payload == nil {
		return AppendNil(dst)
	}
	return payload(dst)
}

// AppendFailReply appends [-cmd, seq, -1, null] for a request.
func AppendFailReply(dst []byte, r *Request) []byte {
	return AppendNil(AppendReplyHeader(dst, r.Cmd, r.SeqRaw, StatusFail))
}

// AppendOKReply appends [-cmd, seq, 0, null] for a request.
func AppendOKReply(dst []byte, r *Request) []byte {
	return AppendNil(AppendReplyHeader(dst, r.Cmd, r.SeqRaw, StatusOK))
}

// AppendRequestHeader appends the start of a request [cmd, seq, ...]: an
// array header of 2+nargs elements, cmd and seq. The caller appends nargs
// argument values next. Example: AppendRequestHeader(nil, CmdInsert, 3, 2)
// followed by "k" and "v" gives 94 02 03 a1 6b a1 76.
func AppendRequestHeader(dst []byte, cmd Cmd, seq uint64, nargs int) []byte {
	dst = AppendArrayHeader(dst, 2+nargs)
	dst = AppendInt(dst, int64(cmd))
	return AppendUint(dst, seq)
}
