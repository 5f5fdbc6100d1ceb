package twitter

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// rttLog is the latency log of spec/apps.md §2.14. The run goroutine
// appends lines to an in-memory buffer; a writer goroutine swaps the buffer
// out about once a second and appends it to <outpath>/rtt_log_<group>.txt.
// finish writes the rest, gzips the file to .txt.gz and removes the plain
// file.
type rttLog struct {
	path string

	mu   sync.Mutex
	buf  []byte
	werr error

	f    *os.File
	stop chan struct{}
	done chan struct{}
}

// newRTTLog creates the log file (outpath must exist; "" is the current
// directory) and starts the writer.
func newRTTLog(outpath string, groupid int) (*rttLog, error) {
	path := filepath.Join(outpath, fmt.Sprintf("rtt_log_%d.txt", groupid))
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("twitternew: rtt log: %w", err)
	}
	l := &rttLog{path: path, f: f, stop: make(chan struct{}), done: make(chan struct{})}
	go l.writer()
	return l, nil
}

// record appends one line: kind ('c' or 'p'), latency, tick, flag.
func (l *rttLog) record(kind byte, rtt time.Duration, vtime uint32, flag int) {
	l.mu.Lock()
	l.buf = fmt.Appendf(l.buf, "%c %d %d %d\n", kind, rtt.Microseconds(), vtime, flag)
	l.mu.Unlock()
}

func (l *rttLog) flush(spare []byte) []byte {
	l.mu.Lock()
	b := l.buf
	l.buf = spare[:0]
	l.mu.Unlock()
	if len(b) > 0 {
		if _, err := l.f.Write(b); err != nil {
			l.mu.Lock()
			if l.werr == nil {
				l.werr = err
			}
			l.mu.Unlock()
		}
	}
	return b
}

func (l *rttLog) writer() {
	defer close(l.done)
	tk := time.NewTicker(time.Second)
	defer tk.Stop()
	var spare []byte
	for {
		select {
		case <-tk.C:
			spare = l.flush(spare)
		case <-l.stop:
			l.flush(spare)
			return
		}
	}
}

// finish stops the writer, compresses the file and removes the plain one.
func (l *rttLog) finish() error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	werr := l.werr
	l.mu.Unlock()
	if err := l.f.Close(); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("twitternew: rtt log %s: %w", l.path, werr)
	}
	if err := gzipFile(l.path, l.path+".gz"); err != nil {
		return fmt.Errorf("twitternew: rtt log: %w", err)
	}
	return os.Remove(l.path)
}

func gzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		out.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
