package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// fakeHandler answers Metadata with the correlation id in ControllerID (so a
// test can see which request a response belongs to), ApiVersions with the
// table, and Produce with acks=0 with nothing.
type fakeHandler struct {
	mu   sync.Mutex
	seen []int32
	fail bool
}

func (h *fakeHandler) Handle(ctx context.Context, hdr *RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	h.mu.Lock()
	h.seen = append(h.seen, hdr.CorrelationID)
	h.mu.Unlock()
	if h.fail {
		return nil, errors.New("handler exploded")
	}
	switch r := req.(type) {
	case *kmsg.MetadataRequest:
		resp := kmsg.NewPtrMetadataResponse()
		resp.ControllerID = hdr.CorrelationID
		// Later requests answer faster: order must still hold.
		time.Sleep(time.Duration(10-hdr.CorrelationID%10) * time.Millisecond)
		return resp, nil
	case *kmsg.ApiVersionsRequest:
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.ApiKeys = testVersions.APIKeys()
		return resp, nil
	case *kmsg.ProduceRequest:
		if r.Acks == 0 {
			return nil, nil
		}
		return kmsg.NewPtrProduceResponse(), nil
	}
	return nil, errors.New("unexpected request")
}

type served struct {
	client net.Conn
	done   chan error
	logs   *observer.ObservedLogs
	cancel context.CancelFunc
}

// serve runs ServeConn on the server side of a loopback TCP connection.
func serve(t *testing.T, cfg ConnConfig, h Handler) *served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	cfg.Logger = zap.New(core)
	if cfg.Versions == nil {
		cfg.Versions = testVersions
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{client: client, done: make(chan error, 1), logs: logs, cancel: cancel}
	go func() { s.done <- ServeConn(ctx, server, cfg, h) }()
	t.Cleanup(func() {
		cancel()
		client.Close()
		s.wait(t)
	})
	client.SetDeadline(time.Now().Add(10 * time.Second))
	return s
}

// wait returns ServeConn's result, failing the test if it does not return.
func (s *served) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // keep it for cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("ServeConn did not return")
		return nil
	}
}

func frameOf(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// readResponse reads one response frame and returns its correlation id and
// the rest of the body.
func readResponse(t *testing.T, c net.Conn) (int32, []byte) {
	t.Helper()
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read response size: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(body)), body[4:]
}

// expectClosed checks that the server closed the connection.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	var b [1]byte
	if _, err := c.Read(b[:]); err == nil {
		t.Fatal("connection still open")
	} else if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Fatalf("connection not closed: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestServeConnPipelinedInOrder(t *testing.T) {
	h := &fakeHandler{}
	s := serve(t, ConnConfig{}, h)

	acks0 := kmsg.NewPtrProduceRequest()
	acks0.Acks = 0
	var out []byte
	for i := int32(1); i <= 6; i++ {
		if i == 4 {
			out = append(out, frameOf(encodeRequest(acks0, 9, i, strp("p")))...)
			continue
		}
		out = append(out, frameOf(encodeRequest(kmsg.NewPtrMetadataRequest(), int16(i%2*8+1), i, strp("c")))...)
	}
	if _, err := s.client.Write(out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []int32{1, 2, 3, 5, 6} {
		cid, body := readResponse(t, s.client)
		if cid != want {
			t.Fatalf("got correlation id %d, want %d", cid, want)
		}
		version := int16(want%2*8 + 1)
		resp := kmsg.NewPtrMetadataResponse()
		resp.SetVersion(version)
		if version >= 9 {
			body = body[1:] // response header v1
		}
		if err := resp.ReadFrom(body); err != nil || resp.ControllerID != want {
			t.Fatalf("response %d: %v, controller id %d", want, err, resp.ControllerID)
		}
	}
	s.client.Close()
	if err := s.wait(t); err != nil {
		t.Fatalf("clean close returned %v", err)
	}
}

func TestServeConnApiVersionsTooNew(t *testing.T) {
	s := serve(t, ConnConfig{}, &fakeHandler{})
	// ApiVersions v5 does not exist: the body is whatever a future client
	// sends, here v4's.
	req := encodeRequest(kmsg.NewPtrApiVersionsRequest(), 4, 77, strp("future"))
	binary.BigEndian.PutUint16(req[2:], 5)
	if _, err := s.client.Write(frameOf(req)); err != nil {
		t.Fatal(err)
	}
	cid, body := readResponse(t, s.client)
	if cid != 77 {
		t.Fatalf("correlation id %d", cid)
	}
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(0)
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("not a v0 body: %v", err)
	}
	if resp.ErrorCode != kerr.UnsupportedVersion.Code {
		t.Fatalf("error code %d", resp.ErrorCode)
	}
	if len(resp.ApiKeys) != len(testVersions) {
		t.Fatalf("api keys %+v", resp.ApiKeys)
	}
	for i, k := range resp.ApiKeys {
		r := testVersions[k.ApiKey]
		if (i > 0 && resp.ApiKeys[i-1].ApiKey >= k.ApiKey) || r.Min != k.MinVersion || r.Max != k.MaxVersion {
			t.Fatalf("api keys %+v", resp.ApiKeys)
		}
	}
	// The connection stays usable: the client retries at v3.
	if _, err := s.client.Write(frameOf(encodeRequest(kmsg.NewPtrApiVersionsRequest(), 3, 78, strp("future")))); err != nil {
		t.Fatal(err)
	}
	if cid, body := readResponse(t, s.client); cid != 78 {
		t.Fatalf("correlation id %d", cid)
	} else {
		resp := kmsg.NewPtrApiVersionsResponse()
		resp.SetVersion(3)
		if err := resp.ReadFrom(body); err != nil || resp.ErrorCode != 0 {
			t.Fatalf("v3 answer: %v, code %d", err, resp.ErrorCode)
		}
	}
}

