package partition

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/engine"
	"github.com/pequod-go/pequod/partition/peer"
	"github.com/pequod-go/pequod/partition/route"
	"github.com/pequod-go/pequod/wire"
)

// Config configures a Server.
type Config struct {
	// Partitions is the number of partitions; 0 means runtime.NumCPU().
	Partitions int
	// Partitioner names the partition function (see route.New).
	Partitioner string
	// Logger receives the server's logs; nil means none.
	Logger *zap.Logger
	// OnQuit is called once when a client sends control {"quit": true}.
	OnQuit func()
	// Clock is the engines' clock; nil means time.Now.
	Clock func() time.Time
	// PeerWait bounds how long a request may wait for copies of ranges
	// other partitions own before it fails with an error naming them;
	// 0 means DefaultPeerWait.
	PeerWait time.Duration
	// Transport carries the partitions' peer messages; nil means a new
	// in-process peer.Local. Partition i of this server is
	// peer.Addr{Cluster.Self, i} (server 0 without a cluster).
	Transport peer.Network
	// Cluster, if set, makes the server one of a cluster (cluster.go).
	Cluster *Cluster
}

// DefaultPeerWait is the default Config.PeerWait.
const DefaultPeerWait = 5 * time.Second

// MailboxDepth is how many batches a partition's mailbox holds before
// Dispatch blocks (back-pressure on the event loop that sent them).
const MailboxDepth = 4096

// Server is a set of partitions behind a router.
type Server struct {
	cfg       Config
	log       *zap.Logger
	router    route.Router
	transport peer.Network
	peerWait  time.Duration
	parts     []*part
	wg        sync.WaitGroup
	quit      sync.Once
	closeOnce sync.Once
	// mu orders Dispatch against Close: senders hold it shared while they
	// check closed and send, Close holds it exclusively to close mailboxes.
	mu     sync.RWMutex
	closed bool
	start  time.Time
	rpcs   rpcCounters
	log5   *serverLog // the §5.2 periodic log
}

// task is work a partition runs on its own goroutine: a request the
// dispatcher split over partitions (gather), or a test's probe. Partitions
// never send each other tasks: between them go peer messages (data).
type task func(p *part)

// item is one entry of a mailbox batch: a request the partition answers
// alone (q), or a task. Carrying the request itself spares a closure per
// request on the hot path.
type item struct {
	q *Request
	t task
}

// part is one partition: the only goroutine that touches its engine.
type part struct {
	id    int
	addr  peer.Addr
	srv   *Server
	eng   *engine.Engine
	inbox chan []item
	peers *peer.Inbox // peer messages (peer.go)

	subs        subscriptions // owner side (peer.go)
	copies      copyBook      // subscriber side (copies.go)
	cur         *ackGroup     // acknowledgements the running work is collecting
	spareAck    *ackGroup     // a finished group for the next work to reuse (beginWork)
	curCont     *cont         // the parked request being resumed, if any
	tracks      map[uint64]*ackGroup
	nextTrack   uint64
	nextSeq     uint64 // of subscribes
	parkedConts []*cont
	sentTo      []peer.Addr // scratch for KeyChanged

	// Counters for stats.
	msgsIn, msgsOut, fetches, peerTimeouts int64
}

// New starts a server's partition goroutines.
func New(cfg Config) (*Server, error) {
	if cfg.Partitions <= 0 {
		cfg.Partitions = runtime.NumCPU()
	}
	r, err := route.New(cfg.Partitioner, cfg.Partitions)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, router: r, start: time.Now(), transport: cfg.Transport, peerWait: cfg.PeerWait}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.transport == nil {
		s.transport = peer.NewLocal()
	}
	if s.peerWait <= 0 {
		s.peerWait = DefaultPeerWait
	}
	for i := 0; i < cfg.Partitions; i++ {
		p := &part{id: i, addr: s.addrOf(i), srv: s, inbox: make(chan []item, MailboxDepth),
			subs: newSubscriptions(), tracks: map[uint64]*ackGroup{}}
		p.copies = newCopyBook(p)
		p.peers = s.transport.Register(p.addr)
		opts := engine.Options{Clock: cfg.Clock}
		if cfg.Partitions > 1 || cfg.Cluster != nil {
			opts.Locality = locality{p}
		}
		p.eng = engine.New(opts)
		s.parts = append(s.parts, p)
	}
	for _, p := range s.parts {
		s.wg.Add(1)
		go p.loop()
	}
	s.log5 = newServerLog()
	go s.log5.run(s)
	return s, nil
}

