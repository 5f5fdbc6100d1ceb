package mesh

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"time"

	"go.uber.org/zap"

	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// The §3.2 handshake, both ends (see the package comment).

// Keys of the interconnect control and its reply.
const (
	helloInterconnect = "interconnect" // the dialer's seqid
	helloServer       = "server"       // the acceptor's seqid (reply)
	helloPartitions   = "partitions"
	helloPartFunc     = "partfunc"
	helloTLS          = "tls"
)

// layout is a server's partitioning as its handshake announced it.
type layout struct {
	router     route.Router
	partitions int
	partfunc   string
}

func newLayout(partitions int64, partfunc string) (layout, error) {
	if partitions < 1 || partitions > math.MaxInt32 {
		return layout{}, fmt.Errorf("bad partition count %d", partitions)
	}
	r, err := route.New(partfunc, int(partitions))
	if err != nil {
		return layout{}, err
	}
	return layout{router: r, partitions: int(partitions), partfunc: partfunc}, nil
}

// helloObject is this server's part of the handshake: the interconnect
// request's object (dialer) or the reply's payload (acceptor).
func (m *Mesh) helloObject(dialer bool) map[string]any {
	o := map[string]any{helloPartitions: m.cfg.Partitions, helloPartFunc: m.cfg.PartFunc}
	if dialer {
		o[helloInterconnect] = m.cfg.Self
	} else {
		o[helloServer] = m.cfg.Self
	}
	if m.cfg.TLS != nil {
		o[helloTLS] = true
	}
	return o
}

func appendControl(b []byte, seq uint64, obj map[string]any) []byte {
	b = wire.AppendRequestHeader(b, wire.CmdControl, seq, 1)
	b, _ = wire.AppendAny(b, obj) // plain maps of ints, strings and bools encode
	return b
}

// dialPeer connects to ps, runs the dialer's handshake and installs the
// link.
func (m *Mesh) dialPeer(ctx context.Context, ps *peerState) (l *link, err error) {
	hctx, cancel := context.WithTimeout(ctx, m.deadAfter)
	defer cancel()
	raw, err := m.dial(hctx, "tcp", ps.host.Addr())
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = raw.Close()
		}
	}()
	// The handshake's reads and writes end at hctx's end (timeout, Close).
	stop := context.AfterFunc(hctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	hs := &hsReader{nc: raw}
	seq := uint64(0)
	if m.cfg.Auth != nil {
		req := appendControl(nil, seq, map[string]any{wire.AuthControlKey: string(m.cfg.Auth)})
		if _, err := raw.Write(req); err != nil {
			return nil, err
		}
		r, err := hs.reply(seq)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		if r.Status != wire.StatusOK || r.Payload.Kind() != wire.KindBool || !r.Payload.Bool() {
			return nil, fmt.Errorf("auth refused: %s", errText(wire.CmdControl, r.Status, r.Payload))
		}
		seq++
	}
	if _, err := raw.Write(appendControl(nil, seq, m.helloObject(true))); err != nil {
		return nil, err
	}
	r, err := hs.reply(seq)
	if err != nil {
		return nil, fmt.Errorf("interconnect handshake: %w", err)
	}
	if r.Status != wire.StatusOK {
		return nil, fmt.Errorf("interconnect refused: %s", errText(wire.CmdControl, r.Status, r.Payload))
	}
	lay, err := m.checkWelcome(ps, r.Payload)
	if err != nil {
		return nil, err
	}
	if !stop() {
		return nil, fmt.Errorf("interconnect handshake: %w", context.Cause(hctx))
	}
	live := &liveConn{Conn: raw, pre: hs.rest()}
	var nc net.Conn = live
	if m.cfg.TLS != nil {
		cfg := m.cfg.TLS.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = ps.host.Name
		}
		tc := tls.Client(live, cfg)
		if err := tc.HandshakeContext(hctx); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		nc = tc
	}
	_ = raw.SetDeadline(time.Time{})
	return m.install(ps, raw, live, nc, lay, true)
}

