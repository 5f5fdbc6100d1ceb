// Package partition is the actor of Pequod-Go: a Server of N partitions,
// each one goroutine that alone owns its keys, its engine (joins/engine),
// the subscriptions other partitions hold on its ranges and the copies it
// holds of theirs. Requests arrive through Dispatch (a mailbox per
// partition); other partitions' messages arrive as data (package
// partition/peer) through a Transport, and are handled in one place.
// Which partition owns a key is package partition/route's business.
//
// A request needing source ranges other partitions own is parked until
// their copies arrive, or fails after Config.PeerWait with an error naming
// them; the partition serves others meanwhile. Every request's reply is
// encoded here and delivered through its Replier, possibly out of order
// (replies carry the request's seq, spec/server.md §1.3). docs/ARCHITECTURE.md
// describes the protocol and the rules that keep copies fresh.
package partition