// addrOf is the peer address of partition i of this server.
func (s *Server) addrOf(i int) peer.Addr {
	a := peer.Addr{Partition: int32(i)}
	if s.cfg.Cluster != nil {
		a.Server = int32(s.cfg.Cluster.Self)
	}
	return a
}

// Partitions returns the number of partitions.
func (s *Server) Partitions() int { return len(s.parts) }

// Close stops the partitions after they drain their mailboxes. Requests
// dispatched after Close are failed.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.log5.stop)
		<-s.log5.done
		s.mu.Lock()
		s.closed = true
		for _, p := range s.parts {
			close(p.inbox)
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
}

func (p *part) loop() {
	defer p.srv.wg.Done()
	// The deadline check runs a few times per PeerWait.
	tick := time.NewTicker(max(p.srv.peerWait/8, time.Millisecond))
	defer tick.Stop()
	var msgs []peer.Msg
	for {
		select {
		case batch, ok := <-p.inbox:
			if !ok {
				return
			}
			for _, it := range batch {
				if it.t != nil {
					p.run(it.t)
				} else {
					p.runSingle(it.q)
				}
			}
		case <-p.peers.Ready():
		case now := <-tick.C:
			if len(p.parkedConts) > 0 {
				p.expireParked(now)
			}
		}
		msgs = p.peers.Take(msgs[:0])
		for i := range msgs {
			p.msgsIn++
			p.run(func(*part) { p.handle(&msgs[i]) })
		}
		clear(msgs)
	}
}

// runSingle answers a single-partition request, like run.
func (p *part) runSingle(q *Request) {
	defer func() {
		if r := recover(); r != nil {
			p.srv.log.Error("request panicked", zap.Int("partition", p.id), zap.Any("panic", r), zap.Stack("stack"))
		}
	}()
	p.single(q)
}

// run executes one task, turning a panic into a logged error so that one bad
// request can never take the server down.
func (p *part) run(t task) {
	defer func() {
		if r := recover(); r != nil {
			p.srv.log.Error("partition task panicked", zap.Int("partition", p.id), zap.Any("panic", r),
				zap.Stack("stack"))
		}
	}()
	t(p)
}

// Dispatch hands requests to their partitions, batching per partition. It
// returns once every request is queued; replies arrive through each
// request's Replier.
func (s *Server) Dispatch(reqs []*Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		for _, q := range reqs {
			q.fail("server is shutting down")
		}
		return
	}
	batches := make([][]item, len(s.parts))
	for _, q := range reqs {
		s.rpcs.note(q.Cmd)
		s.route(q, batches)
	}
	for i, b := range batches {
		if len(b) > 0 {
			s.parts[i].inbox <- b
		}
	}
}

// send queues one task outside a Dispatch batch.
func (s *Server) send(id int, t task) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed {
		s.parts[id].inbox <- []item{{t: t}}
	}
}

