// Package reactor is Pequod-Go's network front end: gnet v2 event loops that
// turn bytes from client connections into wire frames, validated requests and
// per-read batches handed to the partitions, and carry the partitions'
// replies back out, batched, on each connection's asynchronous write path.
//
// It owns the listening socket, every accepted connection, the per-connection
// decoder and inbound buffer, and the reply path. It knows the wire protocol
// (spec/server.md §1) and the partition hand-off (Dispatcher, implemented by
// *partition.Server), never joins or stores.
//
// # Lifecycle
//
// Start listens and returns once the event loops run; Server.Addr tells the
// bound address (useful with port 0); Server.Stop shuts down gracefully.
// Serve wraps both for the common case: it blocks until its context is done
// (or a fatal engine error) and returns nil after a clean stop.
//
//	rs, err := reactor.Start(reactor.Config{Addr: ":8000"}, srv)
//	if err != nil { ... }          // listening failed
//	fmt.Println("listening on", rs.Addr())
//	...
//	err = rs.Stop(ctx)             // closes every connection, waits for the loops
//
// The caller owns the Dispatcher: stop the reactor first (no more Dispatch
// calls after Stop returns), then close the partitions.
//
// # Inbound path
//
// Each connection has a wire.Decoder. OnTraffic takes everything gnet has
// read, decodes every complete message (zero-copy when no partial message is
// pending; otherwise the partial tail is kept in a per-connection buffer that
// grows to at most one frame), and for each message applies wire.ParseRequest:
//
//   - Accept: partition.FromWire copies what it keeps; the request joins this
//     read's batch. A FromWire error fails the request (logged once per
//     connection).
//   - Reject: the failure reply [-cmd, seq, -1, null] is written directly.
//   - Close (§1.5 rule 1): "bad rpc" is logged and this connection is closed
//     after the requests before it are dispatched. No reply.
//   - IsReply: ignored (a server has no outstanding calls on client links).
//
// The batch goes to Dispatcher.Dispatch once per read, not once per request.
// A decode error (malformed msgpack, nesting deeper than wire.DefaultMaxDepth,
// a frame over Config.MaxFrameBytes) is logged and closes that connection
// only, after the complete messages before it have been handled.
//
// # Reply path
//
// Every connection is its own partition.Replier. SendReply, called from
// partition goroutines, appends the encoded reply to a mutex-protected pending
// buffer; the first reply of a burst schedules one flush task on the
// connection's event loop (gnet EventLoop.Execute), later replies of the
// burst just append. The flush task swaps the pending buffer with a spare one
// and writes it with one Conn.Write on the loop goroutine (gnet copies what the
// socket does not take into its outbound buffer), so a burst of replies costs
// one task and one syscall, not one per reply.
//
// Safety on close: OnClose (always on the loop goroutine, always before gnet
// closes its poller) marks the connection closed under the same mutex and
// writes out what is still pending. A flush is only ever scheduled while
// holding the mutex and seeing the connection open, so nothing is queued on a
// loop after its connection is gone; replies that arrive later are dropped.
// Partitions may keep replying to a closed connection without harm: no panic,
// no goroutine, and the buffers are released.
//
// # Authentication
//
// With Config.Secret set, a connection authenticates with control
// {"auth": secret} (wire.AuthControlKey), which the reactor answers itself:
// true, or a failure reply [-13, seq, -1, "auth: ..."] saying why (a wrong
// secret, not a string, other keys beside it); a wrong secret never undoes
// an earlier success. The secrets are compared in constant time (as SHA-256
// sums, so not even the length leaks). Until a connection has
// authenticated, the reactor refuses requests with [-cmd, seq, -1,
// "authentication required..."], executes nothing, and keeps the
// connection open:
//
//   - from a loopback address, only admin controls are refused
//     (partition.AdminControlKey: quit, log writes, interconnect, ...), so
//     the original clients, which cannot authenticate, keep working on one
//     machine;
//   - from any other address, every request but the auth control is.
//
// The decision is made on the event loop in arrival order, so requests
// pipelined after a successful auth are served. Without a secret every
// request is served, and an auth control is answered "auth: this server has
// no secret configured".
package reactor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"go.uber.org/zap"

	"github.com/pequod-go/pequod/partition"
	"github.com/pequod-go/pequod/wire"
)

