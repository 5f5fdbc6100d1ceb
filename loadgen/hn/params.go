package hn

import (
	"errors"
	"fmt"
)

// Seeds of the HN generators (apps.md §6): population uses PopulateSeed,
// the run PopulateSeed + groupid.
const PopulateSeed = 13918

// Limits of the key schema: ids are 7-digit decimal fields (§5.2).
const (
	// MaxID is one past the largest user, article or comment id a key can
	// hold.
	MaxID = 10_000_000
)

// Large data set sizes (`--large`, §5.1 and §7.2 item 11).
const (
	LargeArticles = 100_000
	LargeUsers    = 50_000
)

// Params are the parameters of an hn run (apps.md §5.1). The zero value is
// not useful; start from DefaultParams.
type Params struct {
	// HNUsers is the number of users (hnusers; --nusers is not read by HN).
	HNUsers int `json:"hnusers"`
	// NArticles is the number of articles created during population.
	NArticles int `json:"narticles"`
	// NOps is the number of iterations of the run.
	NOps int `json:"nops"`
	// VoteRate, CommentRate and PostRate are percent thresholds against a
	// uniform draw p in [0,100): an iteration posts if p < PostRate, else
	// reads, and then also votes if p < VoteRate and comments if
	// p < CommentRate (§5.5).
	VoteRate    int `json:"vote_rate"`
	CommentRate int `json:"comment_rate"`
	PostRate    int `json:"post_rate"`
	// Large selects the large data set: Normalize sets NArticles and
	// HNUsers to LargeArticles and LargeUsers.
	Large bool `json:"large"`
	// Pull disables server-side materialization: no joins, the client
	// computes karma on reads.
	Pull bool `json:"pull"`
	// Push makes the client maintain karma itself (k| written by the
	// client); it forces Pull.
	Push bool `json:"push"`
	// SuperMaterialize materializes whole article pages (ma|); it needs
	// karma materialization (not Pull) — §5.3 rejects ma without mk.
	SuperMaterialize bool `json:"super_materialize"`
	// Log prints the population's karma table and one line per operation
	// to the progress writer.
	Log bool `json:"log"`
	// Verbose prints the run's progress in 10% steps.
	Verbose bool `json:"verbose"`
	// GroupID seeds the run generator (PopulateSeed + GroupID). Population
	// is single-group only: it requires GroupID 0.
	GroupID int `json:"groupid"`
	// PopulateOnly populates and stops; RunOnly skips population and runs
	// against data already loaded (with the karma check off, §5.4).
	PopulateOnly bool `json:"populate_only"`
	RunOnly      bool `json:"run_only"`
}

// DefaultParams are the defaults of this implementation. The original's
// (10 users, 100 articles, 10 operations) do no measurable work; these make
// an embedded run (population and run) take a few seconds. Rates keep the
// original's defaults.
func DefaultParams() Params {
	return Params{
		HNUsers:     1000,
		NArticles:   2000,
		NOps:        20000,
		VoteRate:    1,
		CommentRate: 1,
	}
}

// MK reports whether the karma table is materialized by joins (not Pull).
func (p Params) MK() bool { return !p.Pull }

// MA reports whether whole article pages are materialized.
func (p Params) MA() bool { return p.SuperMaterialize }

// Check reports whether reads check karma against the model: only when
// this process populated the data (§5.4 `check` = not run_only).
func (p Params) Check() bool { return !p.RunOnly }

// Normalize applies the derived settings (Large sets the data set size,
// Push forces Pull) and validates the result.
func (p Params) Normalize() (Params, error) {
	if p.Large {
		p.NArticles, p.HNUsers = LargeArticles, LargeUsers
	}
	if p.Push {
		p.Pull = true
	}
	switch {
	case p.HNUsers <= 0 || p.HNUsers > MaxID:
		return p, fmt.Errorf("hn: hnusers %d out of range [1, %d]", p.HNUsers, MaxID)
	case p.NArticles <= 0 || p.NArticles > MaxID:
		return p, fmt.Errorf("hn: narticles %d out of range [1, %d]", p.NArticles, MaxID)
	case p.NOps < 0:
		return p, fmt.Errorf("hn: nops %d is negative", p.NOps)
	case p.VoteRate < 0 || p.CommentRate < 0 || p.PostRate < 0:
		return p, errors.New("hn: vote_rate, comment_rate and post_rate must not be negative")
	case p.GroupID < 0:
		return p, fmt.Errorf("hn: groupid %d is negative", p.GroupID)
	case p.PopulateOnly && p.RunOnly:
		return p, errors.New("hn: populate_only and run_only exclude each other")
	case p.MA() && !p.MK():
		// §5.3: the inline-count variant of the page karma gave wrong
		// counts in the original, so ma without mk is rejected.
		return p, errors.New("hn: super_materialize needs materialized karma (not with pull or push)")
	case !p.RunOnly && p.GroupID != 0:
		return p, fmt.Errorf("hn: population is single-group only (groupid %d); use run_only for other groups", p.GroupID)
	}
	return p, nil
}
