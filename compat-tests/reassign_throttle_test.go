package compattests

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// Throttled reassignment (issue 11): the issue's check that "the
// replication rate stays within 20% of the throttle" while a partition
// moves onto a new broker, started as an operator starts it.

const (
	// bulkRecords of bulkValueSize bytes fill the partition that moves:
	// 80 MiB, twenty seconds at the throttle.
	bulkRecords   = 1280
	bulkValueSize = 64 << 10
)

// bulkValue is the i-th bulk record: distinct, so that a record read
// twice or out of place shows.
func bulkValue(i int) []byte {
	v := []byte(fmt.Sprintf("bulk-%06d-", i))
	return append(v, strings.Repeat("b", bulkValueSize-len(v))...)
}

// Grow a three-broker cluster to four and move a partition holding 80 MiB
// onto the new broker with `gokafka reassign-partitions --execute
// --throttle`, as kafka-reassign-partitions.sh does, while an idempotent
// acks=all producer writes to that partition:
//   - the tool writes Kafka 3.9's throttles before it starts the move: the
//     rate (leader and follower) on every broker taking part, the
//     partition's current replicas as the topic's leader list and the new
//     replica as its follower list;
//   - the new replica's log grows at the throttle, within 20%, in each of
//     three spans of 16 MiB after the first 8 MiB (the quota's empty
//     history lets a window's worth through at once);
//   - the move completes, --verify reports it and clears every throttle,
//     the old replica's files are deleted, the new replica's log is the
//     same bytes as the others', and a consumer reads every bulk record
//     and every acknowledged record in place;
//   - the producer never sees an error it does not retry.
func TestReassignThrottled(t *testing.T) {
	c := testcluster.New(t)
	brokers, seeds := threeBrokers(t, c, reassignOverrides)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	z := c.ZKClient(t)
	adm, cl := reassignAdmin(t, seeds)

	const topic = "throttledmove"
	createReplicated(ctx, t, cl, z, topic, 1, nil)
	produceBulk(ctx, t, seeds, topic)
	w := startWorkload(ctx, t, seeds, topic, 1)
	w.progress(50)

	nb := c.StartBroker(t, reassignOverrides)
	brokers[nb.ID] = nb
	waitInMetadata(ctx, t, cl, nb.ID)

	// Replace the partition's first replica (its preferred leader) with
	// the new broker.
	before := replicasOf(t, z, topic)[0]
	removed := before[0]
	target := append([]int32{nb.ID}, before[1:]...)
	plan := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(plan, []byte(fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%s]}]}`,
		topic, joinIDs(target))), 0o644); err != nil {
		t.Fatal(err)
	}
	// The bytes to move: what the partition holds as the move starts.
	moving := partitionLogBytes(brokers[before[1]], topic, 0)
	tool := func(args ...string) []string {
		return append([]string{"reassign-partitions", "--bootstrap-server", strings.Join(seeds, ",")}, args...)
	}
	out := mustTool(t, nil, tool("--execute", "--reassignment-json-file", plan, "--throttle", strconv.Itoa(throttleRate))...)
	if want := fmt.Sprintf("The inter-broker throttle limit was set to %d B/s\n", throttleRate); !strings.Contains(out, want) {
		t.Errorf("--execute printed:\n%s\nwant a line %q", out, want)
	}

	// The throttles, as the tool left them (read back while the move
	// runs: every broker has them once /config/changes reaches it).
	var leaders []string
	for _, b := range before {
		leaders = append(leaders, fmt.Sprintf("0:%d", b))
	}
	slices.Sort(leaders)
	rate := strconv.Itoa(throttleRate)
	wantBroker := map[string]string{"leader.replication.throttled.rate": rate, "follower.replication.throttled.rate": rate}
	wantTopic := map[string]string{
		"leader.replication.throttled.replicas":   strings.Join(leaders, ","),
		"follower.replication.throttled.replicas": fmt.Sprintf("0:%d", nb.ID),
	}
	involved := append(slices.Clone(before), nb.ID)
	waitUntil(t, testTimeout, fmt.Sprintf("the topic's throttles %v and the rates %v on brokers %v", wantTopic, wantBroker, involved), func() bool {
		if !maps.Equal(throttleConfigs(ctx, t, adm, topic), wantTopic) {
			return false
		}
		for _, id := range involved {
			if !maps.Equal(brokerThrottles(ctx, t, adm, id), wantBroker) {
				return false
			}
		}
		return true
	})

	// The configs went in before the move began: ZooKeeper changed them
	// before it changed the topic znode to add the new replica.
	moveZxid := mzxid(t, z, "/brokers/topics/"+topic)
	if tz := readTopicZnode(t, z, topic); !slices.Equal(tz.AddingReplicas["0"], []int32{nb.ID}) {
		t.Fatalf("topic znode after --execute: %+v; want the move to broker %d under way", tz, nb.ID)
	}
	paths := []string{"/config/topics/" + topic}
	for _, id := range involved {
		paths = append(paths, fmt.Sprintf("/config/brokers/%d", id))
	}
	for _, p := range paths {
		if zx := mzxid(t, z, p); zx > moveZxid {
			t.Errorf("%s changed (zxid %d) after the move began (zxid %d): the throttle came after the move", p, zx, moveZxid)
		}
	}

	rates := growthRates(ctx, t, nb, topic, 8<<20, 16<<20, 3, moving)
	for i, r := range rates {
		t.Logf("span %d: the new replica grew at %.0f B/s (throttle %d B/s)", i, r, throttleRate)
		checkRate(t, fmt.Sprintf("span %d of the reassignment's", i), r)
	}

	// --verify, run periodically as the tool asks, until it reports the
	// move complete: brokers learn the new replica set from the
	// controller's UpdateMetadata a moment after ZooKeeper has it, so a
	// run in between reports the old replica set (as Kafka's does).
	done := fmt.Sprintf("Reassignment of partition %s-0 is completed.", topic)
	out = waitTool(t, func(out string) bool { return strings.Contains(out, done) }, tool("--verify", "--reassignment-json-file", plan)...)
	if !strings.Contains(out, "Clearing topic-level throttles on topic "+topic) {
		t.Errorf("--verify printed:\n%s\nwant the throttles cleared", out)
	}
	waitReassigned(ctx, t, adm, z, topic, map[int32][]int32{0: target})
	waitUntil(t, testTimeout, "--verify to clear every throttle", func() bool {
		if len(throttleConfigs(ctx, t, adm, topic)) > 0 {
			return false
		}
		for _, id := range involved {
			if len(brokerThrottles(ctx, t, adm, id)) > 0 {
				return false
			}
		}
		return true
	})
	waitUntil(t, time.Minute, fmt.Sprintf("broker %d to delete its replica", removed), func() bool {
		return !partitionDir(brokers[removed], topic, 0)
	})

	w.progress(50)
	w.stop()
	for _, id := range target[1:] {
		waitUntil(t, time.Minute, fmt.Sprintf("the new replica's log to equal broker %d's", id), func() bool {
			return slices.Equal(logBytes(t, nb, topic), logBytes(t, brokers[id], topic))
		})
	}
	checkBulk(ctx, t, seeds, topic)
	w.check(ctx, seeds)
}

// produceBulk writes the bulk records to partition 0 at acks=all, in 1 MiB
// uncompressed batches so that the bytes on disk are the bytes replicated.
func produceBulk(ctx context.Context, t *testing.T, seeds []string, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range bulkRecords {
		cl.Produce(ctx, &kgo.Record{Partition: 0, Value: bulkValue(i)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce bulk record %d: %v", i, err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

// checkBulk reads partition 0 from the start and fails the test unless
// the bulk records are its first records, each once and in order.
func checkBulk(ctx context.Context, t *testing.T, seeds []string, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.FetchMaxPartitionBytes(8<<20),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	for n < bulkRecords {
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		fs := cl.PollFetches(fctx)
		timedOut := fctx.Err() != nil
		cancel()
		if timedOut {
			t.Fatalf("read %d of %d bulk records", n, bulkRecords)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if n < bulkRecords && (r.Offset != int64(n) || string(r.Value) != string(bulkValue(n))) {
				t.Fatalf("record at offset %d (%.12q...) where bulk record %d belongs", r.Offset, r.Value, n)
			}
			n++
		})
	}
}

// logBytes is partition 0's log on a broker: its .log segments
// concatenated in offset order (segments may roll at different places on
// different replicas; the batches are the same).
func logBytes(t *testing.T, b *testcluster.Broker, topic string) []byte {
	t.Helper()
	logs := partitionLogs(t, b, topic, 0)
	var out []byte
	for _, name := range slices.Sorted(maps.Keys(logs)) {
		out = append(out, logs[name]...)
	}
	return out
}

// mzxid is the zxid of the last change to a znode.
func mzxid(t *testing.T, z *testcluster.ZKConn, path string) int64 {
	t.Helper()
	_, st, err := z.Conn.Get(z.Path(path))
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return st.Mzxid
}

// throttleConfigs returns the topic's throttled replica lists set on it.
func throttleConfigs(ctx context.Context, t *testing.T, adm *kadm.Client, topic string) map[string]string {
	t.Helper()
	rc, err := adm.DescribeTopicConfigs(ctx, topic)
	if err == nil {
		err = rc[0].Err
	}
	if err != nil {
		t.Fatalf("describe topic %s configs: %v", topic, err)
	}
	return dynamicThrottles(rc[0].Configs, "DYNAMIC_TOPIC_CONFIG")
}

// brokerThrottles returns the throttle rates set on one broker.
func brokerThrottles(ctx context.Context, t *testing.T, adm *kadm.Client, id int32) map[string]string {
	t.Helper()
	rc, err := adm.DescribeBrokerConfigs(ctx, id)
	if err == nil {
		err = rc[0].Err
	}
	if err != nil {
		t.Fatalf("describe broker %d configs: %v", id, err)
	}
	return dynamicThrottles(rc[0].Configs, "DYNAMIC_BROKER_CONFIG")
}

func dynamicThrottles(cs []kadm.Config, source string) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		if strings.Contains(c.Key, "replication.throttled") && c.Source.String() == source {
			out[c.Key] = c.MaybeValue()
		}
	}
	return out
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(int(id))
	}
	return strings.Join(s, ",")
}
