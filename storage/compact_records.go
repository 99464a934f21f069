package storage

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// The log cleaner is the one part of storage that reads records, not only
// batch headers: it needs each record's offset, key and whether its value is
// null (a tombstone). A magic-v2 record is
//
//	length varint | attributes int8 | timestampDelta varlong |
//	offsetDelta varint | keyLength varint (-1 null) | key |
//	valueLength varint (-1 null) | value | headerCount varint | headers
//
// The records of a cleaned batch are copied byte for byte: the batch keeps
// its base offset and base timestamp, so every delta stays right.

// Codec decompresses and compresses batch payloads for the cleaner. storage
// does not depend on the codecs; the broker passes wire's (wire.Codecs).
type Codec interface {
	// Decompress returns payload decompressed with codec (1 gzip, 2
	// snappy, 3 lz4, 4 zstd), failing past limit bytes.
	Decompress(codec int8, payload []byte, limit int) ([]byte, error)
	// Compress appends src compressed with codec to dst.
	Compress(dst []byte, codec int8, src []byte) ([]byte, error)
}

// maxCleanerDecompressed bounds what one batch may decompress to while it
// is cleaned, as the broker bounds it at produce.
const maxCleanerDecompressed = 64 << 20

// cleanerRecord is one decoded record; key aliases the payload.
type cleanerRecord struct {
	offsetDelta int32
	timestamp   int64 // base timestamp + delta
	key         []byte
	hasKey      bool
	tombstone   bool
	raw         []byte // the whole encoded record, length prefix included
}

// readCleanerRecord decodes the record at the start of b; it never
// allocates and rejects lengths that run past b.
func readCleanerRecord(b []byte, baseTs int64) (cleanerRecord, int, error) {
	var r cleanerRecord
	length, n := binary.Varint(b)
	if n <= 0 || length < 1 || length > int64(len(b)-n) {
		return r, 0, fmt.Errorf("record length: %w", ErrCorruption)
	}
	total := n + int(length)
	r.raw = b[:total]
	body := b[n+1 : total] // past the attributes
	tsDelta, k := binary.Varint(body)
	if k <= 0 {
		return r, 0, fmt.Errorf("record timestamp delta: %w", ErrCorruption)
	}
	body = body[k:]
	r.timestamp = baseTs + tsDelta
	od, k := binary.Varint(body)
	if k <= 0 || od < 0 || od > math.MaxInt32 {
		return r, 0, fmt.Errorf("record offset delta: %w", ErrCorruption)
	}
	r.offsetDelta = int32(od)
	body = body[k:]
	kl, k := binary.Varint(body)
	if k <= 0 || kl > int64(len(body)-k) {
		return r, 0, fmt.Errorf("record key: %w", ErrCorruption)
	}
	body = body[k:]
	if kl >= 0 {
		r.hasKey = true
		r.key = body[:kl]
		body = body[kl:]
	}
	vl, k := binary.Varint(body)
	if k <= 0 || vl > int64(len(body)-k) {
		return r, 0, fmt.Errorf("record value: %w", ErrCorruption)
	}
	r.tombstone = vl < 0
	return r, total, nil
}

// forEachRecord calls fn for every record of the (decompressed) records
// payload of the batch h.
func forEachRecord(payload []byte, h *batchHeader, fn func(r *cleanerRecord) error) error {
	for i := int32(0); len(payload) > 0; i++ {
		if i >= h.RecordCount {
			return fmt.Errorf("batch at offset %d: more records than its count %d: %w", h.BaseOffset, h.RecordCount, ErrCorruption)
		}
		r, n, err := readCleanerRecord(payload, h.BaseTimestamp)
		if err != nil {
			return fmt.Errorf("batch at offset %d record %d: %w", h.BaseOffset, i, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
		payload = payload[n:]
	}
	return nil
}

// batchPayload returns the batch's records, decompressed when it is
// compressed.
func batchPayload(batch []byte, h *batchHeader, codec Codec) ([]byte, error) {
	payload := batch[recordbatch.HeaderSize:h.size()]
	c := h.Compression()
	if c == 0 {
		return payload, nil
	}
	if codec == nil {
		return nil, fmt.Errorf("batch at offset %d: compressed (codec %d) and no codec given", h.BaseOffset, c)
	}
	out, err := codec.Decompress(c, payload, maxCleanerDecompressed)
	if err != nil {
		return nil, fmt.Errorf("batch at offset %d: decompress: %w", h.BaseOffset, err)
	}
	return out, nil
}

// filterBatch returns the batch rewritten to hold only the records keep
// accepts, appended to dst; same reports that every record was kept (dst
// then holds the original bytes). As Kafka's MemoryRecords.filterTo, a
// rewritten batch keeps its base offset, last offset delta, producer fields
// and base sequence (so an idempotent producer's last sequence survives),
// its codec (the records are compressed again), and gets a new record
// count, max timestamp (CreateTime) and CRC. When no record is kept, the
// batch is dropped (n == 0) unless retainEmpty, when only its header stays:
// Kafka's empty batch carrying the last sequence of an idempotent producer.
func filterBatch(dst, batch []byte, h *batchHeader, codec Codec, retainEmpty bool, keep func(r *cleanerRecord) bool) (out []byte, kept int, same bool, err error) {
	payload, err := batchPayload(batch, h, codec)
	if err != nil {
		return dst, 0, false, err
	}
	var recs []byte
	maxTs := int64(recordbatch.NoTimestamp)
	total := 0
	err = forEachRecord(payload, h, func(r *cleanerRecord) error {
		total++
		if keep(r) {
			kept++
			recs = append(recs, r.raw...)
			maxTs = max(maxTs, r.timestamp)
		}
		return nil
	})
	if err != nil {
		return dst, 0, false, err
	}
	if kept == total {
		return append(dst, batch[:h.size()]...), kept, true, nil
	}
	if kept == 0 && !retainEmpty {
		return dst, 0, false, nil
	}
	start := len(dst)
	dst = append(dst, batch[:recordbatch.HeaderSize]...)
	hdr := dst[start:]
	attrs := h.Attributes
	if kept == 0 {
		// Kafka's writeEmptyHeader: no codec, both timestamps the old max.
		attrs &^= recordbatch.AttrCompressionMask
		binary.BigEndian.PutUint64(hdr[recordbatch.BaseTimestampOffset:], uint64(h.MaxTimestamp))
	} else {
		if !h.IsLogAppendTime() {
			binary.BigEndian.PutUint64(hdr[recordbatch.MaxTimestampOffset:], uint64(maxTs))
		}
		if c := h.Compression(); c != 0 {
			if dst, err = codec.Compress(dst, c, recs); err != nil {
				return dst[:start], 0, false, fmt.Errorf("batch at offset %d: compress: %w", h.BaseOffset, err)
			}
		} else {
			dst = append(dst, recs...)
		}
		hdr = dst[start:]
	}
	binary.BigEndian.PutUint16(hdr[recordbatch.AttributesOffset:], uint16(attrs))
	binary.BigEndian.PutUint32(hdr[recordbatch.RecordCountOffset:], uint32(kept))
	binary.BigEndian.PutUint32(hdr[recordbatch.LengthOffset:], uint32(len(hdr)-recordbatch.LogOverhead))
	binary.BigEndian.PutUint32(hdr[recordbatch.CRCOffset:], recordbatch.Checksum(hdr))
	return dst, kept, false, nil
}
