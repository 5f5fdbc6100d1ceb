package skiplist

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// model is the reference the store is checked against: a Go map plus a
// sorted slice of its keys (Go's string order is bytewise).
type model struct {
	m    map[string]string
	keys []string
}

func newModel() *model { return &model{m: map[string]string{}} }

// lowerBound returns the index of the first key >= k.
func (m *model) lowerBound(k string) int { return sort.SearchStrings(m.keys, k) }

func (m *model) put(k, v string) (string, bool) {
	old, ok := m.m[k]
	m.m[k] = v
	if !ok {
		i := m.lowerBound(k)
		m.keys = slices.Insert(m.keys, i, k)
	}
	return old, ok
}

func (m *model) del(k string) (string, bool) {
	old, ok := m.m[k]
	if ok {
		delete(m.m, k)
		i := m.lowerBound(k)
		m.keys = slices.Delete(m.keys, i, i+1)
	}
	return old, ok
}

func (m *model) bytes() int {
	b := 0
	for k, v := range m.m {
		b += len(k) + len(v)
	}
	return b
}

// source supplies the choices that drive an operation sequence.
type source interface{ Intn(n int) int }

// byteSource turns fuzz input into choices; it yields 0 once exhausted.
type byteSource struct{ b []byte }

func (s *byteSource) Intn(n int) int {
	if len(s.b) == 0 || n <= 1 {
		return 0
	}
	x := int(s.b[0])
	s.b = s.b[1:]
	if n > 256 {
		if len(s.b) > 0 {
			x = x<<8 | int(s.b[0])
			s.b = s.b[1:]
		}
	}
	return x % n
}

func (s *byteSource) done() bool { return len(s.b) == 0 }

// keyAlphabet favours the bytes where ordering bugs hide: NUL, 0x01, the
// signed/unsigned boundary 0x7F/0x80, and 0xFE/0xFF.
var keyAlphabet = []byte{0x00, 0x01, 'a', 'b', 0x7f, 0x80, 0xfe, 0xff}

// genKey draws a short key over keyAlphabet (lengths 0-9, so keys both share
// and differ within the 53-bit score prefix), or a big-endian id.
func genKey(src source) string {
	if src.Intn(4) == 0 {
		id := uint64(src.Intn(1 << 16))
		var b [8]byte
		for i := range b {
			b[7-i] = byte(id >> (8 * uint(i)))
		}
		return "id" + string(b[:])
	}
	n := src.Intn(10)
	b := make([]byte, n)
	for i := range b {
		b[i] = keyAlphabet[src.Intn(len(keyAlphabet))]
	}
	return string(b)
}

func genValue(src source, seq *int) string {
	*seq++
	return strconv.Itoa(*seq) + strings.Repeat("x", src.Intn(20))
}

func strLen(v string) int { return len(v) }

// checkFull compares the whole store against the model: length, order,
// values and Bytes (against a recomputation from both sides).
func checkFull(t testing.TB, s *Store[string], m *model) {
	t.Helper()
	if s.Len() != len(m.keys) {
		t.Fatalf("Len = %d, model %d", s.Len(), len(m.keys))
	}
	if want := m.bytes(); s.Bytes() != want {
		t.Fatalf("Bytes = %d, model %d", s.Bytes(), want)
	}
	i, recomputed := 0, 0
	for it := s.First(); it.Valid(); it.Next() {
		if i >= len(m.keys) {
			t.Fatalf("store has extra key %q", it.Key())
		}
		if it.Key() != m.keys[i] || it.Value() != m.m[m.keys[i]] {
			t.Fatalf("element %d = %q:%q, model %q:%q", i, it.Key(), it.Value(), m.keys[i], m.m[m.keys[i]])
		}
		recomputed += len(it.Key()) + len(it.Value())
		i++
	}
	if i != len(m.keys) {
		t.Fatalf("iteration saw %d keys, model %d", i, len(m.keys))
	}
	if recomputed != s.Bytes() {
		t.Fatalf("Bytes = %d, recomputed from store %d", s.Bytes(), recomputed)
	}
	checkLayout(t, s)
}

