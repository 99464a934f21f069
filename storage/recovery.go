package storage

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/gokafka/storage/vfs"
	"go.uber.org/zap"
)

// listSegmentBases returns the base offsets of the .log files in dir,
// sorted, after removing leftovers Kafka would also discard on load: files
// ending in .deleted (a deletion that did not finish), .tmp, and indexes
// whose .log is gone.
func listSegmentBases(fsys vfs.FS, dir string, logger *zap.Logger) ([]int64, error) {
	if err := finishCleanerFiles(fsys, dir, logger); err != nil {
		return nil, err
	}
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	logs := map[int64]bool{}
	var indexes []string
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() {
			continue
		}
		if strings.HasSuffix(name, ".deleted") || strings.HasSuffix(name, ".tmp") {
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove leftover %s: %w", name, err)
			}
			continue
		}
		if base, ok := parseSegmentName(name, logSuffix); ok {
			logs[base] = true
		} else if _, ok := parseSegmentName(name, indexSuffix); ok {
			indexes = append(indexes, name)
		} else if _, ok := parseSegmentName(name, timeIndexSuffix); ok {
			indexes = append(indexes, name)
		}
	}
	for _, name := range indexes {
		base, _ := parseSegmentName(name, filepath.Ext(name))
		if !logs[base] {
			logger.Info("removing index without a segment", zap.String("file", filepath.Join(dir, name)))
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove orphan index %s: %w", name, err)
			}
		}
	}
	bases := make([]int64, 0, len(logs))
	for b := range logs {
		bases = append(bases, b)
	}
	slices.Sort(bases)
	return bases, nil
}

// finishCleanerFiles settles what a log cleaner left behind in a crash
// (compact.go's swap), as Kafka's log loading does: .cleaned files are an
// unfinished clean whose old segments are all still there, and are
// deleted; a <base>.log.swap is a complete, synced clean of a group of
// segments starting at base, so it (and its index .swap files, if any are
// left) is renamed over <base>'s files and the group's other segments, those
// starting in (base, end of the swapped segment), are deleted. Index .swap
// files without a .log.swap belong to an unfinished clean and go.
func finishCleanerFiles(fsys vfs.FS, dir string, logger *zap.Logger) error {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	var swaps []int64
	var stray []string
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasSuffix(name, cleanedSuffix):
			stray = append(stray, name)
		case strings.HasSuffix(name, logSuffix+swapSuffix):
			if base, ok := parseSegmentName(strings.TrimSuffix(name, swapSuffix), logSuffix); ok {
				swaps = append(swaps, base)
			} else {
				stray = append(stray, name)
			}
		case strings.HasSuffix(name, swapSuffix):
			base, ok := parseSegmentName(strings.TrimSuffix(name, swapSuffix), filepath.Ext(strings.TrimSuffix(name, swapSuffix)))
			if !ok || !fileExists(filepath.Join(dir, segmentFileName(base, logSuffix+swapSuffix))) {
				stray = append(stray, name)
			}
		}
	}
	for _, name := range stray {
		logger.Info("removing an unfinished clean's file", zap.String("file", filepath.Join(dir, name)))
		if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	for _, base := range swaps {
		p := func(suf string) string { return filepath.Join(dir, segmentFileName(base, suf)) }
		for _, suf := range []string{timeIndexSuffix, indexSuffix} {
			if fileExists(p(suf + swapSuffix)) {
				if err := fsys.Rename(p(suf+swapSuffix), p(suf)); err != nil {
					return fmt.Errorf("complete swap of %d: %w", base, err)
				}
			} else if err := fsys.Remove(p(suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
				// The old segment's index cannot describe the new .log.
				return fmt.Errorf("complete swap of %d: %w", base, err)
			}
		}
		if err := fsys.Rename(p(logSuffix+swapSuffix), p(logSuffix)); err != nil {
			return fmt.Errorf("complete swap of %d: %w", base, err)
		}
		end, err := segmentFileEnd(p(logSuffix), base)
		if err != nil {
			return fmt.Errorf("complete swap of %d: %w", base, err)
		}
		logger.Warn("completed an interrupted segment swap", zap.Int64("base", base), zap.Int64("end", end))
		for _, e := range ents {
			b, ok := parseSegmentName(e.Name(), logSuffix)
			if !ok || b <= base || b >= end {
				continue
			}
			for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
				if err := fsys.Remove(filepath.Join(dir, segmentFileName(b, suf))); err != nil && !errors.Is(err, os.ErrNotExist) {
					return fmt.Errorf("complete swap of %d: %w", base, err)
				}
			}
		}
	}
	if len(swaps) > 0 {
		return syncDir(fsys, dir)
	}
	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// segmentFileEnd walks the batch headers of a .log and returns the offset
// after its last whole batch (base for an empty file).
func segmentFileEnd(path string, base int64) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", path, err)
	}
	sc := newBatchScanner(f, fi.Size())
	end := base
	for pos := int64(0); pos < fi.Size(); {
		h, err := sc.header(pos)
		if err != nil {
			break // recovery proper deals with a bad tail
		}
		end = max(end, h.LastOffset()+1)
		pos += h.size()
	}
	return end, nil
}

