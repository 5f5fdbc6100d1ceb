package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// enc encodes a Go value with AppendAny or fails the test.
func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := AppendAny(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeAll decodes buf in one call and returns canonical encodings of the
// messages (so they survive the next Decode call).
func decodeAll(d *Decoder, buf []byte) (msgs [][]byte, consumed int, err error) {
	vs, n, err := d.Decode(buf)
	for _, v := range vs {
		msgs = append(msgs, AppendValue(nil, v))
	}
	return msgs, n, err
}

func TestDecodeFormats(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"c0", nil},
		{"c2", false},
		{"c3", true},
		{"00", int64(0)},
		{"7f", int64(127)},
		{"ff", int64(-1)},
		{"e0", int64(-32)},
		{"cc ff", int64(255)},
		{"cd 01 2c", int64(300)},
		{"ce ff ff ff ff", int64(math.MaxUint32)},
		{"cf 7f ff ff ff ff ff ff ff", int64(math.MaxInt64)},
		{"cf ff ff ff ff ff ff ff ff", uint64(math.MaxUint64)},
		{"d0 df", int64(-33)},
		{"d0 05", int64(5)},
		{"d1 80 00", int64(-32768)},
		{"d2 80 00 00 00", int64(math.MinInt32)},
		{"d3 80 00 00 00 00 00 00 00", int64(math.MinInt64)},
		{"ca 3f c0 00 00", 1.5},
		{"cb 3f f8 00 00 00 00 00 00", 1.5},
		{"a0", ""},
		{"a3 61 00 ff", "a\x00\xff"},
		{"d9 01 61", "a"},
		{"da 00 01 61", "a"},
		{"db 00 00 00 01 61", "a"},
		{"c4 01 61", "a"},
		{"c5 00 01 61", "a"},
		{"c6 00 00 00 01 61", "a"},
		{"90", []any{}},
		{"dc 00 01 01", []any{int64(1)}},
		{"dd 00 00 00 01 01", []any{int64(1)}},
		{"80", map[string]any{}},
		{"81 a1 61 01", map[string]any{"a": int64(1)}},
		{"81 05 01", map[string]any{"5": int64(1)}},
		{"81 ff 01", map[string]any{"-1": int64(1)}},
		{"81 cf ff ff ff ff ff ff ff ff 01", map[string]any{"18446744073709551615": int64(1)}},
		{"81 c4 01 62 01", map[string]any{"b": int64(1)}},
		{"de 00 01 a1 61 c0", map[string]any{"a": nil}},
		{"df 00 00 00 01 a1 61 c0", map[string]any{"a": nil}},
		{"92 91 90 81 a0 80", []any{[]any{[]any{}}, map[string]any{"": map[string]any{}}}},
	}
	for _, c := range cases {
		in := h(c.in)
		v, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%s): %v", c.in, err)
			continue
		}
		if got := v.Interface(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%s) = %#v, want %#v", c.in, got, c.want)
		}
		if !bytes.Equal(v.Raw(), in) {
			t.Errorf("Parse(%s).Raw() = % x", c.in, v.Raw())
		}
	}
}

