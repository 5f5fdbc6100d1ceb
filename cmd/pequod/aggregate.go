package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/pequod-go/pequod/loadgen/aggregate"
)

// runAggregate implements `pequod aggregate DIR`: it merges the client
// outputs DIR/output_app_*.json of a multi-client run into
// DIR/aggregate_output_app.json (loadgen/aggregate), prints that file's
// path on stderr and its JSON on stdout.
func runAggregate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("aggregate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: pequod aggregate DIR\n\n"+
			"Merge the client outputs DIR/output_app_*.json of a multi-client twitternew or hn run into\n"+
			"DIR/aggregate_output_app.json: logs listed, counters summed, times averaged, server_logs and\n"+
			"server_stats from group 0. Prints the path on stderr and the JSON on stdout.\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("want one directory argument, got %d", fs.NArg())
	}
	path, err := aggregate.Aggregate(fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintln(stderr, path)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading back the aggregate: %w", err)
	}
	if _, err := stdout.Write(data); err != nil {
		return fmt.Errorf("writing the aggregate to stdout: %w", err)
	}
	return nil
}
