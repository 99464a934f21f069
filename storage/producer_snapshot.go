package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/storage/vfs"
	"go.uber.org/zap"
)

// Producer-state snapshots, in Kafka's `<20-digit offset>.snapshot` format,
// let Open start from the producer table as it stood at that offset and
// walk only the batches after it, instead of every batch header of the log.
//
// A snapshot file, all integers big-endian (Kafka's ProducerSnapshot message,
// version 1, preceded by the version):
//
//	version  int16   1
//	crc      uint32  CRC-32C of every byte after this field
//	count    int32   number of entries
//	count x entry (46 bytes):
//	  producer_id              int64
//	  epoch                    int16
//	  last_sequence            int32  -1 for a producer known only from markers
//	  last_offset              int64  -1 for such a producer
//	  offset_delta             int32  last_sequence - first sequence of the last batch
//	  timestamp                int64  the last batch's max timestamp
//	  coordinator_epoch        int32  of the producer's last marker, -1 before any
//	  current_txn_first_offset int64  first offset of its open transaction, -1 when none
//
// The file's offset is the log end offset the table describes: every batch
// below it is accounted for. Like Kafka, a snapshot keeps only each
// producer's last batch, so right after a restart a retry of an older one of
// its five in-flight batches is an out-of-order sequence rather than a
// duplicate.
const (
	snapshotSuffix     = ".snapshot"
	snapshotVersion    = 1
	snapshotHeaderSize = 2 + 4 + 4 // version, crc, count
	snapshotEntrySize  = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8
)

// snapshotCRCTable is the CRC-32C table of the snapshot checksum.
var snapshotCRCTable = crc32.MakeTable(crc32.Castagnoli)

// snapshotPath is the snapshot file of dir for offset.
func snapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", offset, snapshotSuffix))
}

// encodeSnapshot serializes the producers' last batches. Entries are sorted
// by producer id so that equal tables give equal files.
func encodeSnapshot(s *ProducerState) []byte {
	ids := make([]int64, 0, len(s.producers))
	for pid := range s.producers {
		ids = append(ids, pid)
	}
	slices.Sort(ids)
	b := make([]byte, snapshotHeaderSize, snapshotHeaderSize+len(ids)*snapshotEntrySize)
	binary.BigEndian.PutUint16(b[0:], snapshotVersion)
	binary.BigEndian.PutUint32(b[6:], uint32(len(ids)))
	for _, pid := range ids {
		e := s.producers[pid]
		// A producer known only from markers has no batch: Kafka writes
		// sequence -1, offset -1, delta 0 and its last timestamp.
		last := ProducerBatch{LastSeq: -1, FirstOffset: -1, LastOffset: -1, MaxTimestamp: e.lastTimestamp()}
		if len(e.batches) > 0 {
			last = e.batches[len(e.batches)-1]
		}
		b = binary.BigEndian.AppendUint64(b, uint64(pid))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(last.LastSeq))
		b = binary.BigEndian.AppendUint64(b, uint64(last.LastOffset))
		b = binary.BigEndian.AppendUint32(b, uint32(last.LastOffset-last.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(last.MaxTimestamp))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordinatorEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirst))
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], snapshotCRCTable))
	return b
}

