package zkmeta

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestConnectCreatesChrootAndKafkaPaths(t *testing.T) {
	chroot := testChroot(t) + "/kafka"
	c := connect(t, chroot)
	raw := rawConn(t)
	for _, p := range kafkaPersistentPaths {
		if !rawExists(t, raw, chroot+p) {
			t.Errorf("%s%s missing after Connect", chroot, p)
		}
		if data, _ := rawGet(t, raw, chroot+p); len(data) != 0 {
			t.Errorf("%s%s has data %q; Kafka creates it empty", chroot, p, data)
		}
	}
	if c.Chroot() != chroot {
		t.Errorf("Chroot() = %q, want %q", c.Chroot(), chroot)
	}

	// A second chroot does not see the first one's znodes.
	ctx := testCtx(t)
	if err := c.CreateTopic(ctx, "only-here", TopicAssignment{Partitions: map[int32][]int32{0: {0}}}, nil); err != nil {
		t.Fatal(err)
	}
	other := connect(t, testChroot(t))
	if topics, err := other.Topics(ctx); err != nil || len(topics) != 0 {
		t.Fatalf("other chroot lists topics %v, %v; want none", topics, err)
	}
	if !rawExists(t, raw, chroot+"/brokers/topics/only-here") {
		t.Fatal("topic znode not under the chroot")
	}
}

func TestConnectToDeadAddressTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens here now

	core, logs := observer.New(zap.InfoLevel)
	connectStr := addr + "/kafka"
	start := time.Now()
	_, err = Connect(context.Background(), Config{
		Connect:        connectStr,
		SessionTimeout: 5 * time.Second,
		ConnectTimeout: 1500 * time.Millisecond,
		Logger:         zap.New(core),
	})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Connect to a dead address succeeded")
	}
	if !strings.Contains(err.Error(), connectStr) {
		t.Errorf("error %q does not name the connect string %q", err, connectStr)
	}
	// With a context that never ends, only the ConnectTimeout can have
	// ended the wait, and the error must say so.
	if want := "no ZooKeeper session after 1.5s (zookeeper.connection.timeout.ms)"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say it gave up after the ConnectTimeout (%q)", err, want)
	}
	t.Logf("Connect gave up after %s (ConnectTimeout 1.5s)", elapsed)
	if n := logs.FilterMessage("waiting for ZooKeeper at " + addr).Len(); n == 0 {
		t.Errorf("no 'waiting for ZooKeeper at %s' line logged; got %v", addr, logs.All())
	}
}

func TestConnectHonoursContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, Config{Connect: "127.0.0.1:1", ConnectTimeout: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect with an ended context: %v; want DeadlineExceeded", err)
	}
}

func TestCallsFailAfterClose(t *testing.T) {
	c := connect(t, testChroot(t))
	lost := c.SessionLost()
	c.Close()
	select {
	case <-lost:
	default:
		t.Error("SessionLost not closed by Close")
	}
	// The call is refused before anything is sent or waited for: the
	// error wraps ErrClosed itself, not ErrClosed with the error of a
	// request that went out to a closed connection.
	_, err := c.Topics(testCtx(t))
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Topics after Close: %v; want ErrClosed", err)
	} else if errors.Unwrap(err) != ErrClosed {
		t.Errorf("Topics after Close: %v; want it refused before a request was sent", err)
	}
	c.Close() // twice is fine
}

// TestSessionExpiry cuts the client's network until ZooKeeper expires its
// session, then heals it: the client must report the loss, register the
// broker again in a new session and run the OnNewSession callbacks.
func TestSessionExpiry(t *testing.T) {
	chroot := testChroot(t)
	cut := &netCutter{}
	c := connect(t, chroot, func(cfg *Config) {
		cfg.SessionTimeout = 2 * time.Second
		cfg.dialer = cut.dial
	})
	observer := connect(t, chroot)
	ctx := testCtx(t)

	b := BrokerInfo{ID: 3, Endpoints: []Endpoint{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}}
	if err := c.RegisterBroker(ctx, b); err != nil {
		t.Fatal(err)
	}
	firstEpoch := c.BrokerEpoch()
	oldSession := c.SessionID()
	renewed := make(chan struct{}, 1)
	c.OnNewSession(func(context.Context) { renewed <- struct{}{} })
	lost := c.SessionLost()

	cut.set(true)
	select {
	case <-lost:
	case <-time.After(15 * time.Second):
		t.Fatal("SessionLost not closed while cut off for longer than the session timeout")
	}
	waitFor(t, "ZooKeeper to expire the session and drop the broker", 20*time.Second, func() bool {
		bs, err := observer.Brokers(ctx)
		return err == nil && len(bs) == 0
	})
	cut.set(false)

	select {
	case <-renewed:
	case <-time.After(20 * time.Second):
		t.Fatal("OnNewSession callback did not run after the network healed")
	}
	if c.SessionID() == oldSession {
		t.Errorf("session id still 0x%x after expiry", oldSession)
	}
	select {
	case <-c.SessionLost():
		t.Fatal("SessionLost of the new session is already closed")
	default:
	}
	bs, err := observer.Brokers(ctx)
	if err != nil || len(bs) != 1 || bs[0].ID != 3 {
		t.Fatalf("brokers after new session = %+v, %v; want broker 3 registered again", bs, err)
	}
	if bs[0].Epoch == firstEpoch || c.BrokerEpoch() != bs[0].Epoch {
		t.Errorf("broker epoch %d (client says %d); want a new czxid, not %d", bs[0].Epoch, c.BrokerEpoch(), firstEpoch)
	}
}

// TestShortOutageKeepsSession restarts ZooKeeper quickly: the session
// survives, so SessionLost stays open and nothing is registered again.
func TestShortOutageKeepsSession(t *testing.T) {
	c := connect(t, testChroot(t), func(cfg *Config) { cfg.SessionTimeout = 10 * time.Second })
	ctx := testCtx(t)
	b := BrokerInfo{ID: 1, Endpoints: []Endpoint{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}}}
	if err := c.RegisterBroker(ctx, b); err != nil {
		t.Fatal(err)
	}
	session, lost := c.SessionID(), c.SessionLost()
	if err := server(t).Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// Calls fail while the client reconnects, then work again.
	waitFor(t, "the client to reconnect", 30*time.Second, func() bool {
		bs, err := c.Brokers(ctx)
		return err == nil && len(bs) == 1
	})
	select {
	case <-lost:
		t.Fatal("SessionLost closed by an outage shorter than the session timeout")
	default:
	}
	if c.SessionID() != session {
		t.Fatalf("session changed from 0x%x to 0x%x", session, c.SessionID())
	}
}
