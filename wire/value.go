package wire

import (
	"bytes"
	"iter"
	"math"
	"strconv"
	"unicode/utf8"
)

// Kind is the type of a decoded msgpack value.
type Kind uint8

// The kinds of decoded values. Every integer format decodes to KindInt,
// except uint64 values above math.MaxInt64, which decode to KindUint; float32
// and float64 decode to KindFloat; str and bin decode to KindStr.
const (
	KindNil Kind = iota
	KindBool
	KindInt
	KindUint
	KindFloat
	KindStr
	KindArray
	KindMap
)

var kindNames = [...]string{"nil", "bool", "int", "uint", "float", "str", "array", "map"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// node is one decoded value. The nodes of a message are stored in pre-order
// in one slice, so a value's subtree is the contiguous range [i, end). Nodes
// hold offsets, not pointers, which keeps the node slice out of the garbage
// collector's way.
type node struct {
	num  uint64 // bool (0/1), int64 bits, uint64, float64 bits; length of a scratch string
	off  int    // start of the raw encoding in batch.buf
	raw  int    // end of the raw encoding (of the whole subtree for containers)
	soff int    // start of the string payload (in buf, or in scratch if scr)
	end  int    // index of the first node after this subtree
	n    uint32 // array elements or map pairs
	kind Kind
	scr  bool // string payload lives in batch.scratch (integer map key)
}

// batch is the storage behind a set of decoded values: the input bytes, the
// node slice and a scratch area for integer map keys converted to decimal.
type batch struct {
	buf     []byte
	nodes   []node
	scratch []byte
}

func (b *batch) str(n *node) []byte {
	if n.scr {
		e := n.soff + int(n.num)
		return b.scratch[n.soff:e:e]
	}
	return b.buf[n.soff:n.raw:n.raw]
}

// Value is a handle on a decoded msgpack value. It is small (a pointer and an
// index) and is passed by value. Values returned by a Decoder reference the
// decoder's storage and the input buffer: they are valid only until the next
// call of Decode or Reset on that decoder, and only while the input buffer is
// unchanged. Use Clone to keep a value longer.
//
// The zero Value reads as nil; it is what Index and Get return for missing
// elements (spec/server.md §1.5 rule 6: missing optional elements read as
// null).
type Value struct {
	b *batch
	i int
}

func (v Value) node() *node { return &v.b.nodes[v.i] }

// Kind returns the kind of v (KindNil for the zero Value).
func (v Value) Kind() Kind {
	if v.b == nil {
		return KindNil
	}
	return v.node().kind
}

// Exists reports whether v is a decoded value rather than the zero Value that
// stands for a missing element.
func (v Value) Exists() bool { return v.b != nil }

// IsNil reports whether v is nil or missing.
func (v Value) IsNil() bool { return v.Kind() == KindNil }

// IsInteger reports whether v is an integer of any msgpack format.
func (v Value) IsInteger() bool { k := v.Kind(); return k == KindInt || k == KindUint }

// IsStr reports whether v is a byte string (msgpack str or bin).
func (v Value) IsStr() bool { return v.Kind() == KindStr }

// IsArray reports whether v is an array.
func (v Value) IsArray() bool { return v.Kind() == KindArray }

// IsMap reports whether v is a map.
func (v Value) IsMap() bool { return v.Kind() == KindMap }

// Bool returns v's boolean value, or false if v is not a bool.
func (v Value) Bool() bool { return v.Kind() == KindBool && v.node().num != 0 }

// Int returns v as an int64. ok is true for KindInt. For KindUint (a uint64
// above math.MaxInt64) it returns the two's-complement conversion and
// ok=false; for other kinds it returns 0, false.
func (v Value) Int() (i int64, ok bool) {
	switch v.Kind() {
	case KindInt:
		return int64(v.node().num), true
	case KindUint:
		return int64(v.node().num), false
	}
	return 0, false
}

// Uint returns v as a uint64; ok is true for KindUint and for non-negative
// KindInt values.
func (v Value) Uint() (u uint64, ok bool) {
	switch v.Kind() {
	case KindInt:
		n := int64(v.node().num)
		return uint64(n), n >= 0
	case KindUint:
		return v.node().num, true
	}
	return 0, false
}

// Float returns v as a float64; ok is true for KindFloat. Integers are
// converted (ok=true as well); other kinds give 0, false.
func (v Value) Float() (f float64, ok bool) {
	switch v.Kind() {
	case KindFloat:
		return math.Float64frombits(v.node().num), true
	case KindInt:
		return float64(int64(v.node().num)), true
	case KindUint:
		return float64(v.node().num), true
	}
	return 0, false
}

// Bytes returns the bytes of a string value (str or bin), or nil for other
// kinds. The slice references the decoder's input (or scratch area) and has
// its capacity clipped, so appending to it never overwrites the input.
func (v Value) Bytes() []byte {
	if v.Kind() != KindStr {
		return nil
	}
	return v.b.str(v.node())
}

// Str returns a copy of v's string bytes as a Go string ("" if v is not a
// string). It allocates; prefer Bytes on hot paths.
func (v Value) Str() string { return string(v.Bytes()) }

// Len returns the number of elements of an array, the number of pairs of a
// map, the length of a string, and 0 otherwise.
func (v Value) Len() int {
	switch v.Kind() {
	case KindArray, KindMap:
		return int(v.node().n)
	case KindStr:
		return len(v.Bytes())
	}
	return 0
}

// Raw returns the exact bytes v was decoded from (for containers, the whole
// encoded subtree). This is how a server echoes a request's seq element
// byte-for-byte. For a map key converted from an integer it is the
// integer's original encoding. It returns nil for the zero Value.
func (v Value) Raw() []byte {
	if v.b == nil {
		return nil
	}
	n := v.node()
	return v.b.buf[n.off:n.raw:n.raw]
}

// Index returns element i of an array (the zero Value if v is not an array or
// i is out of range). It walks the elements before i, so it costs O(i)
// node hops; use All for iteration.
func (v Value) Index(i int) Value {
	if v.Kind() != KindArray || i < 0 || i >= int(v.node().n) {
		return Value{}
	}
	j := v.i + 1
	for ; i > 0; i-- {
		j = v.b.nodes[j].end
	}
	return Value{v.b, j}
}

// All iterates over the elements of an array (nothing for other kinds).
func (v Value) All() iter.Seq2[int, Value] {
	return func(yield func(int, Value) bool) {
		if v.Kind() != KindArray {
			return
		}
		n := int(v.node().n)
		j := v.i + 1
		for k := 0; k < n; k++ {
			if !yield(k, Value{v.b, j}) {
				return
			}
			j = v.b.nodes[j].end
		}
	}
}

// Pairs iterates over the key/value pairs of a map in encoding order (nothing
// for other kinds). Keys are always KindStr (integer keys were converted to
// decimal by the decoder).
func (v Value) Pairs() iter.Seq2[Value, Value] {
	return func(yield func(Value, Value) bool) {
		if v.Kind() != KindMap {
			return
		}
		n := int(v.node().n)
		j := v.i + 1
		for k := 0; k < n; k++ {
			key := Value{v.b, j}
			j = v.b.nodes[j].end
			val := Value{v.b, j}
			j = v.b.nodes[j].end
			if !yield(key, val) {
				return
			}
		}
	}
}

// Get returns the value stored under key in a map, and whether it was found.
// If a key occurs several times the last occurrence wins (as when the C++
// code builds a Json object). It returns the zero Value, false if v is not a
// map.
func (v Value) Get(key string) (Value, bool) {
	if v.Kind() != KindMap {
		return Value{}, false
	}
	var found Value
	ok := false
	n := int(v.node().n)
	j := v.i + 1
	for k := 0; k < n; k++ {
		kn := &v.b.nodes[j]
		j = kn.end
		if string(v.b.str(kn)) == key {
			found, ok = Value{v.b, j}, true
		}
		j = v.b.nodes[j].end
	}
	return found, ok
}

// Truthy reports whether v is set in the JavaScript sense used by control
// objects (spec/server.md §1.7): nil, missing, false, 0, 0.0 and "" are
// falsy; everything else (including empty arrays and maps) is truthy.
func (v Value) Truthy() bool {
	switch v.Kind() {
	case KindNil:
		return false
	case KindBool, KindInt, KindUint:
		return v.node().num != 0
	case KindFloat:
		f := math.Float64frombits(v.node().num)
		return f != 0 && !math.IsNaN(f)
	case KindStr:
		return v.Len() != 0
	}
	return true
}

// Clone returns a deep copy of v that owns its storage and stays valid
// forever. It allocates.
func (v Value) Clone() Value {
	if v.b == nil {
		return Value{}
	}
	b := new(batch)
	return cloneInto(b, v)
}

// cloneInto copies v into b (resetting b, reusing its storage) and returns
// the copy's root.
func cloneInto(b *batch, v Value) Value {
	src := v.b
	first := &src.nodes[v.i]
	off := first.off
	b.buf = append(b.buf[:0], src.buf[off:first.raw]...)
	b.nodes = append(b.nodes[:0], src.nodes[v.i:first.end]...)
	b.scratch = b.scratch[:0]
	shift := v.i
	for k := range b.nodes {
		n := &b.nodes[k]
		n.off -= off
		n.raw -= off
		n.end -= shift
		if n.scr {
			s := src.scratch[n.soff : n.soff+int(n.num)]
			n.soff = len(b.scratch)
			b.scratch = append(b.scratch, s...)
		} else {
			n.soff -= off
		}
	}
	return Value{b, 0}
}

// Equal reports whether a and b are the same value: same kind and contents,
// with map pairs compared in order. Floats compare by bit pattern (so NaN
// equals the same NaN). Raw encodings are not compared.
func Equal(a, b Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	if a.b == nil || b.b == nil {
		return a.b == b.b || (a.Kind() == KindNil)
	}
	na, nb := a.node(), b.node()
	if na.end-a.i != nb.end-b.i {
		return false
	}
	for k := 0; k < na.end-a.i; k++ {
		x, y := &a.b.nodes[a.i+k], &b.b.nodes[b.i+k]
		if x.kind != y.kind {
			return false
		}
		switch x.kind {
		case KindBool, KindInt, KindUint, KindFloat:
			if x.num != y.num {
				return false
			}
		case KindStr:
			if !bytes.Equal(a.b.str(x), b.b.str(y)) {
				return false
			}
		case KindArray, KindMap:
			if x.n != y.n {
				return false
			}
		}
	}
	return true
}

// Interface converts v to plain Go values: nil, bool, int64, uint64,
// float64, string, []any and map[string]any (later duplicate keys win). It
// allocates and is meant for tests, tools and logs.
func (v Value) Interface() any {
	switch v.Kind() {
	case KindNil:
		return nil
	case KindBool:
		return v.Bool()
	case KindInt:
		i, _ := v.Int()
		return i
	case KindUint:
		u, _ := v.Uint()
		return u
	case KindFloat:
		f, _ := v.Float()
		return f
	case KindStr:
		return v.Str()
	case KindArray:
		out := make([]any, 0, v.Len())
		for _, e := range v.All() {
			out = append(out, e.Interface())
		}
		return out
	default:
		out := make(map[string]any, v.Len())
		for k, e := range v.Pairs() {
			out[k.Str()] = e.Interface()
		}
		return out
	}
}

// MarshalJSON renders v as JSON (strings with invalid UTF-8 get U+FFFD
// substituted, NaN and infinities become null). Stats and control replies
// can thus be printed with encoding/json.
func (v Value) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil), nil }

