package mesh

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// expectDown checks that every partition of nd got PeerDown from server.
func expectDown(t *testing.T, nd *node, server int) {
	t.Helper()
	for _, b := range nd.boxes {
		b.expect(t, peer.PeerDown, any0(server))
	}
}

// TestLinkKill: the TCP connection is closed from outside. Both sides
// declare the link down: PeerDown to every partition, then every pending
// subscribe, tracked notification and forwarded write answered; answers
// to requests of the dead link are dropped; Send while down is answered
// at once; the link comes back when the peer is reachable again.
func TestLinkKill(t *testing.T) {
	checkLeaks(t)
	nodes, proxies := newCluster(t, clusterOpts{servers: 2, proxied: []int{0}, heartbeat: 50 * time.Millisecond, deadAfter: 2 * time.Second})
	px := proxies[0]
	s, o := nodes[1].box(0), nodes[0].box(0)
	s.send(o.addr, peer.Msg{Kind: peer.Subscribe, Lo: "a|", Hi: "a}", Seq: 1})
	s.send(o.addr, peer.Msg{Kind: peer.NotifyInsert, Key: "a|1", Value: "x", Track: 11})
	s.send(o.addr, peer.Msg{Kind: peer.NotifyErase, Key: "a|2"})
	s.send(o.addr, peer.Msg{Kind: peer.Invalidate, Lo: "a|", Hi: "a}", Track: 12})
	s.send(o.addr, peer.Msg{Kind: peer.ForwardInsert, Key: "a|3", Value: "y", Track: 13})
	s.send(o.addr, peer.Msg{Kind: peer.ForwardErase, Key: "a|4", Track: 14})
	// And the acceptor side's own pending requests.
	o2, s2 := nodes[0].box(1), nodes[1].box(1)
	o2.send(s2.addr, peer.Msg{Kind: peer.Subscribe, Lo: "b|", Hi: "b}", Seq: 2})
	o2.send(s2.addr, peer.Msg{Kind: peer.ForwardErase, Key: "b|1", Track: 21})
	var got []peer.Msg
	for range 6 {
		got = append(got, o.next(t, wait))
	}
	s2.expect(t, peer.Subscribe, o2.addr)
	s2.expect(t, peer.ForwardErase, o2.addr)

	px.setRefuse(true)
	if n := px.kill(); n != 1 {
		t.Fatalf("proxy killed %d connections, want 1", n)
	}
	// s2 and o take their PeerDown first, below.
	expectDown(t, nodes[1], 0)
	expectDown(t, nodes[0], 1)
	if nodes[1].m.Up(0) || nodes[0].m.Up(1) || nodes[0].m.Ready() {
		t.Fatal("link still up")
	}
	if !nodes[0].m.Formed() || !nodes[1].m.Formed() {
		t.Fatal("Formed forgot the mesh was complete")
	}
	m := s.expect(t, peer.Snapshot, o.addr)
	if m.Seq != 1 || m.Lo != "a|" || m.Hi != "a}" || len(m.KVs) != 0 {
		t.Fatalf("pending subscribe answered with %v", m.String())
	}
	mustContain(t, "error", m.Err, "server 0 (127.0.0.1:", "unreachable")
	for _, tr := range []uint64{11, 12} {
		if m := s.expect(t, peer.Ack, o.addr); m.Ack != tr || m.Err != "" {
			t.Fatalf("pending tracked %d answered with %v", tr, m.String())
		}
	}
	for _, tr := range []uint64{13, 14} {
		m := s.expect(t, peer.Ack, o.addr)
		if m.Ack != tr {
			t.Fatalf("pending forward %d answered with %v", tr, m.String())
		}
		mustContain(t, "error", m.Err, "server 0 (127.0.0.1:", "unreachable", "may or may not have been applied")
	}
	if m := o2.expect(t, peer.Snapshot, s2.addr); m.Seq != 2 || !strings.Contains(m.Err, "server 1 (127.0.0.1:") {
		t.Fatalf("acceptor's pending subscribe answered with %v", m.String())
	}
	if m := o2.expect(t, peer.Ack, s2.addr); m.Ack != 21 || !strings.Contains(m.Err, "may or may not") {
		t.Fatalf("acceptor's pending forward answered with %v", m.String())
	}

	// Late answers to the dead link's requests go nowhere.
	for _, r := range got {
		switch {
		case r.Kind == peer.Subscribe:
			o.send(s.addr, peer.Msg{Kind: peer.Snapshot, Lo: r.Lo, Hi: r.Hi, Seq: r.Seq})
		case r.Track != 0:
			o.send(s.addr, peer.Msg{Kind: peer.Ack, Ack: r.Track})
		}
	}

	// While down, Send answers at once, on the caller's goroutine.
	s.send(o.addr, peer.Msg{Kind: peer.Subscribe, Lo: "c|", Hi: "c}", Seq: 3})
	s.send(o.addr, peer.Msg{Kind: peer.NotifyInsert, Key: "c|1", Value: "z"}) // untracked: dropped
	s.send(o.addr, peer.Msg{Kind: peer.NotifyInsert, Key: "c|1", Value: "z", Track: 15})
	s.send(o.addr, peer.Msg{Kind: peer.ForwardInsert, Key: "c|2", Value: "w", Track: 16})
	now := s.poll()
	if len(now) != 3 || now[0].Kind != peer.Snapshot || now[0].Seq != 3 || !strings.Contains(now[0].Err, "unreachable") ||
		now[1].Kind != peer.Ack || now[1].Ack != 15 || now[1].Err != "" ||
		now[2].Kind != peer.Ack || now[2].Ack != 16 || !strings.Contains(now[2].Err, "the write was not sent") {
		t.Fatalf("Send while down answered with %v", msgStrings(now))
	}
	for _, m := range now {
		if m.From != o.addr {
			t.Fatalf("answer %v not from %v", m.String(), o.addr)
		}
	}
	o2.send(s2.addr, peer.Msg{Kind: peer.Subscribe, Lo: "d|", Hi: "d}", Seq: 4})
	if now := o2.poll(); len(now) != 1 || now[0].Kind != peer.Snapshot || !strings.Contains(now[0].Err, "server 1") {
		t.Fatalf("acceptor's Send while down answered with %v", msgStrings(now))
	}
	st := nodes[1].m.Status()
	if len(st) != 1 || st[0].Up || st[0].Cause == "" {
		t.Fatalf("status while down: %+v", st)
	}

	// The peer is reachable again: the dialer's retries bring the link back.
	before := px.accepted()
	px.setRefuse(false)
	waitReady(t, nodes...)
	if px.accepted() == before {
		t.Fatal("no new connection")
	}
	// Nothing stray arrived: the late answers were dropped.
	for _, nd := range nodes {
		for _, b := range nd.boxes {
			b.quiet(t, 0)
		}
	}
	roundTrips(t, s, o, 100)
}

