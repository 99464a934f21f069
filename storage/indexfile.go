//go:build linux

package storage

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/gokafka/gokafka/storage/vfs"
)

// indexFile is an .index or .timeindex file reached through a memory
// mapping, so that no file descriptor stays open for it: a partition costs
// one descriptor per segment (its .log), not three.
//
// The active segment's index is preallocated (a sparse file, ftruncate) to
// its most entries and mapped read-write; entries are stored straight into
// the mapping. When the segment stops being active (roll, clean close) the
// file is trimmed to its entries, as Kafka leaves it, and the mapping is
// dropped; an inactive index is mapped read-only again on its first lookup.
//
// Concurrency: mu guards data and writable. The writer of the segment maps,
// writes, trims and unmaps under Log.mu's write lock; readers under its read
// lock may map an inactive index lazily, which is why mu exists at all.
type indexFile struct {
	path string
	fs   vfs.FS

	mu       sync.Mutex
	data     []byte // the mapping, nil when there is none
	writable bool   // data is the read-write mapping of a preallocated file
}

// errIndexMissing reports an index file that is not on disk.
var errIndexMissing = errors.New("index file missing")

// mapWritable maps the file read-write, creating it when missing, emptying
// it first when trunc is set, and growing it (sparsely) to at least minSize
// and to at least its old size plus extra bytes. It returns the file's size
// before it grew: for a trimmed index, exactly its entries. The descriptor is
// closed before it returns; the mapping keeps the file reachable.
func (f *indexFile) mapWritable(minSize, extra int64, trunc bool) (prevSize int64, created bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.unmapLocked(); err != nil {
		return 0, false, err
	}
	flags := os.O_RDWR
	if trunc {
		flags |= os.O_CREATE | os.O_TRUNC
	}
	fd, err := f.fs.OpenFile(f.path, flags, 0o644)
	if errors.Is(err, os.ErrNotExist) && !trunc {
		created = true
		fd, err = f.fs.OpenFile(f.path, flags|os.O_CREATE, 0o644)
	}
	if err != nil {
		return 0, false, fmt.Errorf("open %s: %w", f.path, err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("stat %s: %w", f.path, err)
	}
	prevSize = fi.Size()
	size := max(minSize, prevSize+extra, 1)
	if size != prevSize {
		if err := fd.Truncate(size); err != nil {
			return 0, false, fmt.Errorf("preallocate %s to %d bytes: %w", f.path, size, err)
		}
	}
	data, err := syscall.Mmap(int(fd.OS().Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return 0, false, fmt.Errorf("mmap %s: %w", f.path, err)
	}
	f.data, f.writable = data, true
	return prevSize, created, nil
}

// view returns the mapped bytes, mapping an inactive index read-only first
// when it is not mapped. An empty file has no mapping and yields nil; a
// missing one yields an error wrapping errIndexMissing.
func (f *indexFile) view() ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data != nil {
		return f.data, nil
	}
	fd, err := f.fs.OpenFile(f.path, os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", f.path, errIndexMissing)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", f.path, err)
	}
	defer fd.Close()
	fi, err := fd.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", f.path, err)
	}
	if fi.Size() == 0 {
		return nil, nil
	}
	data, err := syscall.Mmap(int(fd.OS().Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", f.path, err)
	}
	f.data, f.writable = data, false
	return data, nil
}

// writeAt stores b at off in the read-write mapping. A page of a sparse
// file that the disk has no room for faults on its first write (SIGBUS);
// that fault is turned into an error here instead of killing the broker.
func (f *indexFile) writeAt(b []byte, off int) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.writable || off < 0 || off+len(b) > len(f.data) {
		return fmt.Errorf("write %s at %d: index not writable or full", f.path, off)
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write %s at %d: fault writing the mapping (disk full?): %v", f.path, off, r)
		}
	}()
	copy(f.data[off:], b)
	return nil
}

// sync makes the first n bytes of the index durable; it is the index's
// share of a flush. A read-write mapping is msynced; an index not mapped
// for writing (trimmed and unmapped after a rebuild at Open) is fsynced
// through a descriptor of its own, which also writes back pages dirtied
// through a mapping since dropped. The msync runs without mu, so a reader
// mapping or looking up this index does not wait for the disk: only the
// writer, which is the caller, ever drops or replaces a read-write mapping.
func (f *indexFile) sync(n int) error {
	f.mu.Lock()
	data, writable := f.data, f.writable
	f.mu.Unlock()
	if !writable {
		return syncPath(f.fs, f.path)
	}
	if n <= 0 {
		return nil
	}
	// msync works on whole pages.
	page := os.Getpagesize()
	n = min((n+page-1)/page*page, len(data))
	if err := f.fs.SyncMapping(f.path, data[:n]); err != nil {
		return fmt.Errorf("msync %s: %w", f.path, err)
	}
	return nil
}

// trim cuts the file of a read-write mapping to its first n bytes, leaving
// the index as Kafka does when a segment becomes inactive. It writes
// nothing to disk: a roll's background flush fsyncs the trimmed file and a
// clean close msyncs the entries before it trims. The mapping stays until
// unmap (readers under Log.mu's read lock never look past the published
// entries, which lie inside the cut file). Should the size change be lost,
// the index comes back with a zero tail, which loading rejects and
// rebuilds (see loadOffsetIndex).
func (f *indexFile) trim(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.writable {
		return nil
	}
	if err := f.fs.Truncate(f.path, int64(n)); err != nil {
		return fmt.Errorf("trim %s to %d bytes: %w", f.path, n, err)
	}
	return nil
}

// unmap drops the mapping; a later view maps the file again read-only.
func (f *indexFile) unmap() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.unmapLocked()
}

func (f *indexFile) unmapLocked() error {
	if f.data == nil {
		return nil
	}
	data := f.data
	f.data, f.writable = nil, false
	if err := syscall.Munmap(data); err != nil {
		return fmt.Errorf("munmap %s: %w", f.path, err)
	}
	return nil
}

// capacity is how many entries of size entrySize the read-write mapping
// holds; 0 when the index is not mapped for writing.
func (f *indexFile) capacity(entrySize int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.writable {
		return 0
	}
	return len(f.data) / entrySize
}

// isWritable reports whether the index is mapped read-write (the active
// segment's).
func (f *indexFile) isWritable() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writable
}
