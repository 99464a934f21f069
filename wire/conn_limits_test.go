package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// Tests of the connection limits: the idle timeout (connections.max.idle.ms)
// and the write deadline for clients that stop reading.

// slowHandler answers Metadata after sleeping d.
type slowHandler struct{ d time.Duration }

func (h slowHandler) Handle(ctx context.Context, hdr *RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	time.Sleep(h.d)
	return kmsg.NewPtrMetadataResponse(), nil
}

func TestServeConnIdleTimeout(t *testing.T) {
	s := serve(t, ConnConfig{IdleTimeout: 50 * time.Millisecond}, &fakeHandler{})
	// Nothing is sent: the connection is closed once idle.
	expectClosed(t, s.client)
	if err := s.wait(t); !errors.Is(err, ErrConnIdle) {
		t.Fatalf("ServeConn returned %v, want ErrConnIdle", err)
	}
	if n := s.logs.FilterMessage("closing idle connection").Len(); n != 1 {
		t.Fatalf("logs %+v, want one idle line", s.logs.All())
	}
}

// TestServeConnIdleExcludesHandling checks that a request handled for longer
// than the idle timeout is answered (Kafka counts a connection with a
// request in flight as busy), and that the idle clock starts again after
// the answer.
func TestServeConnIdleExcludesHandling(t *testing.T) {
	idle := 50 * time.Millisecond
	s := serve(t, ConnConfig{IdleTimeout: idle}, slowHandler{d: 4 * idle})
	if _, err := s.client.Write(frameOf(encodeRequest(kmsg.NewPtrMetadataRequest(), 1, 9, strp("c")))); err != nil {
		t.Fatal(err)
	}
	if cid, _ := readResponse(t, s.client); cid != 9 {
		t.Fatalf("correlation id %d", cid)
	}
	expectClosed(t, s.client)
	if err := s.wait(t); !errors.Is(err, ErrConnIdle) {
		t.Fatalf("ServeConn returned %v, want ErrConnIdle", err)
	}
}

// TestServeConnWriteStalledPipe checks the plain (non-sendfile) write path:
// a client that never reads its answer is dropped after WriteTimeout.
func TestServeConnWriteStalledPipe(t *testing.T) {
	client, srv := net.Pipe()
	defer client.Close()
	core, logs := observer.New(zap.DebugLevel)
	done := make(chan error, 1)
	go func() {
		done <- ServeConn(context.Background(), srv, ConnConfig{
			Versions: testVersions, WriteTimeout: 50 * time.Millisecond, Logger: zap.New(core),
		}, &fakeHandler{})
	}()
	client.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := client.Write(frameOf(encodeRequest(kmsg.NewPtrApiVersionsRequest(), 3, 1, strp("c")))); err != nil {
		t.Fatal(err)
	}
	// The client never reads: net.Pipe has no buffer, so the answer
	// cannot be written at all.
	select {
	case err := <-done:
		if !errors.Is(err, ErrWriteStalled) {
			t.Fatalf("ServeConn returned %v, want ErrWriteStalled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn still writing to a client that does not read")
	}
	if n := logs.FilterMessage("closing connection: client stopped reading the response").Len(); n != 1 {
		t.Fatalf("logs %+v, want one stalled-write line", logs.All())
	}
}

// progressConn is a net.Conn whose Write moves at most chunk bytes and then
// reports its deadline as passed, as a real socket does for a client that
// reads slowly, until stalls writes are done; after that writes make no
// progress at all.
type progressConn struct {
	net.Conn
	chunk, stalls int
	writes        int
	got           []byte
}

func (c *progressConn) SetWriteDeadline(time.Time) error { return nil }

func (c *progressConn) Write(b []byte) (int, error) {
	c.writes++
	if c.writes > c.stalls {
		return 0, os.ErrDeadlineExceeded
	}
	n := min(len(b), c.chunk)
	c.got = append(c.got, b[:n]...)
	if n < len(b) {
		return n, os.ErrDeadlineExceeded
	}
	return n, nil
}

// TestWriteAllRenewsDeadlineOnProgress checks that a write only fails after
// a deadline window without any progress.
func TestWriteAllRenewsDeadlineOnProgress(t *testing.T) {
	msg := []byte("0123456789")
	c := &progressConn{chunk: 3, stalls: 100}
	s := &connServer{conn: c, cfg: ConnConfig{WriteTimeout: time.Second}}
	if err := s.writeAll(msg); err != nil || string(c.got) != string(msg) {
		t.Fatalf("slow reader: err %v, wrote %q", err, c.got)
	}
	c = &progressConn{chunk: 3, stalls: 2}
	s.conn = c
	if err := s.writeAll(msg); !errors.Is(err, os.ErrDeadlineExceeded) || string(c.got) != "012345" {
		t.Fatalf("stopped reader: err %v, wrote %q; want a deadline error after 6 bytes", err, c.got)
	}
}

// dialSmallWindow connects to addr with a receive buffer as small as the
// kernel allows, set before the handshake so that the advertised window
// stays tiny.
func dialSmallWindow(t *testing.T, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serveOne accepts one connection on a loopback listener and serves it
// with cfg and h; the client side is made by dial.
func serveOne(t *testing.T, cfg ConnConfig, h Handler, dial func(addr string) net.Conn) (net.Conn, <-chan error, *observer.ObservedLogs) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client := dial(ln.Addr().String())
	srv, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	cfg.Logger = zap.New(core)
	cfg.Versions = testVersions
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- ServeConn(ctx, srv, cfg, h); close(finished) }()
	t.Cleanup(func() {
		cancel()
		client.Close()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Error("ServeConn did not return")
		}
	})
	return client, done, logs
}

