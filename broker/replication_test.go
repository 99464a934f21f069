package broker

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// testCluster is n in-process brokers (ids 1..n) sharing one ZooKeeper
// chroot.
type testCluster struct {
	t       *testing.T
	cfgs    []Config
	servers []*Server
	addrs   []string
	stops   []func()
}

// startTestCluster starts n brokers with the given extra overrides.
func startTestCluster(t *testing.T, n int, overrides ...string) *testCluster {
	t.Helper()
	base := testServerConfig(t, overrides...)
	c := &testCluster{t: t}
	for i := 1; i <= n; i++ {
		ov := append([]string{
			"broker.id=" + strconv.Itoa(i),
			"listeners=PLAINTEXT://127.0.0.1:0",
			"log.dirs=" + t.TempDir(),
			"zookeeper.connect=" + base.ZooKeeperConnect,
			"zookeeper.session.timeout.ms=6000",
			"replica.lag.time.max.ms=3000",
			"replica.fetch.wait.max.ms=100",
			"controlled.shutdown.retry.backoff.ms=200",
		}, overrides...)
		cfg, err := LoadConfig("", ov, zap.NewNop())
		if err != nil {
			t.Fatal(err)
		}
		c.cfgs = append(c.cfgs, cfg)
		c.servers = append(c.servers, nil)
		c.addrs = append(c.addrs, "")
		c.stops = append(c.stops, nil)
		c.start(i)
	}
	return c
}

// start (re)starts broker id.
func (c *testCluster) start(id int) {
	c.t.Helper()
	logger := zaptest.NewLogger(c.t, zaptest.Level(zap.WarnLevel)).Named(fmt.Sprintf("b%d", id))
	s, addr, stop := runTestServerLogged(c.t, c.cfgs[id-1], logger)
	c.servers[id-1], c.addrs[id-1], c.stops[id-1] = s, addr, stop
	// Keep the port for restarts, so clients' seeds stay valid.
	c.cfgs[id-1].Listeners[0].Port = int32(s.Addr().(*net.TCPAddr).Port)
	c.cfgs[id-1].AdvertisedListeners[0].Port = c.cfgs[id-1].Listeners[0].Port
}

// live returns the addresses of the running brokers.
func (c *testCluster) seeds() []string {
	var out []string
	for i, s := range c.servers {
		if s != nil {
			out = append(out, c.addrs[i])
		}
	}
	return out
}

// stop stops broker id cleanly.
func (c *testCluster) stop(id int) {
	c.stops[id-1]()
	c.servers[id-1] = nil
}

// zk returns a ZooKeeper session in the cluster's chroot.
func (c *testCluster) zk() *zkmeta.Client {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zk, err := zkmeta.Connect(ctx, zkmeta.Config{Connect: c.cfgs[0].ZooKeeperConnect, SessionTimeout: 6 * time.Second})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { zk.Close() })
	return zk
}

// TestReplicationThreeBrokers creates a topic with replication factor 3
// and min.insync.replicas=2 on three brokers, produces with acks=all, and
// checks what a user checks: every partition has a leader and a full ISR
// in ZooKeeper, each replica's log holds every record, and after the
// leader of a partition stops, a new leader serves every acknowledged
// record and takes new writes.
func TestReplicationThreeBrokers(t *testing.T) {
	c := startTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	adm, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ka := kadm.NewClient(adm)
	res, err := ka.CreateTopics(ctx, 3, 3, map[string]*string{"min.insync.replicas": strPtr("2")}, "rep")
	if err != nil || res["rep"].Err != nil {
		t.Fatalf("create topic: %v %v", err, res["rep"].Err)
	}
	zk := c.zk()
	waitFor(t, 30*time.Second, "full ISRs in ZooKeeper", func() bool {
		for p := int32(0); p < 3; p++ {
			st, err := zk.PartitionState(ctx, "rep", p)
			if err != nil || len(st.ISR) != 3 || st.Leader < 1 {
				return false
			}
		}
		return true
	})
	leaders := map[int32]bool{}
	for p := int32(0); p < 3; p++ {
		st, _ := zk.PartitionState(ctx, "rep", p)
		leaders[st.Leader] = true
	}
	if len(leaders) != 3 {
		t.Errorf("leaders of 3 partitions on 3 brokers: %v, want one each", leaders)
	}

	prod, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic("rep"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	const n = 300
	acked := 0
	for i := 0; i < n; i++ {
		r := &kgo.Record{Partition: 0, Value: []byte(fmt.Sprintf("v%d", i))}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		acked++
	}
	// Every replica has the records: the followers' logs end at the
	// leader's.
	waitFor(t, 20*time.Second, "followers to catch up", func() bool {
		for _, s := range c.servers {
			p, ok := s.replicas.get(topicPartition{"rep", 0})
			if !ok || p.EndOffset() != n || p.HighWatermark() != n {
				return false
			}
		}
		return true
	})

	// Consumers before Fetch v11 read from the leader only: a follower
	// answers NOT_LEADER_OR_FOLLOWER to their Fetch, and to ListOffsets
	// at any version. From v11 on it serves them (KIP-392; the whole
	// rule is in follower_read_test.go).
	st0, _ := zk.PartitionState(ctx, "rep", 0)
	follower := st0.ISR[0]
	if follower == st0.Leader {
		follower = st0.ISR[1]
	}
	tm, _ := c.servers[follower-1].meta.topic("rep")
	fr := kmsg.NewPtrFetchRequest()
	fr.ReplicaID = -1
	fr.MaxBytes = 1 << 20
	fr.Topics = []kmsg.FetchRequestTopic{{Topic: "rep", TopicID: tm.ID, Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: -1, PartitionMaxBytes: 1 << 20}}}}
	v10 := kversion.Stable()
	v10.SetMaxKeyVersion(fr.Key(), 10)
	old10, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.MaxVersions(v10))
	if err != nil {
		t.Fatal(err)
	}
	defer old10.Close()
	raw, err := old10.Broker(int(follower)).Request(ctx, fr)
	if err != nil {
		t.Fatal(err)
	}
	if code := raw.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Errorf("consumer fetch from follower %d: %v, want NOT_LEADER_OR_FOLLOWER", follower, kerr.ErrorForCode(code))
	}
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "rep", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: -1, Timestamp: -1}}}}
	raw, err = adm.Broker(int(follower)).Request(ctx, lo)
	if err != nil {
		t.Fatal(err)
	}
	if code := raw.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotLeaderForPartition.Code {
		t.Errorf("ListOffsets at follower %d: %v, want NOT_LEADER_OR_FOLLOWER", follower, kerr.ErrorForCode(code))
	}

	// Stop the leader of partition 0; another ISR member takes over.
	st, _ := zk.PartitionState(ctx, "rep", 0)
	old := st.Leader
	c.stop(int(old))
	waitFor(t, 30*time.Second, "a new leader for partition 0", func() bool {
		st, err := zk.PartitionState(ctx, "rep", 0)
		return err == nil && st.Leader >= 1 && st.Leader != old && !slices.Contains(st.ISR, old)
	})
	for i := n; i < n+100; i++ {
		r := &kgo.Record{Partition: 0, Value: []byte(fmt.Sprintf("v%d", i))}
		if err := prod.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %d after failover: %v", i, err)
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"rep": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []string
	for len(got) < n+100 {
		fs := cons.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d: %v", len(got), n+100, err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	for i, v := range got {
		if want := fmt.Sprintf("v%d", i); v != want {
			t.Fatalf("record %d is %q, want %q", i, v, want)
		}
	}
}
