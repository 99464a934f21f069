package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/storage/vfs"
	"go.uber.org/zap"
)

// The transaction index, `<20-digit base offset>.txnindex` beside each
// segment, in Kafka's format (TransactionIndex, AbortedTxn): one entry per
// transaction aborted by a marker in that segment, in marker order, all
// integers big-endian, 34 bytes each:
//
//	version             int16  0
//	producer_id         int64
//	first_offset        int64  offset of the transaction's first batch
//	last_offset         int64  offset of the ABORT marker
//	last_stable_offset  int64  the LSO once the marker was written: the
//	                           first offset of the oldest transaction still
//	                           open, else last_offset + 1
//
// A read_committed fetch lists the aborted transactions overlapping what
// it returns from these entries (kept in memory per segment), without
// reading the log. The file is written when an abort marker is appended,
// fsynced with its segment, deleted with it, and rebuilt by Open from the
// log for every segment that producer state is replayed over.
const (
	txnIndexSuffix    = ".txnindex"
	txnIndexEntrySize = 2 + 8 + 8 + 8 + 8
	txnIndexVersion   = 0
)

// AbortedTxn is one entry of a transaction index.
type AbortedTxn struct {
	ProducerID       int64
	FirstOffset      int64
	LastOffset       int64
	LastStableOffset int64
}

// appendAbortedTxn encodes a to dst.
func appendAbortedTxn(dst []byte, a AbortedTxn) []byte {
	dst = binary.BigEndian.AppendUint16(dst, txnIndexVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.ProducerID))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.FirstOffset))
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.LastOffset))
	return binary.BigEndian.AppendUint64(dst, uint64(a.LastStableOffset))
}

// decodeTxnIndex parses a transaction index file. It returns the whole,
// valid entries before the first bad one, and an ErrCorruption error when
// there is a bad one or a partial entry at the end (a torn write): the
// caller keeps what was read and rebuilds from the log where it can. It
// allocates only for the entries present.
func decodeTxnIndex(b []byte) ([]AbortedTxn, error) {
	out := make([]AbortedTxn, 0, len(b)/txnIndexEntrySize)
	for i := 0; i+txnIndexEntrySize <= len(b); i += txnIndexEntrySize {
		e := b[i:]
		if v := int16(binary.BigEndian.Uint16(e)); v != txnIndexVersion {
			return out, fmt.Errorf("transaction index entry %d: version %d: %w", i/txnIndexEntrySize, v, ErrCorruption)
		}
		a := AbortedTxn{
			ProducerID:       int64(binary.BigEndian.Uint64(e[2:])),
			FirstOffset:      int64(binary.BigEndian.Uint64(e[10:])),
			LastOffset:       int64(binary.BigEndian.Uint64(e[18:])),
			LastStableOffset: int64(binary.BigEndian.Uint64(e[26:])),
		}
		if a.ProducerID < 0 || a.FirstOffset < 0 || a.LastOffset < a.FirstOffset || a.LastStableOffset < 0 {
			return out, fmt.Errorf("transaction index entry %d (producer %d, offsets %d..%d): %w", i/txnIndexEntrySize, a.ProducerID, a.FirstOffset, a.LastOffset, ErrCorruption)
		}
		out = append(out, a)
	}
	if r := len(b) % txnIndexEntrySize; r != 0 {
		return out, fmt.Errorf("transaction index: %d trailing bytes: %w", r, ErrCorruption)
	}
	return out, nil
}

// loadTxnIndex reads the segment's transaction index, if it has one. A
// damaged file keeps its readable entries, with a warning; Open rebuilds
// the segments it replays.
func (s *segment) loadTxnIndex(logger *zap.Logger) error {
	b, err := vfs.ReadFile(s.fs, s.path(txnIndexSuffix))
	if errors.Is(err, os.ErrNotExist) {
		s.aborted = nil
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", s.path(txnIndexSuffix), err)
	}
	s.aborted, err = decodeTxnIndex(b)
	if err != nil {
		logger.Warn("transaction index damaged; keeping its whole entries", zap.Int64("base", s.base), zap.Error(err))
		s.txnIndexDamaged = true
	}
	// Entries for markers that recovery cut from the log go.
	n := len(s.aborted)
	for n > 0 && s.aborted[n-1].LastOffset >= s.next {
		n--
	}
	if n < len(s.aborted) {
		s.aborted, s.txnIndexDamaged = s.aborted[:n], true
	}
	return nil
}

// appendTxnIndex writes one entry at the end of the segment's transaction
// index file. The caller publishes it in s.aborted under Log.mu.
func (s *segment) appendTxnIndex(a AbortedTxn) error {
	f, err := s.fs.OpenFile(s.path(txnIndexSuffix), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path(txnIndexSuffix), err)
	}
	var buf [txnIndexEntrySize]byte
	_, werr := f.WriteAt(appendAbortedTxn(buf[:0], a), int64(len(s.aborted))*txnIndexEntrySize)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", s.path(txnIndexSuffix), err)
	}
	s.txnDirty = true
	return nil
}

