package route

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseHosts(t *testing.T) {
	in := "# a cluster\n" +
		"  10.0.0.1 7000  \n" +
		"\n" +
		"\t# indented comment\n" +
		"base-2\t7001 extra columns ignored\n" +
		"10.0.0.1 7001\n" +
		"cache.example 7002" // no final newline
	hosts, err := ParseHosts(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Host{
		{Seqid: 0, Name: "10.0.0.1", Port: 7000, Line: 2},
		{Seqid: 1, Name: "base-2", Port: 7001, Line: 5},
		{Seqid: 2, Name: "10.0.0.1", Port: 7001, Line: 6},
		{Seqid: 3, Name: "cache.example", Port: 7002, Line: 7},
	}
	if len(hosts) != len(want) {
		t.Fatalf("got %d hosts %+v, want %d", len(hosts), hosts, len(want))
	}
	for i := range want {
		if hosts[i] != want[i] {
			t.Errorf("host %d = %+v, want %+v", i, hosts[i], want[i])
		}
	}
	if a := hosts[3].Addr(); a != "cache.example:7002" {
		t.Errorf("Addr = %q", a)
	}
	if s := hosts[1].String(); s != "server 1 (base-2:7001)" {
		t.Errorf("String = %q", s)
	}
}

func TestParseHostsErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"h1 7000\nh2\n", "line 2: \"h2\": missing port"},
		{"# c\n\nh1 seven\n", "line 3: bad port \"seven\" for host \"h1\""},
		{"h1 0\n", "line 1: bad port \"0\""},
		{"h1 65536\n", "line 1: bad port \"65536\""},
		{"h1 -5\n", "line 1: bad port \"-5\""},
		{"h1 7000\n# x\nh1 7000\n", "line 3: h1:7000 repeats line 1"},
		{"", "no servers listed"},
		{"# only comments\n\n   \n", "no servers listed"},
	} {
		_, err := ParseHosts(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseHosts(%q) = %v, want an error containing %q", c.in, err, c.want)
		}
	}
}

func TestReadHostFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts.txt")
	if err := os.WriteFile(path, []byte("127.0.0.1 7000\n127.0.0.1 x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadHostFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ReadHostFile(bad) = %v, want the path and line 2", err)
	}
	if _, err := ReadHostFile(filepath.Join(dir, "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadHostFile(missing) = %v", err)
	}
}

// fakeResolver answers from a table and counts lookups.
type fakeResolver struct {
	m       map[string][]net.IP
	lookups []string
}

func (f *fakeResolver) LookupIP(_ context.Context, network, host string) ([]net.IP, error) {
	f.lookups = append(f.lookups, host)
	if network != "ip4" {
		return nil, errors.New("want ip4 lookups")
	}
	ips, ok := f.m[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return ips, nil
}

func TestResolveIPv4(t *testing.T) {
	r := &fakeResolver{m: map[string][]net.IP{
		"a.example":  {net.ParseIP("10.1.2.3")}, // 16-byte form
		"v6.example": {net.ParseIP("2001:db8::1")},
	}}
	ctx := context.Background()
	for _, c := range []struct{ name, want, err string }{
		{"192.168.0.9", "192.168.0.9", ""},
		{"a.example", "10.1.2.3", ""},
		{"v6.example", "", "no IPv4 address"},
		{"nowhere.example", "", "no such host"},
		{"::1", "", "not an IPv4 address"},
	} {
		a, err := ResolveIPv4(ctx, r, c.name)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ResolveIPv4(%q) = %v, %v; want error %q", c.name, a, err, c.err)
			}
			continue
		}
		if err != nil || a.String() != c.want {
			t.Errorf("ResolveIPv4(%q) = %v, %v; want %s", c.name, a, err, c.want)
		}
	}
	if len(r.lookups) != 3 {
		t.Errorf("lookups %v: dotted quads must not be looked up", r.lookups)
	}
}

func TestIdentity(t *testing.T) {
	if got := Identity(netip.MustParseAddr("10.0.0.1"), 7000); got != 0x0a000001<<32|7000 {
		t.Errorf("Identity = %#x", got)
	}
}

func TestFindSelf(t *testing.T) {
	hosts, err := ParseHosts(strings.NewReader(
		"base0 7000\nbase1 7000\n10.0.0.3 7000\n10.0.0.3 7001\nunresolvable 9999\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeResolver{m: map[string][]net.IP{
		"base0": {net.ParseIP("10.0.0.1")},
		"base1": {net.ParseIP("10.0.0.2")},
	}}
	ctx := context.Background()
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	for _, c := range []struct {
		addrs []netip.Addr
		port  int
		want  int
	}{
		{addrs("127.0.0.1", "10.0.0.2"), 7000, 1},
		{addrs("10.0.0.1"), 7000, 0},
		{addrs("10.0.0.3"), 7000, 2},
		{addrs("10.0.0.3"), 7001, 3},
	} {
		got, err := FindSelf(ctx, r, hosts, c.addrs, c.port)
		if err != nil || got != c.want {
			t.Errorf("FindSelf(%v, %d) = %d, %v; want %d", c.addrs, c.port, got, err, c.want)
		}
	}
	// The host on port 9999 is never resolved unless we listen there.
	if _, err := FindSelf(ctx, r, hosts, addrs("10.0.0.9"), 7000); err == nil || !strings.Contains(err.Error(), "--self=N") {
		t.Errorf("no match: %v", err)
	}
	if _, err := FindSelf(ctx, r, hosts, addrs("10.0.0.9"), 9999); err == nil || !strings.Contains(err.Error(), "server 4 (unresolvable:9999) (line 5)") {
		t.Errorf("unresolvable: %v", err)
	}
	// Two names for the same address and port.
	dup, _ := ParseHosts(strings.NewReader("base0 7000\n10.0.0.1 7000\n"))
	if _, err := FindSelf(ctx, r, dup, addrs("10.0.0.1"), 7000); err == nil || !strings.Contains(err.Error(), "both server 0") {
		t.Errorf("ambiguous: %v", err)
	}
}

func TestSelfByIndex(t *testing.T) {
	hosts, _ := ParseHosts(strings.NewReader("a 1\nb 2\nc 3\n"))
	if n, err := SelfByIndex(hosts, 2); err != nil || n != 2 {
		t.Errorf("SelfByIndex(2) = %d, %v", n, err)
	}
	for _, bad := range []int{-1, 3} {
		if _, err := SelfByIndex(hosts, bad); err == nil || !strings.Contains(err.Error(), "seqids 0..2") {
			t.Errorf("SelfByIndex(%d) = %v", bad, err)
		}
	}
}

func TestLocalAddrsFindsLoopback(t *testing.T) {
	as, err := LocalAddrs(context.Background(), net.DefaultResolver)
	if err != nil {
		t.Skipf("no addresses on this machine: %v", err)
	}
	for _, a := range as {
		if !a.Is4() {
			t.Errorf("LocalAddrs returned %v, not IPv4", a)
		}
	}
	lo := netip.MustParseAddr("127.0.0.1")
	has := false
	for _, a := range as {
		has = has || a == lo
	}
	if !has {
		t.Skipf("no loopback interface address among %v", as)
	}
	hosts, _ := ParseHosts(strings.NewReader("127.0.0.1 7000\n127.0.0.1 7001\n"))
	if n, err := FindSelf(context.Background(), net.DefaultResolver, hosts, as, 7001); err != nil || n != 1 {
		t.Errorf("FindSelf(loopback, 7001) = %d, %v", n, err)
	}
}
