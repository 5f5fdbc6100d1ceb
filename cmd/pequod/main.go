// Command pequod is Pequod-Go's single binary. Subcommands:
//
//	pequod [twitternew] [flags] the Twitter timeline workload (apps.md §2), embedded or against -c HOST:PORT (the default)
//	pequod timeline [flags]   an embedded timeline workload that checks every timeline against a from-scratch computation
//	pequod join [flags] TEXT  parse a join and print its canonical form and structure
//	pequod serve -l=PORT      run a server
//	pequod hn [flags]         the Hacker News workload (apps.md §5)
//	pequod kv [flags]         get/set load against Pequod, Redis or memcached
//	pequod aggregate DIR      merge the output_app_*.json of several client groups (server.md §5.5)
//
// Results are JSON on stdout; progress and logs go to stderr. SIGINT and
// SIGTERM stop a running job cleanly.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

// run dispatches a subcommand and returns the process exit status.
func run(ctx context.Context, args []string) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		// Like the original pqserver, no subcommand runs twitternew
		// (apps.md §1); flags alone are twitternew's.
		args = append([]string{"twitternew"}, args...)
	}
	var err error
	switch args[0] {
	case "timeline":
		err = runTimeline(ctx, args[1:], os.Stdout, os.Stderr)
	case "join":
		err = runJoin(args[1:], os.Stdout)
	case "serve":
		err = runServe(ctx, args[1:], os.Stdout, os.Stderr)
	case "kv":
		err = runKV(ctx, args[1:], os.Stdout, os.Stderr)
	case "twitternew":
		err = runTwitternew(ctx, args[1:], os.Stdout, os.Stderr)
	case "hn":
		err = runHN(ctx, args[1:], os.Stdout, os.Stderr)
	case "aggregate":
		err = runAggregate(args[1:], os.Stdout, os.Stderr)
	case "cluster":
		err = runCluster(ctx, args[1:], os.Stdout, os.Stderr)
	case "help", "-h", "--help":
		fmt.Fprint(os.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "pequod: unknown subcommand %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pequod %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

const usage = `usage: pequod <subcommand> [flags]

subcommands:
  twitternew Twitter timelines (apps.md §2), the default: embedded, or -c HOST:PORT for a server,
             --push [--redis|--memcached] or --dbshim for the baselines
  timeline   embedded timeline workload that checks timelines against a from-scratch computation
  join       parse a join specification and print it as JSON
  serve      run the Pequod server: pequod serve -l=PORT [-partitions N] [-loops N] ...
  kv         get/set load generator: pequod kv -backend pequod|redis|memcached [-addr H:P | -embedded] [-conns 50 -depth 32 ...]
  hn         Hacker News karma and pages (apps.md §5): embedded, -c HOST:PORT, --redis or --pg
  aggregate  pequod aggregate DIR: merge several client groups' output_app_*.json (server.md §5.5)
`
