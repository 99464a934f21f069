package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"sync"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// Message formats v0 and v1 (magic 0 and 1) are what Produce v0-2 and
// Fetch v0-3 carry. A message set is a sequence of entries, each
//
//	offset int64 | messageSize int32 | crc uint32 | magic int8 |
//	attributes int8 | timestamp int64 (magic 1 only) |
//	keyLength int32 (negative: null) | key | valueLength int32 | value
//
// where messageSize counts from crc to the end of the value and crc is the
// CRC-32 (IEEE, not Castagnoli as in magic 2) of magic..value. The low three
// attribute bits are the codec (gzip 1, snappy 2, lz4 3; zstd needs magic 2)
// and, in magic 1, bit 3 the timestamp type (1: LogAppendTime, which only a
// broker sets).
//
// A compressed message (a wrapper) holds in its value the compressed message
// set of its inner messages: uncompressed, of the wrapper's magic. Inner
// offsets are absolute in magic 0, where the producer's values mean nothing
// and the broker assigns new ones, and relative (0..n-1) in magic 1, where
// the wrapper's own offset is that of its last inner message (KIP-31).
//
// gokafka stores magic 2 only, as Kafka 3.x does: Produce v0-2 sets are
// converted to one v2 batch (up_convert.go), and Fetch v0-3 answers are
// converted back from stored batches (down_convert.go).
const (
	MagicV0 int8 = 0
	MagicV1 int8 = 1

	// legacyEntryOverhead is the offset and messageSize before each
	// message.
	legacyEntryOverhead = 12
	// legacyMinSizeV0 and legacyMinSizeV1 are the smallest messageSize
	// of each magic: crc, magic, attributes, [timestamp,] and the two
	// lengths with a null key and value.
	legacyMinSizeV0 = 4 + 1 + 1 + 4 + 4
	legacyMinSizeV1 = legacyMinSizeV0 + 8
	// legacyAttrTimestampType is the LogAppendTime bit of magic 1.
	legacyAttrTimestampType = 0x08
	// legacyCodecMask selects the codec bits of the attributes.
	legacyCodecMask = 0x07
	// noTimestamp is the timestamp of a magic-0 message (Kafka's
	// RecordBatch.NO_TIMESTAMP).
	noTimestamp = -1
)

// RecordsMagic returns the magic of the first entry of a record set. A v2
// batch header and a v0/v1 message entry keep it at the same byte, so this
// is how to tell which format a Produce v0-2 request carries.
func RecordsMagic(records []byte) (int8, bool) {
	if len(records) <= recordbatch.MagicOffset {
		return 0, false
	}
	return int8(records[recordbatch.MagicOffset]), true
}

// legacyMessage is one decoded message. key and value alias the bytes it
// was read from; nil is null.
type legacyMessage struct {
	offset    int64
	magic     int8
	attrs     int8
	timestamp int64
	key       []byte
	value     []byte
}

func (m *legacyMessage) codec() int8 { return m.attrs & legacyCodecMask }

func (m *legacyMessage) logAppendTime() bool {
	return m.magic == MagicV1 && m.attrs&legacyAttrTimestampType != 0
}

// readLegacyMessage decodes the entry at the start of b and returns it with
// the number of bytes it takes. Every length is checked against b before it
// is used, so a forged one allocates nothing. Errors are ErrCorruptMessage:
// an entry cut short, a CRC mismatch, a magic other than 0 and 1, lengths
// that do not add up to messageSize.
func readLegacyMessage(b []byte) (legacyMessage, int, error) {
	var m legacyMessage
	if len(b) < legacyEntryOverhead {
		return m, 0, fmt.Errorf("%w: %d bytes left, a message entry needs %d", ErrCorruptMessage, len(b), legacyEntryOverhead)
	}
	m.offset = int64(binary.BigEndian.Uint64(b))
	size := int32(binary.BigEndian.Uint32(b[8:]))
	if size < legacyMinSizeV0 {
		return m, 0, fmt.Errorf("%w: message size %d is below the minimum %d", ErrCorruptMessage, size, legacyMinSizeV0)
	}
	if int64(size) > int64(len(b)-legacyEntryOverhead) {
		return m, 0, fmt.Errorf("%w: message size %d but %d bytes follow", ErrCorruptMessage, size, len(b)-legacyEntryOverhead)
	}
	msg := b[legacyEntryOverhead : legacyEntryOverhead+int(size)]
	if got, want := crc32.ChecksumIEEE(msg[4:]), binary.BigEndian.Uint32(msg); got != want {
		return m, 0, fmt.Errorf("%w: message crc32 is %#08x, the message says %#08x", ErrCorruptMessage, got, want)
	}
	m.magic, m.attrs = int8(msg[4]), int8(msg[5])
	body := msg[6:]
	switch m.magic {
	case MagicV0:
		m.timestamp = noTimestamp
	case MagicV1:
		if size < legacyMinSizeV1 {
			return m, 0, fmt.Errorf("%w: magic 1 message of %d bytes is below the minimum %d", ErrCorruptMessage, size, legacyMinSizeV1)
		}
		m.timestamp = int64(binary.BigEndian.Uint64(body))
		body = body[8:]
	default:
		return m, 0, fmt.Errorf("%w: magic %d in a message set", ErrCorruptMessage, m.magic)
	}
	var err error
	if m.key, body, err = legacyBytes(body, "key"); err != nil {
		return m, 0, err
	}
	if m.value, body, err = legacyBytes(body, "value"); err != nil {
		return m, 0, err
	}
	if len(body) != 0 {
		return m, 0, fmt.Errorf("%w: %d bytes after the value of a message", ErrCorruptMessage, len(body))
	}
	return m, legacyEntryOverhead + int(size), nil
}

