package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestSessionRecordFollowsNewSession checks that the ZooKeeper session
// recorded in the log dir (.gokafka-zk-session, what a restart after a
// crash takes ephemerals over from) is the one owning /brokers/ids/<id>:
// after the start, and again after ZooKeeper expired the session and the
// broker registered under a new one. A stale record would make the next
// restart after a crash wait for the expiry again.
func TestSessionRecordFollowsNewSession(t *testing.T) {
	zkSrv := sharedZooKeeper(t)
	proxy := newZKPartition(t, zkSrv.Addr)
	chroot := fmt.Sprintf("/TestSessionRecord-%d", chrootSeq.Add(1))
	cfg := testServerConfig(t, "zookeeper.connect="+proxy.Addr()+chroot, "zookeeper.session.timeout.ms=2000")
	runTestServer(t, cfg)

	conn, _, err := zk.Connect([]string{zkSrv.Addr}, 20*time.Second, zk.WithLogInfo(false), zk.WithLogger(zkQuiet{}))
	if err != nil {
		t.Fatalf("connect to zookeeper: %v", err)
	}
	t.Cleanup(conn.Close)
	view := sessionLossView{conn: conn, chroot: chroot}
	recorded := func() string {
		data, _ := os.ReadFile(filepath.Join(cfg.LogDirs[0], ".gokafka-zk-session"))
		return strings.TrimSpace(string(data))
	}
	hex := func(s int64) string { return strconv.FormatUint(uint64(s), 16) }

	// The record is written off the start path (session_recorder.go), so
	// it may land just after the broker serves.
	first := view.brokerOwner(t, 0)
	if first == 0 {
		t.Fatal("after start: /brokers/ids/0 has no ephemeral owner")
	}
	waitFor(t, 30*time.Second, "the first session to be recorded", func() bool {
		return recorded() == hex(first)
	})

	proxy.setCut(true)
	waitFor(t, 30*time.Second, "ZooKeeper to expire the broker's session", func() bool {
		return view.brokerOwner(t, 0) == 0
	})
	proxy.setCut(false)
	waitFor(t, 30*time.Second, "the new session to be registered and recorded", func() bool {
		o := view.brokerOwner(t, 0)
		return o != 0 && o != first && recorded() == hex(o)
	})
}
