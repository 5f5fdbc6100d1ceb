package twitter

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// Keys encodes the twitternew key schema (spec/apps.md §2.3): binary keys
// use BE32 ids and times so that byte order is numeric order; text keys use
// zero-padded decimals (users 8 digits, times 10). The separators are the
// byte '|' in both encodings.
type Keys struct {
	Binary bool
}

func (k Keys) appendID(b []byte, v uint32, width int) []byte {
	if k.Binary {
		return binary.BigEndian.AppendUint32(b, v)
	}
	return appendPadded(b, v, width)
}

func appendPadded(b []byte, v uint32, width int) []byte {
	var tmp [10]byte
	s := strconv.AppendUint(tmp[:0], uint64(v), 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

func (k Keys) user(b []byte, u uint32) []byte { return k.appendID(b, u, 8) }
func (k Keys) time(b []byte, t uint32) []byte { return k.appendID(b, t, 10) }

// Subscription is s|a|b: (user, poster) in pull and lazy modes, (poster,
// follower) in push mode.
func (k Keys) Subscription(a, b uint32) string {
	buf := make([]byte, 0, 19)
	buf = k.user(append(buf, "s|"...), a)
	return string(k.user(append(buf, '|'), b))
}

// Post is p|poster|time (celeb: cp|poster|time).
func (k Keys) Post(poster, time uint32, celeb bool) string {
	buf := make([]byte, 0, 22)
	if celeb {
		buf = append(buf, 'c')
	}
	buf = k.user(append(buf, "p|"...), poster)
	return string(k.time(append(buf, '|'), time))
}

// Celebrity is the celebrity marker c|u.
func (k Keys) Celebrity(u uint32) string {
	return string(k.user([]byte("c|"), u))
}

// Timeline is the timeline entry t|user|time|poster.
func (k Keys) Timeline(user, time, poster uint32) string {
	buf := make([]byte, 0, 30)
	buf = k.user(append(buf, "t|"...), user)
	buf = k.time(append(buf, '|'), time)
	return string(k.user(append(buf, '|'), poster))
}

// TimelineAt is t|user|time, the bound of a check (§2.11).
func (k Keys) TimelineAt(user, time uint32) string {
	buf := make([]byte, 0, 21)
	buf = k.user(append(buf, "t|"...), user)
	return string(k.time(append(buf, '|'), time))
}

// TimelineEnd is t|user}, the end of user's timeline table.
func (k Keys) TimelineEnd(user uint32) string {
	return string(append(k.user([]byte("t|"), user), '}'))
}

// Followers is the range [s|u, s|u}) of u's followers (push mode).
func (k Keys) Followers(u uint32) (first, last string) {
	b := k.user([]byte("s|"), u)
	return string(b), string(append(b, '}'))
}

// PostRange is [p|u|beg, p|u|end) (push-mode backfill).
func (k Keys) PostRange(u, beg, end uint32) (first, last string) {
	return k.Post(u, beg, false), k.Post(u, end, false)
}

// Progress is prog|%03u, a group's progress key; it is text in both
// encodings.
func Progress(groupid int) string { return fmt.Sprintf("prog|%03d", groupid) }

// id parses an id at off (4 bytes binary, width digits text).
func (k Keys) id(key []byte, off, width int) (uint32, bool) {
	if k.Binary {
		if len(key) < off+4 {
			return 0, false
		}
		return binary.BigEndian.Uint32(key[off:]), true
	}
	if len(key) < off+width {
		return 0, false
	}
	v, err := strconv.ParseUint(string(key[off:off+width]), 10, 32)
	return uint32(v), err == nil
}

// ParseTimeline decodes a t|user|time|poster key (fixed offsets 2, 7, 12
// binary; 2, 11, 22 text).
func (k Keys) ParseTimeline(key []byte) (user, time, poster uint32, ok bool) {
	var ok1, ok2, ok3 bool
	if k.Binary {
		user, ok1 = k.id(key, 2, 8)
		time, ok2 = k.id(key, 7, 10)
		poster, ok3 = k.id(key, 12, 8)
	} else {
		user, ok1 = k.id(key, 2, 8)
		time, ok2 = k.id(key, 11, 10)
		poster, ok3 = k.id(key, 22, 8)
	}
	return user, time, poster, ok1 && ok2 && ok3
}

// ParseSubscriptionSecond decodes the second id of s|a|b (the follower in
// push mode; offset 7 binary, 11 text).
func (k Keys) ParseSubscriptionSecond(key []byte) (uint32, bool) {
	if k.Binary {
		return k.id(key, 7, 8)
	}
	return k.id(key, 11, 8)
}

// ParsePostTime decodes the time of p|poster|time (offset 7 binary, 11 text).
func (k Keys) ParsePostTime(key []byte) (uint32, bool) {
	if k.Binary {
		return k.id(key, 7, 10)
	}
	return k.id(key, 11, 10)
}

// textTimeline renders a timeline entry as text keys do, for log lines.
func textTimeline(user, time, poster uint32) string {
	return Keys{}.Timeline(user, time, poster)
}
