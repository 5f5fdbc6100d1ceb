package hn

import (
	"context"
	"encoding/json"
)

// Comment is one comment of an article page with its commenter's karma as
// the back end reports it (-1 when the back end returned none).
type Comment struct {
	ID, Commenter uint32
	Karma         int64
}

// Page is what reading an article returns (apps.md §5.4).
type Page struct {
	Author   uint32
	Votes    int64 // the article's vote count (-1 when the back end has none)
	Comments []Comment
}

// Backend is the store an hn run talks to (apps.md §5): Pequod with karma
// joins (and optionally materialized pages), Pequod with client-maintained
// karma (push), Redis, or PostgreSQL.
//
// Every asynchronous method is called on the run's goroutine, must not
// block, and calls done exactly once, also on that goroutine (through the
// run's async.Loop). The synchronous methods run the loop while they wait.
type Backend interface {
	// Name is the back end's name in results ("pequod", "redis", ...).
	Name() string
	// Initialize installs joins or prepares the schema (§5.3, §5.7).
	Initialize(ctx context.Context) error
	// PostArticle stores article aid by author with its self-vote; karma is
	// the author's model karma after the self-vote, for back ends where the
	// client maintains karma (push).
	PostArticle(author, aid uint32, karma int64, done func(error))
	// Vote stores voter's vote on aid (written by author); karma is the
	// author's model karma after the vote.
	Vote(voter, aid, author uint32, karma int64, done func(error))
	// PostComment stores comment cid by commenter on aid (written by
	// author).
	PostComment(commenter, aid, author, cid uint32, done func(error))
	// ReadArticle reads aid's page (written by author).
	ReadArticle(aid, author uint32, done func(Page, error))
	// PostPopulate runs after population (Pequod: one scan of k| so that
	// karma is computed before the run, §5.4).
	PostPopulate(ctx context.Context) error
	// Stats and Control as in twitter.Backend: one element per server, or
	// nil.
	Stats(ctx context.Context) ([]json.RawMessage, error)
	Control(ctx context.Context, obj map[string]any) ([]json.RawMessage, error)
	// Close releases the back end's connections.
	Close() error
}
