package txncoord

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

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
	b := make([]byte, recordbatch.HeaderSize, recordbatch.HeaderSize+len(rec)+binary.MaxVarintLen32)
	be := binary.BigEndian
	b[recordbatch.MagicOffset] = recordbatch.MagicV2
	be.PutUint64(b[recordbatch.BaseTimestampOffset:], uint64(timestampMs))
	be.PutUint64(b[recordbatch.MaxTimestampOffset:], uint64(timestampMs))
	be.PutUint64(b[recordbatch.ProducerIDOffset:], 0xffffffffffffffff) // -1: no producer
	be.PutUint16(b[recordbatch.ProducerEpochOffset:], 0xffff)
	be.PutUint32(b[recordbatch.BaseSequenceOffset:], 0xffffffff) // NoSequence
	be.PutUint32(b[recordbatch.RecordCountOffset:], 1)
	b = binary.AppendVarint(b, int64(len(rec)))
	b = append(b, rec...)
	be.PutUint32(b[recordbatch.LengthOffset:], uint32(len(b)-recordbatch.LogOverhead))
	recordbatch.SetCRC(b)
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
		h, ok := recordbatch.ReadHeader(data)
		if !ok {
			return next, fmt.Errorf("%w: %d bytes left, shorter than a batch header", ErrCorruptRecord, len(data))
		}
		// batchLength is an int32, as Kafka reads it: a negative one is
		// corrupt like any below the header size.
		size := int64(recordbatch.LogOverhead) + int64(h.BatchLength)
		if size < recordbatch.HeaderSize || size > int64(len(data)) {
			return next, fmt.Errorf("%w: batch of %d bytes in %d", ErrCorruptRecord, size, len(data))
		}
		batch := data[:size]
		data = data[size:]
		if h.Magic != recordbatch.MagicV2 {
			return next, fmt.Errorf("%w: batch magic %d", ErrCorruptRecord, h.Magic)
		}
		if !recordbatch.CRCValid(batch) {
			return next, fmt.Errorf("%w: batch CRC mismatch", ErrCorruptRecord)
		}
		next = h.LastOffset() + 1
		if h.IsControl() {
			continue
		}
		if h.Compression() != 0 {
			return next, ErrCompressedBatch
		}
		r := batch[recordbatch.HeaderSize:]
		for i := int32(0); i < h.RecordCount; i++ {
			key, value, rest, err := readRecord(r)
			if err != nil {
				return next, fmt.Errorf("%w: record %d of the batch at offset %d: %v", ErrCorruptRecord, i, h.BaseOffset, err)
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