// decodeSnapshot parses a snapshot file's bytes. Anything that is not a
// whole, checksummed version-1 snapshot is an ErrCorruption error, so the
// caller can fall back to an older snapshot or to a full walk of the log.
func decodeSnapshot(b []byte) (*ProducerState, error) {
	if len(b) < snapshotHeaderSize {
		return nil, fmt.Errorf("producer snapshot: %d bytes, shorter than its header: %w", len(b), ErrCorruption)
	}
	if v := int16(binary.BigEndian.Uint16(b[0:])); v != snapshotVersion {
		return nil, fmt.Errorf("producer snapshot: version %d, want %d: %w", v, snapshotVersion, ErrCorruption)
	}
	if want, got := binary.BigEndian.Uint32(b[2:]), crc32.Checksum(b[6:], snapshotCRCTable); want != got {
		return nil, fmt.Errorf("producer snapshot: crc %08x, computed %08x: %w", want, got, ErrCorruption)
	}
	n := int64(int32(binary.BigEndian.Uint32(b[6:])))
	if n < 0 || int64(len(b)-snapshotHeaderSize) != n*snapshotEntrySize {
		return nil, fmt.Errorf("producer snapshot: %d entries in %d bytes: %w", n, len(b), ErrCorruption)
	}
	s := &ProducerState{producers: make(map[int64]*producerEntry, n)}
	for i := int64(0); i < n; i++ {
		e := b[snapshotHeaderSize+i*snapshotEntrySize:]
		pid := int64(binary.BigEndian.Uint64(e[0:]))
		epoch := int16(binary.BigEndian.Uint16(e[8:]))
		lastSeq := int32(binary.BigEndian.Uint32(e[10:]))
		lastOffset := int64(binary.BigEndian.Uint64(e[14:]))
		delta := int32(binary.BigEndian.Uint32(e[22:]))
		ts := int64(binary.BigEndian.Uint64(e[26:]))
		coordEpoch := int32(binary.BigEndian.Uint32(e[34:]))
		txnFirst := int64(binary.BigEndian.Uint64(e[38:]))
		if lastOffset < 0 && pid >= 0 && s.producers[pid] == nil && txnFirst == -1 {
			// A producer without batches (Kafka's entry with no batch
			// metadata): its epoch, coordinator epoch and timestamp.
			s.producers[pid] = &producerEntry{epoch: epoch, coordinatorEpoch: coordEpoch, txnFirst: -1, markerTs: ts}
			continue
		}
		if pid < 0 || lastSeq < 0 || delta < 0 || lastOffset < int64(delta) || s.producers[pid] != nil || txnFirst < -1 || txnFirst > lastOffset {
			return nil, fmt.Errorf("producer snapshot: entry %d (producer %d, last offset %d, delta %d) is invalid or repeated: %w", i, pid, lastOffset, delta, ErrCorruption)
		}
		first := int64(lastSeq) - int64(delta)
		if first < 0 { // the sequence wrapped past MaxInt32 inside the batch
			first += math.MaxInt32 + 1
		}
		if txnFirst >= 0 {
			if s.txns.open == nil {
				s.txns.open = map[int64]int64{}
			}
			s.txns.open[pid] = txnFirst
			s.txns.changed = true
		}
		s.producers[pid] = &producerEntry{epoch: epoch, coordinatorEpoch: coordEpoch, txnFirst: txnFirst, markerTs: -1, batches: []ProducerBatch{{
			ProducerID:    pid,
			ProducerEpoch: epoch,
			FirstSeq:      int32(first),
			LastSeq:       lastSeq,
			FirstOffset:   lastOffset - int64(delta),
			LastOffset:    lastOffset,
			MaxTimestamp:  ts,
		}}}
	}
	return s, nil
}

// listSnapshots returns the offsets of dir's snapshot files, ascending.
func listSnapshots(fsys vfs.FS, dir string) ([]int64, error) {
	ents, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots in %s: %w", dir, err)
	}
	var offs []int64
	for _, e := range ents {
		name := e.Name()
		stem, ok := strings.CutSuffix(name, snapshotSuffix)
		if !ok || len(stem) != 20 || e.IsDir() {
			continue
		}
		off, err := strconv.ParseInt(stem, 10, 64)
		if err != nil || off < 0 {
			continue
		}
		offs = append(offs, off)
	}
	slices.Sort(offs)
	return offs, nil
}

// snapshotMinLogBytes is the log size from which a clean close writes a
// snapshot even when no idempotent producer is known: below it, walking the
// batch headers at the next Open costs less than one more file per
// partition (a broker with 10,000 small partitions would otherwise write and
// read 10,000 files for nothing).
const snapshotMinLogBytes = 1 << 20

