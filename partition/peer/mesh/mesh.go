// Package mesh owns the interconnect of a cluster (spec/server.md §3.2,
// §3.7, §3.9): the one TCP link between each pair of servers, and the
// peer.Network that carries partitions' peer messages over those links. A
// partition cannot tell a Mesh from peer.Local: messages to this server's
// partitions go straight into their inboxes, the others are encoded onto
// the link to their server and delivered into the receiving partition's
// inbox there, one sender's messages to one receiver in the order sent.
//
// # API
//
//	m := mesh.New(mesh.Config{Self: 2, Hosts: hosts, Partitions: 8, PartFunc: "default", Auth: secret})
//	in := m.Register(peer.Addr{Server: 2, Partition: p}) // each local partition, before Start
//	m.Start(ctx)       // dials every server with a smaller seqid, forever (until ctx ends)
//	m.Accept(nc, hello, seq) // the reactor hands over a connection that sent control {"interconnect": …}
//	m.Send(to, msg)    // peer.Transport: local inbox, or the link to to.Server
//	m.Ready(), m.Up(s), m.WaitReady(ctx)   // control {"is_ready"}; Formed(): Ready held once
//	m.Layout(s)        // (route.Router, partitions, ok) of a (once-)connected server: partition.Cluster.Layout
//	m.PeerRouter(s)    // its router alone
//	m.Status()         // per link, for control {"client_status"}
//	m.Close()          // closes the links, stops every goroutine
//
// New panics on a Config that Config.Validate rejects; validate first.
// Register and Send panic on addresses that are programming errors (a
// partition of this server that does not exist or was not registered, a
// server not in the host file), like peer.Local. Everything coming from
// the network is checked instead: a bad frame closes that link only.
//
// # Links and handshake (§3.2)
//
// Server me dials every server i < me (Start) and is dialed by every
// server j > me (Accept). The dialer sends, as the first requests on a new
// connection, control {"auth": SECRET} when Config.Auth is set (reply
// true expected), then
//
//	[13, seq, {"interconnect": me, "partitions": N, "partfunc": NAME}]   (+ "tls": true with Config.TLS)
//
// and sends nothing else until the reply
//
//	[-13, seq, 0, {"server": i, "partitions": N', "partfunc": NAME'}]    (+ "tls": true)
//
// (a refusal is [-13, seq, -1, "why"]). The server's reactor, on the
// interconnect control (after its auth check), detaches the connection
// from its event loop and calls Accept(nc, hello, seq) with the decoded
// request object and the request's seq; since the dialer sends nothing
// until the reply, no byte past that request can be buffered in the
// reactor. Accept checks the hello (a server in the host file, with a
// larger seqid, a valid layout, the same TLS setting), writes the reply on
// nc itself and runs the link; it returns quickly (the rest happens on the
// mesh's goroutines) and closes nc itself when it refuses, returning why.
//
// With Config.TLS the handshake above stays plaintext (it reaches the
// server's ordinary msgpack port, which the reactor reads without TLS),
// and both ends then upgrade the connection: the dialer with tls.Client
// (ServerName = the host file's name unless set), the acceptor with
// tls.Server, both from Config.TLS. The auth secret therefore travels in
// the clear before the upgrade; use mutual TLS (ClientAuth) where that
// matters.
//
// Each side learns the other's layout from the handshake: Layout(s)
// returns route.New(partfunc, partitions) of server s, so a partition can
// address the exact owner {s, p} of a key. The layout stays known after
// the link goes down, and is replaced when it comes back.
//
// A lost link is redialed by its dialer (backoff 5 ms doubling to 1 s,
// until the ctx of Start ends); the acceptor waits for it. A new
// connection from a server whose link this side still holds replaces it
// (the old one is declared down first). Ready is true while links to all
// other servers are up.
//
// # Wire format (Go↔Go; the §3 RPC names and shapes, routing in a map)
//
//	subscribe     [8,  seq, lo, hi, {"subscriber": S, "from": p, "to": q, "seq": Msg.Seq}]
//	   reply      [-8, seq, 0, {"kvs": [k1, v1, …], "fresh_for": µs}]  or  [-8, seq, -1, "error"]  = the Snapshot
//	unsubscribe   [9,  seq, lo, hi, {"subscriber": S, "from": p, "to": q}]          no reply
//	notify_insert [4,  seq, key, value, {"from": p, "to": q[, "track": true]}]
//	notify_erase  [5,  seq, key, {…}]
//	invalidate    [10, seq, lo, hi, {…}]
//	insert        [2,  seq, key, value, {"from": p, "to": q, "track": true}]   ForwardInsert
//	erase         [3,  seq, key, {…}]                                          ForwardErase
//	   reply      [-cmd, seq, 0, null]  or  [-cmd, seq, -1, "error"]      = the Ack (Err on failure)
//	ping          [13, seq, {"ping": true}]                                     no reply
//
// Only requests with "track" are answered (and subscribes); the others
// take a seq but get no reply, unlike the original (§1.3), which answered
// every request. The sending side keeps its tracked requests by seq and
// delivers the reply to the sending partition as Msg{Kind: Ack, Ack: its
// Track}. The receiving side gives each tracked request a fresh Track id,
// unique in the mesh, so ids from different remote partitions never
// collide; the local partition echoes it in its Ack, which the mesh writes
// as the reply. A Snapshot a local partition sends to a remote one is
// written as the reply to the subscribe it answers, found by (subscriber,
// owner, Msg.Seq); one that answers nothing pending (the link went down
// since) is dropped.
//
// Frames are decoded on the link's reader goroutine and pushed into the
// receiving inboxes in arrival order; the writer sends frames in the order
// Send appended them. A link is one TCP stream, so one partition's
// messages to another arrive in the order sent (§3.7: a snapshot is applied
// before the notifications that follow it).
//
// # Faults (§3.9, made real)
//
// A link is down when it fails (read or write error, EOF, a frame that is
// not valid msgpack or not a well-formed peer frame) or when its reader
// has waited DeadAfter for a byte (each side sends a ping after every
// Heartbeat in which it sent nothing, so an idle link stays alive and a
// stopped peer is noticed within DeadAfter; time the reader spends on
// bytes it received does not count, but a process so starved of CPU that
// its reader is not scheduled for DeadAfter cannot tell that from
// silence). Then, once its reader has stopped (so every message it
// received is already queued):
//
//   - every registered local partition gets Msg{Kind: PeerDown, From:
//     {S, AnyPartition}};
//   - after that, every request pending on it is answered to its sender:
//     a subscribe with Msg{Kind: Snapshot, Lo, Hi, Seq, Err: "server S
//     (host:port) unreachable: …"}, a tracked notification or
//     invalidation with its Ack (the receiver and its copies are gone), a
//     forwarded write with its Ack and Err "server S (host:port)
//     unreachable: …; the write may or may not have been applied";
//   - replies local partitions send later for requests that came in on it
//     are dropped.
//
// While a server's link is down (or before it ever came up), Send answers
// the same way at once, on the caller's goroutine, into the sender's inbox
// ("…; the write was not sent" for forwarded writes); untracked messages
// are dropped. The answers to one sender's messages come in the order it
// sent them, those of the dead link first.
//
// Send never blocks: frames wait in the link's buffer (there is no
// back-pressure, as peer.Transport requires), until written or until the
// link goes down.
package mesh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/partition/route"
)

