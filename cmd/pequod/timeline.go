package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"time"

	"github.com/pequod-go/pequod/joins/engine"
)

// timelineJoin is the timeline cache join of the README.
const timelineJoin = "t|<user:8>|<time:10>|<poster:8> = copy p|<poster>|<time> using s|<user>|<poster>"

// timelineResult is the JSON the timeline job prints.
type timelineResult struct {
	Users             int             `json:"users"`
	Subscriptions     int             `json:"subscriptions"`
	InitialPosts      int             `json:"initial_posts"`
	NewPosts          int             `json:"new_posts"`
	TimelineEntries   int             `json:"timeline_entries"`
	ValidateSeconds   float64         `json:"validate_all_seconds"`
	ValidateUsPerUser float64         `json:"validate_us_per_timeline"`
	PostSeconds       float64         `json:"post_seconds"`
	PostUsPerPost     float64         `json:"post_us_per_post"`
	CheckedTimelines  int             `json:"checked_timelines"`
	Fresh             bool            `json:"fresh"`
	Stats             json.RawMessage `json:"server_stats"`
}

// runTimeline loads a synthetic social graph into an embedded engine with
// the timeline join, validates every timeline, posts new tweets (each one
// maintained into its followers' timelines), then checks sampled timelines
// against a from-scratch computation.
func runTimeline(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("timeline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	users := fs.Int("users", 5000, "number of users")
	subs := fs.Int("subs", 13, "subscriptions per user (posters chosen uniformly)")
	posts := fs.Int("posts", 10, "initial posts per user")
	newPosts := fs.Int("new-posts", 50000, "posts made after every timeline was validated")
	check := fs.Int("check", 200, "timelines verified against a from-scratch computation at the end")
	seed := fs.Int64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *users <= 0 || *subs < 0 || *posts < 0 || *newPosts < 0 || *check < 0 {
		return fmt.Errorf("flags must be non-negative and -users positive")
	}
	rng := rand.New(rand.NewSource(*seed))
	e := engine.New(engine.Options{})
	if _, err := e.AddJoinText("t|", "t}", timelineJoin); err != nil {
		return fmt.Errorf("install timeline join: %w", err)
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "timeline: "+format+"\n", a...) }
	userKey := func(u int) string { return fmt.Sprintf("%08d", u) }

	progress("loading %d users × %d subscriptions, %d posts each", *users, *subs, *posts)
	res := timelineResult{Users: *users}
	for u := 0; u < *users; u++ {
		for k := 0; k < *subs; k++ {
			if err := e.Insert("s|"+userKey(u)+"|"+userKey(rng.Intn(*users)), "1"); err != nil {
				return err
			}
		}
	}
	res.Subscriptions = e.CountStored("s|", "s}")
	now := 0
	post := func(u int) error {
		now++
		return e.Insert(fmt.Sprintf("p|%s|%010d", userKey(u), now), fmt.Sprintf("tweet %d by %d", now, u))
	}
	for i := 0; i < *posts; i++ {
		for u := 0; u < *users; u++ {
			if err := post(u); err != nil {
				return err
			}
		}
	}
	res.InitialPosts = now

	progress("validating %d timelines", *users)
	start := time.Now()
	for u := 0; u < *users; u++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n, err := e.Count("t|"+userKey(u)+"|", "t|"+userKey(u)+"}", "")
		if err != nil {
			return err
		}
		res.TimelineEntries += n
	}
	res.ValidateSeconds = time.Since(start).Seconds()
	res.ValidateUsPerUser = res.ValidateSeconds * 1e6 / float64(*users)

	progress("posting %d new tweets", *newPosts)
	start = time.Now()
	for i := 0; i < *newPosts; i++ {
		if i%10000 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		if err := post(rng.Intn(*users)); err != nil {
			return err
		}
	}
	res.NewPosts = *newPosts
	res.PostSeconds = time.Since(start).Seconds()
	if *newPosts > 0 {
		res.PostUsPerPost = res.PostSeconds * 1e6 / float64(*newPosts)
	}

	progress("checking %d timelines against a from-scratch computation", *check)
	res.Fresh = true
	for i := 0; i < *check && i < *users; i++ {
		u := userKey(rng.Intn(*users))
		want := 0
		e.ScanStored("s|"+u+"|", "s|"+u+"}", func(k, _ string) bool {
			want += e.CountStored("p|"+k[11:]+"|", "p|"+k[11:]+"}")
			return true
		})
		got, err := e.Count("t|"+u+"|", "t|"+u+"}", "")
		if err != nil {
			return err
		}
		if got != want {
			res.Fresh = false
			progress("user %s: timeline has %d entries, from scratch %d", u, got, want)
		}
		res.CheckedTimelines++
	}
	stats, err := json.Marshal(e.Stats())
	if err != nil {
		return err
	}
	res.Stats = stats
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "    ")
	if err := enc.Encode(res); err != nil {
		return err
	}
	if !res.Fresh {
		return fmt.Errorf("stale timelines found")
	}
	return nil
}
