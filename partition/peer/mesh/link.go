package mesh

import (
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/wire"
)

// A link is one connection to a peer server, from the end of its
// handshake until it goes down. A new connection makes a new link; nothing
// pending carries over.
//
// It runs on a wire.Conn used as a framed byte pipe: every frame, requests
// and replies alike, goes out through Conn.Write, and the link keeps its
// own seq counter and pending tables (untracked requests have no pending
// entry, which Conn.Send would require). Goroutines: the Conn's reader
// (decode → handle → inbox pushes) and writer, and run, which pings,
// watches the heartbeat deadline and, when the link ends, declares it
// down.
type link struct {
	m          *Mesh
	ps         *peerState
	peer       int32 // ps.id
	partitions int   // the peer's, from the handshake
	dialer     bool  // this side dialed
	raw        net.Conn
	live       *liveConn
	conn       *wire.Conn[struct{}]
	dec        wire.Decoder // reader goroutine only

	mu    sync.Mutex
	dead  bool
	cause string
	seq   uint64
	// calls are this side's requests awaiting replies, by seq.
	calls map[uint64]call
	// subs are the peer's subscribes awaiting their Snapshot from a local
	// partition: their seqs, oldest first.
	subs map[subKey][]uint64
	// acks are the peer's tracked requests awaiting a local partition's
	// Ack, by the Track id given to the local partition.
	acks map[uint64]ackEntry

	wrote    atomic.Bool // something was sent since the last heartbeat tick
	killCh   chan struct{}
	killOnce sync.Once
	killErr  error
	down     chan struct{} // closed once the link is declared down
}

// call is a request this side sent that expects a reply.
type call struct {
	kind     peer.Kind
	from, to peer.Addr // the local sender, the remote receiver
	lo, hi   string    // Subscribe
	seq      uint64    // Subscribe's Msg.Seq
	track    uint64    // the sender's Track
}

type subKey struct {
	sub, owner peer.Addr // the remote subscriber, the local owner
	seq        uint64
}

type ackEntry struct {
	seq    uint64   // the request's seq on the link
	cmd    wire.Cmd // its command, for the reply
	remote peer.Addr
}

func newLink(m *Mesh, ps *peerState, raw net.Conn, live *liveConn, nc net.Conn, lay layout, dialer bool) *link {
	l := &link{
		m:          m,
		ps:         ps,
		peer:       ps.id,
		partitions: lay.partitions,
		dialer:     dialer,
		raw:        raw,
		live:       live,
		calls:      make(map[uint64]call),
		subs:       make(map[subKey][]uint64),
		acks:       make(map[uint64]ackEntry),
		killCh:     make(chan struct{}),
		down:       make(chan struct{}),
	}
	l.dec.MaxFrameBytes = m.cfg.MaxFrameBytes
	if live != nil {
		live.last.Store(mono())
	}
	if nc != nil {
		l.conn = wire.NewConn[struct{}](nc, wire.ConnOptions{LowWater: linkLowWater})
	}
	return l
}

func (l *link) start() { l.conn.Start((*codec)(l)) }

// kill ends the link with err as the cause.
func (l *link) kill(err error) {
	l.killOnce.Do(func() {
		l.killErr = err
		close(l.killCh)
	})
}

// write appends a frame; an error means the connection is gone.
func (l *link) write(enc func([]byte) []byte) error {
	if l.conn == nil { // a link without a connection (the decoder's fuzz test)
		return errClosed
	}
	err := l.conn.Write(enc)
	if err == nil {
		l.wrote.Store(true)
	}
	return err
}

// send carries m from a local partition to remote address to.
func (l *link) send(to peer.Addr, m *peer.Msg) {
	switch m.Kind {
	case peer.Snapshot:
		l.answerSubscribe(to, m)
	case peer.Ack:
		l.answerTracked(to, m)
	default:
		if cmdOf(m.Kind) == 0 {
			l.m.log.Warn("message kind not carried between servers; dropped", zap.Stringer("msg", m), zap.Stringer("to", to))
			return
		}
		l.request(to, m)
	}
}