func TestValueAccessors(t *testing.T) {
	in := enc(t, []any{int64(6), "seq", "t|a", "t|b", map[string]any{"subscriber": 7, "x": "y"}})
	v := MustParse(in)
	if v.Kind() != KindArray || v.Len() != 5 {
		t.Fatalf("kind %s len %d", v.Kind(), v.Len())
	}
	if i, ok := v.Index(0).Int(); !ok || i != 6 {
		t.Fatalf("Index(0) = %d %v", i, ok)
	}
	if s := v.Index(2).Str(); s != "t|a" {
		t.Fatalf("Index(2) = %q", s)
	}
	if v.Index(5).Exists() || !v.Index(5).IsNil() || v.Index(-1).Exists() {
		t.Fatal("out of range index exists")
	}
	m := v.Index(4)
	if s, ok := m.Get("subscriber"); !ok || !s.IsInteger() {
		t.Fatal("subscriber missing")
	}
	if _, ok := m.Get("nope"); ok {
		t.Fatal("found missing key")
	}
	if got := v.String(); got != `[6,"seq","t|a","t|b",{"subscriber":7,"x":"y"}]` {
		t.Fatalf("String = %s", got)
	}
	// Raw of the seq element.
	if !bytes.Equal(v.Index(1).Raw(), h("a3 73 65 71")) {
		t.Fatalf("Raw = % x", v.Index(1).Raw())
	}
	// Bytes is capacity-clipped: appending must not clobber the input.
	bs := v.Index(2).Bytes()
	_ = append(bs, 'X')
	if v.Index(3).Str() != "t|b" {
		t.Fatal("append to Bytes overwrote the input")
	}
	// Truthiness per §1.7.
	truthy := map[string]bool{"c0": false, "c2": false, "00": false, "a0": false,
		"cb 00 00 00 00 00 00 00 00": false, "c3": true, "01": true, "a1 30": true, "90": true, "80": true}
	for in, want := range truthy {
		if got := MustParse(h(in)).Truthy(); got != want {
			t.Errorf("Truthy(%s) = %v", in, got)
		}
	}
	// Duplicate map keys: last wins.
	if x, _ := MustParse(h("82 a1 61 01 a1 61 02")).Get("a"); func() int64 { i, _ := x.Int(); return i }() != 2 {
		t.Fatal("duplicate key: last does not win")
	}
	// JSON of awkward strings.
	if got := MustParse(h("a4 22 0a ff c3")).String(); got != `"\"\n\ufffd\ufffd"` {
		t.Fatalf("JSON = %s", got)
	}
}

// A pipelined stream of requests of many shapes, including long strings and
// containers that cross every header width.
func testStream(t testing.TB, bigLen int) []byte {
	var buf []byte
	for i := 0; i < 40; i++ {
		buf = AppendString(AppendRequestHeader(buf, CmdGet, uint64(i), 1), fmt.Sprintf("t|%08d", i))
		buf = AppendString(AppendString(AppendRequestHeader(buf, CmdInsert, uint64(i)+1000, 2), "p|x"), strings.Repeat("v", i*7))
	}
	buf = append(buf, enc(t, []any{7, 99, "t|", "t}", strings.Repeat("z", bigLen)})...)
	big := make([]any, 20)
	for i := range big {
		big[i] = []any{i, map[string]any{"k": strings.Repeat("q", i)}, nil, true, -1.25}
	}
	buf = append(buf, enc(t, []any{13, 5, map[string]any{"get_log": true, "nested": big}})...)
	buf = append(buf, h("95 0b cd 00 07 a3 74 7c 61 a3 74 7c 62 81 05 ca 3f c0 00 00")...)
	buf = append(buf, enc(t, []any{12, uint64(math.MaxUint64)})...)
	return buf
}

func TestStreamingEveryBoundary(t *testing.T) {
	buf := testStream(t, 3000)
	var d Decoder
	want, n, err := decodeAll(&d, buf)
	if err != nil || n != len(buf) {
		t.Fatalf("whole decode: n=%d/%d err=%v", n, len(buf), err)
	}
	if len(want) != 84 {
		t.Fatalf("decoded %d messages, want 84", len(want))
	}
	for k := 0; k <= len(buf); k++ {
		d.Reset()
		got, n1, err := decodeAll(&d, buf[:k])
		if err != nil {
			t.Fatalf("split %d: first part: %v", k, err)
		}
		rest := buf[n1:]
		if need := d.Need(); n1 < k && (need <= 0 || need > len(rest)) {
			t.Fatalf("split %d: Need() = %d, tail %d, rest %d", k, need, k-n1, len(rest))
		}
		more, n2, err := decodeAll(&d, rest)
		if err != nil {
			t.Fatalf("split %d: second part: %v", k, err)
		}
		if n1+n2 != len(buf) {
			t.Fatalf("split %d: consumed %d+%d of %d", k, n1, n2, len(buf))
		}
		got = append(got, more...)
		if len(got) != len(want) {
			t.Fatalf("split %d: %d messages, want %d", k, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("split %d: message %d differs", k, i)
			}
		}
	}
}

