package wire

import (
	"errors"
	"fmt"
	"io"
)

// errTruncated means the records payload ended inside a record.
var errTruncated = errors.New("records truncated")

// errDecompressedTooLarge means a compressed payload expanded beyond the
// validation bound.
var errDecompressedTooLarge = errors.New("decompressed size exceeds the bound")

// recordCursor walks the records of a batch payload. For an uncompressed
// batch buf is the whole payload and src is nil, so walking allocates
// nothing. For a compressed batch buf is a fixed window refilled from src (a
// decompressor), so validating a batch needs memory for the window only, not
// for the decompressed payload, and limit caps how many bytes src may yield.
type recordCursor struct {
	buf    []byte // buf[pos:] are the bytes not consumed yet
	pos    int
	base   int64 // stream offset of buf[0]
	src    io.Reader
	limit  int64
	srcErr error // sticky error (io.EOF at the end) from src
	empty  int   // consecutive reads that returned nothing
}

// sliceCursor walks an in-memory payload.
func sliceCursor(b []byte) recordCursor { return recordCursor{buf: b} }

// offset is the number of payload bytes consumed so far.
func (c *recordCursor) offset() int64 { return c.base + int64(c.pos) }

// fill reads more bytes from src into the window. It returns io.EOF when the
// payload is exhausted.
func (c *recordCursor) fill() error {
	if c.src == nil {
		return io.EOF
	}
	if c.srcErr != nil {
		return c.srcErr
	}
	// Slide the unread bytes to the front; the window keeps its capacity.
	n := copy(c.buf[:cap(c.buf)], c.buf[c.pos:])
	c.base += int64(c.pos)
	c.pos = 0
	win := c.buf[:cap(c.buf)]
	m, err := c.src.Read(win[n:])
	c.buf = win[:n+m]
	if c.base+int64(len(c.buf)) > c.limit {
		c.srcErr = fmt.Errorf("%w: more than %d bytes", errDecompressedTooLarge, c.limit)
		return c.srcErr
	}
	if err != nil {
		c.srcErr = err
		if m > 0 {
			return nil
		}
		return err
	}
	if m == 0 {
		// A reader may return (0, nil) now and then, never forever.
		if c.empty++; c.empty > 100 {
			c.srcErr = io.ErrNoProgress
			return c.srcErr
		}
	} else {
		c.empty = 0
	}
	return nil
}

// atEnd reports whether the payload is fully consumed. A source error other
// than io.EOF is returned as such.
func (c *recordCursor) atEnd() (bool, error) {
	for c.pos == len(c.buf) {
		if err := c.fill(); err != nil {
			if err == io.EOF {
				return true, nil
			}
			return false, err
		}
	}
	return false, nil
}

func (c *recordCursor) readByte() (byte, error) {
	for c.pos == len(c.buf) {
		if err := c.fill(); err != nil {
			return 0, eofIsTruncated(err)
		}
	}
	b := c.buf[c.pos]
	c.pos++
	return b, nil
}

