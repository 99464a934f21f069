package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/internal/zktest"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// zkPartition is a TCP proxy between one broker and ZooKeeper that the
// test can cut, the way a network partition (or a long GC pause) separates
// a broker from ZooKeeper while ZooKeeper stays up and expires the
// session. It only cuts this broker's traffic, so the package's shared
// ZooKeeper keeps serving the other tests.
type zkPartition struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// newZKPartition starts a proxy to target on a loopback port; it stops
// when the test ends.
func newZKPartition(t *testing.T, target string) *zkPartition {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &zkPartition{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's address, to use in zookeeper.connect.
func (p *zkPartition) Addr() string { return p.ln.Addr().String() }

// setCut cuts (closing every proxied connection and refusing new ones) or
// heals the link.
func (p *zkPartition) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *zkPartition) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		cut := p.cut
		p.mu.Unlock()
		if cut {
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.conns[up] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies src to dst until either side closes, then closes both.
func (p *zkPartition) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// sessionLossView reads the broker's znodes straight from ZooKeeper (not
// through the proxy), as zkCli would.
type sessionLossView struct {
	conn   *zk.Conn
	chroot string
}

// owner returns the session owning /brokers/ids/<id>, or 0 when the
// broker is not registered.
func (v sessionLossView) owner(id int32) (int64, error) {
	ok, st, err := v.conn.Exists(v.chroot + "/brokers/ids/" + strconv.Itoa(int(id)))
	if err != nil {
		return 0, fmt.Errorf("read /brokers/ids/%d: %w", id, err)
	}
	if !ok {
		return 0, nil
	}
	return st.EphemeralOwner, nil
}

// brokerOwner is owner for a moment when ZooKeeper is known to be up: a
// read error fails the test.
func (v sessionLossView) brokerOwner(t *testing.T, id int32) int64 {
	t.Helper()
	o, err := v.owner(id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// controllerState returns the broker id in /controller (-1 when absent)
// and the epoch in /controller_epoch.
func (v sessionLossView) controllerState() (id, epoch int32, err error) {
	id = -1
	data, _, err := v.conn.Get(v.chroot + "/controller")
	switch {
	case errors.Is(err, zk.ErrNoNode):
	case err != nil:
		return 0, 0, fmt.Errorf("read /controller: %w", err)
	default:
		var c struct {
			BrokerID int32 `json:"brokerid"`
		}
		if err := json.Unmarshal(data, &c); err != nil {
			return 0, 0, fmt.Errorf("decode /controller %q: %w", data, err)
		}
		id = c.BrokerID
	}
	data, _, err = v.conn.Get(v.chroot + "/controller_epoch")
	if err != nil {
		return 0, 0, fmt.Errorf("read /controller_epoch: %w", err)
	}
	e, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 32)
	if err != nil {
		return 0, 0, fmt.Errorf("decode /controller_epoch %q: %w", data, err)
	}
	return id, int32(e), nil
}

// controller is controllerState for a moment when ZooKeeper is known to
// be up: a read error fails the test.
func (v sessionLossView) controller(t *testing.T) (id, epoch int32) {
	t.Helper()
	id, epoch, err := v.controllerState()
	if err != nil {
		t.Fatal(err)
	}
	return id, epoch
}

// produceOne sends one raw Produce (acks=all, one record) straight to the
// broker, so no client retry hides the partition's error code, and
// returns that code and the base offset.
func produceOne(ctx context.Context, b *kgo.Broker, topic string) (int16, int64, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = plainBatch(1, time.Now().UnixMilli())
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := b.Request(ctx, req)
	if err != nil {
		return 0, 0, err
	}
	resp := kresp.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return 0, 0, fmt.Errorf("produce response has %d topics, want one partition", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset, nil
}

// sessionLossCase is one way of separating a broker from ZooKeeper for
// longer than its session timeout.
type sessionLossCase struct {
	name string
	// setup returns the address the broker connects to, the ZooKeeper
	// address the test reads from, and functions that cut and heal.
	setup func(t *testing.T) (connect, direct string, cut, heal func(t *testing.T))
	// expires is true when ZooKeeper stays up and expires the session, so
	// the broker must come back under a new session and a new controller
	// epoch. A restarted ZooKeeper instead restores its sessions from its
	// log and lets the broker resume the old one.
	expires bool
}

var sessionLossCases = []sessionLossCase{
	{
		name: "network partition",
		setup: func(t *testing.T) (string, string, func(*testing.T), func(*testing.T)) {
			zkSrv := sharedZooKeeper(t)
			proxy := newZKPartition(t, zkSrv.Addr)
			return proxy.Addr(), zkSrv.Addr,
				func(*testing.T) { proxy.setCut(true) },
				func(*testing.T) { proxy.setCut(false) }
		},
		expires: true,
	},
	{
		name: "zookeeper outage",
		setup: func(t *testing.T) (string, string, func(*testing.T), func(*testing.T)) {
			// A dedicated server: killing the shared one would disturb the
			// package's other tests.
			zkSrv := zktest.Start(t)
			return zkSrv.Addr, zkSrv.Addr,
				func(t *testing.T) {
					if err := zkSrv.Kill(); err != nil {
						t.Fatalf("kill zookeeper: %v", err)
					}
				},
				func(t *testing.T) {
					if err := zkSrv.Resume(testCtx(t)); err != nil {
						t.Fatalf("resume zookeeper: %v", err)
					}
				}
		},
	},
}

// TestSessionLoss separates a broker from ZooKeeper for longer than its
// session timeout while the broker runs on. While the session is lost the
// broker refuses to act as leader; once ZooKeeper is reachable again it is
// registered, holds /controller (under a new session and a higher epoch
// when ZooKeeper expired the old one), and produces again at the offsets
// where it stopped.
func TestSessionLoss(t *testing.T) {
	for _, tc := range sessionLossCases {
		t.Run(tc.name, func(t *testing.T) { testSessionLoss(t, tc) })
	}
}

func testSessionLoss(t *testing.T, tc sessionLossCase) {
	const sessionTimeout = 2 * time.Second
	const topic = "session-loss"
	connect, direct, cut, heal := tc.setup(t)
	chroot := fmt.Sprintf("/TestSessionLoss-%d", chrootSeq.Add(1))
	cfg := testServerConfig(t,
		"zookeeper.connect="+connect+chroot,
		fmt.Sprintf("zookeeper.session.timeout.ms=%d", sessionTimeout.Milliseconds()))
	s, addr, _ := runTestServer(t, cfg)

	conn, _, err := zk.Connect([]string{direct}, 20*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkQuiet{}))
	if err != nil {
		t.Fatalf("connect to zookeeper: %v", err)
	}
	t.Cleanup(conn.Close)
	view := sessionLossView{conn: conn, chroot: chroot}

	createTestTopic(t, s, addr, topic, 1, nil)
	prod := newTestClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	var acked int64 // records acknowledged so far; the next offset
	for i := 0; i < 5; i++ {
		r, err := prod.ProduceSync(testCtx(t), kgo.StringRecord(fmt.Sprint("before-", i))).First()
		if err != nil {
			t.Fatalf("produce before the session loss: %v", err)
		}
		if r.Offset != acked {
			t.Fatalf("produce before the session loss: offset %d, want %d", r.Offset, acked)
		}
		acked++
	}
	owner := view.brokerOwner(t, 0)
	ctl, epoch := view.controller(t)
	if owner == 0 || ctl != 0 {
		t.Fatalf("before the session loss: /brokers/ids/0 owner 0x%x, /controller %d", owner, ctl)
	}

	raw := newTestClient(t, addr)
	seed := raw.SeedBrokers()[0]
	cut(t)

	// The broker notices the loss at the session timeout; until then its
	// produces still succeed and count as acknowledged.
	waitFor(t, 30*time.Second, "a produce refused with NOT_LEADER_OR_FOLLOWER while the session is lost", func() bool {
		code, off, err := produceOne(testCtx(t), seed, topic)
		if err != nil {
			t.Logf("raw produce: %v", err)
			return false
		}
		if code == kerr.NotLeaderForPartition.Code {
			return true
		}
		if code != 0 {
			t.Fatalf("raw produce while cut off: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(code))
		}
		if off != acked {
			t.Fatalf("raw produce while cut off: offset %d, want %d", off, acked)
		}
		acked++
		return false
	})
	if tc.expires {
		// Stay cut off until ZooKeeper itself has expired the session,
		// so the broker must come back under a new one.
		waitFor(t, 30*time.Second, "ZooKeeper to expire the broker's session", func() bool {
			return view.brokerOwner(t, 0) == 0
		})
	}
	if code, _, err := produceOne(testCtx(t), seed, topic); err != nil || code != kerr.NotLeaderForPartition.Code {
		t.Fatalf("second produce while cut off: code %d, err %v; want NOT_LEADER_OR_FOLLOWER", code, err)
	}

	heal(t)
	waitFor(t, 30*time.Second, "the broker to be registered and hold /controller again", func() bool {
		// ZooKeeper itself may still be coming back (the outage case):
		// a failed read is another try, not a failure.
		o, err := view.owner(0)
		if err != nil {
			t.Logf("%v", err)
			return false
		}
		id, e, err := view.controllerState()
		if err != nil {
			t.Logf("%v", err)
			return false
		}
		if tc.expires {
			return o != 0 && o != owner && id == 0 && e > epoch
		}
		return o != 0 && id == 0 && e >= epoch
	})

	after := newTestClient(t, addr, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
	r, err := after.ProduceSync(testCtx(t), kgo.StringRecord("after")).First()
	if err != nil {
		t.Fatalf("produce after the session came back: %v", err)
	}
	if r.Offset != acked {
		t.Fatalf("produce after the session came back: offset %d, want %d (every acknowledged record kept)", r.Offset, acked)
	}
	got := consumeN(t, addr, map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}, int(acked)+1)
	for i, rec := range got {
		if rec.Offset != int64(i) {
			t.Fatalf("consumed record %d has offset %d", i, rec.Offset)
		}
	}
}
