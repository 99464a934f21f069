package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// offsetIndexEntrySize is the size of one .index entry: a 4-byte offset
// relative to the segment's base offset and a 4-byte position in the .log.
const offsetIndexEntrySize = 8

// offsetEntry is one decoded .index entry.
type offsetEntry struct {
	Offset   int64 // absolute
	Position int64
}

// offsetIndex is a segment's sparse offset index, held as a memory mapping
// of the file (see indexFile): the active segment's is preallocated and
// written in place, an inactive one is trimmed to its entries, as Kafka
// leaves it, and mapped read-only on its first lookup.
type offsetIndex struct {
	file indexFile
	base int64
	// n is the number of published entries; guarded by Log.mu (written
	// under Lock, read under RLock). The entries' bytes are written before n
	// grows, so readers never see a half-written entry, and never look at
	// the zeros of the preallocated tail.
	n    int
	last offsetEntry // the last entry, valid when n > 0
}

// offsetIndexMaxEntries is how many entries fit in segment.index.bytes.
func offsetIndexMaxEntries(cfg Config) int {
	return max(1, int(cfg.SegmentIndexBytes)/offsetIndexEntrySize)
}

// offsetIndexFileSize is the size an active segment's .index is
// preallocated to: segment.index.bytes rounded down to whole entries.
func offsetIndexFileSize(cfg Config) int64 {
	return int64(offsetIndexMaxEntries(cfg)) * offsetIndexEntrySize
}

// limit is how many entries this index may hold under cfg: the configured
// most, or fewer when the mapping was made for a smaller
// segment.index.bytes (the topic's config changed since).
func (ix *offsetIndex) limit(cfg Config) int {
	return min(offsetIndexMaxEntries(cfg), ix.file.capacity(offsetIndexEntrySize))
}

// write stores entry number i (not yet published) in the mapping. Callers
// sharing the segment hold Log.mu's write lock.
func (ix *offsetIndex) write(i int, e offsetEntry) error {
	var b [offsetIndexEntrySize]byte
	binary.BigEndian.PutUint32(b[0:], uint32(e.Offset-ix.base))
	binary.BigEndian.PutUint32(b[4:], uint32(e.Position))
	return ix.file.writeAt(b[:], i*offsetIndexEntrySize)
}

// decodeOffsetEntry decodes entry i of data.
func decodeOffsetEntry(data []byte, i int, base int64) offsetEntry {
	b := data[i*offsetIndexEntrySize:]
	return offsetEntry{
		Offset:   base + int64(binary.BigEndian.Uint32(b[0:])),
		Position: int64(binary.BigEndian.Uint32(b[4:])),
	}
}

// lookup returns the position of the last indexed batch whose indexed
// offset is <= target, or 0 when there is none: the place to start walking
// batch headers towards target. Callers hold Log.mu (either mode).
func (ix *offsetIndex) lookup(target int64) (int64, error) {
	n := ix.n
	if n == 0 || target < ix.base {
		return 0, nil
	}
	if ix.last.Offset <= target {
		return ix.last.Position, nil
	}
	data, err := ix.file.view()
	if err != nil {
		return 0, err
	}
	if len(data) < n*offsetIndexEntrySize {
		return 0, fmt.Errorf("%s: %d bytes for %d entries: %w", ix.file.path, len(data), n, ErrCorruption)
	}
	lo, hi := 0, n-1 // find the largest i with entry(i).Offset <= target
	found := int64(0)
	for lo <= hi {
		mid := int(uint(lo+hi) >> 1)
		e := decodeOffsetEntry(data, mid, ix.base)
		if e.Offset <= target {
			found = e.Position
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	return found, nil
}

// loadOffsetIndex checks the bytes of a whole .index file (as found on
// disk, before any preallocation) against the segment: a size that is a
// multiple of 8, offsets strictly increasing from the base, positions
// strictly increasing, inside the .log and never 0. The first batch of a
// segment never gets an entry (Kafka's rule, see segment.addBatch), so an
// all-zero entry can only be the preallocated tail of an index that was not
// trimmed (a crash): it is rejected like any other bad entry, and the caller
// rebuilds the index. It returns the entries' count and last entry, or an
// ErrCorruption error.
func loadOffsetIndex(name string, data []byte, base, logSize int64) (int, offsetEntry, error) {
	if len(data)%offsetIndexEntrySize != 0 {
		return 0, offsetEntry{}, fmt.Errorf("%s: size %d not a multiple of %d: %w", name, len(data), offsetIndexEntrySize, ErrCorruption)
	}
	var last offsetEntry
	n := len(data) / offsetIndexEntrySize
	for i := range n {
		rel := int64(int32(binary.BigEndian.Uint32(data[i*8:])))
		pos := int64(int32(binary.BigEndian.Uint32(data[i*8+4:])))
		e := offsetEntry{Offset: base + rel, Position: pos}
		if rel < 0 || pos <= 0 || pos >= logSize || (i > 0 && (e.Offset <= last.Offset || e.Position <= last.Position)) {
			return 0, offsetEntry{}, fmt.Errorf("%s: entry %d (%d at %d) out of order, past the log or zero: %w", name, i, e.Offset, e.Position, ErrCorruption)
		}
		last = e
	}
	return n, last, nil
}

// corruptIfMissing turns a missing index file into ErrCorruption, so that
// loading rebuilds it.
func corruptIfMissing(err error) error {
	if errors.Is(err, errIndexMissing) {
		return fmt.Errorf("%w: %w", err, ErrCorruption)
	}
	return err
}