// writeFileNoSync writes data to path through a temporary file and a rename,
// without fsync. Snapshots can afford that: data below a snapshot's offset
// is always synced before the snapshot is written, and a snapshot the OS
// lost or tore fails its CRC at the next Open, which then falls back to an
// older snapshot or a walk of the log. Losing one costs time, never
// correctness.
func writeFileNoSync(fsys vfs.FS, path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = fsys.Remove(tmp) // best effort: Open removes leftover .tmp files too
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		_ = fsys.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// snapshotProducers writes the producer table as the snapshot at offset,
// which must be the log end offset. A failure is logged, not returned: the
// log stays correct without the file.
func (l *Log) snapshotProducers(offset int64) {
	if l.producers == nil {
		return
	}
	if err := writeFileNoSync(l.fs, snapshotPath(l.dir, offset), encodeSnapshot(l.producers)); err != nil {
		l.logger.Warn("could not write a producer-state snapshot", zap.Int64("offset", offset), zap.Error(err))
	}
}

// dropSnapshots removes the snapshots for which doomed returns true.
func (l *Log) dropSnapshots(doomed func(offset int64) bool) {
	offs, err := listSnapshots(l.fs, l.dir)
	if err != nil {
		l.logger.Warn("could not list producer-state snapshots", zap.Error(err))
		return
	}
	for _, off := range offs {
		if doomed(off) {
			l.removeSnapshot(off)
		}
	}
}

// removeSnapshot deletes the snapshot at offset; a failure is logged.
func (l *Log) removeSnapshot(off int64) {
	if err := l.fs.Remove(snapshotPath(l.dir, off)); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.logger.Warn("could not remove a producer-state snapshot", zap.Int64("offset", off), zap.Error(err))
	}
}

// loadProducers rebuilds the producer table the way Kafka does at start:
// from the newest readable snapshot between the log start and end offsets,
// then the batches from that offset on. Snapshots past the end (their
// batches were lost to recovery or truncation) and before the start (their
// segments are gone) are removed; an unreadable one is removed with a
// warning and the next older one tried. Without any, every batch header of
// the log is walked.
//
// Snapshots above limit are skipped (not removed): Open passes the
// recovery point after an unclean stop, so that the replay covers, and
// rebuilds the transaction indexes of, every segment recovery scanned.
func (l *Log) loadProducers(limit int64) (*ProducerState, error) {
	offs, err := listSnapshots(l.fs, l.dir)
	if err != nil {
		return nil, err
	}
	var ps *ProducerState
	from := l.start
	for i := len(offs) - 1; i >= 0; i-- {
		off := offs[i]
		switch {
		case off > l.end || off < l.start:
			l.removeSnapshot(off)
		case ps != nil || off > limit:
			// An older snapshot of a segment still in the log: kept, as
			// Kafka keeps one per rolled segment.
		default:
			b, err := vfs.ReadFile(l.fs, snapshotPath(l.dir, off))
			if err == nil {
				ps, err = decodeSnapshot(b)
			}
			if err != nil {
				ps = nil
				l.logger.Warn("ignoring an unreadable producer-state snapshot", zap.Int64("offset", off), zap.Error(err))
				l.removeSnapshot(off)
				continue
			}
			from = off
		}
	}
	if ps == nil {
		ps = &ProducerState{}
	}
	if err := l.replayProducers(ps, from); err != nil {
		return nil, err
	}
	ps.truncateHead(l.start)
	return ps, nil
}

// replayProducers applies to ps every batch whose last offset is at or
// after from, walking batch headers from the index entry nearest to from,
// and rebuilds the transaction index of every segment it walks: the
// entries of its markers below from stay, the others come from the replay.
func (l *Log) replayProducers(ps *ProducerState, from int64) error {
	for _, s := range l.segs {
		if s.next <= from {
			continue
		}
		var pos int64
		if s.base < from {
			p, err := s.index.lookup(from)
			if err != nil {
				return fmt.Errorf("replay producers from %d: %w", from, err)
			}
			pos = p
		}
		var rebuilt []AbortedTxn
		sc := newBatchScanner(s.log, s.size)
		for pos < s.size {
			h, err := sc.header(pos)
			if err != nil {
				if err == io.EOF {
					break
				}
				return corruptAt(s, pos, err)
			}
			if h.LastOffset() >= from {
				var m *recordbatch.EndTxnMarker
				if h.IsControl() {
					b, err := sc.window(pos, h.size())
					if err != nil {
						return corruptAt(s, pos, err)
					}
					m = markerOf(b, &h, l.logger)
				}
				if done, ok := ps.replay(&h, m); ok && done.Aborted {
					rebuilt = append(rebuilt, ps.abortedEntry(done))
				}
			}
			pos += h.size()
		}
		if err := s.rebuildTxnIndex(from, rebuilt); err != nil {
			return fmt.Errorf("rebuild the transaction index of segment %d: %w", s.base, err)
		}
	}
	return nil
}

// sizeLocked is the bytes of all segments. Called with wmu held.
func (l *Log) sizeLocked() int64 {
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}
