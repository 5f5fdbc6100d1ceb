package difftest

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pequod-go/pequod/joins"
)

// Features selects what the generator may use. Restricting them helps to
// bisect an engine bug (see ParseFeatures).
type Features uint32

// The generator features.
const (
	FeatChain     Features = 1 << iota // a second join reading the first one's sink table (§3.9)
	FeatLazy                           // `using P` / `using lazy P` context sources
	FeatEager                          // `using eager P`
	FeatBare                           // bare (eager) context patterns
	FeatFilter                         // `filter P` (§3.7)
	FeatPull                           // `pull` joins (§3.8)
	FeatStale                          // staleness windows (SetStaleness)
	FeatWindow                         // reads served inside a staleness window
	FeatSelfJoin                       // one table feeding two sources of a join (§10 A2)
	FeatNarrow                         // join ranges narrower than the sink table
	FeatMulti                          // two joins writing one sink table (§3.10)
	FeatWide                           // slots of width 2 (partial-slot range bounds)
	FeatAnon                           // anonymous slots <:1>
	FeatGarbage                        // keys that match no pattern
	FeatErase                          // erase operations
	FeatPreData                        // writes before the joins are installed
	FeatSyntax                         // grammar variations: op first, commas, `and`, where-clauses, implicit copy
	FeatEvict                          // evict sink ranges (targets implementing Evicter)
	FeatBytes                          // slot bytes such as '|', '}', 0x00, 0xFF
	FeatRedundant                      // a join of the same structure on an overlapping range, to be ignored (§2.7)
	featEnd
)

// AllFeatures enables everything.
const AllFeatures = featEnd - 1

var featNames = []string{"chain", "lazy", "eager", "bare", "filter", "pull", "stale", "window",
	"selfjoin", "narrow", "multi", "wide", "anon", "garbage", "erase", "predata", "syntax", "evict", "bytes", "redundant"}

// ParseFeatures parses a comma-separated feature list such as "all,-stale"
// or "lazy,filter,erase". "all" and "none" are accepted; a leading '-'
// removes a feature.
func ParseFeatures(s string) (Features, error) {
	var f Features
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		neg := strings.HasPrefix(w, "-")
		w = strings.TrimPrefix(w, "-")
		var bit Features
		switch w {
		case "":
			continue
		case "all":
			bit = AllFeatures
		case "none":
			bit = 0
		default:
			i := slices.Index(featNames, w)
			if i < 0 {
				return 0, fmt.Errorf("unknown difftest feature %q (have: all none %s)", w, strings.Join(featNames, " "))
			}
			bit = 1 << i
		}
		if neg {
			f &^= bit
		} else {
			f |= bit
		}
	}
	return f, nil
}

func (f Features) String() string {
	if f == AllFeatures {
		return "all"
	}
	var out []string
	for i, n := range featNames {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ",")
}

// ParseOps parses a comma-separated operator list ("copy,count,sum,min,max"
// or "all").
func ParseOps(s string) ([]joins.Operator, error) {
	var ops []joins.Operator
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		switch w {
		case "":
		case "all":
			ops = append(ops, joins.Copy, joins.Count, joins.Sum, joins.Min, joins.Max)
		case "copy":
			ops = append(ops, joins.Copy)
		case "count":
			ops = append(ops, joins.Count)
		case "sum":
			ops = append(ops, joins.Sum)
		case "min":
			ops = append(ops, joins.Min)
		case "max":
			ops = append(ops, joins.Max)
		default:
			return nil, fmt.Errorf("unknown operator %q", w)
		}
	}
	return ops, nil
}

// Config controls the generator.
type Config struct {
	Features Features
	// Ops are the operators joins may use; empty means all five.
	Ops []joins.Operator
	// MaxOps bounds the number of operations per case (default 60).
	MaxOps int
	// Alphabet is the set of bytes slots take; "" picks "012", "01" or
	// "0123" per case.
	Alphabet string
	// NoAmbiguousChains restricts chains to upstream joins whose contents
	// are fully determined (set by the runner for targets without Peeker).
	NoAmbiguousChains bool
}