// route adds the tasks for one request to the per-partition batches.
func (s *Server) route(q *Request, batches [][]item) {
	one := func(id int, t task) { batches[id] = append(batches[id], item{t: t}) }
	single := func(id int) { batches[id] = append(batches[id], item{q: q}) }
	all := func(t task) {
		for i := range batches {
			one(i, t)
		}
	}
	switch q.Cmd {
	case wire.CmdNoopGet:
		q.reply(wire.StatusOK, func(b []byte) []byte { return wire.AppendStr(b, wire.NoopGetValue) })
	case wire.CmdGet, wire.CmdInsert, wire.CmdErase, wire.CmdNotifyInsert, wire.CmdNotifyErase:
		single(s.router.Owner(q.Key))
	case wire.CmdCount, wire.CmdScan:
		last := q.Arg3
		if q.HasArg4 && q.Arg4 > last {
			last = q.Arg4
		}
		if id := s.router.RangeOwner(q.Key, last); id >= 0 {
			single(id)
			return
		}
		if srv, one := s.rangeServer(q.Key, last); one && srv >= 0 {
			single(s.router.Owner(q.Key)) // read from a copy of the owner's data (remoteRead)
			return
		}
		g := newGather(q, len(s.parts))
		all(func(p *part) { g.part(p) })
	case wire.CmdSubscribe:
		q.fail("subscribe: this server is not part of a cluster")
	case wire.CmdUnsubscribe, wire.CmdInvalidate:
		q.ok() // nothing is subscribed or cached from outside this process
	case wire.CmdAddJoin:
		j, err := joins.Parse(q.Arg4)
		if err != nil {
			q.failText(err.Error())
			return
		}
		s.installJoin(q, j, all)
	case wire.CmdStats:
		g := newGather(q, len(s.parts))
		g.serverID = -1 // §5.1: a server outside a cluster reports -1
		if s.cfg.Cluster != nil {
			g.serverID = s.cfg.Cluster.Self
		}
		all(func(p *part) { g.stats(p) })
	case wire.CmdControl:
		s.control(q, all)
	default:
		q.fail("unknown command")
	}
}

// installJoin installs a parsed join on every partition (each computes the
// sink ranges it owns) and replies once all have.
func (s *Server) installJoin(q *Request, j *joins.Join, all func(task)) {
	g := newGather(q, len(s.parts))
	all(func(p *part) { g.addJoin(p, j) })
}

// single runs a request whose keys one partition owns.
func (p *part) single(q *Request) {
	e := p.eng
	if p.srv.cfg.Cluster != nil && q.Cmd != wire.CmdInsert && q.Cmd != wire.CmdErase &&
		q.Cmd != wire.CmdNotifyInsert && q.Cmd != wire.CmdNotifyErase && p.remoteRead(q) {
		return
	}
	switch q.Cmd {
	case wire.CmdGet:
		v, err := e.Get(q.Key)
		if err != nil && p.parked(err, func() { p.single(q) }, q.failErr) {
			return
		}
		if err != nil {
			q.failText(err.Error())
			return
		}
		q.replyString(v)
	case wire.CmdInsert, wire.CmdNotifyInsert, wire.CmdErase, wire.CmdNotifyErase:
		if p.srv.serverOf(q.Key) >= 0 {
			p.forwardWrite(q)
			return
		}
		// Not withAcks: no closures on the path every write takes.
		g, prev := p.beginWork()
		var err error
		if q.Cmd == wire.CmdInsert || q.Cmd == wire.CmdNotifyInsert {
			err = e.Insert(q.Key, q.Arg3)
		} else {
			err = e.Erase(q.Key)
		}
		if p.endWork(g, prev) {
			q.replyWrite(err)
			return
		}
		g.done = func() { q.replyWrite(err) }
		g.release()
	case wire.CmdCount:
		n, err := e.Count(q.Key, q.Arg3, q.Arg4)
		if err != nil && p.parked(err, func() { p.single(q) }, q.failErr) {
			return
		}
		if err != nil {
			q.failText(err.Error())
			return
		}
		q.replyInt(int64(n))
	case wire.CmdScan:
		var kvs []string
		err := e.Scan(q.Key, q.Arg3, q.Arg4, func(k, v string) bool {
			kvs = append(kvs, k, v)
			return true
		})
		if err != nil && p.parked(err, func() { p.single(q) }, q.failErr) {
			return
		}
		if err != nil {
			q.failText(err.Error())
			return
		}
		q.replyStrings(kvs)
	}
}

// replyWrite answers an insert or erase.
func (q *Request) replyWrite(err error) {
	if err != nil {
		q.failText(err.Error())
		return
	}
	q.ok()
}

func appendStrings(b []byte, ss []string) []byte {
	b = wire.AppendArrayHeader(b, len(ss))
	for _, s := range ss {
		b = wire.AppendString(b, s)
	}
	return b
}

// reply encodes and sends [-cmd, seq, status, payload].
func (q *Request) reply(status int, payload func([]byte) []byte) {
	q.resStatus, q.resKind, q.resFn = status, resFn, payload
	q.send()
}

