package memcache

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Binary protocol magic bytes.
const (
	magicRequest  = 0x80
	magicResponse = 0x81
)

// HeaderSize is the size of a binary-protocol packet header.
const HeaderSize = 24

// Limits. memcached's default item size limit (-I) is 1 MiB and its key
// length limit is 250 bytes.
const (
	// DefaultMaxValueSize is the default largest value the client sends or
	// accepts (memcached's default -I 1m).
	DefaultMaxValueSize = 1 << 20
	// MaxKeyLen is the longest key memcached accepts.
	MaxKeyLen = 250
	// maxExtras is the largest extras section a header can describe.
	maxExtras = 255
)

// Opcode is a binary-protocol command.
type Opcode uint8

// Opcodes used by this client (memcached binary protocol).
const (
	OpGet       Opcode = 0x00
	OpSet       Opcode = 0x01
	OpAdd       Opcode = 0x02
	OpReplace   Opcode = 0x03
	OpDelete    Opcode = 0x04
	OpIncrement Opcode = 0x05
	OpDecrement Opcode = 0x06
	OpQuit      Opcode = 0x07
	OpFlush     Opcode = 0x08
	OpNoop      Opcode = 0x0a
	OpVersion   Opcode = 0x0b
	OpAppend    Opcode = 0x0e
	OpPrepend   Opcode = 0x0f
	OpStat      Opcode = 0x10
)

var opNames = map[Opcode]string{
	OpGet: "GET", OpSet: "SET", OpAdd: "ADD", OpReplace: "REPLACE",
	OpDelete: "DELETE", OpIncrement: "INCREMENT", OpDecrement: "DECREMENT",
	OpQuit: "QUIT", OpFlush: "FLUSH", OpNoop: "NOOP", OpVersion: "VERSION",
	OpAppend: "APPEND", OpPrepend: "PREPEND", OpStat: "STAT",
}

func (o Opcode) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("opcode(0x%02x)", uint8(o))
}

// Status is a response status.
type Status uint16

// Response statuses.
const (
	StatusOK             Status = 0x00
	StatusKeyNotFound    Status = 0x01
	StatusKeyExists      Status = 0x02
	StatusValueTooLarge  Status = 0x03
	StatusInvalidArgs    Status = 0x04
	StatusNotStored      Status = 0x05
	StatusNonNumeric     Status = 0x06
	StatusUnknownCommand Status = 0x81
	StatusOutOfMemory    Status = 0x82
)

var statusNames = map[Status]string{
	StatusOK: "OK", StatusKeyNotFound: "key not found", StatusKeyExists: "key exists",
	StatusValueTooLarge: "value too large", StatusInvalidArgs: "invalid arguments",
	StatusNotStored: "item not stored", StatusNonNumeric: "incr/decr on non-numeric value",
	StatusUnknownCommand: "unknown command", StatusOutOfMemory: "out of memory",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("status(0x%04x)", uint16(s))
}

// Errors. A non-success status is reported as a *StatusError, which matches
// ErrNotFound, ErrExists, ErrNotStored and ErrValueTooLarge with errors.Is.
var (
	// ErrClosed is the error of calls made on, or outstanding at, a closed
	// Client.
	ErrClosed = errors.New("memcache: client closed")
	// ErrProtocol wraps malformed responses (the connection is then closed).
	ErrProtocol = errors.New("memcache: protocol error")
	// ErrNotFound matches a StatusKeyNotFound response.
	ErrNotFound = errors.New("memcache: key not found")
	// ErrExists matches a StatusKeyExists response.
	ErrExists = errors.New("memcache: key exists")
	// ErrNotStored matches a StatusNotStored response.
	ErrNotStored = errors.New("memcache: item not stored")
	// ErrKeyTooLong is the error of a request whose key exceeds MaxKeyLen.
	ErrKeyTooLong = errors.New("memcache: key too long")
	// ErrValueTooLarge is the error of a request whose value exceeds the
	// client's MaxValueSize, and matches a StatusValueTooLarge response and
	// a creating APPEND the server refuses for the item's size.
	ErrValueTooLarge = errors.New("memcache: value too large")
)

// StatusError is a non-success response.
type StatusError struct {
	Op     Opcode
	Status Status
	// Message is the response body (memcached sends a short text).
	Message string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("memcache: %s: %s", e.Op, e.Status)
	if e.Message != "" && e.Message != e.Status.String() {
		s += " (" + e.Message + ")"
	}
	return s
}