// legacyBytes reads an int32-length-prefixed field. A negative length is
// null, as Kafka's LegacyRecord reads it.
func legacyBytes(b []byte, what string) (field, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, fmt.Errorf("%w: message ends inside its %s length", ErrCorruptMessage, what)
	}
	n := int32(binary.BigEndian.Uint32(b))
	b = b[4:]
	if n < 0 {
		return nil, b, nil
	}
	if int64(n) > int64(len(b)) {
		return nil, nil, fmt.Errorf("%w: %s length %d exceeds the %d bytes left in the message", ErrCorruptMessage, what, n, len(b))
	}
	return b[:n:n], b[n:], nil
}

// appendLegacyMessage appends one uncompressed entry in format magic (the
// timestamp is left out in magic 0) with its CRC.
func appendLegacyMessage(dst []byte, magic, attrs int8, offset, timestamp int64, key, value []byte) []byte {
	size := legacyMessageSize(magic, key, value)
	dst = binary.BigEndian.AppendUint64(dst, uint64(offset))
	dst = binary.BigEndian.AppendUint32(dst, uint32(size))
	crcAt := len(dst)
	dst = append(dst, 0, 0, 0, 0, byte(magic), byte(attrs))
	if magic == MagicV1 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(timestamp))
	}
	dst = appendLegacyBytes(dst, key)
	dst = appendLegacyBytes(dst, value)
	binary.BigEndian.PutUint32(dst[crcAt:], crc32.ChecksumIEEE(dst[crcAt+4:]))
	return dst
}

// legacyMessageSize is the messageSize of an uncompressed message.
func legacyMessageSize(magic int8, key, value []byte) int {
	n := legacyMinSizeV0 + len(key) + len(value)
	if magic == MagicV1 {
		n += 8
	}
	return n
}

func appendLegacyBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.BigEndian.AppendUint32(dst, 0xffffffff)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}

// messageSetWalker validates a message set and yields its records: plain
// messages as they are and the inner messages of compressed wrappers. Its
// buffer holds one wrapper's decompressed inner set at a time and is reused,
// so the records of a wrapper are valid only until the next one is read.
type messageSetWalker struct {
	inner bytes.Buffer
	// left is how many decompressed bytes the whole set may still yield.
	left int64
	// codec is the codec of the last compressed wrapper, CodecNone when
	// there was none.
	codec int8
	// msg and innerMsg hold the message fn is called with; fn takes a
	// pointer, which would move a local to the heap for every message.
	msg, innerMsg legacyMessage
	// maxMessage, when positive, is max.message.bytes: a message (a
	// wrapper with all its inner messages) longer than it, counted with
	// its offset and size, is ErrMessageTooLarge, as Kafka holds each
	// entry of a v0/v1 set to it.
	maxMessage int
	// reserve, when set, is told how many bytes a wrapper decompressed
	// to (a size the data has, not one it announces), so the caller can
	// grow its output once rather than by doubling.
	reserve func(n int)
}

// walkers reuses messageSetWalkers and their decompression buffers.
var walkers = sync.Pool{New: func() any { return new(messageSetWalker) }}

// getWalker returns a pooled walker allowed to decompress limit bytes.
func getWalker(limit int64) *messageSetWalker {
	w := walkers.Get().(*messageSetWalker)
	w.left, w.codec = limit, CodecNone
	return w
}