// DefaultConfig enables every feature and operator.
func DefaultConfig() Config { return Config{Features: AllFeatures} }

func (c Config) String() string {
	var ops []string
	for _, o := range c.Ops {
		ops = append(ops, o.String())
	}
	s := fmt.Sprintf("features=%v", c.Features)
	if len(ops) > 0 {
		s += " ops=" + strings.Join(ops, ",")
	}
	if c.MaxOps != 0 {
		s += fmt.Sprintf(" maxops=%d", c.MaxOps)
	}
	if c.Alphabet != "" {
		s += fmt.Sprintf(" alphabet=%q", c.Alphabet)
	}
	if c.NoAmbiguousChains {
		s += " noambiguouschains"
	}
	return s
}

// Values written to base tables: numeric-ish strings for sum/min/max
// (§3.5 parsing and bytewise order) that double as copy payloads.
var valuePool = []string{"5", "-3", "12abc", "007", "v9", "", "0", "+4", "10", "9", "1", "v10", "-", "abc", "2", "-12", "99"}

var varNames = []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"}

// elem is a piece of an abstract pattern: a literal (v == -1), an anonymous
// slot of width w (v == -2), or a reference to variable v.
type elem struct {
	lit string
	v   int
	w   int
}

type apat []elem

type ctxKind int

const (
	kLazy ctxKind = iota
	kEager
	kBare
	kFilter
	kValue
)

type gsrc struct {
	p    apat
	kind ctxKind
}

type gvar struct {
	name string
	w    int
}

type gjoin struct {
	table       string
	vars        []gvar
	sink        apat
	srcs        []gsrc
	op          joins.Operator
	pull        bool
	stale       time.Duration
	first, last string
}

type gen struct {
	r     *rand.Rand
	cfg   Config
	alpha string
	base  []string
}

func (g *gen) has(f Features) bool    { return g.cfg.Features&f != 0 }
func (g *gen) chance(p float64) bool  { return g.r.Float64() < p }
func (g *gen) intn(n int) int         { return g.r.IntN(n) }
func pickOne[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }
func (g *gen) char() byte             { return g.alpha[g.intn(len(g.alpha))] }
func (g *gen) chars(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = g.char()
	}
	return string(b)
}

func (g *gen) ops(determined bool) []joins.Operator {
	ops := g.cfg.Ops
	if len(ops) == 0 {
		ops = []joins.Operator{joins.Copy, joins.Count, joins.Sum, joins.Min, joins.Max}
	}
	if !determined {
		return ops
	}
	var out []joins.Operator
	for _, o := range ops {
		if o == joins.Copy || o == joins.Min || o == joins.Max {
			out = append(out, o)
		}
	}
	return out
}

func (g *gen) kinds() []ctxKind {
	var ks []ctxKind
	for _, p := range []struct {
		f Features
		k ctxKind
	}{{FeatLazy, kLazy}, {FeatEager, kEager}, {FeatBare, kBare}, {FeatFilter, kFilter}} {
		if g.has(p.f) {
			ks = append(ks, p.k)
		}
	}
	return ks
}