// bigFileFetch returns a handler answering every Fetch with one partition
// of size bytes from a sparse file, counting releases.
func bigFileFetch(t *testing.T, size int64, released *atomic.Int32) fetchHandler {
	t.Helper()
	f, err := os.Create(filepath.Join(t.TempDir(), "big.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return fetchHandler{mk: func() *FetchResponse {
		resp := kmsg.NewPtrFetchResponse()
		tp := kmsg.NewFetchResponseTopic()
		tp.Topic = "t"
		tp.Partitions = append(tp.Partitions, kmsg.NewFetchResponseTopicPartition())
		resp.Topics = append(resp.Topics, tp)
		fr := NewFetchResponse(resp)
		fr.SetFileRecords(0, 0, FileRecords{File: f, Offset: 0, Length: size, Release: func() { released.Add(1) }})
		return fr
	}}
}

// stalledResponseBytes is larger than what the kernel buffers between the
// two ends of a loopback connection (the sender's autotuned send buffer
// tops out at tcp_wmem's maximum, 4 MiB by default), so a client that
// does not read stops the sendfile.
const stalledResponseBytes = 24 << 20

// TestServeConnSendfileStalledClient checks the sendfile path: a client with
// a zero TCP window that never reads has its connection closed after
// WriteTimeout, and the response's file region is released.
func TestServeConnSendfileStalledClient(t *testing.T) {
	var released atomic.Int32
	h := bigFileFetch(t, stalledResponseBytes, &released)
	client, done, logs := serveOne(t, ConnConfig{WriteTimeout: 100 * time.Millisecond}, h,
		func(addr string) net.Conn { return dialSmallWindow(t, addr) })
	if _, err := client.Write(frameOf(encodeRequest(kmsg.NewPtrFetchRequest(), 12, 42, strp("c")))); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrWriteStalled) {
			t.Fatalf("ServeConn returned %v, want ErrWriteStalled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("ServeConn still sending to a client that does not read")
	}
	if released.Load() != 1 {
		t.Fatalf("region released %d times, want 1", released.Load())
	}
	if n := logs.FilterMessage("closing connection: client stopped reading the response").Len(); n != 1 {
		t.Fatalf("logs %+v, want one stalled-write line", logs.All())
	}
}

// TestServeConnSendfileSlowClient checks that a client that keeps reading,
// slowly, gets its whole answer even though sending it takes longer than
// WriteTimeout: the deadline bounds a write without progress, not the
// response.
func TestServeConnSendfileSlowClient(t *testing.T) {
	var released atomic.Int32
	const timeout = time.Second
	h := bigFileFetch(t, stalledResponseBytes, &released)
	client, done, _ := serveOne(t, ConnConfig{WriteTimeout: timeout}, h,
		func(addr string) net.Conn {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			return c
		})
	if _, err := client.Write(frameOf(encodeRequest(kmsg.NewPtrFetchRequest(), 12, 42, strp("c")))); err != nil {
		t.Fatal(err)
	}
	// 256 KiB every 20 ms: the pauses alone add up to more than the
	// timeout (96 of them, 1.9 s), while the server never waits longer
	// than it takes the client to drain a few MiB.
	client.SetReadDeadline(time.Now().Add(60 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(client, size[:]); err != nil {
		t.Fatal(err)
	}
	remain := int64(binary.BigEndian.Uint32(size[:]))
	if remain < stalledResponseBytes {
		t.Fatalf("response of %d bytes", remain)
	}
	buf := make([]byte, 256<<10)
	var got int64
	start := time.Now()
	for remain > 0 {
		n, err := io.ReadFull(client, buf[:min(remain, int64(len(buf)))])
		got += int64(n)
		remain -= int64(n)
		if err != nil {
			t.Fatalf("read after %d bytes: %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("read %d bytes in %s with a %s write timeout", got, time.Since(start), timeout)
	select {
	case err := <-done:
		t.Fatalf("ServeConn returned %v while the client was reading", err)
	default:
	}
	waitReleased := time.Now().Add(10 * time.Second)
	for released.Load() != 1 {
		if time.Now().After(waitReleased) {
			t.Fatalf("region released %d times, want 1", released.Load())
		}
		time.Sleep(time.Millisecond)
	}
}
