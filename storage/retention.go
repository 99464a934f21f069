package storage

import (
	"fmt"

	"go.uber.org/zap"
)

// DeleteRetained deletes whole segments past retention.ms (by the largest
// timestamp in the segment) and retention.bytes, oldest first, advancing the
// log start offset. The active segment is rolled and deleted only when it too
// is expired and non-empty. It returns how many segments it deleted.
//
// Like Kafka, the time rule deletes the oldest segments while
// now - largestTimestamp > retention.ms, and the size rule then deletes the
// oldest segments while the log stays at or above retention.bytes without
// them. Segments are removed at once rather than renamed to .deleted first:
// Read holds the log's read lock for the whole copy, and a Region from
// ReadRegion holds its own reference to the .log, which keeps the unlinked
// file readable until the response using it has been sent.
func (l *Log) DeleteRetained() (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return 0, fmt.Errorf("retention on %s: %w", l.dir, ErrClosed)
	}
	if err := l.offline(); err != nil {
		return 0, fmt.Errorf("retention on %s: %w", l.dir, err)
	}
	now := l.now()
	nowMs := now.UnixMilli()
	n := l.startBreachedLocked() // how many of the oldest segments go
	if l.cfg.RetentionMs >= 0 && !l.cfg.KeepForever {
		for n < len(l.segs) {
			s := l.segs[n]
			if s.size == 0 || nowMs-s.maxTs <= l.cfg.RetentionMs {
				break
			}
			n++
		}
	}
	if l.cfg.RetentionBytes >= 0 && !l.cfg.KeepForever {
		var total int64
		for _, s := range l.segs[n:] {
			total += s.size
		}
		diff := total - l.cfg.RetentionBytes
		for n < len(l.segs) {
			s := l.segs[n]
			if s.size == 0 || diff-s.size < 0 {
				break
			}
			diff -= s.size
			n++
		}
	}
	if n == 0 {
		return 0, nil
	}
	if n == len(l.segs) {
		// Keep a segment to append to: start a fresh one at the log end.
		if err := l.rollLocked(now); err != nil {
			return 0, fmt.Errorf("retention on %s: %w", l.dir, l.fail(err))
		}
	}
	doomed := l.segs[:n:n]
	l.mu.Lock()
	l.segs = append([]*segment(nil), l.segs[n:]...)
	l.start = max(l.start, l.segs[0].base)
	l.mu.Unlock()
	var firstErr error
	for _, s := range doomed {
		l.logger.Info("deleting segment past retention or below the log start offset", zap.Int64("base", s.base), zap.Int64("size", s.size), zap.Int64("maxTimestamp", s.maxTs))
		// A segment that cannot be removed takes the log offline, as
		// any failed write does (Kafka's IOException on delete): its
		// files would otherwise outlive the log start they sit below.
		if err := s.remove(); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("retention on %s: %w", l.dir, l.fail(err))
		}
	}
	if l.producers != nil {
		l.producers.truncateHead(l.StartOffset())
		l.publishTxns()
	}
	start := l.StartOffset()
	l.dropSnapshots(func(o int64) bool { return o < start })
	return n, firstErr
}

// startBreachedLocked counts the oldest segments that lie wholly below the
// log start offset: those whose successor starts at or before it (Kafka's
// deleteLogStartOffsetBreachedSegments). The active segment has no
// successor and always stays. Called with wmu held.
func (l *Log) startBreachedLocked() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	n := 0
	for n+1 < len(l.segs) && l.segs[n+1].base <= l.start {
		n++
	}
	return n
}

// IncrementStartOffset moves the log start offset up to offset (a
// DeleteRecords on the leader, or the leader's log start on a follower:
// Kafka's maybeIncrementLogStartOffset) and deletes the segments that now
// lie wholly below it. Reads below the new start fail with
// ErrOffsetOutOfRange; a batch that straddles it stays whole on disk, as in
// Kafka. An offset at or below the current start changes nothing; one past
// the log end is an error (the broker checks the high watermark first).
// It reports whether the start moved.
func (l *Log) IncrementStartOffset(offset int64) (bool, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return false, fmt.Errorf("move log start of %s: %w", l.dir, ErrClosed)
	}
	l.mu.Lock()
	if offset <= l.start {
		l.mu.Unlock()
		return false, nil
	}
	if offset > l.end {
		end := l.end
		l.mu.Unlock()
		return false, fmt.Errorf("move log start of %s to %d past the log end %d: %w", l.dir, offset, end, ErrOffsetOutOfRange)
	}
	l.start = offset
	l.mu.Unlock()
	n := l.startBreachedLocked()
	var firstErr error
	if n > 0 {
		// Segments being fsynced after a roll may be among them.
		if err := l.waitFlushes(); err != nil {
			return true, fmt.Errorf("move log start of %s: %w", l.dir, err)
		}
		l.mu.Lock()
		doomed := l.segs[:n:n]
		l.segs = append([]*segment(nil), l.segs[n:]...)
		l.mu.Unlock()
		for _, s := range doomed {
			l.logger.Info("deleting segment below the log start offset", zap.Int64("base", s.base), zap.Int64("log_start_offset", offset))
			if err := s.remove(); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("move log start of %s: %w", l.dir, l.fail(err))
			}
		}
	}
	if l.producers != nil {
		l.producers.truncateHead(offset)
		l.publishTxns()
	}
	l.dropSnapshots(func(o int64) bool { return o < offset })
	return true, firstErr
}

