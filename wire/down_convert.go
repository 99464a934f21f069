package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/klauspost/compress/snappy/xerial"
)

// DownConverter turns stored magic-v2 batches into format v0 or v1 messages
// for Fetch v0-3, as Kafka's down-conversion does for consumers older than
// 0.11. An uncompressed batch becomes plain messages; a compressed one
// becomes one wrapper message of the batch's codec holding the records as
// inner messages, as Kafka writes it (snappy in snappy-java's framing, which
// Kafka and its Java clients of that era write), except lz4 for format v0:
// Kafka writes those frames with the pre-KIP-57 header checksum, which
// strict lz4 readers reject, so they go out plain, and zstd, which formats
// v0 and v1 cannot carry (the broker answers a Fetch below v10 that would
// need it UNSUPPORTED_COMPRESSION_TYPE first). A wrapper that would not
// be smaller than its messages goes out as plain messages too. Headers,
// which formats v0 and v1 cannot carry, are dropped; control batches
// (transaction markers) are skipped whole, as old consumers must never see
// them.
//
// A DownConverter keeps buffers (a decompressed batch, a wrapper's inner
// messages and their compressed form) between calls; it is not safe for
// concurrent use.
type DownConverter struct {
	// Magic is the format written: MagicV0 for Fetch v0-1, MagicV1 for
	// Fetch v2-3.
	Magic int8
	// MaxDecompressedBytes bounds what one compressed batch may expand
	// to; zero means DefaultMaxDecompressedBytes.
	MaxDecompressedBytes int
	buf                  bytes.Buffer
	inner, comp          []byte
}

// maxKeptBuffer is the largest buffer Release (and messageSetWalker's
// release) keeps.
const maxKeptBuffer = 1 << 20

// Release drops buffers that grew beyond a typical batch, so a pooled
// DownConverter does not pin a rare large one.
func (c *DownConverter) Release() {
	if c.buf.Cap() > maxKeptBuffer {
		c.buf = bytes.Buffer{}
	} else {
		c.buf.Reset()
	}
	if cap(c.inner) > maxKeptBuffer {
		c.inner = nil
	}
	if cap(c.comp) > maxKeptBuffer {
		c.comp = nil
	}
}

// errRecord wraps a malformed record of a stored batch.
var errRecord = errors.New("malformed record")

// Append appends the records of batch (one whole magic-v2 batch, CRC not
// checked again) whose offsets are from onwards to dst. It stops before a
// message that would take dst beyond maxLen (a wrapper counted as if its
// inner messages were not compressed), except that the first message of an
// empty dst may take up to firstMax (at least maxLen): a message larger than
// the consumer's fetch size still goes out whole when the response has
// room, so the consumer makes progress (KIP-74's rule) instead of asking for
// the same offset again. It returns dst, the offset after the last record
// looked at (the next offset to read), and whether it stopped for the
// bounds.
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
	codec := h.Compression()
	payload := batch[RecordBatchHeaderSize:h.Size()]
	if codec != CodecNone {
		if payload, err = c.decompress(codec, payload); err != nil {
			return dst, from, false, fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
		}
	}
	var attrs int8
	logAppend := h.IsLogAppendTime() && c.Magic == MagicV1
	if logAppend {
		attrs = legacyAttrTimestampType
	}
	// Plain messages go to dst; those of a wrapper to c.inner first, and
	// the bounds count the wrapper's own header around them.
	wrap := codec == CodecGzip || codec == CodecSnappy || (codec == CodecLZ4 && c.Magic == MagicV1)
	out, used := dst, 0
	if wrap {
		out, used = c.inner[:0], len(dst)+legacyEntryOverhead+legacyMessageSize(c.Magic, nil, nil)
	}
	empty := len(dst) == 0
	// taken says whether a message is out yet: offsets in a damaged batch
	// can be negative, so first cannot double as the sentinel.
	first, last, maxTS := int64(-1), int64(-1), int64(recordbatch.NoTimestamp)
	taken, stopped := false, false
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
		if total := used + len(out) + size; total > maxLen && (!empty || taken || total > firstMax) {
			next, stopped = off, true
			break
		}
		out = appendLegacyMessage(out, c.Magic, attrs, off, ts, r.key, r.value)
		if !taken {
			first, taken = off, true
		}
		last, maxTS = off, max(maxTS, ts)
	}
	if !wrap {
		return out, next, stopped, nil
	}
	c.inner = out
	if !taken {
		return dst, next, stopped, nil
	}
	wrapperTS := maxTS
	if logAppend {
		wrapperTS = h.MaxTimestamp
	}
	dst, err = c.appendWrapper(dst, codec, attrs, first, last, wrapperTS)
	return dst, next, stopped, err
}

// appendWrapper appends the messages in c.inner (offsets first..last,
// absolute) as one wrapper message compressed with codec: its offset is
// that of the last inner message, and in format v1 the inner offsets are
// relative to the first (KIP-31). When the wrapper would not be smaller
// than the messages themselves they are appended plain.
func (c *DownConverter) appendWrapper(dst []byte, codec, attrs int8, first, last, ts int64) ([]byte, error) {
	if c.Magic == MagicV1 {
		shiftOffsets(c.inner, -first)
	}
	if codec == CodecSnappy {
		c.comp = xerial.Encode(c.comp[:0], c.inner)
	} else {
		var err error
		if c.comp, err = encoders.compress(c.comp[:0], codec, c.inner); err != nil {
			return dst, fmt.Errorf("compress offsets %d-%d: %w", first, last, err)
		}
	}
	if legacyEntryOverhead+legacyMessageSize(c.Magic, nil, c.comp) >= len(c.inner) {
		if c.Magic == MagicV1 {
			shiftOffsets(c.inner, first)
		}
		return append(dst, c.inner...), nil
	}
	return appendLegacyMessage(dst, c.Magic, attrs|codec, last, ts, nil, c.comp), nil
}

// shiftOffsets adds delta to the offset of every entry of a message set
// built by appendLegacyMessage. Offsets are outside the CRC.
func shiftOffsets(set []byte, delta int64) {
	for len(set) >= legacyEntryOverhead {
		binary.BigEndian.PutUint64(set, uint64(int64(binary.BigEndian.Uint64(set))+delta))
		set = set[legacyEntryOverhead+int(binary.BigEndian.Uint32(set[8:])):]
	}
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
