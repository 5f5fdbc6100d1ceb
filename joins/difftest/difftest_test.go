package difftest

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestGenerateDeterministic(t *testing.T) {
	for seed := int64(0); seed < 200; seed++ {
		a, b := Generate(seed, DefaultConfig()), Generate(seed, DefaultConfig())
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two generations differ", seed)
		}
	}
}

func TestParseFeatures(t *testing.T) {
	f, err := ParseFeatures("all,-stale,-window")
	if err != nil || f&FeatStale != 0 || f&FeatWindow != 0 || f&FeatChain == 0 {
		t.Fatalf("ParseFeatures = %v, %v", f, err)
	}
	if g, err := ParseFeatures(f.String()); err != nil || g != f {
		t.Fatalf("round trip %v -> %v, %v", f, g, err)
	}
	if _, err := ParseFeatures("bogus"); err == nil {
		t.Fatal("bogus feature accepted")
	}
}

// The checker must accept the oracle's own answers, with and without Peek.
func TestModelTargetPasses(t *testing.T) {
	n := 1500
	if testing.Short() {
		n = 300
	}
	Run(t, func() Target { return NewModelTarget() }, 1, n, DefaultConfig(), 1)
	Run(t, func() Target { return noPeek{NewModelTarget()} }, 100000, n/3, DefaultConfig(), 1)
}

type noPeek struct{ Target }

// broken wraps a target and corrupts scan results of sink tables.
type broken struct {
	*ModelTarget
	mode string
}

func (b *broken) Scan(first, last string) ([]KV, error) {
	kv, err := b.ModelTarget.Scan(first, last)
	if strings.HasPrefix(first, "x|") || strings.HasPrefix(first, "y|") {
		switch b.mode {
		case "drop":
			if len(kv) > 0 {
				kv = kv[1:]
			}
		case "inc":
			for i := range kv {
				if n, err := strconv.Atoi(kv[i].Value); err == nil && kv[i].Value == strconv.Itoa(n) {
					kv[i].Value = strconv.Itoa(n + 1)
				}
			}
		case "extra":
			kv = append(kv, KV{Key: last[:len(last)-1] + "|~", Value: "x"})
			if last[len(last)-1] != '}' {
				kv = kv[:len(kv)-1]
			}
		}
	}
	return kv, err
}

func (b *broken) Advance(time.Duration) {}

func TestBrokenTargetsCaught(t *testing.T) {
	for _, mode := range []string{"drop", "inc"} {
		st := RunCases(func() Target { return &broken{NewModelTarget(), mode} }, 7, 200, DefaultConfig(), 1)
		if len(st.Failures) == 0 {
			t.Errorf("broken target %q not caught", mode)
			continue
		}
		f := st.Failures[0]
		t.Logf("broken target %q caught:\n%s", mode, Format(f))
		if len(f.Case.Ops) > 6 {
			t.Errorf("broken target %q: shrunk trace still has %d ops", mode, len(f.Case.Ops))
		}
	}
}
