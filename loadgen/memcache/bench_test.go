package memcache

import (
	"net"
	"testing"
)

// cannedServer answers every GET of a 3-byte key read from conn with the
// value ".....", without allocating, so that a benchmark's allocations are
// the client's.
func cannedServer(conn net.Conn) {
	defer conn.Close()
	const reqLen = HeaderSize + 3
	reply := response(OpGet, StatusOK, 0, []byte{0, 0, 0, 0}, nil, []byte("....."))
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 64<<10)
	have := 0
	for {
		n, err := conn.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		out = out[:0]
		off := 0
		for ; have-off >= reqLen; off += reqLen {
			s := len(out)
			out = append(out, reply...)
			copy(out[s+12:s+16], buf[off+12:off+16]) // the opaque
		}
		have = copy(buf, buf[off:have])
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

// BenchmarkPipelined keeps 32 GETs in flight over loopback TCP.
func BenchmarkPipelined(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if conn, err := ln.Accept(); err == nil {
			cannedServer(conn)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	c := NewClient(conn, nil)
	defer c.Close()
	req := Request{Op: OpGet, Key: []byte("k|1")}
	const inflight = 32
	done := make(chan *Call, 2*inflight)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < inflight && i < b.N; i++ {
		c.Go(req, done)
	}
	for i := 0; i < b.N; i++ {
		call := <-done
		if err := call.Check(); err != nil || string(call.Value) != "....." {
			b.Fatal(err)
		}
		call.Release()
		if i+inflight < b.N {
			c.Go(req, done)
		}
	}
}
