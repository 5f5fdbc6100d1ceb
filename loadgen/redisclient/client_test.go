package redisclient

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is a RESP server for tests. It reads commands (arrays of bulk
// strings) and, for each batch it has read, answers with handle's replies;
// the replies of a batch go out in one write, so the client sees pipelined
// replies arriving together and split across reads.
type fakeServer struct {
	ln     net.Listener
	handle func(args [][]byte) string // raw RESP reply ("" = close the connection)
	// closeAfter closes the connection after the first reply.
	closeAfter bool
	mu         sync.Mutex
	got        [][]string
	wg         sync.WaitGroup
}

func newFakeServer(t *testing.T, handle func(args [][]byte) string, closeAfter ...bool) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{ln: ln, handle: handle, closeAfter: len(closeAfter) > 0 && closeAfter[0]}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *fakeServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	var out []byte
	for {
		rep, _, err := readReply(r, nil, 0)
		if err != nil {
			return
		}
		args := make([][]byte, len(rep.Array))
		strs := make([]string, len(rep.Array))
		for i, a := range rep.Array {
			args[i] = a.Str
			strs[i] = string(a.Str)
		}
		s.mu.Lock()
		s.got = append(s.got, strs)
		s.mu.Unlock()
		reply := s.handle(args)
		if reply == "" {
			c.Write(out)
			return
		}
		out = append(out, reply...)
		if s.closeAfter {
			c.Write(out)
			return
		}
		if r.Buffered() == 0 { // end of what the client sent so far
			if _, err := c.Write(out); err != nil {
				return
			}
			out = out[:0]
		}
	}
}

func bulk(b []byte) string { return fmt.Sprintf("$%d\r\n%s\r\n", len(b), b) }

// binaryValue has CR, LF, NUL, '$' and high bytes: a bulk string must be
// read by its length, never by line.
func binaryValue(key string) []byte {
	v := []byte("\r\n$-1\r\n\x00\xff*2\r\n")
	return append(v, key...)
}

func kvHandler() (func(args [][]byte) string, *sync.Map) {
	store := &sync.Map{}
	return func(args [][]byte) string {
		switch strings.ToUpper(string(args[0])) {
		case "PING":
			return "+PONG\r\n"
		case "SET":
			store.Store(string(args[1]), append([]byte(nil), args[2]...))
			return "+OK\r\n"
		case "GET":
			v, ok := store.Load(string(args[1]))
			if !ok {
				return "$-1\r\n"
			}
			return bulk(v.([]byte))
		case "INCR":
			return ":-42\r\n"
		case "ARR":
			return "*4\r\n$3\r\nfoo\r\n$-1\r\n:7\r\n*1\r\n+in\r\n"
		case "NILARR":
			return "*-1\r\n"
		case "EMPTY":
			return "$0\r\n\r\n"
		case "QUIT":
			return ""
		}
		return "-ERR unknown command '" + string(args[0]) + "'\r\n"
	}, store
}

func TestPipelinedReplies(t *testing.T) {
	h, _ := kvHandler()
	s := newFakeServer(t, h)
	c, err := Dial(context.Background(), s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Pipeline many sets and gets (with errors and binary values mixed in)
	// without waiting; replies must complete the calls in order.
	const n = 2000
	done := make(chan *Call, 3*n)
	var calls []*Call
	for i := range n {
		key := []byte(fmt.Sprintf("k%d", i))
		calls = append(calls, c.Set(key, binaryValue(string(key)), done))
		calls = append(calls, c.Get(key, done))
		if i%100 == 0 {
			calls = append(calls, c.Go(done, []byte("BOGUS"), key))
		}
	}
	for range calls {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("timeout waiting for replies")
		}
	}
	i := 0
	for k := range n {
		key := fmt.Sprintf("k%d", k)
		if b, err := calls[i].Bytes(); err != nil || string(b) != "OK" {
			t.Fatalf("SET %s: %q, %v", key, b, err)
		}
		if b, err := calls[i+1].Bytes(); err != nil || !bytes.Equal(b, binaryValue(key)) {
			t.Fatalf("GET %s: %q, %v", key, b, err)
		}
		i += 2
		if k%100 == 0 {
			var re *RedisError
			if err := calls[i].Check(); !errors.As(err, &re) || !strings.Contains(re.Message, "unknown command 'BOGUS'") {
				t.Fatalf("error reply: %v", err)
			}
			i++
		}
	}
	if c.Outstanding() != 0 {
		t.Errorf("outstanding %d", c.Outstanding())
	}
	for _, call := range calls {
		call.Release()
	}
}

