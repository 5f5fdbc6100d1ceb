// Package engine is the single-partition Pequod store: tables of byte-string
// keys, the joins installed on them, and the machinery that keeps join output
// fresh — sink ranges, registrations, pending update regions and operators
// (spec/joins.md §3–§5, §7, with the Go requirements of §9 and §10).
//
// An Engine is not safe for concurrent use: a partition goroutine owns it and
// calls it one request at a time (spec/server.md §1.4).
//
// # How maintenance works
//
// Validating a sink range creates one sink instance per overlapping join.
// A push (maintained) instance computes its keys with the nested loop of
// §3.2 and remembers that computation as a tree of registrations: a node per
// (source level, binding) holding the scanned interval of that source's
// table; a context node has one child per context key it found. A change to a
// key stabs the registrations of its table (an interval tree) and is applied
// in descending source order, so a table that feeds several sources of one
// join (a self-join, §10 A2) sees each position exactly once. Value-level
// changes update sink keys at once; context-level changes become pending ops
// that reference the node they hit, processed in recording order (§10 A3) at
// the next overlapping validate (lazy) or before the call returns (eager).
// Retracting a context key drops its whole subtree, so registrations below it
// can never fire again (R-RETRACT-1, R-DEDUP-1/2); a pending op whose node
// died is skipped. Non-maintained (pull, staleness) instances keep no tree
// and are recomputed when they expire.
package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/skiplist"
	"github.com/pequod-go/pequod/skiplist/interval"
)

// Options configure an Engine.
type Options struct {
	// Clock returns the current time; nil means time.Now. Staleness windows
	// (§3.8) are measured with it.
	Clock func() time.Time
	// Limits bound the joins AddJoinText accepts; the zero value means
	// joins.DefaultLimits().
	Limits joins.Limits
	// Locality makes the engine one partition of several; nil means it
	// owns every key.
	Locality Locality
}

// MaxChainDepth bounds how deeply validation may recurse through joins whose
// sources are other joins' sinks. Deeper chains, and cycles across joins,
// fail validation with ErrJoinCycle (§3.9 allows detecting cycles).
const MaxChainDepth = 32

// ErrNoTable is returned for keys and ranges that have no table name (R-TBL-1, R-TBL-2).
var ErrNoTable = errors.New("key or range has no table name")

// ErrJoinCycle is returned when validation recurses through more than
// MaxChainDepth joins, which only a cycle of joins can cause in practice.
var ErrJoinCycle = errors.New("join chain too deep or cyclic")

// Engine is one partition's store and join state.
type Engine struct {
	clock  func() time.Time
	limits joins.Limits
	loc    Locality
	// missing collects source ranges owned elsewhere that the current
	// top-level operation needed but did not have (see NeedRemoteError).
	missing []Range
	// missEvents counts needRemote hits, so an instance can tell that a
	// nested validation of one of its sources was incomplete.
	missEvents int
	revalidate []Range // see TakeRevalidations
	// quietRemote suppresses Locality.RangeInvalidated for the range being
	// invalidated (see invalidateReaders and DropForeign).
	quietRemote bool
	// refreshing is the instance refresh is recomputing: its key writes
	// notify nobody until refresh reports the difference.
	refreshing *instance
	tables     map[string]*table

	start     time.Time
	now       int64 // µs timestamp of the current top-level operation, strictly increasing
	depth     int   // nesting of top-level operations (internal calls do not re-enter)
	chain     int   // validation recursion depth
	seq       uint64
	eager     []*instance
	matchFree [][]match // reusable scan buffers (see getMatches)
	nodeBufs  [][]*node // reusable notify buffers (see takeNodeBuf)
	njoins    int
	lru       lruList
	timeIns   time.Duration
	timeVal   time.Duration
	timeEvict time.Duration
	invHits   int64
}

// entry is the stored form of one key.
type entry struct {
	value string
	owner *instance // the sink instance that computed the key, nil for client data
	nder  int32     // copy joins: number of derivations currently applied (R-COPY-1)
}

// table is every key sharing one table name, plus the joins that write it and
// the registrations that read it.
type table struct {
	name  string
	store *skiplist.Store[entry]
	joins []*installedJoin
	sinks interval.Tree[*sinkRange] // disjoint validated ranges (§4.1)
	regs  interval.Tree[*regGroup]  // registrations of joins reading this table
	// regIndex finds a registered interval's group; nregs counts nodes.
	regIndex map[regKey]*regGroup
	nregs    int

	cutChosen bool // the subtable split was decided (chooseCut)

	ninsert, nmodify, nerase, nvalidate int64
	nevictKeys, nevictRanges            int64
}

// installedJoin is a join together with the sink range it was installed on.
type installedJoin struct {
	j      *joins.Join
	lo, hi string
	sink   *table
}

// New returns an empty engine.
func New(opts Options) *Engine {
	e := &Engine{clock: opts.Clock, limits: opts.Limits, loc: opts.Locality, tables: map[string]*table{}}
	if e.clock == nil {
		e.clock = time.Now
	}
	if e.limits == (joins.Limits{}) {
		e.limits = joins.DefaultLimits()
	}
	e.start = e.clock()
	return e
}

