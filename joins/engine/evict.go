package engine

// lruLinks place a sink range in the engine's LRU list.
type lruLinks struct {
	prev, next *sinkRange
	in         bool
}

// lruList orders sink ranges from least to most recently used (§6.2).
type lruList struct {
	head, tail *sinkRange
	n          int
}

func (l *lruList) remove(sr *sinkRange) {
	if !sr.lru.in {
		return
	}
	if sr.lru.prev != nil {
		sr.lru.prev.lru.next = sr.lru.next
	} else {
		l.head = sr.lru.next
	}
	if sr.lru.next != nil {
		sr.lru.next.lru.prev = sr.lru.prev
	} else {
		l.tail = sr.lru.prev
	}
	sr.lru = lruLinks{}
	l.n--
}

func (l *lruList) pushBack(sr *sinkRange) {
	sr.lru = lruLinks{prev: l.tail, in: true}
	if l.tail != nil {
		l.tail.lru.next = sr
	} else {
		l.head = sr
	}
	l.tail = sr
	l.n++
}

// touch marks sr most recently used.
func (l *lruList) touch(sr *sinkRange) {
	if sr.lru.in && l.tail != sr {
		l.remove(sr)
		l.pushBack(sr)
	}
}

// EvictOne drops the least recently used sink range (§6.1): its instances
// are invalidated (their keys removed, their readers invalidated) and the
// range is forgotten, so the next read of it recomputes. Base data is never
// evicted. It returns false if there is no sink range.
func (e *Engine) EvictOne() bool {
	sr := e.lru.head
	if sr == nil {
		return false
	}
	t0 := e.begin()
	defer func() { e.timeEvict += e.clock().Sub(t0); e.end() }()
	e.evict(sr)
	return true
}

func (e *Engine) evict(sr *sinkRange) {
	t := sr.table
	before := e.invHits
	for _, in := range sr.insts {
		e.invalidateInstance(in)
		in.detached = true
	}
	e.lru.remove(sr)
	t.sinks.Delete(sr.item)
	sr.item = nil
	t.nevictRanges++
	t.nevictKeys += e.invHits - before
}

// SinkRanges returns the number of sink ranges, the unit of eviction.
func (e *Engine) SinkRanges() int { return e.lru.n }