func TestReplyKinds(t *testing.T) {
	h, _ := kvHandler()
	s := newFakeServer(t, h)
	c, err := Dial(context.Background(), s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()

	if r, err := c.Do(ctx, "INCR", "x"); err != nil || r.Kind != KindInt || r.Int != -42 {
		t.Errorf("INCR: %v %v", r, err)
	}
	if r, err := c.Do(ctx, "ARR"); err != nil || r.String() != `["foo" (nil) 7 ["in"]]` {
		t.Errorf("ARR: %v %v", r, err)
	}
	if r, err := c.Do(ctx, "NILARR"); err != nil || !r.Nil || r.Kind != KindArray {
		t.Errorf("NILARR: %+v %v", r, err)
	}
	if r, err := c.Do(ctx, "EMPTY"); err != nil || r.Nil || len(r.Str) != 0 || r.Kind != KindBulk {
		t.Errorf("EMPTY: %+v %v", r, err)
	}
	call := c.Get([]byte("missing"), nil)
	<-call.Done
	if _, err := call.Bytes(); !errors.Is(err, ErrNil) {
		t.Errorf("GET missing: %v", err)
	}
	if _, err := c.Do(ctx, "NOPE"); err == nil || !strings.Contains(err.Error(), "redis: ERR unknown command 'NOPE'") {
		t.Errorf("error reply: %v", err)
	}
	// The connection is still usable after an error reply.
	if r, err := c.Do(ctx, "PING"); err != nil || string(r.Str) != "PONG" {
		t.Errorf("PING after error: %v %v", r, err)
	}
	// What went over the wire.
	s.mu.Lock()
	defer s.mu.Unlock()
	if got := fmt.Sprint(s.got[0]); got != "[INCR x]" {
		t.Errorf("server saw %s", got)
	}
}

func TestAppendCommand(t *testing.T) {
	got := string(AppendCommand(nil, []byte("SET"), []byte("k"), []byte("a\r\nb")))
	if want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n"; got != want {
		t.Errorf("AppendCommand = %q, want %q", got, want)
	}
}

func TestConnectionLoss(t *testing.T) {
	h, _ := kvHandler()
	s := newFakeServer(t, h)
	c, err := Dial(context.Background(), s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan *Call, 10)
	ping := c.Go(done, []byte("PING"))
	quit := c.Go(done, []byte("QUIT")) // the server closes without answering
	after := c.Go(done, []byte("PING"))
	for range 3 {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("timeout")
		}
	}
	if err := ping.Check(); err != nil {
		t.Errorf("PING before the loss: %v", err)
	}
	var ce *ConnError
	for _, call := range []*Call{quit, after} {
		if err := call.Check(); !errors.As(err, &ce) {
			t.Errorf("call outstanding at the loss: %v", err)
		}
	}
	// Later calls fail at once.
	call := c.Go(nil, []byte("PING"))
	<-call.Done
	if err := call.Check(); !errors.As(err, &ce) || c.Err() == nil {
		t.Errorf("call after the loss: %v", err)
	}
}

func TestProtocolErrorAndClose(t *testing.T) {
	for name, reply := range map[string]string{
		"bad type":     "?what\r\n",
		"bad length":   "$abc\r\n",
		"no CRLF":      "$3\r\nfooXY",
		"bare LF":      "+OK\n",
		"bad integer":  ":12x\r\n",
		"huge length":  "$999999999999\r\n",
		"short bulk":   "$10\r\nabc", // then EOF
		"empty line":   "\r\n",
		"array of bad": "*2\r\n+ok\r\n!\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := newFakeServer(t, func([][]byte) string { return reply }, true)
			c, err := Dial(context.Background(), s.ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			call := c.Go(nil, []byte("PING"))
			select {
			case <-call.Done:
			case <-time.After(10 * time.Second):
				t.Fatal("timeout")
			}
			var ce *ConnError
			if !errors.As(call.Err, &ce) {
				t.Fatalf("want a ConnError, got %v (reply %v)", call.Err, call.Reply)
			}
		})
	}

	// Close completes outstanding calls with ErrClosed.
	release := make(chan struct{})
	s := newFakeServer(t, func([][]byte) string { <-release; return "+late\r\n" })
	t.Cleanup(func() { close(release) })
	c, err := Dial(context.Background(), s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	call := c.Go(nil, []byte("PING"))
	time.Sleep(20 * time.Millisecond)
	c.Close()
	<-call.Done
	if !errors.Is(call.Err, ErrClosed) {
		t.Errorf("after Close: %v", call.Err)
	}
}
