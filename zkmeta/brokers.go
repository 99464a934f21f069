package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
)

// brokerIDsPath holds one ephemeral znode per live broker.
const brokerIDsPath = "/brokers/ids"

func brokerPath(id int32) string { return brokerIDsPath + "/" + strconv.Itoa(int(id)) }

// Endpoint is one listener of a broker.
type Endpoint struct {
	Name             string // listener name, e.g. PLAINTEXT
	SecurityProtocol string // e.g. PLAINTEXT
	Host             string
	Port             int32
}

// String is the endpoint as Kafka writes it in "endpoints":
// "NAME://host:port", with an IPv6 host in brackets.
func (e Endpoint) String() string {
	return e.Name + "://" + net.JoinHostPort(e.Host, strconv.Itoa(int(e.Port)))
}

// BrokerInfo is /brokers/ids/<id>: Kafka's v5 JSON
// {"listener_security_protocol_map":{...},"endpoints":["PLAINTEXT://h:p"],
// "jmx_port":-1,"features":{},"host":"h","timestamp":"...","port":p,
// "version":5,"rack":null}.
//
// As Kafka's BrokerIdZNode.encode, "rack" is written only when set, and
// "host"/"port" are those of the first endpoint whose security protocol is
// PLAINTEXT (null and -1 when there is none).
type BrokerInfo struct {
	ID        int32
	Endpoints []Endpoint
	Rack      *string
	// Epoch is the czxid of the broker's znode (Kafka's broker epoch); set
	// by Brokers, ignored by RegisterBroker.
	Epoch int64
}

// brokerJSON is every field of /brokers/ids/<id> from version 1 to 5.
type brokerJSON struct {
	Version                     int                       `json:"version"`
	Host                        *string                   `json:"host"`
	Port                        int32                     `json:"port"`
	JmxPort                     int32                     `json:"jmx_port"`
	Timestamp                   string                    `json:"timestamp,omitempty"`
	Endpoints                   []string                  `json:"endpoints,omitempty"`
	ListenerSecurityProtocolMap map[string]string         `json:"listener_security_protocol_map,omitempty"`
	Rack                        *string                   `json:"rack,omitempty"`
	Features                    map[string]map[string]int `json:"features"`
}

// encodeBroker writes Kafka's version 5 broker registration.
func encodeBroker(b BrokerInfo, now time.Time) []byte {
	v := brokerJSON{
		Version:                     5,
		Port:                        -1,
		JmxPort:                     -1,
		Timestamp:                   strconv.FormatInt(now.UnixMilli(), 10),
		Endpoints:                   []string{},
		ListenerSecurityProtocolMap: map[string]string{},
		Rack:                        b.Rack,
		Features:                    map[string]map[string]int{},
	}
	for _, e := range b.Endpoints {
		proto := e.SecurityProtocol
		if proto == "" {
			proto = e.Name
		}
		v.Endpoints = append(v.Endpoints, e.String())
		v.ListenerSecurityProtocolMap[e.Name] = proto
		if proto == "PLAINTEXT" && v.Host == nil {
			h := e.Host
			v.Host, v.Port = &h, e.Port
		}
	}
	out, _ := json.Marshal(v)
	return out
}

// decodeBroker reads any version Kafka has written (1 to 5). Version 1 has
// only host and port; later versions list endpoints, whose security
// protocol defaults to the listener name when the map is absent.
func decodeBroker(id int32, data []byte) (BrokerInfo, error) {
	var v brokerJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return BrokerInfo{}, fmt.Errorf("decode %s: %w", brokerPath(id), err)
	}
	b := BrokerInfo{ID: id, Rack: v.Rack}
	switch {
	case v.Version < 1:
		return BrokerInfo{}, fmt.Errorf("decode %s: unsupported version %d", brokerPath(id), v.Version)
	case v.Version == 1:
		if v.Host == nil {
			return BrokerInfo{}, fmt.Errorf("decode %s: version 1 without host", brokerPath(id))
		}
		b.Endpoints = []Endpoint{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: *v.Host, Port: v.Port}}
	default:
		for _, s := range v.Endpoints {
			e, err := parseEndpoint(s)
			if err != nil {
				return BrokerInfo{}, fmt.Errorf("decode %s: %w", brokerPath(id), err)
			}
			e.SecurityProtocol = e.Name
			if p, ok := v.ListenerSecurityProtocolMap[e.Name]; ok {
				e.SecurityProtocol = p
			}
			b.Endpoints = append(b.Endpoints, e)
		}
	}
	return b, nil
}

