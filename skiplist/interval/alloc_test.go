//go:build !race

package interval

import "testing"

// TestAllocs checks that Insert allocates exactly once and that queries and
// Delete allocate nothing.
func TestAllocs(t *testing.T) {
	var tr Tree[int]
	keys := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	for i, k := range keys {
		tr.Insert(k, keys[(i+3)%len(keys)], i)
	}
	fn := func(*Item[int]) bool { return true }
	check := func(name string, want float64, f func()) {
		if got := testing.AllocsPerRun(100, f); got != want {
			t.Errorf("%s: %v allocs, want %v", name, got, want)
		}
	}
	check("Insert+Delete", 1, func() { tr.Delete(tr.Insert("c", "e", 0)) })
	check("Stab", 0, func() { tr.Stab("c", fn) })
	check("Overlap", 0, func() { tr.Overlap("b", "d", fn) })
	check("Ascend", 0, func() { tr.Ascend(fn) })
}
