package storage

import (
	"fmt"
	"io"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// scanBufSize is how much of a segment a batchScanner reads per pread: big
// enough that walking the headers of small batches costs few system calls.
const scanBufSize = 64 << 10

// batchScanner walks the batches of one segment file through ReadAt, so it
// never moves a shared file position and is safe alongside an appender. It
// buffers a window of the file and refills it when a header or batch falls
// outside the window.
type batchScanner struct {
	r     io.ReaderAt
	limit int64 // bytes of the file that may be read
	buf   []byte
	start int64 // file position of buf[0]
	n     int   // valid bytes in buf
}

func newBatchScanner(r io.ReaderAt, limit int64) *batchScanner {
	return &batchScanner{r: r, limit: limit}
}

// window returns file bytes [pos, pos+n), refilling the buffer when needed.
// The slice is valid until the next call.
func (sc *batchScanner) window(pos, n int64) ([]byte, error) {
	if pos < 0 || n < 0 || pos+n > sc.limit {
		return nil, fmt.Errorf("read [%d,+%d) past %d bytes: %w", pos, n, sc.limit, io.ErrUnexpectedEOF)
	}
	if pos >= sc.start && pos+n <= sc.start+int64(sc.n) {
		return sc.buf[pos-sc.start : pos-sc.start+n], nil
	}
	want := max(n, scanBufSize)
	want = min(want, sc.limit-pos)
	if int64(cap(sc.buf)) < want {
		sc.buf = make([]byte, want)
	}
	sc.buf = sc.buf[:want]
	got, err := sc.r.ReadAt(sc.buf, pos)
	if int64(got) < n {
		sc.n = 0
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read segment at %d: %w", pos, err)
	}
	sc.start, sc.n = pos, got
	return sc.buf[:n], nil
}

// header decodes the batch header at pos and checks that the whole batch
// lies within the readable part of the file.
func (sc *batchScanner) header(pos int64) (batchHeader, error) {
	b, err := sc.window(pos, recordbatch.HeaderSize)
	if err != nil {
		return batchHeader{}, err
	}
	h, err := parseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if pos+h.size() > sc.limit {
		return h, fmt.Errorf("batch at position %d: %d bytes run past %d: %w", pos, h.size(), sc.limit, io.ErrUnexpectedEOF)
	}
	return h, nil
}

// crcValid checks the CRC-32C of the batch h at pos. A batch bigger than
// the buffer is checksummed in buffer-sized pieces, so a damaged length
// field never makes recovery allocate the size it claims.
func (sc *batchScanner) crcValid(h *batchHeader, pos int64) (bool, error) {
	if h.size() <= scanBufSize {
		b, err := sc.window(pos, h.size())
		if err != nil {
			return false, err
		}
		return recordbatch.CRCValid(b), nil
	}
	var crc uint32
	for p, end := pos+recordbatch.CRCStart, pos+h.size(); p < end; {
		n := min(end-p, scanBufSize)
		b, err := sc.window(p, n)
		if err != nil {
			return false, err
		}
		crc = recordbatch.UpdateChecksum(crc, b)
		p += n
	}
	return crc == h.CRC, nil
}