// parseSegmentName parses "<20 digits><suffix>".
func parseSegmentName(name, suffix string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, suffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || base < 0 {
		return 0, false
	}
	return base, true
}

// isDataError reports whether err means "the bytes on disk are bad" (torn
// or failing a check) rather than an I/O failure.
func isDataError(err error) bool {
	return errors.Is(err, ErrCorruption) || errors.Is(err, io.ErrUnexpectedEOF)
}

// recover walks every batch of the segment from its start, as Kafka's
// LogSegment.recover does: each batch must have a sane header, lie wholly
// inside the file, carry magic 2 and a matching CRC-32C, and start at or
// after the previous batch's end. Both indexes are rebuilt from the batches
// that pass; the .log is truncated at the first one that does not. It
// reports whether bytes were cut.
func (s *segment) recover(cfg Config) (truncated bool, err error) {
	fi, err := s.log.Stat()
	if err != nil {
		return false, fmt.Errorf("stat %s: %w", s.log.Name(), err)
	}
	fileSize := fi.Size()
	if err := s.resetIndexes(cfg); err != nil {
		return false, err
	}
	sc := newBatchScanner(s.log, fileSize)
	var pos int64
	for pos < fileSize {
		h, err := sc.header(pos)
		if err != nil {
			if isDataError(err) {
				break
			}
			return false, err
		}
		if h.BaseOffset < s.next || !s.fitsOffset(h.LastOffset()) {
			break
		}
		ok, err := sc.crcValid(&h, pos)
		if err != nil {
			if isDataError(err) {
				break
			}
			return false, err
		}
		if !ok {
			break
		}
		if err := s.addBatch(&h, pos, cfg); err != nil {
			return false, err
		}
		pos += h.size()
	}
	if pos < fileSize {
		if err := s.truncateLog(pos); err != nil {
			return false, err
		}
		truncated = true
	}
	s.dirty = true
	return truncated, nil
}

