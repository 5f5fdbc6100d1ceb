package wire

import (
	"bytes"
	"math"
	"testing"
)

func TestParseRequestTable(t *testing.T) {
	sub := map[string]any{"subscriber": 3}
	cases := []struct {
		name string
		msg  []byte
		want Verdict
	}{
		// §1.2: replies.
		{"reply", h("94 ff 05 ff c0"), IsReply},
		{"reply short", h("92 ff 05"), IsReply},
		{"reply uint64 cmd wraps negative", h("92 cf ff ff ff ff ff ff ff ff 05"), IsReply},
		// §1.5 rule 1: close.
		{"not an array", h("01"), Close},
		{"map frame", enc(t, map[string]any{"a": 1}), Close},
		{"nil frame", h("c0"), Close},
		{"empty array", h("90"), Close},
		{"one element", h("91 01"), Close},
		{"elem0 string", enc(t, []any{"get", 1, "t|k"}), Close},
		{"elem0 float", enc(t, []any{1.0, 1, "t|k"}), Close},
		{"elem0 nil", enc(t, []any{nil, 1}), Close},
		// Negative cmd with a non-integer seq is a request with an unknown
		// command (rule 5).
		{"negative cmd, string seq", enc(t, []any{-1, "s"}), Reject},
		// Rule 5: unknown commands.
		{"cmd 0", enc(t, []any{0, 1, "t|k"}), Reject},
		{"cmd 15", enc(t, []any{15, 1, "t|k"}), Reject},
		{"cmd 77", enc(t, []any{77, 1}), Reject},
		{"huge cmd", enc(t, []any{math.MaxInt64, 1}), Reject},
		// Rule 3: key with a table name.
		{"get ok", enc(t, []any{1, 1, "t|k"}), Accept},
		{"get seq any type", enc(t, []any{1, "seq", "t|k"}), Accept},
		{"get missing key", enc(t, []any{1, 1}), Reject},
		{"get nil key", enc(t, []any{1, 1, nil}), Reject},
		{"get int key", enc(t, []any{1, 1, 5}), Reject},
		{"get no table", enc(t, []any{1, 1, "tk"}), Reject},
		{"get empty table", enc(t, []any{1, 1, "|k"}), Reject},
		{"get brace table", enc(t, []any{1, 1, "t}"}), Accept},
		{"get bin key", h("93 01 01 c4 03 74 7c 6b"), Accept},
		{"erase ok", enc(t, []any{3, 1, "t|k"}), Accept},
		{"erase no table", enc(t, []any{3, 1, "k"}), Reject},
		{"notify_erase ok", enc(t, []any{5, 1, "t|k"}), Accept},
		// insert / notify_insert value must be a string (A6).
		{"insert ok", enc(t, []any{2, 1, "t|k", "v"}), Accept},
		{"insert empty value", enc(t, []any{2, 1, "t|k", ""}), Accept},
		{"insert int value", enc(t, []any{2, 1, "t|k", 5}), Reject},
		{"insert missing value", enc(t, []any{2, 1, "t|k"}), Reject},
		{"insert array value", enc(t, []any{2, 1, "t|k", []any{"v"}}), Reject},
		{"insert no table", enc(t, []any{2, 1, "k", "v"}), Reject},
		{"notify_insert ok", enc(t, []any{4, 1, "t|k", "v"}), Accept},
		{"notify_insert nil value", enc(t, []any{4, 1, "t|k", nil}), Reject},
		// Rule 4: ranges.
		{"count ok", enc(t, []any{6, 1, "t|a", "t|b"}), Accept},
		{"count scanlast", enc(t, []any{6, 1, "t|a", "t}", "t|m"}), Accept},
		{"count nil scanlast", enc(t, []any{6, 1, "t|a", "t}", nil}), Accept},
		{"count int scanlast", enc(t, []any{6, 1, "t|a", "t}", 5}), Reject},
		{"count missing last", enc(t, []any{6, 1, "t|a"}), Reject},
		{"count int last", enc(t, []any{6, 1, "t|a", 5}), Reject},
		{"count cross table", enc(t, []any{6, 1, "t|a", "u|b"}), Reject},
		{"count no table", enc(t, []any{6, 1, "a", "b"}), Reject},
		{"count last without sep", enc(t, []any{6, 1, "t|a", "tz"}), Reject},
		{"scan ok", enc(t, []any{7, 1, "t|", "t}"}), Accept},
		{"scan cross", enc(t, []any{7, 1, "t|", "tt}"}), Reject},
		{"subscribe ok", enc(t, []any{8, 1, "t|", "t}", sub}), Accept},
		{"subscribe wrong key", h("95 08 01 a2 74 7c a2 74 7d 81 a0 03"), Reject},
		{"subscribe no map", enc(t, []any{8, 1, "t|", "t}"}), Reject},
		{"subscribe string subscriber", enc(t, []any{8, 1, "t|", "t}", map[string]any{"subscriber": "3"}}), Reject},
		{"subscribe bad range", enc(t, []any{8, 1, "t|", "u}", sub}), Reject},
		{"unsubscribe ok", enc(t, []any{9, 1, "t|", "t}", sub}), Accept},
		{"unsubscribe missing", enc(t, []any{9, 1, "t|", "t}", map[string]any{}}), Reject},
		{"invalidate ok", enc(t, []any{10, 1, "t|", "t}"}), Accept},
		{"invalidate no table", enc(t, []any{10, 1, "t", "t}"}), Reject},
		{"add_join ok", enc(t, []any{11, 1, "t|", "t}", "t|<a> = copy s|<a>"}), Accept},
		{"add_join missing spec", enc(t, []any{11, 1, "t|", "t}"}), Reject},
		{"add_join bad range", enc(t, []any{11, 1, "t|", "s}", "x"}), Reject},
		// No table checks for stats, control, noop_get.
		{"stats", enc(t, []any{12, 1}), Accept},
		{"control", enc(t, []any{13, 1, map[string]any{"is_ready": true}}), Accept},
		{"control non-map", enc(t, []any{13, 1, 5}), Accept},
		{"noop_get", enc(t, []any{14, 1, "nokey"}), Accept},
		{"noop_get no key", enc(t, []any{14, 1}), Accept},
	}
	for _, c := range cases {
		v := MustParse(c.msg)
		r, got := ParseRequest(v)
		if got != c.want {
			t.Errorf("%s: verdict %s (%s), want %s", c.name, got, r.Reason, c.want)
		}
		if got != Accept && r.Reason == "" {
			t.Errorf("%s: no reason", c.name)
		}
	}
}

