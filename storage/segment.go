package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/gokafka/gokafka/storage/vfs"
)

// File name suffixes of a segment, as Kafka names them.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

// segmentFileName is Kafka's 20-digit zero-padded base offset plus suffix.
func segmentFileName(base int64, suffix string) string {
	return fmt.Sprintf("%020d%s", base, suffix)
}

// segment is one .log file with its two sparse indexes. The .log is the
// segment's only open file descriptor; the indexes are memory mappings (see
// indexFile). Fields marked "published" are written under Log.mu's write
// lock and read under its read lock; the others belong to the single writer.
type segment struct {
	base int64
	dir  string
	fs   vfs.FS
	log  vfs.File
	// logRef counts the users of log: the segment and any Region still
	// being sent; close drops the segment's reference.
	logRef *fileRef
	index  offsetIndex
	times  timeIndex

	// published
	size          int64 // bytes of whole batches in the .log
	next          int64 // offset after the last batch; base when empty
	maxTs         int64 // largest batch max timestamp; -1 when empty
	offsetOfMaxTs int64 // last offset of the batch holding maxTs

	// aborted is the transaction index (txn_index.go), in marker order.
	aborted []AbortedTxn

	// writer-only
	txnDirty        bool      // the .txnindex was written since the last fsync
	txnIndexDamaged bool      // Open found the .txnindex damaged
	bytesSinceIndex int64     // bytes appended since the last index entry
	created         time.Time // by the log's clock, for segment.ms
	dirty           bool      // written since the last fsync
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentFileName(s.base, suffix))
}

