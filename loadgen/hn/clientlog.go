package hn

import (
	"encoding/json"
	"sync"
	"syscall"
	"time"
)

// rusage is a sample of the process's resource usage.
type rusage struct {
	user, sys time.Duration
	maxRSSKB  int64
}

func getRusage() rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return rusage{}
	}
	return rusage{
		user:     time.Duration(ru.Utime.Nano()),
		sys:      time.Duration(ru.Stime.Nano()),
		maxRSSKB: int64(ru.Maxrss), // KiB on Linux
	}
}

// clientLog is the periodic client log (apps.md §2.16): every second while
// the run is active it samples the process's rusage and appends [t, value]
// pairs, t in microseconds since the log epoch, to the series
// mem_max_rss_mb, utime_us, stime_us and cpu_pct.
type clientLog struct {
	mu     sync.Mutex
	series map[string][][2]float64

	stop chan struct{}
	done chan struct{}
}

// startClientLog clears the log, sets its epoch to now and starts sampling.
func startClientLog(interval time.Duration) *clientLog {
	l := &clientLog{
		series: map[string][][2]float64{},
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	epoch := time.Now()
	go l.sample(epoch, getRusage(), interval)
	return l
}

func (l *clientLog) sample(epoch time.Time, prev rusage, interval time.Duration) {
	defer close(l.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	prevAt := epoch
	first := true
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			ru := getRusage()
			ut, st := ru.user-prev.user, ru.sys-prev.sys
			cpu := 0.0
			if el := now.Sub(prevAt); !first && el > 0 {
				cpu = float64(ut+st) / float64(el) * 100
			}
			ts := float64(now.Sub(epoch).Microseconds())
			l.mu.Lock()
			l.series["mem_max_rss_mb"] = append(l.series["mem_max_rss_mb"], [2]float64{ts, float64(ru.maxRSSKB >> 10)})
			l.series["utime_us"] = append(l.series["utime_us"], [2]float64{ts, float64(ut.Microseconds())})
			l.series["stime_us"] = append(l.series["stime_us"], [2]float64{ts, float64(st.Microseconds())})
			l.series["cpu_pct"] = append(l.series["cpu_pct"], [2]float64{ts, cpu})
			l.mu.Unlock()
			prev, prevAt, first = ru, now, false
		}
	}
}

// finish stops sampling and returns the log as a JSON object.
func (l *clientLog) finish() json.RawMessage {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := json.Marshal(l.series)
	if err != nil {
		return json.RawMessage("{}")
	}
	return b
}
