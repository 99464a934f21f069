package storage

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// offsetIndexEntrySize is the size of one .index entry: a 4-byte offset
// relative to the segment's base offset and a 4-byte position in the .log.
const offsetIndexEntrySize = 8

// offsetEntry is one decoded .index entry.
type offsetEntry struct {
	Offset   int64 // absolute
	Position int64
}

// offsetIndex is a segment's sparse offset index. The file holds exactly the
// published entries (it is appended to, never preallocated), so after any
// close its size is entries*8 as Kafka leaves a trimmed index.
//
// The active segment, where most reads land, keeps a copy of its entries in
// memory (mem); older segments binary-search the file with pread, so an idle
// segment costs no heap. mem is dropped when the segment rolls.
type offsetIndex struct {
	f    *os.File
	base int64
	// n is the number of published entries; guarded by Log.mu (written
	// under Lock, read under RLock). The entries' bytes are written before n
	// grows, so readers never see a half-written entry.
	n    int
	last offsetEntry // the last entry, valid when n > 0
	mem  []byte      // nil or the first n entries as in the file; guarded by Log.mu
}

// maxEntries is how many entries fit in segment.index.bytes.
func offsetIndexMaxEntries(cfg Config) int {
	return max(1, int(cfg.SegmentIndexBytes)/offsetIndexEntrySize)
}

// encode writes entry e as the file stores it.
func (ix *offsetIndex) encode(e offsetEntry) []byte {
	var b [offsetIndexEntrySize]byte
	binary.BigEndian.PutUint32(b[0:], uint32(e.Offset-ix.base))
	binary.BigEndian.PutUint32(b[4:], uint32(e.Position))
	return b[:]
}

// write stores entry number i (not yet published) in the file and, when
// the index is held in memory, there too. Callers sharing the segment hold
// Log.mu's write lock.
func (ix *offsetIndex) write(i int, e offsetEntry) error {
	b := ix.encode(e)
	if _, err := ix.f.WriteAt(b, int64(i)*offsetIndexEntrySize); err != nil {
		return fmt.Errorf("write %s: %w", ix.f.Name(), err)
	}
	if ix.mem != nil && len(ix.mem) == i*offsetIndexEntrySize {
		ix.mem = append(ix.mem, b...)
	} else {
		ix.mem = nil
	}
	return nil
}

// entry reads entry i, from memory when it is there.
func (ix *offsetIndex) entry(i int) (offsetEntry, error) {
	var b []byte
	if end := (i + 1) * offsetIndexEntrySize; end <= len(ix.mem) {
		b = ix.mem[end-offsetIndexEntrySize : end]
	} else {
		var buf [offsetIndexEntrySize]byte
		if _, err := ix.f.ReadAt(buf[:], int64(i)*offsetIndexEntrySize); err != nil {
			return offsetEntry{}, fmt.Errorf("read %s entry %d: %w", ix.f.Name(), i, err)
		}
		b = buf[:]
	}
	return offsetEntry{
		Offset:   ix.base + int64(binary.BigEndian.Uint32(b[0:])),
		Position: int64(binary.BigEndian.Uint32(b[4:])),
	}, nil
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
	lo, hi := 0, n-1 // find the largest i with entry(i).Offset <= target
	found := int64(0)
	for lo <= hi {
		mid := int(uint(lo+hi) >> 1)
		e, err := ix.entry(mid)
		if err != nil {
			return 0, err
		}
		if e.Offset <= target {
			found = e.Position
			lo = mid + 1
		} else {
			hi = mid - 1
		}
	}
	return found, nil
}

// loadOffsetIndex reads a whole .index file and checks it against the
// segment: a size that is a multiple of 8, offsets strictly increasing from
// the base, positions strictly increasing and inside the .log. It returns
// the entries' count, last entry and bytes, or an ErrCorruption error.
func loadOffsetIndex(f *os.File, base, logSize int64) (int, offsetEntry, []byte, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return 0, offsetEntry{}, nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if len(data)%offsetIndexEntrySize != 0 {
		return 0, offsetEntry{}, nil, fmt.Errorf("%s: size %d not a multiple of %d: %w", f.Name(), len(data), offsetIndexEntrySize, ErrCorruption)
	}
	var last offsetEntry
	n := len(data) / offsetIndexEntrySize
	for i := range n {
		rel := int64(int32(binary.BigEndian.Uint32(data[i*8:])))
		pos := int64(int32(binary.BigEndian.Uint32(data[i*8+4:])))
		e := offsetEntry{Offset: base + rel, Position: pos}
		if rel < 0 || pos < 0 || pos >= logSize || (i > 0 && (e.Offset <= last.Offset || e.Position <= last.Position)) {
			return 0, offsetEntry{}, nil, fmt.Errorf("%s: entry %d (%d at %d) out of order or past the log: %w", f.Name(), i, e.Offset, e.Position, ErrCorruption)
		}
		last = e
	}
	return n, last, data, nil
}
