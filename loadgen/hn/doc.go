// Package hn is the Hacker News ("newp") workload of Pequod-Go (apps.md §5):
// users post articles, vote on them and comment on them, and reading an
// article returns its page — the article, its vote count, and every comment
// with its commenter's karma (the number of votes on all of the commenter's
// articles, the automatic self-vote included).
//
// The package owns the run's parameters (Params, §5.1), the client-side
// model (which user wrote which article, who voted on what, the karma each
// author should have and the comment id sequence), population and the
// measured run (§5.5), the karma check on reads, the periodic client log
// (§2.16) and the result JSON (§5.5, server.md §5.3). It also owns the
// Pequod back end (Pequod, §5.2–§5.4): key schema, cache joins (karma and
// per-article vote counts as count joins, optionally whole materialized
// pages), client-side karma (pull) and client-maintained karma (push).
// Other back ends implement Backend in their own packages.
//
// Everything runs on one goroutine: Run issues requests to the back end,
// which completes them through the run's async.Loop, so the model needs no
// locks. Counters depend only on the seeded generators (apps.md §6) and the
// model, never on reply order, so a run is deterministic for a parameter
// set whatever the back end or transport.
package hn
