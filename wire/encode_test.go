package wire

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"testing"
)

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// The verified byte examples of spec/server.md §1.1, literally.
func TestSpecByteExamples(t *testing.T) {
	// reply [-1,5,-1,null]
	var b []byte
	b = AppendArrayHeader(b, 4)
	b = AppendInt(b, -1)
	b = AppendInt(b, 5)
	b = AppendInt(b, -1)
	b = AppendNil(b)
	if want := h("94 ff 05 ff c0"); !bytes.Equal(b, want) {
		t.Errorf("reply [-1,5,-1,null] = % x, want % x", b, want)
	}
	// The same through the reply helper, echoing seq 5.
	if got := AppendReply(nil, CmdGet, []byte{0x05}, StatusFail, nil); !bytes.Equal(got, h("94 ff 05 ff c0")) {
		t.Errorf("AppendReply = % x", got)
	}
	// request [2,3,"k","v"]
	b = AppendArrayHeader(nil, 4)
	b = AppendInt(b, 2)
	b = AppendInt(b, 3)
	b = AppendString(b, "k")
	b = AppendStr(b, []byte("v"))
	if want := h("94 02 03 a1 6b a1 76"); !bytes.Equal(b, want) {
		t.Errorf("request [2,3,k,v] = % x, want % x", b, want)
	}
	b = AppendString(AppendString(AppendRequestHeader(nil, CmdInsert, 3, 2), "k"), "v")
	if want := h("94 02 03 a1 6b a1 76"); !bytes.Equal(b, want) {
		t.Errorf("AppendRequestHeader form = % x, want % x", b, want)
	}
	// {"subscriber":3}
	b = AppendInt(AppendString(AppendMapHeader(nil, 1), "subscriber"), 3)
	if want := h("81 aa 73 75 62 73 63 72 69 62 65 72 03"); !bytes.Equal(b, want) {
		t.Errorf(`{"subscriber":3} = % x, want % x`, b, want)
	}
	if got := AppendInt(nil, 300); !bytes.Equal(got, h("cd 01 2c")) {
		t.Errorf("300 = % x", got)
	}
	if got := AppendInt(nil, -33); !bytes.Equal(got, h("d0 df")) {
		t.Errorf("-33 = % x", got)
	}
	if got := AppendFloat64(nil, 1.5); !bytes.Equal(got, h("cb 3f f8 00 00 00 00 00 00")) {
		t.Errorf("1.5 = % x", got)
	}
	s40 := strings.Repeat("x", 40)
	if got := AppendString(nil, s40); !bytes.Equal(got[:2], h("d9 28")) || len(got) != 42 {
		t.Errorf("40-byte string starts % x (len %d)", got[:2], len(got))
	}
}

func TestAppendIntBoundaries(t *testing.T) {
	cases := []struct {
		v    int64
		want string
	}{
		{0, "00"}, {1, "01"}, {127, "7f"}, {128, "cc 80"}, {255, "cc ff"},
		{256, "cd 01 00"}, {300, "cd 01 2c"}, {65535, "cd ff ff"},
		{65536, "ce 00 01 00 00"}, {math.MaxUint32, "ce ff ff ff ff"},
		{math.MaxUint32 + 1, "cf 00 00 00 01 00 00 00 00"},
		{math.MaxInt64, "cf 7f ff ff ff ff ff ff ff"},
		{-1, "ff"}, {-32, "e0"}, {-33, "d0 df"}, {-128, "d0 80"},
		{-129, "d1 ff 7f"}, {-32768, "d1 80 00"}, {-32769, "d2 ff ff 7f ff"},
		{math.MinInt32, "d2 80 00 00 00"},
		{math.MinInt32 - 1, "d3 ff ff ff ff 7f ff ff ff"},
		{math.MinInt64, "d3 80 00 00 00 00 00 00 00"},
	}
	for _, c := range cases {
		if got := AppendInt(nil, c.v); !bytes.Equal(got, h(c.want)) {
			t.Errorf("AppendInt(%d) = % x, want %s", c.v, got, c.want)
		}
	}
	if got := AppendUint(nil, math.MaxUint64); !bytes.Equal(got, h("cf ff ff ff ff ff ff ff ff")) {
		t.Errorf("AppendUint(max) = % x", got)
	}
	if got := AppendUint(nil, 200); !bytes.Equal(got, h("cc c8")) {
		t.Errorf("AppendUint(200) = % x", got)
	}
}

