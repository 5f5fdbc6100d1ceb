package memcache

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

func seedResponses(f *testing.F) {
	f.Add([]byte{})
	f.Add(response(OpGet, StatusOK, 1, []byte{0, 0, 0, 0}, nil, []byte("value")))
	f.Add(response(OpGet, StatusKeyNotFound, 1, nil, nil, []byte("Not found")))
	var stats []byte
	stats = append(stats, response(OpStat, StatusOK, 1, nil, []byte("uptime"), []byte("3"))...)
	stats = append(stats, response(OpStat, StatusOK, 1, nil, nil, nil)...)
	f.Add(stats)
	f.Add(append(response(OpStat, StatusOK, 1, nil, nil, nil),
		append(response(OpGet, StatusOK, 2, nil, nil, []byte("v")),
			append(response(OpIncrement, StatusOK, 3, nil, nil, binary.BigEndian.AppendUint64(nil, 9)),
				response(OpAppend, StatusNotStored, 4, nil, nil, nil)...)...)...))
	f.Add(response(OpIncrement, StatusOK, 1, nil, nil, []byte("short")))
	f.Add([]byte{0x81, 0, 0xff, 0xff, 0xff, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
}

// FuzzDecodeResponse: the packet decoder never panics, and what it accepts
// is consistent with its input.
func FuzzDecodeResponse(f *testing.F) {
	seedResponses(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for len(b) > 0 {
			p, n, err := DecodeResponse(b, 1<<16)
			if err != nil {
				if !errors.Is(err, ErrShort) && !errors.Is(err, ErrProtocol) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if n < HeaderSize || n > len(b) || len(p.Extras)+len(p.Key)+len(p.Value) != n-HeaderSize {
				t.Fatalf("inconsistent packet: n=%d len=%d %+v", n, len(b), p)
			}
			b = b[n:]
		}
	})
}

// FuzzClientResponses feeds arbitrary bytes to a client as the server's
// answer to four pipelined requests: it must not panic, and every call
// must complete (the connection ends after the input).
func FuzzClientResponses(f *testing.F) {
	seedResponses(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, srv := net.Pipe()
		go func() {
			go io.Copy(io.Discard, srv)
			srv.Write(b)
			srv.Close()
		}()
		c := NewClient(a, &Options{MaxValueSize: 1 << 16})
		defer c.Close()
		done := make(chan *Call, 4)
		c.Go(Request{Op: OpStat}, done)
		c.Go(Request{Op: OpGet, Key: []byte("k")}, done)
		c.Go(Request{Op: OpIncrement, Key: []byte("n"), Delta: 1}, done)
		c.Go(Request{Op: OpAppend, Key: []byte("l"), Value: []byte("x"), Create: true}, done)
		timeout := time.After(10 * time.Second)
		for range 4 {
			select {
			case call := <-done:
				_ = call.Check()
			case <-timeout:
				t.Fatal("a call never completed")
			}
		}
	})
}