// Feeding random small chunks (the partial tail carried over and moved in
// memory every time) gives the same messages.
func TestStreamingRandomChunks(t *testing.T) {
	buf := testStream(t, 70000) // includes a str32
	var d Decoder
	want, _, _ := decodeAll(&d, buf)
	rng := rand.New(rand.NewSource(1))
	for trial := 0; trial < 200; trial++ {
		d.Reset()
		var got [][]byte
		var pending []byte
		for off := 0; off < len(buf); {
			step := 1 + rng.Intn(1+rng.Intn(3000))
			if off+step > len(buf) {
				step = len(buf) - off
			}
			// Copy to a fresh slice so the tail moves in memory.
			pending = append(append([]byte(nil), pending...), buf[off:off+step]...)
			off += step
			if d.Need() > len(pending) {
				continue
			}
			msgs, n, err := decodeAll(&d, pending)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, msgs...)
			pending = pending[n:]
		}
		if len(pending) != 0 || len(got) != len(want) {
			t.Fatalf("trial %d: %d messages, %d bytes left", trial, len(got), len(pending))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("trial %d: message %d differs", trial, i)
			}
		}
	}
}

func getBatch(n int) []byte {
	var buf []byte
	for i := 0; i < n; i++ {
		if i%4 == 3 {
			buf = AppendString(AppendString(AppendRequestHeader(buf, CmdInsert, uint64(i), 2), fmt.Sprintf("p|%08d|%010d", i, i*7)), ".....")
		} else {
			buf = AppendString(AppendRequestHeader(buf, CmdGet, uint64(i), 1), fmt.Sprintf("t|%08d", i))
		}
	}
	return buf
}

func TestDecodeZeroAlloc(t *testing.T) {
	buf := getBatch(32)
	// A batch with an integer map key and a partial tail, too.
	buf2 := append(append([]byte(nil), buf...), enc(t, []any{8, 1, "t|", "t}", map[string]any{"subscriber": 3}})...)
	buf2 = append(buf2, h("81 05 01")...)
	buf2 = append(buf2, getBatch(3)[:10]...)
	d := NewDecoder()
	run := func(b []byte, wantMsgs int) {
		msgs, n, err := d.Decode(b)
		if err != nil || len(msgs) != wantMsgs {
			panic(fmt.Sprintf("decode: %d msgs, n=%d, %v", len(msgs), n, err))
		}
		for _, m := range msgs {
			r, v := ParseRequest(m)
			if v != Accept && v != Close {
				panic(fmt.Sprint("verdict ", v, r.Reason))
			}
			_ = r.Key()
		}
		d.Reset()
	}
	run(buf, 32) // warm up storage
	run(buf2, 34)
	if a := testing.AllocsPerRun(200, func() { run(buf, 32) }); a != 0 {
		t.Errorf("steady-state decode of 32 requests: %v allocs per run", a)
	}
	if a := testing.AllocsPerRun(200, func() { run(buf2, 34) }); a != 0 {
		t.Errorf("steady-state decode with int keys and partial tail: %v allocs per run", a)
	}
}

func decodeErr(t *testing.T, d *Decoder, in []byte) *DecodeError {
	t.Helper()
	_, _, err := d.Decode(in)
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("Decode(% x...) err = %v, want *DecodeError", in[:min(len(in), 16)], err)
	}
	return de
}

