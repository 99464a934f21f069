package recordbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Transaction markers (KIP-98) are control batches: attributes with the
// control and transactional bits, no compression, and exactly one record
// whose key and value are Kafka's EndTransactionMarker:
//
//	key   (4 bytes): version int16 (0), type int16 (0 ABORT, 1 COMMIT)
//	value (6 bytes): version int16 (0), coordinator_epoch int32
//
// The record itself is a v2 record: length varint, attributes int8,
// timestampDelta varint, offsetDelta varint, key length varint, key, value
// length varint, value, header count varint.

// Control record types of a transaction marker (ControlRecordType).
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// endTxnKeySize and endTxnValueSize are the version-0 key and value sizes.
const (
	endTxnKeySize   = 4
	endTxnValueSize = 6
)

// ErrBadControlRecord marks a control batch whose record is not a
// transaction marker that can be read.
var ErrBadControlRecord = errors.New("bad control record")

// EndTxnMarker is the content of a COMMIT or ABORT control record.
type EndTxnMarker struct {
	Commit           bool
	CoordinatorEpoch int32
}

// BuildEndTxnMarker returns a whole control batch holding one marker for
// the producer, at base offset 0 (the leader stamps the offset and its
// leader epoch before the append), with timestamp ts, as Kafka's
// MemoryRecords.withEndTransactionMarker builds it. The CRC is set; callers
// that stamp fields covered by it (none of offset, length, leader epoch is)
// need not recompute it.
func BuildEndTxnMarker(producerID int64, epoch int16, ts int64, m EndTxnMarker) []byte {
	typ := ControlAbort
	if m.Commit {
		typ = ControlCommit
	}
	var rec [32]byte
	body := rec[:0]
	body = append(body, 0)   // record attributes
	body = append(body, 0)   // timestamp delta (varint 0)
	body = append(body, 0)   // offset delta (varint 0)
	body = append(body, 2*4) // key length 4 (zig-zag varint)
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint16(body, uint16(typ))
	body = append(body, 2*6) // value length 6
	body = binary.BigEndian.AppendUint16(body, 0)
	body = binary.BigEndian.AppendUint32(body, uint32(m.CoordinatorEpoch))
	body = append(body, 0) // no headers
	b := make([]byte, HeaderSize, HeaderSize+1+len(body))
	b = binary.AppendVarint(b, int64(len(body)))
	b = append(b, body...)
	be := binary.BigEndian
	be.PutUint32(b[LengthOffset:], uint32(len(b)-LogOverhead))
	be.PutUint32(b[PartitionLeaderEpochOffset:], 0xffffffff)
	b[MagicOffset] = MagicV2
	be.PutUint16(b[AttributesOffset:], uint16(AttrControl|AttrTransactional))
	be.PutUint32(b[LastOffsetDeltaOffset:], 0)
	be.PutUint64(b[BaseTimestampOffset:], uint64(ts))
	be.PutUint64(b[MaxTimestampOffset:], uint64(ts))
	be.PutUint64(b[ProducerIDOffset:], uint64(producerID))
	be.PutUint16(b[ProducerEpochOffset:], uint16(epoch))
	be.PutUint32(b[BaseSequenceOffset:], 0xffffffff) // no sequence
	be.PutUint32(b[RecordCountOffset:], 1)
	SetCRC(b)
	return b
}

// ReadEndTxnMarker decodes the marker of a control batch (the whole batch,
// header included, uncompressed as Kafka writes them). ok is false for a
// control record of another type (Kafka's KRaft types, or one this code
// does not know), which is not a transaction marker and is to be skipped.
// A batch whose record cannot be read is ErrBadControlRecord. It never
// allocates and never reads past batch.
func ReadEndTxnMarker(batch []byte) (m EndTxnMarker, ok bool, err error) {
	h, hok := ReadHeader(batch)
	switch {
	case !hok:
		return m, false, fmt.Errorf("%w: %d bytes, shorter than a batch header", ErrBadControlRecord, len(batch))
	case !h.IsControl():
		return m, false, fmt.Errorf("%w: not a control batch", ErrBadControlRecord)
	case h.Compression() != 0:
		return m, false, fmt.Errorf("%w: compressed control batch", ErrBadControlRecord)
	case h.RecordCount < 1:
		return m, false, fmt.Errorf("%w: %d records", ErrBadControlRecord, h.RecordCount)
	}
	end := h.Size()
	if end > len(batch) || end < HeaderSize {
		return m, false, fmt.Errorf("%w: batch of %d bytes, %d given", ErrBadControlRecord, end, len(batch))
	}
	r := batch[HeaderSize:end]
	n, k := binary.Varint(r)
	if k <= 0 || n < 0 || n > int64(len(r)-k) {
		return m, false, fmt.Errorf("%w: record length", ErrBadControlRecord)
	}
	r = r[k : k+int(n)]
	if len(r) < 1 {
		return m, false, fmt.Errorf("%w: empty record", ErrBadControlRecord)
	}
	r = r[1:]     // attributes
	for range 2 { // timestamp delta, offset delta
		if _, k = binary.Varint(r); k <= 0 {
			return m, false, fmt.Errorf("%w: record deltas", ErrBadControlRecord)
		}
		r = r[k:]
	}
	key, r, err := readVarBytes(r)
	if err != nil {
		return m, false, fmt.Errorf("%w: key: %w", ErrBadControlRecord, err)
	}
	if len(key) < endTxnKeySize || int16(binary.BigEndian.Uint16(key)) < 0 {
		return m, false, fmt.Errorf("%w: control key of %d bytes", ErrBadControlRecord, len(key))
	}
	typ := int16(binary.BigEndian.Uint16(key[2:]))
	if typ != ControlAbort && typ != ControlCommit {
		return m, false, nil
	}
	value, _, err := readVarBytes(r)
	if err != nil {
		return m, false, fmt.Errorf("%w: value: %w", ErrBadControlRecord, err)
	}
	if len(value) < endTxnValueSize || int16(binary.BigEndian.Uint16(value)) < 0 {
		return m, false, fmt.Errorf("%w: marker value of %d bytes", ErrBadControlRecord, len(value))
	}
	m.Commit = typ == ControlCommit
	m.CoordinatorEpoch = int32(binary.BigEndian.Uint32(value[2:]))
	return m, true, nil
}

// readVarBytes reads a varint length and that many bytes (-1 is null).
func readVarBytes(b []byte) (v, rest []byte, err error) {
	n, k := binary.Varint(b)
	switch {
	case k <= 0:
		return nil, nil, errors.New("bad length")
	case n < 0:
		return nil, b[k:], nil
	case n > int64(len(b)-k):
		return nil, nil, fmt.Errorf("length %d past the record", n)
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}
