package testcluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokafka/gokafka/internal/zktest"
)

// Cluster is a ZooKeeper namespace (a chroot) and the brokers started in it.
// Its ZooKeeper is either one server (New; ZK is set) or an ensemble of its
// own (NewWithEnsemble; Ensemble is set).
type Cluster struct {
	// ZK is the single ZooKeeper server of a cluster made by New; tests may
	// Kill/Resume it. It is nil for a cluster made by NewWithEnsemble.
	ZK *zktest.Server
	// Ensemble is the ZooKeeper ensemble of a cluster made by
	// NewWithEnsemble; tests may Kill/Resume/Restart its members. It is nil
	// for a cluster made by New.
	Ensemble *zktest.Ensemble
	// Chroot is this cluster's path in ZooKeeper, e.g. "/gokafka-test-3".
	Chroot string

	nextID int32
}

// New returns an empty cluster in its own chroot of a real ZooKeeper.
func New(t testing.TB) *Cluster {
	t.Helper()
	srv, chroot := process.zookeeper(t)
	return &Cluster{ZK: srv, Chroot: chroot}
}

// NewWithEnsemble returns an empty cluster whose brokers use a ZooKeeper
// ensemble of n members (n >= 2; 3 for the usual majority of two) started
// for this cluster alone, so a test can kill members without disturbing
// other tests. The ensemble is stopped when the test ends.
func NewWithEnsemble(t testing.TB, n int) *Cluster {
	t.Helper()
	e := zktest.StartEnsemble(t, n)
	return &Cluster{Ensemble: e, Chroot: process.nextChroot()}
}

// ZKServers are the client addresses of the cluster's ZooKeeper: the one
// server, or every member of the ensemble.
func (c *Cluster) ZKServers() []string {
	if c.Ensemble != nil {
		return c.Ensemble.Addrs()
	}
	return []string{c.ZK.Addr}
}

// ZKConnect is the zookeeper.connect value of the cluster's brokers,
// chroot included: "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/gokafka-test-4"
// with an ensemble.
func (c *Cluster) ZKConnect() string { return strings.Join(c.ZKServers(), ",") + c.Chroot }

// StartBroker starts a broker with the next free broker.id and the given
// server.properties overrides, and waits until it serves. It fails the test
// if the broker does not come up.
func (c *Cluster) StartBroker(t testing.TB, overrides map[string]string) *Broker {
	t.Helper()
	b := c.NewBroker(t, overrides)
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	return b
}

// StartBrokers prepares n brokers with the next broker.ids and the given
// overrides, launches them all and waits until every one serves. Brokers of
// one cluster are launched together because a broker may wait for the
// others (a controller, replicas) before it serves. It fails the test if any
// does not come up.
func (c *Cluster) StartBrokers(t testing.TB, n int, overrides map[string]string) []*Broker {
	t.Helper()
	bs := make([]*Broker, n)
	for i := range bs {
		bs[i] = c.NewBroker(t, overrides)
	}
	for _, b := range bs {
		if err := b.Launch(); err != nil {
			t.Fatalf("testcluster: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	errs := make(chan error, n)
	for _, b := range bs {
		go func() { errs <- b.WaitReady(ctx) }()
	}
	var failed []error
	for range bs {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		t.Fatalf("testcluster: %v", errors.Join(failed...))
	}
	return bs
}

// ZKClient connects a go-zookeeper client to the cluster's chroot (paths
// are given as the broker sees them, e.g. "/brokers/topics/t") and closes it
// when the test ends.
func (c *Cluster) ZKClient(t testing.TB) *ZKConn {
	t.Helper()
	servers := c.ZKServers()
	conn, events, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("testcluster: connect to zookeeper %s: %v", servers, err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(30 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("testcluster: no zookeeper session with %s after 30s (state %v)", servers, conn.State())
		}
	}
	return &ZKConn{Conn: conn, chroot: c.Chroot}
}

// ZKConn is a ZooKeeper client whose helper methods take paths relative to
// the cluster's chroot. Conn is the raw client (absolute paths).
type ZKConn struct {
	Conn   *zk.Conn
	chroot string
}

// Path returns the absolute path of a path inside the chroot.
func (z *ZKConn) Path(p string) string {
	return strings.TrimSuffix(z.chroot, "/") + p
}

// Exists reports whether the znode at p (inside the chroot) exists.
func (z *ZKConn) Exists(p string) (bool, error) {
	ok, _, err := z.Conn.Exists(z.Path(p))
	return ok, err
}

// Get returns the data of the znode at p (inside the chroot).
func (z *ZKConn) Get(p string) ([]byte, error) {
	data, _, err := z.Conn.Get(z.Path(p))
	return data, err
}

// Children lists the children of the znode at p (inside the chroot).
func (z *ZKConn) Children(p string) ([]string, error) {
	kids, _, err := z.Conn.Children(z.Path(p))
	return kids, err
}