func TestMalformed(t *testing.T) {
	syntax := []string{"c1", "c7 01 00 00", "c8 00 01 00 00", "c9 00 00 00 01 00 00", "d4 00 00", "d5 00 00 00",
		"d6 00 00 00 00 00", "d7 00", "d8 00", "92 01 c1", "91 d4 01 01", "81 a1 61 c7 00 00"}
	for _, s := range syntax {
		de := decodeErr(t, new(Decoder), h(s))
		if !errors.Is(de, ErrSyntax) {
			t.Errorf("%s: %v, want ErrSyntax", s, de)
		}
	}
	badKeys := []string{"81 c0 01", "81 c2 01", "81 c3 01", "81 90 01", "81 80 01", "81 ca 00 00 00 00 01", "81 cb 00 00 00 00 00 00 00 00 01",
		"82 a1 61 01 91 01 02", "91 81 81 a0 a0 01"}
	for _, s := range badKeys {
		de := decodeErr(t, new(Decoder), h(s))
		if !errors.Is(de, ErrMapKey) {
			t.Errorf("%s: %v, want ErrMapKey", s, de)
		}
	}
	// The error reports its offset: messages before it are returned.
	in := append(getBatch(2), h("93 01 02 c1")...)
	d := NewDecoder()
	msgs, n, err := d.Decode(in)
	var de *DecodeError
	if !errors.As(err, &de) || len(msgs) != 2 || n != len(getBatch(2)) || de.Offset != len(in)-1 || de.FrameOffset != 3 {
		t.Fatalf("msgs=%d n=%d err=%v", len(msgs), n, err)
	}
	if !strings.Contains(err.Error(), "0xc1") || !strings.Contains(err.Error(), fmt.Sprint(de.Offset)) {
		t.Fatalf("error text lacks context: %v", err)
	}
	// Sticky until Reset.
	if _, _, err2 := d.Decode(getBatch(1)); err2 != err {
		t.Fatalf("error not sticky: %v", err2)
	}
	d.Reset()
	if msgs, _, err := d.Decode(getBatch(1)); err != nil || len(msgs) != 1 {
		t.Fatalf("after Reset: %d %v", len(msgs), err)
	}
}

func TestDepthLimit(t *testing.T) {
	// 100,000 nested arrays: an error, not a stack overflow (joins.md A6).
	deep := bytes.Repeat([]byte{0x91}, 100000)
	de := decodeErr(t, new(Decoder), append(deep, 0xc0))
	if !errors.Is(de, ErrTooDeep) || de.Offset != DefaultMaxDepth {
		t.Fatalf("deep arrays: %v", de)
	}
	// Even before the innermost value has arrived.
	de = decodeErr(t, new(Decoder), deep)
	if !errors.Is(de, ErrTooDeep) {
		t.Fatalf("deep partial: %v", de)
	}
	deepMaps := bytes.Repeat([]byte{0x81, 0xa0}, 1000)
	if de := decodeErr(t, new(Decoder), deepMaps); !errors.Is(de, ErrTooDeep) {
		t.Fatalf("deep maps: %v", de)
	}
	// Exactly MaxDepth levels is fine; one more is not.
	ok := append(bytes.Repeat([]byte{0x91}, DefaultMaxDepth), 0x01)
	if _, err := Parse(ok); err != nil {
		t.Fatalf("%d levels: %v", DefaultMaxDepth, err)
	}
	tooDeep := append(bytes.Repeat([]byte{0x91}, DefaultMaxDepth+1), 0x01)
	if _, err := Parse(tooDeep); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("%d levels: %v", DefaultMaxDepth+1, err)
	}
	// Empty containers count as a level too.
	if _, err := Parse(append(bytes.Repeat([]byte{0x91}, DefaultMaxDepth), 0x90)); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("empty innermost container: %v", err)
	}
	// Configurable.
	d := &Decoder{MaxDepth: 3}
	if _, _, err := d.Decode(h("91 91 91 01")); err != nil {
		t.Fatal(err)
	}
	d = &Decoder{MaxDepth: 3}
	if _, _, err := d.Decode(h("91 91 91 91 01")); !errors.Is(err, ErrTooDeep) {
		t.Fatal(err)
	}
}