// checkWelcome checks the acceptor's reply payload.
func (m *Mesh) checkWelcome(ps *peerState, p wire.Value) (layout, error) {
	if !p.IsMap() {
		return layout{}, fmt.Errorf("interconnect reply is %s, not a map (not a Pequod-Go server?)", p)
	}
	if s, ok := p.Get(helloServer); ok {
		if id, ok := s.Int(); !ok || id != int64(ps.id) {
			return layout{}, fmt.Errorf("dialed %s, but it says it is server %s: do the host files agree?", ps.host, s)
		}
	}
	n, ok1 := p.Get(helloPartitions)
	f, ok2 := p.Get(helloPartFunc)
	parts, ok3 := n.Int()
	if !ok1 || !ok2 || !ok3 || !f.IsStr() {
		return layout{}, fmt.Errorf("interconnect reply %s lacks partitions or partfunc (not a Pequod-Go server?)", brief(p))
	}
	t, _ := p.Get(helloTLS)
	if t.Truthy() != (m.cfg.TLS != nil) {
		return layout{}, fmt.Errorf("%s disagrees on TLS (it: %v, here: %v)", ps.host, t.Truthy(), m.cfg.TLS != nil)
	}
	lay, err := newLayout(parts, string(f.Bytes()))
	if err != nil {
		return layout{}, fmt.Errorf("%s announced a bad layout: %w", ps.host, err)
	}
	return lay, nil
}

// Accept takes over a connection on which a server sent the interconnect
// control: hello is the decoded control object ({"interconnect": S,
// "partitions": N, "partfunc": NAME, ...}; integers as any Go integer
// type or an integral float64) and seq the request's seq. The reactor must
// have detached nc from its event loop (and checked auth); Accept owns it
// from here on.
//
// Accept checks the hello; if it refuses (a seqid not in the host file,
// one not larger than this server's, a bad layout, a TLS mismatch, a
// closed mesh) it replies [-13, seq, -1, why] on nc, closes nc and returns
// why. Otherwise it returns nil at once, and on the mesh's goroutines
// replies [-13, seq, 0, {"server", "partitions", "partfunc"}] on nc,
// declares a link still up from the same server down, upgrades to TLS when
// configured and runs the link.
func (m *Mesh) Accept(nc net.Conn, hello map[string]any, seq uint64) error {
	ps, lay, err := m.checkHello(hello)
	if err == nil {
		m.mu.Lock()
		if m.closed {
			err = errClosed
		} else {
			m.wg.Add(1)
		}
		m.mu.Unlock()
	}
	if err != nil {
		err = fmt.Errorf("interconnect refused by server %d: %w", m.self, err)
		_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = nc.Write(wire.AppendString(appendReplyHead(nil, wire.CmdControl, seq, wire.StatusFail), err.Error()))
		_ = nc.Close()
		m.log.Warn("interconnect refused", zap.String("remote", nc.RemoteAddr().String()), zap.Error(err))
		return err
	}
	go func() {
		defer m.wg.Done()
		m.acceptLink(nc, ps, lay, seq)
	}()
	return nil
}

func (m *Mesh) checkHello(hello map[string]any) (*peerState, layout, error) {
	id, ok := asInt(hello[helloInterconnect])
	switch {
	case !ok:
		return nil, layout{}, fmt.Errorf("%q is %v, not a seqid", helloInterconnect, hello[helloInterconnect])
	case id < 0 || id >= int64(len(m.peers)):
		return nil, layout{}, fmt.Errorf("server %d is not in the host file (0..%d)", id, len(m.peers)-1)
	case id == int64(m.self):
		return nil, layout{}, fmt.Errorf("server %d is this server", id)
	case id < int64(m.self):
		return nil, layout{}, fmt.Errorf("server %d has a smaller seqid than this server (%d): this server dials it (§3.2)", id, m.self)
	}
	ps := m.peers[id]
	parts, ok1 := asInt(hello[helloPartitions])
	f, ok2 := hello[helloPartFunc].(string)
	if !ok1 || !ok2 {
		return nil, layout{}, fmt.Errorf("server %d's hello lacks partitions or partfunc (not a Pequod-Go server?)", id)
	}
	if truthy(hello[helloTLS]) != (m.cfg.TLS != nil) {
		return nil, layout{}, fmt.Errorf("server %d disagrees on TLS (it: %v, here: %v)", id, truthy(hello[helloTLS]), m.cfg.TLS != nil)
	}
	lay, err := newLayout(parts, f)
	if err != nil {
		return nil, layout{}, fmt.Errorf("server %d announced a bad layout: %w", id, err)
	}
	return ps, lay, nil
}