func TestRequestAccessorsAndReplies(t *testing.T) {
	// A non-canonical seq (cd 00 05) is echoed byte-for-byte.
	in := h("95 06 cd 00 05 a3 74 7c 61 a2 74 7d a3 74 7c 6d")
	r, v := ParseRequest(MustParse(in))
	if v != Accept || r.Cmd != CmdCount || !bytes.Equal(r.SeqRaw, h("cd 00 05")) {
		t.Fatalf("verdict %s cmd %s seq % x", v, r.Cmd, r.SeqRaw)
	}
	if string(r.Key()) != "t|a" || string(r.Last()) != "t}" || string(r.ScanLast()) != "t|m" || r.NArgs() != 5 {
		t.Fatalf("accessors: %q %q %q %d", r.Key(), r.Last(), r.ScanLast(), r.NArgs())
	}
	if s, ok := r.Seq(); !ok || s != 5 {
		t.Fatal("seq")
	}
	if r.Arg(7).Exists() || !r.Arg(4).IsStr() {
		t.Fatal("Arg")
	}
	got := AppendReply(nil, r.Cmd, r.SeqRaw, StatusOK, func(b []byte) []byte { return AppendInt(b, 300) })
	if want := h("94 fa cd 00 05 00 cd 01 2c"); !bytes.Equal(got, want) {
		t.Fatalf("reply % x, want % x", got, want)
	}
	if got := AppendFailReply(nil, &r); !bytes.Equal(got, h("94 fa cd 00 05 ff c0")) {
		t.Fatalf("fail reply % x", got)
	}
	if got := AppendOKReply(nil, &r); !bytes.Equal(got, h("94 fa cd 00 05 00 c0")) {
		t.Fatalf("ok reply % x", got)
	}
	// A string seq is echoed too (the server does not check it, §1.3).
	r, _ = ParseRequest(MustParse(enc(t, []any{1, "abc", "t|k"})))
	if got := AppendFailReply(nil, &r); !bytes.Equal(got, h("94 ff a3 61 62 63 ff c0")) {
		t.Fatalf("string seq reply % x", got)
	}
	// Scan payload: a flat array of pairs.
	got = AppendReply(nil, CmdScan, []byte{1}, StatusOK, func(b []byte) []byte {
		b = AppendArrayHeader(b, 2)
		return AppendString(AppendString(b, "t|a"), "1")
	})
	if !bytes.Equal(got, h("94 f9 01 00 92 a3 74 7c 61 a1 31")) {
		t.Fatalf("scan reply % x", got)
	}
	r, _ = ParseRequest(MustParse(enc(t, []any{8, 1, "t|", "t}", map[string]any{"subscriber": 4}})))
	if s, ok := r.Subscriber(); !ok || s != 4 {
		t.Fatal("Subscriber")
	}
	if !IsReplyMsg(MustParse(h("94 ff 05 ff c0"))) || IsReplyMsg(MustParse(h("93 01 05 a0"))) || IsReplyMsg(MustParse(h("92 ff a0"))) {
		t.Fatal("IsReplyMsg")
	}
	rep, ok := ParseReply(MustParse(h("94 fa cd 00 05 00 cd 01 2c")))
	if !ok || rep.Cmd != CmdCount || rep.Seq != 5 || rep.Status != 0 || !rep.Payload.IsInteger() {
		t.Fatalf("ParseReply = %+v %v", rep, ok)
	}
	rep, ok = ParseReply(MustParse(h("92 f9 07")))
	if !ok || rep.Cmd != CmdScan || rep.Status != StatusFail || rep.Payload.Exists() {
		t.Fatalf("short ParseReply = %+v %v", rep, ok)
	}
	if _, ok := ParseReply(MustParse(h("94 01 05 00 c0"))); ok {
		t.Fatal("ParseReply accepted a request")
	}
	if CmdAddJoin.String() != "add_join" || CmdNoopGet.String() != "noop_get" || Cmd(99).String() != "cmd(99)" {
		t.Fatal("Cmd.String")
	}
	if len(NoopGetValue) != 512 || bytes.Count(NoopGetValue, []byte{'.'}) != 512 {
		t.Fatal("NoopGetValue")
	}
}