// createSegment makes a new empty segment at base, replacing any leftover
// files of the same name, with its indexes preallocated and mapped for
// writing.
func createSegment(fsys vfs.FS, dir string, base int64, now time.Time, cfg Config) (*segment, error) {
	s := newSegmentShell(fsys, dir, base, now)
	if err := s.openLog(os.O_RDWR | os.O_CREATE | os.O_TRUNC); err != nil {
		return nil, err
	}
	// A leftover transaction index of an earlier segment at this base
	// (a truncation reuses the names) describes data that is gone.
	if err := fsys.Remove(s.path(txnIndexSuffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.close()
		return nil, fmt.Errorf("remove stale %s: %w", s.path(txnIndexSuffix), err)
	}
	if err := s.mapIndexesEmpty(cfg); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func newSegmentShell(fsys vfs.FS, dir string, base int64, now time.Time) *segment {
	s := &segment{
		base:          base,
		dir:           dir,
		fs:            fsys,
		next:          base,
		maxTs:         -1,
		offsetOfMaxTs: base,
		created:       now,
		index:         offsetIndex{base: base},
		times:         timeIndex{base: base, last: timeEntry{Timestamp: -1, Offset: base}},
	}
	s.index.file.path, s.index.file.fs = s.path(indexSuffix), fsys
	s.times.file.path, s.times.file.fs = s.path(timeIndexSuffix), fsys
	return s
}

// openLog opens the .log, the one descriptor a segment keeps.
func (s *segment) openLog(flags int) error {
	var err error
	if s.log, err = s.fs.OpenFile(s.path(logSuffix), flags, 0o644); err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	s.logRef = newFileRef(s.log)
	return nil
}

// mapIndexesEmpty empties both index files and maps them, preallocated, for
// writing.
func (s *segment) mapIndexesEmpty(cfg Config) error {
	if _, _, err := s.index.file.mapWritable(offsetIndexFileSize(cfg), 0, true); err != nil {
		return err
	}
	if _, _, err := s.times.file.mapWritable(timeIndexFileSize(cfg), 0, true); err != nil {
		return err
	}
	return nil
}

// resetIndexes empties both indexes (before a rebuild), leaving them mapped
// for writing.
func (s *segment) resetIndexes(cfg Config) error {
	if err := s.mapIndexesEmpty(cfg); err != nil {
		return err
	}
	s.index.n, s.index.last = 0, offsetEntry{}
	s.times.n, s.times.last = 0, timeEntry{Timestamp: -1, Offset: s.base}
	s.size, s.next, s.maxTs, s.offsetOfMaxTs, s.bytesSinceIndex = 0, s.base, -1, s.base, 0
	return nil
}

// trimIndexes cuts both index files to their entries, as a segment that
// stops being active is left on disk. The mappings stay until
// unmapIndexes.
func (s *segment) trimIndexes() error {
	return errors.Join(
		s.index.file.trim(s.index.n*offsetIndexEntrySize),
		s.times.file.trim(s.times.n*timeIndexEntrySize),
	)
}

// unmapIndexes drops both mappings; lookups map the (trimmed) files again
// read-only. Callers sharing the segment hold Log.mu's write lock.
func (s *segment) unmapIndexes() error {
	return errors.Join(s.index.file.unmap(), s.times.file.unmap())
}

// full reports whether either index has no room for another entry, which
// Kafka treats as a reason to roll.
func (s *segment) full(cfg Config) bool {
	return s.index.n >= s.index.limit(cfg) || s.times.n >= s.times.limit(cfg)
}

// addBatch accounts for the batch h already written at pos: it advances the
// size, next offset and max timestamp, and adds index entries following
// Kafka's rule (LogSegment.append): once more than index.interval.bytes have
// gone by since the last entry, index this batch's last offset at its
// position, and add a time index entry when the max timestamp grew. Callers
// sharing the segment hold Log.mu's write lock.
func (s *segment) addBatch(h *batchHeader, pos int64, cfg Config) error {
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.offsetOfMaxTs = h.MaxTimestamp, h.LastOffset()
	}
	if s.bytesSinceIndex > int64(cfg.IndexIntervalBytes) && s.index.n < s.index.limit(cfg) {
		e := offsetEntry{Offset: h.LastOffset(), Position: pos}
		if err := s.index.write(s.index.n, e); err != nil {
			return err
		}
		s.index.n++
		s.index.last = e
		if err := s.maybeAppendTime(s.times.limit(cfg)); err != nil {
			return err
		}
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.size()
	s.size = pos + h.size()
	s.next = h.LastOffset() + 1
	return nil
}

// maybeAppendTime adds (maxTs, offsetOfMaxTs) to the time index when it is
// newer than the last entry and fewer than limit entries are there. Rolling
// passes an unbounded limit, as Kafka skips the full check for the final
// entry of a segment; the mapping keeps a slot for it (timeIndexFileSize).
func (s *segment) maybeAppendTime(limit int) error {
	if s.maxTs <= s.times.last.Timestamp || s.times.n >= limit {
		return nil
	}
	e := timeEntry{Timestamp: s.maxTs, Offset: s.offsetOfMaxTs}
	if err := s.times.write(s.times.n, e); err != nil {
		return err
	}
	s.times.n++
	s.times.last = e
	return nil
}

// fitsOffset reports whether lastOffset can be stored relative to the base
// in an index's 4-byte field.
func (s *segment) fitsOffset(lastOffset int64) bool {
	return lastOffset-s.base <= math.MaxInt32 && lastOffset >= s.base
}

// sync fsyncs the .log and msyncs the indexes' entries.
func (s *segment) sync() error {
	if err := s.log.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", s.log.Name(), err)
	}
	if err := s.index.file.sync(s.index.n * offsetIndexEntrySize); err != nil {
		return err
	}
	if err := s.times.file.sync(s.times.n * timeIndexEntrySize); err != nil {
		return err
	}
	if err := s.syncTxnIndex(); err != nil {
		return err
	}
	s.dirty = false
	return nil
}

// close drops the index mappings (without trimming: a segment being
// replaced or deleted needs no trim, and Log.Close trims the active one
// first) and the segment's reference to the .log, which stays open while a
// Region from it is still in use.
func (s *segment) close() error {
	var errs []error
	if s.logRef != nil {
		if err := s.logRef.release(); err != nil {
			errs = append(errs, err)
		}
		s.logRef = nil
	}
	errs = append(errs, s.unmapIndexes())
	return errors.Join(errs...)
}

// remove closes the segment and deletes its files.
func (s *segment) remove() error {
	errs := []error{s.close()}
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
		if err := s.fs.Remove(s.path(suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// truncateAt cuts the .log to size bytes.
func (s *segment) truncateLog(size int64) error {
	if err := s.log.Truncate(size); err != nil {
		return fmt.Errorf("truncate %s: %w", s.log.Name(), err)
	}
	return nil
}
