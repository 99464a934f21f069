package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// readBufferSize is the per-connection read buffer: large enough that a
// client pipelining small requests is served from one read syscall.
const readBufferSize = 64 << 10

// Handler answers one decoded request. A nil response with a nil error means
// that nothing is written back (a Produce with acks=0). A non-nil error closes
// the connection after it is logged.
//
// Byte slices inside req (a Produce request's record batches) alias a
// frame buffer that ServeConn hands back to a pool shared by all
// connections once the response is written: a handler that keeps them
// longer (an in-memory log tail, a delayed operation that outlives the
// call) must copy them.
type Handler interface {
	Handle(ctx context.Context, hdr *RequestHeader, req kmsg.Request) (kmsg.Response, error)
}

// ConnConfig configures ServeConn.
type ConnConfig struct {
	// MaxRequestBytes is socket.request.max.bytes: a frame larger than this
	// closes the connection (Kafka's InvalidReceiveException). Zero means
	// Kafka's default, DefaultMaxRequestBytes.
	MaxRequestBytes int32
	// Versions is the table the broker implements. ApiVersions requests at an
	// unsupported version get UNSUPPORTED_VERSION with this table in a v0
	// body (KIP-511); any other unsupported key or version closes the
	// connection with a log line.
	Versions Versions
	// IdleTimeout is connections.max.idle.ms: a connection on which no byte
	// arrived for this long while the server waits for a request is closed
	// (ErrConnIdle). Time spent handling a request or writing its response
	// does not count, so a long poll longer than the limit is not cut.
	// Zero means no limit.
	IdleTimeout time.Duration
	// WriteTimeout bounds a response write that makes no progress: when not
	// one byte of the response (sendfile included) could be written for
	// this long, the write fails with ErrWriteStalled, the connection is
	// closed and the response's file regions are released. A client that
	// stops reading (a zero TCP window) would otherwise hold the
	// connection's goroutine and the segment files of its response,
	// unlinked ones included, for as long as it lives. A slow reader that
	// keeps taking bytes is not cut. Zero means no limit.
	WriteTimeout time.Duration
	// Logger receives one line per connection closed for a protocol error.
	// Nil means no logging.
	Logger *zap.Logger
}

// ServeConn reads requests from conn until it is closed, ctx is done or a
// protocol error occurs. Requests are handled one at a time and responses
// are written in request order, which is how Kafka orders a connection's
// responses even when clients pipeline; a Produce whose response is
// deferred (DeferredResponse) lets the next Produce be handled while it
// waits. ServeConn closes conn before it returns.
//
// It returns nil when the client closed the connection between requests,
// ctx.Err() when ctx ended it, and otherwise the error that closed it, which
// has already been logged.
func ServeConn(ctx context.Context, conn net.Conn, cfg ConnConfig, h Handler) error {
	defer conn.Close()
	// Closing the connection is what unblocks a read or write parked in
	// the kernel; Kafka's processor does the same on shutdown.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	var src io.Reader = conn
	if cfg.IdleTimeout > 0 {
		src = idleReader{conn: conn, d: cfg.IdleTimeout}
	}
	s := &connServer{
		conn:   conn,
		frames: newFrameReader(bufio.NewReaderSize(src, readBufferSize), cfg.MaxRequestBytes),
		cfg:    cfg,
		h:      h,
		log:    log.With(zap.Stringer("remote", conn.RemoteAddr())),
	}
	// wctx ends the waits of deferred responses when the connection ends.
	wctx, cancel := context.WithCancel(ctx)
	err := s.serve(ctx, wctx)
	cancel()
	s.stopQueue()
	s.frames.release()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// connServer is the state of one connection's serve loop.
type connServer struct {
	conn   net.Conn
	frames *frameReader
	cfg    ConnConfig
	h      Handler
	log    *zap.Logger
	out    []byte // response buffer, reused across requests
	// splices are the file regions of the Fetch response being written,
	// reused across requests.
	splices []splice
	// queue is the writer goroutine's, once a response was deferred
	// (pipeline.go). While it holds responses, only it uses out and
	// splices.
	queue *responseQueue
}

func (s *connServer) serve(ctx, wctx context.Context) error {
	for {
		frame, err := s.frames.next()
		if err != nil {
			if err == io.EOF || ctx.Err() != nil {
				return nil
			}
			switch {
			case errors.Is(err, ErrFrameTooLarge), errors.Is(err, ErrFrameSizeNegative):
				s.log.Warn("closing connection: invalid request size", zap.Error(err))
			case errors.Is(err, os.ErrDeadlineExceeded):
				// Kafka's Selector closes idle connections at debug
				// level too: clients reconnect on demand.
				s.log.Debug("closing idle connection", zap.Duration("connections.max.idle", s.cfg.IdleTimeout))
				return fmt.Errorf("%w: nothing received for %s", ErrConnIdle, s.cfg.IdleTimeout)
			default:
				s.log.Debug("closing connection: read failed", zap.Error(err))
			}
			return err
		}

		hdr, req, err := ParseRequest(frame, s.cfg.Versions)
		if s.busy() && (err != nil || !s.mayPipeline(hdr.APIKey, len(frame))) {
			// Only a Produce is handled while earlier responses wait.
			if derr := s.drain(); derr != nil {
				return derr
			}
		}
		if err != nil {
			var unsup *UnsupportedError
			if errors.As(err, &unsup) && hdr.APIKey == apiVersionsKey {
				if err := s.write(hdr.CorrelationID, s.unsupportedAPIVersions()); err != nil {
					return err
				}
				continue
			}
			s.log.Warn("closing connection: cannot serve request",
				zap.String("client_id", hdr.clientID()),
				zap.Int16("api_key", hdr.APIKey),
				zap.Int16("api_version", hdr.APIVersion),
				zap.Error(err))
			return err
		}

		resp, err := s.h.Handle(ctx, &hdr, req)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Warn("closing connection: request failed",
				zap.String("client_id", hdr.clientID()),
				zap.Int16("api_key", hdr.APIKey),
				zap.Int16("api_version", hdr.APIVersion),
				zap.Error(err))
			// Earlier responses still queued go out first: Kafka, which
			// reads no request before the previous one is answered,
			// would have sent them before it met this one.
			if derr := s.drain(); derr != nil {
				return derr
			}
			return fmt.Errorf("handle api key %d version %d: %w", hdr.APIKey, hdr.APIVersion, err)
		}
		if resp == nil {
			continue
		}
		if d, ok := resp.(*DeferredResponse); ok {
			if err := s.enqueue(wctx, &hdr, d.Response, d.Wait); err != nil {
				return err
			}
			continue
		}
		if s.busy() {
			// Behind a deferred response: keep the order.
			if err := s.enqueue(wctx, &hdr, resp, nil); err != nil {
				return err
			}
			continue
		}
		resp.SetVersion(hdr.APIVersion)
		if err := s.write(hdr.CorrelationID, resp); err != nil {
			return err
		}
	}
}