// Dispatcher receives the accepted requests of one read of one connection,
// in arrival order. It must not keep the slice (it is reused), and it may
// block for back-pressure. *partition.Server implements it.
type Dispatcher interface {
	Dispatch(reqs []*partition.Request)
}

var _ Dispatcher = (*partition.Server)(nil)

var _ partition.ReplyAppender = (*conn)(nil)

// Config configures a reactor.
type Config struct {
	// Addr is the TCP address to listen on, "host:port" (":8000",
	// "127.0.0.1:0"). An explicit scheme such as "tcp4://0.0.0.0:8000" is
	// passed to gnet as is. Port 0 picks a free port; see Server.Addr.
	Addr string
	// Loops is the number of event loops; 0 means runtime.NumCPU().
	Loops int
	// MaxFrameBytes bounds one inbound message; 0 means
	// wire.DefaultMaxFrameBytes (64 MiB). A larger frame closes the
	// connection.
	MaxFrameBytes int
	// Logger receives the reactor's logs (and gnet's, at debug level);
	// nil means none.
	Logger *zap.Logger
	// Secret, if not empty, is the shared secret a connection presents with
	// control {"auth": secret}; until it has, its requests are refused as
	// the package comment's Authentication section says. Empty means no
	// authentication: every request is served.
	Secret []byte
	// Interconnect, if set, takes over connections on which another
	// server of the cluster sent control {"interconnect": …} (server.md
	// §3.2), once admitted: the reactor detaches the socket from its
	// event loop and calls Interconnect on a goroutine of its own with a
	// net.Conn for it, the request's object and its seq; the callee
	// replies on nc and owns it from then on. Without it, the control is
	// answered like any other (the partitions report no cluster).
	Interconnect func(nc net.Conn, hello map[string]any, seq uint64) error
}

// Server is a running reactor.
type Server struct {
	cfg  Config
	log  *zap.Logger
	d    Dispatcher
	h    *handler
	addr net.Addr

	hasSecret bool
	secretSum [sha256.Size]byte // SHA-256 of Config.Secret

	done   chan struct{} // closed when gnet.Run has returned
	runErr error         // gnet.Run's error, valid after done

	stopOnce sync.Once
}

// Start listens on cfg.Addr and runs the event loops. It returns once the
// engine is running (connections are accepted from then on), or the error
// that prevented listening.
func Start(cfg Config, d Dispatcher) (*Server, error) {
	if d == nil {
		return nil, errors.New("reactor: nil Dispatcher")
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.NumCPU()
	}
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = wire.DefaultMaxFrameBytes
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	proto := cfg.Addr
	if !strings.Contains(proto, "://") {
		proto = "tcp://" + proto
	}
	s := &Server{cfg: cfg, log: log, d: d, done: make(chan struct{})}
	if len(cfg.Secret) > 0 {
		s.hasSecret, s.secretSum = true, sha256.Sum256(cfg.Secret)
	}
	s.cfg.Secret = nil // only the sum is kept
	h := &handler{srv: s, booted: make(chan struct{}), started: make(chan struct{})}
	s.h = h
	go func() {
		defer close(s.done)
		s.runErr = gnet.Run(h, proto,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(cfg.Loops),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithReuseAddr(true),
			gnet.WithTicker(true),
			gnet.WithLogger(gnetLogger{log.Sugar().Named("gnet")}),
		)
	}()
	select {
	case <-h.started:
	case <-s.done:
		if s.runErr == nil {
			s.runErr = errors.New("engine stopped during start-up")
		}
		return nil, fmt.Errorf("reactor: listen %s: %w", cfg.Addr, s.runErr)
	}
	s.addr = h.addr
	log.Debug("reactor started", zap.Stringer("addr", s.addr), zap.Int("loops", cfg.Loops))
	return s, nil
}

// Addr returns the bound listening address (with the real port when Config
// asked for port 0). It is nil if the address could not be read.
func (s *Server) Addr() net.Addr { return s.addr }