// String renders v as compact JSON, for logs such as "bad rpc: <message>".
func (v Value) String() string { return string(v.AppendJSON(nil)) }

// AppendJSON appends the JSON rendering of v to dst.
func (v Value) AppendJSON(dst []byte) []byte {
	switch v.Kind() {
	case KindNil:
		return append(dst, "null"...)
	case KindBool:
		return strconv.AppendBool(dst, v.Bool())
	case KindInt:
		i, _ := v.Int()
		return strconv.AppendInt(dst, i, 10)
	case KindUint:
		u, _ := v.Uint()
		return strconv.AppendUint(dst, u, 10)
	case KindFloat:
		f, _ := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case KindStr:
		return appendJSONString(dst, v.Bytes())
	case KindArray:
		dst = append(dst, '[')
		for k, e := range v.All() {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendJSON(dst)
		}
		return append(dst, ']')
	default:
		dst = append(dst, '{')
		first := true
		for k, e := range v.Pairs() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, k.Bytes())
			dst = append(dst, ':')
			dst = e.AppendJSON(dst)
		}
		return append(dst, '}')
	}
}

func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

// Parse decodes exactly one complete msgpack value from b using the default
// limits and returns an owned copy (it allocates; b may be reused afterwards).
// Trailing bytes after the value are an error.
func Parse(b []byte) (Value, error) {
	var d Decoder
	d.maxMsgs = 1
	msgs, n, err := d.Decode(b)
	if err != nil {
		return Value{}, err
	}
	if len(msgs) == 0 {
		return Value{}, &DecodeError{Offset: len(b), Err: ErrTruncated, Detail: "incomplete value"}
	}
	if n != len(b) {
		return Value{}, &DecodeError{Offset: n, Err: ErrTrailing, Detail: "trailing bytes after value"}
	}
	return msgs[0].Clone(), nil
}

// MustParse is Parse that panics on error; for tests and constants.
func MustParse(b []byte) Value {
	v, err := Parse(b)
	if err != nil {
		panic(err)
	}
	return v
}
