package redisclient

import (
	"bytes"
	"context"
	"net"
	"testing"
)

// cannedServer answers every fixed-size request read from conn with reply,
// without allocating, so that a benchmark's allocations are the client's.
func cannedServer(conn net.Conn, reqLen int, reply []byte) {
	defer conn.Close()
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, 64<<10)
	partial := 0
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		partial += n
		out = out[:0]
		for ; partial >= reqLen; partial -= reqLen {
			out = append(out, reply...)
		}
		if _, err := conn.Write(out); err != nil {
			return
		}
	}
}

// BenchmarkPipelined keeps 32 GETs in flight.
func BenchmarkPipelined(b *testing.B) {
	key := []byte("k|1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if conn, err := ln.Accept(); err == nil {
			cannedServer(conn, len(AppendCommand(nil, cmdGET, key)), []byte("$5\r\n.....\r\n"))
		}
	}()
	c, err := Dial(context.Background(), ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const inflight = 32
	done := make(chan *Call, 2*inflight)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < inflight && i < b.N; i++ {
		c.Get(key, done)
	}
	for i := 0; i < b.N; i++ {
		call := <-done
		if v, err := call.Bytes(); err != nil || !bytes.Equal(v, []byte(".....")) {
			b.Fatal(v, err)
		}
		call.Release()
		if i+inflight < b.N {
			c.Get(key, done)
		}
	}
}
