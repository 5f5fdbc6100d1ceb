package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
)

// The encoder emits exactly what the C++ encoder emits (spec/server.md §1.1):
// the smallest integer encoding (unsigned family for values >= 0, signed
// family for values < 0), float64 for every floating-point number, the str
// family for every byte string (never bin), and the smallest array and map
// headers. All encoders append to dst and return the extended slice; none
// allocates unless dst has to grow.

// AppendNil appends msgpack nil (0xc0).
func AppendNil(dst []byte) []byte { return append(dst, 0xc0) }

// AppendBool appends msgpack false (0xc2) or true (0xc3).
func AppendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 0xc3)
	}
	return append(dst, 0xc2)
}

// AppendInt appends i in its smallest encoding. Non-negative values use
// positive fixint, uint8 (cc), uint16 (cd), uint32 (ce) or uint64 (cf);
// negative values use negative fixint, int8 (d0), int16 (d1), int32 (d2) or
// int64 (d3). Examples: 300 -> cd 01 2c, -33 -> d0 df, -1 -> ff.
func AppendInt(dst []byte, i int64) []byte {
	if i >= 0 {
		return AppendUint(dst, uint64(i))
	}
	switch {
	case i >= -32:
		return append(dst, byte(i))
	case i >= math.MinInt8:
		return append(dst, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, 0xd2), uint32(i))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xd3), uint64(i))
	}
}

// AppendUint appends u in its smallest unsigned encoding: positive fixint,
// cc, cd, ce or cf.
func AppendUint(dst []byte, u uint64) []byte {
	switch {
	case u <= 0x7f:
		return append(dst, byte(u))
	case u <= math.MaxUint8:
		return append(dst, 0xcc, byte(u))
	case u <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xcd), uint16(u))
	case u <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xce), uint32(u))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 0xcf), u)
	}
}

// AppendFloat64 appends f as msgpack float64 (cb + 8 bytes big-endian); the
// C++ encoder never emits float32. Example: 1.5 -> cb 3f f8 00 00 00 00 00 00.
func AppendFloat64(dst []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, 0xcb), math.Float64bits(f))
}

// appendStrHeader appends the header of a str of n bytes: fixstr (n < 32),
// str8 d9 (n < 256), str16 da, str32 db. It panics if n does not fit in 32
// bits (msgpack cannot represent it).
func appendStrHeader(dst []byte, n int) []byte {
	switch {
	case n < 32:
		return append(dst, 0xa0|byte(n))
	case n <= math.MaxUint8:
		return append(dst, 0xd9, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	case uint64(n) <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	default:
		panic(fmt.Sprintf("wire: string of %d bytes cannot be encoded", n))
	}
}

// AppendStr appends s as a msgpack str (never bin). s may hold any bytes,
// including NUL and invalid UTF-8. Example: a 40-byte string starts d9 28.
func AppendStr(dst []byte, s []byte) []byte {
	return append(appendStrHeader(dst, len(s)), s...)
}

// AppendString is AppendStr for a Go string.
func AppendString(dst []byte, s string) []byte {
	return append(appendStrHeader(dst, len(s)), s...)
}

// AppendArrayHeader appends the header of an array of n elements: fixarray
// (n < 16), array16 dc, array32 dd. The caller then appends n values.
func AppendArrayHeader(dst []byte, n int) []byte {
	switch {
	case n < 0:
		panic("wire: negative array length")
	case n < 16:
		return append(dst, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xdc), uint16(n))
	case uint64(n) <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xdd), uint32(n))
	default:
		panic(fmt.Sprintf("wire: array of %d elements cannot be encoded", n))
	}
}

// AppendMapHeader appends the header of a map of n key/value pairs: fixmap
// (n < 16), map16 de, map32 df. The caller then appends 2n values, keys as
// strings (AppendString), e.g. {"subscriber":3} is
// 81 aa 73 75 62 73 63 72 69 62 65 72 03.
func AppendMapHeader(dst []byte, n int) []byte {
	switch {
	case n < 0:
		panic("wire: negative map length")
	case n < 16:
		return append(dst, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, 0xde), uint16(n))
	case uint64(n) <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, 0xdf), uint32(n))
	default:
		panic(fmt.Sprintf("wire: map of %d pairs cannot be encoded", n))
	}
}