func entrySize(en entry) int { return len(en.value) + 24 }

// table returns the named table, creating it if create is set.
func (e *Engine) table(name string, create bool) *table {
	t := e.tables[name]
	if t == nil && create {
		t = &table{name: name, store: skiplist.New[entry](entrySize)}
		e.tables[name] = t
	}
	return t
}

// chooseCut splits a table into subtables the first time a join pattern
// names it (§1.5): keys are grouped by the pattern's literal prefix through
// its first slot, unless that slot ends the pattern (then groups would hold
// one key each). Twitter timelines group by user, karma votes by article.
// Subtables change no result; they make inserts into big tables cheap.
func (e *Engine) chooseCut(t *table, p *joins.Pattern) {
	if t.cutChosen {
		return
	}
	t.cutChosen = true
	for i, sg := range p.Segs {
		if sg.Slot < 0 {
			continue
		}
		if i < len(p.Segs)-1 {
			t.store.SetCut(sg.Off + sg.Width)
		}
		return
	}
}

// begin starts a top-level operation: it fixes the operation's timestamp.
// end drains eager work queued during the operation (§3.4(b): eager sources
// are revalidated before the call returns).
func (e *Engine) begin() time.Time {
	e.depth++
	t := e.clock()
	if e.depth == 1 {
		e.missing = e.missing[:0]
		us := t.UnixMicro()
		if us <= e.now {
			us = e.now + 1
		}
		e.now = us
	}
	return t
}

// Tick starts and ends an operation that reads no table through the
// engine (a read served from a copy of another server's data): it
// advances the engine's clock, as every operation does, and returns the
// new time (µs).
func (e *Engine) Tick() int64 {
	e.begin()
	e.end()
	return e.now
}

func (e *Engine) end() {
	if e.depth == 1 {
		e.drainEager()
	}
	e.depth--
}

// Insert stores key → value (§5). Joins reading the key's table are
// maintained before it returns.
func (e *Engine) Insert(key, value string) error {
	name := joins.TableName(key)
	if name == "" {
		return fmt.Errorf("insert %q: %w", key, ErrNoTable)
	}
	t0 := e.begin()
	defer func() { e.timeIns += e.clock().Sub(t0); e.end() }()
	t := e.table(name, true)
	t.ninsert++
	if en := t.store.GetPtr(key); en != nil {
		old := en.value
		en.value = value
		if owner := en.owner; owner != nil {
			// A client overwrote a derived key (§4.5): the key becomes client
			// data and the instance that derived it recomputes.
			en.owner = nil
			e.invalidateInstance(owner)
		}
		e.notify(t, key, chUpdate, old, value)
		return nil
	}
	t.store.Put(key, entry{value: value})
	e.notify(t, key, chInsert, "", value)
	return nil
}

// Erase removes key (§5). Erasing a missing key, or a key of a table that was
// never created (D10), does nothing.
func (e *Engine) Erase(key string) error {
	name := joins.TableName(key)
	if name == "" {
		return fmt.Errorf("erase %q: %w", key, ErrNoTable)
	}
	t := e.table(name, false)
	if t == nil {
		return nil
	}
	t0 := e.begin()
	defer func() { e.timeIns += e.clock().Sub(t0); e.end() }()
	t.nerase++
	en, ok := t.store.Delete(key)
	if !ok {
		return nil
	}
	if owner := en.owner; owner != nil {
		// A client erased a derived key: rather than serve a partial result
		// later, the deriving instance recomputes at the next validate (§4.5).
		en.owner = nil
		e.invalidateInstance(owner)
	}
	e.notify(t, key, chErase, en.value, "")
	return nil
}

// Find returns key's stored value without validating (§5 find).
func (e *Engine) Find(key string) (string, bool) {
	t := e.tables[joins.TableName(key)]
	if t == nil {
		return "", false
	}
	en := t.store.GetPtr(key)
	if en == nil {
		return "", false
	}
	return en.value, true
}

// CountStored counts the stored keys in [first,last) without validating; 0
// if the range has no table (R-TBL-2).
func (e *Engine) CountStored(first, last string) int {
	t := e.tables[joins.RangeTableName(first, last)]
	if t == nil || joins.RangeTableName(first, last) == "" {
		return 0
	}
	return t.store.Count(first, last)
}

// ScanStored visits the stored keys of [first,last) in order without
// validating; fn returns false to stop.
func (e *Engine) ScanStored(first, last string, fn func(key, value string) bool) {
	name := joins.RangeTableName(first, last)
	t := e.tables[name]
	if t == nil || name == "" {
		return
	}
	t.store.RangePtr(first, last, func(k string, en *entry) bool { return fn(k, en.value) })
}

// Validate makes every sink key in [first,last) current (§4.2). In a
// partitioned engine it may return *NeedRemoteError.
func (e *Engine) Validate(first, last string) error {
	_, err := e.ValidateFresh(first, last)
	return err
}

