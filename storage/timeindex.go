package storage

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// timeIndexEntrySize is the size of one .timeindex entry: an 8-byte
// timestamp and the 4-byte relative offset of the batch holding it.
const timeIndexEntrySize = 12

// timeEntry is one decoded .timeindex entry: every batch up to and including
// Offset has a max timestamp <= Timestamp.
type timeEntry struct {
	Timestamp int64
	Offset    int64 // absolute
}

// timeIndex is a segment's sparse time index. Like Kafka's, it only grows
// when the segment's max timestamp grows, so timestamps are strictly
// increasing. The file holds exactly the published entries.
type timeIndex struct {
	f    *os.File
	base int64
	n    int       // published entries, guarded by Log.mu like offsetIndex.n
	last timeEntry // last entry; Timestamp -1 when there is none
}

func timeIndexMaxEntries(cfg Config) int {
	return max(1, int(cfg.SegmentIndexBytes)/timeIndexEntrySize)
}

func (ix *timeIndex) write(i int, e timeEntry) error {
	var b [timeIndexEntrySize]byte
	binary.BigEndian.PutUint64(b[0:], uint64(e.Timestamp))
	binary.BigEndian.PutUint32(b[8:], uint32(e.Offset-ix.base))
	if _, err := ix.f.WriteAt(b[:], int64(i)*timeIndexEntrySize); err != nil {
		return fmt.Errorf("write %s: %w", ix.f.Name(), err)
	}
	return nil
}

func (ix *timeIndex) entry(i int) (timeEntry, error) {
	var b [timeIndexEntrySize]byte
	if _, err := ix.f.ReadAt(b[:], int64(i)*timeIndexEntrySize); err != nil {
		return timeEntry{}, fmt.Errorf("read %s entry %d: %w", ix.f.Name(), i, err)
	}
	return timeEntry{
		Timestamp: int64(binary.BigEndian.Uint64(b[0:])),
		Offset:    ix.base + int64(binary.BigEndian.Uint32(b[8:])),
	}, nil
}

// lookupBelow returns the last entry whose timestamp is strictly below ts:
// every batch up to its offset is older than ts, so a search for the first
// batch at or after ts may start right after it. ok is false when there is
// no such entry (start from the segment's beginning). Callers hold Log.mu.
func (ix *timeIndex) lookupBelow(ts int64) (timeEntry, bool, error) {
	lo, hi := 0, ix.n-1
	var found timeEntry
	ok := false
	for lo <= hi {
		mid := int(uint(lo+hi) >> 1)
		e, err := ix.entry(mid)
		if err != nil {
			return timeEntry{}, false, err
		}
		if e.Timestamp < ts {
			found, ok = e, true
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	return found, ok, nil
}

// loadTimeIndex reads and checks a whole .timeindex file: a size that is a
// multiple of 12, timestamps strictly increasing, offsets not decreasing and
// not below the base.
func loadTimeIndex(f *os.File, base int64) (int, timeEntry, error) {
	none := timeEntry{Timestamp: -1, Offset: base}
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return 0, none, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if len(data)%timeIndexEntrySize != 0 {
		return 0, none, fmt.Errorf("%s: size %d not a multiple of %d: %w", f.Name(), len(data), timeIndexEntrySize, ErrCorruption)
	}
	last := none
	n := len(data) / timeIndexEntrySize
	for i := range n {
		ts := int64(binary.BigEndian.Uint64(data[i*12:]))
		rel := int64(int32(binary.BigEndian.Uint32(data[i*12+8:])))
		e := timeEntry{Timestamp: ts, Offset: base + rel}
		if rel < 0 || (i > 0 && (ts <= last.Timestamp || e.Offset < last.Offset)) {
			return 0, none, fmt.Errorf("%s: entry %d out of order: %w", f.Name(), i, ErrCorruption)
		}
		last = e
	}
	return n, last, nil
}
