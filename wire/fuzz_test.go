package wire

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	seeds := []string{
		"94 ff 05 ff c0", "94 02 03 a1 6b a1 76", "81 aa 73 75 62 73 63 72 69 62 65 72 03",
		"cd 01 2c", "d0 df", "cb 3f f8 00 00 00 00 00 00", "db 80 00 00 00", "c6 80 00 00 00",
		"91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 91 c0", "81 05 01", "81 c0 01",
		"c1", "c7 01 00 00", "d4 00 00", "95 08 01 a2 74 7c a2 74 7d 81 05 ca 3f c0 00 00",
		"dd ff ff ff ff", "92 01 da 00 05 61 62", "93 01 02 c4 01 61 94 ff 05 ff c0 93 01",
	}
	for _, s := range seeds {
		f.Add(h(s), uint16(3))
	}
	f.Add(getBatch(8), uint16(77))
}

// FuzzDecoder: arbitrary bytes never panic; consumed <= len; every returned
// message re-encodes and decodes to an equal value; decoding in two pieces
// gives the same messages, bytes consumed and error presence as decoding
// at once.
func FuzzDecoder(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		d := &Decoder{MaxFrameBytes: 1 << 16, MaxDepth: 32}
		vs, n, err := d.Decode(data)
		if n < 0 || n > len(data) {
			t.Fatalf("consumed %d of %d", n, len(data))
		}
		var whole [][]byte
		for _, v := range vs {
			canon := AppendValue(nil, v)
			p, perr := Parse(canon)
			if perr != nil {
				t.Fatalf("re-decoding % x: %v", canon, perr)
			}
			if !Equal(p, v) || !Equal(v.Clone(), v) {
				t.Fatalf("round trip differs for % x", v.Raw())
			}
			if !bytes.Equal(AppendValue(nil, p), canon) {
				t.Fatal("canonical encoding not idempotent")
			}
			_, _ = ParseRequest(v)
			_ = v.String()
			whole = append(whole, canon)
		}
		if err == nil && n < len(data) && d.Need() <= len(data)-n {
			t.Fatalf("stopped at %d of %d but Need() = %d", n, len(data), d.Need())
		}

		k := int(split) % (len(data) + 1)
		d2 := &Decoder{MaxFrameBytes: 1 << 16, MaxDepth: 32}
		var parts [][]byte
		vs1, n1, err1 := d2.Decode(data[:k])
		for _, v := range vs1 {
			parts = append(parts, AppendValue(nil, v))
		}
		total, gotErr := n1, err1 != nil
		if err1 == nil {
			vs2, n2, err2 := d2.Decode(data[n1:])
			for _, v := range vs2 {
				parts = append(parts, AppendValue(nil, v))
			}
			total += n2
			gotErr = err2 != nil
		}
		if gotErr != (err != nil) {
			t.Fatalf("split at %d: error %v, whole: %v", k, gotErr, err)
		}
		if total != n {
			t.Fatalf("split at %d: consumed %d, whole %d", k, total, n)
		}
		if len(parts) != len(whole) {
			t.Fatalf("split at %d: %d messages, whole %d", k, len(parts), len(whole))
		}
		for i := range parts {
			if !bytes.Equal(parts[i], whole[i]) {
				t.Fatalf("split at %d: message %d differs", k, i)
			}
		}
	})
}

// gen builds a value from fuzz bytes: the Go value to encode with AppendAny
// and what Interface must return for it.
type gen struct{ b []byte }

func (g *gen) byte() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *gen) u64() uint64 {
	var x [8]byte
	n := copy(x[:], g.b)
	g.b = g.b[n:]
	return binary.BigEndian.Uint64(x[:])
}

func (g *gen) value(depth int) (in, out any) {
	c := g.byte()
	kind := c % 9
	if depth > 6 && kind >= 7 {
		kind = 0
	}
	switch kind {
	case 0:
		return nil, nil
	case 1:
		return c&0x10 != 0, c&0x10 != 0
	case 2:
		i := int64(g.u64()) >> (g.byte() % 64)
		return i, i
	case 3:
		u := g.u64() | 1<<63
		return u, u
	case 4:
		f := math.Float64frombits(g.u64())
		if math.IsNaN(f) {
			f = 0.5
		}
		return f, f
	case 5, 6:
		n := int(g.byte())
		if c&0x80 != 0 {
			n = n * 300 // str16/str32 sizes
		}
		s := make([]byte, n)
		copy(s, g.b)
		return string(s), string(s)
	case 7:
		n := int(g.byte() % 20)
		if c&0x80 != 0 {
			n += 10 // array16 sometimes
		}
		ins, outs := make([]any, n), make([]any, n)
		for i := range ins {
			ins[i], outs[i] = g.value(depth + 1)
		}
		return ins, outs
	default:
		n := int(g.byte() % 20)
		ins, outs := map[string]any{}, map[string]any{}
		for i := 0; i < n; i++ {
			key := string([]byte{g.byte(), 'k'})
			ins[key], outs[key] = g.value(depth + 1)
		}
		return ins, outs
	}
}

// FuzzRoundTrip: values built from fuzz bytes encode, decode to the same
// value, re-encode to the same bytes, and stream through the decoder split
// anywhere.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{}, uint16(0))
	f.Add([]byte{7, 3, 2, 1, 2, 3, 4, 5, 6, 7, 8, 0, 5, 4, 'a', 'b', 'c', 'd'}, uint16(5))
	f.Add([]byte{8, 2, 1, 2, 9, 4, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(9))
	f.Add([]byte{0x85, 200}, uint16(1000))
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		g := &gen{b: data}
		in, want := g.value(0)
		b, err := AppendAny(nil, in)
		if err != nil {
			t.Fatal(err)
		}
		v, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(% x): %v", b, err)
		}
		if got := v.Interface(); !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", got, want)
		}
		if re := AppendValue(nil, v); !bytes.Equal(re, b) {
			t.Fatalf("re-encoding differs:\n% x\n% x", re, b)
		}
		if !bytes.Equal(v.Raw(), b) {
			t.Fatal("Raw differs")
		}
		// Two copies back to back, split anywhere.
		stream := append(append([]byte(nil), b...), b...)
		k := int(split) % (len(stream) + 1)
		var d Decoder
		var got [][]byte
		vs, n1, err := d.Decode(stream[:k])
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range vs {
			got = append(got, AppendValue(nil, x))
		}
		vs, n2, err := d.Decode(stream[n1:])
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range vs {
			got = append(got, AppendValue(nil, x))
		}
		if n1+n2 != len(stream) || len(got) != 2 || !bytes.Equal(got[0], b) || !bytes.Equal(got[1], b) {
			t.Fatalf("streaming split at %d: %d messages, %d+%d bytes", k, len(got), n1, n2)
		}
	})
}