// Defaults of Config.
const (
	DefaultHeartbeat = 500 * time.Millisecond
	DefaultDeadAfter = 2 * time.Second
	// DefaultMaxFrameBytes bounds one incoming frame on a link (a
	// snapshot can be large; peers are authenticated servers).
	DefaultMaxFrameBytes = 1 << 30

	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
	// linkLowWater is the write low-water mark of server-to-server links
	// (§1.8: 4 KiB).
	linkLowWater = 4 << 10
)

// Config configures a Mesh.
type Config struct {
	// Self is this server's seqid, an index into Hosts.
	Self int
	// Hosts is the cluster's host file (route.ReadHostFile): Hosts[i] is
	// server i (Hosts[i].Seqid == i).
	Hosts []route.Host
	// Partitions is the number of this server's partitions.
	Partitions int
	// PartFunc is this server's local partition function (route.New's
	// name), announced to peers with Partitions.
	PartFunc string
	// Auth, if non-nil, is sent as control {"auth": string(Auth)} as the
	// first request on every link this server dials. The acceptor side
	// gets connections already authenticated by the reactor.
	Auth []byte
	// TLS, if set, upgrades every link after the handshake: dialed links
	// with tls.Client, accepted ones with tls.Server (see the package
	// comment). All servers must agree on using it.
	TLS *tls.Config
	// Heartbeat is how often an idle link is pinged (default 500ms).
	Heartbeat time.Duration
	// DeadAfter is how long a link may receive nothing before it is
	// declared down (default 2s). It also bounds a dialer's handshake.
	DeadAfter time.Duration
	// Dial connects to a peer (default: a net.Dialer's DialContext).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxFrameBytes bounds one incoming frame (default
	// DefaultMaxFrameBytes).
	MaxFrameBytes int
	// Logger receives link events (default: none).
	Logger *zap.Logger
}

