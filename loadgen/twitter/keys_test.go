package twitter

import (
	"testing"
)

func TestKeyEncodings(t *testing.T) {
	bin, txt := Keys{Binary: true}, Keys{}
	for _, c := range []struct {
		name, got, want string
	}{
		{"sub bin", bin.Subscription(1, 0x01020304), "s|\x00\x00\x00\x01|\x01\x02\x03\x04"},
		{"sub txt", txt.Subscription(1, 1234), "s|00000001|00001234"},
		{"post bin", bin.Post(7, BaseTime, false), "p|\x00\x00\x00\x07|\x3b\x9a\xca\x00"},
		{"post txt", txt.Post(7, BaseTime, false), "p|00000007|1000000000"},
		{"cpost bin", bin.Post(7, 5, true), "cp|\x00\x00\x00\x07|\x00\x00\x00\x05"},
		{"cpost txt", txt.Post(7, 5, true), "cp|00000007|0000000005"},
		{"celeb bin", bin.Celebrity(258), "c|\x00\x00\x01\x02"},
		{"celeb txt", txt.Celebrity(258), "c|00000258"},
		{"tl bin", bin.Timeline(1, 2, 3), "t|\x00\x00\x00\x01|\x00\x00\x00\x02|\x00\x00\x00\x03"},
		{"tl txt", txt.Timeline(1, 2, 3), "t|00000001|0000000002|00000003"},
		{"tlat bin", bin.TimelineAt(1, 2), "t|\x00\x00\x00\x01|\x00\x00\x00\x02"},
		{"tlat txt", txt.TimelineAt(1, 2), "t|00000001|0000000002"},
		{"tlend bin", bin.TimelineEnd(1), "t|\x00\x00\x00\x01}"},
		{"tlend txt", txt.TimelineEnd(1), "t|00000001}"},
		{"prog", Progress(3), "prog|003"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	// Widths of §2.3 and §2.11.
	for _, c := range []struct {
		name string
		got  string
		want int
	}{
		{"s| txt", txt.Subscription(0, 0), 19}, {"s| bin", bin.Subscription(0, 0), 11},
		{"p| txt", txt.Post(0, 0, false), 21}, {"p| bin", bin.Post(0, 0, false), 11},
		{"cp| txt", txt.Post(0, 0, true), 22}, {"cp| bin", bin.Post(0, 0, true), 12},
		{"c| txt", txt.Celebrity(0), 10}, {"c| bin", bin.Celebrity(0), 6},
		{"t| txt", txt.Timeline(0, 0, 0), 30}, {"t| bin", bin.Timeline(0, 0, 0), 16},
		{"check first bin", bin.TimelineAt(0, 0), 11}, {"check last bin", bin.TimelineEnd(0), 7},
		{"prog", Progress(0), 8},
	} {
		if len(c.got) != c.want {
			t.Errorf("%s: length %d, want %d", c.name, len(c.got), c.want)
		}
	}
	for _, k := range []Keys{bin, txt} {
		f, l := k.Followers(9)
		if f != k.Subscription(9, 0)[:len(f)] || l != f+"}" {
			t.Errorf("binary=%v: follower range [%q, %q)", k.Binary, f, l)
		}
		if u, tm, p, ok := k.ParseTimeline([]byte(k.Timeline(11, BaseTime+5, 4000))); !ok || u != 11 || tm != BaseTime+5 || p != 4000 {
			t.Errorf("binary=%v: ParseTimeline = %d %d %d %v", k.Binary, u, tm, p, ok)
		}
		if f, ok := k.ParseSubscriptionSecond([]byte(k.Subscription(3, 77))); !ok || f != 77 {
			t.Errorf("binary=%v: ParseSubscriptionSecond = %d %v", k.Binary, f, ok)
		}
		if tm, ok := k.ParsePostTime([]byte(k.Post(3, 12345, false))); !ok || tm != 12345 {
			t.Errorf("binary=%v: ParsePostTime = %d %v", k.Binary, tm, ok)
		}
		if _, _, _, ok := k.ParseTimeline([]byte("t|")); ok {
			t.Errorf("binary=%v: short key parsed", k.Binary)
		}
	}
	// Binary keys sort numerically.
	if !(bin.Post(1, 255, false) < bin.Post(1, 256, false)) || !(bin.Timeline(255, 0, 0) < bin.Timeline(256, 0, 0)) {
		t.Error("binary keys do not sort numerically")
	}
}

func TestJoinStrings(t *testing.T) {
	const (
		lazyBin   = "t|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster> where user:4nt, time:4n, poster:4nt"
		pushBin   = "xxx|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster>, t|<user>|<time>|<poster> where user:4nt, time:4n, poster:4nt"
		ctBin     = "ct|<time>|<poster> = copy cp|<poster>|<time> where poster:4n, time:4n"
		ctTxt     = "ct|<time>|<poster> = copy cp|<poster>|<time> where poster:8, time:10"
		csBinSub  = "cs|<user>|<poster> = copy c|<poster> using s|<user>|<poster> where user:4nt, poster:4n"
		csTxtSub  = "cs|<user>|<poster> = copy c|<poster> using s|<user>|<poster> where user:8t, poster:8"
		csBin     = "cs|<user>|<poster> = copy c|<poster> using s|<user>|<poster> where user:4n, poster:4n"
		csTxt     = "cs|<user>|<poster> = copy c|<poster> using s|<user>|<poster> where user:8, poster:8"
		tcBinSub  = "t|<user>|<time>|<poster> = pull copy ct|<time>|<poster> using filter cs|<user>|<poster> where user:4nt, time:4n, poster:4n"
		tcTxtSub  = "t|<user>|<time>|<poster> = pull copy ct|<time>|<poster> using filter cs|<user>|<poster> where user:8t, time:10, poster:8"
		tcBin     = "t|<user>|<time>|<poster> = pull copy ct|<time>|<poster> using filter cs|<user>|<poster> where user:4n, time:4n, poster:4n"
		tcTxt     = "t|<user>|<time>|<poster> = pull copy ct|<time>|<poster> using filter cs|<user>|<poster> where user:8, time:10, poster:8"
		lazyTxt   = "t|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster> where user:8t, time:10, poster:8t"
		lazyBinNo = "t|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster> where user:4n, time:4n, poster:4n"
		lazyTxtNo = "t|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster> where user:8, time:10, poster:8"
	)
	tl := func(text string) JoinSpec { return JoinSpec{"t|", "t}", text} }
	celeb := func(ct, cs, tc string) []JoinSpec {
		return []JoinSpec{{"ct|", "ct}", ct}, {"cs|", "cs}", cs}, tl(tc)}
	}
	for _, c := range []struct {
		name string
		set  func(*Params)
		want []JoinSpec
	}{
		{"lazy binary", func(p *Params) {}, []JoinSpec{tl(lazyBin)}},
		{"lazy text", func(p *Params) { p.Binary = false }, []JoinSpec{tl(lazyTxt)}},
		{"lazy binary plain", func(p *Params) { p.Subtables = false }, []JoinSpec{tl(lazyBinNo)}},
		{"lazy text plain", func(p *Params) { p.Subtables, p.Binary = false, false }, []JoinSpec{tl(lazyTxtNo)}},
		{"pull", func(p *Params) { p.Pull = true },
			[]JoinSpec{tl("t|<user>|<time>|<poster> = pull copy p|<poster>|<time> using s|<user>|<poster> where user:4nt, time:4n, poster:4nt")}},
		{"eager", func(p *Params) { p.Eager = true },
			[]JoinSpec{tl("t|<user>|<time>|<poster> = copy p|<poster>|<time> using eager s|<user>|<poster> where user:4nt, time:4n, poster:4nt")}},
		{"pull eager text", func(p *Params) { p.Pull, p.Eager, p.Binary = true, true, false },
			[]JoinSpec{tl("t|<user>|<time>|<poster> = pull copy p|<poster>|<time> using eager s|<user>|<poster> where user:8t, time:10, poster:8t")}},
		{"push", func(p *Params) { p.Push = true }, []JoinSpec{{"xxx|", "xxx}", pushBin}}},
		{"push celebrity", func(p *Params) { p.Push, p.Celebrity = true, 5 }, []JoinSpec{{"xxx|", "xxx}", pushBin}}},
		{"push text plain", func(p *Params) { p.Push, p.Binary, p.Subtables = true, false, false },
			[]JoinSpec{{"xxx|", "xxx}", "xxx|<user>|<time>|<poster> = copy p|<poster>|<time> using s|<user>|<poster>, t|<user>|<time>|<poster> where user:8, time:10, poster:8"}}},
		{"celebrity binary", func(p *Params) { p.Celebrity = 5 }, append([]JoinSpec{tl(lazyBin)}, celeb(ctBin, csBinSub, tcBinSub)...)},
		{"celebrity text", func(p *Params) { p.Celebrity, p.Binary = 5, false }, append([]JoinSpec{tl(lazyTxt)}, celeb(ctTxt, csTxtSub, tcTxtSub)...)},
		{"celebrity binary plain", func(p *Params) { p.Celebrity, p.Subtables = 5, false }, append([]JoinSpec{tl(lazyBinNo)}, celeb(ctBin, csBin, tcBin)...)},
		{"celebrity text plain", func(p *Params) { p.Celebrity, p.Subtables, p.Binary = 5, false, false }, append([]JoinSpec{tl(lazyTxtNo)}, celeb(ctTxt, csTxt, tcTxt)...)},
	} {
		p := DefaultParams()
		c.set(&p)
		got := Joins(p)
		if len(got) != len(c.want) {
			t.Errorf("%s: %d joins, want %d: %q", c.name, len(got), len(c.want), got)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: join %d\n got %q\nwant %q", c.name, i, got[i], c.want[i])
			}
		}
	}
}
