package reactor

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/wire"
)

const testSecret = "correct horse battery staple"

func TestIsLoopback(t *testing.T) {
	tcp := func(ip string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: 4242} }
	for _, tc := range []struct {
		name string
		addr net.Addr
		want bool
	}{
		{"127.0.0.1", tcp("127.0.0.1"), true},
		{"127.9.8.7", tcp("127.9.8.7"), true},
		{"::1", tcp("::1"), true},
		{"v4-mapped 127.0.0.1", tcp("::ffff:127.0.0.1"), true},
		{"udp 127.0.0.1", &net.UDPAddr{IP: net.ParseIP("127.0.0.1")}, true},
		{"ip ::1", &net.IPAddr{IP: net.ParseIP("::1")}, true},
		{"LAN", tcp("192.168.1.20"), false},
		{"10/8", tcp("10.0.0.1"), false},
		{"v4-mapped LAN", tcp("::ffff:10.0.0.1"), false},
		{"unspecified", tcp("0.0.0.0"), false},
		{"v6 unspecified", tcp("::"), false},
		{"public v6", tcp("2001:db8::1"), false},
		{"no IP", &net.TCPAddr{}, false},
		{"nil", nil, false},
		{"typed nil", (*net.TCPAddr)(nil), false},
		{"unix", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, false},
	} {
		if got := isLoopback(tc.addr); got != tc.want {
			t.Errorf("%s: isLoopback(%v) = %v, want %v", tc.name, tc.addr, got, tc.want)
		}
	}
}

// TestRefusal is the policy for connections that have not authenticated
// to a server with a secret.
func TestRefusal(t *testing.T) {
	ctl := func(obj map[string]any) *partition.Request {
		return &partition.Request{Cmd: wire.CmdControl, Control: obj}
	}
	for _, tc := range []struct {
		name      string
		q         *partition.Request
		loopback  string // "" = allowed from loopback, else a substring of the refusal
		elsewhere string // the same from a non-loopback address
	}{
		{"get", &partition.Request{Cmd: wire.CmdGet, Key: "p|a"}, "", "authentication required"},
		{"insert", &partition.Request{Cmd: wire.CmdInsert, Key: "p|a"}, "", "authentication required"},
		{"scan", &partition.Request{Cmd: wire.CmdScan, Key: "p|", Arg3: "p}"}, "", "authentication required"},
		{"add_join", &partition.Request{Cmd: wire.CmdAddJoin}, "", "authentication required"},
		{"stats", &partition.Request{Cmd: wire.CmdStats}, "", "authentication required"},
		{"notify_insert", &partition.Request{Cmd: wire.CmdNotifyInsert}, "", "authentication required"},
		{"is_ready", ctl(map[string]any{"is_ready": true}), "", "authentication required"},
		{"get_log", ctl(map[string]any{"get_log": true}), "", "authentication required"},
		{"find_stored", ctl(map[string]any{"find_stored": "p|a"}), "", "authentication required"},
		{"empty control", ctl(map[string]any{}), "", "authentication required"},
		{"non-map control", ctl(nil), "", "authentication required"},
		{"quit", ctl(map[string]any{"quit": true}), `admin control "quit"`, `admin control "quit"`},
		{"quit false", ctl(map[string]any{"quit": false}), `admin control "quit"`, `admin control "quit"`},
		{"write_log", ctl(map[string]any{"write_log": true}), `"write_log"`, `"write_log"`},
		{"clear_log", ctl(map[string]any{"clear_log": true}), `"clear_log"`, `"clear_log"`},
		{"print_table_keys", ctl(map[string]any{"print_table_keys": "p|"}), `"print_table_keys"`, `"print_table_keys"`},
		{"interconnect", ctl(map[string]any{"interconnect": int64(1)}), `"interconnect"`, `"interconnect"`},
		{"unknown key", ctl(map[string]any{"frobnicate": true}), `"frobnicate"`, `"frobnicate"`},
		{"reads plus admin", ctl(map[string]any{"get_log": true, "print_validation_log": true}), `"print_validation_log"`, `"print_validation_log"`},
	} {
		for _, side := range []struct {
			loopback bool
			want     string
		}{{true, tc.loopback}, {false, tc.elsewhere}} {
			got := refusal(side.loopback, tc.q)
			if side.want == "" && got != "" || side.want != "" && !strings.Contains(got, side.want) {
				t.Errorf("%s (loopback %v): refusal %q, want %q", tc.name, side.loopback, got, side.want)
			}
		}
	}
}

