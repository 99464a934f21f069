package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// RecordBatchHeaderSize is the size of a magic-v2 record batch header, from
// baseOffset through recordCount.
const RecordBatchHeaderSize = recordbatch.HeaderSize

// BatchHeader is the fixed header of a magic-v2 record batch; its layout
// and CRC-32C are in internal/recordbatch, shared with storage.
type BatchHeader = recordbatch.Header

// ValidateConfig bounds what ValidateProduceBatch accepts.
type ValidateConfig struct {
	// MaxBatchBytes is the topic's max.message.bytes: a batch larger than
	// this is ErrMessageTooLarge.
	MaxBatchBytes int
	// MaxDecompressedBytes bounds how much a compressed batch may expand
	// while it is validated; beyond it the batch is ErrCorruptMessage.
	MaxDecompressedBytes int
	// RequireKeys rejects a record without a key with ErrKeylessCompacted,
	// as Kafka's LogValidator does for a topic whose cleanup.policy has
	// compact (the cleaner would drop the record).
	RequireKeys bool
}

// ErrKeylessCompacted is a record without a key sent to a compacted topic,
// an ErrInvalidRecord (INVALID_RECORD).
var ErrKeylessCompacted = fmt.Errorf("%w: Compacted topic cannot accept message without key", ErrInvalidRecord)

// minRecordSize is the smallest encoded record: seven one-byte fields
// (length, attributes, timestamp and offset deltas, key and value lengths,
// header count).
const minRecordSize = 7

// ParseBatchHeader reads the fixed header at the start of b without checking
// the CRC. It returns ErrCorruptMessage if b is shorter than the header or
// than the batch length it announces.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	h, ok := recordbatch.ReadHeader(b)
	if !ok {
		return h, fmt.Errorf("%w: %d bytes, a batch header needs %d", ErrCorruptMessage, len(b), RecordBatchHeaderSize)
	}
	if h.BatchLength < RecordBatchHeaderSize-recordbatch.LogOverhead {
		return h, fmt.Errorf("%w: batch length %d is shorter than the header", ErrCorruptMessage, h.BatchLength)
	}
	if int64(h.BatchLength) > int64(len(b)-recordbatch.LogOverhead) {
		return h, fmt.Errorf("%w: batch length %d but only %d bytes follow", ErrCorruptMessage, h.BatchLength, len(b)-recordbatch.LogOverhead)
	}
	return h, nil
}

// checkCRC verifies the CRC-32C over attributes..end of a batch of the given
// size.
func checkCRC(batch []byte, h BatchHeader) error {
	if got := recordbatch.Checksum(batch[:h.Size()]); got != h.CRC {
		return fmt.Errorf("%w: crc32c is %#08x, header says %#08x", ErrCorruptMessage, got, h.CRC)
	}
	return nil
}

// ValidateProduceBatch checks the Records field of one partition of a Produce
// request v3+: exactly one magic-v2 batch, exactly as long as it says, CRC-32C
// matching, a record count equal to the records actually present (after
// bounded decompression), offset deltas 0..n-1 matching lastOffsetDelta, and
// well-formed record lengths. Errors are ErrCorruptMessage, ErrInvalidRecord,
// ErrMessageTooLarge or ErrUnsupportedCompression, wrapped with detail.
//
// Like Kafka it also rejects what only a broker may write: control batches
// (ErrInvalidRecord), the LogAppendTime timestamp type (ErrInvalidTimestamp),
// and a producer id without a base sequence (ErrInvalidRecord). A zero
// MaxBatchBytes means no size limit; a zero MaxDecompressedBytes means
// DefaultMaxDecompressedBytes. An uncompressed batch is validated without
// allocating.
//
// The producer's max timestamp is not trusted: it feeds the segment's max
// timestamp, the time index, time-based retention and ListOffsets by time.
// As Kafka's LogValidator does for CreateTime batches, the max timestamp is
// recomputed from the records (firstTimestamp plus each record's
// timestampDelta, -1 when no record has a larger one) and, when the header
// says otherwise, written into the header of records in place with a new
// CRC (Kafka's setMaxTimestamp). The returned header carries the computed
// value. A batch that fails validation is left as it came.
func ValidateProduceBatch(records []byte, cfg ValidateConfig) (BatchHeader, error) {
	if len(records) == 0 {
		return BatchHeader{}, fmt.Errorf("%w: no record batch", ErrInvalidRecord)
	}
	if len(records) > recordbatch.MagicOffset && records[recordbatch.MagicOffset] != recordbatch.MagicV2 {
		return BatchHeader{}, fmt.Errorf("%w: magic %d, produce v3+ carries only magic 2", ErrInvalidRecord, int8(records[recordbatch.MagicOffset]))
	}
	h, err := ParseBatchHeader(records)
	if err != nil {
		return h, err
	}
	size := h.Size()
	if cfg.MaxBatchBytes > 0 && size > cfg.MaxBatchBytes {
		return h, fmt.Errorf("%w: batch of %d bytes, max.message.bytes %d", ErrMessageTooLarge, size, cfg.MaxBatchBytes)
	}
	if len(records) > size {
		return h, fmt.Errorf("%w: %d bytes after the batch; magic 2 allows one batch per partition", ErrInvalidRecord, len(records)-size)
	}
	if err := checkCRC(records, h); err != nil {
		return h, err
	}
	if err := checkProducerHeader(h); err != nil {
		return h, err
	}
	limit := int64(cfg.MaxDecompressedBytes)
	if limit <= 0 {
		limit = DefaultMaxDecompressedBytes
	}
	c, release, err := decoders.openCursor(h.Compression(), records[RecordBatchHeaderSize:size], limit)
	if err != nil {
		return h, err
	}
	defer release()
	maxTS := int64(recordbatch.NoTimestamp)
	for i := int32(0); ; i++ {
		end, err := c.atEnd()
		if err != nil {
			return h, decompressError(err)
		}
		if end {
			if i != h.RecordCount {
				return h, fmt.Errorf("%w: header counts %d records, payload holds %d", ErrInvalidRecord, h.RecordCount, i)
			}
			if maxTS != h.MaxTimestamp {
				setMaxTimestamp(records, h, maxTS)
				h.MaxTimestamp = maxTS
				h.CRC = binary.BigEndian.Uint32(records[recordbatch.CRCOffset:])
			}
			return h, nil
		}
		if i == h.RecordCount {
			return h, fmt.Errorf("%w: payload holds more than the %d records the header counts", ErrInvalidRecord, h.RecordCount)
		}
		r, err := c.next()
		if err != nil {
			return h, recordError(i, err)
		}
		if r.offsetDelta != i {
			return h, fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, r.offsetDelta)
		}
		if r.nullKey && cfg.RequireKeys {
			return h, ErrKeylessCompacted
		}
		maxTS = max(maxTS, h.BaseTimestamp+r.timestampDelta)
	}
}

