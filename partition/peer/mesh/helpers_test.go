package mesh

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// checkLeaks fails the test if goroutines started during it outlive it.
// Call it first, so that its cleanup runs after every other.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// box reads a test "partition": an inbox whose messages the test takes one
// at a time.
type box struct {
	addr peer.Addr
	m    *Mesh // its server's
	in   *peer.Inbox
	q    []peer.Msg
}

// send sends m from the box's partition.
func (b *box) send(to peer.Addr, m peer.Msg) {
	m.From = b.addr
	b.m.Send(to, m)
}

// next returns the next message, failing the test after timeout.
func (b *box) next(t *testing.T, timeout time.Duration) peer.Msg {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(b.q) == 0 {
		select {
		case <-b.in.Ready():
			b.q = b.in.Take(b.q)
		case <-timer.C:
			t.Fatalf("%v: no message within %v", b.addr, timeout)
		}
	}
	m := b.q[0]
	b.q = b.q[1:]
	return m
}

// poll returns the messages already queued, without waiting.
func (b *box) poll() []peer.Msg {
	b.q = b.in.Take(b.q)
	out := b.q
	b.q = nil
	return out
}

// quiet fails the test if a message arrives within d.
func (b *box) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	if ms := b.poll(); len(ms) > 0 {
		t.Fatalf("%v: unexpected messages: %v", b.addr, msgStrings(ms))
	}
}

func msgStrings(ms []peer.Msg) []string {
	var out []string
	for i := range ms {
		out = append(out, ms[i].String())
	}
	return out
}

// expect takes the next message and checks its kind and sender.
func (b *box) expect(t *testing.T, kind peer.Kind, from peer.Addr) peer.Msg {
	t.Helper()
	m := b.next(t, 10*time.Second)
	if m.Kind != kind || m.From != from {
		t.Fatalf("%v: got %v, want %v from %v", b.addr, m.String(), kind, from)
	}
	return m
}

// node is one test server: a mesh, its listener (through which peers
// dial it, possibly behind a proxy) and its partitions.
type node struct {
	m     *Mesh
	acc   *acceptor
	boxes []*box
}

func (n *node) box(p int) *box { return n.boxes[p] }

type clusterOpts struct {
	servers    int
	partitions []int    // per server (default 2)
	partfuncs  []string // per server (default "default")
	heartbeat  time.Duration
	deadAfter  time.Duration
	proxied    []int // servers reached through a proxy (the proxies are returned by index)
	auth       []byte
	acceptAuth []byte // the secret the acceptors require (default auth)
	tls        *tls.Config
	noStart    bool
}

// newCluster starts opts.servers meshes on loopback, each with its
// acceptor, and waits until all are ready (unless noStart).
func newCluster(t testing.TB, opts clusterOpts) ([]*node, map[int]*proxy) {
	t.Helper()
	n := opts.servers
	lns := make([]net.Listener, n)
	hosts := make([]route.Host, n)
	proxies := map[int]*proxy{}
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[i] = ln
		addr := ln.Addr().(*net.TCPAddr)
		hosts[i] = route.Host{Seqid: i, Name: "127.0.0.1", Port: addr.Port}
	}
	for _, i := range opts.proxied {
		p := newProxy(t, lns[i].Addr().String())
		proxies[i] = p
		hosts[i].Port = p.ln.Addr().(*net.TCPAddr).Port
	}
	acceptAuth := opts.acceptAuth
	if acceptAuth == nil {
		acceptAuth = opts.auth
	}
	nodes := make([]*node, n)
	for i := range n {
		parts, pf := 2, "default"
		if i < len(opts.partitions) {
			parts = opts.partitions[i]
		}
		if i < len(opts.partfuncs) {
			pf = opts.partfuncs[i]
		}
		deadAfter := opts.deadAfter
		if deadAfter == 0 {
			// Tests not about silent peers: no machine load may take a
			// link down (a starved process cannot tell its own slowness
			// from a silent peer).
			deadAfter = time.Minute
		}
		m := New(Config{
			Self: i, Hosts: hosts, Partitions: parts, PartFunc: pf,
			Auth: opts.auth, TLS: opts.tls,
			Heartbeat: opts.heartbeat, DeadAfter: deadAfter,
			Logger: testLogger(t),
		})
		nd := &node{m: m}
		for p := range parts {
			a := peer.Addr{Server: int32(i), Partition: int32(p)}
			nd.boxes = append(nd.boxes, &box{addr: a, m: m, in: m.Register(a)})
		}
		nd.acc = startAcceptor(t, lns[i], m, acceptAuth)
		nodes[i] = nd
		t.Cleanup(func() { m.Close() })
	}
	if !opts.noStart {
		for _, nd := range nodes {
			nd.m.Start(context.Background())
		}
		waitReady(t, nodes...)
	}
	return nodes, proxies
}

func waitReady(t testing.TB, nodes ...*node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, nd := range nodes {
		if err := nd.m.WaitReady(ctx); err != nil {
			t.Fatalf("server %d not ready: %v; links %+v", nd.m.Self(), err, nd.m.Status())
		}
	}
}