// AppendValue appends the canonical encoding of a decoded value: the value is
// re-encoded with the rules above (so bin becomes str, float32 becomes
// float64, integer map keys become their decimal strings, and integers get
// their smallest encoding). A zero Value encodes as nil.
func AppendValue(dst []byte, v Value) []byte {
	if v.b == nil {
		return AppendNil(dst)
	}
	// Iterative pre-order walk over the node range of v: nodes of a subtree
	// are contiguous and already in encoding order.
	nodes := v.b.nodes
	end := nodes[v.i].end
	for i := v.i; i < end; i++ {
		n := &nodes[i]
		switch n.kind {
		case KindNil:
			dst = AppendNil(dst)
		case KindBool:
			dst = AppendBool(dst, n.num != 0)
		case KindInt:
			dst = AppendInt(dst, int64(n.num))
		case KindUint:
			dst = AppendUint(dst, n.num)
		case KindFloat:
			dst = AppendFloat64(dst, math.Float64frombits(n.num))
		case KindStr:
			dst = AppendStr(dst, v.b.str(n))
		case KindArray:
			dst = AppendArrayHeader(dst, int(n.n))
		case KindMap:
			dst = AppendMapHeader(dst, int(n.n))
		}
	}
	return dst
}

// AppendAny appends a Go value built from the usual dynamic types, for
// generic requests such as control objects. Supported: nil, bool, every
// integer type, float32, float64, string, []byte (as str), Value, []any,
// []string, [][]byte, map[string]any, map[string]string, map[string]int,
// map[string]int64, map[string]bool, and any other slice or string-keyed map
// through reflection. Map keys are written in sorted order so the output is
// deterministic.
func AppendAny(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return AppendNil(dst), nil
	case bool:
		return AppendBool(dst, x), nil
	case int:
		return AppendInt(dst, int64(x)), nil
	case int8:
		return AppendInt(dst, int64(x)), nil
	case int16:
		return AppendInt(dst, int64(x)), nil
	case int32:
		return AppendInt(dst, int64(x)), nil
	case int64:
		return AppendInt(dst, x), nil
	case uint:
		return AppendUint(dst, uint64(x)), nil
	case uint8:
		return AppendUint(dst, uint64(x)), nil
	case uint16:
		return AppendUint(dst, uint64(x)), nil
	case uint32:
		return AppendUint(dst, uint64(x)), nil
	case uint64:
		return AppendUint(dst, x), nil
	case float32:
		return AppendFloat64(dst, float64(x)), nil
	case float64:
		return AppendFloat64(dst, x), nil
	case string:
		return AppendString(dst, x), nil
	case []byte:
		return AppendStr(dst, x), nil
	case Value:
		return AppendValue(dst, x), nil
	case []any:
		dst = AppendArrayHeader(dst, len(x))
		for _, e := range x {
			var err error
			if dst, err = AppendAny(dst, e); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case []string:
		dst = AppendArrayHeader(dst, len(x))
		for _, e := range x {
			dst = AppendString(dst, e)
		}
		return dst, nil
	case map[string]any:
		keys := sortedKeys(x)
		dst = AppendMapHeader(dst, len(keys))
		for _, k := range keys {
			dst = AppendString(dst, k)
			var err error
			if dst, err = AppendAny(dst, x[k]); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return appendReflect(dst, reflect.ValueOf(v))
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendReflect(dst []byte, rv reflect.Value) ([]byte, error) {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return AppendNil(dst), nil
		}
		return AppendAny(dst, rv.Elem().Interface())
	case reflect.Bool:
		return AppendBool(dst, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return AppendInt(dst, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return AppendUint(dst, rv.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return AppendFloat64(dst, rv.Float()), nil
	case reflect.String:
		return AppendString(dst, rv.String()), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return AppendStr(dst, rv.Bytes()), nil
		}
		dst = AppendArrayHeader(dst, rv.Len())
		for i := 0; i < rv.Len(); i++ {
			var err error
			if dst, err = AppendAny(dst, rv.Index(i).Interface()); err != nil {
				return dst, err
			}
		}
		return dst, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return dst, fmt.Errorf("wire: cannot encode map with %s keys", rv.Type().Key())
		}
		keys := make([]string, 0, rv.Len())
		for _, k := range rv.MapKeys() {
			keys = append(keys, k.String())
		}
		slices.Sort(keys)
		dst = AppendMapHeader(dst, len(keys))
		for _, k := range keys {
			dst = AppendString(dst, k)
			var err error
			kv := reflect.ValueOf(k).Convert(rv.Type().Key())
			if dst, err = AppendAny(dst, rv.MapIndex(kv).Interface()); err != nil {
				return dst, err
			}
		}
		return dst, nil
	}
	return dst, fmt.Errorf("wire: cannot encode %s", strings.TrimSpace(rv.Type().String()))
}