func (l *link) request(to peer.Addr, m *peer.Msg) {
	if int(to.Partition) >= l.partitions {
		l.m.log.Error("message to a partition the server does not have", zap.Stringer("msg", m), zap.Stringer("to", to),
			zap.Int("partitions", l.partitions))
		l.m.answerDown(l.ps, to, m, fmt.Sprintf("it has no partition %d (it has %d)", to.Partition, l.partitions), false)
		return
	}
	expects := expectsReply(m)
	l.mu.Lock()
	if l.dead {
		cause := l.cause
		l.mu.Unlock()
		l.m.answerDown(l.ps, to, m, cause, false)
		return
	}
	seq := l.seq
	l.seq++
	if expects {
		l.calls[seq] = call{kind: m.Kind, from: m.From, to: to, lo: m.Lo, hi: m.Hi, seq: m.Seq, track: m.Track}
	}
	l.mu.Unlock()
	// If the Conn has failed, the call stays pending: linkDown, which
	// follows every failure, answers it with the calls before it, in order.
	_ = l.write(func(b []byte) []byte { return appendRequest(b, l.m.self, seq, to, m) })
}

// answerSubscribe writes a local owner's Snapshot as the reply to the
// peer's subscribe it answers.
func (l *link) answerSubscribe(to peer.Addr, m *peer.Msg) {
	key := subKey{sub: to, owner: m.From, seq: m.Seq}
	l.mu.Lock()
	q := l.subs[key]
	if len(q) == 0 {
		l.mu.Unlock()
		l.m.log.Debug("snapshot answers no pending subscribe; dropped", zap.Stringer("msg", m), zap.Stringer("to", to))
		return
	}
	seq := q[0]
	if len(q) == 1 {
		delete(l.subs, key)
	} else {
		l.subs[key] = q[1:]
	}
	l.mu.Unlock()
	_ = l.write(func(b []byte) []byte { return appendSnapshotReply(b, seq, m) })
}

// answerTracked writes a local partition's Ack as the reply to the peer's
// tracked request it answers.
func (l *link) answerTracked(to peer.Addr, m *peer.Msg) {
	l.mu.Lock()
	e, ok := l.acks[m.Ack]
	if ok && e.remote == to {
		delete(l.acks, m.Ack)
	} else {
		ok = false
	}
	l.mu.Unlock()
	if !ok {
		l.m.log.Debug("ack answers no pending request; dropped", zap.Stringer("msg", m), zap.Stringer("to", to))
		return
	}
	_ = l.write(func(b []byte) []byte { return appendAckReply(b, e.cmd, e.seq, m.Err) })
}

func (l *link) ping() {
	l.mu.Lock()
	if l.dead {
		l.mu.Unlock()
		return
	}
	seq := l.seq
	l.seq++
	l.mu.Unlock()
	// Not through write: a ping does not count as traffic, so an idle link
	// is pinged every Heartbeat.
	_ = l.conn.Write(func(b []byte) []byte { return appendPing(b, seq) })
}

// codec is the link's framing on its wire.Conn.
type codec link

func (c *codec) Decode(buf []byte) (int, int, error) { return (*link)(c).decode(buf) }

// Fail is never called: the link sends no calls through Conn.Send.
func (c *codec) Fail(struct{}, error) {}

// decode handles the complete frames at the start of buf, in order. Any
// malformed frame ends the link (after the frames before it).
func (l *link) decode(buf []byte) (int, int, error) {
	msgs, used, err := l.dec.Decode(buf)
	for _, v := range msgs {
		if herr := l.handle(v); herr != nil {
			return used, 0, fmt.Errorf("from server %d: %w", l.peer, herr)
		}
	}
	if err != nil {
		return used, 0, fmt.Errorf("from server %d: bad msgpack: %w", l.peer, err)
	}
	return used, l.dec.Need(), nil
}

func (l *link) handle(v wire.Value) error {
	f, err := parseFrame(v)
	if err != nil {
		return err
	}
	if f.reply {
		return l.onReply(&f)
	}
	return l.onRequest(&f)
}