// join generates a join writing table sink from the base tables. If up is
// non-nil, at least one source has up's shape (the sink pattern of an
// upstream join, whose variables are upVars). determined asks for a join
// whose every sink key has exactly one possible value (no free variables,
// no anonymous slots, operator copy/min/max).
func (g *gen) join(sink string, up apat, upVars []gvar, determined bool) *gjoin {
	j := &gjoin{table: sink}
	newVar := func(w int) int {
		j.vars = append(j.vars, gvar{name: varNames[len(j.vars)], w: w})
		return len(j.vars) - 1
	}
	width := func() int {
		if g.has(FeatWide) && g.chance(0.15) {
			return 2
		}
		return 1
	}
	for range 1 + g.intn(3) {
		newVar(width())
	}
	ops := g.ops(determined)
	j.op = pickOne(g, ops)
	kinds := g.kinds()
	n := 1 + g.intn(3)
	if len(kinds) == 0 {
		n = 1
	}
	upPos := -1
	if up != nil {
		upPos = g.intn(n)
	}
	var used []int
	use := func(v int) {
		if !slices.Contains(used, v) {
			used = append(used, v)
		}
	}
	var tables []string
	for i := range n {
		var p apat
		if i == upPos || (up != nil && g.has(FeatSelfJoin) && g.chance(0.15)) {
			p = g.mapShape(up, upVars, j, newVar, used, use, determined)
		} else {
			table := pickOne(g, g.base)
			if !g.has(FeatSelfJoin) {
				for k := 0; k < 10 && slices.Contains(tables, table); k++ {
					table = pickOne(g, g.base)
				}
			} else if len(tables) > 0 && g.chance(0.2) {
				table = pickOne(g, tables)
			}
			tables = append(tables, table)
			p = g.srcPattern(table, j, used, use, determined)
		}
		kind := kValue
		if i < n-1 {
			kind = pickOne(g, kinds)
		}
		j.srcs = append(j.srcs, gsrc{p: p, kind: kind})
	}
	// Sink: a subset of the used variables (all of them for determined).
	order := slices.Clone(used)
	g.r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
	ns := len(order)
	if !determined {
		switch {
		case ns == 0 || g.chance(0.05):
			ns = 0
		default:
			ns = 1 + g.intn(min(3, ns))
		}
	}
	j.sink = apat{{lit: sink + "|", v: -1}}
	if ns == 0 {
		j.sink[0].lit += "t"
	}
	for i, v := range order[:ns] {
		if i > 0 && g.chance(0.75) {
			j.sink = append(j.sink, elem{lit: pickOne(g, []string{"|", "|", "|", "|", "-"}), v: -1})
		}
		j.sink = append(j.sink, elem{v: v})
	}
	return j
}

// srcPattern builds `table|<v>|<w>…` with 1–3 slot references.
func (g *gen) srcPattern(table string, j *gjoin, used []int, use func(int), determined bool) apat {
	p := apat{{lit: table + "|", v: -1}}
	k := 1 + g.intn(3)
	for i := range k {
		if i > 0 {
			switch x := g.r.Float64(); {
			case x < 0.7:
				p = append(p, elem{lit: "|", v: -1})
			case x < 0.9:
			default:
				p = append(p, elem{lit: "|k|", v: -1})
			}
		}
		if !determined && g.has(FeatAnon) && g.chance(0.08) {
			p = append(p, elem{v: -2, w: 1})
			continue
		}
		// Prefer a variable an earlier source bound (a join condition), then
		// any variable new to this pattern; rarely repeat one in the pattern.
		var mine, shared, fresh []int
		for _, e := range p {
			if e.v >= 0 {
				mine = append(mine, e.v)
			}
		}
		for v := range j.vars {
			if !slices.Contains(mine, v) {
				fresh = append(fresh, v)
				if slices.Contains(used, v) {
					shared = append(shared, v)
				}
			}
		}
		var v int
		switch {
		case len(mine) > 0 && (len(fresh) == 0 || g.chance(0.08)):
			v = pickOne(g, mine)
		case len(shared) > 0 && g.chance(0.6):
			v = pickOne(g, shared)
		default:
			v = pickOne(g, fresh)
		}
		use(v)
		used = append(used, v)
		p = append(p, elem{v: v})
	}
	if g.chance(0.04) {
		p = append(p, elem{lit: "|z", v: -1})
	}
	return p
}

// mapShape copies an upstream sink shape into join j, mapping each upstream
// variable to a variable of j of the same width: sometimes an existing one
// (which ties the source to other sources, or repeats a slot), else a new one.
func (g *gen) mapShape(up apat, upVars []gvar, j *gjoin, newVar func(int) int, used []int, use func(int), determined bool) apat {
	m := map[int]int{}
	var p apat
	for _, e := range up {
		if e.v < 0 {
			p = append(p, e)
			continue
		}
		if v, ok := m[e.v]; ok {
			p = append(p, elem{v: v})
			continue
		}
		w := upVars[e.v].w
		var cands []int
		for _, u := range used {
			if j.vars[u].w == w {
				cands = append(cands, u)
			}
		}
		// Map order is random: walk m in key order so generation stays
		// reproducible from the seed.
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if u := m[k]; j.vars[u].w == w {
				cands = append(cands, u)
			}
		}
		var v int
		if len(cands) > 0 && g.chance(0.4) {
			v = pickOne(g, cands)
		} else {
			v = newVar(w)
		}
		m[e.v] = v
		use(v)
		p = append(p, elem{v: v})
	}
	return p
}