// TestStall: the peer stops sending (a proxy that stops forwarding, as a
// SIGSTOPped server would); both sides notice within about DeadAfter, and
// the link comes back once bytes flow again. An idle link stays up.
func TestStall(t *testing.T) {
	checkLeaks(t)
	const dead = 400 * time.Millisecond
	nodes, proxies := newCluster(t, clusterOpts{servers: 2, proxied: []int{0}, heartbeat: 25 * time.Millisecond, deadAfter: dead})
	px := proxies[0]
	// Idle: heartbeats keep it up.
	time.Sleep(3 * dead)
	if !nodes[0].m.Ready() || !nodes[1].m.Ready() {
		t.Fatalf("idle link went down: %+v %+v", nodes[0].m.Status(), nodes[1].m.Status())
	}
	for _, nd := range nodes {
		for _, b := range nd.boxes {
			b.quiet(t, 0)
		}
	}
	s, o := nodes[1].box(1), nodes[0].box(0)
	s.send(o.addr, peer.Msg{Kind: peer.Subscribe, Lo: "a|", Hi: "a}", Seq: 1})
	o.expect(t, peer.Subscribe, s.addr)

	px.stall()
	start := time.Now()
	expectDown(t, nodes[1], 0)
	expectDown(t, nodes[0], 1)
	elapsed := time.Since(start)
	t.Logf("stall detected after %v (DeadAfter %v)", elapsed, dead)
	if elapsed > dead+5*time.Second {
		t.Fatalf("stall detected after %v", elapsed)
	}
	m := s.expect(t, peer.Snapshot, o.addr)
	mustContain(t, "error", m.Err, "server 0", "unreachable", "nothing received")

	px.unstall()
	waitReady(t, nodes...)
	roundTrips(t, s, o, 100)
}

