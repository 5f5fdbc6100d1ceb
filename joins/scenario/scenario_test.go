package scenario

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

// mapTarget is a plain key-value store without joins, recording calls.
type mapTarget struct {
	m     map[string]string
	log   []string
	clock time.Duration
}

func newMapTarget() *mapTarget { return &mapTarget{m: map[string]string{}} }

func (t *mapTarget) Insert(k, v string) error {
	if !strings.Contains(k, "|") {
		return errors.New("no table")
	}
	t.log = append(t.log, "insert "+k+"="+v)
	t.m[k] = v
	return nil
}
func (t *mapTarget) Erase(k string) error {
	t.log = append(t.log, "erase "+k)
	delete(t.m, k)
	return nil
}
func (t *mapTarget) Validate(f, l string) error {
	t.log = append(t.log, fmt.Sprintf("validate %q %q", f, l))
	return nil
}
func (t *mapTarget) CountStored(f, l string) (int, error) {
	n := 0
	for k := range t.m {
		if f <= k && k < l {
			n++
		}
	}
	return n, nil
}
func (t *mapTarget) Find(k string) (string, bool, error) { v, ok := t.m[k]; return v, ok, nil }
func (t *mapTarget) AddJoin(f, l, text string, st time.Duration) error {
	t.log = append(t.log, fmt.Sprintf("join %s %s %q %v", f, l, text, st))
	return nil
}
func (t *mapTarget) Advance(d time.Duration) { t.clock += d }

func TestRunBasics(t *testing.T) {
	src := `
# comment line
join k| k} "k|<u:1> = count v|<u>|<x:1>" staleness=100ms  # trailing comment
insert "v|a|1" "hello world"
insert v|a|2 ""
count v| v} -> 2
find v|a|1 -> "hello world"
find v|a|2 -> ""
find v|a|3 -> absent
get v|a|3 -> ""
validate v|a|1
validate v| v}
erase v|a|1
count v| v} -> 1
advance 200ms
expect-error insert nope x
loop i 0 3
  loop j 1 3
    insert v|{i}|{j:%02d} x{i}
  end
end
count v|0 v|3 -> 6
find v|2|02 -> "x2"
find v|2|02 -> absent | "x2"
find v|9 -> "0" | absent
get v|9 -> "0" | ""
count v|0 v|3 -> 5 | 6 | 7
`
	s, err := Parse("basic", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	mt := newMapTarget()
	if err := s.Run(mt, Options{}); err != nil {
		t.Fatal(err)
	}
	if mt.clock != 200*time.Millisecond {
		t.Errorf("clock = %v", mt.clock)
	}
	want := []string{
		`join k| k} "k|<u:1> = count v|<u>|<x:1>" 100ms`,
		"insert v|a|1=hello world",
		"insert v|a|2=",
		`validate "v|a|3" "v|a|3\x00"`,
		`validate "v|a|1" "v|a|1\x00"`,
		`validate "v|" "v}"`,
		"erase v|a|1",
	}
	for i, w := range want {
		if mt.log[i] != w {
			t.Errorf("log[%d] = %q, want %q", i, mt.log[i], w)
		}
	}
}

func TestFailuresReported(t *testing.T) {
	src := "insert v|a 1\ncount v| v} -> 2\nfind v|a -> \"2\"\nfind v|a -> absent\nexpect-error insert v|b 1\nloop i 0 2\nfind v|{i} -> absent\nend\ninsert bad 1\nfind v|a -> \"never reached\"\n"
	s, err := Parse("f.txt", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	err = s.Run(newMapTarget(), Options{})
	var fs Failures
	if !errors.As(err, &fs) {
		t.Fatalf("err = %v", err)
	}
	got := make([]string, len(fs))
	for i, f := range fs {
		got[i] = f.Error()
	}
	want := []string{
		"f.txt:2: count v| v} -> 2: count = 1, want 2",
		`f.txt:3: find v|a -> "2": value = "1", want "2"`,
		`f.txt:4: find v|a -> absent: value = "1", want absent`,
		"f.txt:5: expect-error insert v|b 1: expected an error, got none",
		"f.txt:9: insert bad 1: unexpected error: no table",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// StopOnFirst.
	err = s.Run(newMapTarget(), Options{StopOnFirst: true})
	if !errors.As(err, &fs) || len(fs) != 1 {
		t.Fatalf("StopOnFirst: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"frobnicate x",
		"count a b",
		"count a b -> x",
		"find a -> v",
		"insert a",
		"insert a b c",
		"join a b",
		"join a b \"t\" stale=1s",
		"advance soon",
		"loop i 0 3",
		"end",
		"loop 1 0 3\nend",
		`insert "a b`,
		"expect-error count a b -> 1",
		"insert a b -> \"c\"",
		"find a -> \"x\" y",
		"find a -> \"x\" |",
		"find a -> \"x\" \"y\"",
		"count a b -> 1 | \"2\"",
		"get a -> absent",
	} {
		if _, err := Parse("p", []byte(src)); err == nil {
			t.Errorf("Parse(%q) succeeded", src)
		}
	}
}

func TestKarmaGenerators(t *testing.T) {
	// A fake that computes karma on validate, enough to exercise the
	// generators' bookkeeping.
	ft := &karmaFake{mapTarget: newMapTarget()}
	if err := Karma(ft, 7, 3); err != nil {
		t.Fatal(err)
	}
	ft = &karmaFake{mapTarget: newMapTarget()}
	if err := KarmaOnlineSetup(ft, 5); err != nil {
		t.Fatal(err)
	}
	if err := KarmaOnlineVotes(ft, 5, 4); err != nil {
		t.Fatal(err)
	}
	ft.Validate("k|", "k}")
	if err := KarmaCheck(ft, 5, "4"); err != nil {
		t.Fatal(err)
	}
	if err := KarmaCheck(ft, 5, "3"); err == nil {
		t.Fatal("KarmaCheck accepted a wrong value")
	}
}

type karmaFake struct{ *mapTarget }

func (t *karmaFake) Validate(f, l string) error {
	counts := map[string]int{}
	var keys []string
	for k := range t.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "v|") {
			counts[k[2:7]]++
		}
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "a|") {
			t.m["k|"+k[2:7]] = fmt.Sprint(counts[k[8:13]])
		}
	}
	return nil
}
