package engine_test

import (
	"fmt"

	"github.com/pequod-go/pequod/joins/engine"
)

// The README's worked example: a timeline join, kept fresh as the base data
// changes.
func Example() {
	e := engine.New(engine.Options{})

	// Base data: who follows whom (s|user|poster) and posts (p|poster|time).
	e.Insert("s|ann|bob", "1")
	e.Insert("s|ann|cat", "1")
	e.Insert("p|bob|0000000100", "bob's first post")
	e.Insert("p|cat|0000000150", "cat says hi")
	e.Insert("p|dan|0000000120", "nobody follows dan")

	// Ann's timeline is every post by someone she follows.
	e.AddJoinText("t|", "t}",
		"t|<user:3>|<time:10>|<poster:3> = copy p|<poster>|<time> using s|<user>|<poster>")

	show := func() {
		e.Scan("t|ann|", "t|ann}", "", func(k, v string) bool {
			fmt.Printf("%s = %s\n", k, v)
			return true
		})
	}
	show() // computed on demand

	e.Insert("p|bob|0000000200", "bob again") // maintained incrementally
	e.Insert("s|ann|dan", "1")                // ann follows dan: picked up at the next read
	fmt.Println("--")
	show()

	// Output:
	// t|ann|0000000100|bob = bob's first post
	// t|ann|0000000150|cat = cat says hi
	// --
	// t|ann|0000000100|bob = bob's first post
	// t|ann|0000000120|dan = nobody follows dan
	// t|ann|0000000150|cat = cat says hi
	// t|ann|0000000200|bob = bob again
}
