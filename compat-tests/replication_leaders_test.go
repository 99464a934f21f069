package compattests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// Leadership operations on a real cluster: kafka-leader-election.sh's
// ElectLeaders (preferred and unclean), the ZooKeeper-era
// /admin/preferred_replica_election, the automatic leader rebalance and a
// failed log dir on a leader.

// leadersCluster is three brokers, an admin client and a ZooKeeper client.
type leadersCluster struct {
	c       *testcluster.Cluster
	brokers map[int32]*testcluster.Broker
	ids     []int32
	seeds   []string
	cl      *kgo.Client
	adm     *kadm.Client
	z       *testcluster.ZKConn
}

func newLeadersCluster(t *testing.T, overrides map[string]string) *leadersCluster {
	t.Helper()
	c := testcluster.New(t)
	brokers, seeds := threeBrokers(t, c, overrides)
	return leadersClusterOf(t, c, brokers, seeds)
}

func leadersClusterOf(t *testing.T, c *testcluster.Cluster, brokers map[int32]*testcluster.Broker, seeds []string) *leadersCluster {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	var ids []int32
	for id := range brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return &leadersCluster{c: c, brokers: brokers, ids: ids, seeds: seeds, cl: cl, adm: kadm.NewClient(cl), z: c.ZKClient(t)}
}

// create makes a one-partition topic on replicas (the first preferred)
// and waits for the full ISR.
func (lc *leadersCluster) create(ctx context.Context, t *testing.T, topic string, replicas []int32, configs map[string]string) {
	t.Helper()
	createAssigned(ctx, t, lc.cl, topic, replicas, configs)
	lc.waitState(t, topic, fmt.Sprintf("leader %d and ISR of %v", replicas[0], replicas), func(s partitionState) bool {
		return s.Leader == replicas[0] && len(s.ISR) == len(replicas)
	})
}

// waitState waits until topic-0's state znode satisfies cond.
func (lc *leadersCluster) waitState(t *testing.T, topic, what string, cond func(partitionState) bool) partitionState {
	t.Helper()
	var s partitionState
	waitUntil(t, 90*time.Second, topic+"-0: "+what, func() bool {
		var ok bool
		s, ok = readState(t, lc.z, topic, 0)
		return ok && cond(s)
	})
	return s
}

// bounce stops broker id cleanly and starts it again; leadership moves off
// it, and it comes back as a follower.
func (lc *leadersCluster) bounce(t *testing.T, id int32) {
	t.Helper()
	if code := lc.brokers[id].Stop(); code != 0 {
		t.Fatalf("broker %d exited with %d on SIGTERM", id, code)
	}
	startAgain(t, lc.brokers[id])
}

// metadataLeader is the leader of topic-0 in a fresh Metadata answer.
func (lc *leadersCluster) metadataLeader(ctx context.Context, t *testing.T, topic string) int32 {
	t.Helper()
	md, err := lc.adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	return md.Topics[topic].Partitions[0].Leader
}

// electOne runs kafka-leader-election.sh's request for topic-0.
func (lc *leadersCluster) electOne(ctx context.Context, t *testing.T, how kadm.ElectLeadersHow, topic string) kadm.ElectLeadersResult {
	t.Helper()
	res, err := lc.adm.ElectLeaders(ctx, how, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("ElectLeaders: %v", err)
	}
	r, ok := res[topic][0]
	if !ok {
		t.Fatalf("ElectLeaders answered %v, without %s-0", res, topic)
	}
	return r
}

