package broker

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// Connection limits end to end: connections.max.idle.ms, the write
// deadline for a consumer that stops reading, max.connections and
// max.connections.per.ip(.overrides). Loopback addresses other than
// 127.0.0.1 (Linux routes all of 127/8 to lo) stand for distinct clients.

// runObservedServer starts a broker whose Info logs are also observed.
func runObservedServer(t *testing.T, cfg Config) (*Server, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zap.InfoLevel)
	logger := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(), core))
	s, _, _ := runTestServerLogged(t, cfg, logger)
	return s, logs
}

// connsFrom is how many connections from ip the broker holds: the count
// drops when a connection's goroutine ends.
func (s *Server) connsFrom(ip string) int {
	s.quotas.mu.Lock()
	defer s.quotas.mu.Unlock()
	return s.quotas.perIP[netip.MustParseAddr(ip)]
}

// dialFrom connects to addr from the loopback address src; rcvbuf > 0 sets
// the receive buffer before the handshake.
func dialFrom(t *testing.T, src, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	if rcvbuf > 0 {
		d.Control = func(network, address string, c syscall.RawConn) error {
			var serr error
			if err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var testFormatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("conn-test"))

// roundTrip sends an ApiVersions request on c and reads the answer; an
// error means the broker closed the connection.
func roundTrip(c net.Conn) error {
	req := kmsg.NewPtrApiVersionsRequest()
	req.Version = 3
	c.SetDeadline(time.Now().Add(20 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(testFormatter.AppendRequest(nil, req, 1)); err != nil {
		return err
	}
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		return err
	}
	_, err := io.CopyN(io.Discard, c, int64(binary.BigEndian.Uint32(size[:])))
	return err
}

// expectClosedByBroker reads from c until the broker's close shows.
func expectClosedByBroker(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: connection still open", what)
	}
}

func TestConnectionsMaxIdle(t *testing.T) {
	s, addr := startTestServer(t, "connections.max.idle.ms=200")
	c := dialFrom(t, "127.0.0.2", addr, 0)
	if err := roundTrip(c); err != nil {
		t.Fatalf("first request: %v", err)
	}
	// No more requests: the broker closes the connection once idle.
	expectClosedByBroker(t, c, "idle connection")
	waitFor(t, 20*time.Second, "the idle connection to be released", func() bool { return s.connsFrom("127.0.0.2") == 0 })
}

func TestMaxConnectionsPerIP(t *testing.T) {
	cfg := testServerConfig(t, "max.connections.per.ip=2", "max.connections.per.ip.overrides=127.0.0.3:3")
	s, logs := runObservedServer(t, cfg)
	addr := s.Addr().String()

	for _, tc := range []struct {
		src   string
		limit int
	}{{"127.0.0.2", 2}, {"127.0.0.3", 3}} {
		var open []net.Conn
		for i := range tc.limit {
			c := dialFrom(t, tc.src, addr, 0)
			if err := roundTrip(c); err != nil {
				t.Fatalf("%s: connection %d of %d refused: %v", tc.src, i+1, tc.limit, err)
			}
			open = append(open, c)
		}
		extra := dialFrom(t, tc.src, addr, 0)
		if err := roundTrip(extra); err == nil {
			t.Fatalf("%s: connection %d served, limit %d", tc.src, tc.limit+1, tc.limit)
		}
		// A closed connection frees its slot.
		open[0].Close()
		waitFor(t, 20*time.Second, "the closed connection to be released", func() bool { return s.connsFrom(tc.src) == tc.limit-1 })
		if err := roundTrip(dialFrom(t, tc.src, addr, 0)); err != nil {
			t.Fatalf("%s: connection refused after one closed: %v", tc.src, err)
		}
	}
	if n := logs.FilterMessage("rejected connection").FilterField(zap.String("listener", "PLAINTEXT")).Len(); n != 2 {
		t.Fatalf("%d rejection log lines, want 2: %v", n, logs.FilterMessage("rejected connection").All())
	}
}

// TestMaxConnections checks max.connections across addresses, and that the
// inter-broker listener is exempt when there are several listeners.
func TestMaxConnections(t *testing.T) {
	cfg := testServerConfig(t, "max.connections=4",
		"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
		"listeners=PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0",
		"inter.broker.listener.name=INTERNAL")
	s, logs := runObservedServer(t, cfg)
	client, internal := s.listeners[0].Addr().String(), s.listeners[1].Addr().String()
	// The controller's connection to this broker may already hold a slot.
	free := 4 - s.quotas.count()
	if free < 2 {
		t.Fatalf("only %d free connection slots at start", free)
	}
	srcs := []string{"127.0.0.2", "127.0.0.3"}
	for i := range free {
		if err := roundTrip(dialFrom(t, srcs[i%2], client, 0)); err != nil {
			t.Fatalf("connection %d of %d refused: %v", i+1, free, err)
		}
	}
	if err := roundTrip(dialFrom(t, "127.0.0.4", client, 0)); err == nil {
		t.Fatal("connection beyond max.connections served")
	}
	if err := roundTrip(dialFrom(t, "127.0.0.4", internal, 0)); err != nil {
		t.Fatalf("inter-broker listener refused at max.connections: %v", err)
	}
	if n := logs.FilterMessage("rejected connection").Len(); n != 1 {
		t.Fatalf("%d rejection log lines, want 1", n)
	}
}

// TestStalledConsumerReleased checks that a consumer with a zero TCP window
// that never reads its Fetch answer has its connection closed after
// connections.max.idle.ms without progress, and that the broker releases
// the connection's goroutine and the response's segment file regions.
func TestStalledConsumerReleased(t *testing.T) {
	cfg := testServerConfig(t, "connections.max.idle.ms=1000")
	s, logs := runObservedServer(t, cfg)
	addr := s.Addr().String()
	createTestTopic(t, s, addr, "stall", 1, nil)

	// More than the kernel buffers between the two ends (the sender's
	// buffer autotunes up to tcp_wmem's 4 MiB maximum).
	const records, size = 28, 900 << 10
	cl := newTestClient(t, addr, kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.DefaultProduceTopic("stall"))
	value := bytes.Repeat([]byte{'x'}, size)
	for i := range records {
		if err := cl.ProduceSync(testCtx(t), &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	cl.Close()
	p, ok := s.replicas.get(topicPartition{"stall", 0})
	if !ok {
		t.Fatal("partition not hosted")
	}

	c := dialFrom(t, "127.0.0.5", addr, 1024)
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12 // sendfile
	req.ReplicaID = -1
	req.MaxBytes = 64 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "stall"
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 64 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	if _, err := c.Write(testFormatter.AppendRequest(nil, req, 7)); err != nil {
		t.Fatal(err)
	}
	// The client never reads.
	stalled := func() bool {
		return logs.FilterMessage("closing connection: client stopped reading the response").Len() == 1
	}
	waitFor(t, 60*time.Second, "the broker to give up on the stalled response", stalled)
	waitFor(t, 20*time.Second, "the connection and its file regions to be released", func() bool {
		return s.connsFrom("127.0.0.5") == 0 && p.log.OpenRegions() == 0
	})
}
