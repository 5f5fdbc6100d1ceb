// Package scenario is a small, line-oriented scenario language for the join
// engine's conformance suite (spec/joins.md §8), in the spirit of
// cockroachdb/pebble's datadriven tests, and a runner that drives any
// implementation of the minimal, transport-neutral Target interface. The same
// scenario files can therefore run against the in-process engine and, later,
// against a network server.
//
// # Language
//
// One command per line. Blank lines are ignored and `#` starts a comment
// (outside quotes). A line is split into tokens: bare words (any run of
// non-space bytes) or Go-quoted strings ("..." with Go escapes, or `...`).
//
//	join FIRST LAST "TEXT" [staleness=100ms]   install a join on [FIRST,LAST)
//	insert KEY VALUE                           write a key (VALUE may be "")
//	erase KEY                                  erase a key
//	validate FIRST LAST                        validate [FIRST,LAST)
//	validate KEY                               validate [KEY, KEY+"\x00")
//	count FIRST LAST -> N                      non-validating count of [FIRST,LAST)
//	find KEY -> "VALUE"                        non-validating lookup, key present
//	find KEY -> absent                         non-validating lookup, key absent
//	get KEY -> "VALUE"                         validate KEY, then find (absent reads as "")
//	... -> A | B                               count/find/get: either outcome is accepted
//	advance DURATION                           move the injected clock forward
//	expect-error COMMAND...                    COMMAND must fail (join/insert/erase/validate)
//	loop VAR FROM TO  ...  end                 repeat the body for VAR = FROM..TO-1
//
// Inside a loop body every token may use {VAR} (decimal) or {VAR:FMT}, where
// FMT is a Go fmt verb such as %05d, to substitute the loop variable; braces
// that do not name a live loop variable are left alone.
//
// Expectation mismatches are collected (the run continues so that later steps
// are still reported); an unexpected error from a command stops the run.
// Every failure names file:line and the command.
package scenario

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Target is what a scenario drives. It is deliberately minimal and
// transport-neutral: an in-process engine adapter and a network client can both
// implement it.
type Target interface {
	Insert(key, value string) error
	Erase(key string) error
	Validate(first, last string) error
	// CountStored counts the stored keys in [first,last) without validating.
	CountStored(first, last string) (int, error)
	// Find looks a key up without validating.
	Find(key string) (value string, ok bool, err error)
	// AddJoin installs a join on [first,last). A zero staleness means the
	// join's own mode (push, or pull if the text says so); a positive one
	// makes the join non-maintained with that validity window (§3.8).
	AddJoin(first, last, text string, staleness time.Duration) error
	// Advance moves the target's injected clock forward.
	Advance(d time.Duration)
}

// Pos is a position in a scenario file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Command is one parsed scenario line (or a loop with its body).
type Command struct {
	Pos  Pos
	Text string   // the source line, trimmed, without comment
	Name string   // command word: join, insert, ..., loop
	Args []string // arguments before "->" (tokens, still unsubstituted)
	// Expect lists the acceptable outcomes after "->" (alternatives are
	// separated by a bare |). For count the Value is the number; for
	// find/get it is the unquoted value, and Absent marks `absent`.
	Expect    []Expect
	HasExpect bool
	// ExpectError marks an expect-error line; Name/Args describe the inner
	// command.
	ExpectError bool
	// Body is the loop body for Name == "loop".
	Body []*Command
}

// Expect is one acceptable outcome of a count, find or get.
type Expect struct {
	Value  string
	Absent bool
}

func (e Expect) String() string {
	if e.Absent {
		return "absent"
	}
	return strconv.Quote(e.Value)
}

func expectString(es []Expect) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, " | ")
}

// Script is a parsed scenario file.
type Script struct {
	Name     string
	Commands []*Command
}

// token is a lexed word; quoted tokens are never treated as keywords.
type token struct {
	s      string
	quoted bool
}