// runOps applies nops random operations (or until a byteSource runs dry) to
// s and m, checking each result against the model.
func runOps(t testing.TB, src source, s *Store[string], m *model, nops int) {
	t.Helper()
	seq := 0
	for op := 0; op < nops; op++ {
		if bs, ok := src.(*byteSource); ok && bs.done() {
			break
		}
		switch src.Intn(12) {
		case 0, 1, 10, 11: // Put
			k, v := genKey(src), genValue(src, &seq)
			if src.Intn(3) == 0 && len(m.keys) > 0 {
				k = m.keys[src.Intn(len(m.keys))]
			}
			old, rep := s.Put(k, v)
			mold, mrep := m.put(k, v)
			if old != mold || rep != mrep {
				t.Fatalf("op %d Put(%q) = %q,%v, model %q,%v", op, k, old, rep, mold, mrep)
			}
		case 2: // Delete
			k := genKey(src)
			if src.Intn(2) == 0 && len(m.keys) > 0 {
				k = m.keys[src.Intn(len(m.keys))]
			}
			old, ok := s.Delete(k)
			mold, mok := m.del(k)
			if old != mold || ok != mok {
				t.Fatalf("op %d Delete(%q) = %q,%v, model %q,%v", op, k, old, ok, mold, mok)
			}
		case 3: // Get
			k := genKey(src)
			if src.Intn(2) == 0 && len(m.keys) > 0 {
				k = m.keys[src.Intn(len(m.keys))]
			}
			v, ok := s.Get(k)
			mv, mok := m.m[k]
			if v != mv || ok != mok {
				t.Fatalf("op %d Get(%q) = %q,%v, model %q,%v", op, k, v, ok, mv, mok)
			}
		case 4: // Seek and walk
			k := genKey(src)
			it := s.Seek(k)
			i := m.lowerBound(k)
			for steps := src.Intn(6); ; steps-- {
				checkIterAt(t, op, &it, m, i)
				if steps == 0 || !it.Valid() {
					break
				}
				it.Next()
				i++
			}
		case 5: // Range, maybe stopping early
			a, b := genKey(src), genKey(src)
			limit := src.Intn(8) // 0 = no limit
			var got []string
			s.Range(a, b, func(k, v string) bool {
				if v != m.m[k] {
					t.Fatalf("op %d Range(%q,%q) value of %q = %q, model %q", op, a, b, k, v, m.m[k])
				}
				got = append(got, k)
				return limit == 0 || len(got) < limit
			})
			var want []string
			if a < b {
				want = m.keys[m.lowerBound(a):m.lowerBound(b)]
			}
			if limit > 0 && len(want) > limit {
				want = want[:limit]
			}
			if !slices.Equal(got, want) {
				t.Fatalf("op %d Range(%q,%q) limit %d = %q, model %q", op, a, b, limit, got, want)
			}
		case 6: // Count
			a, b := genKey(src), genKey(src)
			want := 0
			if a < b {
				want = m.lowerBound(b) - m.lowerBound(a)
			}
			if got := s.Count(a, b); got != want {
				t.Fatalf("op %d Count(%q,%q) = %d, model %d", op, a, b, got, want)
			}
		case 7, 8: // iterate with Remove / SetValue / Next
			k := genKey(src)
			it := s.Seek(k)
			i := m.lowerBound(k)
			for steps := src.Intn(8); steps > 0 && it.Valid(); steps-- {
				checkIterAt(t, op, &it, m, i)
				switch src.Intn(4) {
				case 0:
					m.del(m.keys[i]) // i now names the next key
					it.Remove()
				case 1:
					v := genValue(src, &seq)
					it.SetValue(v)
					m.m[m.keys[i]] = v
					if it.Value() != v {
						t.Fatalf("op %d after SetValue Value = %q, want %q", op, it.Value(), v)
					}
					it.Next()
					i++
				default:
					it.Next()
					i++
				}
			}
			checkIterAt(t, op, &it, m, i)
		case 9: // full check
			checkFull(t, s, m)
		}
		if s.Len() != len(m.keys) {
			t.Fatalf("op %d: Len = %d, model %d", op, s.Len(), len(m.keys))
		}
	}
	checkFull(t, s, m)
}

// checkIterAt asserts that it is positioned where the model's index i is.
func checkIterAt(t testing.TB, op int, it *Iter[string], m *model, i int) {
	t.Helper()
	if i >= len(m.keys) {
		if it.Valid() {
			t.Fatalf("op %d iterator at %q, model exhausted", op, it.Key())
		}
		return
	}
	if !it.Valid() {
		t.Fatalf("op %d iterator exhausted, model at %q", op, m.keys[i])
	}
	if it.Key() != m.keys[i] || it.Value() != m.m[m.keys[i]] {
		t.Fatalf("op %d iterator at %q:%q, model %q:%q", op, it.Key(), it.Value(), m.keys[i], m.m[m.keys[i]])
	}
}