// render writes the join text, varying the grammar when FeatSyntax is on.
func (g *gen) render(j *gjoin) string {
	syntax := g.has(FeatSyntax)
	style := 0 // 0: every slot occurrence carries its length; 1: some do; 2: none (where-clause)
	if syntax {
		style = g.intn(3)
	}
	declared := make([]bool, len(j.vars))
	pat := func(p apat) string {
		var sb strings.Builder
		for _, e := range p {
			switch {
			case e.v == -1:
				sb.WriteString(e.lit)
			case e.v == -2:
				fmt.Fprintf(&sb, "<:%d>", e.w)
			default:
				v := j.vars[e.v]
				if style == 0 || (style == 1 && g.chance(0.5)) {
					fmt.Fprintf(&sb, "<%s:%d>", v.name, v.w)
					declared[e.v] = true
				} else {
					fmt.Fprintf(&sb, "<%s>", v.name)
				}
			}
		}
		return sb.String()
	}
	sinkText := pat(j.sink)
	n := len(j.srcs)
	allBare := true
	var items []string
	for _, s := range j.srcs[:n-1] {
		var kw string
		switch s.kind {
		case kLazy:
			kw = "using "
			if syntax && g.chance(0.3) {
				kw = "using lazy "
			}
		case kEager:
			kw = "using eager "
		case kBare:
			kw = ""
		case kFilter:
			kw = "filter "
			if syntax {
				kw = pickOne(g, []string{"filter ", "using filter ", "filter using "})
			}
		}
		if s.kind != kBare {
			allBare = false
		}
		items = append(items, kw+pat(s.p))
	}
	vs := pat(j.srcs[n-1].p)
	if syntax && allBare && j.op == joins.Copy && g.chance(0.5) {
		items = append(items, vs) // implicit copy: the last bare pattern is the value source
	} else {
		vi := j.op.String() + " " + vs
		pos := len(items)
		if syntax {
			pos = g.intn(len(items) + 1)
		}
		items = slices.Insert(items, pos, vi)
	}
	if j.pull {
		pos := len(items)
		if syntax {
			pos = g.intn(len(items) + 1)
		}
		items = slices.Insert(items, pos, "pull")
	} else if syntax && g.chance(0.05) {
		items = slices.Insert(items, g.intn(len(items)+1), "push")
	}
	var sb strings.Builder
	sb.WriteString(sinkText)
	sb.WriteString(" = ")
	for i, it := range items {
		if i > 0 {
			sep := " "
			if syntax {
				sep = pickOne(g, []string{" ", " ", ", ", " and "})
			}
			sb.WriteString(sep)
		}
		sb.WriteString(it)
	}
	var decl []string
	for i, v := range j.vars {
		if !declared[i] && j.mentions(i) {
			decl = append(decl, fmt.Sprintf("%s:%d", v.name, v.w))
		}
	}
	if len(decl) > 0 {
		kw := "where"
		if g.chance(0.5) {
			kw = "with"
		}
		sep := " "
		if g.chance(0.5) {
			sep = ", "
		}
		sb.WriteString(" " + kw + " " + strings.Join(decl, sep))
	}
	return sb.String()
}

func (j *gjoin) mentions(v int) bool {
	for _, s := range j.srcs {
		for _, e := range s.p {
			if e.v == v {
				return true
			}
		}
	}
	return false
}

