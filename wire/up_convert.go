package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// UpConvertMessageSet validates the message set (format v0 or v1) of one
// partition of a Produce v0-2 request and returns its records as one
// magic-v2 batch, the only format the log stores, as Kafka 3.x converts
// such sets in its LogValidator.
//
// The batch has base offset 0 (the append assigns offsets), no producer
// (id -1, epoch -1, sequence -1), the CreateTime timestamp type and each
// record's timestamp: its own in magic 1, -1 (NO_TIMESTAMP) in magic 0; a
// LogAppendTime topic stamps the batch when it is appended. Records take
// consecutive offsets in the order they come, inner messages of a wrapper in
// place of the wrapper. The batch keeps the producer's codec (that of the
// last compressed wrapper when there are several, as Kafka's validator
// picks it); inner offsets and the wrapper's own are not kept, the append
// assigns new ones.
//
// Errors are those of messageSetWalker.walk, and ErrMessageTooLarge when a
// message of the set or the converted batch exceeds cfg.MaxBatchBytes
// (max.message.bytes; the set as a whole may be longer, as in Kafka). cfg.MaxDecompressedBytes bounds what the
// wrappers of the set decompress to, all together.
func UpConvertMessageSet(set []byte, cfg ValidateConfig) ([]byte, error) {
	limit := int64(cfg.MaxDecompressedBytes)
	if limit <= 0 {
		limit = DefaultMaxDecompressedBytes
	}
	w := getWalker(limit)
	defer w.release()
	w.maxMessage = cfg.MaxBatchBytes
	// The records are encoded as they are read; the slice grows with
	// records actually present (each at least 7 bytes from at least 14
	// of input, plain or decompressed), never by a count the input
	// announces.
	records := make([]byte, recordbatch.HeaderSize, recordbatch.HeaderSize+len(set))
	w.reserve = func(n int) { records = slices.Grow(records, n) }
	var count int64
	var firstTS, maxTS int64 = recordbatch.NoTimestamp, recordbatch.NoTimestamp
	err := w.walk(set, func(m *legacyMessage) error {
		if count == math.MaxInt32 {
			return fmt.Errorf("%w: more than %d records", ErrCorruptMessage, math.MaxInt32)
		}
		if count == 0 {
			firstTS = m.timestamp
		}
		maxTS = max(maxTS, m.timestamp)
		records = appendRecordV2(records, int32(count), m.timestamp-firstTS, m.key, m.value)
		count++
		return nil
	})
	if err != nil {
		return nil, err
	}
	batch := records
	if w.codec != CodecNone {
		batch, err = encoders.compress(make([]byte, recordbatch.HeaderSize, recordbatch.HeaderSize+len(records)/2), w.codec, records[recordbatch.HeaderSize:])
		if err != nil {
			return nil, fmt.Errorf("recompress %d records: %w", count, err)
		}
	}
	if cfg.MaxBatchBytes > 0 && len(batch) > cfg.MaxBatchBytes {
		return nil, fmt.Errorf("%w: converted batch of %d bytes, max.message.bytes %d", ErrMessageTooLarge, len(batch), cfg.MaxBatchBytes)
	}
	putBatchHeaderV2(batch, recordbatch.Header{
		BaseOffset:           0,
		BatchLength:          int32(len(batch) - recordbatch.LogOverhead),
		PartitionLeaderEpoch: -1,
		Magic:                recordbatch.MagicV2,
		Attributes:           int16(w.codec),
		LastOffsetDelta:      int32(count - 1),
		BaseTimestamp:        firstTS,
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		BaseSequence:         -1,
		RecordCount:          int32(count),
	})
	return batch, nil
}

// putBatchHeaderV2 writes h at the start of batch, which must be the whole
// batch, and sets its CRC-32C (h.CRC is ignored).
func putBatchHeaderV2(batch []byte, h recordbatch.Header) {
	be := binary.BigEndian
	be.PutUint64(batch[recordbatch.BaseOffsetOffset:], uint64(h.BaseOffset))
	be.PutUint32(batch[recordbatch.LengthOffset:], uint32(h.BatchLength))
	be.PutUint32(batch[recordbatch.PartitionLeaderEpochOffset:], uint32(h.PartitionLeaderEpoch))
	batch[recordbatch.MagicOffset] = byte(h.Magic)
	be.PutUint16(batch[recordbatch.AttributesOffset:], uint16(h.Attributes))
	be.PutUint32(batch[recordbatch.LastOffsetDeltaOffset:], uint32(h.LastOffsetDelta))
	be.PutUint64(batch[recordbatch.BaseTimestampOffset:], uint64(h.BaseTimestamp))
	be.PutUint64(batch[recordbatch.MaxTimestampOffset:], uint64(h.MaxTimestamp))
	be.PutUint64(batch[recordbatch.ProducerIDOffset:], uint64(h.ProducerID))
	be.PutUint16(batch[recordbatch.ProducerEpochOffset:], uint16(h.ProducerEpoch))
	be.PutUint32(batch[recordbatch.BaseSequenceOffset:], uint32(h.BaseSequence))
	be.PutUint32(batch[recordbatch.RecordCountOffset:], uint32(h.RecordCount))
	recordbatch.SetCRC(batch)
}

// appendRecordV2 appends one magic-v2 record without headers (see
// recordCursor.next for the layout).
func appendRecordV2(dst []byte, offsetDelta int32, timestampDelta int64, key, value []byte) []byte {
	body := 1 + varintLen(timestampDelta) + varintLen(int64(offsetDelta)) +
		bytesFieldLen(key) + bytesFieldLen(value) + 1
	dst = binary.AppendVarint(dst, int64(body))
	dst = append(dst, 0) // attributes
	dst = binary.AppendVarint(dst, timestampDelta)
	dst = binary.AppendVarint(dst, int64(offsetDelta))
	dst = appendVarintBytes(dst, key)
	dst = appendVarintBytes(dst, value)
	return append(dst, 0) // no headers
}

// varintLen is the size of x as a zigzag varint, the encoding of
// binary.AppendVarint and Kafka's ByteUtils.writeVarlong.
func varintLen(x int64) int {
	u := uint64(x<<1) ^ uint64(x>>63)
	n := 1
	for ; u >= 0x80; u >>= 7 {
		n++
	}
	return n
}

func bytesFieldLen(b []byte) int {
	if b == nil {
		return varintLen(-1)
	}
	return varintLen(int64(len(b))) + len(b)
}

func appendVarintBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}
