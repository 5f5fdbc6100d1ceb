package hn

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestModelRules(t *testing.T) {
	m := NewModel(5)
	aid, k, err := m.PostArticle(3)
	if err != nil || aid != 0 || k != 1 {
		t.Fatalf("PostArticle = %d, %d, %v; want 0, 1 (self-vote counted)", aid, k, err)
	}
	if !m.HasVoted(3, aid) {
		t.Error("the author's self-vote is not recorded")
	}
	if ok, k := m.Vote(3, aid, false); ok || k != 1 {
		t.Errorf("author's second vote = %v, %d; want skipped", ok, k)
	}
	if ok, k := m.Vote(1, aid, false); !ok || k != 2 {
		t.Errorf("vote = %v, %d; want accepted, karma 2", ok, k)
	}
	if ok, _ := m.Vote(1, aid, false); ok {
		t.Error("duplicate vote accepted")
	}
	if ok, k := m.Vote(1, aid, true); !ok || k != 3 {
		t.Errorf("forced duplicate vote (run_only) = %v, %d; want accepted, 3", ok, k)
	}
	aid2, k, _ := m.PostArticle(3)
	if aid2 != 1 || k != 4 {
		t.Errorf("second article: %d, karma %d; want 1, 4 (karma spans articles)", aid2, k)
	}
	if m.Votes() != 2 || m.Karma(1) != 0 || m.Karma(3) != 4 {
		t.Errorf("votes %d karma(1) %d karma(3) %d", m.Votes(), m.Karma(1), m.Karma(3))
	}
	for i := 0; i < 3; i++ {
		if cid, err := m.NextComment(); err != nil || cid != uint32(i) {
			t.Errorf("comment id %d, %v; want %d", cid, err, i)
		}
	}
	var b bytes.Buffer
	m.WriteKarma(&b)
	if b.String() != "karma 0000003 4\n" {
		t.Errorf("karma table %q", b.String())
	}
}

func TestKarmaBounds(t *testing.T) {
	m := NewModel(2)
	m.PostArticle(0)
	m.trackAcks() // karma(0) = 1, acknowledged
	mark0 := m.ackMark()
	for i := 0; i < 4; i++ {
		m.Vote(1, 0, true)
	}
	// Four votes issued, none acknowledged: a read may see 1..5.
	for k, want := range map[int64]bool{0: true, 1: true, 5: true, 6: false} {
		if got := m.KarmaOK(0, k, mark0); got != want {
			t.Errorf("before acks: KarmaOK(%d) = %v, want %v", k, got, want)
		}
	}
	for i := 0; i < 4; i++ {
		m.ack(0)
	}
	mark := m.ackMark()
	// All five acknowledged before the read: k must be within 2 of 5.
	for k, want := range map[int64]bool{2: false, 3: true, 5: true, 6: false, -1: false} {
		if got := m.KarmaOK(0, k, mark); got != want {
			t.Errorf("after acks: KarmaOK(%d) = %v, want %v", k, got, want)
		}
	}
	if !m.KarmaOK(1, -1, mark) {
		t.Error("no karma for a user with none rejected")
	}
}

func TestReplayPopulation(t *testing.T) {
	p := Params{HNUsers: 10, NArticles: 100}
	a, _ := ReplayPopulation(p)
	b, _ := ReplayPopulation(p)
	if a.Articles() != 100 || a.Comments() != b.Comments() || a.Votes() != b.Votes() {
		t.Fatalf("replay not deterministic: %d/%d %d/%d", a.Comments(), b.Comments(), a.Votes(), b.Votes())
	}
	var sum int64
	for u := 0; u < 10; u++ {
		sum += a.Karma(uint32(u))
	}
	if sum != a.Votes()+100 {
		t.Errorf("karma sum %d, want votes %d + 100 self-votes", sum, a.Votes())
	}
	for aid := uint32(0); aid < 100; aid++ {
		if a.Author(aid) != aid%10 {
			t.Fatalf("author of %d = %d", aid, a.Author(aid))
		}
	}
}

func TestDiffStats(t *testing.T) {
	start := []json.RawMessage{json.RawMessage(`{"server_user_time": 1.5, "server_wall_time": 10, "store_size": 3}`)}
	end := []json.RawMessage{json.RawMessage(`{"store_size": 7, "server_user_time": 2, "server_wall_time": 12.25, "server_wall_time_evict": 0, "tables": [{"name": "a"}]}`)}
	got, err := diffStats(start, end)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"store_size":7,"server_user_time":0.5,"server_wall_time":2.25,"server_wall_time_evict":0,"tables":[{"name": "a"}]}`
	if string(got[0]) != want {
		t.Errorf("got  %s\nwant %s", got[0], want)
	}
	if _, err := diffStats(start, []json.RawMessage{json.RawMessage(`[1]`)}); err == nil {
		t.Error("non-object stats accepted")
	}
}