// point returns a random key-like bound inside table t: a table bound, a key
// of one of the shapes, a prefix of one, or a neighbour of one.
func (g *gen) point(t string, shapes []*joins.Pattern) string {
	k := g.keyFor(pickOne(g, shapes))
	pre := k[:len(t)+1+g.intn(len(k)-len(t))]
	switch g.intn(10) {
	case 0:
		return t + "|"
	case 1:
		return t + "}"
	case 2, 3:
		return k
	case 4:
		return pre
	case 5:
		return k + "\x00"
	case 6:
		return pre + "}"
	case 7:
		b := []byte(k)
		b[len(b)-1]++
		return string(b)
	case 8:
		return pickOne(g, []string{pre + "\x00", pre + "\xff", k + "\xff"})
	default:
		var sb strings.Builder
		sb.WriteString(t + "|")
		for range 1 + g.intn(3) {
			sb.WriteByte(pickOne(g, []byte(g.alpha+"|}")))
		}
		return sb.String()
	}
}

// rangeIn returns a random non-empty range [first,last) of table t.
func (g *gen) rangeIn(t string, shapes []*joins.Pattern) (string, string) {
	for range 30 {
		a, b := g.point(t, shapes), g.point(t, shapes)
		if a > b {
			a, b = b, a
		}
		if a < b && a < t+"}" && joins.RangeTableName(a, b) == t {
			return a, b
		}
	}
	return t + "|", t + "}"
}

// scanRange picks a validating-scan range of table t.
func (g *gen) scanRange(t string, shapes []*joins.Pattern) (string, string) {
	switch x := g.r.Float64(); {
	case x < 0.25:
		return t + "|", t + "}"
	case x < 0.5:
		p := pickOne(g, shapes)
		k := g.keyFor(p)
		var cuts []int
		for _, sg := range p.Segs {
			if end := sg.Off + sg.Width; end > len(t)+1 && end < len(k) {
				cuts = append(cuts, end)
			}
		}
		if len(cuts) == 0 {
			return k, k + "\x00"
		}
		pre := k[:pickOne(g, cuts)]
		switch g.intn(3) {
		case 0:
			return pre, joins.PrefixEnd(pre)
		case 1:
			return pre, pre + "}"
		default:
			return pre + "|", pre + "}"
		}
	case x < 0.7:
		k := g.keyFor(pickOne(g, shapes))
		return k, k + "\x00"
	default:
		return g.rangeIn(t, shapes)
	}
}

// keyFor returns a key matching p with random slot bytes; a slot repeated
// in p usually gets the same bytes.
func (g *gen) keyFor(p *joins.Pattern) string {
	vals := map[int]string{}
	var sb strings.Builder
	for _, sg := range p.Segs {
		if sg.Slot < 0 {
			sb.WriteString(sg.Lit)
			continue
		}
		v, ok := vals[sg.Slot]
		if !ok || g.chance(0.2) {
			v = g.chars(sg.Width)
			if !ok {
				vals[sg.Slot] = v
			}
		}
		sb.WriteString(v)
	}
	return sb.String()
}

