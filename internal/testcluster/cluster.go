package testcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/gokafka/gokafka/internal/zktest"
)

// Cluster is a ZooKeeper namespace (a chroot) and the brokers started in it.
type Cluster struct {
	// ZK is the ZooKeeper server; tests may Kill/Resume it.
	ZK *zktest.Server
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

// ZKConnect is the zookeeper.connect value of the cluster's brokers,
// chroot included.
func (c *Cluster) ZKConnect() string { return c.ZK.Addr + c.Chroot }

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

// ZKClient connects a go-zookeeper client to the cluster's chroot (paths
// are given as the broker sees them, e.g. "/brokers/topics/t") and closes it
// when the test ends.
func (c *Cluster) ZKClient(t testing.TB) *ZKConn {
	t.Helper()
	conn, events, err := zk.Connect([]string{c.ZK.Addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("testcluster: connect to zookeeper %s: %v", c.ZK.Addr, err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(30 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("testcluster: no zookeeper session with %s after 30s (state %v)", c.ZK.Addr, conn.State())
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
