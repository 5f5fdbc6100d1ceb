package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Limits of the decoder. Both are per-Decoder fields; these are the defaults
// used when a field is zero.
const (
	// DefaultMaxFrameBytes bounds the encoded size of one message (64 MiB).
	// A message that declares (through a string length or an element count)
	// or reaches more bytes than the limit is a decode error. The decoder
	// never allocates according to a declared size: a string or container
	// whose declared size fits the limit but whose bytes have not arrived yet
	// simply waits for more input.
	DefaultMaxFrameBytes = 64 << 20

	// DefaultMaxDepth bounds the nesting of arrays and maps (64 levels; the
	// message array itself is level 1, so a request argument may nest 63
	// more levels). Deeper input is a decode error. The decoder is iterative,
	// so depth never costs Go stack.
	DefaultMaxDepth = 64

	// maxFrameCap is the largest accepted MaxFrameBytes setting; larger
	// settings are clamped to it.
	maxFrameCap = math.MaxInt32
)

// Sentinel errors wrapped by *DecodeError; test with errors.Is.
var (
	// ErrSyntax: a byte that is not valid here: ext/fixext (c7-c9, d4-d8)
	// or the never-used c1.
	ErrSyntax = errors.New("invalid msgpack")
	// ErrMapKey: a map key that is neither a string nor an integer.
	ErrMapKey = errors.New("map key is not a string or integer")
	// ErrTooDeep: arrays/maps nested deeper than MaxDepth.
	ErrTooDeep = errors.New("nesting too deep")
	// ErrFrameTooLarge: a message declaring or reaching more than
	// MaxFrameBytes bytes.
	ErrFrameTooLarge = errors.New("message too large")
	// ErrTruncated: input ended inside a value (only from Parse; the
	// streaming Decoder waits for more bytes instead).
	ErrTruncated = errors.New("truncated value")
	// ErrTrailing: bytes after the value (only from Parse).
	ErrTrailing = errors.New("trailing bytes")
)

// DecodeError describes malformed input. A server must close the connection
// on any decode error (spec/server.md §1.1).
type DecodeError struct {
	// Offset is the position of the offending byte in the buffer passed to
	// the Decode call that failed.
	Offset int
	// FrameOffset is the position of the offending byte within its message.
	FrameOffset int
	// Err is one of the sentinel errors above.
	Err error
	// Detail says what was wrong, e.g. "ext type 0xc7".
	Detail string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("wire: decode error at offset %d (message offset %d): %v: %s",
		e.Offset, e.FrameOffset, e.Err, e.Detail)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// frame is an open array or map during a walk.
type frame struct {
	left  uint64 // elements still to read (a map counts keys and values)
	node  int    // index of the container's node (build mode only)
	isMap bool
}

// Decoder is a streaming msgpack message decoder. Feed it whatever bytes
// have arrived; it returns every complete message and how many bytes those
// took, and remembers how far it has checked a trailing partial message, so
// that a large message arriving in many reads is scanned in linear total
// time.
//
// Contract: after Decode(buf) returns consumed n without error, the next call
// must pass buf[n:] followed by any newly arrived bytes (the partial tail may
// have moved in memory; its contents must be unchanged). To start over on a
// different stream call Reset. Use one Decoder per connection.
//
// Steady state decoding allocates nothing: the returned message slice, the
// value nodes and the scratch area for integer map keys are reused by the
// next call. Consequently the values returned by one call are invalidated by
// the next call (and by changes to buf). A Decoder is not safe for concurrent
// use.
type Decoder struct {
	// MaxFrameBytes bounds one message's encoded size; 0 means
	// DefaultMaxFrameBytes. Values above math.MaxInt32 are clamped.
	MaxFrameBytes int
	// MaxDepth bounds container nesting; 0 means DefaultMaxDepth.
	MaxDepth int

	b     batch
	msgs  []Value
	stack []frame

	partial bool // a partial message is pending at the start of the next buf
	pos     int  // bytes of the partial message already checked
	need    int  // bytes of the partial message needed before progress
	err     error

	maxMsgs int // stop after this many messages per call (0 = no limit)
}

// NewDecoder returns a decoder with the default limits.
func NewDecoder() *Decoder { return new(Decoder) }

// Reset forgets any partial message and any sticky error, keeping the
// storage for reuse. Values from earlier calls become invalid.
func (d *Decoder) Reset() {
	d.partial, d.pos, d.need, d.err = false, 0, 0, nil
	d.stack = d.stack[:0]
	d.b.buf = nil
	d.b.nodes = d.b.nodes[:0]
	d.b.scratch = d.b.scratch[:0]
	d.msgs = d.msgs[:0]
}

// Need returns how many bytes the pending partial message needs before
// Decode can make progress (counted from the start of the unconsumed tail),
// or 0 if no partial message is pending. A reader can use it to size its
// buffer and to skip calling Decode until enough bytes are there. It never
// exceeds MaxFrameBytes.
func (d *Decoder) Need() int {
	if !d.partial {
		return 0
	}
	return d.need
}

func (d *Decoder) limits() (maxFrame, maxDepth int) {
	maxFrame, maxDepth = d.MaxFrameBytes, d.MaxDepth
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrameBytes
	}
	if maxFrame > maxFrameCap {
		maxFrame = maxFrameCap
	}
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	return
}