// checkProducerHeader applies the header rules Kafka's LogValidator applies
// to batches from clients.
func checkProducerHeader(h BatchHeader) error {
	switch codec := h.Compression(); {
	case codec > CodecZstd:
		return fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, codec)
	case h.IsControl():
		return fmt.Errorf("%w: clients may not write control batches", ErrInvalidRecord)
	case h.IsLogAppendTime():
		// Kafka's words (LogValidator.validateTimestamp). Kafka rejects
		// such a batch per record, and only when the topic uses
		// LogAppendTime or the record has no timestamp; in a CreateTime
		// topic it would keep the header's max timestamp for every record
		// and clear the bit. We reject it always: no client sets it, and
		// the header's max timestamp is not to be trusted.
		return fmt.Errorf("%w: Producer should not set timestamp type to LogAppendTime", ErrInvalidTimestamp)
	case h.RecordCount <= 0:
		return fmt.Errorf("%w: record count %d", ErrInvalidRecord, h.RecordCount)
	case h.LastOffsetDelta != h.RecordCount-1:
		return fmt.Errorf("%w: last offset delta %d with %d records", ErrInvalidRecord, h.LastOffsetDelta, h.RecordCount)
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return fmt.Errorf("%w: producer id %d with base sequence %d", ErrInvalidRecord, h.ProducerID, h.BaseSequence)
	}
	return nil
}

// recordError classifies a failure to decode record i: a payload that runs
// out, does not decompress, exceeds the bound or whose lengths do not add up
// is ErrCorruptMessage.
func recordError(i int32, err error) error {
	if errors.Is(err, ErrCorruptMessage) {
		return fmt.Errorf("record %d: %w", i, err)
	}
	return fmt.Errorf("%w: record %d: %w", ErrCorruptMessage, i, err)
}

// SetBaseOffset stamps the batch's base offset in place. The base offset is
// outside the CRC, so the CRC stays valid. A slice shorter than a batch
// header is left alone.
func SetBaseOffset(batch []byte, base int64) {
	if len(batch) < RecordBatchHeaderSize {
		return
	}
	binary.BigEndian.PutUint64(batch[recordbatch.BaseOffsetOffset:], uint64(base))
}

// SetPartitionLeaderEpoch stamps the partition leader epoch in place (outside
// the CRC). A slice shorter than a batch header is left alone.
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	if len(batch) < RecordBatchHeaderSize {
		return
	}
	binary.BigEndian.PutUint32(batch[recordbatch.PartitionLeaderEpochOffset:], uint32(epoch))
}

// SetLogAppendTime sets the timestamp-type attribute bit and the max
// timestamp to ts, then recomputes the CRC, as Kafka does for topics with
// message.timestamp.type=LogAppendTime. The batch must be one whole batch
// (as ValidateProduceBatch accepted it); a slice that is not is left alone.
func SetLogAppendTime(batch []byte, ts int64) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return
	}
	binary.BigEndian.PutUint16(batch[recordbatch.AttributesOffset:], uint16(h.Attributes|recordbatch.AttrTimestampType))
	setMaxTimestamp(batch, h, ts)
}

