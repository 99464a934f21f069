package zkmeta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/internal/zktest"
	"go.uber.org/zap/zaptest"
)

// One ZooKeeper serves the whole package (a JVM start costs seconds); each
// test works under its own chroot, so tests do not see each other's znodes.
var (
	zkOnce   sync.Once
	zkServer *zktest.Server
	zkDir    string
	zkErr    error
	chrootN  atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if zkServer != nil {
		zkServer.Stop()
	}
	if zkDir != "" {
		os.RemoveAll(zkDir)
	}
	os.Exit(code)
}

// server starts the package's ZooKeeper on first use.
func server(t *testing.T) *zktest.Server {
	t.Helper()
	zkOnce.Do(func() {
		zkDir, zkErr = os.MkdirTemp("", "zkmeta-test-")
		if zkErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		zkServer, zkErr = zktest.StartDir(ctx, zkDir)
	})
	if zkErr != nil {
		t.Fatalf("start zookeeper: %v", zkErr)
	}
	return zkServer
}

// testChroot is a chroot no other test uses.
func testChroot(t *testing.T) string {
	name := regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(t.Name(), "_")
	return fmt.Sprintf("/%s-%d", name, chrootN.Add(1))
}

const testSessionTimeout = 4 * time.Second

// testCtx is a context that ends with the test or after a minute.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// connect opens a client on the test server under chroot, closed when the
// test ends.
func connect(t *testing.T, chroot string, opts ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		Connect:        server(t).Addr + chroot,
		SessionTimeout: testSessionTimeout,
		ConnectTimeout: 20 * time.Second,
		Logger:         zaptest.NewLogger(t),
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := Connect(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("connect %s: %v", cfg.Connect, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a plain go-zookeeper connection without chroot, to look at
// znodes the way zkCli would.
func rawConn(t *testing.T) *zk.Conn {
	t.Helper()
	conn, _, err := zk.Connect([]string{server(t).Addr}, testSessionTimeout, zk.WithLogInfo(false), zk.WithLogger(discard{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

type discard struct{}

func (discard) Printf(string, ...any) {}

// rawGet reads a znode by its full path, failing the test on error.
func rawGet(t *testing.T, conn *zk.Conn, p string) ([]byte, *zk.Stat) {
	t.Helper()
	data, stat, err := conn.Get(p)
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return data, stat
}

func rawExists(t *testing.T, conn *zk.Conn, p string) bool {
	t.Helper()
	ok, _, err := conn.Exists(p)
	if err != nil {
		t.Fatalf("exists %s: %v", p, err)
	}
	return ok
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// netCutter is a dialer whose network the test can cut: cutting closes
// the open connections and fails new dials until healed.
type netCutter struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func (n *netCutter) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cut {
		return nil, errors.New("network cut by test")
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err == nil {
		n.conns = append(n.conns, c)
	}
	return c, err
}

func (n *netCutter) set(cut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut = cut
	if cut {
		for _, c := range n.conns {
			c.Close()
		}
		n.conns = nil
	}
}
