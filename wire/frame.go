package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// DefaultMaxRequestBytes is Kafka's socket.request.max.bytes default (100
// MiB), used when ConnConfig.MaxRequestBytes is zero.
const DefaultMaxRequestBytes = 100 * 1024 * 1024

const (
	// frameGrowStep is how much of a frame is read before the buffer grows
	// again. A client announcing a frame near the limit and then sending a
	// few bytes costs at most this much memory, not the announced size.
	frameGrowStep = 64 << 10
	// maxRetainedBuffer is the largest response buffer a connection keeps
	// between requests; bigger ones are dropped after use so an idle
	// connection does not pin a 100 MiB response. (Request frames go
	// back to a shared pool after each request: frame_pool.go.)
	maxRetainedBuffer = 1 << 20
)

// frameReader reads size-prefixed frames: an int32 big-endian size followed
// by that many bytes. The returned slice aliases a pooled buffer that goes
// back to the pool at the next call (or release), after which another
// connection may reuse it.
type frameReader struct {
	r   *bufio.Reader
	max int32
	buf []byte
	hdr [4]byte
}

func newFrameReader(r *bufio.Reader, max int32) *frameReader {
	if max <= 0 {
		max = DefaultMaxRequestBytes
	}
	return &frameReader{r: r, max: max}
}

// next returns the next frame body. It returns io.EOF only when the peer
// closed the stream cleanly between frames.
func (f *frameReader) next() ([]byte, error) {
	f.release()
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("read frame size: %w", err)
	}
	size := int32(binary.BigEndian.Uint32(f.hdr[:]))
	if size < 0 {
		return nil, fmt.Errorf("%w: frame size %d", ErrFrameSizeNegative, size)
	}
	if size > f.max {
		return nil, fmt.Errorf("%w: frame size %d larger than socket.request.max.bytes %d", ErrFrameTooLarge, size, f.max)
	}
	n := int(size)
	if b := getFrameBuffer(n); b != nil {
		f.buf = b[:n]
		if _, err := io.ReadFull(f.r, f.buf); err != nil {
			return nil, fmt.Errorf("read frame of %d bytes: %w", n, noEOF(err))
		}
		return f.buf, nil
	}
	// No pooled buffer fits: grow one with the data that actually arrives
	// rather than trusting the announced size up front. It starts at the
	// smallest pooled size so that it can be pooled afterwards.
	f.buf = make([]byte, 0, frameGrowStep)
	for len(f.buf) < n {
		chunk := min(n-len(f.buf), max(len(f.buf), frameGrowStep))
		m := len(f.buf)
		f.buf = slices.Grow(f.buf, chunk)[:m+chunk]
		if _, err := io.ReadFull(f.r, f.buf[m:]); err != nil {
			return nil, fmt.Errorf("read frame of %d bytes: %w", n, noEOF(err))
		}
	}
	return f.buf, nil
}

// release returns the current frame's buffer to the pool; the frame must
// no longer be used.
func (f *frameReader) release() {
	if f.buf != nil {
		putFrameBuffer(f.buf)
		f.buf = nil
	}
}

// detach hands the current frame's buffer to the caller, who returns it
// with putFrameBuffer once nothing refers to it: the frame of a request
// whose response is deferred must outlive the next call to next.
func (f *frameReader) detach() []byte {
	b := f.buf
	f.buf = nil
	return b
}

// noEOF turns a clean EOF inside a frame into io.ErrUnexpectedEOF so callers
// can tell a truncated frame from a clean close.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
