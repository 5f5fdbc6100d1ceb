package async

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestCompletionsRunOnCallerInOrder(t *testing.T) {
	l := New()
	var got []int
	for i := 0; i < 100; i++ {
		l.Start()
	}
	go func() {
		for i := 0; i < 100; i++ {
			l.Finish(func() { got = append(got, i) })
		}
	}()
	if err := l.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 {
		t.Fatalf("ran %d completions, want 100", len(got))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("completion %d ran as %d", i, v)
		}
	}
	if l.Outstanding() != 0 || l.Issued() != 100 {
		t.Fatalf("outstanding %d issued %d", l.Outstanding(), l.Issued())
	}
}

func TestDrainWaitsForChainedRequests(t *testing.T) {
	l := New()
	depth := 0
	var issue func()
	issue = func() {
		finish := l.Go()
		go finish(func() {
			depth++
			if depth < 10 {
				issue()
			}
		})
	}
	issue()
	if err := l.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if depth != 10 {
		t.Fatalf("chain stopped at %d", depth)
	}
}

func TestPaceBlocksAtHighWater(t *testing.T) {
	l := New()
	l.PaceHigh, l.PaceLow = 4, 2
	var mu sync.Mutex
	var finishers []func(func())
	for i := 0; i < 4; i++ {
		f := l.Go()
		mu.Lock()
		finishers = append(finishers, f)
		mu.Unlock()
	}
	done := make(chan error, 1)
	go func() { done <- l.Pace(context.Background()) }()
	select {
	case <-done:
		t.Fatal("Pace returned with 4 outstanding and PaceHigh 4")
	case <-time.After(20 * time.Millisecond):
	}
	finishers[0](nil)
	finishers[1](nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := l.Outstanding(); n != 2 {
		t.Fatalf("outstanding %d after Pace, want 2", n)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	l := New()
	l.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := l.Drain(ctx); err == nil {
		t.Fatal("Drain returned nil with a request that never finishes")
	}
}
