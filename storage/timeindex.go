package storage

import (
	"encoding/binary"
	"fmt"
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
// increasing. It is mapped like offsetIndex.
type timeIndex struct {
	file indexFile
	base int64
	n    int       // published entries, guarded by Log.mu like offsetIndex.n
	last timeEntry // last entry; Timestamp -1 when there is none
}

func timeIndexMaxEntries(cfg Config) int {
	return max(1, int(cfg.SegmentIndexBytes)/timeIndexEntrySize)
}

// timeIndexFileSize is the size an active segment's .timeindex is
// preallocated to: its most entries plus one, the slot for the entry
// rolling adds even to a full index (Kafka keeps that slot free by calling
// the index full one entry early).
func timeIndexFileSize(cfg Config) int64 {
	return int64(timeIndexMaxEntries(cfg)+1) * timeIndexEntrySize
}

// limit is how many entries appends may add under cfg, keeping the last
// slot of the mapping for rolling's final entry.
func (ix *timeIndex) limit(cfg Config) int {
	return min(timeIndexMaxEntries(cfg), ix.file.capacity(timeIndexEntrySize)-1)
}

func (ix *timeIndex) write(i int, e timeEntry) error {
	var b [timeIndexEntrySize]byte
	binary.BigEndian.PutUint64(b[0:], uint64(e.Timestamp))
	binary.BigEndian.PutUint32(b[8:], uint32(e.Offset-ix.base))
	return ix.file.writeAt(b[:], i*timeIndexEntrySize)
}

func decodeTimeEntry(data []byte, i int, base int64) timeEntry {
	b := data[i*timeIndexEntrySize:]
	return timeEntry{
		Timestamp: int64(binary.BigEndian.Uint64(b[0:])),
		Offset:    base + int64(binary.BigEndian.Uint32(b[8:])),
	}
}

// lookupBelow returns the last entry whose timestamp is strictly below ts:
// every batch up to its offset is older than ts, so a search for the first
// batch at or after ts may start right after it. ok is false when there is
// no such entry (start from the segment's beginning). Callers hold Log.mu.
func (ix *timeIndex) lookupBelow(ts int64) (timeEntry, bool, error) {
	if ix.n == 0 {
		return timeEntry{}, false, nil
	}
	data, err := ix.file.view()
	if err != nil {
		return timeEntry{}, false, err
	}
	if len(data) < ix.n*timeIndexEntrySize {
		return timeEntry{}, false, fmt.Errorf("%s: %d bytes for %d entries: %w", ix.file.path, len(data), ix.n, ErrCorruption)
	}
	lo, hi := 0, ix.n-1
	var found timeEntry
	ok := false
	for lo <= hi {
		mid := int(uint(lo+hi) >> 1)
		e := decodeTimeEntry(data, mid, ix.base)
		if e.Timestamp < ts {
			found, ok = e, true
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	return found, ok, nil
}

// loadTimeIndex checks the bytes of a whole .timeindex file: a size that is
// a multiple of 12, timestamps strictly increasing (so not below 0: an entry
// needs a timestamp above the -1 of an empty segment), offsets not
// decreasing and not below the base. A zero-filled preallocated tail fails
// the order check at its first or second entry.
func loadTimeIndex(name string, data []byte, base int64) (int, timeEntry, error) {
	none := timeEntry{Timestamp: -1, Offset: base}
	if len(data)%timeIndexEntrySize != 0 {
		return 0, none, fmt.Errorf("%s: size %d not a multiple of %d: %w", name, len(data), timeIndexEntrySize, ErrCorruption)
	}
	last := none
	n := len(data) / timeIndexEntrySize
	for i := range n {
		ts := int64(binary.BigEndian.Uint64(data[i*12:]))
		rel := int64(int32(binary.BigEndian.Uint32(data[i*12+8:])))
		e := timeEntry{Timestamp: ts, Offset: base + rel}
		if rel < 0 || ts <= last.Timestamp || e.Offset < last.Offset {
			return 0, none, fmt.Errorf("%s: entry %d out of order: %w", name, i, ErrCorruption)
		}
		last = e
	}
	return n, last, nil
}