// release returns w to the pool without references to the request and
// without a buffer that grew beyond a typical batch.
func (w *messageSetWalker) release() {
	w.msg, w.innerMsg, w.reserve, w.maxMessage = legacyMessage{}, legacyMessage{}, nil, 0
	if w.inner.Cap() > maxKeptBuffer {
		w.inner = bytes.Buffer{}
	}
	walkers.Put(w)
}

// walk calls fn for every record of set in order. A wrapper's inner
// messages carry the wrapper's timestamp when it is LogAppendTime (never
// from a producer, see below) and otherwise their own.
//
// Beyond the entry checks of readLegacyMessage it applies the rules Kafka's
// LogValidator applies to magic 0 and 1 from producers: codecs 0-3 only
// (zstd is ErrUnsupportedCompression, 5-7 ErrCorruptMessage); no
// LogAppendTime timestamp type (ErrInvalidTimestamp); a wrapper has a value
// that decompresses within the bound to at least one inner message, each of
// the wrapper's magic and uncompressed (ErrInvalidRecord otherwise, as
// Kafka's InvalidRecordException); a magic-1 wrapper's offset is 0 or at
// least its last inner offset (see walkWrapper). Inner offsets are not
// checked otherwise: they are replaced anyway. A set with no message or
// bytes after the last whole message is ErrCorruptMessage: unlike Kafka,
// which drops a partial last message of a produce request silently, nothing
// of a set that does not parse is taken. On an error fn may already have
// seen some records; the caller discards them with the set.
func (w *messageSetWalker) walk(set []byte, fn func(*legacyMessage) error) error {
	if len(set) == 0 {
		return fmt.Errorf("%w: empty message set", ErrCorruptMessage)
	}
	for pos := 0; pos < len(set); {
		m, n, err := readLegacyMessage(set[pos:])
		if err != nil {
			return fmt.Errorf("message at byte %d: %w", pos, err)
		}
		if w.maxMessage > 0 && n > w.maxMessage {
			return fmt.Errorf("%w: message at byte %d is %d bytes, max.message.bytes %d", ErrMessageTooLarge, pos, n, w.maxMessage)
		}
		w.msg = m
		if err := checkLegacyAttributes(&w.msg); err != nil {
			return fmt.Errorf("message at byte %d: %w", pos, err)
		}
		if m.codec() == CodecNone {
			if err := fn(&w.msg); err != nil {
				return err
			}
		} else if err := w.walkWrapper(&w.msg, fn); err != nil {
			return fmt.Errorf("compressed message at byte %d: %w", pos, err)
		}
		pos += n
	}
	return nil
}

func checkLegacyAttributes(m *legacyMessage) error {
	switch codec := m.codec(); {
	case codec == CodecZstd:
		return fmt.Errorf("%w: zstd needs message format v2", ErrUnsupportedCompression)
	case codec > CodecZstd:
		return fmt.Errorf("%w: codec %d", ErrCorruptMessage, codec)
	case m.logAppendTime():
		return fmt.Errorf("%w: Producer should not set timestamp type to LogAppendTime", ErrInvalidTimestamp)
	}
	return nil
}

