package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// AppendJSON appends the JSON document doc as msgpack, keeping object key
// order (the stats object's field order is specified, joins.md §7). Integers
// stay integers; other numbers become float64.
func AppendJSON(dst, doc []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v orderedValue
	if err := dec.Decode(&v); err != nil {
		return dst, fmt.Errorf("stats to msgpack: %w", err)
	}
	return v.append(dst), nil
}

// orderedValue is a JSON value that remembers object key order.
type orderedValue struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys  []string
	elems []orderedValue
	str   string
	num   json.Number
	b     bool
}

func (v *orderedValue) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return v.read(dec)
}

func (v *orderedValue) read(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			v.kind = 'o'
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				var e orderedValue
				if err := e.read(dec); err != nil {
					return err
				}
				v.keys = append(v.keys, kt.(string))
				v.elems = append(v.elems, e)
			}
		case '[':
			v.kind = 'a'
			for dec.More() {
				var e orderedValue
				if err := e.read(dec); err != nil {
					return err
				}
				v.elems = append(v.elems, e)
			}
		}
		_, err = dec.Token() // closing delimiter
		return err
	case string:
		v.kind, v.str = 's', t
	case json.Number:
		v.kind, v.num = 'n', t
	case bool:
		v.kind, v.b = 'b', t
	default:
		v.kind = 'z'
	}
	return nil
}

func (v *orderedValue) append(dst []byte) []byte {
	switch v.kind {
	case 'o':
		dst = AppendMapHeader(dst, len(v.keys))
		for i, k := range v.keys {
			dst = AppendString(dst, k)
			dst = v.elems[i].append(dst)
		}
	case 'a':
		dst = AppendArrayHeader(dst, len(v.elems))
		for i := range v.elems {
			dst = v.elems[i].append(dst)
		}
	case 's':
		dst = AppendString(dst, v.str)
	case 'n':
		s := v.num.String()
		if !strings.ContainsAny(s, ".eE") {
			if n, err := v.num.Int64(); err == nil {
				return AppendInt(dst, n)
			}
		}
		f, _ := v.num.Float64()
		dst = AppendFloat64(dst, f)
	case 'b':
		dst = AppendBool(dst, v.b)
	default:
		dst = AppendNil(dst)
	}
	return dst
}