// Generate builds the case for seed.
func Generate(seed int64, cfg Config) *Case {
	if cfg.MaxOps <= 0 {
		cfg.MaxOps = 60
	}
	g := &gen{r: rand.New(rand.NewPCG(uint64(seed), 0x5eed5eed)), cfg: cfg}
	g.alpha = cfg.Alphabet
	if g.alpha == "" {
		g.alpha = pickOne(g, []string{"012", "012", "012", "01", "0123"})
		if g.has(FeatBytes) && g.chance(0.15) {
			// Slot bytes that are also key syntax or extreme bytes.
			g.alpha = pickOne(g, []string{"0|}", "0\x00\xff", "|}\xff", "1\x00|"})
		}
	}
	g.base = []string{"a", "b", "c", "d"}[:pickOne(g, []int{1, 2, 2, 2, 2, 3, 3, 3, 4})]
	c := &Case{Seed: seed}

	chain := g.has(FeatChain) && g.chance(0.4)
	determined := chain && cfg.NoAmbiguousChains
	if determined && len(g.ops(true)) == 0 {
		chain, determined = false, false
	}
	var gjs []*gjoin
	x := g.join("x", nil, nil, determined)
	x.first, x.last = "x|", "x}"
	gjs = append(gjs, x)
	if g.has(FeatMulti) && !determined && g.chance(0.15) {
		x2 := g.join("x", nil, nil, false)
		x2.first, x2.last = "x|", "x}"
		split := false
		if g.chance(0.5) {
			// Disjoint join ranges split at a random point.
			p := g.point("x", []*joins.Pattern{g.pattern(x)})
			if p > "x|" && p < "x}" {
				x.last, x2.first = p, p
				split = true
			}
		}
		if !split && keyLen(x, x.sink) == keyLen(x2, x2.sink) {
			// Same key length: add a literal so the two sinks can never
			// produce the same key.
			x2.sink = append(x2.sink, elem{lit: "|m", v: -1})
		}
		gjs = append(gjs, x2)
	}
	if chain {
		up := pickOne(g, gjs)
		y := g.join("y", up.sink, up.vars, false)
		y.first, y.last = "y|", "y}"
		gjs = append(gjs, y)
	}
	if g.chance(0.15) {
		// Another join: from the base tables, or a third level / a second
		// reader of an upstream sink table.
		var z *gjoin
		if chain && g.chance(0.6) {
			up := gjs[len(gjs)-1-g.intn(2)]
			if cfg.NoAmbiguousChains {
				up = x // the only join generated determined
			}
			z = g.join("z", up.sink, up.vars, false)
		} else {
			z = g.join("z", nil, nil, false)
		}
		z.first, z.last = "z|", "z}"
		gjs = append(gjs, z)
	}
	for _, j := range gjs {
		if g.has(FeatNarrow) && j.first == j.table+"|" && j.last == j.table+"}" && g.chance(0.2) {
			j.first, j.last = g.rangeIn(j.table, []*joins.Pattern{g.pattern(j)})
		}
		switch {
		case g.has(FeatPull) && g.chance(0.15):
			j.pull = true
		case g.has(FeatStale) && g.chance(0.15):
			j.stale = time.Duration(1+g.intn(3))*time.Second + 500*time.Millisecond
		}
	}

	// Render and parse; remember the shapes keys are drawn from.
	baseShapes := map[string][]*joins.Pattern{}
	sinkShapes := map[string][]*joins.Pattern{}
	hasStale := false
	for _, gj := range gjs {
		text := g.render(gj)
		pj := mustParse(text, gj)
		c.Joins = append(c.Joins, JoinSpec{First: gj.first, Last: gj.last, Text: text, Staleness: gj.stale})
		hasStale = hasStale || gj.stale > 0
		sinkShapes[gj.table] = append(sinkShapes[gj.table], &pj.Sink)
		for i := range pj.Sources {
			s := &pj.Sources[i].Pattern
			if slices.Contains(g.base, s.Table) {
				baseShapes[s.Table] = append(baseShapes[s.Table], s)
			}
		}
	}
	if g.has(FeatRedundant) && g.chance(0.05) {
		// Same structure (re-rendered, so the text may differ) on an
		// overlapping range: refused and ignored (§2.7).
		gj := pickOne(g, gjs)
		text := g.render(gj)
		mustParse(text, gj)
		first, last := gj.table+"|", gj.table+"}"
		if g.chance(0.5) {
			first, last = g.rangeIn(gj.table, []*joins.Pattern{g.pattern(gj)})
		}
		if first < gj.last && gj.first < last {
			c.Joins = append(c.Joins, JoinSpec{First: first, Last: last, Text: text, Staleness: gj.stale, Redundant: true})
		}
	}
	c.WindowReads = hasStale && g.has(FeatWindow) && g.chance(0.5)
	var baseTables, sinkTables []string
	for t := range baseShapes {
		baseTables = append(baseTables, t)
	}
	for t := range sinkShapes {
		sinkTables = append(sinkTables, t)
	}
	sort.Strings(baseTables)
	sort.Strings(sinkTables)

	present := map[string]bool{}
	presentKeys := func(t string) []string {
		var ks []string
		for k := range present {
			if joins.TableName(k) == t {
				ks = append(ks, k)
			}
		}
		sort.Strings(ks)
		return ks
	}
	newKey := func(t string) string {
		if g.has(FeatGarbage) && g.chance(0.05) {
			var sb strings.Builder
			sb.WriteString(t + "|")
			for range g.intn(6) {
				sb.WriteByte(pickOne(g, []byte(g.alpha+"|")))
			}
			return sb.String()
		}
		return g.keyFor(pickOne(g, baseShapes[t]))
	}
	insert := func(before bool) Op {
		t := pickOne(g, baseTables)
		k := newKey(t)
		present[k] = true
		return Op{Kind: OpInsert, Key: k, Value: pickOne(g, valuePool), BeforeJoins: before}
	}
	// An initial burst of inserts gives the joins something to derive,
	// sometimes written before the joins are installed.
	before := g.has(FeatPreData) && g.chance(0.3)
	for range 3 + g.intn(10) {
		c.Ops = append(c.Ops, insert(before))
	}
	nops := 10 + g.intn(max(1, cfg.MaxOps-9))
	for range nops {
		x := g.r.Float64()
		if g.has(FeatEvict) && g.chance(0.04) {
			c.Ops = append(c.Ops, Op{Kind: OpEvict})
			continue
		}
		switch {
		case x < 0.45:
			c.Ops = append(c.Ops, insert(false))
		case x < 0.65 && g.has(FeatErase):
			t := pickOne(g, baseTables)
			var k string
			switch ks := presentKeys(t); {
			case len(ks) > 0 && g.chance(0.75):
				k = pickOne(g, ks)
			case g.chance(0.05):
				k = "q|" + g.chars(1) // a table that never existed (§5, §10 A6)
			default:
				k = newKey(t)
			}
			delete(present, k)
			c.Ops = append(c.Ops, Op{Kind: OpErase, Key: k})
		case x < 0.72 && hasStale:
			c.Ops = append(c.Ops, Op{Kind: OpAdvance, D: time.Second})
		default:
			var t string
			var shapes []*joins.Pattern
			if g.chance(0.85) {
				t = pickOne(g, sinkTables)
				shapes = sinkShapes[t]
			} else {
				t = pickOne(g, baseTables)
				shapes = baseShapes[t]
			}
			f, l := g.scanRange(t, shapes)
			c.Ops = append(c.Ops, Op{Kind: OpScan, First: f, Last: l})
		}
	}
	for _, t := range sinkTables {
		c.Ops = append(c.Ops, Op{Kind: OpScan, First: t + "|", Last: t + "}"})
	}
	return c
}