func TestAppendOthers(t *testing.T) {
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"nil", AppendNil(nil), "c0"},
		{"false", AppendBool(nil, false), "c2"},
		{"true", AppendBool(nil, true), "c3"},
		{"float 0", AppendFloat64(nil, 0), "cb 00 00 00 00 00 00 00 00"},
		{"float -2", AppendFloat64(nil, -2), "cb c0 00 00 00 00 00 00 00"},
		{"empty str", AppendString(nil, ""), "a0"},
		{"NUL str", AppendStr(nil, []byte{0, 0xff}), "a2 00 ff"},
		{"array 0", AppendArrayHeader(nil, 0), "90"},
		{"array 15", AppendArrayHeader(nil, 15), "9f"},
		{"array 16", AppendArrayHeader(nil, 16), "dc 00 10"},
		{"array 65535", AppendArrayHeader(nil, 65535), "dc ff ff"},
		{"array 65536", AppendArrayHeader(nil, 65536), "dd 00 01 00 00"},
		{"map 0", AppendMapHeader(nil, 0), "80"},
		{"map 15", AppendMapHeader(nil, 15), "8f"},
		{"map 16", AppendMapHeader(nil, 16), "de 00 10"},
		{"map 65536", AppendMapHeader(nil, 65536), "df 00 01 00 00"},
	}
	for _, c := range cases {
		if !bytes.Equal(c.got, h(c.want)) {
			t.Errorf("%s = % x, want %s", c.name, c.got, c.want)
		}
	}
	strHeads := []struct {
		n    int
		want string
	}{
		{31, "bf"}, {32, "d9 20"}, {255, "d9 ff"}, {256, "da 01 00"},
		{65535, "da ff ff"}, {65536, "db 00 01 00 00"},
	}
	for _, c := range strHeads {
		got := AppendString(nil, strings.Repeat("a", c.n))
		w := h(c.want)
		if !bytes.Equal(got[:len(w)], w) || len(got) != len(w)+c.n {
			t.Errorf("str of %d starts % x, want %s", c.n, got[:len(w)], c.want)
		}
	}
}

func TestAppendAny(t *testing.T) {
	got, err := AppendAny(nil, map[string]any{"subscriber": 3})
	if err != nil || !bytes.Equal(got, h("81 aa 73 75 62 73 63 72 69 62 65 72 03")) {
		t.Fatalf("AppendAny map = % x, %v", got, err)
	}
	// Deterministic key order, nested values, []byte as str, uint8 as int.
	got, err = AppendAny(nil, map[string]any{"b": []any{true, nil, 1.5}, "a": []byte("x"), "c": uint8(200), "d": int8(-5)})
	if err != nil {
		t.Fatal(err)
	}
	want := h("84 a1 61 a1 78 a1 62 93 c3 c0 cb 3f f8 00 00 00 00 00 00 a1 63 cc c8 a1 64 fb")
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendAny = % x\nwant          % x", got, want)
	}
	// Reflection paths.
	got, err = AppendAny(nil, map[string][]int{"k": {1, -1}})
	if err != nil || !bytes.Equal(got, h("81 a1 6b 92 01 ff")) {
		t.Fatalf("AppendAny reflect = % x, %v", got, err)
	}
	if _, err := AppendAny(nil, map[int]int{1: 1}); err == nil {
		t.Fatal("AppendAny accepted a map with int keys")
	}
	if _, err := AppendAny(nil, make(chan int)); err == nil {
		t.Fatal("AppendAny accepted a channel")
	}
}

func TestAppendValueCanonical(t *testing.T) {
	// Non-canonical input re-encodes canonically: bin -> str, float32 ->
	// float64, wide ints -> smallest, int map key -> decimal string.
	in := h("95 cd 00 05 c4 01 61 ca 3f c0 00 00 d3 ff ff ff ff ff ff ff ff 81 05 c3")
	v := MustParse(in)
	got := AppendValue(nil, v)
	want := h("95 05 a1 61 cb 3f f8 00 00 00 00 00 00 ff 81 a1 35 c3")
	if !bytes.Equal(got, want) {
		t.Fatalf("AppendValue = % x\nwant           % x", got, want)
	}
	if AppendValue(nil, Value{})[0] != 0xc0 {
		t.Fatal("zero Value does not encode as nil")
	}
}

func BenchmarkEncodeReply(b *testing.B) {
	seq := AppendUint(nil, 123456)
	val := []byte(".....")
	buf := make([]byte, 0, 1<<16)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if len(buf) > 1<<15 {
			buf = buf[:0]
		}
		buf = AppendStr(AppendReplyHeader(buf, CmdGet, seq, StatusOK), val)
	}
}
