package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// DownConverter turns stored magic-v2 batches into format v0 or v1 messages
// for Fetch v0-3, as Kafka's down-conversion does for consumers older than
// 0.11. Messages are written uncompressed: Kafka keeps the batch's codec in
// a wrapper message, which saves bandwidth but would make every old
// consumer's fetch pay for a recompression here. Headers, which formats v0
// and v1 cannot carry, are dropped; control batches (transaction markers)
// are skipped whole, as old consumers must never see them.
//
// A DownConverter keeps a buffer for decompressed batches between calls;
// it is not safe for concurrent use.
type DownConverter struct {
	// Magic is the format written: MagicV0 for Fetch v0-1, MagicV1 for
	// Fetch v2-3.
	Magic int8
	// MaxDecompressedBytes bounds what one compressed batch may expand
	// to; zero means DefaultMaxDecompressedBytes.
	MaxDecompressedBytes int
	buf                  bytes.Buffer
}

// maxKeptBuffer is the largest decompression buffer Release keeps.
const maxKeptBuffer = 1 << 20

// Release drops a decompression buffer that grew beyond a typical batch, so
// a pooled DownConverter does not pin a rare large one.
func (c *DownConverter) Release() {
	if c.buf.Cap() > maxKeptBuffer {
		c.buf = bytes.Buffer{}
	} else {
		c.buf.Reset()
	}
}

// errRecord wraps a malformed record of a stored batch.
var errRecord = errors.New("malformed record")

// Append appends the records of batch (one whole magic-v2 batch, CRC not
// checked again) whose offsets are from onwards to dst. It stops before a
// message that would take dst beyond maxLen, except that the first message
// of an empty dst may take up to firstMax (at least maxLen): a message
// larger than the consumer's fetch size still goes out whole when the
// response has room, so the consumer makes progress (KIP-74's rule) instead
// of asking for the same offset again. It returns dst, the offset after
// the last record looked at (the next offset to read), and whether it
// stopped for the bounds.
func (c *DownConverter) Append(dst, batch []byte, from int64, maxLen, firstMax int) ([]byte, int64, bool, error) {
	h, err := ParseBatchHeader(batch)
	if err != nil {
		return dst, from, false, err
	}
	if h.Magic != recordbatch.MagicV2 {
		return dst, from, false, fmt.Errorf("%w: stored batch with magic %d", ErrCorruptMessage, h.Magic)
	}
	next := max(from, h.LastOffset()+1)
	if h.IsControl() || h.LastOffset() < from {
		return dst, next, false, nil
	}
	payload := batch[RecordBatchHeaderSize:h.Size()]
	if codec := h.Compression(); codec != CodecNone {
		if payload, err = c.decompress(codec, payload); err != nil {
			return dst, from, false, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
		}
	}
	var attrs int8
	logAppend := h.IsLogAppendTime() && c.Magic == MagicV1
	if logAppend {
		attrs = legacyAttrTimestampType
	}
	for i := int32(0); len(payload) > 0; i++ {
		r, n, err := readRecordV2(payload)
		if err != nil {
			return dst, from, false, fmt.Errorf("%w: batch at offset %d record %d: %w", ErrCorruptMessage, h.BaseOffset, i, err)
		}
		payload = payload[n:]
		off := h.BaseOffset + int64(r.offsetDelta)
		if off < from {
			continue
		}
		ts := h.BaseTimestamp + r.timestampDelta
		if logAppend {
			ts = h.MaxTimestamp
		}
		size := legacyEntryOverhead + legacyMessageSize(c.Magic, r.key, r.value)
		if len(dst)+size > maxLen && (len(dst) > 0 || size > firstMax) {
			return dst, off, true, nil
		}
		dst = appendLegacyMessage(dst, c.Magic, attrs, off, ts, r.key, r.value)
	}
	return dst, next, false, nil
}

// decompress reads the whole decompressed payload into c's buffer, within
// the bound.
func (c *DownConverter) decompress(codec int8, payload []byte) ([]byte, error) {
	limit := int64(c.MaxDecompressedBytes)
	if limit <= 0 {
		limit = DefaultMaxDecompressedBytes
	}
	src, release, err := decoders.open(codec, payload, limit)
	if err != nil {
		return nil, err
	}
	defer release()
	c.buf.Reset()
	n, err := c.buf.ReadFrom(io.LimitReader(src, limit+1))
	if err != nil {
		return nil, decompressError(err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: batch decompresses beyond %d bytes", ErrCorruptMessage, limit)
	}
	return c.buf.Bytes(), nil
}

// recordV2 is one decoded magic-v2 record; key and value alias the payload.
type recordV2 struct {
	timestampDelta int64
	offsetDelta    int32
	key, value     []byte
}

// readRecordV2 decodes the record at the start of b (see recordCursor.next
// for the layout) and returns it with its encoded size. Headers are checked
// and skipped.
func readRecordV2(b []byte) (recordV2, int, error) {
	var r recordV2
	length, n := binary.Varint(b)
	if n <= 0 || length < 0 || length > int64(len(b)-n) {
		return r, 0, fmt.Errorf("%w: record length", errRecord)
	}
	total := n + int(length)
	body := b[n:total]
	if len(body) < 1 {
		return r, 0, fmt.Errorf("%w: no attributes", errRecord)
	}
	body = body[1:]
	var ok bool
	if r.timestampDelta, body, ok = readVarint(body); !ok {
		return r, 0, fmt.Errorf("%w: timestamp delta", errRecord)
	}
	var od int64
	if od, body, ok = readVarint(body); !ok || od != int64(int32(od)) {
		return r, 0, fmt.Errorf("%w: offset delta", errRecord)
	}
	r.offsetDelta = int32(od)
	if r.key, body, ok = readVarintBytes(body); !ok {
		return r, 0, fmt.Errorf("%w: key", errRecord)
	}
	if r.value, body, ok = readVarintBytes(body); !ok {
		return r, 0, fmt.Errorf("%w: value", errRecord)
	}
	headers, body, ok := readVarint(body)
	if !ok || headers < 0 {
		return r, 0, fmt.Errorf("%w: header count", errRecord)
	}
	for i := int64(0); i < headers; i++ {
		var k []byte
		if k, body, ok = readVarintBytes(body); !ok || k == nil {
			return r, 0, fmt.Errorf("%w: header %d key", errRecord, i)
		}
		if _, body, ok = readVarintBytes(body); !ok {
			return r, 0, fmt.Errorf("%w: header %d value", errRecord, i)
		}
	}
	if len(body) != 0 {
		return r, 0, fmt.Errorf("%w: %d bytes after the headers", errRecord, len(body))
	}
	return r, total, nil
}

func readVarint(b []byte) (int64, []byte, bool) {
	x, n := binary.Varint(b)
	if n <= 0 {
		return 0, b, false
	}
	return x, b[n:], true
}

// readVarintBytes reads a varint length and that many bytes; a negative
// length is null.
func readVarintBytes(b []byte) ([]byte, []byte, bool) {
	n, rest, ok := readVarint(b)
	if !ok {
		return nil, b, false
	}
	if n < 0 {
		return nil, rest, true
	}
	if n > int64(len(rest)) {
		return nil, b, false
	}
	return rest[:n:n], rest[n:], true
}
