package storage

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// SegmentTime is one segment's first offset and when its .log last
// changed.
type SegmentTime struct {
	Offset   int64
	Modified time.Time
}

// SegmentTimes lists, oldest first, each segment's base offset (the log
// start offset for the first) with its .log's modification time, then, when
// the active segment holds any bytes, the log end offset at now. This is
// what ListOffsets v0 answers from: Kafka's pre-0.10 "offsets before a
// time" are segment boundaries, the only timestamps that format had.
func (l *Log) SegmentTimes(now time.Time) ([]SegmentTime, error) {
	l.mu.RLock()
	segs := append([]*segment(nil), l.segs...)
	start, end := l.start, l.end
	activeSize := segs[len(segs)-1].size
	l.mu.RUnlock()
	out := make([]SegmentTime, 0, len(segs)+1)
	for _, s := range segs {
		fi, err := s.fs.Stat(s.path(logSuffix))
		if errors.Is(err, os.ErrNotExist) {
			continue // retention removed it meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("segment times of %s: %w", l.dir, err)
		}
		out = append(out, SegmentTime{Offset: max(s.base, start), Modified: fi.ModTime()})
	}
	if activeSize > 0 {
		out = append(out, SegmentTime{Offset: end, Modified: now})
	}
	return out, nil
}