// Validate reports what is wrong with c, if anything.
func (c *Config) Validate() error {
	if len(c.Hosts) == 0 {
		return errors.New("mesh: no hosts")
	}
	if c.Self < 0 || c.Self >= len(c.Hosts) {
		return fmt.Errorf("mesh: self %d is not a server of the host file (0..%d)", c.Self, len(c.Hosts)-1)
	}
	for i, h := range c.Hosts {
		if h.Seqid != i {
			return fmt.Errorf("mesh: host %d (%s) has seqid %d", i, h.Addr(), h.Seqid)
		}
	}
	if c.Partitions < 1 {
		return fmt.Errorf("mesh: %d partitions", c.Partitions)
	}
	if _, err := route.New(c.PartFunc, c.Partitions); err != nil {
		return fmt.Errorf("mesh: %w", err)
	}
	if c.Heartbeat < 0 || c.DeadAfter < 0 {
		return errors.New("mesh: negative Heartbeat or DeadAfter")
	}
	hb, dead := c.heartbeat(), c.deadAfter()
	if dead <= hb {
		return fmt.Errorf("mesh: DeadAfter %v must exceed Heartbeat %v", dead, hb)
	}
	return nil
}

func (c *Config) heartbeat() time.Duration {
	if c.Heartbeat == 0 {
		return DefaultHeartbeat
	}
	return c.Heartbeat
}

func (c *Config) deadAfter() time.Duration {
	if c.DeadAfter == 0 {
		return DefaultDeadAfter
	}
	return c.DeadAfter
}

// Mesh is the peer.Network of one server of a cluster. All methods are
// safe for concurrent use.
type Mesh struct {
	cfg       Config
	self      int32
	heartbeat time.Duration
	deadAfter time.Duration
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	log       *zap.Logger
	router    route.Router // this server's

	boxMu sync.RWMutex
	boxes []*peer.Inbox // by local partition; nil until registered

	peers []*peerState // by seqid; nil at Self

	ids atomic.Uint64 // Track ids given to tracked requests from peers

	ctx    context.Context // done at Close
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	started bool
	formed  bool          // Ready has held once
	changed chan struct{} // closed and replaced when a link goes up or down
	wg      sync.WaitGroup
}

// peerState is what the mesh knows of one other server.
type peerState struct {
	host route.Host
	id   int32

	link atomic.Pointer[link] // the link while up

	// swap serializes Accepts from this server (replacing a link).
	swap sync.Mutex

	mu         sync.Mutex
	cause      string // why it is down
	router     route.Router
	partitions int
	partfunc   string
	known      bool // the layout fields are set
}