// Port returns the bound TCP port, or 0 if unknown.
func (s *Server) Port() int {
	if a, ok := s.addr.(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Done is closed when the engine has stopped (after Stop, or after a fatal
// engine error; see Err).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the engine's fatal error once Done is closed (nil after a
// clean stop).
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.runErr
	default:
		return nil
	}
}

// Stop shuts the reactor down: the listener is closed, every connection is
// closed (pending replies are written out first, best effort) and the event
// loops exit. It returns nil once everything has stopped, or ctx's error if
// that takes too long (the shutdown still completes in the background).
// After Stop returns nil no more Dispatch calls are made. Stop is idempotent.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		eng := s.h.eng
		go func() {
			// Engine.Stop polls for completion every 500 ms; ending its
			// context as soon as gnet.Run has returned makes Stop prompt.
			sctx, cancel := context.WithCancel(context.Background())
			go func() { <-s.done; cancel() }()
			_ = eng.Stop(sctx)
		}()
	})
	select {
	case <-s.done:
		return s.runErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Serve runs a reactor until ctx is done, then stops it gracefully. It
// returns an error if listening fails or the engine fails, and nil after a
// clean stop.
func Serve(ctx context.Context, cfg Config, d Dispatcher) error {
	s, err := Start(cfg, d)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.done:
		if s.runErr != nil {
			return s.runErr
		}
		return nil
	}
	return s.Stop(context.Background())
}

// handler is the gnet event handler.
type handler struct {
	gnet.BuiltinEventEngine
	srv *Server
	eng gnet.Engine

	addr    net.Addr
	booted  chan struct{}
	started chan struct{}
	once    sync.Once

	conns   atomic.Int64 // open connections
	flushes atomic.Int64 // flush tasks that wrote replies
}

func (h *handler) OnBoot(eng gnet.Engine) gnet.Action {
	h.eng = eng
	h.addr = listenAddr(eng)
	close(h.booted)
	return gnet.None
}

// OnTick fires once right after the engine has started its loops; that is
// when Start returns. It is not needed afterwards.
func (h *handler) OnTick() (time.Duration, gnet.Action) {
	h.once.Do(func() { close(h.started) })
	return 24 * time.Hour, gnet.None
}

func (h *handler) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	c := &conn{h: h, gc: gc}
	c.dec.MaxFrameBytes = h.srv.cfg.MaxFrameBytes
	ra := gc.RemoteAddr()
	if ra != nil {
		c.remote = ra.String()
	}
	c.loopback = isLoopback(ra)
	c.authed = !h.srv.hasSecret
	gc.SetContext(c)
	n := h.conns.Add(1)
	if ce := h.srv.log.Check(zap.DebugLevel, "connection opened"); ce != nil {
		ce.Write(zap.String("remote", c.remote), zap.Int64("open", n))
	}
	return nil, gnet.None
}

func (h *handler) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	c.shutdown()
	n := h.conns.Add(-1)
	if ce := h.srv.log.Check(zap.DebugLevel, "connection closed"); ce != nil {
		ce.Write(zap.String("remote", c.remote), zap.Int64("open", n), zap.Error(err))
	}
	return gnet.None
}

func (h *handler) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.Close
	}
	return c.traffic()
}

// conn is the reactor's state for one connection. The fields above mu are
// touched only by the connection's event loop; the ones below by whoever
// holds mu (partition goroutines in SendReply, the loop in flush and close).
type conn struct {
	h      *handler
	gc     gnet.Conn
	remote string

	dec         wire.Decoder
	in          []byte               // partial message carried over between reads
	batch       []*partition.Request // this read's accepted requests
	local       []byte               // failure replies written by the loop itself
	loggedParse bool                 // a FromWire error has been logged
	loopback    bool                 // the peer's address is a loopback address
	authed      bool                 // authenticated, or the server has no secret
	loggedAuth  bool                 // a failed auth has been logged
	loggedDeny  bool                 // a refused request has been logged
	handoff     *partition.Request   // an admitted interconnect control: detach

	mu        sync.Mutex
	out       []byte // replies waiting for the flush task
	spare     []byte // the other buffer of the double buffer
	scheduled bool   // a flush task is queued on the loop
	closed    bool
}