// pattern parses a join's sink shape (for range generation before render).
func (g *gen) pattern(j *gjoin) *joins.Pattern {
	var sb strings.Builder
	for _, e := range j.sink {
		if e.v == -1 {
			sb.WriteString(e.lit)
		} else {
			fmt.Fprintf(&sb, "<%s:%d>", j.vars[e.v].name, j.vars[e.v].w)
		}
	}
	text := sb.String()
	src := strings.Replace(text, j.table+"|", "src|", 1)
	pj, err := joins.Parse(text + " = count " + src)
	if err != nil {
		panic(fmt.Sprintf("difftest: sink shape %q: %v", text, err))
	}
	return &pj.Sink
}

func keyLen(j *gjoin, p apat) int {
	n := 0
	for _, e := range p {
		switch {
		case e.v == -1:
			n += len(e.lit)
		case e.v == -2:
			n += e.w
		default:
			n += j.vars[e.v].w
		}
	}
	return n
}

// mustParse parses generated text and checks that the parser read it the way
// the generator meant it (sources, operator, lazy/filter flags, pull).
func mustParse(text string, gj *gjoin) *joins.Join {
	pj, err := joins.Parse(text)
	if err != nil {
		panic(fmt.Sprintf("difftest: generated join %q does not parse: %v", text, err))
	}
	bad := len(pj.Sources) != len(gj.srcs) || pj.Op != gj.op || pj.Maintained != !gj.pull
	for i := 0; !bad && i < len(gj.srcs)-1; i++ {
		s := pj.Sources[i]
		k := gj.srcs[i].kind
		bad = s.Lazy != (k == kLazy) || s.Filter != (k == kFilter)
	}
	if bad {
		panic(fmt.Sprintf("difftest: join %q parsed as %q, not as generated", text, pj.String()))
	}
	return pj
}