func allocBytes(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

func TestHugeDeclaredLengths(t *testing.T) {
	// str32/bin32 declaring 2^31 bytes followed by end of input (A6): an
	// immediate error with the default limit, no allocation.
	for _, hdr := range []string{"db 80 00 00 00", "c6 80 00 00 00", "91 db 80 00 00 00", "92 01 c6 80 00 00 00 41 42"} {
		d := NewDecoder()
		var err error
		used := allocBytes(func() { _, _, err = d.Decode(h(hdr)) })
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Errorf("%s: err = %v, want ErrFrameTooLarge", hdr, err)
		}
		if used > 64<<10 {
			t.Errorf("%s: allocated %d bytes", hdr, used)
		}
	}
	// Even a decoder configured with the largest limit refuses 2^31 bytes.
	d := &Decoder{MaxFrameBytes: math.MaxInt}
	if _, _, err := d.Decode(h("db 80 00 00 00")); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("max limit: %v", err)
	}
	// A declared size within the limit whose bytes have not arrived waits,
	// without allocating.
	d = &Decoder{MaxFrameBytes: 1 << 30}
	in := h("92 01 db 3f ff ff 00 41 42 43")
	var (
		msgs []Value
		n    int
		err  error
	)
	used := allocBytes(func() { msgs, n, err = d.Decode(in) })
	if err != nil || len(msgs) != 0 || n != 0 {
		t.Fatalf("waiting: %d msgs n=%d err=%v", len(msgs), n, err)
	}
	if used > 64<<10 {
		t.Fatalf("waiting allocated %d bytes", used)
	}
	if want := 2 + 5 + 0x3fffff00; d.Need() != want {
		t.Fatalf("Need() = %d, want %d", d.Need(), want)
	}
	// Calling again with the same bytes does not rescan or allocate either.
	if a := testing.AllocsPerRun(10, func() { d.Decode(in) }); a != 0 {
		t.Fatalf("re-decode allocates %v", a)
	}
	// Element counts are bounded too.
	if _, _, err := new(Decoder).Decode(h("dd ff ff ff ff")); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("array32 of 2^32-1 elements: %v", err)
	}
	if _, _, err := new(Decoder).Decode(h("df 80 00 00 00")); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("map32 of 2^31 pairs: %v", err)
	}
}

func TestMaxFrameBytes(t *testing.T) {
	small := func() *Decoder { return &Decoder{MaxFrameBytes: 100} }
	// Declared: a string longer than the limit.
	if _, _, err := small().Decode(AppendString(nil, strings.Repeat("x", 100))); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("declared string: %v", err)
	}
	// Declared: more elements than bytes allowed.
	if _, _, err := small().Decode(AppendArrayHeader(nil, 200)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("declared array: %v", err)
	}
	// Reached: 40 three-byte ints; the error comes once the bytes pass 100,
	// whether they arrive at once or in pieces.
	var msg []byte
	msg = AppendArrayHeader(msg, 40)
	for i := 0; i < 40; i++ {
		msg = AppendInt(msg, 1000)
	}
	if _, _, err := small().Decode(msg); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("reached: %v", err)
	}
	d := small()
	_, n, err := d.Decode(msg[:99])
	if err != nil || n != 0 {
		t.Fatalf("first 99 bytes: n=%d %v", n, err)
	}
	if _, _, err := d.Decode(msg[:101]); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("reached in pieces: %v", err)
	}
	// 100 bytes of a message that needs more: it can never fit, so it
	// fails without waiting for byte 101.
	if _, _, err := small().Decode(msg[:100]); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("reached the limit exactly, incomplete: %v", err)
	}
	// Exactly at the limit is fine.
	exact := AppendString(nil, strings.Repeat("x", 98))
	if len(exact) != 100 {
		t.Fatal(len(exact))
	}
	if msgs, _, err := small().Decode(exact); err != nil || len(msgs) != 1 {
		t.Fatalf("exactly 100 bytes: %v", err)
	}
	// The limit is per message, not per batch.
	if msgs, _, err := small().Decode(bytes.Repeat(exact, 5)); err != nil || len(msgs) != 5 {
		t.Fatalf("5 messages of 100 bytes: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse(h("92 01")); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := Parse(h("01 02")); !errors.Is(err, ErrTrailing) {
		t.Fatalf("trailing: %v", err)
	}
	if _, err := Parse(nil); !errors.Is(err, ErrTruncated) {
		t.Fatalf("empty: %v", err)
	}
}

