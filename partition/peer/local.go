package peer

import (
	"fmt"
	"sync"
)

// Inbox is a receiver's unbounded queue of messages. Any goroutine may
// push; its owner takes everything queued at once when Ready fires.
type Inbox struct {
	mu    sync.Mutex
	q     []Msg
	ready chan struct{}
}

// NewInbox returns an empty inbox.
func NewInbox() *Inbox { return &Inbox{ready: make(chan struct{}, 1)} }

// Ready receives a value after messages arrive (coalesced).
func (in *Inbox) Ready() <-chan struct{} { return in.ready }

// Push appends m.
func (in *Inbox) Push(m Msg) {
	in.mu.Lock()
	in.q = append(in.q, m)
	in.mu.Unlock()
	select {
	case in.ready <- struct{}{}:
	default:
	}
}

// Take removes and returns every queued message, oldest first. The caller
// may reuse buf (which Take appends to) between calls.
func (in *Inbox) Take(buf []Msg) []Msg {
	in.mu.Lock()
	buf = append(buf, in.q...)
	clear(in.q)
	in.q = in.q[:0]
	in.mu.Unlock()
	return buf
}

// Local is the in-process Transport: one Inbox per registered address.
// Messages between two partitions keep their order, since each goes
// straight into its receiver's queue from the sender's goroutine.
//
// For tests, Hold and Release delay the messages of chosen sender→receiver
// pairs, keeping their order, so that a test can force an interleaving the
// scheduler would produce only rarely.
type Local struct {
	mu    sync.Mutex
	boxes map[Addr]*Inbox
	held  map[pair][]Msg
	hold  map[pair]bool
	// Observe, if set, sees every message sent (on the sender's goroutine,
	// before delivery). Tests count and check messages with it.
	Observe func(to Addr, m *Msg)
}

type pair struct{ from, to Addr }

// NewLocal returns an in-process transport with no addresses.
func NewLocal() *Local {
	return &Local{boxes: map[Addr]*Inbox{}, held: map[pair][]Msg{}, hold: map[pair]bool{}}
}

// Register creates the inbox of a (returning the existing one if any).
func (l *Local) Register(a Addr) *Inbox {
	l.mu.Lock()
	defer l.mu.Unlock()
	if in := l.boxes[a]; in != nil {
		return in
	}
	in := NewInbox()
	l.boxes[a] = in
	return in
}

// Send delivers m to to's inbox. A message to an unknown address is a
// programming error and panics with its description.
func (l *Local) Send(to Addr, m Msg) {
	if l.Observe != nil {
		l.Observe(to, &m)
	}
	l.mu.Lock()
	in := l.boxes[to]
	p := pair{m.From, to}
	if l.hold[p] {
		l.held[p] = append(l.held[p], m)
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	if in == nil {
		panic(fmt.Sprintf("peer: %v sent to unknown address %v", m.String(), to))
	}
	in.Push(m)
}

// Hold delays the messages from → to until Release.
func (l *Local) Hold(from, to Addr) {
	l.mu.Lock()
	l.hold[pair{from, to}] = true
	l.mu.Unlock()
}

// Release delivers the held messages from → to, in order, and stops
// holding that pair. It returns how many it delivered.
func (l *Local) Release(from, to Addr) int {
	p := pair{from, to}
	l.mu.Lock()
	q := l.held[p]
	delete(l.held, p)
	delete(l.hold, p)
	in := l.boxes[to]
	// Deliver under the lock so a concurrent Send cannot overtake them.
	for _, m := range q {
		in.Push(m)
	}
	l.mu.Unlock()
	return len(q)
}