// expectFailure asserts the next message is the failure reply
// [-cmd, seq, -1, msg] with substr in msg.
func expectFailure(t *testing.T, r *rawConn, cmd wire.Cmd, seq int, substr string) {
	t.Helper()
	m, err := r.read(5 * time.Second)
	if err != nil {
		t.Fatalf("expected a failure reply, got error %v", err)
	}
	rep, ok := wire.ParseReply(m)
	if !ok || rep.Cmd != cmd || rep.Seq != int64(seq) || rep.Status != wire.StatusFail || !strings.Contains(rep.Payload.Str(), substr) {
		t.Fatalf("reply %v, want [-%d, %d, -1, \"...%s...\"]", m, cmd, seq, substr)
	}
}

// TestAuthLoopback: with a secret, a loopback connection reads and writes
// without authenticating, but admin controls are refused (and not
// dispatched) until it has; a wrong secret is told so; requests pipelined
// behind a good auth are served.
func TestAuthLoopback(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, sink := startServer(t, Config{Secret: []byte(testSecret)}, f)
	r := dialRaw(t, s)

	r.send(msg(2, 1, "p|a", "1"))
	r.expectReply(`[-2,1,0,null]`)
	r.send(msg(1, 2, "p|a"))
	r.expectReply(`[-1,2,0,"1"]`)
	r.send(msg(13, 3, map[string]any{"is_ready": true}))
	r.expectReply(`[-13,3,0,true]`)

	before := f.requests.Load()
	r.send(msg(13, 4, map[string]any{"clear_log": true}))
	expectFailure(t, r, wire.CmdControl, 4, `authentication required for admin control "clear_log"`)
	r.send(msg(13, 5, map[string]any{"auth": "not the secret"}))
	expectFailure(t, r, wire.CmdControl, 5, "auth: wrong secret")
	r.send(msg(13, 6, map[string]any{"auth": testSecret, "clear_log": true}))
	expectFailure(t, r, wire.CmdControl, 6, "alone")
	r.send(msg(13, 7, map[string]any{"auth": 42}))
	expectFailure(t, r, wire.CmdControl, 7, "must be a string")
	if n := f.requests.Load(); n != before {
		t.Fatalf("%d refused or auth requests reached the partitions", n-before)
	}
	if sink.count("authentication failed") != 1 || sink.count("refused a request") != 1 {
		t.Errorf("want one log line each for a failed auth and a refusal per connection: %q", sink.lines)
	}

	// One write: an admin control before the auth is refused, the auth
	// succeeds, and the admin control after it is dispatched.
	r.send(append(append(msg(13, 8, map[string]any{"clear_log": true}),
		msg(13, 9, map[string]any{"auth": testSecret})...),
		msg(13, 10, map[string]any{"clear_log": true})...))
	got := map[int64]wire.Reply{}
	for range 3 {
		m, err := r.read(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := wire.ParseReply(m)
		got[rep.Seq] = rep
	}
	if got[8].Status != wire.StatusFail || got[9].Status != wire.StatusOK || !got[9].Payload.Bool() || got[10].Status != wire.StatusOK {
		t.Fatalf("replies: 8 %v, 9 %v %v, 10 %v; want refused, true, ok", got[8].Status, got[9].Status, got[9].Payload, got[10].Status)
	}
	// A wrong secret later does not undo the authentication.
	r.send(msg(13, 11, map[string]any{"auth": "wrong"}))
	expectFailure(t, r, wire.CmdControl, 11, "wrong secret")
	r.send(msg(13, 12, map[string]any{"clear_log": true}))
	r.expectReply(`[-13,12,0,{}]`)
}

// TestAuthNonLoopback connects through a non-loopback address of this
// machine: every request but the auth control is refused until the
// connection authenticates, and the connection stays usable.
func TestAuthNonLoopback(t *testing.T) {
	ip := nonLoopbackIP(t)
	f := newFakeParts(t)
	s, _ := startServer(t, Config{Addr: net.JoinHostPort(ip.String(), "0"), Secret: []byte(testSecret)}, f)
	r := dialRaw(t, s)
	if isLoopback(r.c.LocalAddr()) {
		t.Skipf("connection to %s comes from loopback %v", s.Addr(), r.c.LocalAddr())
	}

	r.send(msg(1, 1, "p|a"))
	expectFailure(t, r, wire.CmdGet, 1, "authentication required")
	r.send(msg(2, 2, "p|a", "x"))
	expectFailure(t, r, wire.CmdInsert, 2, "authentication required")
	r.send(msg(13, 3, map[string]any{"is_ready": true}))
	expectFailure(t, r, wire.CmdControl, 3, "authentication required")
	r.send(msg(12, 4))
	expectFailure(t, r, wire.CmdStats, 4, "authentication required")
	if n := f.requests.Load(); n != 0 {
		t.Fatalf("%d requests of an unauthenticated connection reached the partitions", n)
	}
	if _, ok := f.get("p|a"); ok {
		t.Fatal("the refused insert was executed")
	}
	r.send(msg(13, 5, map[string]any{"auth": testSecret}))
	r.expectReply(`[-13,5,0,true]`)
	r.send(msg(2, 6, "p|a", "x"))
	r.expectReply(`[-2,6,0,null]`)

	// The Go client authenticates as its first request.
	ctx := ctxT(t)
	c, err := wire.DialContext(ctx, s.Addr().String(), &wire.Options{Auth: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if v, err := c.Get(ctx, "p|a"); err != nil || string(v) != "x" {
		t.Fatalf("get after auth = %q, %v", v, err)
	}
}

// nonLoopbackIP returns an IPv4 address of this machine that is not
// loopback, or skips the test.
func nonLoopbackIP(t *testing.T) net.IP {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("interface addresses: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP
		}
	}
	t.Skip("no non-loopback IPv4 address on this machine")
	return nil
}

// TestAuthNoSecret: without a secret every request is served, and an auth
// control says there is no secret (it is not a silent success).
func TestAuthNoSecret(t *testing.T) {
	f := newFakeParts(t)
	s, _ := startServer(t, Config{}, f)
	r := dialRaw(t, s)
	r.send(msg(13, 1, map[string]any{"clear_log": true}))
	r.expectReply(`[-13,1,0,{}]`)
	r.send(msg(13, 2, map[string]any{"auth": testSecret}))
	expectFailure(t, r, wire.CmdControl, 2, "no secret configured")

	_, err := wire.DialContext(ctxT(t), s.Addr().String(), &wire.Options{Auth: []byte(testSecret)})
	if !errors.Is(err, wire.ErrAuthRefused) || !strings.Contains(err.Error(), "no secret configured") {
		t.Fatalf("dial with a secret to a server without one: %v", err)
	}
}

// TestAuthClientOption: wire.Options.Auth authenticates a client, which
// may then use admin controls; a wrong secret fails the dial.
func TestAuthClientOption(t *testing.T) {
	checkGoroutines(t)
	f := newFakeParts(t)
	s, _ := startServer(t, Config{Secret: []byte(testSecret)}, f)
	ctx := ctxT(t)

	_, err := wire.DialContext(ctx, s.Addr().String(), &wire.Options{Auth: []byte("wrong secret, long enough")})
	if !errors.Is(err, wire.ErrAuthRefused) || !strings.Contains(err.Error(), "wrong secret") {
		t.Fatalf("dial with a wrong secret: %v", err)
	}

	plain := dial(t, s)
	if _, err := plain.Control(ctx, map[string]any{"clear_log": true}); err == nil {
		t.Fatal("admin control without auth succeeded")
	}
	c, err := wire.DialContext(ctx, s.Addr().String(), &wire.Options{Auth: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Control(ctx, map[string]any{"clear_log": true}); err != nil {
		t.Fatalf("admin control after auth: %v", err)
	}
	if err := c.Auth(context.Background(), []byte(testSecret)); err != nil {
		t.Fatalf("auth again: %v", err)
	}
}
