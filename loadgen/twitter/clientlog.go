package twitter

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// clientLog is the periodic client log of spec/apps.md §2.16: once a second
// it samples the process's rusage and appends [µs since the epoch, value]
// pairs to the series mem_max_rss_mb, utime_us, stime_us and cpu_pct.
type clientLog struct {
	mu     sync.Mutex
	epoch  time.Time
	prevT  time.Time
	prevU  int64 // µs
	prevS  int64 // µs
	first  bool
	names  []string
	series map[string][]json.RawMessage

	stop chan struct{}
	done chan struct{}
}

func rusage() (utime, stime time.Duration, maxRSSKB int64) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano()), int64(ru.Maxrss)
}

// newClientLog returns a cleared log (epoch now); start begins sampling.
func newClientLog() *clientLog {
	l := &clientLog{series: map[string][]json.RawMessage{}}
	l.clear()
	return l
}

// clear empties the log and resets its epoch (§2.12 step 6).
func (l *clientLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.epoch = time.Now()
	l.prevT = l.epoch
	u, s, _ := rusage()
	l.prevU, l.prevS = u.Microseconds(), s.Microseconds()
	l.first = true
	l.names = nil
	clear(l.series)
}

func (l *clientLog) add(name string, t int64, v string) {
	if _, ok := l.series[name]; !ok {
		l.names = append(l.names, name)
	}
	l.series[name] = append(l.series[name], json.RawMessage("["+strconv.FormatInt(t, 10)+","+v+"]"))
}

// sample records one set of samples.
func (l *clientLog) sample() {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	u, s, rss := rusage()
	t := now.Sub(l.epoch).Microseconds()
	du, ds := u.Microseconds()-l.prevU, s.Microseconds()-l.prevS
	pct := 0.0
	if el := now.Sub(l.prevT).Microseconds(); !l.first && el > 0 {
		pct = float64(du+ds) / float64(el) * 100
	}
	l.add("mem_max_rss_mb", t, strconv.FormatInt(rss>>10, 10))
	l.add("utime_us", t, strconv.FormatInt(du, 10))
	l.add("stime_us", t, strconv.FormatInt(ds, 10))
	l.add("cpu_pct", t, strconv.FormatFloat(pct, 'g', -1, 64))
	l.prevT, l.prevU, l.prevS, l.first = now, u.Microseconds(), s.Microseconds(), false
}

// start samples every period until stopLog.
func (l *clientLog) start(period time.Duration) {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				l.sample()
			case <-l.stop:
				return
			}
		}
	}()
}

// stopLog stops sampling and waits for the sampler.
func (l *clientLog) stopLog() {
	if l.stop == nil {
		return
	}
	close(l.stop)
	<-l.done
	l.stop = nil
}

// JSON renders the log as an object whose series appear in the order they
// were first sampled.
func (l *clientLog) JSON() json.RawMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	b.WriteByte('{')
	for i, name := range l.names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(name))
		b.WriteString(":[")
		for j, v := range l.series[name] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(v)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes()
}
