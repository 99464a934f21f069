package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
//	  last_sequence            int32
//	  last_offset              int64
//	  offset_delta             int32  last_sequence - first sequence of the last batch
//	  timestamp                int64  the last batch's max timestamp
//	  coordinator_epoch        int32  -1 here (no transactions)
//	  current_txn_first_offset int64  -1 here (no transactions)
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

// snapshotPath is the snapshot file of dir for offset.
func snapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", offset, snapshotSuffix))
}

// encodeSnapshot serializes the producers' last batches. Entries are sorted
// by producer id so that equal tables give equal files.
func encodeSnapshot(s *ProducerState) []byte {
	ids := make([]int64, 0, len(s.producers))
	for pid, e := range s.producers {
		if len(e.batches) > 0 {
			ids = append(ids, pid)
		}
	}
	slices.Sort(ids)
	b := make([]byte, snapshotHeaderSize, snapshotHeaderSize+len(ids)*snapshotEntrySize)
	binary.BigEndian.PutUint16(b[0:], snapshotVersion)
	binary.BigEndian.PutUint32(b[6:], uint32(len(ids)))
	for _, pid := range ids {
		e := s.producers[pid]
		last := e.batches[len(e.batches)-1]
		b = binary.BigEndian.AppendUint64(b, uint64(pid))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(last.LastSeq))
		b = binary.BigEndian.AppendUint64(b, uint64(last.LastOffset))
		b = binary.BigEndian.AppendUint32(b, uint32(last.LastOffset-last.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(last.MaxTimestamp))
		b = binary.BigEndian.AppendUint32(b, 0xffffffff)         // coordinator epoch -1
		b = binary.BigEndian.AppendUint64(b, 0xffffffffffffffff) // no open transaction
	}
	binary.BigEndian.PutUint32(b[2:], crc32.Checksum(b[6:], castagnoli))
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
	if want, got := binary.BigEndian.Uint32(b[2:]), crc32.Checksum(b[6:], castagnoli); want != got {
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
		if pid < 0 || lastSeq < 0 || delta < 0 || lastOffset < int64(delta) || s.producers[pid] != nil {
			return nil, fmt.Errorf("producer snapshot: entry %d (producer %d, last offset %d, delta %d) is invalid or repeated: %w", i, pid, lastOffset, delta, ErrCorruption)
		}
		first := int64(lastSeq) - int64(delta)
		if first < 0 { // the sequence wrapped past MaxInt32 inside the batch
			first += math.MaxInt32 + 1
		}
		s.producers[pid] = &producerEntry{epoch: epoch, batches: []ProducerBatch{{
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
func listSnapshots(dir string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
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

// writeSnapshot writes the table as dir's snapshot at offset: to a temporary
// file, synced, then renamed, so that a crash leaves the old snapshot or the
// new one and never half of one.
func writeSnapshot(dir string, offset int64, s *ProducerState) error {
	return writeFileAtomic(snapshotPath(dir, offset), encodeSnapshot(s))
}