// TestReplace: a server that dials again while its old link still looks
// up to the acceptor (a restarted server) replaces the old link: PeerDown
// first, then the new link works.
func TestReplace(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 2, deadAfter: 20 * time.Second, noStart: true})
	ctx, cancel := context.WithCancel(context.Background())
	nodes[1].m.Start(ctx)
	waitReady(t, nodes...)
	cancel() // the old server 1 stops dialing; its link stays up

	hosts := nodes[1].m.cfg.Hosts
	m2 := New(Config{Self: 1, Hosts: hosts, Partitions: 4, PartFunc: "unit", DeadAfter: 20 * time.Second, Logger: testLogger(t)})
	t.Cleanup(func() { m2.Close() })
	b2 := &box{addr: addr(1, 3), m: m2, in: m2.Register(addr(1, 3))}
	m2.Start(context.Background())

	expectDown(t, nodes[0], 1)
	waitFor(t, wait, "the new link", func() bool { return m2.Ready() && nodes[0].m.Up(1) })
	if _, n, _ := nodes[0].m.Layout(1); n != 4 {
		t.Fatalf("layout of the new server 1: %d partitions", n)
	}
	roundTrips(t, b2, nodes[0].box(1), 100)
	// The old server 1 lost its link too.
	expectDown(t, nodes[1], 0)
}

// fakePeer dials a mesh's listener as server id and runs the handshake
// with hello; it returns the connection, a reader for what follows, and
// the reply.
func fakePeer(t *testing.T, target string, hello map[string]any) (net.Conn, *hsReader, wire.Reply) {
	t.Helper()
	nc, err := net.Dial("tcp", target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(wait))
	if _, err := nc.Write(appendControl(nil, 0, hello)); err != nil {
		t.Fatal(err)
	}
	hs := &hsReader{nc: nc}
	r, err := hs.reply(0)
	if err != nil {
		t.Fatal(err)
	}
	return nc, hs, r
}

func helloFrom(id int) map[string]any {
	return map[string]any{"interconnect": id, "partitions": 1, "partfunc": "default"}
}

