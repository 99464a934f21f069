package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression codecs, the low three bits of a batch's attributes. Values 5-7
// are not assigned and are ErrUnsupportedCompression.
const (
	CodecNone   int8 = 0
	CodecGzip   int8 = 1
	CodecSnappy int8 = 2
	CodecLZ4    int8 = 3
	CodecZstd   int8 = 4
)

// DefaultMaxDecompressedBytes bounds decompression when
// ValidateConfig.MaxDecompressedBytes or RecordTimestamps' bound is zero.
const DefaultMaxDecompressedBytes = 64 << 20

const (
	// windowSize is the record cursor's window over a decompressed
	// stream: validation memory per batch is this plus the decoder state.
	windowSize = 16 << 10
	// maxPooledBlock is the largest snappy block buffer kept for reuse.
	maxPooledBlock = 1 << 20
)

// xerialMagic opens a snappy payload framed by snappy-java's
// SnappyOutputStream, which Kafka's Java producer writes: the magic, an int32
// version and an int32 compatible version, then blocks of int32 length plus
// a raw snappy block. librdkafka and franz-go write one raw block instead.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

// decoderPools caches decompressors across batches. Decoders are expensive
// to create (zstd most of all) and a produce-heavy broker validates every
// compressed batch, so each codec has a sync.Pool. The pools are the only
// state and are safe for concurrent use; the package-level value below is
// never reassigned, so it behaves as an immutable helper whose pools merely
// cache. A pool rather than a per-broker value keeps ValidateProduceBatch a
// plain function, which is what the broker and storage call.
type decoderPools struct {
	gzip   sync.Pool // *gzip.Reader
	lz4    sync.Pool // *lz4.Reader
	zstd   sync.Pool // *zstd.Decoder
	snappy sync.Pool // *snappyReader
	window sync.Pool // *[]byte of windowSize
}

var decoders = &decoderPools{}

// byteSource reads a byte slice. It deliberately lacks Bytes and Len so the
// zstd decoder streams rather than decoding the whole payload into memory,
// and has ReadByte so gzip does not wrap it in a bufio.Reader per batch.
type byteSource struct{ b []byte }

func (s *byteSource) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	return n, nil
}

func (s *byteSource) ReadByte() (byte, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c, nil
}

// openCursor returns a record cursor over the decompressed payload, which
// may yield at most limit bytes, and a function that returns the decoder and
// window to their pools. Decoder set-up errors are ErrCorruptMessage.
func (p *decoderPools) openCursor(codec int8, payload []byte, limit int64) (recordCursor, func(), error) {
	if codec == CodecNone {
		return sliceCursor(payload), func() {}, nil
	}
	src, release, err := p.open(codec, payload, limit)
	if err != nil {
		return recordCursor{}, nil, err
	}
	win, _ := p.window.Get().(*[]byte)
	if win == nil {
		b := make([]byte, windowSize)
		win = &b
	}
	c := recordCursor{buf: (*win)[:0], src: io.LimitReader(src, limit+1), limit: limit}
	return c, func() { release(); p.window.Put(win) }, nil
}

// open returns a reader of the decompressed payload.
func (p *decoderPools) open(codec int8, payload []byte, limit int64) (io.Reader, func(), error) {
	src := &byteSource{b: payload}
	switch codec {
	case CodecGzip:
		zr, _ := p.gzip.Get().(*gzip.Reader)
		if zr == nil {
			zr = new(gzip.Reader)
		}
		if err := zr.Reset(src); err != nil {
			p.gzip.Put(zr)
			return nil, nil, fmt.Errorf("%w: gzip header: %w", ErrCorruptMessage, err)
		}
		return zr, func() { p.gzip.Put(zr) }, nil
	case CodecSnappy:
		sr, _ := p.snappy.Get().(*snappyReader)
		if sr == nil {
			sr = new(snappyReader)
		}
		if err := sr.reset(payload, limit); err != nil {
			p.snappy.Put(sr)
			return nil, nil, err
		}
		return sr, func() { sr.release(); p.snappy.Put(sr) }, nil
	case CodecLZ4:
		lr, _ := p.lz4.Get().(*lz4.Reader)
		if lr == nil {
			lr = lz4.NewReader(src)
		} else {
			lr.Reset(src)
		}
		return lr, func() { lr.Reset(nil); p.lz4.Put(lr) }, nil
	case CodecZstd:
		// WithDecoderMaxMemory caps the window a frame may ask for, so a
		// tiny frame cannot make the decoder allocate beyond the bound.
		zd, _ := p.zstd.Get().(*zstd.Decoder)
		if zd == nil {
			var err error
			zd, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(limit)))
			if err != nil {
				return nil, nil, fmt.Errorf("create zstd decoder: %w", err)
			}
		}
		if err := zd.ResetWithOptions(src, zstd.WithDecoderMaxMemory(uint64(limit))); err != nil {
			zd.Close()
			return nil, nil, fmt.Errorf("%w: zstd: %w", ErrCorruptMessage, err)
		}
		return zd, func() { _ = zd.Reset(nil); p.zstd.Put(zd) }, nil
	}
	return nil, nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, codec)
}

// snappyReader decodes a raw snappy block or a xerial-framed stream one
// block at a time. Each block's decoded length is read from its preamble and
// checked against the remaining bound before anything is allocated.
type snappyReader struct {
	src    []byte // compressed bytes not decoded yet
	xerial bool
	block  []byte // decoded block buffer, reused
	out    []byte // decoded bytes not read yet
	total  int64  // decoded so far
	limit  int64
}

func (s *snappyReader) reset(payload []byte, limit int64) error {
	s.src, s.out, s.total, s.limit = payload, nil, 0, limit
	s.xerial = len(payload) >= xerialHeaderSize && bytes.Equal(payload[:len(xerialMagic)], xerialMagic)
	if s.xerial {
		s.src = payload[xerialHeaderSize:]
	}
	return nil
}

