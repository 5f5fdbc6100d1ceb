package route

import (
	"fmt"
	"strings"
	"testing"
)

func mustServers(t *testing.T, name string, nb, n int) *Servers {
	t.Helper()
	s, err := NewServers(name, nb, n)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServersWorkedExamples checks the [verified] examples of server.md
// §2.9 as server ownership: twitternew and twitternew-text, NB=2, N=7.
func TestServersWorkedExamples(t *testing.T) {
	bin := mustServers(t, "twitternew", 2, 7)
	for _, c := range []struct {
		u        uint32
		base, tl int
	}{
		{0, 0, 2}, {1, 0, 2}, {255, 0, 2}, {256, 1, 3}, {512, 0, 4},
		{768, 1, 5}, {1024, 0, 6}, {1280, 1, 2},
	} {
		id := be32(c.u)
		for _, k := range []string{"p|" + id + "|" + be32(77), "s|" + id + "|" + be32(9), "cp|" + id + "|" + be32(1)} {
			if o := bin.Owner(k); o != c.base {
				t.Errorf("twitternew U=%d: Owner(%q) = %d, want %d", c.u, k, o, c.base)
			}
		}
		if k := "t|" + id + "|" + be32(5) + "|" + be32(3); bin.Owner(k) != c.tl {
			t.Errorf("twitternew U=%d: Owner(%q) = %d, want %d", c.u, k, bin.Owner(k), c.tl)
		}
	}
	txt := mustServers(t, "twitternew-text", 2, 7)
	for _, c := range []struct {
		u        uint32
		base, tl int
	}{
		{999, 0, 2}, {1000, 1, 3}, {12345678, 1, 2},
	} {
		id := fmt.Sprintf("%08d", c.u)
		for _, k := range []string{"p|" + id + "|0000000042", "s|" + id + "|00000001", "cp|" + id + "|0000000001"} {
			if o := txt.Owner(k); o != c.base {
				t.Errorf("twitternew-text U=%d: Owner(%q) = %d, want %d", c.u, k, o, c.base)
			}
		}
		if k := "t|" + id + "|0000000005|00000003"; txt.Owner(k) != c.tl {
			t.Errorf("twitternew-text U=%d: Owner(%q) = %d, want %d", c.u, k, txt.Owner(k), c.tl)
		}
	}
	// §3.8: user 600's timeline is on 2 + ((600>>8) mod 5) = 4, its
	// subscriptions on (600>>8) mod 2 = 0; user 300 posts to server 1.
	if o := bin.Owner("t|" + be32(600) + "|" + be32(0)); o != 4 {
		t.Errorf("§3.8 timeline of 600 on %d, want 4", o)
	}
	if o := bin.Owner("s|" + be32(600) + "|" + be32(300)); o != 0 {
		t.Errorf("§3.8 subscriptions of 600 on %d, want 0", o)
	}
	if o := bin.Owner("p|" + be32(300) + "|" + be32(12)); o != 1 {
		t.Errorf("§3.8 posts of 300 on %d, want 1", o)
	}
}

// TestServersUnowned checks that keys with no group keep the original's
// owner −1 (a Router maps them to partition 0 instead).
func TestServersUnowned(t *testing.T) {
	tn := mustServers(t, "twitternew", 2, 7)
	for _, k := range []string{"ct|" + be32(5), "cs|" + be32(1), "xxx|", "", "~"} {
		if o := tn.Owner(k); o != Unowned {
			t.Errorf("twitternew Owner(%q) = %d, want Unowned", k, o)
		}
	}
	for _, k := range []string{"c|" + be32(9), "prog|3"} {
		if o := tn.Owner(k); o != 0 {
			t.Errorf("twitternew Owner(%q) = %d, want 0", k, o)
		}
	}
	hn := mustServers(t, "hackernews", 1, 3)
	for k, want := range map[string]int{
		"a|00001000000005": 0, "v|00002000000005|0000001": 0, "k|0000003": 1, "k|0000103": 2, "ma|00001000000005|a": 1 + 1%2,
		"p|00001000000005": Unowned,
	} {
		if o := hn.Owner(k); o != want {
			t.Errorf("hackernews(1,3) Owner(%q) = %d, want %d", k, o, want)
		}
	}
	u := mustServers(t, "unit", 0, 3)
	for k, want := range map[string]int{"a": ('a' - ' ') % 3, "b|x": ('b' - ' ') % 3, "~": Unowned} {
		if o := u.Owner(k); o != want {
			t.Errorf("unit(0,3) Owner(%q) = %d, want %d", k, o, want)
		}
	}
}

func TestNewServers(t *testing.T) {
	s := mustServers(t, "twitternew", 2, 7)
	if s.Name() != "twitternew" || s.N() != 7 || s.NBacking() != 2 {
		t.Errorf("got %s %d %d", s.Name(), s.N(), s.NBacking())
	}
	for i, want := range []bool{true, true, false, false, false, false, false} {
		if s.IsBacking(i) != want {
			t.Errorf("IsBacking(%d) = %v", i, !want)
		}
	}
	if mustServers(t, "unit", 0, 3).IsBacking(0) {
		t.Error("NB=0: server 0 is not a base server")
	}
	for _, name := range ServerFuncNames() {
		one := mustServers(t, name, 0, 1)
		for _, k := range []string{"", "p|" + be32(1<<20), "t|99999999", "~"} {
			if one.Owner(k) != 0 {
				t.Errorf("%s with one server: Owner(%q) = %d", name, k, one.Owner(k))
			}
		}
	}
	d := mustServers(t, "default", 0, 4)
	if d.Name() != "default" || d.Owner("t|x") != 0 || d.Owner("~") != 0 {
		t.Errorf("default: the original's (everything on 0)")
	}
	for _, bad := range []struct {
		name  string
		nb, n int
		want  string
	}{
		{"twitternew", 2, 2, "need 0 <= nbacking < nservers"},
		{"twitternew", 7, 2, "need 0 <= nbacking < nservers"},
		{"unit", 1, 1, "need 0 <= nbacking < nservers"},
		{"twitternew", -1, 4, "need 0 <= nbacking < nservers"},
		{"twitternew", 0, 0, "at least one server"},
		{"nope", 0, 3, "unknown partition function \"nope\" (known: default, twitternew"},
	} {
		if _, err := NewServers(bad.name, bad.nb, bad.n); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("NewServers(%q, %d, %d) = %v, want %q", bad.name, bad.nb, bad.n, err, bad.want)
		}
	}
}

func TestServersAnalyze(t *testing.T) {
	s := mustServers(t, "twitternew", 2, 7)
	got := s.Analyze("p|"+be32(0), "p|"+be32(1024), 0)
	want := []Piece{{"p|" + be32(0), 0}, {"p|" + be32(256), 1}, {"p|" + be32(512), 0}, {"p|" + be32(768), 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Analyze = %+v, want %+v", got, want)
	}
	if got := s.Analyze("cp}", "p|\x00", 2); len(got) != 2 || got[0].Owner != Unowned || got[1] != (Piece{"c|", 0}) {
		t.Errorf("Analyze(limit 2) = %+v", got)
	}
}