// keepBuf is the largest buffer capacity a connection keeps while idle.
const keepBuf = 1 << 20

// traffic handles one read: decode, classify, dispatch the batch, write the
// failure replies.
func (c *conn) traffic() gnet.Action {
	// Take everything; gnet's own inbound buffer thus always stays empty
	// and Next returns its read buffer without copying.
	data, _ := c.gc.Next(-1)
	buf := data
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		buf = c.in
		if need := c.dec.Need(); need > len(buf) {
			return gnet.None // the pending message is still incomplete
		}
	}
	msgs, consumed, err := c.dec.Decode(buf)

	action := gnet.None
	var slab []partition.Request // this read's requests, one allocation
	for _, m := range msgs {
		r, verdict := wire.ParseRequest(m)
		switch verdict {
		case wire.Accept:
			if slab == nil {
				slab = make([]partition.Request, 0, len(msgs))
			}
			slab = slab[:len(slab)+1]
			q := &slab[len(slab)-1]
			if ferr := q.Fill(&r, c); ferr != nil {
				slab = slab[:len(slab)-1]
				c.local = wire.AppendFailReply(c.local, &r)
				if !c.loggedParse {
					c.loggedParse = true
					c.h.srv.log.Warn("bad request", zap.String("remote", c.remote), zap.Error(ferr))
				}
				continue
			}
			if !c.admit(q) {
				slab = slab[:len(slab)-1]
				continue
			}
			if c.h.srv.cfg.Interconnect != nil && q.Cmd == wire.CmdControl {
				if _, ok := q.Control["interconnect"]; ok {
					// The dialing server sends nothing more until the
					// reply, so nothing after this request is lost.
					c.handoff = q
					action = gnet.Close
					break
				}
			}
			c.batch = append(c.batch, q)
		case wire.Reject:
			c.local = wire.AppendFailReply(c.local, &r)
		case wire.Close:
			c.h.srv.log.Warn("bad rpc: "+brief(m), zap.String("remote", c.remote))
			action = gnet.Close
		case wire.IsReply:
			// No calls are outstanding on a client link: discard (§1.2).
		}
		if action == gnet.Close {
			break
		}
	}
	if len(c.batch) > 0 {
		c.h.srv.d.Dispatch(c.batch)
		clear(c.batch)
		c.batch = c.batch[:0]
	}
	if len(c.local) > 0 {
		_, _ = c.gc.Write(c.local)
		c.local = c.local[:0]
		if cap(c.local) > keepBuf {
			c.local = nil
		}
	}
	if c.handoff != nil {
		c.detach(c.handoff)
		return gnet.Close
	}
	if action == gnet.Close {
		return action
	}
	if err != nil {
		c.h.srv.log.Warn("closing connection: bad msgpack", zap.String("remote", c.remote), zap.Error(err))
		return gnet.Close
	}

	tail := buf[consumed:]
	if len(c.in) > 0 { // buf is c.in: move the partial tail to the front
		c.in = c.in[:copy(c.in, tail)]
	} else if len(tail) > 0 { // buf is gnet's read buffer: keep a copy
		c.in = append(c.in[:0], tail...)
	}
	if len(c.in) == 0 && cap(c.in) > keepBuf {
		c.in = nil
	}
	return gnet.None
}

// detach hands the connection's socket to Config.Interconnect: a duplicate
// of its descriptor becomes a net.Conn, and the event loop closes its own
// (gnet closes without shutting the socket down, so the duplicate lives).
func (c *conn) detach(q *partition.Request) {
	log := c.h.srv.log
	var seq uint64
	if v, err := wire.Parse(q.Seq); err == nil {
		if n, ok := v.Int(); ok && n >= 0 {
			seq = uint64(n)
		}
	}
	fd, err := c.gc.Dup()
	if err != nil {
		log.Warn("interconnect: cannot take over the connection", zap.String("remote", c.remote), zap.Error(err))
		return
	}
	f := os.NewFile(uintptr(fd), "interconnect "+c.remote)
	nc, err := net.FileConn(f)
	f.Close() // FileConn made its own duplicate
	if err != nil {
		log.Warn("interconnect: cannot take over the connection", zap.String("remote", c.remote), zap.Error(err))
		return
	}
	hello, remote, accept := q.Control, c.remote, c.h.srv.cfg.Interconnect
	go func() {
		if err := accept(nc, hello, seq); err != nil {
			log.Warn("interconnect refused", zap.String("remote", remote), zap.Error(err))
		}
	}()
}