func (s *snappyReader) release() {
	s.src, s.out = nil, nil
	if cap(s.block) > maxPooledBlock {
		s.block = nil
	}
}

func (s *snappyReader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if len(s.src) == 0 {
			return 0, io.EOF
		}
		if err := s.decodeBlock(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

func (s *snappyReader) decodeBlock() error {
	var blk []byte
	if s.xerial {
		if len(s.src) < 4 {
			return fmt.Errorf("%w: snappy: truncated xerial block length", ErrCorruptMessage)
		}
		n := binary.BigEndian.Uint32(s.src)
		if uint64(n) > uint64(len(s.src)-4) {
			return fmt.Errorf("%w: snappy: xerial block of %d bytes with %d left", ErrCorruptMessage, n, len(s.src)-4)
		}
		blk, s.src = s.src[4:4+n], s.src[4+n:]
	} else {
		blk, s.src = s.src, nil
	}
	n, err := snappy.DecodedLen(blk)
	if err != nil {
		return fmt.Errorf("%w: snappy: %w", ErrCorruptMessage, err)
	}
	if int64(n) > s.limit-s.total {
		return fmt.Errorf("%w: snappy block of %d bytes after %d", errDecompressedTooLarge, n, s.total)
	}
	if cap(s.block) < n {
		s.block = make([]byte, n)
	}
	out, err := snappy.Decode(s.block[:n], blk)
	if err != nil {
		return fmt.Errorf("%w: snappy: %w", ErrCorruptMessage, err)
	}
	s.out = out
	s.total += int64(len(out))
	return nil
}

// decompressError classifies an error met while reading a decompressed
// payload: the bound and undecodable bytes are both ErrCorruptMessage.
func decompressError(err error) error {
	if errors.Is(err, ErrCorruptMessage) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorruptMessage, err)
}

// encoderPools caches the gzip and lz4 writers the up-conversion of
// compressed Produce v0-2 sets uses; like decoderPools it only caches.
type encoderPools struct {
	gzip sync.Pool // *gzip.Writer
	lz4  sync.Pool // *lz4.Writer
}

var encoders = &encoderPools{}

// compress appends src compressed with codec to dst: gzip as a gzip
// stream, snappy as one raw block (as librdkafka and franz-go write it;
// every client reads it, the xerial framing of the Java client is not
// needed), lz4 as one frame with a correct header checksum (KIP-57).
func (p *encoderPools) compress(dst []byte, codec int8, src []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	switch codec {
	case CodecGzip:
		zw, _ := p.gzip.Get().(*gzip.Writer)
		if zw == nil {
			zw = gzip.NewWriter(buf)
		} else {
			zw.Reset(buf)
		}
		// Reset to io.Discard so the pooled writer holds no output.
		defer func() { zw.Reset(io.Discard); p.gzip.Put(zw) }()
		if _, err := zw.Write(src); err != nil {
			return dst, fmt.Errorf("gzip: %w", err)
		}
		if err := zw.Close(); err != nil {
			return dst, fmt.Errorf("gzip: %w", err)
		}
		return buf.Bytes(), nil
	case CodecSnappy:
		n := snappy.MaxEncodedLen(len(src))
		if n < 0 {
			return dst, fmt.Errorf("snappy: %d bytes is too large", len(src))
		}
		dst = slices.Grow(dst, n)
		out := snappy.Encode(dst[len(dst):len(dst)+n], src)
		return dst[:len(dst)+len(out)], nil
	case CodecLZ4:
		lw, _ := p.lz4.Get().(*lz4.Writer)
		if lw == nil {
			lw = lz4.NewWriter(buf)
			// Kafka's lz4 frames use 64 KiB blocks; the default 4 MiB
			// would cost as much memory per writer.
			if err := lw.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
				return dst, fmt.Errorf("lz4: %w", err)
			}
		} else {
			lw.Reset(buf)
		}
		defer func() { lw.Reset(nil); p.lz4.Put(lw) }()
		if _, err := lw.Write(src); err != nil {
			return dst, fmt.Errorf("lz4: %w", err)
		}
		if err := lw.Close(); err != nil {
			return dst, fmt.Errorf("lz4: %w", err)
		}
		return buf.Bytes(), nil
	case CodecZstd:
		enc, err := zstdEncoder()
		if err != nil {
			return dst, fmt.Errorf("zstd: %w", err)
		}
		return enc.EncodeAll(src, dst), nil
	}
	return dst, fmt.Errorf("%w: codec %d", ErrUnsupportedCompression, codec)
}

// zstdEncoder is one encoder shared by every caller: EncodeAll is safe for
// concurrent use. It is built on first use (the log cleaner's).
var zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
	return zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
})

// Codecs compresses and decompresses whole batch payloads for storage's log
// cleaner (storage.Codec), with the same codecs and pools as validation.
type Codecs struct{}

// Decompress returns payload decompressed with codec, failing with
// ErrCorruptMessage past limit bytes.
func (Codecs) Decompress(codec int8, payload []byte, limit int) ([]byte, error) {
	src, release, err := decoders.open(codec, payload, int64(limit))
	if err != nil {
		return nil, err
	}
	defer release()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(src, int64(limit)+1))
	if err != nil {
		return nil, decompressError(err)
	}
	if n > int64(limit) {
		return nil, fmt.Errorf("%w: batch decompresses beyond %d bytes", ErrCorruptMessage, limit)
	}
	return buf.Bytes(), nil
}

// Compress appends src compressed with codec to dst.
func (Codecs) Compress(dst []byte, codec int8, src []byte) ([]byte, error) {
	return encoders.compress(dst, codec, src)
}
