package txncoord

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Offsets in a magic-v2 record batch header (Kafka's DefaultRecordBatch).
const (
	batchLengthOffset      = 8
	batchMagicOffset       = 16
	batchCRCOffset         = 17
	batchAttributesOffset  = 21
	batchLastDeltaOffset   = 23
	batchRecordCountOffset = 57
	batchHeaderSize        = 61
	batchLogOverhead       = 12 // base offset + length
	attrCompressionMask    = 0x07
	attrControl            = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeBatch is a magic-v2 record batch holding one record (key, value;
// nil value: tombstone), uncompressed and non-transactional, as Kafka's
// coordinator writes to __transaction_state. The base offset and the
// partition leader epoch are left 0 for the leader's append to stamp.
func EncodeBatch(key, value []byte, timestampMs int64) []byte {
	var rec []byte
	rec = append(rec, 0)              // attributes
	rec = binary.AppendVarint(rec, 0) // timestamp delta
	rec = binary.AppendVarint(rec, 0) // offset delta
	rec = binary.AppendVarint(rec, int64(len(key)))
	rec = append(rec, key...)
	if value == nil {
		rec = binary.AppendVarint(rec, -1)
	} else {
		rec = binary.AppendVarint(rec, int64(len(value)))
		rec = append(rec, value...)
	}
	rec = binary.AppendVarint(rec, 0) // headers
	b := make([]byte, batchHeaderSize, batchHeaderSize+len(rec)+binary.MaxVarintLen32)
	b[batchMagicOffset] = 2
	binary.BigEndian.PutUint64(b[27:], uint64(timestampMs))   // first timestamp
	binary.BigEndian.PutUint64(b[35:], uint64(timestampMs))   // max timestamp
	binary.BigEndian.PutUint64(b[43:], 0xffffffffffffffff)    // producer id -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)                // producer epoch -1
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)            // base sequence -1
	binary.BigEndian.PutUint32(b[batchRecordCountOffset:], 1) // one record
	b = binary.AppendVarint(b, int64(len(rec)))
	b = append(b, rec...)
	binary.BigEndian.PutUint32(b[batchLengthOffset:], uint32(len(b)-batchLogOverhead))
	binary.BigEndian.PutUint32(b[batchCRCOffset:], crc32.Checksum(b[batchAttributesOffset:], castagnoli))
	return b
}

// ErrCompressedBatch is returned for a compressed batch, which the
// coordinator never writes to __transaction_state.
var ErrCompressedBatch = errors.New("compressed batch in __transaction_state")

// ForEachRecord walks the magic-v2 batches of data (as a log read returns
// them: whole batches), calling fn with each record's key and value (nil
// for a tombstone); control batches are skipped. It returns the offset
// after the last batch walked. Bytes that are not whole, well-formed
// batches are ErrCorruptRecord.
func ForEachRecord(data []byte, fn func(key, value []byte) error) (next int64, err error) {
	next = -1
	for len(data) > 0 {
		if len(data) < batchHeaderSize {
			return next, fmt.Errorf("%w: %d bytes left, shorter than a batch header", ErrCorruptRecord, len(data))
		}
		size := int64(binary.BigEndian.Uint32(data[batchLengthOffset:])) + batchLogOverhead
		if size < batchHeaderSize || size > int64(len(data)) {
			return next, fmt.Errorf("%w: batch of %d bytes in %d", ErrCorruptRecord, size, len(data))
		}
		batch := data[:size]
		data = data[size:]
		if batch[batchMagicOffset] != 2 {
			return next, fmt.Errorf("%w: batch magic %d", ErrCorruptRecord, batch[batchMagicOffset])
		}
		if crc32.Checksum(batch[batchAttributesOffset:], castagnoli) != binary.BigEndian.Uint32(batch[batchCRCOffset:]) {
			return next, fmt.Errorf("%w: batch CRC mismatch", ErrCorruptRecord)
		}
		base := int64(binary.BigEndian.Uint64(batch))
		next = base + int64(int32(binary.BigEndian.Uint32(batch[batchLastDeltaOffset:]))) + 1
		attrs := binary.BigEndian.Uint16(batch[batchAttributesOffset:])
		if attrs&attrControl != 0 {
			continue
		}
		if attrs&attrCompressionMask != 0 {
			return next, ErrCompressedBatch
		}
		count := int32(binary.BigEndian.Uint32(batch[batchRecordCountOffset:]))
		r := batch[batchHeaderSize:]
		for i := int32(0); i < count; i++ {
			key, value, rest, err := readRecord(r)
			if err != nil {
				return next, fmt.Errorf("%w: record %d of the batch at offset %d: %v", ErrCorruptRecord, i, base, err)
			}
			r = rest
			if err := fn(key, value); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}

// readRecord reads one record's key and value from b.
func readRecord(b []byte) (key, value, rest []byte, err error) {
	n, k := binary.Varint(b)
	if k <= 0 || n < 0 || n > int64(len(b)-k) {
		return nil, nil, nil, errors.New("bad record length")
	}
	rec, rest := b[k:k+int(n)], b[k+int(n):]
	r := rec
	if len(r) < 1 {
		return nil, nil, nil, errors.New("empty record")
	}
	r = r[1:]     // attributes
	for range 2 { // timestamp delta, offset delta
		if _, k := binary.Varint(r); k <= 0 {
			return nil, nil, nil, errors.New("bad varint")
		} else {
			r = r[k:]
		}
	}
	field := func() ([]byte, error) {
		n, k := binary.Varint(r)
		if k <= 0 || n < -1 || n > int64(len(r)-k) {
			return nil, errors.New("bad field length")
		}
		r = r[k:]
		if n < 0 {
			return nil, nil
		}
		f := r[:n]
		r = r[n:]
		return f, nil
	}
	if key, err = field(); err != nil {
		return nil, nil, nil, err
	}
	if value, err = field(); err != nil {
		return nil, nil, nil, err
	}
	return key, value, rest, nil
}