// Is matches the sentinel errors for the corresponding statuses.
func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == StatusKeyNotFound
	case ErrExists:
		return e.Status == StatusKeyExists
	case ErrNotStored:
		return e.Status == StatusNotStored
	case ErrValueTooLarge:
		return e.Status == StatusValueTooLarge
	}
	return false
}

// ConnError is the error of every call outstanding when the connection
// failed.
type ConnError struct{ Err error }

func (e *ConnError) Error() string { return "memcache: connection lost: " + e.Err.Error() }
func (e *ConnError) Unwrap() error { return e.Err }

// Header is a binary-protocol response header.
type Header struct {
	Opcode    Opcode
	KeyLen    uint16
	ExtrasLen uint8
	DataType  uint8
	Status    Status
	BodyLen   uint32
	Opaque    uint32
	CAS       uint64
}

// ParseHeader decodes a response header from the first HeaderSize bytes of
// b and checks it: the response magic, extras and key within the body, and
// a body of at most maxBody bytes.
func ParseHeader(b []byte, maxBody int) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: short header (%d bytes)", ErrProtocol, len(b))
	}
	if b[0] != magicResponse {
		return Header{}, fmt.Errorf("%w: bad magic 0x%02x", ErrProtocol, b[0])
	}
	h := Header{
		Opcode:    Opcode(b[1]),
		KeyLen:    binary.BigEndian.Uint16(b[2:]),
		ExtrasLen: b[4],
		DataType:  b[5],
		Status:    Status(binary.BigEndian.Uint16(b[6:])),
		BodyLen:   binary.BigEndian.Uint32(b[8:]),
		Opaque:    binary.BigEndian.Uint32(b[12:]),
		CAS:       binary.BigEndian.Uint64(b[16:]),
	}
	if uint64(h.BodyLen) > uint64(maxBody) {
		return h, fmt.Errorf("%w: body of %d bytes exceeds the limit of %d", ErrProtocol, h.BodyLen, maxBody)
	}
	if uint64(h.KeyLen)+uint64(h.ExtrasLen) > uint64(h.BodyLen) {
		return h, fmt.Errorf("%w: key (%d) and extras (%d) exceed the body (%d)", ErrProtocol, h.KeyLen, h.ExtrasLen, h.BodyLen)
	}
	return h, nil
}

// Packet is a decoded response: its header and the sections of its body.
type Packet struct {
	Header
	Extras, Key, Value []byte
}

// ErrShort is returned by DecodeResponse when b holds only part of a
// packet.
var ErrShort = errors.New("memcache: incomplete packet")

// DecodeResponse decodes the response packet at the start of b and returns
// it with the number of bytes it occupies. The packet's sections alias b. It
// returns ErrShort when b ends before the packet does, and an error wrapping
// ErrProtocol when the packet is malformed.
func DecodeResponse(b []byte, maxBody int) (Packet, int, error) {
	p, n, _, err := decodeResponse(b, maxBody)
	if err == nil && n == 0 {
		return p, 0, ErrShort
	}
	return p, n, err
}

// decodeResponse is DecodeResponse for the reader: when b ends before the
// packet does, it returns n = 0 and the packet's length as far as b shows
// it (the header's size, or the whole packet's once the header is there).
func decodeResponse(b []byte, maxBody int) (p Packet, n, need int, err error) {
	if len(b) < HeaderSize {
		return p, 0, HeaderSize, nil
	}
	h, err := ParseHeader(b, maxBody)
	if err != nil {
		return p, 0, 0, err
	}
	n = HeaderSize + int(h.BodyLen)
	if len(b) < n {
		return p, 0, n, nil
	}
	return splitBody(h, b[HeaderSize:n]), n, 0, nil
}

// splitBody cuts a checked body into extras, key and value.
func splitBody(h Header, body []byte) Packet {
	e, k := int(h.ExtrasLen), int(h.KeyLen)
	return Packet{
		Header: h,
		Extras: body[:e:e],
		Key:    body[e : e+k : e+k],
		Value:  body[e+k:],
	}
}

// appendRequest appends a request packet.
func appendRequest(dst []byte, op Opcode, opaque uint32, extras, key, value []byte) []byte {
	var h [HeaderSize]byte
	h[0] = magicRequest
	h[1] = byte(op)
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint32(h[8:], uint32(len(extras)+len(key)+len(value)))
	binary.BigEndian.PutUint32(h[12:], opaque)
	dst = append(dst, h[:]...)
	dst = append(dst, extras...)
	dst = append(dst, key...)
	return append(dst, value...)
}