// TestBadFrames: a peer sending bad input loses its own link only.
func TestBadFrames(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 3})
	nodes[2].m.Close() // server 2 is played by a raw connection from here on
	expectDown(t, nodes[0], 2)
	expectDown(t, nodes[1], 2)
	target := nodes[0].acc.ln.Addr().String()
	notify := func(to int) []byte {
		return appendRequest(nil, 2, 0, addr(0, to), &peer.Msg{Kind: peer.NotifyInsert, From: addr(2, 0), Key: "k|1", Value: "v"})
	}
	cases := []struct {
		name string
		bad  []byte
	}{
		{"invalid msgpack", []byte{0xc1}},
		{"not an array", []byte{0xa1, 'x'}},
		{"short array", []byte{0x91, 0x04}},
		{"unknown command", wire.AppendString(wire.AppendRequestHeader(nil, 77, 1, 1), "x")},
		{"get is not a peer request", wire.AppendString(wire.AppendRequestHeader(nil, wire.CmdGet, 1, 1), "k|1")},
		{"no routing map", wire.AppendString(wire.AppendString(wire.AppendRequestHeader(nil, wire.CmdNotifyInsert, 1, 2), "k"), "v")},
		{"partition out of range", notify(9)},
		{"key not a string", append(wire.AppendRequestHeader(nil, wire.CmdNotifyErase, 1, 2), 0x05, 0x80)},
		{"too deep", append(wire.AppendRequestHeader(nil, wire.CmdNotifyErase, 1, 1), []byte(strings.Repeat("\x91", 100)+"\xc0")...)},
	}
	for _, c := range cases {
		nc, _, r := fakePeer(t, target, helloFrom(2))
		if r.Status != wire.StatusOK {
			t.Fatalf("%s: handshake refused: %s", c.name, r.Payload)
		}
		waitFor(t, wait, "the fake link", func() bool { return nodes[0].m.Up(2) })
		// A good frame is delivered, then the bad one ends the link.
		if _, err := nc.Write(append(notify(0), c.bad...)); err != nil {
			t.Fatal(err)
		}
		if m := nodes[0].box(0).expect(t, peer.NotifyInsert, addr(2, 0)); m.Key != "k|1" {
			t.Fatalf("%s: %v", c.name, m.String())
		}
		expectDown(t, nodes[0], 2)
		if !nodes[0].m.Up(1) || !nodes[1].m.Up(0) {
			t.Fatalf("%s: the other link went down", c.name)
		}
		nc.Close()
	}

	// A bad reply to a pending subscribe: the subscriber gets an error
	// snapshot, then the link goes down.
	nc, hs, _ := fakePeer(t, target, helloFrom(2))
	waitFor(t, wait, "the fake link", func() bool { return nodes[0].m.Up(2) })
	o := nodes[0].box(1)
	o.send(addr(2, 0), peer.Msg{Kind: peer.Subscribe, Lo: "a|", Hi: "a}", Seq: 5})
	var req wire.Value
	for { // skip heartbeats
		var err error
		if req, err = hs.next(); err != nil {
			t.Fatal(err)
		}
		if c, _ := req.Index(0).Int(); c != int64(wire.CmdControl) {
			break
		}
	}
	seq, _ := req.Index(1).Uint()
	if c, _ := req.Index(0).Int(); c != int64(wire.CmdSubscribe) {
		t.Fatalf("fake peer got %s", req)
	}
	bad := wire.AppendString(appendReplyHead(nil, wire.CmdSubscribe, seq, wire.StatusOK), "not a snapshot")
	if _, err := nc.Write(bad); err != nil {
		t.Fatal(err)
	}
	if m := o.expect(t, peer.Snapshot, addr(2, 0)); m.Seq != 5 || !strings.Contains(m.Err, "not a map") {
		t.Fatalf("bad snapshot answered with %v", m.String())
	}
	expectDown(t, nodes[0], 2)
	roundTrips(t, nodes[1].box(0), nodes[0].box(0), 100)
}

// TestAcceptRefusals: Accept refuses bad hellos with a failure reply and
// closes the connection.
func TestAcceptRefusals(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 3})
	target := nodes[1].acc.ln.Addr().String()
	for _, c := range []struct {
		hello map[string]any
		want  string
	}{
		{helloFrom(0), "smaller seqid"},
		{helloFrom(1), "is this server"},
		{helloFrom(3), "not in the host file"},
		{map[string]any{"interconnect": "two"}, "not a seqid"},
		{map[string]any{"interconnect": 2}, "lacks partitions"},
		{map[string]any{"interconnect": 2, "partitions": 0, "partfunc": "default"}, "bad partition count"},
		{map[string]any{"interconnect": 2, "partitions": 2, "partfunc": "nope"}, "unknown partition function"},
		{map[string]any{"interconnect": 2, "partitions": 2, "partfunc": "default", "tls": true}, "disagrees on TLS"},
	} {
		nc, hs, r := fakePeer(t, target, c.hello)
		if r.Status != wire.StatusFail || !strings.Contains(string(r.Payload.Bytes()), c.want) {
			t.Fatalf("hello %v: reply %d %s, want a failure with %q", c.hello, r.Status, r.Payload, c.want)
		}
		if _, err := hs.next(); err == nil {
			t.Fatalf("hello %v: connection still open", c.hello)
		}
		nc.Close()
	}
	// The acceptor helper records Accept's error after the client has
	// already seen the reply.
	waitFor(t, wait, "8 refusals", func() bool {
		nodes[1].acc.mu.Lock()
		defer nodes[1].acc.mu.Unlock()
		return len(nodes[1].acc.refused) == 8
	})
	if !nodes[1].m.Ready() {
		t.Fatal("refusals disturbed the mesh")
	}
}