// ValidateKey validates the one-key range [key, key+"\x00").
func (e *Engine) ValidateKey(key string) error {
	return e.Validate(key, joins.KeySuccessor(key))
}

// Get validates key and returns its value, or "" if it is absent (§5 get).
func (e *Engine) Get(key string) (string, error) {
	name := joins.TableName(key)
	if name == "" {
		return "", fmt.Errorf("get %q: %w", key, ErrNoTable)
	}
	t := e.tables[name]
	if t == nil {
		return "", nil
	}
	if len(t.joins) > 0 { // plain tables need no validation (§4.2 step 4)
		if err := e.ValidateKey(key); err != nil {
			return "", err
		}
	}
	if en := t.store.GetPtr(key); en != nil {
		return en.value, nil
	}
	return "", nil
}

// plain reports whether [first,last) lies in an existing table that no join
// writes, so reading it needs no validation (§4.2 step 4).
func (e *Engine) plain(first, last string) (*table, bool) {
	name := joins.RangeTableName(first, last)
	if name == "" {
		return nil, false
	}
	t := e.tables[name]
	return t, t != nil && len(t.joins) == 0
}

// Count validates [first,last) and counts the keys in [first,scanlast);
// scanlast "" means last (§5 count).
func (e *Engine) Count(first, last, scanlast string) (int, error) {
	if t, ok := e.plain(first, last); ok {
		if scanlast == "" {
			scanlast = last
		}
		return t.store.Count(first, scanlast), nil
	}
	if err := e.Validate(first, last); err != nil {
		return 0, err
	}
	if scanlast == "" {
		scanlast = last
	}
	t := e.tables[joins.RangeTableName(first, last)]
	if t == nil {
		return 0, nil
	}
	return t.store.Count(first, scanlast), nil
}

// Scan validates [first,last) and visits the keys of [first,scanlast) in
// order; scanlast "" means last (§5 scan).
func (e *Engine) Scan(first, last, scanlast string, fn func(key, value string) bool) error {
	if t, ok := e.plain(first, last); ok {
		if scanlast == "" {
			scanlast = last
		}
		t.store.RangePtr(first, scanlast, func(k string, en *entry) bool { return fn(k, en.value) })
		return nil
	}
	if err := e.Validate(first, last); err != nil {
		return err
	}
	if scanlast == "" {
		scanlast = last
	}
	t := e.tables[joins.RangeTableName(first, last)]
	if t == nil {
		return nil
	}
	t.store.RangePtr(first, scanlast, func(k string, en *entry) bool { return fn(k, en.value) })
	return nil
}

// AddJoinText parses text with the engine's limits and installs it on
// [first,last).
func (e *Engine) AddJoinText(first, last, text string) (warning string, err error) {
	j, err := joins.ParseWithLimits(text, e.limits)
	if err != nil {
		return "", err
	}
	return e.AddJoin(first, last, j)
}

// AddJoin installs j on the sink range [first,last) (§2.7, §5). A join with
// the same structure as an overlapping installed join is ignored and
// reported through warning, as the original does.
func (e *Engine) AddJoin(first, last string, j *joins.Join) (warning string, err error) {
	if j == nil {
		return "", errors.New("add_join: nil join")
	}
	name := joins.RangeTableName(first, last)
	if name == "" {
		return "", fmt.Errorf("add_join [%q, %q): %w", first, last, ErrNoTable)
	}
	if j.Sink.Table != name {
		return "", fmt.Errorf("add_join [%q, %q): sink pattern %q is not in table %q", first, last, j.Sink.Text, name)
	}
	for i := range j.Sources {
		if j.Sources[i].Table == "" {
			return "", fmt.Errorf("add_join: source pattern %q has no table name (a slot comes before its first '|'), so it can never match a stored key", j.Sources[i].Text)
		}
	}
	e.begin()
	defer e.end()
	t := e.table(name, true)
	for _, other := range t.joins {
		if other.lo < last && first < other.hi && joins.SameStructure(other.j, j) {
			return fmt.Sprintf("join on [%s, %s) has same structure as overlapping join\n(new join ignored)", first, last), nil
		}
	}
	ij := &installedJoin{j: j, lo: first, hi: last, sink: t}
	t.joins = append(t.joins, ij)
	e.njoins++
	e.chooseCut(t, &j.Sink)
	for i := range j.Sources {
		e.chooseCut(e.table(j.Sources[i].Table, true), &j.Sources[i].Pattern)
	}
	// Existing sink ranges that overlap the new join get an instance for it,
	// computed at their next validate.
	var srs []*sinkRange
	t.sinks.Overlap(first, last, func(it *interval.Item[*sinkRange]) bool {
		srs = append(srs, it.Value)
		return true
	})
	for _, sr := range srs {
		if inst := e.newInstance(ij, sr); inst != nil {
			sr.insts = append(sr.insts, inst)
		}
	}
	return "", nil
}
