// Package redis owns the Redis back ends of the workload generators: the
// twitternew timeline application with client-side fan-out (apps.md §3.2,
// type Twitter, a twitter.Backend) and the Hacker News application
// (apps.md §5.6, type HN, an hn.Backend).
//
// Both talk to one Redis server over one pipelined connection
// (loadgen/redisclient). Requests are issued on the run's goroutine and every
// reply's continuation is delivered through the run's async.Loop, so that
// callbacks run on that goroutine in the order the server answered. Each
// Redis command counts as one outstanding request of the loop, matching the
// original's pacing on outstanding replies (§3.2).
//
// The original routes twitternew keys over several Redis hosts with the
// twitternew partitioner; the Go back end talks to the single address it is
// given (every published Redis experiment used one server). A multi-server
// run would open one Twitter per server and route above this package.
package redis
