package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// The magic-v2 record batch header, as Kafka lays it out (all big-endian):
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
//
// storage reads only this header; the records themselves are opaque bytes
// that the wire package validated before Append.
const (
	batchHeaderSize   = 61
	batchLengthPrefix = 12 // baseOffset + batchLength precede what batchLength counts
	batchCRCStart     = 21
	batchMagicV2      = 2
	// attrControl marks a transaction marker batch (attributes bit 5).
	attrControl = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchHeader is the decoded fixed part of one record batch.
type batchHeader struct {
	BaseOffset      int64
	Length          int32
	LeaderEpoch     int32
	Magic           int8
	CRC             uint32
	Attributes      int16
	LastOffsetDelta int32
	BaseTimestamp   int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	RecordCount     int32
}

// size is the number of bytes the whole batch occupies in a segment.
func (h *batchHeader) size() int64 { return batchLengthPrefix + int64(h.Length) }

// lastOffset is the offset of the batch's last record.
func (h *batchHeader) lastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// lastSeq is the sequence number of the batch's last record, wrapping past
// MaxInt32 to 0 the way Kafka's producers do.
func (h *batchHeader) lastSeq() int32 {
	s := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if s > math.MaxInt32 {
		s -= math.MaxInt32 + 1
	}
	return int32(s)
}

// parseBatchHeader decodes and sanity-checks the header at the start of b.
// It checks what can be checked without the body: the length is at least a
// header's, the magic is 2, the offset delta and record count are not
// negative. The CRC is checked separately by batchCRCValid.
func parseBatchHeader(b []byte) (batchHeader, error) {
	var h batchHeader
	if len(b) < batchHeaderSize {
		return h, fmt.Errorf("batch header: %d bytes, need %d: %w", len(b), batchHeaderSize, ErrCorruption)
	}
	be := binary.BigEndian
	h.BaseOffset = int64(be.Uint64(b[0:]))
	h.Length = int32(be.Uint32(b[8:]))
	h.LeaderEpoch = int32(be.Uint32(b[12:]))
	h.Magic = int8(b[16])
	h.CRC = be.Uint32(b[17:])
	h.Attributes = int16(be.Uint16(b[21:]))
	h.LastOffsetDelta = int32(be.Uint32(b[23:]))
	h.BaseTimestamp = int64(be.Uint64(b[27:]))
	h.MaxTimestamp = int64(be.Uint64(b[35:]))
	h.ProducerID = int64(be.Uint64(b[43:]))
	h.ProducerEpoch = int16(be.Uint16(b[51:]))
	h.BaseSequence = int32(be.Uint32(b[53:]))
	h.RecordCount = int32(be.Uint32(b[57:]))
	switch {
	case h.Length < batchHeaderSize-batchLengthPrefix:
		return h, fmt.Errorf("batch at offset %d: length %d below header size: %w", h.BaseOffset, h.Length, ErrCorruption)
	case h.Magic != batchMagicV2:
		return h, fmt.Errorf("batch at offset %d: magic %d, want 2: %w", h.BaseOffset, h.Magic, ErrCorruption)
	case h.BaseOffset < 0 || h.LastOffsetDelta < 0 || h.RecordCount < 0:
		return h, fmt.Errorf("batch at offset %d: negative offset delta or record count: %w", h.BaseOffset, ErrCorruption)
	case h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1:
		return h, fmt.Errorf("batch at offset %d: last offset overflows: %w", h.BaseOffset, ErrCorruption)
	}
	return h, nil
}

// batchCRCValid reports whether a whole batch's stored CRC-32C matches its
// attributes-to-end bytes.
func batchCRCValid(batch []byte) bool {
	if len(batch) < batchHeaderSize {
		return false
	}
	return crc32.Checksum(batch[batchCRCStart:], castagnoli) == binary.BigEndian.Uint32(batch[17:])
}