func (q *Request) ok() { q.resStatus, q.resKind = wire.StatusOK, resNil; q.send() }

// replyString and replyInt send the common payloads without allocating.
func (q *Request) replyString(v string) {
	q.resStatus, q.resKind, q.resStr = wire.StatusOK, resStr, v
	q.send()
}

// replyStrings sends a flat array of strings (a scan's keys and values).
func (q *Request) replyStrings(ss []string) {
	q.resStatus, q.resKind, q.resStrs = wire.StatusOK, resStrs, ss
	q.send()
}

func (q *Request) replyInt(n int64) {
	q.resStatus, q.resKind, q.resInt = wire.StatusOK, resInt, n
	q.send()
}

// fail sends a failure with a null payload (§1.5).
func (q *Request) fail(string) { q.resStatus, q.resKind = -1, resNil; q.send() }

// failErr fails the request with err's text.
func (q *Request) failErr(err error) { q.failText(err.Error()) }

// failText sends a failure whose payload is the error text (as add_join's
// parse errors are, §1.6).
func (q *Request) failText(msg string) {
	q.resStatus, q.resKind, q.resStr = -1, resStr, msg
	q.send()
}

// gather collects one request's answers from every partition and replies
// when the last one arrives.
type gather struct {
	q        *Request
	serverID int // stats: the seqid reported as "id"
	mu       sync.Mutex
	left     int
	count    int64
	scans    [][]string
	errs     []string
	perPart  []engine.Stats
	peers    []PeerStats
	warning  string
	// finishWith, if set, replies instead of the command's usual merge.
	finishWith func()
}

func newGather(q *Request, n int) *gather {
	return &gather{q: q, left: n, scans: make([][]string, n), perPart: make([]engine.Stats, n), peers: make([]PeerStats, n)}
}

// done records one partition's completion; the last one replies.
func (g *gather) done(record func()) {
	g.mu.Lock()
	record()
	g.left--
	last := g.left == 0
	g.mu.Unlock()
	if last {
		g.finish()
	}
}

// part answers a count or scan over a range spanning partitions: each
// partition validates the range and reports the keys it owns (cached copies
// of other partitions' keys are not its to report).
func (g *gather) part(p *part) {
	q := g.q
	owner := p.srv.router
	var n int64
	var kvs []string
	fn := func(k, v string) bool {
		if owner.Owner(k) == p.id {
			n++
			if q.Cmd == wire.CmdScan {
				kvs = append(kvs, k, v)
			}
		}
		return true
	}
	last := q.Arg3
	if q.HasArg4 && q.Arg4 > last {
		last = q.Arg4
	}
	err := p.needCopy(q.Key, last) // the parts other servers own
	if err == nil {
		err = p.eng.Scan(q.Key, q.Arg3, q.Arg4, fn)
	}
	if p.parked(err, func() { g.part(p) }, func(err error) {
		g.done(func() { g.errs = append(g.errs, err.Error()) })
	}) {
		return
	}
	g.done(func() {
		if err != nil {
			g.errs = append(g.errs, err.Error())
		}
		g.count += n
		g.scans[p.id] = kvs
	})
}

func (g *gather) addJoin(p *part, j *joins.Join) {
	ag, prev := p.beginWork()
	warning, err := p.eng.AddJoin(g.q.Key, g.q.Arg3, j)
	if err == nil {
		// Copies of the range taken while it was plain data would never
		// learn of the new join's output: end them (the next read
		// subscribes again and gets validated output). The reply waits
		// until their holders have dropped them.
		locality{p}.RangeInvalidated(joins.RangeTableName(g.q.Key, g.q.Arg3), g.q.Key, g.q.Arg3)
	}
	finish := func() { g.addJoinDone(warning, err) }
	if p.endWork(ag, prev) {
		finish()
		return
	}
	ag.done = finish
	ag.release()
}

func (g *gather) addJoinDone(warning string, err error) {
	g.done(func() {
		if err != nil {
			g.errs = append(g.errs, err.Error())
		}
		if warning != "" {
			g.warning = warning
		}
	})
}

