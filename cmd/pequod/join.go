package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pequod-go/pequod/joins"
)

// runJoin parses a join given on the command line and prints its structure.
func runJoin(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	original := fs.Bool("original-limits", false, "use the original system's limits (5 slots, 4 sources, 12-char patterns)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if text == "" {
		return errors.New("usage: pequod join [-original-limits] 'SINK = SOURCES'")
	}
	lim := joins.DefaultLimits()
	if *original {
		lim = joins.OriginalLimits()
	}
	j, err := joins.ParseWithLimits(text, lim)
	if err != nil {
		return fmt.Errorf("parse: %w", err)
	}
	type src struct {
		Pattern string `json:"pattern"`
		Table   string `json:"table"`
		Lazy    bool   `json:"lazy,omitempty"`
		Filter  bool   `json:"filter,omitempty"`
	}
	out := struct {
		Canonical  string       `json:"canonical"`
		Operator   string       `json:"operator"`
		Maintained bool         `json:"maintained"`
		Sink       string       `json:"sink"`
		Sources    []src        `json:"sources"`
		Slots      []joins.Slot `json:"slots"`
		Completion int          `json:"completion_source"`
	}{Canonical: j.String(), Operator: j.Op.String(), Maintained: j.Maintained, Sink: j.Sink.Text, Slots: j.Slots, Completion: j.CompletionSource}
	for _, s := range j.Sources {
		out.Sources = append(out.Sources, src{s.Text, s.Table, s.Lazy, s.Filter})
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