// parseEndpoint reads "NAME://host:port" (host may be empty or [ipv6]).
func parseEndpoint(s string) (Endpoint, error) {
	name, hostport, ok := strings.Cut(s, "://")
	if !ok || name == "" {
		return Endpoint{}, fmt.Errorf("endpoint %q: want NAME://host:port", s)
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
	}
	p, err := strconv.ParseInt(port, 10, 32)
	if err != nil || p < 0 || p > 65535 {
		return Endpoint{}, fmt.Errorf("endpoint %q: bad port", s)
	}
	return Endpoint{Name: name, Host: host, Port: int32(p)}, nil
}

// RegisterBroker creates the ephemeral /brokers/ids/<id>. If the znode
// exists and belongs to this session it succeeds; if another session owns it
// it returns ErrBrokerIDInUse. The registration is made again after every
// new session.
//
// A znode left by an earlier session (this broker restarted before
// ZooKeeper expired its old session) vanishes within that session's timeout,
// so RegisterBroker waits up to this client's session timeout for it to go
// before giving up with ErrBrokerIDInUse. When the caller knows that
// session's process has exited, TakeOverBroker removes the znode first and
// RegisterBroker does not wait.
func (c *Client) RegisterBroker(ctx context.Context, b BrokerInfo) error {
	if err := c.retrying(ctx, func() error { return c.registerBroker(ctx, b) }); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	bb := b
	bb.Endpoints = append([]Endpoint(nil), b.Endpoints...)
	c.broker = &bb
	return nil
}

func (c *Client) registerBroker(ctx context.Context, b BrokerInfo) error {
	p := brokerPath(b.ID)
	data := encodeBroker(b, time.Now())
	deadline := time.Now().Add(c.sessionTimeout)
	for {
		// Kafka's CheckedEphemeral: create empty, then set, in one multi,
		// so the answer carries the stat (czxid = broker epoch).
		ops := []any{c.opCreate(p, nil, zk.FlagEphemeral), c.opSet(p, data, 0)}
		res, err := c.multi(ctx, ops...)
		if err == nil {
			c.setBrokerEpoch(res[1].Stat.Czxid)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("register broker %d: %w", b.ID, ctx.Err())
		}
		if !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("register broker %d: %w", b.ID, c.failedOp(ops, res, err))
		}
		stat, err := c.exists(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			continue // gone in between
		}
		if err != nil {
			return fmt.Errorf("register broker %d: %w", b.ID, wrap("read", p, err))
		}
		if stat.EphemeralOwner == c.conn.SessionID() {
			st, err := c.set(ctx, p, data, -1)
			if err != nil {
				return fmt.Errorf("register broker %d: %w", b.ID, wrap("update", p, err))
			}
			c.setBrokerEpoch(st.Czxid)
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("register broker %d: %s is held by ZooKeeper session 0x%x: %w", b.ID, p, stat.EphemeralOwner, ErrBrokerIDInUse)
		}
		if err := c.waitGone(ctx, p, deadline); err != nil {
			return fmt.Errorf("register broker %d: %w", b.ID, err)
		}
	}
}

// TakeOverBroker deletes /brokers/ids/<id> when its ephemeralOwner is one
// of dead, so that RegisterBroker can register at once instead of waiting
// for ZooKeeper to expire that session. It returns the session it took the
// znode from, or 0 when there was nothing to take over (no znode, or one
// owned by any other session: RegisterBroker then behaves as it always
// does, waiting up to the session timeout before ErrBrokerIDInUse).
//
// The caller vouches that every session in dead belongs to a process that
// has exited: the broker passes the session ids its previous process
// recorded in log dirs whose .lock it now holds (storage.Dirs), and the
// lock is released only when that process ends. ZooKeeper keeps such a
// session's ephemerals alive until zookeeper.session.timeout.ms passes,
// which is what made an immediate restart after SIGKILL wait that long.
func (c *Client) TakeOverBroker(ctx context.Context, id int32, dead []int64) (int64, error) {
	owner, err := c.takeOverEphemeral(ctx, brokerPath(id), dead)
	if err != nil {
		return 0, fmt.Errorf("take over broker %d registration: %w", id, err)
	}
	return owner, nil
}

