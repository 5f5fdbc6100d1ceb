// Package difftest is a randomized differential test of Pequod join engines
// against the from-scratch evaluator in joins/oracle (spec/joins.md §3.1,
// §4.4 INV-1, §10).
//
// A Case is generated from a seed: a few joins (1–2 level chains, every
// operator, lazy/eager/bare/filter context sources, self-joins, pull and
// staleness windows, narrow join ranges, several joins on one sink table)
// and a sequence of writes to the base tables interleaved with validating
// scans. Execute plays a case against a Target and checks every scan with the
// oracle; Shrink reduces a failing case by delta debugging; Format prints a
// reproducible trace. Run ties this together for `go test`.
//
// The package only talks to a Target, so the same cases can drive the
// in-process engine or a server over the network.
//
// # Generation
//
// From the seed: a slot alphabet of 2–4 bytes ("012" mostly) and 1–4 base
// tables a..d. Join x has 1–3 sources over the base tables; each source
// pattern has 1–3 width-1 (sometimes width-2 or anonymous) slots, preferring
// slots bound by earlier sources, so joins really join; the sink uses a
// subset of the slots (free slots give several derivations per key). Context
// sources are `using`, `using lazy`, `using eager`, bare or `filter`; the
// operator is any of copy/count/sum/min/max; the text varies in grammar
// (operator first, commas, `and`, where-clauses, implicit copy, `pull`).
// Sometimes: a second join on x (disjoint join ranges, or a sink of another
// key length), a join y reading x's sink shape (a chain; sometimes a third
// join z reading x or y), narrow join ranges, pull joins, staleness windows.
// Then 3–12 inserts (sometimes before the joins are installed) and up to
// MaxOps random inserts/overwrites/erases of base keys (values such as "5",
// "-3", "12abc", "007", "v9", ""), evictions, clock advances and validating
// scans of whole tables, slot prefixes, single keys and arbitrary ranges;
// finally a whole-table scan of every sink table. The generator never writes
// into sink tables (client writes there have no exact meaning, §4.5).
//
// # Staleness
//
// When a case has staleness windows (T = k.5 s), time moves in whole
// seconds. By default the runner advances the clock by ⌊T⌋+1 s before every
// scan, so every stale range has expired and the result must be exact. In
// WindowReads cases, scans of a table whose joins read only base tables are
// not preceded by that advance, and each returned (or missing) key must
// match the oracle on some base state that existed during the last T
// (each sink range is computed at one instant; keys are checked one by one).
//
// # Stored checks
//
// When every join is push and no context source is lazy (§3.6: eager
// changes are applied before the write returns), the stored contents of the
// scanned ranges of each sink table are also checked after every write,
// through Peek: keys may be missing where maintenance legitimately removes
// them until the next validate (min/max keys, tables reading sink tables),
// but never wrong or extra.
package difftest

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pequod-go/pequod/joins/oracle"
)

// KV is one key and value of a scan result.
type KV = oracle.KV

// Target is the system under test.
type Target interface {
	Insert(key, value string) error
	Erase(key string) error
	// AddJoin parses text and installs it on [first,last); staleness > 0
	// sets the join's staleness window (§3.8) before installing. A join
	// refused as redundant (§2.7) is reported as ErrJoinIgnored.
	AddJoin(first, last, text string, staleness time.Duration) error
	// Scan is a VALIDATING scan of [first,last) (engine.Scan with scanlast
	// ""), in key order.
	Scan(first, last string) ([]KV, error)
	// Advance moves the target's fake clock forward.
	Advance(d time.Duration)
}

// Peeker is implemented by targets that can also read stored keys without
// validating (engine.ScanStored). The checker uses it to learn which
// representation of an upstream sink table a downstream join actually read
// (copy picks any derivation's value, sum may be stored verbatim, count/sum
// may keep "0" keys — §3.1, §3.5, §10 A5), and then checks those upstream
// keys against the oracle too. Without it, the generator only builds chains
// over upstream joins whose contents are fully determined (min/max, and copy
// joins whose sink holds every slot).
type Peeker interface {
	Peek(first, last string) ([]KV, error)
}

// Evicter is implemented by targets that can evict a sink range
// (engine.EvictOne, §6.1). Evict operations are skipped for other targets.
// INV-1 must hold across eviction.
type Evicter interface {
	EvictOne() bool
}

// JoinSpec is one join of a case.
type JoinSpec struct {
	First, Last string
	Text        string
	// Staleness > 0 makes the join non-maintained with that window (§3.8).
	Staleness time.Duration
	// Redundant joins have the same structure as an earlier join of the
	// case on an overlapping range: the target must ignore them (§2.7).
	Redundant bool
}

// ErrJoinIgnored is what Target.AddJoin returns (wrapped) for a join that
// was refused as redundant (§2.7). A target that cannot tell (the request
// protocol replies OK) may return nil instead; the scans then show whether
// the join was really ignored.
var ErrJoinIgnored = errors.New("join ignored: same structure as an overlapping join")

// OpKind is the kind of an Op.
type OpKind uint8

// The operations of a case.
const (
	OpInsert OpKind = iota
	OpErase
	OpScan
	OpAdvance
	OpEvict
)

// Op is one operation of a case.
type Op struct {
	Kind        OpKind
	Key, Value  string        // OpInsert, OpErase
	First, Last string        // OpScan
	D           time.Duration // OpAdvance
	// BeforeJoins ops run before the joins are installed. They form a
	// prefix of Case.Ops.
	BeforeJoins bool
}

// Case is one generated test case.
type Case struct {
	// Seed reproduces the case with Generate and the same Config.
	Seed  int64
	Joins []JoinSpec
	Ops   []Op
	// WindowReads: scans of a table whose joins have a staleness window
	// (and read only base tables) are done without first moving the clock
	// past the window, and may return data up to the window old (§4.4
	// INV-1). Otherwise, when a case has staleness windows, the runner
	// advances the clock past the largest window before every scan, so
	// every stale range has expired and the result must be current.
	WindowReads bool
}

func (c *Case) clone() *Case {
	d := *c
	d.Joins = append([]JoinSpec(nil), c.Joins...)
	d.Ops = append([]Op(nil), c.Ops...)
	return &d
}

func (op Op) String() string {
	switch op.Kind {
	case OpInsert:
		return fmt.Sprintf("Insert(%s, %s)", q(op.Key), q(op.Value))
	case OpErase:
		return fmt.Sprintf("Erase(%s)", q(op.Key))
	case OpScan:
		return fmt.Sprintf("Scan(%s, %s)", q(op.First), q(op.Last))
	case OpAdvance:
		return fmt.Sprintf("Advance(%v)", op.D)
	case OpEvict:
		return "EvictOne()"
	}
	return "?"
}

func (js JoinSpec) String() string {
	s := fmt.Sprintf("AddJoin(%s, %s, %s, %v)", q(js.First), q(js.Last), q(js.Text), js.Staleness)
	if js.Redundant {
		s += " // redundant: must be ignored"
	}
	return s
}

// q quotes a key or value as a Go string literal.
func q(s string) string { return strconv.Quote(s) }

func fmtKVs(kvs []KV) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, kv := range kvs {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(q(kv.Key))
		sb.WriteByte('=')
		sb.WriteString(q(kv.Value))
	}
	sb.WriteByte(']')
	return sb.String()
}
