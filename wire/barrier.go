package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// The client-group barrier (spec/server.md §1.9, apps.md §2.13): group 0
// (the master) listens; every other group connects to it. Both sides count
// barriers from 0. At barrier b a member sends [77, b] and waits for
// [-77, b]; the master holds the replies until all ngroups parties (the
// members plus itself) have arrived at b, then increments its counter and
// answers every waiting member with [-77, b]. Any malformed message is
// fatal.

// DefaultBarrierPort is the default --master-port.
const DefaultBarrierPort = 13333

// BarrierRetryInterval is how often a member retries connecting to the
// master.
const BarrierRetryInterval = 100 * time.Millisecond

// ErrBarrier is wrapped by barrier protocol errors (malformed message,
// wrong barrier number).
var ErrBarrier = errors.New("wire: barrier protocol error")

// BarrierMaster is the group-0 side of the barrier.
type BarrierMaster struct {
	ln      net.Listener
	ngroups int

	mu      sync.Mutex
	counter int64
	waiting []net.Conn    // members that arrived at the current barrier
	self    bool          // the master arrived at the current barrier
	release chan struct{} // closed when the current barrier is released
	err     error
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

// ListenBarrier starts a barrier master for ngroups groups (itself
// included) on addr, e.g. ":13333".
func ListenBarrier(addr string, ngroups int) (*BarrierMaster, error) {
	if ngroups < 1 {
		return nil, fmt.Errorf("wire: barrier needs at least 1 group, got %d", ngroups)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	m := &BarrierMaster{
		ln:      ln,
		ngroups: ngroups,
		release: make(chan struct{}),
		conns:   make(map[net.Conn]struct{}),
	}
	m.wg.Add(1)
	go m.accept()
	return m, nil
}

// Addr returns the listening address.
func (m *BarrierMaster) Addr() net.Addr { return m.ln.Addr() }

// Counter returns the number of barriers completed so far.
func (m *BarrierMaster) Counter() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counter
}

func (m *BarrierMaster) accept() {
	defer m.wg.Done()
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			return
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			conn.Close()
			return
		}
		m.conns[conn] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		go m.serve(conn)
	}
}

func (m *BarrierMaster) serve(conn net.Conn) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		delete(m.conns, conn)
		m.mu.Unlock()
		conn.Close()
	}()
	var dec Decoder
	buf := make([]byte, 0, 512)
	rd := make([]byte, 512)
	for {
		n, err := conn.Read(rd)
		buf = append(buf, rd[:n]...)
		msgs, used, derr := dec.Decode(buf)
		for _, msg := range msgs {
			if ferr := m.arrive(conn, msg); ferr != nil {
				m.setErr(ferr)
				return
			}
		}
		buf = append(buf[:0], buf[used:]...)
		if derr != nil {
			m.setErr(fmt.Errorf("%w: %v", ErrBarrier, derr))
			return
		}
		if err != nil {
			return // a member left; not an error by itself
		}
	}
}

func (m *BarrierMaster) setErr(err error) {
	m.mu.Lock()
	if m.err == nil && !m.closed {
		m.err = err
		close(m.release)
		m.release = make(chan struct{})
	}
	m.mu.Unlock()
}

