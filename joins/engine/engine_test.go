package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func mustInsert(t *testing.T, e *Engine, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if err := e.Insert(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
}

func mustValidate(t *testing.T, e *Engine, first, last string) {
	t.Helper()
	if err := e.Validate(first, last); err != nil {
		t.Fatal(err)
	}
}

func wantCount(t *testing.T, e *Engine, first, last string, want int) {
	t.Helper()
	if got := e.CountStored(first, last); got != want {
		t.Fatalf("count[%q,%q) = %d, want %d", first, last, got, want)
	}
}

func wantValue(t *testing.T, e *Engine, key, want string) {
	t.Helper()
	got, _ := e.Find(key)
	if got != want {
		t.Fatalf("[%q] = %q, want %q", key, got, want)
	}
}

// TestSimpleSmoke is §8.1 test_simple.
func TestSimpleSmoke(t *testing.T) {
	e := New(Options{})
	mustInsert(t, e, "f|00001|00002", "1", "f|00001|10000", "1",
		"p|00002|0000000000", "Should not appear", "p|00002|0000000001", "Hello,",
		"p|00002|0000000022", "Which is awesome", "p|10000|0000000010", "My name is",
		"p|10000|0000000018", "Jennifer Jones", "p|10001|0000000011", "Not whatever",
		"p|10001|0000000019", ", Idiot,")
	if _, err := e.AddJoinText("t|", "t}", "t|<subscriber:5>|<time:10>|<poster:5> = using f|<subscriber>|<poster> copy p|<poster>|<time>"); err != nil {
		t.Fatal(err)
	}
	lo, hi := "t|00001|0000000001", "t|00001}"
	mustValidate(t, e, lo, hi)
	wantCount(t, e, lo, hi, 4)
	mustInsert(t, e, "p|10000|0000000022", "x", "p|00002|0000000023", "y")
	wantCount(t, e, "t|00001", "t|00001}", 6)
	mustInsert(t, e, "f|00001|10001", "1")
	wantCount(t, e, lo, hi, 6)
	mustValidate(t, e, lo, hi)
	wantCount(t, e, lo, hi, 8)
	if err := e.Erase("f|00001|10001"); err != nil {
		t.Fatal(err)
	}
	wantCount(t, e, lo, hi, 8)
	mustInsert(t, e, "p|10001|0000000050", "Should be removed")
	wantCount(t, e, lo, hi, 9)
	mustValidate(t, e, lo, hi)
	wantCount(t, e, lo, hi, 6)
	mustInsert(t, e, "p|10001|0000000051", "no")
	wantCount(t, e, lo, hi, 6)
	mustInsert(t, e, "p|00002|0000000052", "yes")
	wantCount(t, e, lo, hi, 7)
	mustValidate(t, e, lo, hi)
	wantCount(t, e, lo, hi, 7)
}

// TestIupdate2Smoke is §8.18 test_iupdate2.
func TestIupdate2Smoke(t *testing.T) {
	e := New(Options{})
	if _, err := e.AddJoinText("k|", "k}", "k|<author> = count v|<chapter>|<voter> using b|<author>|<book>, c|<book>|<chapter> where author:1, chapter:2, book:1, voter:1"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b|a|i", "b|b|i", "b|a|j", "c|i|i1", "c|i|i2", "c|i|i3", "c|j|j1", "c|j|j2", "v|i1|x", "v|i1|y", "v|j2|x"} {
		mustInsert(t, e, k, "")
	}
	mustValidate(t, e, "k|a", "k|a\x00")
	wantValue(t, e, "k|a", "3")
	e.Erase("v|i1|y")
	wantValue(t, e, "k|a", "2")
	mustInsert(t, e, "v|i1|y", "")
	wantValue(t, e, "k|a", "3")
	mustInsert(t, e, "v|i1|y", "")
	wantValue(t, e, "k|a", "3")
	mustValidate(t, e, "k|b", "k|b\x00")
	wantValue(t, e, "k|b", "2")
	e.Erase("b|a|i")
	mustValidate(t, e, "k|a", "k|a\x00")
	wantValue(t, e, "k|a", "1")
	mustInsert(t, e, "b|a|i", "")
	mustValidate(t, e, "k|a", "k|a\x00")
	wantValue(t, e, "k|a", "3")
	e.Erase("b|a|i")
	mustInsert(t, e, "v|j2|m", "")
	mustValidate(t, e, "k|a", "k|a\x00")
	wantValue(t, e, "k|a", "2")
	mustInsert(t, e, "v|j2|n", "")
	wantValue(t, e, "k|a", "3")
	// D2: validating the whole table afterwards must not recount k|a.
	mustValidate(t, e, "k|", "k}")
	wantValue(t, e, "k|a", "3")
}

// TestRefreshKeepsReaders: recomputing expired pull output (here because
// another join reads it) tells its readers what changed instead of
// dropping them. Before, validating w| recomputed p and invalidated q,
// whose keys vanished though nothing was written; in four partitions the
// same happened when another partition's subscribe recomputed p, so a
// validate q| q} followed by a non-validating read saw nothing (issue 8).
func TestRefreshKeepsReaders(t *testing.T) {
	e := New(Options{})
	for _, j := range [][3]string{
		{"p|", "p}", "p|<x:1> = copy s|<x> pull"},
		{"q|", "q}", "q|<x:1> = copy p|<x>"},
		{"w|", "w}", "w|<x:1> = copy p|<x>"},
	} {
		if _, err := e.AddJoinText(j[0], j[1], j[2]); err != nil {
			t.Fatal(err)
		}
	}
	mustInsert(t, e, "s|a", "1", "s|b", "2")
	mustValidate(t, e, "q|", "q}")
	wantCount(t, e, "q|", "q}", 2)
	mustValidate(t, e, "w|", "w}")
	wantValue(t, e, "q|a", "1")
	wantCount(t, e, "q|", "q}", 2)
	// The refresh carries writes to q as changes: an update and an erase.
	mustInsert(t, e, "s|a", "3")
	if err := e.Erase("s|b"); err != nil {
		t.Fatal(err)
	}
	mustValidate(t, e, "w|", "w}")
	wantValue(t, e, "q|a", "3")
	wantCount(t, e, "q|", "q}", 1)
	mustValidate(t, e, "q|", "q}")
	wantValue(t, e, "q|a", "3")
	wantCount(t, e, "q|", "q}", 1)
}

// fakeLocality owns everything but table x, whose copies the test hands
// out, and records the invalidations the engine reports to subscribers.
type fakeLocality struct {
	xHeld       bool
	xExpires    int64
	invalidated []string
}

func (f *fakeLocality) Local(lo, hi string) bool { return !strings.HasPrefix(lo, "x|") }
func (f *fakeLocality) Owns(key string) bool     { return !strings.HasPrefix(key, "x|") }
func (f *fakeLocality) Copied(lo, hi string, now int64) (bool, int64) {
	return f.xHeld, f.xExpires
}
func (f *fakeLocality) KeyChanged(table, key, value string, erased bool) {}
func (f *fakeLocality) RangeInvalidated(table, lo, hi string) {
	f.invalidated = append(f.invalidated, fmt.Sprintf("%s [%q, %q)", table, lo, hi))
}

// TestExpiringOutputNeverInvalidatedRemotely: y is a push join over copies
// of pull output x held from another partition, so its output expires with
// them and every copy of y elsewhere carries that expiry. Dropping the x
// copy invalidates y (locally); recomputing y then finds x missing. Before,
// that incomplete recomputation had already reset y's expiry to "never" and
// so told y's subscribers to drop their copies — which, in a chain of pull
// and push joins across partitions, dropped the copies a parked request
// was waiting for, again and again, until it timed out (found by the wire
// soak, seed 11547).
func TestExpiringOutputNeverInvalidatedRemotely(t *testing.T) {
	loc := &fakeLocality{xHeld: true}
	e := New(Options{Locality: loc})
	if _, err := e.AddJoinText("y|", "y}", "y|<k:1> = copy x|<k>"); err != nil {
		t.Fatal(err)
	}
	loc.xExpires = e.Now() + 1 // the copy of pull output x expires at once
	mustInsert(t, e, "x|a", "1")
	if _, err := e.ValidateFresh("y|", "y}"); err != nil {
		t.Fatal(err)
	}
	wantValue(t, e, "y|a", "1")
	e.DropForeign("x|", "x}", nil) // the copy expired and is dropped
	loc.xHeld = false
	var nre *NeedRemoteError
	if _, err := e.ValidateFresh("y|", "y}"); !errors.As(err, &nre) {
		t.Fatalf("validate with x missing: %v, want NeedRemoteError", err)
	}
	if len(loc.invalidated) > 0 {
		t.Fatalf("expiring output invalidated remotely: %v", loc.invalidated)
	}
}

// TestOutputCopiedAsMaintainedIsInvalidatedRemotely: y was maintained when
// computed (it read no x), so a subscriber may hold a copy that never
// expires. Its eager context then made it read expiring copies of x; it
// expired and was refreshed. When it is invalidated after that, the
// subscribers must be told: their copy does not lapse by itself. Before,
// the refresh recorded the new, finite expiry as the one copies carry and
// the invalidation stayed local, and another partition served y|a's old
// value from its copy (found by the wire soak, seed 52495).
func TestOutputCopiedAsMaintainedIsInvalidatedRemotely(t *testing.T) {
	loc := &fakeLocality{xHeld: true}
	e := New(Options{Locality: loc})
	if _, err := e.AddJoinText("y|", "y}", "y|<k:1> = copy x|<k> using eager c|<k>"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ValidateFresh("y|", "y}"); err != nil { // no c: maintained, copied as such
		t.Fatal(err)
	}
	loc.xExpires = e.Now() + 1 // x: copies of pull output, expiring at once
	mustInsert(t, e, "x|a", "1", "c|a", "1")
	wantValue(t, e, "y|a", "1")
	mustInsert(t, e, "x|a", "2") // y expired: the next validate refreshes it
	loc.xExpires = e.Now() + 1
	if _, err := e.ValidateFresh("y|", "y}"); err != nil {
		t.Fatal(err)
	}
	wantValue(t, e, "y|a", "2")
	loc.invalidated = nil
	e.DropForeign("x|", "x}", nil)
	if len(loc.invalidated) == 0 {
		t.Fatal("y, once copied as never expiring, was invalidated without telling its subscribers")
	}
}