// acceptLink is the acceptor's side after a good hello.
func (m *Mesh) acceptLink(nc net.Conn, ps *peerState, lay layout, seq uint64) {
	ps.swap.Lock()
	defer ps.swap.Unlock()
	fail := func(what string, err error) {
		_ = nc.Close()
		m.log.Warn("interconnect accept failed", zap.Int("server", int(ps.id)), zap.String("step", what), zap.Error(err))
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	reply := appendReplyHead(nil, wire.CmdControl, seq, wire.StatusOK)
	reply, _ = wire.AppendAny(reply, m.helloObject(false))
	_ = nc.SetWriteDeadline(time.Now().Add(m.deadAfter))
	if _, err := nc.Write(reply); err != nil {
		fail("reply", err)
		return
	}
	_ = nc.SetWriteDeadline(time.Time{})
	if old := ps.link.Load(); old != nil {
		// The peer dialed again, so it has given the old link up: declare
		// it down (PeerDown and its answers are queued before anything the
		// new link delivers).
		old.kill(errors.New("replaced by a new connection from the server"))
		<-old.down
	}
	live := &liveConn{Conn: nc}
	var c net.Conn = live
	if m.cfg.TLS != nil {
		ctx, cancel := context.WithTimeout(m.ctx, m.deadAfter)
		tc := tls.Server(live, m.cfg.TLS)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			fail("tls", err)
			return
		}
		c = tc
	}
	if _, err := m.install(ps, nc, live, c, lay, false); err != nil {
		m.log.Debug("interconnect accept abandoned", zap.Int("server", int(ps.id)), zap.Error(err))
	}
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint:
		return int64(x), x <= math.MaxInt64
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		return int64(x), x <= math.MaxInt64
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

// truthy is the JavaScript truth of a decoded value (§1.7).
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0
	}
	if i, ok := asInt(v); ok {
		return i != 0
	}
	return true
}

// hsReader reads the handshake's replies from a raw connection, keeping
// whatever arrives after the last one for the link.
type hsReader struct {
	nc  net.Conn
	buf []byte
	dec wire.Decoder
}

const maxHandshakeFrame = 1 << 20

// next returns the next message (an owned copy).
func (h *hsReader) next() (wire.Value, error) {
	h.dec.Reset()
	h.dec.MaxFrameBytes = maxHandshakeFrame
	var tmp [4096]byte
	for {
		if len(h.buf) > 0 {
			msgs, _, err := h.dec.Decode(h.buf)
			if len(msgs) > 0 {
				v := msgs[0]
				n := len(v.Raw())
				out := v.Clone()
				h.buf = h.buf[n:]
				h.dec.Reset()
				return out, nil
			}
			if err != nil {
				return wire.Value{}, err
			}
		}
		n, err := h.nc.Read(tmp[:])
		h.buf = append(h.buf, tmp[:n]...)
		if err != nil && n == 0 {
			return wire.Value{}, err
		}
	}
}

// reply reads the reply to control seq.
func (h *hsReader) reply(seq uint64) (wire.Reply, error) {
	v, err := h.next()
	if err != nil {
		return wire.Reply{}, err
	}
	r, ok := wire.ParseReply(v)
	if !ok || r.Cmd != wire.CmdControl || r.Seq < 0 || uint64(r.Seq) != seq {
		return wire.Reply{}, fmt.Errorf("expected the reply to control seq %d, got %s", seq, brief(v))
	}
	return r, nil
}

// rest returns the bytes read past the last reply.
func (h *hsReader) rest() []byte {
	if len(h.buf) == 0 {
		return nil
	}
	return append([]byte(nil), h.buf...)
}