// takeOverEphemeral deletes p if it is an ephemeral of one of the dead
// sessions (never of this client's own session) and returns that session,
// or 0 when p is absent or has any other owner. The delete is conditional
// on the version read with the owner, so a znode changed in between is read
// again rather than deleted blindly.
//
// ZooKeeper cannot condition a delete on the owner itself: if the dead
// session expired and a different live process with the same broker id
// re-created p with the same version in the few milliseconds between the
// read and the delete, that process would lose its znode. Two live brokers
// sharing one id is a misconfiguration Kafka does not guard against either.
func (c *Client) takeOverEphemeral(ctx context.Context, p string, dead []int64) (int64, error) {
	if len(dead) == 0 {
		return 0, nil
	}
	var taken int64
	err := c.retrying(ctx, func() error {
		for {
			stat, err := c.exists(ctx, p)
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			if err != nil {
				return wrap("read", p, err)
			}
			owner := stat.EphemeralOwner
			if owner == 0 || owner == c.conn.SessionID() || !slices.Contains(dead, owner) {
				return nil
			}
			_, err = call(ctx, func() (struct{}, error) {
				return struct{}{}, c.conn.Delete(c.abs(p), stat.Version)
			})
			switch {
			case err == nil:
				taken = owner
				c.log.Info("took over "+p+" from this broker's previous ZooKeeper session, whose process has exited",
					zap.String("znode", p), zap.String("dead_session", fmt.Sprintf("0x%x", owner)),
					zap.String("session", fmt.Sprintf("0x%x", c.conn.SessionID())))
				return nil
			case errors.Is(err, zk.ErrNoNode), errors.Is(err, zk.ErrBadVersion):
				continue // gone or changed since the read: look again
			default:
				return wrap("delete", p, err)
			}
		}
	})
	return taken, err
}

// waitGone waits until p is deleted or the deadline passes.
func (c *Client) waitGone(ctx context.Context, p string, deadline time.Time) error {
	type watched struct {
		ok bool
		ev <-chan zk.Event
	}
	r, err := call(ctx, func() (watched, error) {
		ok, _, ev, err := c.conn.ExistsW(c.abs(p))
		return watched{ok, ev}, err
	})
	if err != nil {
		return wrap("watch", p, err)
	}
	if !r.ok {
		return nil
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-r.ev:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (c *Client) setBrokerEpoch(czxid int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.brokerEpoch = czxid
}

// BrokerEpoch is the czxid of this broker's current registration (Kafka's
// broker epoch, KIP-380); it changes with each new registration.
func (c *Client) BrokerEpoch() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.brokerEpoch
}

// Brokers lists the registered brokers, sorted by id.
func (c *Client) Brokers(ctx context.Context) ([]BrokerInfo, error) {
	names, err := c.children(ctx, brokerIDsPath)
	if err != nil {
		return nil, wrap("list", brokerIDsPath, err)
	}
	return c.readBrokers(ctx, names)
}

// WatchBrokers lists the registered brokers and returns a channel closed
// once a broker joins or leaves (the controller's BrokerChangeHandler), the
// watch is lost, or ctx ends.
func (c *Client) WatchBrokers(ctx context.Context) ([]BrokerInfo, <-chan struct{}, error) {
	names, ev, err := c.childrenW(ctx, brokerIDsPath)
	if err != nil {
		return nil, nil, wrap("watch", brokerIDsPath, err)
	}
	bs, err := c.readBrokers(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	return bs, c.fireOnce(ctx, ev), nil
}

func (c *Client) readBrokers(ctx context.Context, names []string) ([]BrokerInfo, error) {
	var out []BrokerInfo
	for _, n := range names {
		id, err := strconv.ParseInt(n, 10, 32)
		if err != nil {
			continue // not a broker id; Kafka ignores it too
		}
		p := path.Join(brokerIDsPath, n)
		data, stat, err := c.get(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			continue // left while we listed
		}
		if err != nil {
			return nil, wrap("read", p, err)
		}
		b, err := decodeBroker(int32(id), data)
		if err != nil {
			return nil, err
		}
		b.Epoch = stat.Czxid
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}
