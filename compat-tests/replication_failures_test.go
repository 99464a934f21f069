package compattests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// threeBrokers starts three brokers at once (testcluster.StartBrokers: a
// broker waits for the controller's first UpdateMetadata, so they start
// together) and returns them by id with their bootstrap addresses.
func threeBrokers(t *testing.T, c *testcluster.Cluster, overrides map[string]string) (map[int32]*testcluster.Broker, []string) {
	t.Helper()
	base := map[string]string{
		"replica.lag.time.max.ms":   "4000",
		"replica.fetch.wait.max.ms": "100",
	}
	for k, v := range overrides {
		base[k] = v
	}
	byID := map[int32]*testcluster.Broker{}
	var seeds []string
	for _, b := range c.StartBrokers(t, 3, base) {
		byID[b.ID] = b
		seeds = append(seeds, b.Addr())
	}
	return byID, seeds
}

// startAgain restarts a stopped or killed broker and waits until it serves.
func startAgain(t *testing.T, b *testcluster.Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.StartTimeout)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// produceValues writes values to partition 0 of topic with the given acks
// and returns the first error.
func produceValues(ctx context.Context, t *testing.T, seeds []string, topic string, acks kgo.Acks, values ...string) error {
	t.Helper()
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(acks),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordRetries(3),
		kgo.RetryBackoffFn(func(int) time.Duration { return 200 * time.Millisecond })}
	if acks != kgo.AllISRAcks() {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range values {
		pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := cl.ProduceSync(pctx, &kgo.Record{Partition: 0, Value: []byte(v)}).FirstErr()
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// readAll reads partition 0 of topic from the start up to its end offset.
func readAll(ctx context.Context, t *testing.T, seeds []string, topic string) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	var out []string
	for int64(len(out)) < end.Offset {
		fctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		fs := cl.PollFetches(fctx)
		timedOut := fctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("read %d of %d records of %s", len(out), end.Offset, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

func values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// createAssigned creates a one-partition topic on the given replicas (the
// first leads) with configs, through the controller.
func createAssigned(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, replicas []int32, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = -1
	rt.ReplicationFactor = -1
	rt.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: replicas}}
	for k, v := range configs {
		rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: k, Value: kmsg.StringPtr(v)})
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
}

// TestReplicationTwoOfThreeDown takes the followers of a partition away
// (SIGKILL) and checks Kafka's guarantees around min.insync.replicas and
// unclean.leader.election.enable:
//   - with the ISR down to the leader, acks=all gets NOT_ENOUGH_REPLICAS
//     (min.insync.replicas=2) while acks=1 still works;
//   - the leader dies too and a lagging follower returns: a topic with
//     unclean election off stays offline (leader -1) and loses nothing once
//     the last ISR member returns; a topic with it on comes back on the
//     lagging replica at once, without the records only the old leader had,
//     and the controller's log says it was an unclean election; its state
//     znode says leader_recovery_state 1 (KIP-704, RECOVERING) until the
//     returning replicas catch up and the ISR is whole again, RECOVERED.
func TestReplicationTwoOfThreeDown(t *testing.T) {
	c := testcluster.New(t)
	brokers, seeds := threeBrokers(t, c, nil)
	ids := make([]int32, 0, 3)
	for id := range brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	a, b, f := ids[0], ids[1], ids[2] // a leads; b is the lagging one that returns first
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	topics := map[string]string{"clean": "false", "unclean": "true"}
	for topic, unclean := range topics {
		createAssigned(ctx, t, adm, topic, []int32{a, b, f}, map[string]string{
			"min.insync.replicas": "2", "unclean.leader.election.enable": unclean,
		})
	}
	z := c.ZKClient(t)
	stateIs := func(topic string, ok func(partitionState) bool) func() bool {
		return func() bool {
			st, found := readState(t, z, topic, 0)
			return found && ok(st)
		}
	}
	for topic := range topics {
		waitUntil(t, time.Minute, topic+" to have a full ISR", stateIs(topic, func(st partitionState) bool { return len(st.ISR) == 3 }))
		if err := produceValues(ctx, t, seeds, topic, kgo.AllISRAcks(), values("replicated", 10)...); err != nil {
			t.Fatalf("%s: acks=all with a full ISR: %v", topic, err)
		}
	}

	// Both followers die: the controller takes them out of the ISR.
	brokers[b].Kill()
	brokers[f].Kill()
	live := []string{brokers[a].Addr()}
	leaderOnly, err := kgo.NewClient(kgo.SeedBrokers(live...))
	if err != nil {
		t.Fatal(err)
	}
	defer leaderOnly.Close()
	for topic := range topics {
		waitUntil(t, time.Minute, topic+" ISR down to the leader", stateIs(topic, func(st partitionState) bool {
			return st.Leader == a && slices.Equal(st.ISR, []int32{a})
		}))
		// ZooKeeper changes before the leader hears of it; the leader's
		// own metadata shows it once its LeaderAndIsr was applied (the
		// controller sends UpdateMetadata after it, on the same queue).
		waitUntil(t, time.Minute, topic+" ISR down to the leader in the leader's metadata", func() bool {
			md, err := kadm.NewClient(leaderOnly).Metadata(ctx, topic)
			if err != nil {
				return false
			}
			pd, ok := md.Topics[topic].Partitions[0]
			return ok && slices.Equal(pd.ISR, []int32{a})
		})
		err := produceValues(ctx, t, live, topic, kgo.AllISRAcks(), "refused")
		if !errors.Is(err, kerr.NotEnoughReplicas) {
			t.Errorf("%s: acks=all with ISR [%d] and min.insync.replicas=2: %v, want NOT_ENOUGH_REPLICAS", topic, a, err)
		}
		if err := produceValues(ctx, t, live, topic, kgo.LeaderAck(), values("only-on-leader", 5)...); err != nil {
			t.Fatalf("%s: acks=1 with the leader alone: %v", topic, err)
		}
	}

	// The leader dies too; the lagging follower b returns first.
	brokers[a].Kill()
	startAgain(t, brokers[b])
	waitUntil(t, time.Minute, "the unclean topic to come back on the lagging replica",
		stateIs("unclean", func(st partitionState) bool { return st.Leader == b }))
	if !strings.Contains(brokers[b].Log(), "unclean leader election") {
		t.Errorf("broker %d (the controller) did not log the unclean election", b)
	}
	wantLeaderRecoveryState(t, z, "unclean", 0, 1)
	bOnly := []string{brokers[b].Addr()}
	if got, want := readAll(ctx, t, bOnly, "unclean"), values("replicated", 10); !slices.Equal(got, want) {
		t.Errorf("unclean topic after the unclean election: %q, want %q (what only the old leader had is lost)", got, want)
	}
	st, _ := readState(t, z, "clean", 0)
	if st.Leader != -1 || !slices.Equal(st.ISR, []int32{a}) {
		t.Errorf("clean topic with only a lagging replica live: leader %d ISR %v, want leader -1 and ISR [%d]", st.Leader, st.ISR, a)
	}
	wantLeaderRecoveryState(t, z, "clean", 0, 0)

	// The last ISR member returns: the clean topic has everything.
	startAgain(t, brokers[a])
	startAgain(t, brokers[f])
	waitUntil(t, time.Minute, "the clean topic to be led by the last ISR member",
		stateIs("clean", func(st partitionState) bool { return st.Leader == a }))
	want := append(values("replicated", 10), values("only-on-leader", 5)...)
	if got := readAll(ctx, t, seeds, "clean"); !slices.Equal(got, want) {
		t.Errorf("clean topic after the ISR member returned: %q, want %q", got, want)
	}
	for topic := range topics {
		waitUntil(t, time.Minute, topic+" ISR whole again", stateIs(topic, func(st partitionState) bool { return len(st.ISR) == 3 }))
		// The unclean leader reported RECOVERED with its ISR expansion.
		wantLeaderRecoveryState(t, z, topic, 0, 0)
	}
	// The old leader truncated what the unclean leader never had: new
	// writes line up on every replica.
	if err := produceValues(ctx, t, seeds, "unclean", kgo.AllISRAcks(), "after"); err != nil {
		t.Fatal(err)
	}
	if got, want := readAll(ctx, t, seeds, "unclean"), append(values("replicated", 10), "after"); !slices.Equal(got, want) {
		t.Errorf("unclean topic at the end: %q, want %q", got, want)
	}
}

// TestReplicationControlledShutdown stops the leader of every partition of
// a topic with SIGTERM while an acks=all producer writes: the broker asks
// the controller to move its leaderships before it exits, the producer
// sees at most retriable errors, and nothing acknowledged is lost.
func TestReplicationControlledShutdown(t *testing.T) {
	c := testcluster.New(t)
	brokers, seeds := threeBrokers(t, c, map[string]string{"controlled.shutdown.retry.backoff.ms": "200"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	res, err := kadm.NewClient(adm).CreateTopics(ctx, 3, 3, map[string]*string{"min.insync.replicas": kadm.StringPtr("2")}, "cs")
	if err != nil || res["cs"].Err != nil {
		t.Fatalf("create: %v %v", err, res["cs"].Err)
	}
	z := c.ZKClient(t)
	waitUntil(t, time.Minute, "full ISRs", func() bool {
		for p := int32(0); p < 3; p++ {
			if st, ok := readState(t, z, "cs", p); !ok || len(st.ISR) != 3 {
				return false
			}
		}
		return true
	})
	st, _ := readState(t, z, "cs", 0)
	victim := st.Leader

	prod := startAckedProducer(ctx, t, seeds, "cs", func(i int) string { return fmt.Sprintf("v%d", i) })
	waitUntil(t, time.Minute, "some writes", func() bool { n, _ := prod.progress(); return n > 50 })
	if code := brokers[victim].Stop(); code != 0 {
		t.Errorf("broker %d exited with %d on SIGTERM", victim, code)
	}
	if log := brokers[victim].Log(); !strings.Contains(log, "controlled shutdown: leadership moved off this broker") {
		t.Errorf("broker %d did not complete a controlled shutdown; its log ends:\n%s", victim, tail(log, 20))
	}
	for p := int32(0); p < 3; p++ {
		if st, _ := readState(t, z, "cs", p); st.Leader == victim || st.Leader < 0 {
			t.Errorf("partition %d: leader %d after broker %d stopped", p, st.Leader, victim)
		}
	}
	n, _ := prod.progress()
	waitUntil(t, time.Minute, "writes to continue", func() bool { m, err := prod.progress(); return m > n+50 || err != nil })
	acks, perr := prod.finish()
	if perr != nil {
		t.Fatalf("the producer failed: %v", perr)
	}
	var live []string
	for id, b := range brokers {
		if id != victim {
			live = append(live, b.Addr())
		}
	}
	got := readAll(ctx, t, live, "cs")
	for _, a := range acks {
		if a.offset >= int64(len(got)) || got[a.offset] != a.value {
			t.Fatalf("acknowledged %q at offset %d is not there", a.value, a.offset)
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
