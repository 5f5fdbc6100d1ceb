package wire

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBarrierGroups(t *testing.T) {
	checkGoroutines(t)
	const ngroups, rounds = 4, 5
	m, err := ListenBarrier("127.0.0.1:0", ngroups)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var arrived [rounds]atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, ngroups*rounds)
	party := func(id int, wait func(context.Context) error) {
		defer wg.Done()
		for b := 0; b < rounds; b++ {
			// Stagger arrivals so that every party is sometimes last.
			time.Sleep(time.Duration((id+b)%ngroups) * 5 * time.Millisecond)
			arrived[b].Add(1)
			if err := wait(ctx); err != nil {
				errs <- err
				return
			}
			if n := arrived[b].Load(); n != ngroups {
				errs <- errors.New("released before everyone arrived")
				return
			}
		}
	}
	members := make([]*BarrierMember, ngroups-1)
	for i := range members {
		mb, err := DialBarrier(ctx, m.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer mb.Close()
		members[i] = mb
	}
	wg.Add(ngroups)
	go party(0, m.Wait)
	for i, mb := range members {
		go party(i+1, mb.Wait)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if m.Counter() != rounds {
		t.Fatalf("master counter %d", m.Counter())
	}
	for _, mb := range members {
		if mb.Counter() != rounds {
			t.Fatalf("member counter %d", mb.Counter())
		}
	}
}

// The bytes on the wire: [77, b] and [-77, b].
func TestBarrierWireBytes(t *testing.T) {
	checkGoroutines(t)
	m, err := ListenBarrier("127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	conn, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	done := make(chan error, 1)
	go func() { done <- m.Wait(context.Background()) }()
	for b := byte(0); b < 2; b++ {
		if _, err := conn.Write([]byte{0x92, 0x4d, b}); err != nil {
			t.Fatal(err)
		}
		reply := make([]byte, 4)
		if _, err := io.ReadFull(conn, reply); err != nil {
			t.Fatal(err)
		}
		if want := []byte{0x92, 0xd0, 0xb3, b}; !bytes.Equal(reply, want) {
			t.Fatalf("reply % x, want % x", reply, want)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if b == 0 {
			go func() { done <- m.Wait(context.Background()) }()
		}
	}
	// A member that arrives before the master is held until it arrives.
	conn.Write([]byte{0x92, 0x4d, 0x02})
	conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := conn.Read(make([]byte, 4)); err == nil {
		t.Fatal("member released before the master arrived")
	}
	conn.SetReadDeadline(time.Time{})
	if err := m.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 4)
	if _, err := io.ReadFull(conn, reply); err != nil || !bytes.Equal(reply, []byte{0x92, 0xd0, 0xb3, 2}) {
		t.Fatalf("reply % x %v", reply, err)
	}
	// Member side bytes, against a raw fake master.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 3)
		io.ReadFull(c, buf)
		got <- buf
		c.Write([]byte{0x92, 0xd0, 0xb3, 0x00})
		io.ReadAll(c)
	}()
	mb, err := DialBarrier(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if err := mb.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, []byte{0x92, 0x4d, 0x00}) {
		t.Fatalf("member sent % x", b)
	}
	mb.Close()
}

func TestBarrierErrors(t *testing.T) {
	checkGoroutines(t)
	// One group: no waiting at all.
	m1, err := ListenBarrier("127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := m1.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if m1.Counter() != 3 {
		t.Fatal(m1.Counter())
	}
	m1.Close()
	if err := m1.Wait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after Close: %v", err)
	}

	// A wrong barrier number is fatal.
	m, err := ListenBarrier("127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	conn, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte{0x92, 0x4d, 0x05})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.Wait(ctx); !errors.Is(err, ErrBarrier) {
		t.Fatalf("wrong barrier number: %v", err)
	}

	// Malformed message.
	m2, err := ListenBarrier("127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	conn2, err := net.Dial("tcp", m2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	conn2.Write([]byte{0x92, 0x01, 0x00})
	if err := m2.Wait(ctx); !errors.Is(err, ErrBarrier) {
		t.Fatalf("malformed: %v", err)
	}

	// Master Wait honours its context and withdraws.
	m3, err := ListenBarrier("127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer m3.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer scancel()
	if err := m3.Wait(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("master deadline: %v", err)
	}
	// Member dialing retries until the master appears, and gives up with
	// its context.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dctx, dcancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer dcancel()
	start := time.Now()
	if _, err := DialBarrier(dctx, addr); err == nil || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("DialBarrier to nobody: %v after %v", err, time.Since(start))
	}
	// Member Wait honours its context.
	mb, err := DialBarrier(context.Background(), m3.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	wctx, wcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer wcancel()
	if err := mb.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("member deadline: %v", err)
	}
}