// New returns the mesh of server cfg.Self. It panics if cfg.Validate
// fails. Register the local partitions, then Start.
func New(cfg Config) *Mesh {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	r, _ := route.New(cfg.PartFunc, cfg.Partitions)
	m := &Mesh{
		cfg:       cfg,
		self:      int32(cfg.Self),
		heartbeat: cfg.heartbeat(),
		deadAfter: cfg.deadAfter(),
		dial:      cfg.Dial,
		log:       cfg.Logger,
		router:    r,
		boxes:     make([]*peer.Inbox, cfg.Partitions),
		peers:     make([]*peerState, len(cfg.Hosts)),
		changed:   make(chan struct{}),
	}
	if m.dial == nil {
		var d net.Dialer
		m.dial = d.DialContext
	}
	if m.log == nil {
		m.log = zap.NewNop()
	}
	m.log = m.log.With(zap.Int("self", cfg.Self))
	if m.cfg.MaxFrameBytes <= 0 {
		m.cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	for i, h := range cfg.Hosts {
		if i == cfg.Self {
			continue
		}
		m.peers[i] = &peerState{host: h, id: int32(i), cause: "not connected yet"}
	}
	return m
}

// Self returns this server's seqid.
func (m *Mesh) Self() int { return m.cfg.Self }

// Register returns the inbox of a, a partition of this server (creating
// it on first use). It panics for any other address.
func (m *Mesh) Register(a peer.Addr) *peer.Inbox {
	if a.Server != m.self || a.Partition < 0 || int(a.Partition) >= len(m.boxes) {
		panic(fmt.Sprintf("mesh: register %v: not a partition of server %d (0..%d)", a, m.self, len(m.boxes)-1))
	}
	m.boxMu.Lock()
	defer m.boxMu.Unlock()
	if m.boxes[a.Partition] == nil {
		m.boxes[a.Partition] = peer.NewInbox()
	}
	return m.boxes[a.Partition]
}

// box returns the inbox of local partition p, nil if unregistered or out
// of range.
func (m *Mesh) box(p int32) *peer.Inbox {
	if p < 0 || int(p) >= len(m.boxes) {
		return nil
	}
	m.boxMu.RLock()
	in := m.boxes[p]
	m.boxMu.RUnlock()
	return in
}

// deliver pushes m into local partition p's inbox, reporting whether it
// is registered.
func (m *Mesh) deliver(p int32, msg peer.Msg) bool {
	in := m.box(p)
	if in == nil {
		return false
	}
	in.Push(msg)
	return true
}

// Send delivers m to to: into the inbox of a partition of this server, or
// over the link to to.Server. It never blocks on the network. m.From must
// be a partition of this server (replies and synthesized answers go
// there). Messages to a server whose link is down are answered at once
// (see the package comment).
func (m *Mesh) Send(to peer.Addr, msg peer.Msg) {
	if to.Server == m.self {
		in := m.box(to.Partition)
		if in == nil {
			panic(fmt.Sprintf("mesh: %v sent to unknown address %v", msg.String(), to))
		}
		in.Push(msg)
		return
	}
	if to.Server < 0 || int(to.Server) >= len(m.peers) || to.Partition < 0 {
		panic(fmt.Sprintf("mesh: %v sent to unknown address %v", msg.String(), to))
	}
	ps := m.peers[to.Server]
	if l := ps.link.Load(); l != nil {
		l.send(to, &msg)
		return
	}
	ps.mu.Lock()
	cause := ps.cause
	ps.mu.Unlock()
	m.answerDown(ps, to, &msg, cause, false)
}

// answerDown answers a message that the peer will never answer, into the
// sender's inbox: a subscribe with an error snapshot, a tracked message
// with its Ack (Err for a forwarded write). sent says whether the message
// may have reached the peer.
func (m *Mesh) answerDown(ps *peerState, to peer.Addr, msg *peer.Msg, cause string, sent bool) {
	if !expectsReply(msg) {
		return
	}
	c := call{kind: msg.Kind, from: msg.From, to: to, lo: msg.Lo, hi: msg.Hi, seq: msg.Seq, track: msg.Track}
	m.complete(ps, &c, cause, sent)
}

// complete answers pending call c of a link to ps that went down.
func (m *Mesh) complete(ps *peerState, c *call, cause string, sent bool) {
	why := fmt.Sprintf("%s unreachable: %s", ps.host, cause)
	var r peer.Msg
	switch c.kind {
	case peer.Subscribe:
		r = peer.Msg{Kind: peer.Snapshot, From: c.to, Lo: c.lo, Hi: c.hi, Seq: c.seq, Err: why}
	case peer.ForwardInsert, peer.ForwardErase:
		r = peer.Msg{Kind: peer.Ack, From: c.to, Ack: c.track, Err: why}
		if sent {
			r.Err += "; the write may or may not have been applied"
		} else {
			r.Err += "; the write was not sent"
		}
	default:
		r = peer.Msg{Kind: peer.Ack, From: c.to, Ack: c.track}
	}
	if c.from.Server != m.self {
		m.log.Error("answer for a sender not on this server dropped", zap.Stringer("msg", &r), zap.Stringer("to", c.from))
		return
	}
	if !m.deliver(c.from.Partition, r) {
		m.log.Warn("answer for an unregistered partition dropped", zap.Stringer("msg", &r), zap.Stringer("to", c.from))
	}
}

// Start dials every server with a smaller seqid, and redials it whenever
// its link is lost, with backoff, until ctx ends (links that are up then
// stay up until Close). Servers with larger seqids dial this one (Accept).
// Calls after the first, or after Close, do nothing.
func (m *Mesh) Start(ctx context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started || m.closed {
		return
	}
	m.started = true
	for i := 0; i < m.cfg.Self; i++ {
		ps := m.peers[i]
		m.wg.Go(func() { m.dialLoop(ctx, ps) })
	}
}

// dialLoop keeps the link to ps (a server with a smaller seqid) up.
func (m *Mesh) dialLoop(ctx context.Context, ps *peerState) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(m.ctx, cancel)
	defer stop()
	backoff := minBackoff
	failures := 0
	for ctx.Err() == nil {
		l, err := m.dialPeer(ctx, ps)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			ps.mu.Lock()
			if !ps.known {
				ps.cause = "not connected yet (last attempt: " + err.Error() + ")"
			}
			ps.mu.Unlock()
			if failures == 1 || failures%100 == 0 {
				m.log.Info("interconnect dial failed; retrying", zap.Int("server", int(ps.id)),
					zap.String("addr", ps.host.Addr()), zap.Int("attempts", failures), zap.Error(err))
			}
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		failures = 0
		began := time.Now()
		select {
		case <-l.down:
		case <-ctx.Done():
			return
		}
		if time.Since(began) > maxBackoff {
			backoff = minBackoff
		} else if !sleep(ctx, backoff) { // a link that dies at once is not redialed in a tight loop
			return
		} else {
			backoff = min(2*backoff, maxBackoff)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// install makes a link over conn (raw is the TCP connection beneath it)
// the current link to ps and starts it; the layout is ps's, as its
// handshake announced.
func (m *Mesh) install(ps *peerState, raw net.Conn, conn *liveConn, netConn net.Conn, lay layout, dialer bool) (*link, error) {
	l := newLink(m, ps, raw, conn, netConn, lay, dialer)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		_ = netConn.Close()
		_ = raw.Close()
		return nil, errClosed
	}
	ps.mu.Lock()
	ps.router, ps.partitions, ps.partfunc, ps.known = lay.router, lay.partitions, lay.partfunc, true
	ps.cause = ""
	ps.link.Store(l)
	ps.mu.Unlock()
	l.start()
	m.wg.Go(l.run)
	m.formed = m.formed || m.Ready()
	m.notifyLocked()
	m.log.Info("interconnect up", zap.Int("server", int(ps.id)), zap.String("addr", ps.host.Addr()),
		zap.String("remote", raw.RemoteAddr().String()), zap.Bool("dialed", dialer),
		zap.Int("partitions", lay.partitions), zap.String("partfunc", lay.partfunc))
	return l, nil
}

// notifyLocked wakes WaitReady callers (m.mu held).
func (m *Mesh) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

func (m *Mesh) notify() {
	m.mu.Lock()
	m.notifyLocked()
	m.mu.Unlock()
}

var errClosed = errors.New("mesh closed")

// Up reports whether the link to server is up (true for Self).
func (m *Mesh) Up(server int) bool {
	if server == m.cfg.Self {
		return true
	}
	if server < 0 || server >= len(m.peers) {
		return false
	}
	return m.peers[server].link.Load() != nil
}

// Ready reports whether the links to all other servers are up (control
// {"is_ready"}, §3.2).
func (m *Mesh) Ready() bool {
	for i := range m.peers {
		if !m.Up(i) {
			return false
		}
	}
	return true
}

// Formed reports whether Ready has held at some point: the mesh was
// complete once, though links may have gone down since. A server that
// gates client requests on the mesh (§1.4) may prefer it to Ready, so that
// losing one peer fails only the requests that need that peer.
func (m *Mesh) Formed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.formed || len(m.peers) == 1
}

// WaitReady blocks until Ready, ctx ends (its error) or the mesh closes.
func (m *Mesh) WaitReady(ctx context.Context) error {
	for {
		m.mu.Lock()
		ch, closed := m.changed, m.closed
		m.mu.Unlock()
		if closed {
			return errClosed
		}
		if m.Ready() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Layout returns server's partition layout as its handshake announced it:
// its router (route.New(partfunc, partitions)) and its number of
// partitions; ok is false until its link has come up once. For Self, this
// server's own. It fits partition.Cluster.Layout.
func (m *Mesh) Layout(server int) (r route.Router, partitions int, ok bool) {
	if server == m.cfg.Self {
		return m.router, m.cfg.Partitions, true
	}
	if server < 0 || server >= len(m.peers) {
		return nil, 0, false
	}
	ps := m.peers[server]
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.router, ps.partitions, ps.known
}

// PeerRouter returns server's router (see Layout).
func (m *Mesh) PeerRouter(server int) (route.Router, bool) {
	r, _, ok := m.Layout(server)
	return r, ok
}

// LinkStatus describes the link to one server.
type LinkStatus struct {
	Server int
	Addr   string // the host file's host:port
	Dialer bool   // this server dials it (its seqid is smaller)
	Up     bool
	Cause  string // why it is down
	// Remote is the connection's remote address while up.
	Remote string
	// Pending counts this side's requests awaiting replies; Unsent the
	// bytes not yet written.
	Pending, Unsent int
}

// Status describes the links to every other server, in seqid order.
func (m *Mesh) Status() []LinkStatus {
	var out []LinkStatus
	for i, ps := range m.peers {
		if ps == nil {
			continue
		}
		s := LinkStatus{Server: i, Addr: ps.host.Addr(), Dialer: i < m.cfg.Self}
		if l := ps.link.Load(); l != nil {
			s.Up = true
			s.Remote = l.raw.RemoteAddr().String()
			l.mu.Lock()
			s.Pending = len(l.calls)
			l.mu.Unlock()
			s.Unsent = l.conn.Unsent()
		} else {
			ps.mu.Lock()
			s.Cause = ps.cause
			ps.mu.Unlock()
		}
		out = append(out, s)
	}
	return out
}

// Close closes every link (each is declared down as on a failure:
// PeerDown and answers to everything pending, "mesh closed"), stops
// dialing and waits for every goroutine of the mesh to exit. Later Sends
// to other servers are answered at once. It is idempotent.
func (m *Mesh) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.wg.Wait()
		return nil
	}
	m.closed = true
	m.notifyLocked()
	m.mu.Unlock()
	m.cancel()
	for _, ps := range m.peers {
		if ps == nil {
			continue
		}
		if l := ps.link.Load(); l != nil {
			l.kill(errClosed)
		}
	}
	m.wg.Wait()
	return nil
}
