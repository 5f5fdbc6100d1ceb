package partition

import (
	"testing"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/difftest"
	"github.com/pequod-go/pequod/wire"
)

// diffTarget adapts the harness to joins/difftest: validating scans go
// through the server's request path (fanned out and merged when the range
// spans partitions).
type diffTarget struct {
	*harness
	installed []installedJoin
}

type installedJoin struct {
	first, last string
	j           *joins.Join
}

func (d *diffTarget) Scan(first, last string) ([]difftest.KV, error) {
	var out []difftest.KV
	var err error
	d.call(&Request{Cmd: wire.CmdScan, Key: first, Arg3: last}, func(r wire.Reply) {
		if r.Status != wire.StatusOK {
			err = errString(string(r.Payload.Bytes()))
			return
		}
		for i := 0; i+1 < r.Payload.Len(); i += 2 {
			out = append(out, difftest.KV{Key: string(r.Payload.Index(i).Bytes()), Value: string(r.Payload.Index(i + 1).Bytes())})
		}
	})
	return out, err
}

// AddJoin reports a redundant join (§2.7) as difftest.ErrJoinIgnored: over
// the protocol the server answers OK and warns on stderr, like the original.
func (d *diffTarget) AddJoin(first, last, text string, staleness time.Duration) error {
	j, err := joins.Parse(text)
	if err != nil {
		return err
	}
	for _, o := range d.installed {
		if joins.RangeTableName(o.first, o.last) == joins.RangeTableName(first, last) &&
			o.first < last && first < o.last && joins.SameStructure(o.j, j) {
			return difftest.ErrJoinIgnored
		}
	}
	if err := d.harness.AddJoin(first, last, text, staleness); err != nil {
		return err
	}
	d.installed = append(d.installed, installedJoin{first, last, j})
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

// TestDifferentialFourPartitions runs the engine's differential test through
// a four-partition server, so sinks and sources land in different partitions
// (every join reads across partitions through subscriptions).
func TestDifferentialFourPartitions(t *testing.T) {
	cases := 1500
	if testing.Short() {
		cases = 200
	}
	newTarget := func() difftest.Target { return &diffTarget{harness: newHarness(t, 4)} }
	difftest.Run(t, newTarget, 4001, cases, difftest.DefaultConfig(), 3)
}