// Decode decodes the complete messages at the start of buf. It returns them
// (each usually an array; the decoder accepts any msgpack value as a message
// and leaves shape checks to ParseRequest) and the number of bytes they
// occupy. Bytes after the last complete message belong to a partial message
// and must be passed again (see the Decoder contract).
//
// On malformed input it returns the messages before the bad one, the offset
// where the bad message starts, and a *DecodeError. The error is sticky:
// later calls return it again until Reset. The caller should process the
// returned messages (the C++ server handles every message before the bad
// one) and then close the connection.
func (d *Decoder) Decode(buf []byte) (msgs []Value, consumed int, err error) {
	if d.err != nil {
		return nil, 0, d.err
	}
	d.b.buf = buf
	d.b.nodes = d.b.nodes[:0]
	d.b.scratch = d.b.scratch[:0]
	d.msgs = d.msgs[:0]
	off := 0
	for off < len(buf) {
		if d.maxMsgs > 0 && len(d.msgs) >= d.maxMsgs {
			break
		}
		if d.partial {
			// Resume checking the partial message without building nodes;
			// nodes are built in one pass once it is complete.
			if len(buf)-off < d.need {
				break
			}
			done, err := d.walk(buf, off, false)
			if err != nil {
				return d.fail(err)
			}
			if !done {
				break
			}
			d.partial, d.pos, d.stack = false, 0, d.stack[:0]
		}
		root, scr := len(d.b.nodes), len(d.b.scratch)
		done, err := d.walk(buf, off, true)
		if err != nil {
			d.b.nodes, d.b.scratch = d.b.nodes[:root], d.b.scratch[:scr]
			return d.fail(err)
		}
		if !done {
			d.b.nodes, d.b.scratch = d.b.nodes[:root], d.b.scratch[:scr]
			d.partial = true
			break
		}
		d.msgs = append(d.msgs, Value{&d.b, root})
		off += d.pos
		d.pos, d.stack = 0, d.stack[:0]
	}
	return d.msgs, off, nil
}

func (d *Decoder) fail(err error) ([]Value, int, error) {
	d.err = err
	d.partial = false
	return d.msgs, err.(*DecodeError).Offset - err.(*DecodeError).FrameOffset, err
}