// A preferred election after a bounce: the partition is led by another
// replica until ElectLeaders (as kafka-leader-election.sh --election-type
// preferred sends it) returns leadership to the first replica, with a new
// leader epoch, and every broker's metadata shows it when the answer
// arrives. Asking again is ELECTION_NOT_NEEDED; asking for all partitions
// (null topics) leaves those out; unknown partitions are
// UNKNOWN_TOPIC_OR_PARTITION; a broker that is not the controller answers
// NOT_CONTROLLER; a v0 request (Kafka 2.2's tools) is answered in v0's
// layout; and a preferred replica that is down is
// PREFERRED_LEADER_NOT_AVAILABLE.
func TestLeaderElectionPreferred(t *testing.T) {
	lc := newLeadersCluster(t, map[string]string{"auto.leader.rebalance.enable": "false", "controlled.shutdown.retry.backoff.ms": "200"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pref := lc.ids[0]
	lc.create(ctx, t, "pe", lc.ids, nil)
	if err := produceValues(ctx, t, lc.seeds, "pe", kgo.AllISRAcks(), values("a", 20)...); err != nil {
		t.Fatal(err)
	}
	lc.bounce(t, pref)
	before := lc.waitState(t, "pe", "the full ISR led by another replica", func(s partitionState) bool {
		return s.Leader != pref && s.Leader >= 0 && len(s.ISR) == 3
	})

	r := lc.electOne(ctx, t, kadm.ElectPreferredReplica, "pe")
	if r.Err != nil {
		t.Fatalf("preferred election: %v (%s)", r.Err, r.ErrMessage)
	}
	after, _ := readState(t, lc.z, "pe", 0)
	if after.Leader != pref || after.LeaderEpoch != before.LeaderEpoch+1 {
		t.Fatalf("after the election the state is %+v, want leader %d at leader epoch %d", after, pref, before.LeaderEpoch+1)
	}
	// The answer waited for the controller's own metadata; the others
	// follow.
	bm, err := lc.adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mreq := kmsg.NewPtrMetadataRequest()
	mreq.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("pe")}}
	mraw, err := lc.cl.Broker(int(bm.Controller)).Request(ctx, mreq)
	if err != nil {
		t.Fatal(err)
	}
	if l := mraw.(*kmsg.MetadataResponse).Topics[0].Partitions[0].Leader; l != pref {
		t.Fatalf("right after the answer the controller's metadata shows leader %d, want %d", l, pref)
	}
	for _, b := range lc.brokers {
		bcl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 30*time.Second, fmt.Sprintf("broker %d's metadata to show leader %d", b.ID, pref), func() bool {
			md, err := kadm.NewClient(bcl).Metadata(ctx, "pe")
			return err == nil && md.Topics["pe"].Partitions[0].Leader == pref
		})
		bcl.Close()
	}
	if err := produceValues(ctx, t, lc.seeds, "pe", kgo.AllISRAcks(), values("b", 20)...); err != nil {
		t.Fatalf("produce after the election: %v", err)
	}
	if got := readAll(ctx, t, lc.seeds, "pe"); !slices.Equal(got, append(values("a", 20), values("b", 20)...)) {
		t.Fatalf("after the election the partition holds %v", got)
	}

	if r := lc.electOne(ctx, t, kadm.ElectPreferredReplica, "pe"); !errors.Is(r.Err, kerr.ElectionNotNeeded) {
		t.Fatalf("second preferred election: %v, want ELECTION_NOT_NEEDED", r.Err)
	}
	all, err := lc.adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil || len(all) != 0 {
		t.Fatalf("election over all partitions (all balanced) answered %v, %v; want nothing", all, err)
	}
	res, err := lc.adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"pe": {5: {}}, "nope": {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res["pe"][5].Err, kerr.UnknownTopicOrPartition) || !errors.Is(res["nope"][0].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("unknown partitions answered %v", res)
	}

	other := lc.ids[0]
	if other == bm.Controller {
		other = lc.ids[1]
	}
	req := kmsg.NewPtrElectLeadersRequest()
	req.TimeoutMillis = 10000
	req.Topics = []kmsg.ElectLeadersRequestTopic{{Topic: "pe", Partitions: []int32{0}}}
	raw, err := lc.cl.Broker(int(other)).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp := raw.(*kmsg.ElectLeadersResponse); len(resp.Topics) != 1 || resp.Topics[0].Partitions[0].ErrorCode != kerr.NotController.Code {
		t.Fatalf("broker %d (not the controller) answered %+v, want NOT_CONTROLLER", other, resp)
	}

	old, err := kgo.NewClient(kgo.SeedBrokers(lc.seeds...), kgo.MaxVersions(kversion.V2_2_0()))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	v0, err := kadm.NewClient(old).ElectLeaders(ctx, kadm.ElectPreferredReplica, kadm.TopicsSet{"pe": {0: {}}, "nope": {1: {}}})
	if err != nil {
		t.Fatalf("ElectLeaders v0: %v", err)
	}
	if !errors.Is(v0["pe"][0].Err, kerr.ElectionNotNeeded) || !errors.Is(v0["nope"][1].Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("ElectLeaders v0 answered %v", v0)
	}

	lc.brokers[pref].Kill()
	lc.waitState(t, "pe", "a leader other than the killed broker", func(s partitionState) bool { return s.Leader >= 0 && s.Leader != pref })
	if r := lc.electOne(ctx, t, kadm.ElectPreferredReplica, "pe"); !errors.Is(r.Err, kerr.PreferredLeaderNotAvailable) {
		t.Fatalf("preferred election with the preferred replica down: %v, want PREFERRED_LEADER_NOT_AVAILABLE", r.Err)
	}
}