// TruncateTo removes everything at and after offset (a follower's
// truncation).
//
// As in Kafka, the cut happens at a batch boundary: the batch containing
// offset goes entirely, so EndOffset may land below offset when offset falls
// inside a batch. An offset at or below the log start empties the log and
// restarts it at offset. Producer state is rebuilt from what remains.
func (l *Log) TruncateTo(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return fmt.Errorf("truncate %s: %w", l.dir, ErrClosed)
	}
	if offset >= l.end {
		return nil
	}
	if offset < 0 {
		return fmt.Errorf("truncate %s to %d: negative offset", l.dir, offset)
	}
	// A rolled segment still being synced may be cut or its files reused;
	// and the flusher must not move the recovery point past the new end.
	if err := l.waitFlushes(); err != nil {
		return fmt.Errorf("truncate %s: %w", l.dir, err)
	}
	if offset <= l.start {
		return l.truncateFully(offset)
	}
	keep := l.segmentFor(offset) + 1
	if l.segs[keep-1].base == offset {
		keep--
	}
	doomed := l.segs[keep:]
	kept := append([]*segment(nil), l.segs[:keep]...)
	s := kept[len(kept)-1]
	sc := newBatchScanner(s.log, s.size)
	var pos int64
	for pos < s.size {
		h, err := sc.header(pos)
		if err != nil {
			return fmt.Errorf("truncate %s: %w", l.dir, corruptAt(s, pos, err))
		}
		if h.LastOffset() >= offset {
			break
		}
		pos += h.size()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.segs = kept
	for _, d := range doomed {
		if err := d.remove(); err != nil {
			return fmt.Errorf("truncate %s: %w", l.dir, l.fail(err))
		}
	}
	if err := s.truncateLog(pos); err != nil {
		return fmt.Errorf("truncate %s: %w", l.dir, l.fail(err))
	}
	if _, err := s.recover(l.cfg); err != nil {
		return fmt.Errorf("truncate %s: rebuild indexes: %w", l.dir, l.fail(err))
	}
	l.end = s.next
	l.recoveryPoint = min(l.recoveryPoint, l.end)
	l.noteTruncation(l.end)
	ps, err := l.loadProducers(l.end) // drops the snapshots past the new end
	if err != nil {
		return fmt.Errorf("truncate %s: %w", l.dir, err)
	}
	l.producers.replaceWith(ps)
	l.publishTxns()
	return nil
}

// TruncateFullyTo deletes every segment and starts an empty log at offset,
// as a follower does when the leader's log starts after its own log end
// (Kafka's truncateFullyAndStartAt).
func (l *Log) TruncateFullyTo(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return fmt.Errorf("truncate %s: %w", l.dir, ErrClosed)
	}
	if offset < 0 {
		return fmt.Errorf("truncate %s to %d: negative offset", l.dir, offset)
	}
	if err := l.waitFlushes(); err != nil {
		return fmt.Errorf("truncate %s: %w", l.dir, err)
	}
	return l.truncateFully(offset)
}

// truncateFully deletes every segment and starts an empty log at offset.
// Called with wmu held.
func (l *Log) truncateFully(offset int64) error {
	// Hold mu from the start: createSegment may reuse (and empty) the files
	// of a segment that starts at offset, which no reader may be reading.
	l.mu.Lock()
	defer l.mu.Unlock()
	ns, err := createSegment(l.fs, l.dir, offset, l.now(), l.cfg)
	if err != nil {
		return fmt.Errorf("truncate %s: %w", l.dir, l.fail(err))
	}
	old := l.segs
	l.segs = []*segment{ns}
	l.dirUnsynced = true
	l.start, l.end, l.recoveryPoint = offset, offset, offset
	l.noteTruncation(offset)
	for _, s := range old {
		if s.base == offset {
			// createSegment reused its file names; only close it.
			if err := s.close(); err != nil {
				return fmt.Errorf("truncate %s: %w", l.dir, err)
			}
			continue
		}
		if err := s.remove(); err != nil {
			return fmt.Errorf("truncate %s: %w", l.dir, l.fail(err))
		}
	}
	l.producers.replaceWith(&ProducerState{})
	l.publishTxns()
	l.dropSnapshots(func(int64) bool { return true })
	return nil
}

// noteTruncation records a truncation to offset for the cleaner
// (CleanedThrough). Called with mu held.
func (l *Log) noteTruncation(offset int64) {
	if l.truncatedTo < 0 || offset < l.truncatedTo {
		l.truncatedTo = offset
	}
}