// onReply completes the call a reply answers: the reply becomes the
// sender's Snapshot or Ack.
func (l *link) onReply(f *frame) error {
	l.mu.Lock()
	c, ok := l.calls[f.seq]
	delete(l.calls, f.seq)
	l.mu.Unlock()
	if !ok {
		return nil // a reply to nothing pending is discarded (§1.2)
	}
	if f.cmd != cmdOf(c.kind) {
		err := protocolErr("reply to %s (seq %d) has command %s", cmdOf(c.kind), f.seq, f.cmd)
		l.m.complete(l.ps, &c, err.Error(), true)
		return err
	}
	var r peer.Msg
	switch c.kind {
	case peer.Subscribe:
		r = peer.Msg{Kind: peer.Snapshot, From: c.to, Lo: c.lo, Hi: c.hi, Seq: c.seq}
		if f.status != wire.StatusOK {
			r.Err = errText(f.cmd, f.status, f.payload)
			break
		}
		kvs, fresh, err := parseSnapshot(f.payload)
		if err != nil {
			l.m.complete(l.ps, &c, err.Error(), true)
			return err
		}
		r.KVs, r.FreshFor = kvs, fresh
	case peer.ForwardInsert, peer.ForwardErase:
		r = peer.Msg{Kind: peer.Ack, From: c.to, Ack: c.track}
		if f.status != wire.StatusOK {
			r.Err = errText(f.cmd, f.status, f.payload)
		}
	default:
		r = peer.Msg{Kind: peer.Ack, From: c.to, Ack: c.track}
		if f.status != wire.StatusOK {
			l.m.log.Warn("tracked message failed at the receiver", zap.Int("server", int(l.peer)),
				zap.Stringer("cmd", f.cmd), zap.String("error", errText(f.cmd, f.status, f.payload)))
		}
	}
	if !l.m.deliver(c.from.Partition, r) {
		l.m.log.Warn("reply for an unregistered partition dropped", zap.Stringer("msg", &r), zap.Stringer("to", c.from))
	}
	return nil
}

// onRequest turns a peer's request into a message for a local partition.
func (l *link) onRequest(f *frame) error {
	if f.cmd == wire.CmdControl {
		return nil // a ping (any frame counts as life); other controls are ignored
	}
	kind := kindOf(f.cmd)
	if kind == 0 {
		return protocolErr("unexpected request %s", f.cmd)
	}
	msg := peer.Msg{Kind: kind}
	var optV wire.Value
	var err error
	switch kind {
	case peer.Subscribe, peer.Unsubscribe, peer.Invalidate:
		if msg.Lo, err = str(f.args[0], "lo"); err == nil {
			msg.Hi, err = str(f.args[1], "hi")
		}
		optV = f.args[2]
	case peer.NotifyInsert, peer.ForwardInsert:
		if msg.Key, err = str(f.args[0], "key"); err == nil {
			msg.Value, err = str(f.args[1], "value")
		}
		optV = f.args[2]
	default: // NotifyErase, ForwardErase
		msg.Key, err = str(f.args[0], "key")
		optV = f.args[1]
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.cmd, err)
	}
	o, err := parseOpts(optV)
	if err != nil {
		return fmt.Errorf("%s: %w", f.cmd, err)
	}
	if o.from < 0 || o.from >= int64(l.partitions) {
		return protocolErr("%s from partition %d of server %d, which has %d", f.cmd, o.from, l.peer, l.partitions)
	}
	if o.to < 0 || o.to >= int64(len(l.m.boxes)) {
		return protocolErr("%s to partition %d of server %d, which has %d", f.cmd, o.to, l.m.self, len(l.m.boxes))
	}
	if kind == peer.Subscribe && !o.hasSeq {
		return protocolErr("subscribe without %q", optSeq)
	}
	msg.From = peer.Addr{Server: l.peer, Partition: int32(o.from)}
	to := peer.Addr{Server: l.m.self, Partition: int32(o.to)}
	in := l.m.box(to.Partition)
	if in == nil {
		return l.unregistered(f, &msg, to, o)
	}
	switch {
	case kind == peer.Subscribe:
		msg.Seq = o.seq
		key := subKey{sub: msg.From, owner: to, seq: o.seq}
		l.mu.Lock()
		if !l.dead {
			l.subs[key] = append(l.subs[key], f.seq)
		}
		l.mu.Unlock()
	case o.track && kind != peer.Unsubscribe:
		msg.Track = l.m.ids.Add(1)
		l.mu.Lock()
		if !l.dead {
			l.acks[msg.Track] = ackEntry{seq: f.seq, cmd: f.cmd, remote: msg.From}
		}
		l.mu.Unlock()
	}
	in.Push(msg)
	return nil
}

// unregistered answers a request for a local partition that was never
// registered (a server still starting): with a failure where an answer is
// awaited.
func (l *link) unregistered(f *frame, msg *peer.Msg, to peer.Addr, o opts) error {
	why := fmt.Sprintf("partition %v is not running", to)
	l.m.log.Warn("peer message for an unregistered partition", zap.Stringer("msg", msg), zap.Stringer("to", to))
	switch {
	case msg.Kind == peer.Subscribe:
		r := peer.Msg{Err: why}
		_ = l.write(func(b []byte) []byte { return appendSnapshotReply(b, f.seq, &r) })
	case o.track && msg.Kind != peer.Unsubscribe:
		_ = l.write(func(b []byte) []byte { return appendAckReply(b, f.cmd, f.seq, why) })
	}
	return nil
}

