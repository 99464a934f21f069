package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"go.uber.org/zap"
)

// maxSendfileChunk bounds one sendfile call (Linux moves at most about
// 2 GiB per call anyway).
const maxSendfileChunk = 1 << 30

// errRegionTruncated means a file region shrank before it was sent: the
// frame size already announced can no longer be met, so the connection must
// close.
var errRegionTruncated = errors.New("file region truncated while being sent")

// writeFetch sends a Fetch response. On a TCP connection, with a version
// the file encoder knows, the frame is written as buffer pieces with each
// file region in between sent by sendfile; otherwise the regions are read
// into memory and the frame goes out in one Write. The regions are
// released either way, also when the write fails or stalls (WriteTimeout):
// a client that stopped reading must not keep segment files open.
func (s *connServer) writeFetch(correlationID int32, resp *FetchResponse) error {
	defer func() {
		resp.ReleaseFiles()
		clear(s.splices) // drop the file pointers until the next response
	}()
	tcp, ok := s.conn.(*net.TCPConn)
	if !ok || len(resp.files) == 0 || !resp.canEncodeWithFiles() {
		return s.writeFrame(AppendResponse(s.out[:0], correlationID, resp))
	}
	out := append(s.out[:0], 0, 0, 0, 0)
	out = binary.BigEndian.AppendUint32(out, uint32(correlationID))
	if resp.GetVersion() >= firstFlexibleFetch {
		out = append(out, 0)
	}
	out, s.splices = appendFetchBody(out, s.splices[:0], resp)
	size := int64(len(out)-4) + resp.FileBytes()
	if size > 1<<31-1 {
		return fmt.Errorf("fetch response of %d bytes does not fit a frame", size)
	}
	binary.BigEndian.PutUint32(out, uint32(size))
	s.out = out
	prev := 0
	for i := range s.splices {
		sp := &s.splices[i]
		if sp.at > prev {
			if err := s.writeAll(out[prev:sp.at]); err != nil {
				return s.writeFailed(err)
			}
		}
		if err := s.sendFile(tcp, sp.rec); err != nil {
			return s.writeFailed(err)
		}
		prev = sp.at
	}
	if prev < len(out) {
		if err := s.writeAll(out[prev:]); err != nil {
			return s.writeFailed(err)
		}
	}
	s.trimOut()
	return nil
}

// sendFile copies rec's bytes from its file to conn with sendfile(2),
// passing the file offset explicitly so that concurrent readers of the same
// segment file never share a file position. (Go's TCPConn.ReadFrom also
// uses sendfile for an *os.File, but from the file's current position.)
// It waits for the socket through the runtime poller like any other write,
// so the write deadline applies; as in writeAll, a wait that ends at the
// deadline after some progress starts over with a fresh deadline.
func (s *connServer) sendFile(conn *net.TCPConn, rec FileRecords) error {
	dst, err := conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("sendfile: %w", err)
	}
	src, err := rec.File.SyscallConn()
	if err != nil {
		return fmt.Errorf("sendfile: %w", err)
	}
	off, remain := rec.Offset, rec.Length
	var serr, werr error
	cerr := src.Control(func(sfd uintptr) {
		for remain > 0 && serr == nil {
			s.armWrite()
			progressed := false
			werr = dst.Write(func(dfd uintptr) bool {
				for remain > 0 {
					n, err := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(remain, maxSendfileChunk)))
					if n > 0 {
						remain -= int64(n)
						progressed = true
					}
					switch {
					case err == syscall.EAGAIN:
						// Wait until the socket is writable; after
						// progress, first renew the deadline.
						return progressed
					case err == syscall.EINTR:
					case err != nil:
						serr = err
						return true
					case n == 0:
						serr = errRegionTruncated
						return true
					}
				}
				return true
			})
			if werr != nil {
				return
			}
		}
	})
	for _, err := range []error{serr, werr, cerr} {
		if err != nil {
			return fmt.Errorf("sendfile %d bytes at %d of %s (%d left): %w", rec.Length, rec.Offset, rec.File.Name(), remain, err)
		}
	}
	return nil
}

// writeFailed logs and wraps a failed response write. A write that ran
// into WriteTimeout is logged at info: the client stopped reading.
func (s *connServer) writeFailed(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.log.Info("closing connection: client stopped reading the response",
			zap.Duration("write_timeout", s.cfg.WriteTimeout), zap.Error(err))
		return fmt.Errorf("write response: %w: no progress for %s: %w", ErrWriteStalled, s.cfg.WriteTimeout, err)
	}
	s.log.Debug("closing connection: write failed", zap.Error(err))
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("write response: %w", err)
}