// An UNCLEAN election (kafka-leader-election.sh --election-type unclean)
// of a partition whose whole ISR is dead takes the live replica outside
// the ISR and marks it RECOVERING (KIP-704: leader_recovery_state 1 in the
// state znode) until the old leader returns, catches up and the leader's
// ISR expansion makes it RECOVERED; with no live replica it is
// ELIGIBLE_LEADERS_NOT_AVAILABLE, and with a live leader
// ELECTION_NOT_NEEDED.
func TestLeaderElectionUnclean(t *testing.T) {
	lc := newLeadersCluster(t, map[string]string{"auto.leader.rebalance.enable": "false"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a, b := lc.ids[0], lc.ids[1]
	lc.create(ctx, t, "ue", []int32{a, b}, nil)
	if r := lc.electOne(ctx, t, kadm.ElectLiveReplica, "ue"); !errors.Is(r.Err, kerr.ElectionNotNeeded) {
		t.Fatalf("unclean election with a live leader: %v, want ELECTION_NOT_NEEDED", r.Err)
	}
	lc.brokers[b].Kill()
	lc.waitState(t, "ue", fmt.Sprintf("ISR [%d]", a), func(s partitionState) bool { return slices.Equal(s.ISR, []int32{a}) })
	if err := produceValues(ctx, t, lc.seeds, "ue", kgo.LeaderAck(), values("only-on-a", 5)...); err != nil {
		t.Fatal(err)
	}
	lc.brokers[a].Kill()
	lc.waitState(t, "ue", "offline", func(s partitionState) bool { return s.Leader == -1 })
	if r := lc.electOne(ctx, t, kadm.ElectLiveReplica, "ue"); !errors.Is(r.Err, kerr.EligibleLeadersNotAvailable) {
		t.Fatalf("unclean election with every replica dead: %v, want ELIGIBLE_LEADERS_NOT_AVAILABLE", r.Err)
	}
	startAgain(t, lc.brokers[b])
	// The partition stays offline: unclean.leader.election.enable is false.
	if s, _ := readState(t, lc.z, "ue", 0); s.Leader != -1 {
		t.Fatalf("the partition came back on %d without an unclean election", s.Leader)
	}
	r := lc.electOne(ctx, t, kadm.ElectLiveReplica, "ue")
	if r.Err != nil {
		t.Fatalf("unclean election: %v (%s)", r.Err, r.ErrMessage)
	}
	s, _ := readState(t, lc.z, "ue", 0)
	if s.Leader != b || !slices.Equal(s.ISR, []int32{b}) {
		t.Fatalf("after the unclean election the state is %+v, want leader %d, ISR [%d]", s, b, b)
	}
	wantLeaderRecoveryState(t, lc.z, "ue", 0, 1)
	if got := lc.metadataLeader(ctx, t, "ue"); got != b {
		t.Fatalf("metadata shows leader %d, want %d", got, b)
	}
	if err := produceValues(ctx, t, lc.seeds, "ue", kgo.AllISRAcks(), "after"); err != nil {
		t.Fatalf("produce after the unclean election: %v", err)
	}
	startAgain(t, lc.brokers[a])
	lc.waitState(t, "ue", fmt.Sprintf("the ISR back to [%d %d]", b, a), func(s partitionState) bool {
		return s.Leader == b && len(s.ISR) == 2
	})
	wantLeaderRecoveryState(t, lc.z, "ue", 0, 0)
	if got, want := readAll(ctx, t, lc.seeds, "ue"), []string{"after"}; !slices.Equal(got, want) {
		t.Fatalf("ue after the old leader rejoined: %q, want %q (what only it had is lost)", got, want)
	}
}

// The ZooKeeper-era request: /admin/preferred_replica_election as Kafka
// 2.x's kafka-preferred-replica-election.sh --zookeeper writes it moves
// leadership back to the preferred replica, and the controller deletes it.
func TestPreferredReplicaElectionZnode(t *testing.T) {
	lc := newLeadersCluster(t, map[string]string{"auto.leader.rebalance.enable": "false", "controlled.shutdown.retry.backoff.ms": "200"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pref := lc.ids[1]
	lc.create(ctx, t, "zp", []int32{pref, lc.ids[2], lc.ids[0]}, nil)
	lc.bounce(t, pref)
	lc.waitState(t, "zp", "the full ISR led by another replica", func(s partitionState) bool {
		return s.Leader != pref && s.Leader >= 0 && len(s.ISR) == 3
	})
	data := []byte(`{"version":1,"partitions":[{"topic":"zp","partition":0}]}`)
	if _, err := lc.z.Conn.Create(lc.z.Path("/admin/preferred_replica_election"), data, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write /admin/preferred_replica_election: %v", err)
	}
	lc.waitState(t, "zp", fmt.Sprintf("leader %d again", pref), func(s partitionState) bool { return s.Leader == pref })
	waitUntil(t, 30*time.Second, "the controller to delete /admin/preferred_replica_election", func() bool {
		ok, err := lc.z.Exists("/admin/preferred_replica_election")
		return err == nil && !ok
	})
}

// auto.leader.rebalance.enable (on by default) with a short
// leader.imbalance.check.interval.seconds: after a bounce the controller
// moves leadership back to the preferred replica by itself.
func TestAutoLeaderRebalance(t *testing.T) {
	lc := newLeadersCluster(t, map[string]string{"leader.imbalance.check.interval.seconds": "2", "controlled.shutdown.retry.backoff.ms": "200"})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	pref := lc.ids[2]
	lc.create(ctx, t, "ar", []int32{pref, lc.ids[0], lc.ids[1]}, nil)
	if code := lc.brokers[pref].Stop(); code != 0 {
		t.Fatalf("broker %d exited with %d on SIGTERM", pref, code)
	}
	lc.waitState(t, "ar", "a leader other than the stopped broker", func(s partitionState) bool { return s.Leader >= 0 && s.Leader != pref })
	startAgain(t, lc.brokers[pref])
	lc.waitState(t, "ar", fmt.Sprintf("leader %d again, by the rebalance", pref), func(s partitionState) bool { return s.Leader == pref })
	var logged bool
	for _, b := range lc.brokers {
		logged = logged || strings.Contains(b.Log(), "leader imbalance above leader.imbalance.per.broker.percentage")
	}
	if !logged {
		t.Fatal("no controller logged the automatic rebalance")
	}
}

// A log dir fails under the leader of a partition (the partition's
// directory made immutable, so the next segment roll fails): the broker
// reports it in /log_dir_event_notification, the controller learns which
// replicas are offline, moves leadership to another ISR member and takes
// the failed replica out of the ISR, and a producer at acks=all goes on
// with every acknowledged record readable afterwards.
func TestLogDirFailureMovesLeadership(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr not installed")
	}
	c := testcluster.New(t)
	var bs []*testcluster.Broker
	for range 3 {
		dir := t.TempDir()
		bs = append(bs, c.NewBroker(t, map[string]string{
			"log.dirs":                  filepath.Join(dir, "a") + "," + filepath.Join(dir, "b"),
			"replica.lag.time.max.ms":   "4000",
			"replica.fetch.wait.max.ms": "100",
		}))
	}
	for _, b := range bs {
		if err := b.Launch(); err != nil {
			t.Fatal(err)
		}
	}
	brokers := map[int32]*testcluster.Broker{}
	var seeds []string
	for _, b := range bs {
		wctx, cancel := context.WithTimeout(context.Background(), testcluster.StartTimeout)
		err := b.WaitReady(wctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		brokers[b.ID] = b
		seeds = append(seeds, b.Addr())
	}
	lc := leadersClusterOf(t, c, brokers, seeds)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	leader := lc.ids[0]
	lc.create(ctx, t, "ld", lc.ids, map[string]string{"min.insync.replicas": "2", "segment.bytes": "2048"})

	var partDir string
	for _, d := range brokers[leader].LogDirs() {
		if _, err := os.Stat(filepath.Join(d, "ld-0")); err == nil {
			partDir = filepath.Join(d, "ld-0")
		}
	}
	if partDir == "" {
		t.Fatalf("ld-0 is in none of broker %d's log dirs %v", leader, brokers[leader].LogDirs())
	}

	prod := startAckedProducer(ctx, t, seeds, "ld", func(i int) string { return fmt.Sprintf("v%04d-%s", i, strings.Repeat("x", 100)) })
	waitUntil(t, time.Minute, "some writes", func() bool { n, _ := prod.progress(); return n > 30 })

	if out, err := exec.Command("chattr", "+i", partDir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s: %v: %s (the file system does not support immutable directories)", partDir, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", partDir).Run() })

	s := lc.waitState(t, "ld", "a new leader, the failed replica out of the ISR", func(s partitionState) bool {
		return s.Leader >= 0 && s.Leader != leader && !slices.Contains(s.ISR, leader)
	})
	if !strings.Contains(brokers[leader].Log(), "stopped serving replicas in dir") {
		t.Fatalf("broker %d did not take its log dir offline; its log ends:\n%s", leader, tail(brokers[leader].Log(), 20))
	}
	var handled bool
	for _, b := range brokers {
		handled = handled || strings.Contains(b.Log(), "replicas offline: their log dir failed")
	}
	if !handled {
		t.Fatal("no controller logged the offline replicas")
	}
	n, _ := prod.progress()
	waitUntil(t, time.Minute, "writes to continue on the new leader", func() bool { m, err := prod.progress(); return m > n+30 || err != nil })
	acks, perr := prod.finish()
	if perr != nil {
		t.Fatalf("the producer failed: %v", perr)
	}
	// kafka-topics.sh --describe shows the failed replica as offline.
	waitUntil(t, 30*time.Second, fmt.Sprintf("metadata to list broker %d as an offline replica of ld-0", leader), func() bool {
		md, err := lc.adm.Metadata(ctx, "ld")
		return err == nil && slices.Contains(md.Topics["ld"].Partitions[0].OfflineReplicas, leader)
	})
	if kids, err := lc.z.Children("/log_dir_event_notification"); err != nil || len(kids) != 0 {
		t.Fatalf("log dir notifications left: %v %v", kids, err)
	}
	got := readAll(ctx, t, seeds, "ld")
	for _, a := range acks {
		if a.offset >= int64(len(got)) || got[a.offset] != a.value {
			t.Fatalf("acknowledged %q at offset %d is not there (leader now %d)", a.value, a.offset, s.Leader)
		}
	}
	if !brokers[leader].Running() {
		t.Fatalf("broker %d stopped; it has another log dir and should serve on", leader)
	}
}

// ackedProducer writes to partition 0 of a topic at acks=all, one record
// at a time, until finished, recording every acknowledged record.
type ackedProducer struct {
	mu   sync.Mutex
	acks []acked
	err  error
	stop chan struct{}
	done chan struct{}
}

// startAckedProducer starts one; value gives the i-th record's value. It
// stops at the first failed write (each bounded by a minute).
func startAckedProducer(ctx context.Context, t *testing.T, seeds []string, topic string, value func(int) string) *ackedProducer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	p := &ackedProducer{stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(func() { p.finish(); cl.Close() })
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			default:
			}
			r := &kgo.Record{Partition: 0, Value: []byte(value(i))}
			pctx, cancel := context.WithTimeout(ctx, time.Minute)
			err := cl.ProduceSync(pctx, r).FirstErr()
			cancel()
			p.mu.Lock()
			if err != nil {
				p.err = err
				p.mu.Unlock()
				return
			}
			p.acks = append(p.acks, acked{0, r.Offset, string(r.Value)})
			p.mu.Unlock()
		}
	}()
	return p
}

// progress is the number of acknowledged records so far and the error
// that stopped the producer, if any.
func (p *ackedProducer) progress() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acks), p.err
}

// finish stops the producer and returns what it wrote; calling it again
// returns the same.
func (p *ackedProducer) finish() ([]acked, error) {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acks, p.err
}