// ParseFile reads and parses a scenario file.
func ParseFile(path string) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses scenario source. name is used in positions.
func Parse(name string, src []byte) (*Script, error) {
	s := &Script{Name: name}
	type frame struct {
		cmd  *Command
		body *[]*Command
	}
	stack := []frame{{body: &s.Commands}}
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		pos := Pos{name, line}
		toks, text, err := lex(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s: %v", pos, err)
		}
		if len(toks) == 0 {
			continue
		}
		if !toks[0].quoted && toks[0].s == "end" {
			if len(toks) != 1 {
				return nil, fmt.Errorf("%s: %q: end takes no arguments", pos, text)
			}
			if len(stack) == 1 {
				return nil, fmt.Errorf("%s: end without loop", pos)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		c, err := parseCommand(pos, text, toks)
		if err != nil {
			return nil, err
		}
		top := stack[len(stack)-1]
		*top.body = append(*top.body, c)
		if c.Name == "loop" {
			stack = append(stack, frame{cmd: c, body: &c.Body})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(stack) > 1 {
		return nil, fmt.Errorf("%s: loop without end", stack[len(stack)-1].cmd.Pos)
	}
	return s, nil
}

// lex splits a line into tokens and returns the line text without comment.
func lex(line string) ([]token, string, error) {
	var toks []token
	i := 0
	end := len(line)
	for i < len(line) {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '#':
			end = i
			i = len(line)
		case c == '"' || c == '`':
			j, err := quotedEnd(line, i)
			if err != nil {
				return nil, "", err
			}
			s, err := strconv.Unquote(line[i:j])
			if err != nil {
				return nil, "", fmt.Errorf("bad quoted string %s: %v", line[i:j], err)
			}
			toks = append(toks, token{s, true})
			i = j
		default:
			j := i
			for j < len(line) && line[j] != ' ' && line[j] != '\t' && line[j] != '\r' {
				j++
			}
			toks = append(toks, token{line[i:j], false})
			i = j
		}
	}
	return toks, strings.TrimSpace(line[:end]), nil
}

// quotedEnd returns the index just past the quoted string starting at i.
func quotedEnd(line string, i int) (int, error) {
	q := line[i]
	for j := i + 1; j < len(line); j++ {
		switch line[j] {
		case '\\':
			if q == '"' {
				j++
			}
		case q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string starting %s", line[i:])
}

// arity gives the number of arguments (before "->") each command accepts and
// whether it needs an expectation.
var arity = map[string]struct {
	min, max int
	expect   bool
}{
	"join":     {3, 4, false},
	"insert":   {2, 2, false},
	"erase":    {1, 1, false},
	"validate": {1, 2, false},
	"count":    {2, 2, true},
	"find":     {1, 1, true},
	"get":      {1, 1, true},
	"advance":  {1, 1, false},
	"loop":     {3, 3, false},
}

func parseCommand(pos Pos, text string, toks []token) (*Command, error) {
	c := &Command{Pos: pos, Text: text}
	fail := func(format string, a ...any) (*Command, error) {
		return nil, fmt.Errorf("%s: %q: %s", pos, text, fmt.Sprintf(format, a...))
	}
	if toks[0].quoted {
		return fail("command word must be bare")
	}
	if toks[0].s == "expect-error" {
		c.ExpectError = true
		toks = toks[1:]
		if len(toks) == 0 || toks[0].quoted {
			return fail("expect-error needs a command")
		}
		switch toks[0].s {
		case "join", "insert", "erase", "validate":
		default:
			return fail("expect-error applies only to join, insert, erase and validate")
		}
	}
	c.Name = toks[0].s
	a, ok := arity[c.Name]
	if !ok {
		return fail("unknown command %q", c.Name)
	}
	args := toks[1:]
	for i, t := range args {
		if t.quoted || t.s != "->" {
			continue
		}
		alts := args[i+1:]
		args = args[:i]
		c.HasExpect = true
		if len(alts) == 0 {
			return fail("missing expectation after ->")
		}
		for k, e := range alts {
			if k%2 == 1 {
				if e.quoted || e.s != "|" {
					return fail("alternative expectations must be separated by |")
				}
				continue
			}
			var x Expect
			switch {
			case c.Name == "count":
				if e.quoted {
					return fail("count expects a bare number")
				}
				if strings.IndexByte(e.s, '{') < 0 {
					if _, err := strconv.Atoi(e.s); err != nil {
						return fail("count expects a number after ->, got %q", e.s)
					}
				}
				x.Value = e.s
			case c.Name == "find" && !e.quoted && e.s == "absent":
				x.Absent = true
			case e.quoted:
				x.Value = e.s
			default:
				return fail("expected value must be quoted (or `absent` for find)")
			}
			c.Expect = append(c.Expect, x)
		}
		if len(alts)%2 == 0 {
			return fail("dangling | in expectation")
		}
		break
	}
	if c.HasExpect != a.expect {
		if a.expect {
			return fail("%s needs an expectation: -> ...", c.Name)
		}
		return fail("%s takes no expectation", c.Name)
	}
	if len(args) < a.min || len(args) > a.max {
		return fail("%s takes %d..%d arguments, got %d", c.Name, a.min, a.max, len(args))
	}
	for _, t := range args {
		c.Args = append(c.Args, t.s)
	}
	switch c.Name {
	case "join":
		if len(c.Args) == 4 {
			v, ok := strings.CutPrefix(c.Args[3], "staleness=")
			if !ok {
				return fail("join option must be staleness=DURATION")
			}
			if _, err := time.ParseDuration(v); err != nil {
				return fail("bad staleness: %v", err)
			}
		}
	case "advance":
		if _, err := time.ParseDuration(c.Args[0]); err != nil {
			return fail("bad duration: %v", err)
		}
	case "loop":
		if !isIdent(c.Args[0]) {
			return fail("bad loop variable %q", c.Args[0])
		}
		for _, s := range c.Args[1:] {
			if _, err := strconv.Atoi(s); err != nil {
				return fail("loop bounds must be integers")
			}
		}
	}
	return c, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Failure is one failed step of a scenario.
type Failure struct {
	Pos  Pos
	Cmd  string // the command line as written
	Vars string // loop variables in force, e.g. "i=3 j=1" ("" outside loops)
	Msg  string
}

func (f *Failure) Error() string {
	if f.Vars != "" {
		return fmt.Sprintf("%s: [%s] %s: %s", f.Pos, f.Vars, f.Cmd, f.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", f.Pos, f.Cmd, f.Msg)
}

// Failures is the error returned by Run when at least one step failed.
type Failures []*Failure

func (fs Failures) Error() string {
	var b strings.Builder
	for i, f := range fs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(f.Error())
	}
	return b.String()
}

// Options tune a run.
type Options struct {
	// StopOnFirst stops at the first failed expectation instead of
	// continuing.
	StopOnFirst bool
	// Trace, if set, is called before each executed command.
	Trace func(pos Pos, cmd string)
}

// RunFile parses and runs a scenario file against t.
func RunFile(path string, t Target, opts Options) error {
	s, err := ParseFile(path)
	if err != nil {
		return err
	}
	return s.Run(t, opts)
}

// Run executes the script against t. It returns nil, a Failures value, or
// (for errors that are not step failures) another error.
func (s *Script) Run(t Target, opts Options) error {
	r := &runner{t: t, opts: opts}
	err := r.run(s.Commands)
	if len(r.fails) > 0 {
		if err != nil && !errors.Is(err, errStop) {
			r.fails = append(r.fails, &Failure{Msg: err.Error()})
		}
		return r.fails
	}
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

var errStop = errors.New("scenario stopped")

type loopVar struct {
	name string
	val  int
}

type runner struct {
	t     Target
	opts  Options
	vars  []loopVar
	fails Failures
}

func (r *runner) varsString() string {
	var parts []string
	for _, v := range r.vars {
		parts = append(parts, fmt.Sprintf("%s=%d", v.name, v.val))
	}
	return strings.Join(parts, " ")
}

// fail records a failure. hard failures (unexpected command errors) stop the
// run; soft ones (expectation mismatches) stop it only with StopOnFirst.
func (r *runner) fail(c *Command, hard bool, format string, a ...any) error {
	r.fails = append(r.fails, &Failure{Pos: c.Pos, Cmd: c.Text, Vars: r.varsString(), Msg: fmt.Sprintf(format, a...)})
	if hard || r.opts.StopOnFirst {
		return errStop
	}
	return nil
}

// subst replaces {VAR} and {VAR:FMT} for live loop variables.
func (r *runner) subst(s string) string {
	if len(r.vars) == 0 || strings.IndexByte(s, '{') < 0 {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			b.WriteString(s)
			return b.String()
		}
		inner := s[i+1 : i+j]
		name, format, hasFmt := strings.Cut(inner, ":")
		if !hasFmt {
			format = "%d"
		}
		val, ok := r.lookup(name)
		if !ok || !strings.HasPrefix(format, "%") {
			b.WriteString(s[:i+1])
			s = s[i+1:]
			continue
		}
		b.WriteString(s[:i])
		fmt.Fprintf(&b, format, val)
		s = s[i+j+1:]
	}
}

func (r *runner) lookup(name string) (int, bool) {
	for i := len(r.vars) - 1; i >= 0; i-- {
		if r.vars[i].name == name {
			return r.vars[i].val, true
		}
	}
	return 0, false
}

func (r *runner) run(cmds []*Command) error {
	for _, c := range cmds {
		if err := r.exec(c); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) exec(c *Command) error {
	args := make([]string, len(c.Args))
	for i, a := range c.Args {
		args[i] = r.subst(a)
	}
	expect := make([]Expect, len(c.Expect))
	for i, e := range c.Expect {
		expect[i] = Expect{Value: r.subst(e.Value), Absent: e.Absent}
	}
	if r.opts.Trace != nil && c.Name != "loop" {
		r.opts.Trace(c.Pos, c.Text)
	}
	// checkErr handles the outcome of a mutating/validating command.
	checkErr := func(err error) error {
		switch {
		case c.ExpectError && err == nil:
			return r.fail(c, false, "expected an error, got none")
		case c.ExpectError:
			return nil
		case err != nil:
			return r.fail(c, true, "unexpected error: %v", err)
		}
		return nil
	}
	switch c.Name {
	case "loop":
		from, _ := strconv.Atoi(args[1])
		to, _ := strconv.Atoi(args[2])
		r.vars = append(r.vars, loopVar{name: args[0]})
		defer func() { r.vars = r.vars[:len(r.vars)-1] }()
		for v := from; v < to; v++ {
			r.vars[len(r.vars)-1].val = v
			if err := r.run(c.Body); err != nil {
				return err
			}
		}
		return nil
	case "join":
		var st time.Duration
		if len(args) == 4 {
			st, _ = time.ParseDuration(strings.TrimPrefix(args[3], "staleness="))
		}
		return checkErr(r.t.AddJoin(args[0], args[1], args[2], st))
	case "insert":
		return checkErr(r.t.Insert(args[0], args[1]))
	case "erase":
		return checkErr(r.t.Erase(args[0]))
	case "validate":
		first, last := args[0], ""
		if len(args) == 2 {
			last = args[1]
		} else {
			last = first + "\x00"
		}
		return checkErr(r.t.Validate(first, last))
	case "advance":
		d, _ := time.ParseDuration(args[0])
		r.t.Advance(d)
		return nil
	case "count":
		n, err := r.t.CountStored(args[0], args[1])
		if err != nil {
			return r.fail(c, true, "unexpected error: %v", err)
		}
		var wants []string
		for _, e := range expect {
			want, err := strconv.Atoi(e.Value)
			if err != nil {
				return r.fail(c, true, "bad expected count %q", e.Value)
			}
			if n == want {
				return nil
			}
			wants = append(wants, e.Value)
		}
		return r.fail(c, false, "count = %d, want %s", n, strings.Join(wants, " | "))
	case "find":
		v, ok, err := r.t.Find(args[0])
		if err != nil {
			return r.fail(c, true, "unexpected error: %v", err)
		}
		got := Expect{Value: v, Absent: !ok}
		if slices.Contains(expect, got) {
			return nil
		}
		if ok {
			return r.fail(c, false, "value = %q, want %s", v, expectString(expect))
		}
		return r.fail(c, false, "key absent, want %s", expectString(expect))
	case "get":
		if err := r.t.Validate(args[0], args[0]+"\x00"); err != nil {
			return r.fail(c, true, "validate: unexpected error: %v", err)
		}
		v, _, err := r.t.Find(args[0])
		if err != nil {
			return r.fail(c, true, "unexpected error: %v", err)
		}
		if slices.Contains(expect, Expect{Value: v}) {
			return nil
		}
		return r.fail(c, false, "value = %q, want %s", v, expectString(expect))
	}
	return fmt.Errorf("%s: unknown command %q", c.Pos, c.Name)
}

// ParseReader parses scenario source from r.
func ParseReader(name string, r io.Reader) (*Script, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return Parse(name, data)
}