func (g *gather) stats(p *part) {
	st, ps := p.eng.Stats(), p.peerStats()
	g.done(func() { g.perPart[p.id], g.peers[p.id] = st, ps })
}

func (g *gather) finish() {
	if g.finishWith != nil {
		g.finishWith()
		return
	}
	q := g.q
	if len(g.errs) > 0 && q.Cmd != wire.CmdStats {
		q.failText(g.errs[0])
		return
	}
	switch q.Cmd {
	case wire.CmdCount:
		q.replyInt(g.count)
	case wire.CmdScan:
		merged := mergeScans(g.scans)
		q.replyStrings(merged)
	case wire.CmdAddJoin:
		if g.warning != "" {
			fmt.Fprintln(os.Stderr, g.warning) // the original prints it on the server's stderr (§2.7)
		}
		q.ok()
	case wire.CmdStats:
		doc, err := json.Marshal(mergeStats(g.perPart))
		if err != nil {
			q.failText(err.Error())
			return
		}
		per := make([]json.RawMessage, len(g.perPart))
		for i := range g.perPart {
			per[i], _ = json.Marshal(struct {
				engine.Stats
				PeerStats
			}{g.perPart[i], g.peers[i]})
		}
		var sum PeerStats
		for _, ps := range g.peers {
			sum.add(ps)
		}
		extra, _ := json.Marshal(struct {
			PeerStats
			ID         int               `json:"id"`
			Partitions []json.RawMessage `json:"partitions"`
		}{sum, g.serverID, per})
		// Splice the extra fields into the top-level object.
		full := append(append(doc[:len(doc)-1:len(doc)-1], ','), extra[1:]...)
		b, err := wire.AppendJSON(wire.AppendReplyHeader(nil, q.Cmd, q.Seq, wire.StatusOK), full)
		if err != nil {
			q.failText(err.Error())
			return
		}
		q.Reply.SendReply(b)
	}
}

// mergeScans merges per-partition sorted key/value lists in key order.
func mergeScans(lists [][]string) []string {
	var out []string
	pos := make([]int, len(lists))
	for {
		best := -1
		for i, l := range lists {
			if pos[i] < len(l) && (best < 0 || l[pos[i]] < lists[best][pos[best]]) {
				best = i
			}
		}
		if best < 0 {
			return out
		}
		out = append(out, lists[best][pos[best]], lists[best][pos[best]+1])
		pos[best] += 2
	}
}

// mergeStats sums partition statistics; tables are merged by name. Process
// figures (RSS, CPU) are the process's, so they are taken once.
func mergeStats(all []engine.Stats) engine.Stats {
	m := engine.Stats{Lanes: len(all)}
	tables := map[string]*engine.TableStats{}
	for i, s := range all {
		if i == 0 {
			m.MaxRSSMB, m.UserTime, m.SystemTime, m.WallTime = s.MaxRSSMB, s.UserTime, s.SystemTime, s.WallTime
		}
		m.StoreSize += s.StoreSize
		m.SourceRanges += s.SourceRanges
		if i == 0 {
			m.JoinRanges = s.JoinRanges // every partition installs every join
		}
		m.ValidRanges += s.ValidRanges
		m.WallTimeInsert += s.WallTimeInsert
		m.WallTimeValidate += s.WallTimeValidate
		m.WallTimeEvict += s.WallTimeEvict
		m.InvalidateHits += s.InvalidateHits
		for _, t := range s.Tables {
			x := tables[t.Name]
			if x == nil {
				x = &engine.TableStats{Name: t.Name}
				tables[t.Name] = x
			}
			x.NInsert += t.NInsert
			x.NModify += t.NModify
			x.NErase += t.NErase
			x.StoreSize += t.StoreSize
			x.SourceRanges += t.SourceRanges
			x.SinkRanges += t.SinkRanges
			x.NValidate += t.NValidate
			x.NSubtables += t.NSubtables
			x.EvictKeys += t.EvictKeys
			x.EvictRanges += t.EvictRanges
		}
	}
	for _, t := range tables {
		m.Tables = append(m.Tables, *t)
	}
	sort.Slice(m.Tables, func(i, k int) bool { return m.Tables[i].Name < m.Tables[k].Name })
	return m
}
