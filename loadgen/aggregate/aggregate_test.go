package aggregate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// twitter is a twitternew output of group g; group 0 has the server fields.
func twitter(g int) string {
	server := ""
	if g == 0 {
		server = `"server_logs": [{"backend": true, "data": {"cpu_pct": [[0, 1]]}}], "server_stats": [{"store_size": 7, "name": "<s>"}],`
	}
	return fmt.Sprintf(`{"log": {"g": %d}, %s "nposts": %d, "nbackposts": 0, "nsubscribes": 1, "nchecks": 10, "nfull": 2,
		"nposts_read": 100, "nactive": 5, "nlogouts": 1, "user_time": %d, "system_time": 0.5, "wall_time": %d}`, g, server, g+1, g, 10+g)
}

func TestAggregateTwitter(t *testing.T) {
	dir := t.TempDir()
	// Groups 0, 2 and 10: numeric order is 0, 2, 10 (lexical would be 0, 10, 2).
	for _, g := range []int{10, 0, 2} {
		write(t, dir, fmt.Sprintf("output_app_%d.json", g), twitter(g))
	}
	write(t, dir, "unrelated.json", "garbage")
	path, err := Aggregate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(dir, OutputName) {
		t.Errorf("path %s", path)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
    "client_logs": [
        {
            "g": 0
        },
        {
            "g": 2
        },
        {
            "g": 10
        }
    ],
    "server_logs": [
        {
            "backend": true,
            "data": {
                "cpu_pct": [
                    [
                        0,
                        1
                    ]
                ]
            }
        }
    ],
    "server_stats": [
        {
            "store_size": 7,
            "name": "<s>"
        }
    ],
    "ngroups": 3,
    "nposts": 15,
    "nbackposts": 0,
    "nsubscribes": 3,
    "nchecks": 30,
    "nfull": 6,
    "nposts_read": 300,
    "nactive": 15,
    "nlogouts": 3,
    "user_time": 4,
    "system_time": 0.5,
    "wall_time": 14
}
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// A second run overwrites the output and does not read it as an input.
	if _, err := Aggregate(dir); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, got) {
		t.Error("second run differs")
	}
}

func TestCombineHN(t *testing.T) {
	var inputs []Input
	for g, s := range []string{
		`{"log": {}, "server_logs": null, "server_stats": [], "nread": 10, "npost": 0, "ncomment": 1, "nvote": 2, "user_time": 1, "system_time": 2, "wall_time": 3}`,
		`{"log": {}, "nread": 20, "npost": 1, "ncomment": 1.5, "nvote": 3, "user_time": 2, "system_time": 3, "wall_time": 4, "karma_errors": 2}`,
	} {
		in, err := ParseInput(fmt.Sprintf("output_app_%d.json", 1-g), []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, in)
	}
	r, err := Combine(inputs)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != HN || r.NGroups != 2 || r.WallTime != 3.5 || r.UserTime != 1.5 || r.SystemTime != 2.5 {
		t.Errorf("%+v", r)
	}
	// server_logs: null from output_app_1 counts as present (the original
	// takes the first file with the key); group 0 has none here.
	if string(r.ServerLogs) != "null" || string(r.ServerStats) != "[]" {
		t.Errorf("server_logs %s server_stats %s", r.ServerLogs, r.ServerStats)
	}
	var names, values []string
	for _, c := range r.Counters {
		names = append(names, c.Name)
		values = append(values, c.Value.String())
	}
	if strings.Join(names, ",") != "npost,nvote,ncomment,nread,karma_errors" || strings.Join(values, ",") != "1,5,2.5,30,2" {
		t.Errorf("counters %v = %v", names, values)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, r); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["nread"] != 30.0 || m["ngroups"] != 2.0 {
		t.Errorf("%v %v\n%s", err, m, buf.Bytes())
	}
	// No server_stats anywhere: the key is omitted.
	delete(inputs[0].Fields, "server_stats")
	if r, err := Combine(inputs); err != nil || r.ServerStats != nil {
		t.Errorf("%v %s", err, r.ServerStats)
	} else if buf.Reset(); Encode(&buf, r) != nil || strings.Contains(buf.String(), "server_stats") {
		t.Errorf("server_stats in %s", buf.Bytes())
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Aggregate(dir); err == nil || !strings.Contains(err.Error(), "no output_app_*.json") {
		t.Errorf("empty dir: %v", err)
	}
	write(t, dir, "output_app_0.json", twitter(0))
	write(t, dir, "output_app_1.json", `{"log": {}, "nposts": 1,`)
	if _, err := Aggregate(dir); err == nil || !strings.Contains(err.Error(), "output_app_1.json") {
		t.Errorf("malformed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, OutputName)); err == nil {
		t.Error("output written despite the error")
	}
	for name, s := range map[string]string{
		"trailing": twitter(1) + " {}",
		"array":    `[1]`,
		"null":     `null`,
	} {
		if _, err := ParseInput(name, []byte(s)); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
	in := func(s string) Input {
		t.Helper()
		i, err := ParseInput("output_app_7.json", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	tw, err := ParseInput("output_app_0.json", []byte(twitter(0)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		in   Input
		want string
	}{
		{in(`{"log": {}}`), "neither"},
		{in(`{"nposts": 1, "nread": 2}`), "both"},
		{in(`{"nread": 1, "npost": 0, "nvote": 0, "ncomment": 0, "user_time": 0, "system_time": 0, "wall_time": 0}`), "hn output"},
		{in(strings.Replace(twitter(1), `"nfull": 2,`, "", 1)), `missing "nfull"`},
		{in(strings.Replace(twitter(1), `"wall_time": 11`, `"wall_time": "x"`, 1)), `"wall_time" is "x", not a number`},
	} {
		if _, err := Combine([]Input{tw, c.in}); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "output_app_") {
			t.Errorf("want error with %q, got %v", c.want, err)
		}
	}
	if _, err := Combine(nil); err == nil {
		t.Error("no inputs: no error")
	}
}

func TestGroupOf(t *testing.T) {
	for name, want := range map[string]int{"d/output_app_0.json": 0, "output_app_12.json": 12, "output_app_x.json": -1, "foo.json": -1, "output_app_-1.json": -1} {
		if got := groupOf(name); got != want {
			t.Errorf("groupOf(%q) = %d, want %d", name, got, want)
		}
	}
}
