// Package twitter is the twitternew workload (spec/apps.md §2): a Twitter-like
// timeline application that builds a social graph, loads subscriptions and
// posts into a store, and then runs a measured mix of posts, subscribes,
// logouts and timeline checks on a virtual clock, printing the §2.15 result
// JSON.
//
// The application logic (graph, distributions, phases, op loop, barriers,
// logs) is back-end independent and talks to a store through Backend. The
// Pequod back end (NewPequod) maintains timelines with a cache join (lazy,
// pull, eager, celebrity modes) or lets the client fan posts out (push mode,
// §3.1); loadgen/shim/redis, loadgen/shim/memcached and
// loadgen/shim/postgres implement the baselines against the same interface.
//
// A run is driven from one goroutine through an async.Loop: requests are
// pipelined, their completions run back on the run's goroutine, so the
// application state needs no locks. Every random draw comes from MT19937
// generators with the §6 seeds (populate 112181+groupid, active selection
// 13918+groupid, run 13+groupid), so the same parameters give the same
// operation stream and, with one group, the same counters every run.
//
// One deliberate addition to the original: before a timeline check over
// times before T, the run waits until every post it issued with a time
// before T has completed (fan-out included). The posts are at least SKEW
// ticks old, so the wait is rare; it makes nposts_read a function of the op
// stream instead of request interleaving (§6), so embedded and network runs
// agree and back ends can be compared post for post. Push-mode backfills
// are not waited for: a check that overtakes one reads a stale timeline,
// which is what client-managed timelines do.
//
// Typical use:
//
//	p := twitter.DefaultParams()
//	p.NUsers = 300
//	be, _ := twitter.NewPequod(conn, p, twitter.PequodConfig{InProcess: true})
//	res, err := twitter.Run(ctx, p, be, loop, os.Stderr)
//	out, _ := json.MarshalIndent(res, "", "    ")
package twitter