// loadFromIndexes opens a segment that needs no full scan: it checks both
// index files and then walks only the batch headers after the last offset
// index entry to learn the segment's end offset and max timestamp. Like
// Kafka's sanity checks it does not read every batch an entry points at:
// the last offset index entry must point at its batch, and an inactive
// segment's time index must end with the segment's max timestamp. Any
// inconsistency is returned as an error wrapping ErrCorruption and the caller
// falls back to recover.
//
// The active segment's indexes are mapped for writing (preallocated past
// the entries found); an inactive segment's are mapped read-only for the
// check and unmapped after it, to be mapped again on the first lookup.
func (s *segment) loadFromIndexes(inactive bool, cfg Config) error {
	fi, err := s.log.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", s.log.Name(), err)
	}
	logSize := fi.Size()
	var idata, tdata []byte
	if inactive {
		defer s.unmapIndexes()
		if idata, err = s.index.file.view(); err == nil {
			tdata, err = s.times.file.view()
		}
		if err != nil {
			return corruptIfMissing(err) // a missing index is rebuilt
		}
	} else {
		isize, icreated, err := s.index.file.mapWritable(offsetIndexFileSize(cfg), 0, false)
		if err != nil {
			return err
		}
		tsize, tcreated, err := s.times.file.mapWritable(timeIndexFileSize(cfg), timeIndexEntrySize, false)
		if err != nil {
			return err
		}
		if (icreated || tcreated) && logSize > 0 {
			return fmt.Errorf("%s: index files missing: %w", s.log.Name(), ErrCorruption)
		}
		idata, tdata = s.index.file.data[:isize], s.times.file.data[:tsize]
	}
	n, last, err := loadOffsetIndex(s.index.file.path, idata, s.base, logSize)
	if err != nil {
		return err
	}
	tn, tlast, err := loadTimeIndex(s.times.file.path, tdata, s.base)
	if err != nil {
		return err
	}
	// A time index entry without any offset index entry is normal: a
	// segment smaller than index.interval.bytes gets no offset entry, but
	// its roll adds a time entry for its max timestamp (as Kafka's does).
	s.index.n, s.index.last = n, last
	s.times.n, s.times.last = tn, tlast
	s.maxTs, s.offsetOfMaxTs = tlast.Timestamp, tlast.Offset
	s.next = s.base
	var pos int64
	if n > 0 {
		pos = last.Position
		s.bytesSinceIndex = logSize - pos
	} else {
		s.bytesSinceIndex = logSize
	}
	sc := newBatchScanner(s.log, logSize)
	first := true
	for pos < logSize {
		h, err := sc.header(pos)
		if err != nil {
			if isDataError(err) {
				return fmt.Errorf("%s at %d: %w: %w", s.log.Name(), pos, ErrCorruption, err)
			}
			return err
		}
		if first && n > 0 && h.MaxTimestamp > tlast.Timestamp {
			// Indexing this batch recorded a max timestamp at least its own.
			return fmt.Errorf("%s: misses the entry for offset %d: %w", s.times.file.path, last.Offset, ErrCorruption)
		}
		if first && n > 0 && h.LastOffset() != last.Offset {
			return fmt.Errorf("%s: index entry %d does not point at its batch: %w", s.index.file.path, last.Offset, ErrCorruption)
		}
		if h.BaseOffset < s.next || !s.fitsOffset(h.LastOffset()) {
			return fmt.Errorf("%s at %d: offsets out of order: %w", s.log.Name(), pos, ErrCorruption)
		}
		first = false
		if h.MaxTimestamp > s.maxTs {
			s.maxTs, s.offsetOfMaxTs = h.MaxTimestamp, h.LastOffset()
		}
		s.next = h.LastOffset() + 1
		pos += h.size()
	}
	if tn > 0 && tlast.Offset >= s.next {
		return fmt.Errorf("%s: entry past the segment end: %w", s.times.file.path, ErrCorruption)
	}
	if n > 0 && tn == 0 && s.maxTs >= 0 || inactive && s.maxTs > tlast.Timestamp {
		return fmt.Errorf("%s: entries missing: %w", s.times.file.path, ErrCorruption)
	}
	if logSize == 0 {
		s.maxTs, s.offsetOfMaxTs = -1, s.base
	}
	s.size = logSize
	return nil
}