// walk scans (build=false) or decodes (build=true) the message starting at
// buf[base], continuing from d.pos with the open containers in d.stack. It
// returns done=true with d.pos = message length when the message is
// complete, or done=false with d.pos, d.stack and d.need describing where to
// resume.
func (d *Decoder) walk(buf []byte, base int, build bool) (done bool, err error) {
	maxFrame, maxDepth := d.limits()
	maxEnd := base + maxFrame
	p := base + d.pos
	st := d.stack
	b := &d.b
	nodes := b.nodes // local copy: appends do not write through d
	bad := func(at int, e error, detail string) error {
		return &DecodeError{Offset: at, FrameOffset: at - base, Err: e, Detail: detail}
	}
	for {
		if p > len(buf) { // inside a string whose bytes have not all arrived
			d.pos, d.stack, d.need, b.nodes = p-base, st, p-base, nodes
			return false, nil
		}
		for len(st) > 0 && st[len(st)-1].left == 0 {
			if build {
				n := &nodes[st[len(st)-1].node]
				n.end, n.raw = len(nodes), p
			}
			st = st[:len(st)-1]
		}
		if len(st) == 0 && p > base {
			d.pos, d.stack, b.nodes = p-base, st, nodes
			return true, nil
		}
		if p >= len(buf) {
			if p >= maxEnd {
				return false, bad(p, ErrFrameTooLarge, fmt.Sprintf("message exceeds %d bytes", maxFrame))
			}
			d.pos, d.stack, d.need, b.nodes = p-base, st, p-base+1, nodes
			return false, nil
		}
		c := buf[p]
		isKey := len(st) > 0 && st[len(st)-1].isMap && st[len(st)-1].left&1 == 0

		var (
			kind Kind
			num  uint64 // scalar value, string length or element count
			hs   = 1    // header size
		)
		switch {
		case c <= 0x7f:
			kind, num = KindInt, uint64(c)
		case c >= 0xe0:
			kind, num = KindInt, uint64(int64(int8(c)))
		case c <= 0x8f:
			kind, num = KindMap, uint64(c&0x0f)
		case c <= 0x9f:
			kind, num = KindArray, uint64(c&0x0f)
		case c <= 0xbf:
			kind, num = KindStr, uint64(c&0x1f)
		default:
			switch c {
			case 0xc0:
				kind = KindNil
			case 0xc2, 0xc3:
				kind, num = KindBool, uint64(c&1)
			case 0xc4, 0xd9:
				kind, hs = KindStr, 2
			case 0xc5, 0xda:
				kind, hs = KindStr, 3
			case 0xc6, 0xdb:
				kind, hs = KindStr, 5
			case 0xca:
				kind, hs = KindFloat, 5
			case 0xcb:
				kind, hs = KindFloat, 9
			case 0xcc, 0xd0:
				kind, hs = KindInt, 2
			case 0xcd, 0xd1:
				kind, hs = KindInt, 3
			case 0xce, 0xd2:
				kind, hs = KindInt, 5
			case 0xcf, 0xd3:
				kind, hs = KindInt, 9
			case 0xdc:
				kind, hs = KindArray, 3
			case 0xdd:
				kind, hs = KindArray, 5
			case 0xde:
				kind, hs = KindMap, 3
			case 0xdf:
				kind, hs = KindMap, 5
			case 0xc1:
				return false, bad(p, ErrSyntax, "reserved byte 0xc1")
			default: // c7-c9, d4-d8
				return false, bad(p, ErrSyntax, fmt.Sprintf("ext type 0x%02x", c))
			}
		}
		if isKey && kind != KindStr && kind != KindInt {
			return false, bad(p, ErrMapKey, "map key of kind "+kind.String())
		}
		if (kind == KindArray || kind == KindMap) && len(st)+1 > maxDepth {
			return false, bad(p, ErrTooDeep, fmt.Sprintf("nesting deeper than %d levels", maxDepth))
		}
		if p+hs > maxEnd {
			return false, bad(p, ErrFrameTooLarge, fmt.Sprintf("message exceeds %d bytes", maxFrame))
		}
		if p+hs > len(buf) {
			d.pos, d.stack, d.need, b.nodes = p-base, st, p+hs-base, nodes
			return false, nil
		}
		if hs > 1 {
			h := buf[p+1 : p+hs]
			switch c {
			case 0xca:
				num = math.Float64bits(float64(math.Float32frombits(binary.BigEndian.Uint32(h))))
			case 0xd0:
				num = uint64(int64(int8(h[0])))
			case 0xd1:
				num = uint64(int64(int16(binary.BigEndian.Uint16(h))))
			case 0xd2:
				num = uint64(int64(int32(binary.BigEndian.Uint32(h))))
			default: // big-endian unsigned of 1, 2, 4 or 8 bytes
				switch hs {
				case 2:
					num = uint64(h[0])
				case 3:
					num = uint64(binary.BigEndian.Uint16(h))
				case 5:
					num = uint64(binary.BigEndian.Uint32(h))
				case 9:
					num = binary.BigEndian.Uint64(h)
				}
			}
			if c == 0xcf && num > math.MaxInt64 {
				kind = KindUint
			}
		}
		q := p + hs // end of the header
		var elems uint64
		switch kind {
		case KindStr:
			if num > uint64(maxEnd-q) {
				return false, bad(p, ErrFrameTooLarge, fmt.Sprintf("string of %d bytes exceeds message limit %d", num, maxFrame))
			}
		case KindArray, KindMap:
			elems = num
			if kind == KindMap {
				elems *= 2
			}
			// Every element takes at least one byte.
			if elems > uint64(maxEnd-q) {
				return false, bad(p, ErrFrameTooLarge, fmt.Sprintf("%s of %d elements exceeds message limit %d", kind, num, maxFrame))
			}
		}
		if len(st) > 0 {
			st[len(st)-1].left--
		}
		next := q
		if kind == KindStr {
			next = q + int(num)
		}
		if build {
			idx := len(nodes)
			val, cnt := num, uint32(0)
			switch kind {
			case KindArray, KindMap:
				val, cnt = 0, uint32(num)
			case KindStr:
				val = 0
			}
			nodes = append(nodes, node{num: val, off: p, raw: next, soff: q, end: idx + 1, n: cnt, kind: kind})
			if isKey && kind != KindStr {
				// Integer map key: its decimal string lives in scratch.
				s := len(b.scratch)
				if kind == KindUint {
					b.scratch = strconv.AppendUint(b.scratch, num, 10)
				} else {
					b.scratch = strconv.AppendInt(b.scratch, int64(num), 10)
				}
				nd := &nodes[idx]
				nd.kind, nd.scr, nd.soff, nd.num = KindStr, true, s, uint64(len(b.scratch)-s)
			}
			if elems > 0 {
				st = append(st, frame{left: elems, node: idx, isMap: kind == KindMap})
			}
		} else if elems > 0 {
			st = append(st, frame{left: elems, isMap: kind == KindMap})
		}
		p = next
	}
}
