package route

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Host is one server of a host file (server.md §2.8).
type Host struct {
	// Seqid is the server's index among the file's kept lines (0-based).
	Seqid int
	// Name is the host name or dotted quad as written.
	Name string
	// Port is the server's port.
	Port int
	// Line is the 1-based line of the file the host is on, for messages.
	Line int
}

// Addr is the host's "name:port", for dialing.
func (h Host) Addr() string { return net.JoinHostPort(h.Name, strconv.Itoa(h.Port)) }

// String describes the host as messages name it: "server 2 (host:port)".
func (h Host) String() string { return fmt.Sprintf("server %d (%s)", h.Seqid, h.Addr()) }

// ParseHosts parses a host file: one `<host> <port>` per line, separated by
// whitespace. Lines are trimmed; empty lines and lines starting with '#'
// are skipped; columns after the port are ignored. A line without a port,
// a port that is not a number in 1..65535, the same host and port twice, or
// a file with no hosts is an error naming the line.
func ParseHosts(r io.Reader) ([]Host, error) {
	var hosts []Host
	seen := map[string]int{} // "name port" → line
	br := bufio.NewReader(r)
	for line := 1; ; line++ {
		text, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if s := strings.TrimSpace(text); s != "" && s[0] != '#' {
			h, perr := parseHostLine(s)
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", line, perr)
			}
			k := h.Name + " " + strconv.Itoa(h.Port)
			if prev, dup := seen[k]; dup {
				return nil, fmt.Errorf("line %d: %s repeats line %d (each server is listed once)", line, h.Addr(), prev)
			}
			seen[k] = line
			h.Seqid, h.Line = len(hosts), line
			hosts = append(hosts, h)
		}
		if err == io.EOF {
			break
		}
	}
	if len(hosts) == 0 {
		return nil, errors.New("no servers listed (want lines of `<host> <port>`)")
	}
	return hosts, nil
}

// parseHostLine parses a trimmed, non-comment line.
func parseHostLine(s string) (Host, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return Host{}, fmt.Errorf("%q: missing port (want `<host> <port>`)", s)
	}
	port, err := strconv.Atoi(f[1])
	if err != nil || port < 1 || port > 65535 {
		return Host{}, fmt.Errorf("bad port %q for host %q (want a number in 1..65535)", f[1], f[0])
	}
	return Host{Name: f[0], Port: port}, nil
}

// ReadHostFile reads and parses the host file at path (ParseHosts); errors
// name the file.
func ReadHostFile(path string) ([]Host, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("host file: %w", err)
	}
	defer f.Close()
	hosts, err := ParseHosts(f)
	if err != nil {
		return nil, fmt.Errorf("host file %s: %w", path, err)
	}
	return hosts, nil
}

// Resolver looks up host names; *net.Resolver (net.DefaultResolver)
// implements it.
type Resolver interface {
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error)
}

// ResolveIPv4 resolves a host file name as the original does (§2.8): a
// dotted quad is taken as is, anything else is looked up and must give an
// IPv4 address (the first one is used).
func ResolveIPv4(ctx context.Context, r Resolver, name string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		if a = a.Unmap(); !a.Is4() {
			return netip.Addr{}, fmt.Errorf("%s is not an IPv4 address", name)
		}
		return a, nil
	}
	ips, err := r.LookupIP(ctx, "ip4", name)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("resolve %s: %w", name, err)
	}
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok && a.Unmap().Is4() {
			return a.Unmap(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("resolve %s: no IPv4 address", name)
}

// Identity is a host's identity, (IPv4 address << 32) | port (§2.8).
func Identity(ip netip.Addr, port int) uint64 {
	b := ip.Unmap().As4()
	return uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(uint16(port))
}

// FindSelf returns the seqid of this server: the host whose identity is
// (one of addrs, port), addrs being this machine's IPv4 addresses
// (LocalAddrs) and port the listen port. Only hosts listed with port are
// resolved. No match, or two hosts matching, is an error suggesting the
// explicit override (SelfByIndex).
func FindSelf(ctx context.Context, r Resolver, hosts []Host, addrs []netip.Addr, port int) (int, error) {
	mine := make(map[uint64]bool, len(addrs))
	for _, a := range addrs {
		mine[Identity(a, port)] = true
	}
	self := -1
	for _, h := range hosts {
		if h.Port != port {
			continue
		}
		ip, err := ResolveIPv4(ctx, r, h.Name)
		if err != nil {
			return -1, fmt.Errorf("%s (line %d): %w", h, h.Line, err)
		}
		if !mine[Identity(ip, port)] {
			continue
		}
		if self >= 0 {
			return -1, fmt.Errorf("both %s and %s are this machine's port %d: pass the seqid explicitly (--self=N)", hosts[self], h, port)
		}
		self = h.Seqid
	}
	if self < 0 {
		return -1, fmt.Errorf("no server in the host file is this machine (addresses %v) on port %d: check the host file or pass the seqid explicitly (--self=N)", addrs, port)
	}
	return self, nil
}

// SelfByIndex validates an explicit seqid (--self=N) against the host
// list and returns it.
func SelfByIndex(hosts []Host, seqid int) (int, error) {
	if seqid < 0 || seqid >= len(hosts) {
		return -1, fmt.Errorf("--self=%d: the host file lists %d servers (seqids 0..%d)", seqid, len(hosts), len(hosts)-1)
	}
	return seqid, nil
}

// LocalAddrs returns this machine's IPv4 addresses for FindSelf: the
// address its host name resolves to (the original's rule, §2.8) and, a Go
// addition, the IPv4 addresses of its network interfaces, so a host file
// of loopback or interface addresses finds itself even where the host
// name resolves elsewhere. It fails only when it finds no address at all.
func LocalAddrs(ctx context.Context, r Resolver) ([]netip.Addr, error) {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	add := func(a netip.Addr) {
		if a = a.Unmap(); a.Is4() && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	var errs []error
	if name, err := os.Hostname(); err != nil {
		errs = append(errs, fmt.Errorf("host name: %w", err))
	} else if a, err := ResolveIPv4(ctx, r, name); err != nil {
		errs = append(errs, err)
	} else {
		add(a)
	}
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		errs = append(errs, fmt.Errorf("interface addresses: %w", err))
	}
	for _, ifa := range ifas {
		if p, err := netip.ParsePrefix(ifa.String()); err == nil {
			add(p.Addr())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no IPv4 address for this machine: %w", errors.Join(errs...))
	}
	return out, nil
}
