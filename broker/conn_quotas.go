package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Connection limit errors: why accept closed a connection at once.
var (
	// errMaxConnections means the broker already has max.connections
	// client connections.
	errMaxConnections = errors.New("broker already has the configured maximum of connections (max.connections)")
	// errMaxConnectionsPerIP means the client's address already has
	// max.connections.per.ip connections (or its override).
	errMaxConnectionsPerIP = errors.New("address already has the configured maximum of connections (max.connections.per.ip)")
)

// connQuotas counts open connections, in total and per client address,
// and refuses those beyond max.connections, max.connections.per.ip and
// max.connections.per.ip.overrides: Kafka's ConnectionQuotas without the
// connection-rate quotas.
//
// The per-address limit works as in Kafka: the connection is accepted and
// closed at once, with an info line. For max.connections Kafka's acceptor
// instead stops accepting until a connection closes, leaving new ones
// waiting in the listen backlog. gokafka closes those at once too: the
// client learns of the refusal immediately and retries after its
// reconnect.backoff.ms rather than waiting, unanswered, for its request
// timeout on a connection that looks open, and the accept loop never
// waits on other connections' goroutines. As in Kafka, connections on the
// inter-broker listener count towards the total but are never refused for
// it when the broker has more than one listener, so replication and the
// controller keep working while clients hold every slot.
type connQuotas struct {
	maxTotal  int
	maxPerIP  int
	overrides map[netip.Addr]int
	// protected is the inter-broker listener's name when it is exempt
	// from maxTotal, else "".
	protected string

	mu    sync.Mutex
	total int
	perIP map[netip.Addr]int
}

// newConnQuotas builds the quotas from cfg, resolving host names in the
// overrides (an override applies to every address of its name). Like
// Kafka, an override that does not resolve fails the start.
func newConnQuotas(ctx context.Context, cfg Config, interBroker string) (*connQuotas, error) {
	q := &connQuotas{
		maxTotal:  int(cfg.MaxConnections),
		maxPerIP:  int(cfg.MaxConnectionsPerIP),
		overrides: make(map[netip.Addr]int),
		perIP:     make(map[netip.Addr]int),
	}
	if len(cfg.Listeners) > 1 {
		q.protected = interBroker
	}
	for host, n := range cfg.MaxConnectionsPerIPOverrides {
		if a, err := netip.ParseAddr(host); err == nil {
			q.overrides[a.Unmap()] = int(n)
			continue
		}
		addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("max.connections.per.ip.overrides: resolve %s: %w", host, err)
		}
		for _, a := range addrs {
			q.overrides[a.Unmap()] = int(n)
		}
	}
	return q, nil
}

// connAddr is the client address a connection counts against.
func connAddr(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// admit counts a new connection from addr on listener, or refuses it with
// errMaxConnections or errMaxConnectionsPerIP (wrapped with the limit)
// and counts nothing. Every admitted connection is released once.
func (q *connQuotas) admit(listener string, addr netip.Addr) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.total >= q.maxTotal && listener != q.protected {
		return fmt.Errorf("%w: %d", errMaxConnections, q.maxTotal)
	}
	limit, ok := q.overrides[addr]
	if !ok {
		limit = q.maxPerIP
	}
	if q.perIP[addr] >= limit {
		return fmt.Errorf("%w: %d", errMaxConnectionsPerIP, limit)
	}
	q.total++
	q.perIP[addr]++
	return nil
}

// release uncounts a connection admit admitted.
func (q *connQuotas) release(addr netip.Addr) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.total--
	if q.perIP[addr]--; q.perIP[addr] <= 0 {
		delete(q.perIP, addr)
	}
}

// count returns the number of admitted connections.
func (q *connQuotas) count() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}
