package broker

import (
	"context"
	"errors"
	"net/netip"
	"testing"
)

func TestConnQuotas(t *testing.T) {
	cfg := Config{
		Listeners:                    []Listener{{Name: "PLAINTEXT"}, {Name: "INTERNAL"}},
		MaxConnections:               3,
		MaxConnectionsPerIP:          2,
		MaxConnectionsPerIPOverrides: map[string]int32{"10.0.0.9": 0, "localhost": 3},
	}
	q, err := newConnQuotas(context.Background(), cfg, "INTERNAL")
	if err != nil {
		t.Fatal(err)
	}
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	must := func(listener string, addr netip.Addr, want error) {
		t.Helper()
		if err := q.admit(listener, addr); !errors.Is(err, want) {
			t.Fatalf("admit %s on %s: %v, want %v", addr, listener, err, want)
		}
	}
	must("PLAINTEXT", a, nil)
	must("PLAINTEXT", a, nil)
	must("PLAINTEXT", a, errMaxConnectionsPerIP)
	must("PLAINTEXT", netip.MustParseAddr("10.0.0.9"), errMaxConnectionsPerIP) // override 0
	must("PLAINTEXT", b, nil)
	must("PLAINTEXT", b, errMaxConnections)
	must("INTERNAL", b, nil) // the inter-broker listener is exempt from the total
	if q.count() != 4 {
		t.Fatalf("count %d, want 4", q.count())
	}
	q.release(a)
	q.release(b)
	must("PLAINTEXT", a, nil)
	if q.perIP[b] != 1 || q.count() != 3 {
		t.Fatalf("per address %v, count %d", q.perIP, q.count())
	}
	// A host name applies to each of its addresses.
	if q.overrides[netip.MustParseAddr("127.0.0.1")] != 3 {
		t.Fatalf("override of localhost not resolved: %v", q.overrides)
	}

	// With one listener nothing is exempt.
	cfg.Listeners = cfg.Listeners[:1]
	q, err = newConnQuotas(context.Background(), cfg, "PLAINTEXT")
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		must("PLAINTEXT", netip.MustParseAddr(ip), nil)
	}
	must("PLAINTEXT", netip.MustParseAddr("10.0.0.4"), errMaxConnections)

	cfg.MaxConnectionsPerIPOverrides = map[string]int32{"no-such-host.invalid": 1}
	if _, err := newConnQuotas(context.Background(), cfg, "PLAINTEXT"); err == nil {
		t.Fatal("an override that does not resolve was accepted")
	}
}