// admit decides, on the loop and in arrival order, whether an accepted
// request is dispatched: it answers an auth control itself and refuses what
// the connection may not do before authenticating (see the package
// comment). When it returns false the reply is in c.local and q must not
// be dispatched.
func (c *conn) admit(q *partition.Request) bool {
	if q.Cmd == wire.CmdControl {
		if v, ok := q.Control[wire.AuthControlKey]; ok {
			c.local = c.authenticate(c.local, q, v)
			return false
		}
	}
	if c.authed {
		return true
	}
	why := refusal(c.loopback, q)
	if why == "" {
		return true
	}
	c.local = appendFailMessage(c.local, q, why)
	if !c.loggedDeny {
		c.loggedDeny = true
		c.h.srv.log.Warn("refused a request of an unauthenticated connection",
			zap.String("remote", c.remote), zap.Stringer("cmd", q.Cmd), zap.String("why", why))
	}
	return false
}

// refusal says why a connection that has not authenticated to a server with
// a secret may not make request q, or "" when it may: a loopback connection
// may make any request but an admin control, any other connection none.
func refusal(loopback bool, q *partition.Request) string {
	if q.Cmd == wire.CmdControl {
		if k := partition.AdminControlKey(q.Control); k != "" {
			return fmt.Sprintf("authentication required for admin control %q: send control {%q: SECRET} first", k, wire.AuthControlKey)
		}
	}
	if loopback {
		return ""
	}
	return fmt.Sprintf("authentication required: send control {%q: SECRET} first", wire.AuthControlKey)
}

// authenticate answers the auth control q, whose "auth" value is v, and
// marks the connection authenticated when the secret is right. It appends
// the reply to b: true, or a failure with the reason.
func (c *conn) authenticate(b []byte, q *partition.Request, v any) []byte {
	why := c.h.srv.checkAuth(q.Control, v)
	if why != "" {
		if !c.loggedAuth {
			c.loggedAuth = true
			c.h.srv.log.Warn("authentication failed", zap.String("remote", c.remote), zap.String("why", why))
		}
		return appendFailMessage(b, q, why)
	}
	c.authed = true
	if ce := c.h.srv.log.Check(zap.DebugLevel, "connection authenticated"); ce != nil {
		ce.Write(zap.String("remote", c.remote))
	}
	return wire.AppendReply(b, q.Cmd, q.Seq, wire.StatusOK, func(b []byte) []byte { return wire.AppendBool(b, true) })
}

// checkAuth says why the auth control obj, whose "auth" value is v, is
// refused, or "" when it presents the server's secret.
func (s *Server) checkAuth(obj map[string]any, v any) string {
	secret, isStr := v.(string)
	switch {
	case !s.hasSecret:
		return "auth: this server has no secret configured"
	case len(obj) != 1:
		return fmt.Sprintf("auth: send {%q: SECRET} alone, without other keys", wire.AuthControlKey)
	case !isStr:
		return "auth: the secret must be a string"
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], s.secretSum[:]) != 1 {
		return "auth: wrong secret"
	}
	return ""
}

// appendFailMessage appends the failure reply [-cmd, seq, -1, msg]: the
// shape of a bad argument's failure, with a message saying why.
func appendFailMessage(b []byte, q *partition.Request, msg string) []byte {
	return wire.AppendReply(b, q.Cmd, q.Seq, wire.StatusFail, func(b []byte) []byte { return wire.AppendString(b, msg) })
}

// isLoopback tells whether a connection's remote address is a loopback
// address (127.0.0.0/8, ::1, or IPv4-mapped 127.x). Anything else,
// including an unknown or nil address, is not.
func isLoopback(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a != nil && a.IP.IsLoopback()
	case *net.UDPAddr:
		return a != nil && a.IP.IsLoopback()
	case *net.IPAddr:
		return a != nil && a.IP.IsLoopback()
	}
	return false
}