// uvarint reads an unsigned LEB128 value of at most maxBytes bytes.
func (c *recordCursor) uvarint(maxBytes int) (uint64, error) {
	var x uint64
	var s uint
	for i := 0; i < maxBytes; i++ {
		var b byte
		if c.pos < len(c.buf) {
			b = c.buf[c.pos]
			c.pos++
		} else {
			var err error
			if b, err = c.readByte(); err != nil {
				return 0, err
			}
		}
		if b < 0x80 {
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, errors.New("varint too long")
}

// varint reads a zigzag varint that must fit an int32, as Kafka's
// ByteUtils.readVarint does.
func (c *recordCursor) varint() (int32, error) {
	// Most record fields fit one or two bytes (a 100-byte value's length
	// and the offset deltas past 63 take two): decode those inline. This
	// loop runs several times per record on the produce path.
	if c.pos+1 < len(c.buf) {
		b0, b1 := c.buf[c.pos], c.buf[c.pos+1]
		if b0 < 0x80 {
			c.pos++
			return int32(b0>>1) ^ -int32(b0&1), nil
		}
		if b1 < 0x80 {
			c.pos += 2
			u := uint32(b0&0x7f) | uint32(b1)<<7
			return int32(u>>1) ^ -int32(u&1), nil
		}
	} else if c.pos < len(c.buf) {
		if b := c.buf[c.pos]; b < 0x80 {
			c.pos++
			return int32(b>>1) ^ -int32(b&1), nil
		}
	}
	return c.varintSlow()
}

func (c *recordCursor) varintSlow() (int32, error) {
	u, err := c.uvarint(5)
	if err != nil {
		return 0, err
	}
	if u > 1<<32-1 {
		return 0, errors.New("varint overflows int32")
	}
	return int32(uint32(u)>>1) ^ -int32(uint32(u)&1), nil
}

// varlong reads a zigzag varint of up to 64 bits.
func (c *recordCursor) varlong() (int64, error) {
	// Timestamp deltas inside a batch are usually a few milliseconds.
	if c.pos < len(c.buf) {
		if b := c.buf[c.pos]; b < 0x80 {
			c.pos++
			return int64(b>>1) ^ -int64(b&1), nil
		}
	}
	u, err := c.uvarint(10)
	if err != nil {
		return 0, err
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

// skip consumes n bytes.
func (c *recordCursor) skip(n int64) error {
	for {
		avail := int64(len(c.buf) - c.pos)
		if n <= avail {
			c.pos += int(n)
			return nil
		}
		n -= avail
		c.pos = len(c.buf)
		if err := c.fill(); err != nil {
			return eofIsTruncated(err)
		}
	}
}

func eofIsTruncated(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errTruncated
	}
	return err
}

// recordInfo is what the broker needs from one record; keys, values and
// headers are skipped without being copied.
type recordInfo struct {
	timestampDelta int64
	offsetDelta    int32
	nullKey        bool
}

// next decodes one magic-v2 record:
//
//	length varint | attributes int8 | timestampDelta varlong |
//	offsetDelta varint | keyLength varint (-1 null) | key |
//	valueLength varint (-1 null) | value | headerCount varint |
//	headers: keyLength varint | key | valueLength varint (-1 null) | value
//
// The fields must consume exactly length bytes. Lengths are checked against
// what is left of the record before anything is skipped, so a forged length
// cannot make a compressed payload decompress further than its record.
func (c *recordCursor) next() (recordInfo, error) {
	var r recordInfo
	length, err := c.varint()
	if err != nil {
		return r, err
	}
	if length < 0 {
		return r, fmt.Errorf("negative record length %d", length)
	}
	if c.src == nil && int(length) > len(c.buf)-c.pos {
		return r, fmt.Errorf("record length %d exceeds the %d bytes left: %w", length, len(c.buf)-c.pos, errTruncated)
	}
	end := c.offset() + int64(length)
	if _, err := c.readByte(); err != nil { // attributes, unused in v2
		return r, err
	}
	if r.timestampDelta, err = c.varlong(); err != nil {
		return r, err
	}
	if r.offsetDelta, err = c.varint(); err != nil {
		return r, err
	}
	if r.nullKey, err = c.skipNullable(end, "key"); err != nil {
		return r, err
	}
	if err := c.skipBytes(end, "value", true); err != nil {
		return r, err
	}
	headers, err := c.varint()
	if err != nil {
		return r, err
	}
	if headers < 0 {
		return r, fmt.Errorf("negative header count %d", headers)
	}
	for i := int32(0); i < headers; i++ {
		if c.offset() >= end {
			return r, fmt.Errorf("header %d of %d starts past the record end", i, headers)
		}
		if err := c.skipBytes(end, "header key", false); err != nil {
			return r, err
		}
		if err := c.skipBytes(end, "header value", true); err != nil {
			return r, err
		}
	}
	if got := c.offset(); got != end {
		return r, fmt.Errorf("record fields end at %d, length says %d", got, end)
	}
	return r, nil
}

// skipBytes reads a varint length and skips that many bytes, which must lie
// before end. Negative lengths mean null where nullable (Kafka reads any
// negative length as null) and are invalid otherwise.
func (c *recordCursor) skipBytes(end int64, what string, nullable bool) error {
	null, err := c.skipNullable(end, what)
	if err == nil && null && !nullable {
		return fmt.Errorf("negative %s length", what)
	}
	return err
}

// skipNullable is skipBytes for a nullable field, reporting whether it was
// null.
func (c *recordCursor) skipNullable(end int64, what string) (bool, error) {
	n, err := c.varint()
	if err != nil {
		return false, fmt.Errorf("%s length: %w", what, err)
	}
	if n < 0 {
		return true, nil
	}
	if left := end - c.offset(); int64(n) > left {
		return false, fmt.Errorf("%s length %d exceeds the %d bytes left in the record", what, n, left)
	}
	return false, c.skip(int64(n))
}