// writeTxnIndex replaces the segment's transaction index with entries (an
// empty list removes the file), synced, through a rename so a crash leaves
// the old file or the new one. Only rebuilds and cleans rewrite a whole
// index: appends go through appendTxnIndex.
func (s *segment) writeTxnIndex(entries []AbortedTxn) error {
	path := s.path(txnIndexSuffix)
	if len(entries) == 0 {
		if err := s.fs.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	b := make([]byte, 0, len(entries)*txnIndexEntrySize)
	for _, a := range entries {
		b = appendAbortedTxn(b, a)
	}
	return writeFileAtomic(s.fs, path, b)
}

// syncTxnIndex fsyncs the transaction index when entries were written
// since the last sync.
func (s *segment) syncTxnIndex() error {
	if !s.txnDirty {
		return nil
	}
	f, err := s.fs.OpenFile(s.path(txnIndexSuffix), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		s.txnDirty = false
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", s.path(txnIndexSuffix), err)
	}
	serr := f.Sync()
	if err := errors.Join(serr, f.Close()); err != nil {
		return fmt.Errorf("fsync %s: %w", s.path(txnIndexSuffix), err)
	}
	s.txnDirty = false
	return nil
}

// rebuildTxnIndex sets the segment's entries to the ones it had for
// markers below from plus rebuilt (from a replay of the log from from on),
// rewriting the file when they differ from what it holds. Called with wmu
// held, before readers see the log or under mu.
func (s *segment) rebuildTxnIndex(from int64, rebuilt []AbortedTxn) error {
	var keep []AbortedTxn
	for _, a := range s.aborted {
		if a.LastOffset < from && a.LastOffset < s.next {
			keep = append(keep, a)
		}
	}
	keep = append(keep, rebuilt...)
	if slices.Equal(keep, s.aborted) && !s.txnIndexDamaged {
		return nil
	}
	if err := s.writeTxnIndex(keep); err != nil {
		return err
	}
	s.aborted, s.txnIndexDamaged = keep, false
	return nil
}

// markerOf decodes the marker of the control batch at the start of batch;
// nil for a data batch, or a control record that is no transaction marker
// or cannot be read (logged: a follower copies whatever the leader wrote).
func markerOf(batch []byte, h *batchHeader, logger *zap.Logger) *recordbatch.EndTxnMarker {
	if !h.IsControl() {
		return nil
	}
	m, ok, err := recordbatch.ReadEndTxnMarker(batch)
	if err != nil {
		logger.Warn("unreadable control record", zap.Int64("offset", h.BaseOffset), zap.Error(err))
		return nil
	}
	if !ok {
		return nil
	}
	return &m
}

// abortedEntry is the index entry of an aborted transaction, with the last
// stable offset as Kafka's ProducerStateManager.lastStableOffset computes
// it once the marker is in: the oldest other open transaction, else the
// offset after the marker.
func (ps *ProducerState) abortedEntry(c completedTxn) AbortedTxn {
	lso := c.LastOffset + 1
	if f, ok := ps.firstOpenExcept(c.ProducerID); ok {
		lso = f
	}
	return AbortedTxn{ProducerID: c.ProducerID, FirstOffset: c.FirstOffset, LastOffset: c.LastOffset, LastStableOffset: lso}
}

// AbortedTxns lists the aborted transactions that overlap the offsets
// [from, upper): those whose marker is at or after from and whose first
// batch is before upper, as Kafka's collectAbortedTransactions finds them,
// walking the transaction indexes from the segment holding from until an
// entry's last stable offset reaches upper (no later abort can overlap).
// A read_committed fetch sends them so that the consumer drops those
// transactions' records. It returns nil when there are none.
func (l *Log) AbortedTxns(from, upper int64) []AbortedTxn {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []AbortedTxn
	for i := l.segmentFor(from); i < len(l.segs); i++ {
		for _, a := range l.segs[i].aborted {
			if a.LastOffset >= from && a.FirstOffset < upper {
				out = append(out, a)
			}
			if a.LastStableOffset >= upper {
				return out
			}
		}
	}
	return out
}

// LastStableOffset is the partition's last stable offset given its high
// watermark hw: the first offset of the oldest transaction that is open
// or whose marker hw has not passed, else hw. It reads an immutable view
// published by the writer, without a lock.
func (l *Log) LastStableOffset(hw int64) int64 {
	v := l.unstable.Load()
	if v == nil {
		return hw
	}
	return v.lastStable(hw)
}

// HighWatermarkMoved lets producer state forget the completed
// transactions whose markers hw now covers. The broker calls it, under the
// partition lock that guards producer state, when the high watermark
// moves; it costs a length check when there are none.
func (l *Log) HighWatermarkMoved(hw int64) {
	if l.producers == nil || len(l.producers.txns.unreplicated) == 0 {
		return
	}
	if l.producers.txns.replicated(hw) {
		l.publishTxns()
	}
}

// publishTxns publishes the readers' view of the transactions when they
// changed. Called under the partition lock.
func (l *Log) publishTxns() {
	if l.producers == nil || !l.producers.txns.changed {
		return
	}
	l.producers.txns.changed = false
	l.unstable.Store(l.producers.txns.view())
}

// recordAborts applies the batches just appended to producer state and
// writes an index entry for each abort marker among them. hdrs are their
// headers, data the bytes appended at segment s. Called with wmu held.
func (l *Log) recordAborts(s *segment, data []byte, hdrs []batchHeader) error {
	pos := 0
	var err error
	for i := range hdrs {
		h := &hdrs[i]
		m := markerOf(data[pos:], h, l.logger)
		pos += int(h.size())
		done, ok := l.producers.replay(h, m)
		if !ok || !done.Aborted {
			continue
		}
		a := l.producers.abortedEntry(done)
		if len(s.aborted) == 0 {
			// The first entry may create the file: its name must
			// reach the disk with the next flush.
			l.dirUnsynced = true
		}
		if werr := s.appendTxnIndex(a); werr != nil && err == nil {
			err = werr
			continue
		}
		l.mu.Lock()
		s.aborted = append(s.aborted, a)
		l.mu.Unlock()
	}
	l.publishTxns()
	return err
}