// SendReply implements partition.Replier. It may be called from any
// goroutine; it takes ownership of b only for the duration of the call (the
// bytes are copied into the pending buffer).
func (c *conn) SendReply(b []byte) { c.AppendReply(rawReply(b)) }

// rawReply is an already encoded reply.
type rawReply []byte

func (r rawReply) AppendTo(b []byte) []byte { return append(b, r...) }

// AppendReply encodes a reply straight into the pending buffer
// (partition.ReplyAppender): no buffer or copy per reply.
func (c *conn) AppendReply(e partition.ReplyEncoder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.out = e.AppendTo(c.out)
	if c.scheduled {
		return
	}
	// Scheduling under mu: OnClose sets closed under mu, so no task is
	// ever queued for a connection whose loop may already be gone.
	if err := c.gc.EventLoop().Execute(context.Background(), c); err != nil {
		// The engine is shutting down; OnClose will write what is pending.
		return
	}
	c.scheduled = true
}

// Run is the flush task; gnet runs it on the connection's event loop.
func (c *conn) Run(context.Context) error {
	c.mu.Lock()
	c.scheduled = false
	if c.closed || len(c.out) == 0 {
		c.mu.Unlock()
		return nil
	}
	buf := c.out
	c.out, c.spare = c.spare[:0], nil
	c.mu.Unlock()
	c.h.flushes.Add(1)

	// On the loop goroutine: write what the socket takes now, gnet queues
	// the rest in its outbound buffer (a write error closes the connection
	// through OnClose, which needs mu: it is not held here).
	_, _ = c.gc.Write(buf)

	if cap(buf) <= keepBuf {
		c.mu.Lock()
		if !c.closed && c.spare == nil {
			c.spare = buf[:0]
		}
		c.mu.Unlock()
	}
	return nil
}

// shutdown runs in OnClose on the loop: no more replies are accepted, and
// what is pending is written out before gnet closes the socket.
func (c *conn) shutdown() {
	c.mu.Lock()
	c.closed = true
	pending := c.out
	c.out, c.spare = nil, nil
	c.mu.Unlock()
	if len(pending) > 0 {
		// Best effort: gnet flushes its outbound buffer right after OnClose.
		_, _ = c.gc.Write(pending)
	}
	c.in, c.local, c.batch = nil, nil, nil
	c.dec.Reset()
}

// brief renders a message for the "bad rpc" log line, bounded in size.
func brief(m wire.Value) string {
	const max = 256
	if len(m.Raw()) > 4*max {
		return fmt.Sprintf("<%v of %d bytes>", m.Kind(), len(m.Raw()))
	}
	s := m.String()
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

// listenAddr reads the bound address of the engine's listener.
func listenAddr(eng gnet.Engine) net.Addr {
	fd, err := eng.Dup()
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return nil
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *syscall.SockaddrInet6:
		ip := make(net.IP, net.IPv6len)
		copy(ip, a.Addr[:])
		var zone string
		if a.ZoneId != 0 {
			zone = strconv.Itoa(int(a.ZoneId))
		}
		return &net.TCPAddr{IP: ip, Port: a.Port, Zone: zone}
	case *syscall.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}

// gnetLogger routes gnet's logs to zap. gnet is chatty at info level (start-up
// banners), so Info becomes Debug; Fatal becomes Error (a library must not
// exit the process).
type gnetLogger struct{ s *zap.SugaredLogger }

func (l gnetLogger) Debugf(format string, args ...any) { l.s.Debugf(format, args...) }
func (l gnetLogger) Infof(format string, args ...any)  { l.s.Debugf(format, args...) }
func (l gnetLogger) Warnf(format string, args ...any)  { l.s.Warnf(format, args...) }
func (l gnetLogger) Errorf(format string, args ...any) { l.s.Errorf(format, args...) }
func (l gnetLogger) Fatalf(format string, args ...any) { l.s.Errorf(format, args...) }
