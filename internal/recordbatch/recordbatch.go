// Package recordbatch holds the layout of Kafka's magic-v2 record batch
// header and its CRC-32C: the field offsets, a decoder for the fixed header
// and the checksum. It is the one place that knows the layout; wire (which
// validates and stamps producer batches) and storage (which indexes and
// recovers them on disk) both build on it, so storage needs nothing from
// wire. What counts as a bad batch stays with each of them: wire answers a
// client with a protocol error, storage reports corruption on disk.
//
// The header, as Kafka's DefaultRecordBatch lays it out (big-endian):
//
//	offset  size  field
//	     0     8  baseOffset
//	     8     4  batchLength (bytes after this field)
//	    12     4  partitionLeaderEpoch
//	    16     1  magic (2)
//	    17     4  crc (CRC-32C of bytes 21..end)
//	    21     2  attributes
//	    23     4  lastOffsetDelta
//	    27     8  baseTimestamp
//	    35     8  maxTimestamp
//	    43     8  producerId
//	    51     2  producerEpoch
//	    53     4  baseSequence
//	    57     4  recordCount
//	    61        records...
package recordbatch

import (
	"encoding/binary"
	"hash/crc32"
	"math"
)

// Byte offsets of the header fields (DefaultRecordBatch's *_OFFSET).
const (
	BaseOffsetOffset           = 0
	LengthOffset               = 8
	PartitionLeaderEpochOffset = 12
	MagicOffset                = 16
	CRCOffset                  = 17
	AttributesOffset           = 21
	LastOffsetDeltaOffset      = 23
	BaseTimestampOffset        = 27
	MaxTimestampOffset         = 35
	ProducerIDOffset           = 43
	ProducerEpochOffset        = 51
	BaseSequenceOffset         = 53
	RecordCountOffset          = 57
)

const (
	// HeaderSize is the size of the fixed header, baseOffset through
	// recordCount (RECORD_BATCH_OVERHEAD).
	HeaderSize = 61
	// LogOverhead is what precedes the bytes batchLength counts: the base
	// offset and batchLength itself (Records.LOG_OVERHEAD).
	LogOverhead = 12
	// CRCStart is where the bytes the CRC covers begin: attributes to the
	// end of the batch.
	CRCStart = AttributesOffset
	// MagicV2 is the only magic gokafka stores.
	MagicV2 = 2
	// NoTimestamp is RecordBatch.NO_TIMESTAMP.
	NoTimestamp = -1
	// NoSequence is RecordBatch.NO_SEQUENCE: a batch of no idempotent
	// producer.
	NoSequence = -1
)

// Attribute bits.
const (
	AttrCompressionMask = 0x07 // 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
	AttrTimestampType   = 0x08 // set: LogAppendTime
	AttrTransactional   = 0x10
	AttrControl         = 0x20 // a transaction marker
)

// Header is the decoded fixed header of one record batch.
type Header struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// ReadHeader decodes the fixed header at the start of b; ok is false when
// b is shorter than HeaderSize. It checks nothing else: the caller decides
// what a bad length, magic or count means where it reads.
func ReadHeader(b []byte) (h Header, ok bool) {
	if len(b) < HeaderSize {
		return h, false
	}
	be := binary.BigEndian
	h.BaseOffset = int64(be.Uint64(b[BaseOffsetOffset:]))
	h.BatchLength = int32(be.Uint32(b[LengthOffset:]))
	h.PartitionLeaderEpoch = int32(be.Uint32(b[PartitionLeaderEpochOffset:]))
	h.Magic = int8(b[MagicOffset])
	h.CRC = be.Uint32(b[CRCOffset:])
	h.Attributes = int16(be.Uint16(b[AttributesOffset:]))
	h.LastOffsetDelta = int32(be.Uint32(b[LastOffsetDeltaOffset:]))
	h.BaseTimestamp = int64(be.Uint64(b[BaseTimestampOffset:]))
	h.MaxTimestamp = int64(be.Uint64(b[MaxTimestampOffset:]))
	h.ProducerID = int64(be.Uint64(b[ProducerIDOffset:]))
	h.ProducerEpoch = int16(be.Uint16(b[ProducerEpochOffset:]))
	h.BaseSequence = int32(be.Uint32(b[BaseSequenceOffset:]))
	h.RecordCount = int32(be.Uint32(b[RecordCountOffset:]))
	return h, true
}

// Size is the number of bytes the whole batch occupies, header included.
func (h Header) Size() int { return LogOverhead + int(h.BatchLength) }

// LastOffset is the offset of the batch's last record.
func (h Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// LastSequence is the sequence of the batch's last record, wrapping past
// MaxInt32 to 0 as Kafka's producers do; NoSequence for a batch without
// one (DefaultRecordBatch.lastSequence).
func (h Header) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return NoSequence
	}
	s := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if s > math.MaxInt32 {
		s -= math.MaxInt32 + 1
	}
	return int32(s)
}

// Compression returns the codec bits of the attributes (0 none, 1 gzip,
// 2 snappy, 3 lz4, 4 zstd).
func (h Header) Compression() int8 { return int8(h.Attributes & AttrCompressionMask) }

// IsLogAppendTime reports the timestamp-type bit: set, the batch's max
// timestamp is the broker's append time for every record.
func (h Header) IsLogAppendTime() bool { return h.Attributes&AttrTimestampType != 0 }

// IsTransactional reports the transactional bit.
func (h Header) IsTransactional() bool { return h.Attributes&AttrTransactional != 0 }

// IsControl reports the control-batch bit (a transaction marker).
func (h Header) IsControl() bool { return h.Attributes&AttrControl != 0 }

// castagnoli is the CRC-32C table of magic-v2 batches; built once, only
// read.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum is the CRC-32C of batch[CRCStart:], what the crc field of a
// batch of exactly len(batch) bytes should hold. batch must be at least
// HeaderSize long.
func Checksum(batch []byte) uint32 { return crc32.Checksum(batch[CRCStart:], castagnoli) }

// UpdateChecksum continues a CRC-32C over p, for a batch read in pieces:
// start from 0 with the bytes from CRCStart on.
func UpdateChecksum(crc uint32, p []byte) uint32 { return crc32.Update(crc, castagnoli, p) }

// CRCValid reports whether batch, exactly one whole batch, holds the CRC
// of its bytes.
func CRCValid(batch []byte) bool {
	return len(batch) >= HeaderSize && Checksum(batch) == binary.BigEndian.Uint32(batch[CRCOffset:])
}

// SetCRC recomputes the CRC of batch, exactly one whole batch, and writes
// it, after the bytes it covers were changed in place.
func SetCRC(batch []byte) {
	binary.BigEndian.PutUint32(batch[CRCOffset:], Checksum(batch))
}
