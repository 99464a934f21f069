package zkmeta

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

func TestRegisterBroker(t *testing.T) {
	chroot := testChroot(t)
	c1, c2 := connect(t, chroot), connect(t, chroot)
	ctx := testCtx(t)
	rack := "r1"
	b := BrokerInfo{ID: 5, Rack: &rack, Endpoints: []Endpoint{
		{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9092},
		{Name: "REPL", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 9093},
	}}
	if err := c1.RegisterBroker(ctx, b); err != nil {
		t.Fatal(err)
	}
	// Registering again in the same session updates the znode.
	if err := c1.RegisterBroker(ctx, b); err != nil {
		t.Fatalf("re-register in the same session: %v", err)
	}
	if err := c1.RegisterBroker(ctx, BrokerInfo{ID: 2, Endpoints: b.Endpoints[:1]}); err != nil {
		t.Fatal(err)
	}

	bs, err := c2.Brokers(ctx)
	if err != nil || len(bs) != 2 || bs[0].ID != 2 || bs[1].ID != 5 {
		t.Fatalf("Brokers = %+v, %v; want brokers 2 and 5 in order", bs, err)
	}
	got := bs[1]
	if got.Rack == nil || *got.Rack != "r1" || len(got.Endpoints) != 2 || got.Endpoints[1] != b.Endpoints[1] {
		t.Fatalf("broker 5 read back as %+v", got)
	}
	raw := rawConn(t)
	data, stat := rawGet(t, raw, chroot+"/brokers/ids/5")
	if got.Epoch != stat.Czxid || got.Epoch == 0 {
		t.Fatalf("Epoch = %d, want czxid %d", got.Epoch, stat.Czxid)
	}
	if stat.EphemeralOwner != c1.SessionID() {
		t.Fatal("/brokers/ids/5 is not ephemeral to c1's session")
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m["version"] != 5.0 || m["jmx_port"] != -1.0 || m["host"] != "127.0.0.1" || m["port"] != 9092.0 || m["rack"] != "r1" {
		t.Fatalf("/brokers/ids/5 = %s", data)
	}
	if _, ok := m["timestamp"].(string); !ok {
		t.Fatalf("timestamp is not a JSON string: %s", data)
	}

	// Another live session cannot take the id; it waits the session
	// timeout for a stale registration to go, then gives up.
	start := time.Now()
	err = c2.RegisterBroker(ctx, b)
	if !errors.Is(err, ErrBrokerIDInUse) {
		t.Fatalf("second session registering broker 5: %v; want ErrBrokerIDInUse", err)
	}
	if time.Since(start) < testSessionTimeout/2 {
		t.Errorf("gave up after %s, before waiting for a stale registration to vanish", time.Since(start))
	}

	// Once the owner's session ends the id is free; a waiting registration
	// takes it as soon as the znode goes.
	done := make(chan error, 1)
	go func() { done <- c2.RegisterBroker(ctx, b) }()
	c1.Close()
	if err := <-done; err != nil {
		t.Fatalf("registering after the owner closed: %v", err)
	}
	if _, stat := rawGet(t, raw, chroot+"/brokers/ids/5"); stat.EphemeralOwner != c2.SessionID() {
		t.Fatal("/brokers/ids/5 not owned by the new session")
	}
	bs, err = c2.Brokers(ctx)
	if err != nil || len(bs) != 1 {
		t.Fatalf("Brokers after c1 left = %+v, %v; want only broker 5", bs, err)
	}
}

func TestWatchBrokers(t *testing.T) {
	chroot := testChroot(t)
	c1, c2 := connect(t, chroot), connect(t, chroot)
	ctx := testCtx(t)
	bs, changed, err := c2.WatchBrokers(ctx)
	if err != nil || len(bs) != 0 {
		t.Fatalf("WatchBrokers = %v, %v", bs, err)
	}
	if err := c1.RegisterBroker(ctx, BrokerInfo{ID: 9}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(20 * time.Second):
		t.Fatal("broker watch did not fire on registration")
	}
	bs, err = c2.Brokers(ctx)
	if err != nil || len(bs) != 1 || len(bs[0].Endpoints) != 0 {
		t.Fatalf("Brokers = %+v, %v; want broker 9 without endpoints", bs, err)
	}
}