// setMaxTimestamp writes ts as the max timestamp of the whole batch h
// describes and recomputes the CRC over the bytes as they now are.
func setMaxTimestamp(batch []byte, h BatchHeader, ts int64) {
	binary.BigEndian.PutUint64(batch[recordbatch.MaxTimestampOffset:], uint64(ts))
	recordbatch.SetCRC(batch[:h.Size()])
}

// RecordTimestamp is one record's offset and effective timestamp.
type RecordTimestamp struct {
	Offset    int64
	Timestamp int64
}

// RecordTimestamps decodes (decompressing if needed, within maxDecompressed)
// the records of one stored batch and returns each record's absolute offset
// and timestamp. For LogAppendTime batches every record's timestamp is the
// batch max timestamp. ListOffsets uses it to answer by timestamp with the
// exact record offset.
func RecordTimestamps(batch []byte, maxDecompressed int) ([]RecordTimestamp, error) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return nil, err
	}
	if h.Magic != recordbatch.MagicV2 {
		return nil, fmt.Errorf("%w: magic %d", ErrCorruptMessage, h.Magic)
	}
	if err := checkCRC(batch, h); err != nil {
		return nil, err
	}
	if h.Compression() > CodecZstd {
		return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, h.Compression())
	}
	if h.RecordCount < 0 {
		return nil, fmt.Errorf("%w: record count %d", ErrCorruptMessage, h.RecordCount)
	}
	limit := int64(maxDecompressed)
	if limit <= 0 {
		limit = DefaultMaxDecompressedBytes
	}
	c, release, err := decoders.openCursor(h.Compression(), batch[RecordBatchHeaderSize:h.Size()], limit)
	if err != nil {
		return nil, err
	}
	defer release()
	// The header's count is untrusted: cap the first allocation by what
	// the payload can hold, or by a constant when it is compressed, and
	// let append grow it with the records actually found.
	capHint := int(h.RecordCount)
	if c.src == nil {
		capHint = min(capHint, len(c.buf)/minRecordSize)
	} else {
		capHint = min(capHint, 1024)
	}
	out := make([]RecordTimestamp, 0, capHint)
	for i := int32(0); ; i++ {
		end, err := c.atEnd()
		if err != nil {
			return nil, decompressError(err)
		}
		if end {
			if i != h.RecordCount {
				return nil, fmt.Errorf("%w: header counts %d records, payload holds %d", ErrCorruptMessage, h.RecordCount, i)
			}
			return out, nil
		}
		if i == h.RecordCount {
			return nil, fmt.Errorf("%w: payload holds more than the %d records the header counts", ErrCorruptMessage, h.RecordCount)
		}
		r, err := c.next()
		if err != nil {
			return nil, recordError(i, err)
		}
		ts := h.BaseTimestamp + r.timestampDelta
		if h.IsLogAppendTime() {
			ts = h.MaxTimestamp
		}
		out = append(out, RecordTimestamp{Offset: h.BaseOffset + int64(r.offsetDelta), Timestamp: ts})
	}
}

// SplitReplicaBatches walks the record batches a leader returned to a
// follower's fetch and returns their headers and the length of the whole
// batches: a last batch cut short by the fetch size is left out (the
// follower fetches it again), as Kafka's followers do. Each whole batch
// must be magic v2 with a matching CRC-32C and offsets following on from
// the previous one; anything else is ErrCorruptMessage, and the follower
// appends nothing from this response.
func SplitReplicaBatches(data []byte) ([]BatchHeader, int, error) {
	var hdrs []BatchHeader
	pos := 0
	next := int64(-1)
	for pos+RecordBatchHeaderSize <= len(data) {
		h, err := ParseBatchHeader(data[pos:])
		if err != nil {
			if int64(h.BatchLength) > int64(len(data)-pos-recordbatch.LogOverhead) && h.BatchLength >= RecordBatchHeaderSize-recordbatch.LogOverhead {
				break // a partial last batch
			}
			return nil, 0, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		if h.Magic != recordbatch.MagicV2 {
			return nil, 0, fmt.Errorf("%w: batch at byte %d has magic %d", ErrCorruptMessage, pos, h.Magic)
		}
		if err := checkCRC(data[pos:], h); err != nil {
			return nil, 0, fmt.Errorf("batch at byte %d: %w", pos, err)
		}
		if next >= 0 && h.BaseOffset < next {
			return nil, 0, fmt.Errorf("%w: batch at byte %d starts at offset %d, before %d", ErrCorruptMessage, pos, h.BaseOffset, next)
		}
		next = h.BaseOffset + int64(h.LastOffsetDelta) + 1
		hdrs = append(hdrs, h)
		pos += h.Size()
	}
	return hdrs, pos, nil
}
