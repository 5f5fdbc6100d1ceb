package interval_test

import (
	"fmt"

	"github.com/pequod-go/pequod/skiplist/interval"
)

func Example() {
	var regs interval.Tree[string]
	a := regs.Insert("t|a", "t|m", "join A")
	regs.Insert("t|f", "t|z", "join B")
	regs.Insert("t|f", "t|z", "join C") // identical interval, distinct item

	regs.Stab("t|g", func(it *interval.Item[string]) bool {
		fmt.Println("stab:", it.Value)
		return true
	})

	// Collect first, mutate after: visitors must not modify the tree.
	var hit []*interval.Item[string]
	regs.Overlap("t|b", "t|c", func(it *interval.Item[string]) bool {
		hit = append(hit, it)
		return true
	})
	for _, it := range hit {
		regs.Delete(it)
	}
	fmt.Println(regs.Len(), regs.Contains(a))
	// Output:
	// stab: join A
	// stab: join B
	// stab: join C
	// 2 false
}
