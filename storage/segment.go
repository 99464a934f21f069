package storage

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
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

// segment is one .log file with its two sparse indexes. Fields marked
// "published" are written under Log.mu's write lock and read under its read
// lock; the others belong to the single writer.
type segment struct {
	base int64
	dir  string
	log  *os.File
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

	// set by openFiles: the index files did not exist and were created empty
	indexCreated bool

	// writer-only
	bytesSinceIndex int64     // bytes appended since the last index entry
	created         time.Time // by the log's clock, for segment.ms
	dirty           bool      // written since the last fsync
}

func (s *segment) path(suffix string) string {
	return filepath.Join(s.dir, segmentFileName(s.base, suffix))
}

// createSegment makes a new empty segment at base, replacing any leftover
// files of the same name.
func createSegment(dir string, base int64, now time.Time) (*segment, error) {
	s := newSegmentShell(dir, base, now)
	flags := os.O_RDWR | os.O_CREATE | os.O_TRUNC
	if err := s.openFiles(flags); err != nil {
		return nil, err
	}
	s.index.mem = []byte{}
	return s, nil
}

func newSegmentShell(dir string, base int64, now time.Time) *segment {
	return &segment{
		base:          base,
		dir:           dir,
		next:          base,
		maxTs:         -1,
		offsetOfMaxTs: base,
		created:       now,
		index:         offsetIndex{base: base},
		times:         timeIndex{base: base, last: timeEntry{Timestamp: -1, Offset: base}},
	}
}

func (s *segment) openFiles(flags int) error {
	var err error
	if s.log, err = os.OpenFile(s.path(logSuffix), flags, 0o644); err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	s.logRef = newFileRef(s.log)
	idxFlags := os.O_RDWR | os.O_CREATE | (flags & os.O_TRUNC)
	for _, suf := range []string{indexSuffix, timeIndexSuffix} {
		if _, err := os.Stat(s.path(suf)); errors.Is(err, os.ErrNotExist) {
			s.indexCreated = true
		}
	}
	if s.index.f, err = os.OpenFile(s.path(indexSuffix), idxFlags, 0o644); err != nil {
		s.log.Close()
		return fmt.Errorf("open index: %w", err)
	}
	if s.times.f, err = os.OpenFile(s.path(timeIndexSuffix), idxFlags, 0o644); err != nil {
		s.log.Close()
		s.index.f.Close()
		return fmt.Errorf("open time index: %w", err)
	}
	return nil
}

// resetIndexes empties both indexes (before a rebuild).
func (s *segment) resetIndexes() error {
	if err := s.index.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", s.index.f.Name(), err)
	}
	if err := s.times.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", s.times.f.Name(), err)
	}
	s.index.n, s.index.last, s.index.mem = 0, offsetEntry{}, []byte{}
	s.times.n, s.times.last = 0, timeEntry{Timestamp: -1, Offset: s.base}
	s.size, s.next, s.maxTs, s.offsetOfMaxTs, s.bytesSinceIndex = 0, s.base, -1, s.base, 0
	return nil
}

// full reports whether either index has no room for another entry, which
// Kafka treats as a reason to roll.
func (s *segment) full(cfg Config) bool {
	return s.index.n >= offsetIndexMaxEntries(cfg) || s.times.n >= timeIndexMaxEntries(cfg)
}

// addBatch accounts for the batch h already written at pos: it advances the
// size, next offset and max timestamp, and adds index entries following
// Kafka's rule (LogSegment.append): once more than index.interval.bytes have
// gone by since the last entry, index this batch's last offset at its
// position, and add a time index entry when the max timestamp grew. Callers
// sharing the segment hold Log.mu's write lock.
func (s *segment) addBatch(h *batchHeader, pos int64, cfg Config) error {
	if h.MaxTimestamp > s.maxTs {
		s.maxTs, s.offsetOfMaxTs = h.MaxTimestamp, h.lastOffset()
	}
	if s.bytesSinceIndex > int64(cfg.IndexIntervalBytes) && s.index.n < offsetIndexMaxEntries(cfg) {
		e := offsetEntry{Offset: h.lastOffset(), Position: pos}
		if err := s.index.write(s.index.n, e); err != nil {
			return err
		}
		s.index.n++
		s.index.last = e
		if err := s.maybeAppendTime(timeIndexMaxEntries(cfg)); err != nil {
			return err
		}
		s.bytesSinceIndex = 0
	}
	s.bytesSinceIndex += h.size()
	s.size = pos + h.size()
	s.next = h.lastOffset() + 1
	return nil
}

// maybeAppendTime adds (maxTs, offsetOfMaxTs) to the time index when it is
// newer than the last entry and fewer than limit entries are there. Rolling
// passes an unbounded limit, as Kafka skips the full check for the final
// entry of a segment.
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

// sync fsyncs the .log and both indexes.
func (s *segment) sync() error {
	for _, f := range []*os.File{s.log, s.index.f, s.times.f} {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
	}
	s.dirty = false
	return nil
}

// close closes the indexes and drops the segment's reference to the .log,
// which stays open while a Region from it is still in use.
func (s *segment) close() error {
	var errs []error
	if s.logRef != nil {
		if err := s.logRef.release(); err != nil {
			errs = append(errs, err)
		}
		s.logRef = nil
	}
	for _, f := range []*os.File{s.index.f, s.times.f} {
		if f != nil {
			if err := f.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// remove closes the segment and deletes its files.
func (s *segment) remove() error {
	errs := []error{s.close()}
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := os.Remove(s.path(suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
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