// run pings the peer when idle, watches the heartbeat deadline, and
// declares the link down when it fails, is killed or falls silent.
func (l *link) run() {
	hb := time.NewTicker(l.m.heartbeat)
	defer hb.Stop()
	deadline := time.NewTimer(l.m.deadAfter)
	defer deadline.Stop()
	var cause error
loop:
	for {
		select {
		case <-hb.C:
			if !l.wrote.Swap(false) {
				l.ping()
			}
		case <-deadline.C:
			if l.live.busy.Load() { // the reader is working on received bytes
				deadline.Reset(l.m.deadAfter)
				continue
			}
			idle := time.Duration(mono() - l.live.last.Load())
			if idle >= l.m.deadAfter {
				cause = fmt.Errorf("nothing received for %v (heartbeat deadline)", idle.Round(time.Millisecond))
				break loop
			}
			deadline.Reset(l.m.deadAfter - idle)
		case <-l.conn.Done():
			cause = l.conn.Err()
			break loop
		case <-l.killCh:
			cause = l.killErr
			break loop
		}
	}
	// Close the TCP connection first: a writer blocked on a stopped peer
	// (or a TLS Close waiting for it) returns at once.
	_ = l.raw.Close()
	_ = l.conn.Close() // waits for the reader: every frame received is handled
	l.m.linkDown(l, cause)
	close(l.down)
}

// linkDown declares l down: the link is unpublished (Up is false), then
// PeerDown goes to every local partition, then an answer to every request
// pending on it, in the order sent. All of it happens under l.mu and
// ps.mu, which a Send to ps takes before answering at once (l.mu when it
// found the link, ps.mu when it found none), so those answers come after
// these: the answers to one sender's messages keep their order.
func (m *Mesh) linkDown(l *link, cause error) {
	text := "link closed"
	if cause != nil {
		text = cause.Error()
	}
	ps := l.ps
	m.boxMu.RLock()
	boxes := slices.Clone(m.boxes)
	m.boxMu.RUnlock()

	l.mu.Lock()
	ps.mu.Lock()
	l.dead, l.cause = true, text
	calls := l.calls
	l.calls, l.subs, l.acks = nil, nil, nil
	if ps.link.Load() == l {
		ps.link.Store(nil)
		ps.cause = text
	}
	m.log.Warn("interconnect down", zap.Int("server", int(ps.id)), zap.String("addr", ps.host.Addr()),
		zap.String("cause", text), zap.Int("pending", len(calls)))
	down := peer.Msg{Kind: peer.PeerDown, From: peer.Addr{Server: ps.id, Partition: peer.AnyPartition}}
	for _, in := range boxes {
		if in != nil {
			in.Push(down)
		}
	}
	seqs := make([]uint64, 0, len(calls))
	for s := range calls {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	for _, s := range seqs {
		c := calls[s]
		m.complete(ps, &c, text, true)
	}
	ps.mu.Unlock()
	l.mu.Unlock()
	m.notify()
}

// liveConn is the connection beneath a link (beneath TLS, if any). It
// tells the heartbeat watchdog whether the peer has fallen silent: the
// silence clock runs only while the link's reader is blocked in Read
// waiting for bytes. Decoding and delivering what arrived counts as life,
// so a reader busy with a large batch is not taken for a dead peer. (A
// reader that is runnable but not scheduled for DeadAfter, in a process
// starved of CPU, is indistinguishable from silence and the link goes
// down.) It also first returns bytes the handshake read past its reply.
type liveConn struct {
	net.Conn
	pre  []byte
	last atomic.Int64 // mono() when the reader last entered Read or got bytes
	busy atomic.Bool  // the reader has bytes in hand (not waiting in Read)
}

func (c *liveConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		c.last.Store(mono())
		c.busy.Store(true)
		return n, nil
	}
	c.last.Store(mono())
	c.busy.Store(false)
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.last.Store(mono())
		c.busy.Store(true)
	}
	return n, err
}

var epoch = time.Now()

// mono is a monotonic clock reading in nanoseconds.
func mono() int64 { return int64(time.Since(epoch)) }
