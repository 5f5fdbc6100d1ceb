package skiplist

import (
	"math"
	"math/rand"
	"testing"
)

// TestTextScoreOrder checks that textScore never contradicts byte order, on
// random keys mixing digits, other text and arbitrary bytes, and that it
// separates keys differing within their first 15 decimal digits.
func TestTextScoreOrder(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	gen := func() string {
		b := make([]byte, r.Intn(20))
		for i := range b {
			switch r.Intn(3) {
			case 0:
				b[i] = byte('0' + r.Intn(10))
			case 1:
				b[i] = keyAlphabet[r.Intn(len(keyAlphabet))]
			default:
				b[i] = byte(r.Intn(256))
			}
		}
		return string(b)
	}
	for i := 0; i < 300000; i++ {
		a, b := gen(), gen()
		if r.Intn(2) == 0 && len(a) > 0 { // share a prefix
			b = a[:r.Intn(len(a))] + b
		}
		sa, sb := textScore(a), textScore(b)
		switch {
		case a < b && sa > sb, a > b && sa < sb, a == b && sa != sb:
			t.Fatalf("textScore(%q)=%v, textScore(%q)=%v contradict byte order", a, sa, b, sb)
		}
	}
	for b := 0; b < 255; b++ {
		x, y := string([]byte{byte(b)}), string([]byte{byte(b + 1)})
		if !(textScore(x) < textScore(y)) {
			t.Errorf("textScore(%q) not < textScore(%q)", x, y)
		}
	}
	pairs := [][2]string{
		{"|0000123456|0", "|0000123457|0"},
		{"000000000000000", "000000000000001"},
		{"\xff\xff\xff\xff\xff\xfe", "\xff\xff\xff\xff\xff\xff"},
	}
	for _, p := range pairs {
		if !(textScore(p[0]) < textScore(p[1])) {
			t.Errorf("textScore(%q) not < textScore(%q)", p[0], p[1])
		}
	}
	lo, hi := textScore(""), textScore("\xff\xff\xff\xff\xff\xff\xff\xff")
	if math.Float64bits(lo) != 1<<52 || math.Float64bits(hi) >= 1<<62+1<<52 {
		t.Errorf("textScore range = [%x, %x], want within [2^52, 2^62+2^52)", math.Float64bits(lo), math.Float64bits(hi))
	}
}