// randValue builds a random Go value of the kinds AppendAny and the decoder
// share, and the value Interface should return for it.
func randValue(rng *rand.Rand, depth int) (in, out any) {
	k := rng.Intn(9)
	if depth > 4 && k >= 7 {
		k = rng.Intn(7)
	}
	switch k {
	case 0:
		return nil, nil
	case 1:
		b := rng.Intn(2) == 0
		return b, b
	case 2:
		var i int64
		switch rng.Intn(4) {
		case 0:
			i = int64(rng.Intn(300)) - 150
		case 1:
			i = int64(rng.Int31()) - 1<<30
		case 2:
			i = rng.Int63() - 1<<62
		default:
			i = []int64{math.MinInt64, math.MaxInt64, -33, -32, 127, 128, 65535, 65536, math.MaxUint32}[rng.Intn(9)]
		}
		return i, i
	case 3:
		u := rng.Uint64() | 1<<63
		return u, u
	case 4:
		f := rng.NormFloat64() * math.Pow(10, float64(rng.Intn(40)-20))
		return f, f
	case 5, 6:
		n := rng.Intn(40)
		if rng.Intn(20) == 0 {
			n = rng.Intn(70000)
		}
		b := make([]byte, n)
		rng.Read(b)
		return string(b), string(b)
	case 7:
		n := rng.Intn(20)
		ins, outs := make([]any, n), make([]any, n)
		for i := range ins {
			ins[i], outs[i] = randValue(rng, depth+1)
		}
		return ins, outs
	default:
		n := rng.Intn(20)
		ins, outs := map[string]any{}, map[string]any{}
		for i := 0; i < n; i++ {
			key := fmt.Sprint(rng.Intn(100))
			ins[key], outs[key] = randValue(rng, depth+1)
		}
		return ins, outs
	}
}

func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(42))
	for i := 0; i < 2000; i++ {
		in, want := randValue(rng, 0)
		b := enc(t, in)
		v, err := Parse(b)
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if got := v.Interface(); !reflect.DeepEqual(got, want) {
			t.Fatalf("#%d: round trip differs\n got %#v\nwant %#v", i, got, want)
		}
		if re := AppendValue(nil, v); !bytes.Equal(re, b) {
			t.Fatalf("#%d: re-encoding differs", i)
		}
		if !bytes.Equal(v.Raw(), b) {
			t.Fatalf("#%d: Raw differs", i)
		}
		c := v.Clone()
		if !Equal(c, v) {
			t.Fatalf("#%d: Clone differs", i)
		}
	}
}

func TestRoundTripTable(t *testing.T) {
	cases := []any{
		nil, true, false, int64(0), int64(-1), int64(300), int64(-33), 1.5, math.Inf(-1), "",
		"k", "\x00\xff", strings.Repeat("s", 31), strings.Repeat("s", 32), strings.Repeat("s", 256),
		strings.Repeat("s", 65536), []any{}, []any{int64(1), "a", nil}, map[string]any{},
		map[string]any{"subscriber": int64(3)}, make([]any, 16), make([]any, 65536),
		[]any{int64(-1), int64(5), int64(-1), nil},
	}
	for i, c := range cases {
		b := enc(t, c)
		v, err := Parse(b)
		if err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		if got := v.Interface(); !reflect.DeepEqual(got, c) {
			t.Fatalf("#%d: got %#v", i, got)
		}
		if re := AppendValue(nil, v); !bytes.Equal(re, b) {
			t.Fatalf("#%d: re-encoding differs", i)
		}
	}
}

func BenchmarkDecodeGetBatch(b *testing.B) {
	var buf []byte
	for i := 0; i < 32; i++ {
		buf = AppendString(AppendRequestHeader(buf, CmdGet, uint64(i+100000), 1), fmt.Sprintf("t|%08d|%010d", i*37, i))
	}
	d := NewDecoder()
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		msgs, n, err := d.Decode(buf)
		if err != nil || n != len(buf) || len(msgs) != 32 {
			b.Fatal("bad decode")
		}
		for _, m := range msgs {
			r, v := ParseRequest(m)
			if v != Accept || len(r.Key()) == 0 {
				b.Fatal("bad request")
			}
		}
	}
}