// write encodes resp into the reused buffer and sends it with one Write,
// except for a Fetch response with file regions (see writeFetch).
func (s *connServer) write(correlationID int32, resp kmsg.Response) error {
	if fr, ok := resp.(*FetchResponse); ok {
		return s.writeFetch(correlationID, fr)
	}
	return s.writeFrame(AppendResponse(s.out[:0], correlationID, resp))
}

// writeFrame sends an encoded frame held in (a regrown) s.out.
func (s *connServer) writeFrame(frame []byte) error {
	s.out = frame
	err := s.writeAll(s.out)
	s.trimOut()
	if err != nil {
		return s.writeFailed(err)
	}
	return nil
}

// writeAll writes b whole. With a WriteTimeout, each Write gets a fresh
// deadline and a Write that ends at its deadline having moved some bytes
// is retried with a new one, so only a window without progress fails.
func (s *connServer) writeAll(b []byte) error {
	for {
		s.armWrite()
		n, err := s.conn.Write(b)
		b = b[n:]
		if err == nil || n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
	}
}

// armWrite gives the next write WriteTimeout to make progress.
func (s *connServer) armWrite() {
	if s.cfg.WriteTimeout > 0 {
		// An error here means the connection is closed; the write that
		// follows reports it.
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	}
}

// trimOut drops a response buffer too large to keep between requests.
func (s *connServer) trimOut() {
	if cap(s.out) > maxRetainedBuffer {
		s.out = nil
	}
}

// idleReader arms a read deadline before every read of the connection, so
// that a read fails with os.ErrDeadlineExceeded once no byte has arrived
// for d: Kafka's connections.max.idle.ms counts from the last activity.
// ServeConn reads only between requests, so handling time never counts.
type idleReader struct {
	conn net.Conn
	d    time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	if err := r.conn.SetReadDeadline(time.Now().Add(r.d)); err != nil {
		return 0, err
	}
	return r.conn.Read(p)
}

// unsupportedAPIVersions is the KIP-511 answer to an ApiVersions request at a
// version the broker does not know: a v0 body with UNSUPPORTED_VERSION and
// the full table, from which the client picks a version it shares.
func (s *connServer) unsupportedAPIVersions() kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	resp.ErrorCode = kerr.UnsupportedVersion.Code
	resp.ApiKeys = s.cfg.Versions.APIKeys()
	return resp
}
