package twitter

import (
	"errors"
	"fmt"
	"math"
)

// Constants of the application (spec/apps.md §2.2).
const (
	// BaseTime is the initial virtual time.
	BaseTime uint32 = 1_000_000_000
	// EndTime bounds a prevalidation scan.
	EndTime uint32 = 2_147_483_647
	// LoginWindow is how far back a first-after-login check and a push-mode
	// backfill reach.
	LoginWindow uint32 = 1_000_000
	// Skew: a check reads only up to now − Skew.
	Skew uint32 = 100_000
	// Overlap is subtracted from the previous read point of an incremental
	// check.
	Overlap uint32 = 0
	// TweetLength is the length of every tweet value.
	TweetLength = 5
	// ProgReportPeriod is the progress-report interval in ticks.
	ProgReportPeriod = 1000
	// RateLimitPeriod: while rate limited, sleep every this many ticks.
	RateLimitPeriod = 10
	// RateLimitThresh: a group is rate limited when at least this many ticks
	// ahead of the slowest group.
	RateLimitThresh = 10_000
)

// Seeds of the generators (spec/apps.md §6); each is offset by the group id.
const (
	PopulateSeed = 112181
	ActiveSeed   = 13918
	RunSeed      = 13
)

// Tweet is the value of every post and timeline entry: the first
// TweetLength bytes of a constant string of dots.
var tweet = []byte(".....")

// Params are the twitternew parameters (spec/apps.md §2.1). The zero value
// is not useful; start from DefaultParams. Field comments give the param key.
type Params struct {
	NUsers  int // nusers: users of a synthetic graph (a graph file overrides it)
	NGroups int // ngroups: cooperating client processes
	GroupID int // groupid: this process's group, in [0, NGroups)

	Duration    int // duration: run length in ticks (divided by NGroups)
	PopDuration int // popduration: posts generated during population
	PostLimit   int // postlimit: stop after this many posts (divided by NGroups); 0 = off
	CheckLimit  int // checklimit: stop after this many checks (divided by NGroups); 0 = off
	PostRate    int // postrate: open-loop posts/second (divided by NGroups); 0 = closed loop
	Timeout     int // timeout: open-loop run limit in seconds; non-zero iff PostRate is
	Synchronous int // synchronous: drain every this many ops; 0 = fully pipelined

	Initialize bool // initialize: install joins / prepare statements
	Populate   bool // populate: load subscriptions and popduration posts
	Execute    bool // execute: run the measured workload

	Push      bool // push: client-side fan-out on write
	Pull      bool // pull: the timeline join is a pull join
	Fetch     bool // fetch: checks scan instead of count
	Subtables bool // subtables: subtable markers in the join slots
	Eager     bool // eager: the subscription source is eager

	Prevalidate          bool // prevalidate: materialize active timelines before the run
	PrevalidateInactive  bool // prevalidate_inactive: also inactive users' timelines
	PrevalidateBeforeSub bool // prevalidate_before_sub: prevalidate before subscriptions are loaded

	Writearound    bool // writearound: base-data writes go to the database (not supported by Pequod-Go)
	RandCache      bool // rand_cache: checks to a random caching server (no effect with one server)
	ProgressReport bool // progress_report: cross-group rate limiting (ngroups > 1)
	Log            bool // log: print every operation to the progress writer
	LogRTT         bool // log_rtt: record per-operation latencies (§2.14)
	Binary         bool // binary: BE32 keys instead of decimal text keys
	Verbose        bool // verbose: progress messages

	OutPath    string // outpath: directory of the RTT log ("" = current directory)
	PrintTable string // print_table: at the end, servers print this table's keys
	MasterHost string // master_host: group-0 rendezvous host
	MasterPort int    // master_port: group-0 rendezvous port

	Celebrity int     // celebrity: users with more followers are celebrities; 0 = off
	PActive   float64 // pactive: percent of this group's users that are active
	Graph     string  // graph: social-graph file to import

	MinFollowers     int     // min_followers: graph generator parameter
	MinSubscriptions int     // min_subscriptions: graph generator parameter
	MaxSubscriptions int     // max_subscriptions: graph generator parameter
	Shape            float64 // shape: graph skew exponent

	PPost      float64 // ppost: op weight of a post
	PSubscribe float64 // psubscribe: op weight of a subscribe
	PLogout    float64 // plogout: op weight of a logout
	PRead      float64 // pread: op weight of a timeline check
}

// DefaultParams returns the defaults of spec/apps.md §2.1 as the command
// line supplies them: nusers 5000 and shape 8 (the constructor's own shape
// default, 55, is never used by pqserver).
func DefaultParams() Params {
	return Params{
		NUsers: 5000, NGroups: 1, GroupID: 0,
		Duration:   100000,
		Initialize: true, Populate: true, Execute: true,
		Subtables: true, Prevalidate: true, ProgressReport: true, Binary: true,
		MasterHost: "localhost", MasterPort: 13333,
		PActive:      70,
		MinFollowers: 10, MinSubscriptions: 20, MaxSubscriptions: 200,
		Shape: 8,
		PPost: 1, PSubscribe: 10, PLogout: 5, PRead: 60,
	}
}