// arrive records a member's [77, b].
func (m *BarrierMaster) arrive(conn net.Conn, msg Value) error {
	if msg.Kind() != KindArray || msg.Len() < 2 {
		return fmt.Errorf("%w: malformed message %s", ErrBarrier, msg)
	}
	c, _ := msg.Index(0).Int()
	b, ok := msg.Index(1).Int()
	if Cmd(c) != CmdBarrier || !ok {
		return fmt.Errorf("%w: malformed message %s", ErrBarrier, msg)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if b != m.counter {
		return fmt.Errorf("%w: member at barrier %d, master at %d", ErrBarrier, b, m.counter)
	}
	m.waiting = append(m.waiting, conn)
	m.maybeReleaseLocked()
	return nil
}

// maybeReleaseLocked releases the current barrier if everyone arrived.
func (m *BarrierMaster) maybeReleaseLocked() {
	arrived := len(m.waiting)
	if m.self {
		arrived++
	}
	if arrived < m.ngroups {
		return
	}
	b := m.counter
	m.counter++
	reply := AppendInt(AppendInt(AppendArrayHeader(nil, 2), -int64(CmdBarrier)), b)
	for _, conn := range m.waiting {
		_, _ = conn.Write(reply) // a failed member shows up on its own side
	}
	m.waiting = m.waiting[:0]
	m.self = false
	close(m.release)
	m.release = make(chan struct{})
}

// Wait is the master's arrival at the current barrier: it returns once all
// ngroups parties have arrived (the barrier number is then Counter()-1). It
// returns the first protocol error seen, or ctx's error (the master's
// arrival is then withdrawn).
func (m *BarrierMaster) Wait(ctx context.Context) error {
	m.mu.Lock()
	if m.err != nil {
		err := m.err
		m.mu.Unlock()
		return err
	}
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	target := m.counter + 1
	m.self = true
	m.maybeReleaseLocked()
	m.mu.Unlock()
	for {
		m.mu.Lock()
		if m.counter >= target {
			m.mu.Unlock()
			return nil
		}
		if m.err != nil {
			err := m.err
			m.mu.Unlock()
			return err
		}
		if m.closed {
			m.mu.Unlock()
			return ErrClosed
		}
		ch := m.release
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			m.mu.Lock()
			if m.counter < target {
				m.self = false
				m.mu.Unlock()
				return ctx.Err()
			}
			m.mu.Unlock()
			return nil
		}
	}
}

// Close stops listening, closes every member connection and waits for the
// master's goroutines.
func (m *BarrierMaster) Close() error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.release)
		m.release = make(chan struct{})
	}
	for conn := range m.conns {
		conn.Close()
	}
	m.mu.Unlock()
	err := m.ln.Close()
	m.wg.Wait()
	return err
}

// BarrierMember is the side of the barrier of a group other than 0.
type BarrierMember struct {
	conn    net.Conn
	dec     Decoder
	buf     []byte
	counter int64
}

// DialBarrier connects to the master at addr, retrying every
// BarrierRetryInterval until it succeeds or ctx ends.
func DialBarrier(ctx context.Context, addr string) (*BarrierMember, error) {
	conn, err := dialRetry(ctx, addr, BarrierRetryInterval)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &BarrierMember{conn: conn}, nil
}

// Counter returns the number of barriers completed so far.
func (b *BarrierMember) Counter() int64 { return b.counter }

// Wait sends [77, b] for the current barrier b and waits for [-77, b]. It
// is not safe for concurrent use. If ctx ends first the member is no
// longer usable (the reply may still be in flight); close it.
func (b *BarrierMember) Wait(ctx context.Context) error {
	msg := AppendInt(AppendInt(AppendArrayHeader(nil, 2), int64(CmdBarrier)), b.counter)
	stop := context.AfterFunc(ctx, func() { _ = b.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := b.conn.Write(msg); err != nil {
		return b.ctxErr(ctx, err)
	}
	rd := make([]byte, 256)
	for {
		msgs, used, derr := b.dec.Decode(b.buf)
		if derr != nil {
			return fmt.Errorf("%w: %v", ErrBarrier, derr)
		}
		if len(msgs) > 0 {
			r := msgs[0]
			c, _ := r.Index(0).Int()
			n, ok := r.Index(1).Int()
			if r.Kind() != KindArray || Cmd(-c) != CmdBarrier || !ok || n != b.counter {
				return fmt.Errorf("%w: unexpected reply %s at barrier %d", ErrBarrier, r, b.counter)
			}
			// Only one reply is expected per barrier; keep anything after it.
			used = len(r.Raw())
			b.buf = append(b.buf[:0], b.buf[used:]...)
			b.dec.Reset()
			b.counter++
			return nil
		}
		b.buf = append(b.buf[:0], b.buf[used:]...)
		n, err := b.conn.Read(rd)
		b.buf = append(b.buf, rd[:n]...)
		if err != nil && n == 0 {
			return b.ctxErr(ctx, err)
		}
	}
}

func (b *BarrierMember) ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Close closes the connection to the master.
func (b *BarrierMember) Close() error { return b.conn.Close() }
