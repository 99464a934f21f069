package storage

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/gokafka/gokafka/storage/vfs"
)

// fileRef counts the users of a segment's .log file: the segment itself
// holds one reference while it is on the log's list, and every Region handed
// to a reader holds another. The file is closed when the last one goes, so
// retention, truncation or a log deletion can unlink a segment while a
// Fetch response is still being sent from it: the open descriptor keeps the
// bytes readable (Linux frees an unlinked inode only when its last
// descriptor closes), and neither side ever waits for the other.
type fileRef struct {
	f    vfs.File
	refs atomic.Int64
}

func newFileRef(f vfs.File) *fileRef {
	r := &fileRef{f: f}
	r.refs.Store(1)
	return r
}

func (r *fileRef) acquire() { r.refs.Add(1) }

// release drops one reference and closes the file with the last one.
func (r *fileRef) release() error {
	if r.refs.Add(-1) == 0 {
		return r.f.Close()
	}
	return nil
}

// Region is a run of whole batches inside one segment's .log, returned by
// ReadRegion so the bytes can go from the page cache to a socket with
// sendfile instead of being copied into the heap. It keeps the file open
// until Release, even when the segment is deleted in the meantime. A
// truncation that cuts into the region (a follower's TruncateTo, or a
// truncation to before the log start reusing the file name) shortens the
// file under it: reading it then returns fewer bytes than Len, and the
// sender must fail the response (Kafka's FileRecords does the same).
type Region struct {
	// File is the segment's .log; nil for an empty region.
	File *os.File
	// Pos is where the region starts in File and Len how many bytes it has.
	Pos, Len int64
	// Next is the offset after the region's last batch: where the next
	// read continues. Zero for an empty region.
	Next int64

	ref  *fileRef
	open *atomic.Int64 // the log's count of unreleased regions
}

// Release lets the file close once no other reader or the log uses it. It
// must be called exactly once for every non-empty Region; an empty Region
// needs no release. Release after release does nothing.
func (r *Region) Release() {
	if r.ref != nil {
		_ = r.ref.release() // a close error cannot lose data: the file is read-only to readers
		r.ref = nil
		r.open.Add(-1)
	}
}

// OpenRegions is the number of Regions ReadRegion returned that are not
// released yet: each keeps its segment file open, deleted or not. A count
// that stays above zero with no fetch in progress is a leak.
func (l *Log) OpenRegions() int64 { return l.regions.Load() }

// ReadRegion is Read without the copy: it returns the region Read would copy,
// holding the segment file open until the caller releases the region. The
// log's read lock is held only while the region is located, so a slow
// consumer never holds up appends, retention or truncation.
func (l *Log) ReadRegion(offset int64, maxBytes int, maxOffset int64) (Region, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return Region{}, fmt.Errorf("read %s: %w", l.dir, ErrClosed)
	}
	if offset < l.start || offset > l.end {
		return Region{}, fmt.Errorf("read %s at %d, log holds [%d, %d): %w", l.dir, offset, l.start, l.end, ErrOffsetOutOfRange)
	}
	r, err := l.locate(offset, int64(maxBytes), maxOffset)
	if err != nil {
		return Region{}, fmt.Errorf("read %s at %d: %w", l.dir, offset, err)
	}
	if r.n == 0 {
		return Region{}, nil
	}
	// The segment is on the list (we hold mu), so its own reference is
	// still there and the count cannot be zero here.
	r.seg.logRef.acquire()
	l.regions.Add(1)
	return Region{File: r.seg.log.OS(), Pos: r.pos, Len: r.n, Next: r.next, ref: r.seg.logRef, open: &l.regions}, nil
}
