package partition

import (
	"encoding/json"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pequod-go/pequod/wire"
)

// The server's periodic log (spec/server.md §5.2): once a second, CPU use,
// memory and the number of RPCs of each kind in the last interval, as
// series of [µs since origin, value] samples. control {get_log} returns it,
// {clear_log} empties it and restarts its time origin, {write_log} prints it
// to stderr.

// logSeries lists the series in the order they are reported.
var logSeries = [...]string{"utime_us", "stime_us", "cpu_pct", "mem_max_rss_mb", "mem_size_store_mb",
	"mem_size_other_mb", "ninsert", "ncount", "nsubscribe", "nunsubscribe", "nscan", "ninvalidate", "nnotify"}

// MaxLogSamples bounds each series (an hour at one sample a second).
const MaxLogSamples = 3600

// rpcCounters count the RPCs §5.2 reports.
type rpcCounters struct {
	insert, count, subscribe, unsubscribe, scan, invalidate, notify atomic.Int64
}

func (c *rpcCounters) note(cmd wire.Cmd) {
	switch cmd {
	case wire.CmdInsert:
		c.insert.Add(1)
	case wire.CmdCount:
		c.count.Add(1)
	case wire.CmdSubscribe:
		c.subscribe.Add(1)
		c.scan.Add(1)
	case wire.CmdUnsubscribe:
		c.unsubscribe.Add(1)
	case wire.CmdScan:
		c.scan.Add(1)
	case wire.CmdInvalidate:
		c.invalidate.Add(1)
	case wire.CmdNotifyInsert, wire.CmdNotifyErase:
		c.notify.Add(1)
	}
}

// serverLog holds the samples.
type serverLog struct {
	mu     sync.Mutex
	origin time.Time
	series map[string][][2]float64
	last   struct {
		at           time.Time
		utime, stime time.Duration
		counts       [7]int64
	}
	stop chan struct{}
	done chan struct{}
}

func newServerLog() *serverLog {
	l := &serverLog{origin: time.Now(), series: map[string][][2]float64{}, stop: make(chan struct{}), done: make(chan struct{})}
	l.last.at = l.origin
	l.last.utime, l.last.stime = cpuTimes()
	return l
}

func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// run samples once a second until stop is closed.
func (l *serverLog) run(s *Server) {
	defer close(l.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			l.sample(s, now)
		}
	}
}

func (l *serverLog) sample(s *Server, now time.Time) {
	store := s.storeBytes()
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	utime, stime := time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
	c := &s.rpcs
	counts := [7]int64{c.insert.Load(), c.count.Load(), c.subscribe.Load(), c.unsubscribe.Load(), c.scan.Load(), c.invalidate.Load(), c.notify.Load()}
	l.mu.Lock()
	defer l.mu.Unlock()
	interval := now.Sub(l.last.at)
	du, ds := utime-l.last.utime, stime-l.last.stime
	cpu := 0.0
	if interval > 0 && len(l.series["utime_us"]) > 0 {
		cpu = 100 * float64(du+ds) / float64(interval)
	}
	values := []float64{float64(du.Microseconds()), float64(ds.Microseconds()), cpu,
		float64(ru.Maxrss) / 1024, float64(store) / (1 << 20), 0}
	for i := range counts {
		values = append(values, float64(counts[i]-l.last.counts[i]))
	}
	t := float64(now.Sub(l.origin).Microseconds())
	for i, name := range logSeries {
		ser := append(l.series[name], [2]float64{t, values[i]})
		if len(ser) > MaxLogSamples {
			ser = ser[len(ser)-MaxLogSamples:]
		}
		l.series[name] = ser
	}
	l.last.at, l.last.utime, l.last.stime, l.last.counts = now, utime, stime, counts
}

// clear empties the log and restarts its time origin.
func (l *serverLog) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.origin = time.Now()
	l.series = map[string][][2]float64{}
}

// json returns the log as a JSON object (§5.2), series in a fixed order.
func (l *serverLog) json() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := []byte{'{'}
	for i, name := range logSeries {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(name)
		v, _ := json.Marshal(l.series[name])
		if l.series[name] == nil {
			v = []byte("[]")
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}')
}

// storeBytes sums the partitions' tracked memory, asking each partition on
// its own goroutine.
func (s *Server) storeBytes() int64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	wg.Add(len(s.parts))
	for i := range s.parts {
		s.send(i, func(p *part) { total.Add(int64(p.eng.MemoryBytes())); wg.Done() })
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(500 * time.Millisecond): // a closing or very busy server
	}
	return total.Load()
}
