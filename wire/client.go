package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrClientClosed is returned by Client.Request after Close.
var ErrClientClosed = errors.New("client closed")

// maxResponseBytes bounds a response frame a Client reads: a broker's
// answer to a replica fetch is capped by replica.fetch.response.max.bytes
// (10 MiB by default) and controller requests are smaller, so 256 MiB only
// stops a peer that is not a broker from making us allocate without end.
const maxResponseBytes = 256 << 20

// Client sends requests to one broker over one connection, one at a time,
// as Kafka's inter-broker senders do (the controller's RequestSendThread
// and each ReplicaFetcherThread hold a single connection with at most one
// request in flight). It dials lazily and again after any error, so a
// broker that restarts is reached at its address on the next request.
type Client struct {
	addr     string
	clientID string

	mu   sync.Mutex
	conn net.Conn
	rd   *bufio.Reader
	corr int32
	buf  []byte
	// in is the response frame buffer, reused by the next request: byte
	// fields of a response (a fetch's records) alias it until then.
	in []byte

	closeOnce sync.Once
	closed    chan struct{}
}

// NewClient returns a client for the broker at addr. clientID goes into
// every request header (Kafka's brokers use e.g. "broker-2-fetcher-0").
func NewClient(addr, clientID string) *Client {
	return &Client{addr: addr, clientID: clientID, closed: make(chan struct{})}
}

// Addr is the broker address the client dials.
func (c *Client) Addr() string { return c.addr }

// Request sends req (at the version set on it) and decodes the answer into
// a response of the matching kind. Byte fields of the response (a fetch's
// record batches) alias the client's buffer and are valid until the next
// Request. The request is bounded by ctx: when ctx
// ends the connection is closed, so a blocked read returns at once, and the
// next request dials again.
func (c *Client) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.closed:
		return nil, ErrClientClosed
	default:
	}
	if c.conn != nil && peerClosed(c.conn, c.rd) {
		// The broker closed the connection while it was idle
		// (connections.max.idle.ms): dial again rather than fail this
		// request on a dead socket.
		c.conn.Close()
		c.conn, c.rd = nil, nil
	}
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", c.addr, err)
		}
		c.conn, c.rd = conn, bufio.NewReaderSize(conn, 64<<10)
	}
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	closedStop := make(chan struct{})
	defer close(closedStop)
	go func() {
		select {
		case <-c.closed:
			conn.SetDeadline(time.Unix(1, 0))
		case <-closedStop:
		}
	}()
	resp, err := c.roundTrip(req)
	stopped := stop()
	if err != nil || !stopped {
		c.conn.Close()
		c.conn, c.rd = nil, nil
		if err == nil {
			err = ctx.Err()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("request %d to %s: %w", req.Key(), c.addr, ctx.Err())
		}
		return nil, fmt.Errorf("request %d to %s: %w", req.Key(), c.addr, err)
	}
	return resp, nil
}

// peerClosed reports whether an idle connection can no longer carry a
// request: the peer closed or reset it, or sent bytes nothing asked for.
// It peeks at the socket without blocking. Kafka's own clients avoid the
// case by closing their idle connections a little before brokers do; the
// inter-broker Client checks instead, so any peer's idle limit is safe.
func peerClosed(conn net.Conn, rd *bufio.Reader) bool {
	if rd.Buffered() > 0 {
		return true
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read (EAGAIN) is the healthy case; a zero-byte read
		// (EOF), a byte or an error all end the connection.
		closed = err != syscall.EAGAIN && err != syscall.EINTR
		return true
	})
	return closed || err != nil
}

// roundTrip writes one request frame and reads its response frame. Called
// with mu held and a connection.
func (c *Client) roundTrip(req kmsg.Request) (kmsg.Response, error) {
	c.corr++
	corr := c.corr
	b := append(c.buf[:0], 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(req.Key()))
	b = binary.BigEndian.AppendUint16(b, uint16(req.GetVersion()))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	b = binary.BigEndian.AppendUint16(b, uint16(len(c.clientID)))
	b = append(b, c.clientID...)
	if req.IsFlexible() {
		b = append(b, 0)
	}
	b = req.AppendTo(b)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	c.buf = b
	if len(c.buf) > maxRetainedBuffer {
		c.buf = nil
	}
	if _, err := c.conn.Write(b); err != nil {
		return nil, fmt.Errorf("write: %w", err)
	}
	var size [4]byte
	if _, err := io.ReadFull(c.rd, size[:]); err != nil {
		return nil, fmt.Errorf("read response size: %w", err)
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 4 || n > maxResponseBytes {
		return nil, fmt.Errorf("response frame of %d bytes", n)
	}
	if cap(c.in) < int(n) {
		c.in = make([]byte, n)
	}
	frame := c.in[:n]
	if cap(c.in) > maxRetainedBuffer && int(n) <= maxRetainedBuffer {
		// A huge buffer from an earlier response is not kept for small
		// ones.
		c.in = nil
		frame = make([]byte, n)
	}
	if _, err := io.ReadFull(c.rd, frame); err != nil {
		return nil, fmt.Errorf("read response: %w", noEOF(err))
	}
	if got := int32(binary.BigEndian.Uint32(frame)); got != corr {
		return nil, fmt.Errorf("response correlation id %d, sent %d", got, corr)
	}
	body := frame[4:]
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && req.Key() != apiVersionsKey {
		var err error
		if body, err = skipTaggedFields(body); err != nil {
			return nil, fmt.Errorf("response header: %w", err)
		}
	}
	if err := resp.ReadFrom(body); err != nil {
		return nil, fmt.Errorf("decode response %d v%d: %w", req.Key(), req.GetVersion(), err)
	}
	return resp, nil
}

// Close closes the connection; a request in flight returns an error and
// later requests return ErrClientClosed.
func (c *Client) Close() {
	c.closeOnce.Do(func() { close(c.closed) })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.rd = nil, nil
	}
}
