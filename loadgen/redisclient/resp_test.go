package redisclient

import (
	"bufio"
	"errors"
	"fmt"
)

// readReply reads one reply from r for the in-test servers; its strings are
// appended to buf, which is returned (possibly grown), and alias it.
func readReply(r *bufio.Reader, buf []byte, depth int) (Reply, []byte, error) {
	want := 1
	for {
		b, err := r.Peek(max(want, r.Buffered()))
		if len(b) < want {
			if errors.Is(err, bufio.ErrBufferFull) {
				return Reply{}, buf, fmt.Errorf("%w: reply larger than the reader's buffer", ErrProtocol)
			}
			return Reply{}, buf, err
		}
		rep, end, need, err := parseReply(b, 0, depth)
		if err != nil {
			return rep, buf, err
		}
		if end < 0 {
			want = need
			continue
		}
		rep, buf = copyReply(rep, buf)
		_, err = r.Discard(end)
		return rep, buf, err
	}
}

// copyReply copies the strings of rep to the end of buf.
func copyReply(rep Reply, buf []byte) (Reply, []byte) {
	if rep.Str != nil {
		s := len(buf)
		buf = append(buf, rep.Str...)
		rep.Str = buf[s:len(buf):len(buf)]
	}
	if rep.Array != nil {
		a := make([]Reply, len(rep.Array))
		for i, e := range rep.Array {
			a[i], buf = copyReply(e, buf)
		}
		rep.Array = a
	}
	return rep, buf
}
