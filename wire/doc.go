// Package wire is Pequod-Go's msgpack RPC codec and client, byte-compatible
// with the original C++ Pequod (spec/server.md §1).
//
// # Encoding
//
// Append-style encoders (AppendNil, AppendBool, AppendInt, AppendUint,
// AppendFloat64, AppendStr/AppendString, AppendArrayHeader,
// AppendMapHeader, AppendValue, AppendAny) emit exactly what the C++
// encoder emits: smallest integer forms (unsigned family for values >= 0),
// float64 always, str family always (never bin). They never allocate beyond
// growing dst.
//
// # Decoding
//
// A Decoder takes whatever bytes have arrived on a connection and returns
// the complete messages plus the number of bytes they used; the partial
// tail is passed again with the next bytes. Decoded Values reference the
// input buffer and the decoder's reusable node storage: no copying of
// strings, no allocation in steady state, and validity only until the next
// Decode call. Clone makes an owned copy.
//
// Accepted: every integer width, float32/float64, str* and bin* (both as
// byte strings), nil, bool, arrays, maps whose keys are strings or integers
// (integers become their decimal strings, {5:1} reads as {"5":1}).
// Errors (*DecodeError wrapping ErrSyntax, ErrMapKey, ErrTooDeep or
// ErrFrameTooLarge; the caller closes the connection): ext/fixext
// (c7-c9, d4-d8), c1, other map key types, nesting deeper than MaxDepth
// (default 64, the message array being level 1), and a message that
// declares or reaches more than MaxFrameBytes (default 64 MiB) encoded
// bytes. A declared length is never allocated: if it fits the limit the
// decoder waits for the bytes, else it fails at once; a 2^31-byte str32
// header followed by end of input is an immediate ErrFrameTooLarge, and
// 100,000 nested arrays are an ErrTooDeep at level 65 (the decoder is
// iterative and uses no Go stack per level).
//
// # Requests and replies
//
// ParseRequest classifies a decoded message (reply, request, or garbage)
// and applies the validation of spec/server.md §1.5 in order, returning a
// Request (Cmd, SeqRaw echoed byte-for-byte, argument accessors) and a
// Verdict: Accept, Reject (answer with AppendFailReply = [-cmd, seq, -1,
// null]), Close (close the connection without reply) or IsReply.
// Table names (spec/joins.md §1.2) are joins.TableName and
// joins.RangeTableName. AppendReply and AppendReplyHeader build replies.
//
// # Connections and the client
//
// Conn is the pipelined connection core, independent of framing: a
// batching writer goroutine, a reader goroutine handing the bytes to a
// Codec, pending calls matched by seq (MatchSeq) or in order (MatchFIFO),
// Pace and Drain for back-pressure (§1.8), and every pending call completed
// with an error when the connection dies. The Redis and memcached clients
// of loadgen plug their framing into it too.
//
// Client is the msgpack RPC framing on a Conn: per-connection seqs from 0,
// replies matched by seq in any order, synchronous helpers taking a context
// and asynchronous ones returning a *Call (net/rpc style, or a callback
// with GoRawFunc). With Options.Handler it also serves the requests the
// peer sends on the same connection (Reply answers them), as a
// server-to-server link needs (§3.2). BarrierMaster and BarrierMember
// implement the client-group barrier of §1.9.
//
// # Choices where the spec is silent or ambiguous
//
//   - A uint64 element 0 above math.MaxInt64 is converted with two's
//     complement (as the C++ Json integer conversion does), so it is a
//     negative command: a reply if element 1 is an integer.
//   - A negative element 0 with a non-integer element 1 is not a reply
//     (§1.2) and so is a request with an unknown command: Reject, and the
//     reply carries -cmd (positive).
//   - count/scan: an optional scanlast (element 4) that is present, not
//     nil and not a string is rejected.
//   - add_join: a non-string join specification is rejected by
//     ParseRequest (null payload); parse errors of a string specification
//     are the server's business (error text payload).
//   - subscribe's reply is decoded like scan's (flat [k1, v1, ...]): the
//     §1.6 text says "same payload as scan(first, last)".
//   - bin map keys are accepted (bin decodes as a string).
//   - A reply whose status is not an integer counts as a failure; a
//     missing payload reads as nil; a get reply with a nil payload reads
//     as the empty value; a reply whose -cmd does not match the request
//     completes the call with ErrBadReply.
//   - After a decode error, Decode still returns the complete messages
//     before the bad one (the C++ server handled them before seeing the
//     error).
package wire