// TestAuth: the dialer authenticates first; a wrong secret keeps the link
// down (and the dialer retrying).
func TestAuth(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 2, auth: []byte("0123456789abcdef-secret")})
	roundTrips(t, nodes[1].box(0), nodes[0].box(0), 100)

	bad, proxies := newCluster(t, clusterOpts{servers: 2, auth: []byte("wrong-wrong-wrong-wrong"), acceptAuth: []byte("0123456789abcdef-secret"),
		proxied: []int{0}, noStart: true})
	bad[1].m.Start(context.Background())
	waitFor(t, wait, "retries", func() bool { return proxies[0].accepted() >= 3 })
	if bad[1].m.Up(0) {
		t.Fatal("up with a wrong secret")
	}
	st := bad[1].m.Status()
	mustContain(t, "cause", st[0].Cause, "auth refused", "wrong secret")
	bad[1].box(0).send(addr(0, 0), peer.Msg{Kind: peer.Subscribe, Lo: "a|", Hi: "a}", Seq: 1})
	if m := bad[1].box(0).poll(); len(m) != 1 || !strings.Contains(m[0].Err, "auth refused") {
		t.Fatalf("Send before the link is up answered with %v", msgStrings(m))
	}
}

// TestTLS: links upgrade to TLS after the handshake; nothing of the
// messages travels in the clear.
func TestTLS(t *testing.T) {
	checkLeaks(t)
	nodes, proxies := newCluster(t, clusterOpts{servers: 2, tls: testTLS(t), proxied: []int{0}})
	proxies[0].tapOn()
	s, o := nodes[1].box(0), nodes[0].box(0)
	s.send(o.addr, peer.Msg{Kind: peer.NotifyInsert, Key: "k|plaintext-key", Value: "plaintext-value"})
	if m := o.expect(t, peer.NotifyInsert, s.addr); m.Key != "k|plaintext-key" {
		t.Fatalf("got %v", m.String())
	}
	roundTrips(t, s, o, 100)
	if tap := proxies[0].tapped(); len(tap) == 0 || strings.Contains(tap, "plaintext") || strings.Contains(tap, "p|0000") {
		t.Fatalf("link traffic not encrypted (%d bytes tapped)", len(tap))
	}
}

// testTLS returns a config with a fresh self-signed certificate for
// 127.0.0.1, trusted as both server and client certificate.
func testTLS(t *testing.T) *tls.Config {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pequod mesh test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
}

// TestHandshakeLeftover: frames the acceptor sends right behind its reply
// (read with it) reach the link.
func TestHandshakeLeftover(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 2, noStart: true})
	nodes[0].acc.ln.Close() // server 0 is played by a raw listener
	ln, err := net.Listen("tcp", nodes[0].acc.ln.Addr().String())
	if err != nil {
		t.Skipf("cannot reuse the address: %v", err)
	}
	defer ln.Close()
	done := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		hs := &hsReader{nc: nc}
		req, err := hs.next()
		if err != nil {
			done <- nil
			return
		}
		seq, _ := req.Index(1).Uint()
		b := appendReplyHead(nil, wire.CmdControl, seq, wire.StatusOK)
		b, _ = wire.AppendAny(b, map[string]any{"server": 0, "partitions": 1, "partfunc": "default"})
		b = appendRequest(b, 0, 0, addr(1, 1), &peer.Msg{Kind: peer.NotifyInsert, From: addr(0, 0), Key: "k|early", Value: "v"})
		_, _ = nc.Write(b)
		done <- nc
	}()
	nodes[1].m.Start(context.Background())
	nc := <-done
	if nc == nil {
		t.Fatal("fake acceptor failed")
	}
	defer nc.Close()
	if m := nodes[1].box(1).expect(t, peer.NotifyInsert, addr(0, 0)); m.Key != "k|early" {
		t.Fatalf("got %v", m.String())
	}
	if !nodes[1].m.Up(0) {
		t.Fatal("link not up")
	}
}

