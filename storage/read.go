package storage

import (
	"fmt"
	"math"
)

// fileRegion is a run of whole batches inside one segment's .log: what a
// read resolves to before any byte is copied. Keeping the lookup apart from
// the copy lets a later sendfile path hand the region to the socket instead.
type fileRegion struct {
	seg  *segment
	pos  int64
	n    int64
	next int64 // the offset after the region's last batch
}

// Read returns whole batches starting with the batch that contains offset,
// stopping before a batch whose base offset is >= maxOffset (the high
// watermark) and before maxBytes would be exceeded, except that the first
// batch is always returned whole even when larger than maxBytes (KIP-74).
// An offset equal to EndOffset returns no bytes; one outside
// [StartOffset, EndOffset] returns ErrOffsetOutOfRange.
//
// Like Kafka, a read returns batches from one segment only; the next read
// continues in the following segment.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, fmt.Errorf("read %s: %w", l.dir, ErrClosed)
	}
	if offset < l.start || offset > l.end {
		return nil, fmt.Errorf("read %s at %d, log holds [%d, %d): %w", l.dir, offset, l.start, l.end, ErrOffsetOutOfRange)
	}
	r, err := l.locate(offset, int64(maxBytes), maxOffset)
	if err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", l.dir, offset, err)
	}
	return l.copyRegion(r)
}

// copyRegion reads a region into a new slice. Callers hold mu's read lock.
func (l *Log) copyRegion(r fileRegion) ([]byte, error) {
	if r.n == 0 {
		return nil, nil
	}
	buf := make([]byte, r.n)
	if _, err := r.seg.log.ReadAt(buf, r.pos); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", r.seg.log.Name(), r.pos, err)
	}
	return buf, nil
}

// scanner returns a batch scanner over s's published bytes, with a buffer
// from the log's pool; release it with putScanner.
func (l *Log) scanner(s *segment) *batchScanner {
	sc, _ := l.scanBufs.Get().(*batchScanner)
	if sc == nil {
		sc = &batchScanner{}
	}
	sc.r, sc.limit, sc.start, sc.n = s.log, s.size, 0, 0
	return sc
}

func (l *Log) putScanner(sc *batchScanner) {
	sc.r = nil
	l.scanBufs.Put(sc)
}

// locate finds the region to return for a read at offset: the segment with
// the largest base offset <= offset, then the offset index's position at or
// before it, then a walk over batch headers to the batch containing offset,
// then as many following batches as the limits allow. A segment that ends
// before offset (the rest of it was never written, or compaction left a gap)
// hands over to the next one. Callers hold mu's read lock.
func (l *Log) locate(offset, maxBytes, maxOffset int64) (fileRegion, error) {
	for i := l.segmentFor(offset); i < len(l.segs); i++ {
		s := l.segs[i]
		if offset >= s.next || s.size == 0 {
			continue
		}
		pos, err := s.index.lookup(offset)
		if err != nil {
			return fileRegion{}, err
		}
		r, found, err := l.collect(s, pos, offset, maxBytes, maxOffset)
		if err != nil || found {
			return r, err
		}
	}
	return fileRegion{}, nil
}

// collect walks s from pos to the first batch whose last offset is >=
// offset and extends the region over following batches within the limits.
// found is false when no batch of s reaches offset.
func (l *Log) collect(s *segment, pos, offset, maxBytes, maxOffset int64) (fileRegion, bool, error) {
	sc := l.scanner(s)
	defer l.putScanner(sc)
	for pos < s.size {
		h, err := sc.header(pos)
		if err != nil {
			return fileRegion{}, false, corruptAt(s, pos, err)
		}
		if h.LastOffset() >= offset {
			break
		}
		pos += h.size()
	}
	if pos >= s.size {
		return fileRegion{}, false, nil
	}
	r := fileRegion{seg: s, pos: pos}
	for p := pos; p < s.size; {
		h, err := sc.header(p)
		if err != nil {
			return fileRegion{}, false, corruptAt(s, p, err)
		}
		if h.BaseOffset >= maxOffset || (r.n > 0 && r.n+h.size() > maxBytes) {
			break
		}
		r.n += h.size()
		r.next = h.LastOffset() + 1
		p += h.size()
		if r.n >= maxBytes {
			break
		}
	}
	return r, true, nil
}

// corruptAt wraps a failure to decode published bytes: they passed recovery
// or Append, so bad bytes now mean the disk changed under us.
func corruptAt(s *segment, pos int64, err error) error {
	if isDataError(err) {
		return fmt.Errorf("%s at %d: %w: %w", s.log.Name(), pos, ErrCorruption, err)
	}
	return err
}

// BatchAtTimestamp returns the first stored batch whose max timestamp is
// >= ts (found through the time indexes), or ok=false when none is.
func (l *Log) BatchAtTimestamp(ts int64) (batch []byte, ok bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, false, fmt.Errorf("find timestamp in %s: %w", l.dir, ErrClosed)
	}
	for _, s := range l.segs {
		if s.size == 0 || s.maxTs < ts {
			continue
		}
		r, found, err := l.findTimestamp(s, ts)
		if err != nil {
			return nil, false, fmt.Errorf("find timestamp %d in %s: %w", ts, l.dir, err)
		}
		if found {
			b, err := l.copyRegion(r)
			return b, err == nil, err
		}
	}
	return nil, false, nil
}

// findTimestamp locates in s the first batch with max timestamp >= ts. The
// last time index entry below ts bounds where to start: every batch up to
// its offset is older than ts.
func (l *Log) findTimestamp(s *segment, ts int64) (fileRegion, bool, error) {
	var pos int64
	e, ok, err := s.times.lookupBelow(ts)
	if err != nil {
		return fileRegion{}, false, err
	}
	if ok {
		if pos, err = s.index.lookup(e.Offset); err != nil {
			return fileRegion{}, false, err
		}
	}
	sc := l.scanner(s)
	defer l.putScanner(sc)
	for pos < s.size {
		h, err := sc.header(pos)
		if err != nil {
			return fileRegion{}, false, corruptAt(s, pos, err)
		}
		if h.MaxTimestamp >= ts {
			return fileRegion{seg: s, pos: pos, n: h.size(), next: h.LastOffset() + 1}, true, nil
		}
		pos += h.size()
	}
	return fileRegion{}, false, nil
}

// MaxTimestampBatch returns the batch holding the largest timestamp in the
// log (ListOffsets -3), or ok=false for an empty log. With ties, the
// earliest such batch wins.
func (l *Log) MaxTimestampBatch() (batch []byte, ok bool, err error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, false, fmt.Errorf("max timestamp of %s: %w", l.dir, ErrClosed)
	}
	var best *segment
	for _, s := range l.segs {
		if s.size > 0 && (best == nil || s.maxTs > best.maxTs) {
			best = s
		}
	}
	if best == nil {
		return nil, false, nil
	}
	pos, err := best.index.lookup(best.offsetOfMaxTs)
	if err != nil {
		return nil, false, fmt.Errorf("max timestamp of %s: %w", l.dir, err)
	}
	r, found, err := l.collect(best, pos, best.offsetOfMaxTs, 1, math.MaxInt64)
	if err != nil || !found {
		return nil, false, err
	}
	b, err := l.copyRegion(r)
	return b, err == nil, err
}