// Normalize validates p and applies the derived adjustments of
// spec/apps.md §2.1, returning the parameters a run actually uses. Where the
// original exits fatally, Normalize returns an error. Normalizing twice is
// not idempotent (the per-group divisions would apply again): Run expects
// raw parameters and normalizes them itself.
func (p Params) Normalize() (Params, error) {
	if p.NGroups < 1 {
		return p, fmt.Errorf("twitternew: ngroups must be at least 1, got %d", p.NGroups)
	}
	if p.GroupID < 0 || p.GroupID >= p.NGroups {
		return p, fmt.Errorf("twitternew: groupid %d outside [0, %d)", p.GroupID, p.NGroups)
	}
	if p.Graph == "" && p.NUsers < 2 {
		return p, fmt.Errorf("twitternew: nusers must be at least 2, got %d", p.NUsers)
	}
	for _, v := range []struct {
		name string
		v    int
	}{{"duration", p.Duration}, {"popduration", p.PopDuration}, {"postlimit", p.PostLimit},
		{"checklimit", p.CheckLimit}, {"postrate", p.PostRate}, {"timeout", p.Timeout},
		{"synchronous", p.Synchronous}, {"celebrity", p.Celebrity}, {"min_followers", p.MinFollowers},
		{"min_subscriptions", p.MinSubscriptions}, {"max_subscriptions", p.MaxSubscriptions}} {
		if v.v < 0 {
			return p, fmt.Errorf("twitternew: %s must not be negative, got %d", v.name, v.v)
		}
	}
	if int64(p.PopDuration) > int64(EndTime-BaseTime) {
		return p, fmt.Errorf("twitternew: popduration %d overflows the virtual clock", p.PopDuration)
	}
	if p.MasterPort < 0 || p.MasterPort > 65535 {
		return p, fmt.Errorf("twitternew: bad master_port %d", p.MasterPort)
	}
	if p.MinSubscriptions > p.MaxSubscriptions {
		return p, fmt.Errorf("twitternew: min_subscriptions %d exceeds max_subscriptions %d", p.MinSubscriptions, p.MaxSubscriptions)
	}
	if p.Graph == "" && p.MaxSubscriptions > p.NUsers-1 {
		return p, fmt.Errorf("twitternew: max_subscriptions %d needs at least %d users, have %d", p.MaxSubscriptions, p.MaxSubscriptions+1, p.NUsers)
	}
	if p.Graph == "" {
		if err := checkShapeFeasible(p.NUsers, (p.MinSubscriptions+p.MaxSubscriptions)/2, p.MinFollowers); err != nil {
			return p, err
		}
	}
	if !(p.Shape > 0) || math.IsInf(p.Shape, 0) {
		return p, fmt.Errorf("twitternew: shape must be positive, got %v", p.Shape)
	}
	if math.IsNaN(p.PActive) || p.PActive < 0 || p.PActive > 100 {
		return p, fmt.Errorf("twitternew: pactive must be in [0, 100], got %v", p.PActive)
	}
	w := []float64{p.PPost, p.PSubscribe, p.PLogout, p.PRead}
	sum := 0.0
	for _, x := range w {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return p, fmt.Errorf("twitternew: op weights must be finite and non-negative, got %v", w)
		}
		sum += x
	}
	if sum == 0 {
		return p, errors.New("twitternew: op weights (ppost, psubscribe, plogout, pread) are all zero")
	}

	q := p
	q.Duration /= q.NGroups
	q.PostLimit /= q.NGroups
	q.CheckLimit /= q.NGroups
	q.PostRate /= q.NGroups
	if (q.Timeout != 0) != (q.PostRate != 0) {
		return p, fmt.Errorf("twitternew: timeout (%d) must be non-zero iff postrate/ngroups (%d) is", q.Timeout, q.PostRate)
	}
	if q.Push && q.Pull {
		return p, errors.New("twitternew: push and pull exclude each other")
	}
	if q.Push || q.Pull {
		q.Prevalidate = false
		q.PrevalidateInactive = false
	}
	if q.PrevalidateBeforeSub && !q.Prevalidate && !q.PrevalidateInactive {
		return p, errors.New("twitternew: prevalidate_before_sub needs prevalidate or prevalidate_inactive (push and pull turn both off)")
	}
	if q.PostRate != 0 {
		q.Duration = 0
		if q.Synchronous == 0 {
			q.Synchronous = 1
		}
	}
	return q, nil
}

// CelebrityMode reports whether celebrity joins and cp| posts are used
// ("pull_celeb", §2.1).
func (p Params) CelebrityMode() bool { return p.Celebrity != 0 }

// opWeights are the op distribution's weights in index order (§2.1).
func (p Params) opWeights() []float64 {
	return []float64{p.PPost, p.PSubscribe, p.PLogout, p.PRead}
}

// Op indexes of the op distribution.
const (
	opPost = iota
	opSubscribe
	opLogout
	opCheck
)