func testLogger(t testing.TB) *zap.Logger {
	if testing.Verbose() {
		return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	return zap.NewNop()
}

// acceptor plays the server's reactor: it reads the first requests of an
// incoming connection — control {"auth"} when a secret is required, then
// control {"interconnect"} — and hands the connection to Accept.
type acceptor struct {
	t    testing.TB
	ln   net.Listener
	m    *Mesh
	auth []byte
	wg   sync.WaitGroup

	mu       sync.Mutex
	refused  []error // Accept's refusals
	accepted int
}

func startAcceptor(t testing.TB, ln net.Listener, m *Mesh, auth []byte) *acceptor {
	a := &acceptor{t: t, ln: ln, m: m, auth: auth}
	a.wg.Go(a.serve)
	t.Cleanup(func() {
		ln.Close()
		a.wg.Wait()
	})
	return a
}

func (a *acceptor) serve() {
	for {
		nc, err := a.ln.Accept()
		if err != nil {
			return
		}
		a.wg.Go(func() { a.handshake(nc) })
	}
}

func (a *acceptor) handshake(nc net.Conn) {
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	authed := a.auth == nil
	var dec wire.Decoder
	var buf []byte
	tmp := make([]byte, 4096)
	for {
		n, err := nc.Read(tmp)
		buf = append(buf, tmp[:n]...)
		msgs, used, derr := dec.Decode(buf)
		if derr != nil {
			nc.Close()
			return
		}
		for i, v := range msgs {
			if i != len(msgs)-1 || used != len(buf) {
				a.t.Errorf("acceptor: the dialer sent more than one request before the reply")
			}
			req, verdict := wire.ParseRequest(v)
			if verdict != wire.Accept || req.Cmd != wire.CmdControl {
				nc.Close()
				return
			}
			seq, _ := req.Arg(1).Uint()
			obj := req.Arg(2)
			reply := func(status int, payload any) {
				b := appendReplyHead(nil, wire.CmdControl, seq, status)
				b, _ = wire.AppendAny(b, payload)
				_, _ = nc.Write(b)
			}
			if s, ok := obj.Get("auth"); ok {
				if a.auth != nil && bytes.Equal(s.Bytes(), a.auth) {
					authed = true
					reply(wire.StatusOK, true)
				} else {
					reply(wire.StatusFail, "wrong secret")
				}
				continue
			}
			if _, ok := obj.Get("interconnect"); !ok {
				nc.Close()
				return
			}
			if !authed {
				reply(wire.StatusFail, "authentication required")
				continue
			}
			_ = nc.SetReadDeadline(time.Time{})
			hello := obj.Interface().(map[string]any)
			err := a.m.Accept(nc, hello, seq)
			a.mu.Lock()
			if err != nil {
				a.refused = append(a.refused, err)
			} else {
				a.accepted++
			}
			a.mu.Unlock()
			return
		}
		buf = buf[used:]
		if err != nil {
			nc.Close()
			return
		}
	}
}

// proxy forwards TCP connections to target; a test can kill them, stall
// them (stop forwarding bytes, as a SIGSTOPped peer would) or refuse new
// ones.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	pairs  map[*pair]bool
	gate   chan struct{} // closed while bytes flow
	refuse bool
	count  int // connections accepted
	tap    bool
	tapBuf []byte // bytes forwarded while tap is on
}

func (p *proxy) tapOn() {
	p.mu.Lock()
	p.tap = true
	p.mu.Unlock()
}

func (p *proxy) tapped() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.tapBuf)
}

type pair struct {
	a, b net.Conn
	once sync.Once
	done chan struct{}
}

func (p *pair) close() {
	p.once.Do(func() {
		p.a.Close()
		p.b.Close()
		close(p.done)
	})
}

func newProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, pairs: map[*pair]bool{}, gate: make(chan struct{})}
	close(p.gate)
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.kill()
		p.unstall()
		p.wg.Wait()
	})
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse
		p.count++
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		d, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{a: c, b: d, done: make(chan struct{})}
		p.mu.Lock()
		p.pairs[pr] = true
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(pr, c, d) })
		p.wg.Go(func() { p.pipe(pr, d, c) })
	}
}

func (p *proxy) pipe(pr *pair, src, dst net.Conn) {
	defer func() {
		pr.close()
		p.mu.Lock()
		delete(p.pairs, pr)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			g := p.gate
			if p.tap && len(p.tapBuf) < 1<<24 {
				p.tapBuf = append(p.tapBuf, buf[:n]...)
			}
			p.mu.Unlock()
			select {
			case <-g:
			case <-pr.done:
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// kill closes every forwarded connection (both ends).
func (p *proxy) kill() int {
	p.mu.Lock()
	var prs []*pair
	for pr := range p.pairs {
		prs = append(prs, pr)
	}
	p.mu.Unlock()
	for _, pr := range prs {
		pr.close()
	}
	return len(prs)
}

// stall stops forwarding bytes on every connection; unstall resumes.
func (p *proxy) stall() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
}

func (p *proxy) unstall() {
	p.mu.Lock()
	select {
	case <-p.gate:
	default:
		close(p.gate)
	}
	p.mu.Unlock()
}

// setRefuse makes the proxy close new connections at once (or not).
func (p *proxy) setRefuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

func (p *proxy) accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// waitFor polls cond until it holds, failing after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func addr(s, p int) peer.Addr { return peer.Addr{Server: int32(s), Partition: int32(p)} }

func any0(s int) peer.Addr { return peer.Addr{Server: int32(s), Partition: peer.AnyPartition} }

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("%s %q lacks %q", what, s, sub)
		}
	}
}

var _ = fmt.Sprintf

func newClusterB(b *testing.B) ([]*node, map[int]*proxy) {
	return newCluster(b, clusterOpts{servers: 2})
}
