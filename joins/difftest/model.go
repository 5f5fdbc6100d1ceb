package difftest

import (
	"errors"
	"sort"
	"time"

	"github.com/pequod-go/pequod/joins"
	"github.com/pequod-go/pequod/joins/oracle"
)

// ModelTarget is a Target (and Peeker) that answers every scan from the
// oracle: the canonical logical contents of the current data. It ignores
// staleness. It is the reference the checker must always accept, and a base
// for deliberately broken targets in tests.
type ModelTarget struct {
	joins []oracle.Installed
	base  map[string]string
}

// NewModelTarget returns an empty ModelTarget.
func NewModelTarget() *ModelTarget { return &ModelTarget{base: map[string]string{}} }

// Insert implements Target.
func (m *ModelTarget) Insert(key, value string) error {
	if joins.TableName(key) == "" {
		return errors.New("key has no table")
	}
	m.base[key] = value
	return nil
}

// Erase implements Target.
func (m *ModelTarget) Erase(key string) error {
	delete(m.base, key)
	return nil
}

// AddJoin implements Target.
func (m *ModelTarget) AddJoin(first, last, text string, staleness time.Duration) error {
	if joins.RangeTableName(first, last) == "" {
		return errors.New("join range has no table")
	}
	j, err := joins.Parse(text)
	if err != nil {
		return err
	}
	if staleness > 0 {
		if err := j.SetStaleness(staleness); err != nil {
			return err
		}
	}
	for _, o := range m.joins {
		if o.Table() == joins.RangeTableName(first, last) && first < o.Last && o.First < last && joins.SameStructure(o.Join, j) {
			return ErrJoinIgnored
		}
	}
	m.joins = append(m.joins, oracle.Installed{Join: j, First: first, Last: last})
	return nil
}

// Scan implements Target.
func (m *ModelTarget) Scan(first, last string) ([]KV, error) {
	t := joins.RangeTableName(first, last)
	if t == "" {
		return nil, errors.New("range has no table")
	}
	mod := &oracle.Model{Joins: m.joins, Base: m.base}
	var out []KV
	for _, kv := range mod.Table(t) {
		if first <= kv.Key && kv.Key < last {
			out = append(out, kv)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Key < out[b].Key })
	return out, nil
}

// Peek implements Peeker.
func (m *ModelTarget) Peek(first, last string) ([]KV, error) { return m.Scan(first, last) }

// Advance implements Target.
func (m *ModelTarget) Advance(time.Duration) {}