func TestServeConnCloses(t *testing.T) {
	oversized := binary.BigEndian.AppendUint32(nil, 1001)
	tests := []struct {
		name    string
		send    []byte
		h       *fakeHandler
		wantErr error
		wantLog string
	}{
		{"unknown key", frameOf([]byte{0x7f, 0, 0, 0, 0, 0, 0, 1, 0, 3, 'a', 'b', 'c'}), &fakeHandler{}, nil, "closing connection: cannot serve request"},
		{"unsupported version", frameOf(encodeRequest(kmsg.NewPtrMetadataRequest(), 13, 1, strp("abc"))), &fakeHandler{}, nil, "closing connection: cannot serve request"},
		{"oversized frame", append(oversized, make([]byte, 1001)...), &fakeHandler{}, ErrFrameTooLarge, "closing connection: invalid request size"},
		{"negative size", []byte{0xff, 0xff, 0xff, 0xf0}, &fakeHandler{}, ErrFrameSizeNegative, "closing connection: invalid request size"},
		{"malformed", frameOf([]byte{0, 3, 0, 1, 0, 0, 0, 1, 0, 3, 'a', 'b', 'c', 0, 0}), &fakeHandler{}, ErrMalformedRequest, "closing connection: cannot serve request"},
		{"handler error", frameOf(encodeRequest(kmsg.NewPtrMetadataRequest(), 1, 1, strp("abc"))), &fakeHandler{fail: true}, nil, "closing connection: request failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t, ConnConfig{MaxRequestBytes: 1000}, tt.h)
			if _, err := s.client.Write(tt.send); err != nil {
				t.Fatal(err)
			}
			expectClosed(t, s.client)
			err := s.wait(t)
			if err == nil {
				t.Fatal("ServeConn returned nil")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %v, want %v", err, tt.wantErr)
			}
			entries := s.logs.FilterMessage(tt.wantLog).All()
			if len(entries) != 1 {
				t.Fatalf("logs %+v, want %q", s.logs.All(), tt.wantLog)
			}
			if fields := entries[0].ContextMap(); fields["remote"] == nil {
				t.Fatalf("log fields %v lack the remote address", fields)
			}
			if tt.wantErr == nil && entries[0].ContextMap()["client_id"] != "abc" {
				t.Fatalf("log fields %v lack the client id", entries[0].ContextMap())
			}
		})
	}
}

func TestServeConnContextCancelUnblocksRead(t *testing.T) {
	s := serve(t, ConnConfig{}, &fakeHandler{})
	// Half a frame: ServeConn is parked reading the rest.
	if _, err := s.client.Write([]byte{0, 0, 0, 50, 0, 3}); err != nil {
		t.Fatal(err)
	}
	s.cancel()
	if err := s.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	expectClosed(t, s.client)
}