// loadSegments opens every segment of dir. After an unclean shutdown the
// segments from the one holding recoveryPoint on (and always the last one)
// are scanned with recover; any other segment whose indexes fail their checks
// is scanned too. A segment cut short by recovery ends the log: the segments
// after it are deleted, as Kafka does; so does a segment scanned after an
// unclean shutdown that ends before the next one begins above the recovery
// point (a crash lost its last whole batches).
func loadSegments(dir string, cfg Config, opts OpenOptions, logger *zap.Logger) ([]*segment, error) {
	bases, err := listSegmentBases(opts.FS, dir, logger)
	if err != nil {
		return nil, err
	}
	now := opts.Now()
	segs := make([]*segment, 0, len(bases))
	closeAll := func() {
		for _, s := range segs {
			s.close()
		}
	}
	for _, b := range bases {
		s := newSegmentShell(opts.FS, dir, b, now)
		if err := s.openLog(os.O_RDWR); err != nil {
			closeAll()
			return nil, err
		}
		segs = append(segs, s)
	}
	scanFrom := len(segs) // index of the first segment to scan
	if !opts.CleanShutdown {
		// From the segment holding the recovery point (every segment when
		// they all start after it), but always the active one.
		scanFrom = 0
		for i, s := range segs {
			if s.base <= opts.RecoveryPoint {
				scanFrom = i
			}
		}
		scanFrom = min(scanFrom, max(len(segs)-1, 0))
	}
	for i := 0; i < len(segs); i++ {
		s := segs[i]
		scan := i >= scanFrom
		if !scan {
			if err := s.loadFromIndexes(i < len(segs)-1, cfg); err != nil {
				if !isDataError(err) {
					closeAll()
					return nil, err
				}
				logger.Warn("rebuilding segment indexes", zap.String("segment", s.log.Name()), zap.Error(err))
				scan = true
			}
		}
		if i > 0 && s.base < segs[i-1].next {
			logger.Warn("segment overlaps its predecessor", zap.String("segment", s.log.Name()))
		}
		if !scan {
			continue
		}
		truncated, err := s.recover(cfg)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("recover %s: %w", s.log.Name(), err)
		}
		if !truncated && !cfg.Compact && i >= scanFrom && i < len(segs)-1 && s.next < segs[i+1].base && segs[i+1].base > opts.RecoveryPoint {
			// A roll starts the next segment where this one ended, so a
			// segment scanned after an unclean shutdown that ends short
			// of it, above the recovery point, lost its tail in the crash
			// (whole batches, or all of it): the log ends here, as after
			// a torn batch, rather than skip the lost offsets. Below the
			// recovery point everything, directory entries included, was
			// synced, so a gap there is not a lost tail (a segment that
			// retention failed to remove) and a segment scanned only to
			// rebuild its indexes never cuts the log. A compacted log
			// has such gaps by design, and the cleaner's rewrite may be
			// newer than the checkpointed recovery point: it is never
			// cut at a gap.
			logger.Warn("segment ends before the next one begins; its tail was lost",
				zap.String("segment", s.log.Name()), zap.Int64("nextOffset", s.next), zap.Int64("nextSegment", segs[i+1].base))
			truncated = true
		}
		if !truncated && i < len(segs)-1 {
			// An inactive segment ends with the time index entry rolling
			// added; rebuild it too.
			// Then it is left as rolling leaves it: trimmed, unmapped.
			if err := s.maybeAppendTime(math.MaxInt); err != nil {
				closeAll()
				return nil, err
			}
			if err := s.trimIndexes(); err != nil {
				closeAll()
				return nil, err
			}
			if err := s.unmapIndexes(); err != nil {
				closeAll()
				return nil, err
			}
		}
		if truncated {
			logger.Warn("truncated corrupt or torn segment tail",
				zap.String("segment", s.log.Name()), zap.Int64("validBytes", s.size), zap.Int64("nextOffset", s.next))
			for _, later := range segs[i+1:] {
				logger.Warn("deleting segment after a truncated one", zap.String("segment", later.log.Name()))
				if err := later.remove(); err != nil {
					closeAll()
					return nil, fmt.Errorf("delete segment after truncation: %w", err)
				}
			}
			segs = segs[:i+1]
		}
	}
	return segs, nil
}