// walkWrapper decompresses a wrapper's value within w.left and yields its
// inner messages.
//
// Inner offsets are taken as they come, as Kafka 3.x takes them: in magic 0
// they are absolute and meaningless, and in magic 1 they should run 0..n-1
// (KIP-31) but some old clients write other values, which Kafka's
// LogValidator tolerates by rebuilding the batch with offsets of its own
// rather than rejecting it. The one offset rule Kafka keeps is on the
// wrapper (its legacy deep-record iterator): a magic-1 wrapper's offset is
// either 0 (some librdkafka versions send that) or at least the offset of
// its last inner message, else the set is ErrInvalidRecord. gokafka assigns
// every record a new offset in any case (up_convert.go).
func (w *messageSetWalker) walkWrapper(m *legacyMessage, fn func(*legacyMessage) error) error {
	if m.value == nil {
		return fmt.Errorf("%w: compressed message without a value", ErrCorruptMessage)
	}
	w.codec = m.codec()
	payload := m.value
	// Only magic 0 is forgiven the pre-KIP-57 lz4 header checksum; in
	// magic 1 the decoder rejects it, as Kafka's does. That is
	// ErrCorruptMessage here like any payload that does not decompress
	// (Kafka 3.9 answers UNKNOWN_SERVER_ERROR for all of them: its
	// decompressors throw a KafkaException, which is no API error).
	if w.codec == CodecLZ4 && m.magic == MagicV0 {
		payload = fixLZ4V0Header(payload)
	}
	src, release, err := decoders.open(w.codec, payload, w.left)
	if err != nil {
		return err
	}
	defer release()
	w.inner.Reset()
	// ReadFrom grows the buffer with the bytes that actually arrive,
	// never by a length the payload announces.
	n, err := w.inner.ReadFrom(io.LimitReader(src, w.left+1))
	if err != nil {
		return decompressError(err)
	}
	if n > w.left {
		return fmt.Errorf("%w: inner messages decompress beyond %d bytes", ErrCorruptMessage, w.left)
	}
	w.left -= n
	inner := w.inner.Bytes()
	if len(inner) == 0 {
		return fmt.Errorf("%w: no inner messages", ErrCorruptMessage)
	}
	if w.reserve != nil {
		w.reserve(len(inner))
	}
	var lastInner int64
	for i, pos := int64(0), 0; pos < len(inner); i++ {
		im, n, err := readLegacyMessage(inner[pos:])
		if err != nil {
			return fmt.Errorf("inner message %d: %w", i, err)
		}
		switch {
		case im.magic != m.magic:
			return fmt.Errorf("%w: inner message %d has magic %d in a magic %d wrapper", ErrInvalidRecord, i, im.magic, m.magic)
		case im.codec() != CodecNone:
			return fmt.Errorf("%w: inner message %d is compressed again", ErrInvalidRecord, i)
		}
		lastInner = im.offset
		w.innerMsg = im
		if err := checkLegacyAttributes(&w.innerMsg); err != nil {
			return fmt.Errorf("inner message %d: %w", i, err)
		}
		if err := fn(&w.innerMsg); err != nil {
			return err
		}
		pos += n
	}
	if m.magic == MagicV1 && m.offset != 0 && m.offset < lastInner {
		return fmt.Errorf("%w: wrapper offset %d is below its last inner offset %d and not 0", ErrInvalidRecord, m.offset, lastInner)
	}
	return nil
}

// lz4 frame layout (the parts the v0 fix needs): magic, FLG, BD, an
// optional content size and dictionary id, then the header checksum HC.
const (
	lz4FrameMagic   = 0x184D2204
	lz4FlagSize     = 1 << 3
	lz4FlagDictID   = 1 << 0
	lz4DescStart    = 4
	lz4MinHeaderLen = 7
)

// fixLZ4V0Header returns payload with a correct frame header checksum.
// Kafka before 0.10 computed the checksum over the frame magic as well as
// the descriptor, and Kafka still reads magic-0 lz4 messages ignoring the
// checksum (KIP-57 fixed it for magic 1 only); the lz4 decoder insists on
// it, so a magic-0 frame is given the checksum it should have had. The
// request's bytes are not changed: a differing frame is copied.
func fixLZ4V0Header(payload []byte) []byte {
	if len(payload) < lz4MinHeaderLen || binary.LittleEndian.Uint32(payload) != lz4FrameMagic {
		return payload // the decoder reports it
	}
	flg := payload[lz4DescStart]
	hc := lz4DescStart + 2
	if flg&lz4FlagSize != 0 {
		hc += 8
	}
	if flg&lz4FlagDictID != 0 {
		hc += 4
	}
	if hc >= len(payload) {
		return payload
	}
	want := lz4HeaderChecksum(payload[lz4DescStart:hc])
	if payload[hc] == want {
		return payload
	}
	fixed := bytes.Clone(payload)
	fixed[hc] = want
	return fixed
}

// lz4HeaderChecksum is the frame descriptor checksum of the lz4 frame
// format: the second byte of the XXH32 (seed 0) of the descriptor. The
// descriptor is at most 14 bytes, so only XXH32's short-input path is
// needed: it is written out here from the format's specification.
func lz4HeaderChecksum(desc []byte) byte {
	const (
		p1 uint32 = 2654435761
		p2 uint32 = 2246822519
		p3 uint32 = 3266489917
		p4 uint32 = 668265263
		p5 uint32 = 374761393
	)
	h := p5 + uint32(len(desc))
	for ; len(desc) >= 4; desc = desc[4:] {
		h += binary.LittleEndian.Uint32(desc) * p3
		h = bits.RotateLeft32(h, 17) * p4
	}
	for _, c := range desc {
		h += uint32(c) * p5
		h = bits.RotateLeft32(h, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return byte(h >> 8)
}