// TestCloseAnswersPending: Close declares every link down; pending
// requests are answered, later Sends too.
func TestCloseAnswersPending(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 2})
	s, o := nodes[1].box(0), nodes[0].box(0)
	s.send(o.addr, peer.Msg{Kind: peer.Subscribe, Lo: "a|", Hi: "a}", Seq: 1})
	o.expect(t, peer.Subscribe, s.addr)
	nodes[1].m.Close()
	expectDown(t, nodes[1], 0)
	if m := s.expect(t, peer.Snapshot, o.addr); !strings.Contains(m.Err, "mesh closed") {
		t.Fatalf("got %v", m.String())
	}
	s.send(o.addr, peer.Msg{Kind: peer.ForwardErase, Key: "a|1", Track: 3})
	if m := s.poll(); len(m) != 1 || !strings.Contains(m[0].Err, "not sent") {
		t.Fatalf("Send after Close answered with %v", msgStrings(m))
	}
	expectDown(t, nodes[0], 1)
	nodes[1].m.Close() // idempotent
}

// TestNotStarted: before its link ever came up, a server is unknown:
// no layout, Sends answered at once.
func TestNotStarted(t *testing.T) {
	checkLeaks(t)
	nodes, _ := newCluster(t, clusterOpts{servers: 2, noStart: true})
	if nodes[1].m.Ready() || nodes[1].m.Formed() || nodes[1].m.Up(0) || !nodes[1].m.Up(1) {
		t.Fatal("up before Start")
	}
	if _, _, ok := nodes[1].m.Layout(0); ok {
		t.Fatal("layout known before the link came up")
	}
	s := nodes[1].box(0)
	s.send(addr(0, 0), peer.Msg{Kind: peer.Subscribe, Lo: "a|", Hi: "a}", Seq: 1})
	if m := s.poll(); len(m) != 1 || !strings.Contains(m[0].Err, "not connected yet") {
		t.Fatalf("got %v", msgStrings(m))
	}
	// A partition the peer does not have is answered at once too.
	nodes[0].m.Start(context.Background())
	nodes[1].m.Start(context.Background())
	waitReady(t, nodes...)
	s.send(addr(0, 5), peer.Msg{Kind: peer.ForwardInsert, Key: "a|1", Value: "v", Track: 9})
	if m := s.poll(); len(m) != 1 || m[0].Ack != 9 || !strings.Contains(m[0].Err, "no partition 5") {
		t.Fatalf("got %v", msgStrings(m))
	}
}

func TestConfigValidate(t *testing.T) {
	hosts := []route.Host{{Seqid: 0, Name: "127.0.0.1", Port: 1}, {Seqid: 1, Name: "127.0.0.1", Port: 2}}
	for _, c := range []Config{
		{Self: 0, Partitions: 1},
		{Self: 2, Hosts: hosts, Partitions: 1},
		{Self: 0, Hosts: hosts, Partitions: 0},
		{Self: 0, Hosts: hosts, Partitions: 1, PartFunc: "nope"},
		{Self: 0, Hosts: hosts, Partitions: 1, Heartbeat: time.Second, DeadAfter: time.Second},
		{Self: 0, Hosts: []route.Host{{Seqid: 1}}, Partitions: 1},
	} {
		if c.Validate() == nil {
			t.Errorf("%+v validated", c)
		}
	}
	c := Config{Self: 1, Hosts: hosts, Partitions: 3}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
