package compattests

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// TestZooKeeperUnreachableAtStart points the broker at a port nobody
// listens on: it must say so in its log (naming the address) and exit
// non-zero once zookeeper.connection.timeout.ms has passed.
func TestZooKeeperUnreachableAtStart(t *testing.T) {
	c := testcluster.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close() // nothing listens there now
	b := c.NewBroker(t, map[string]string{
		"zookeeper.connect":               dead,
		"zookeeper.session.timeout.ms":    "2000",
		"zookeeper.connection.timeout.ms": "2000",
	})
	if err := b.Launch(); err != nil {
		t.Fatal(err)
	}
	code := waitExit(t, b)
	if code == 0 {
		t.Errorf("broker exited with status 0 without ZooKeeper; want non-zero")
	}
	log := b.Log()
	if !strings.Contains(strings.ToLower(log), "zookeeper") || !strings.Contains(log, dead) {
		t.Errorf("log does not say that ZooKeeper at %s is unreachable:\n%s", dead, log)
	}
}

// TestConfigUnknownKeyWarns starts a broker with keys gokafka does not know
// (as found in real Kafka configs): it warns, naming each, and serves.
func TestConfigUnknownKeyWarns(t *testing.T) {
	_, b := startBroker(t, map[string]string{
		"num.network.threads":     "3",
		"gokafka.no.such.setting": "yes",
	})
	eventually(t, "the warning names the unknown key", func() error {
		if !strings.Contains(b.Log(), "gokafka.no.such.setting") {
			return errString("no log line names gokafka.no.such.setting")
		}
		return nil
	})
}

// TestConfigBadValueFails starts brokers with one bad value each, in the
// properties file and through --override: each exits non-zero and its log
// names the key.
func TestConfigBadValueFails(t *testing.T) {
	c := testcluster.New(t)
	for _, tc := range []struct {
		key, value string
		override   bool
	}{
		{"num.partitions", "many", false},
		{"num.partitions", "0", false},
		{"broker.id", "zero", false},
		{"listeners", "no-scheme-here", false},
		{"auto.create.topics.enable", "perhaps", false},
		{"log.segment.bytes", "-1", false},
		{"log.message.timestamp.type", "WallClockTime", false},
		{"zookeeper.session.timeout.ms", "soon", false},
		{"log.retention.hours", "forever", true},
		{"message.max.bytes", "big", true},
		// A class Kafka would not find (ClassNotFoundException at start).
		{"replica.selector.class", "com.example.NearestReplicaSelector", false},
	} {
		name := tc.key + "=" + tc.value
		if tc.override {
			name = "--override " + name
		}
		t.Run(name, func(t *testing.T) {
			var b *testcluster.Broker
			if tc.override {
				b = c.NewBroker(t, nil)
				b.SetArgs("--override", tc.key+"="+tc.value)
			} else {
				b = c.NewBroker(t, map[string]string{tc.key: tc.value})
			}
			if err := b.Launch(); err != nil {
				t.Fatal(err)
			}
			if code := waitExit(t, b); code == 0 {
				t.Errorf("broker exited with status 0; want non-zero")
			}
			if log := b.Log(); !strings.Contains(log, tc.key) {
				t.Errorf("log does not name %s:\n%s", tc.key, log)
			}
		})
	}
}

// waitExit waits for the broker process to end and returns its status.
func waitExit(t *testing.T, b *testcluster.Broker) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	code, err := b.Wait(ctx)
	if err != nil {
		t.Fatalf("broker did not exit: %v\nlog:\n%s", err, b.Log())
	}
	return code
}

type errString string

func (e errString) Error() string { return string(e) }
