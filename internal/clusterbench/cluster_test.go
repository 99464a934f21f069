package clusterbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// waitTimeout bounds every wait for the cluster to reach a state (a topic's
// leader, a whole ISR, a deleted topic). It is generous: reaching the state
// is required, its speed is what the benchmarks measure separately.
const waitTimeout = 2 * time.Minute

// pollInterval is how often a wait re-reads ZooKeeper or the client's
// progress. Failover and catch-up times are read from these polls, so it
// bounds their resolution.
const pollInterval = 5 * time.Millisecond

// benchCluster is three gokafka brokers in one testcluster.Cluster, an admin
// client seeded with all of them and a ZooKeeper client in their chroot.
type benchCluster struct {
	c       *testcluster.Cluster
	brokers []*testcluster.Broker
	byID    map[int32]*testcluster.Broker
	seeds   []string
	admin   *kgo.Client
	zk      *testcluster.ZKConn
}

// startCluster starts three brokers with Kafka's defaults (testcluster sets
// zookeeper.session.timeout.ms=6000) plus BENCH_CLUSTER_BROKER_PROPS
// ("key=value ..." for every broker, for experiments), all at once, and
// waits until each serves and one of them is the controller.
func startCluster(b *testing.B) *benchCluster {
	b.Helper()
	overrides := map[string]string{}
	for _, kv := range strings.Fields(os.Getenv("BENCH_CLUSTER_BROKER_PROPS")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			b.Fatalf("BENCH_CLUSTER_BROKER_PROPS: %q is not key=value", kv)
		}
		overrides[k] = v
	}
	// A benchmark that fails adds no figures; the section says so instead
	// of leaving its rows out silently.
	b.Cleanup(func() {
		if b.Failed() {
			report.addBench(benchLog{name: b.Name() + " FAILED (its figures are missing; the go test output says why)"})
		}
	})
	bc := &benchCluster{c: testcluster.New(b), byID: map[int32]*testcluster.Broker{}}
	for range 3 {
		br := bc.c.NewBroker(b, overrides)
		bc.brokers = append(bc.brokers, br)
		bc.byID[br.ID] = br
		bc.seeds = append(bc.seeds, br.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), testcluster.StartTimeout)
	defer cancel()
	errs := make([]error, len(bc.brokers))
	var wg sync.WaitGroup
	for i, br := range bc.brokers {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = br.Start(ctx) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	admin, err := kgo.NewClient(kgo.SeedBrokers(bc.seeds...), kgo.ClientID("clusterbench-admin"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(admin.Close)
	bc.admin = admin
	bc.zk = bc.c.ZKClient(b)
	bc.waitFor(b, "a controller", func() (bool, error) { return bc.controller() >= 0, nil })
	return bc
}

// partitionState is /brokers/topics/<t>/partitions/<p>/state as zkCli shows
// it: the controller's word on leader and ISR.
type partitionState struct {
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	ISR         []int32 `json:"isr"`
}

// state reads partition p's state znode.
func (bc *benchCluster) state(topic string, p int32) (partitionState, error) {
	data, err := bc.zk.Get(fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p))
	if err != nil {
		return partitionState{}, err
	}
	var st partitionState
	if err := json.Unmarshal(data, &st); err != nil {
		return partitionState{}, fmt.Errorf("state znode %q: %w", data, err)
	}
	return st, nil
}

// controller returns the broker id in /controller, or -1.
func (bc *benchCluster) controller() int32 {
	data, err := bc.zk.Get("/controller")
	if err != nil {
		return -1
	}
	var v struct {
		BrokerID int32 `json:"brokerid"`
	}
	if json.Unmarshal(data, &v) != nil {
		return -1
	}
	return v.BrokerID
}

// layout returns the controller and the other two brokers' ids. The
// benchmarks lead their partitions from a broker that is not the
// controller, so that killing the leader measures a partition's failover
// and not a controller election as well.
func (bc *benchCluster) layout(b *testing.B) (ctrl int32, others []int32) {
	b.Helper()
	ctrl = bc.controller()
	for _, br := range bc.brokers {
		if br.ID != ctrl {
			others = append(others, br.ID)
		}
	}
	if ctrl < 0 || len(others) != 2 {
		b.Fatalf("controller %d, other brokers %v: want a controller among three brokers", ctrl, others)
	}
	return ctrl, others
}

// waitFor polls cond until it holds, failing the benchmark after
// waitTimeout with the last error.
func (bc *benchCluster) waitFor(b *testing.B, what string, cond func() (bool, error)) {
	b.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			b.Fatalf("no %s after %s (last error: %v)", what, waitTimeout, last)
		}
		time.Sleep(pollInterval)
	}
}

// rf3Configs are the configs of every replicated topic: issue 8's
// min.insync.replicas=2, so acks=all needs the leader and one follower.
var rf3Configs = map[string]string{"min.insync.replicas": "2"}

// createTopic creates a one-partition topic with the given replica
// assignment (its first broker is the preferred leader) and configs, waits
// until the state znode shows that leader with every replica in the ISR,
// and produces one acks=all record, so that a measured run starts on a
// partition that already serves.
func (bc *benchCluster) createTopic(b *testing.B, topic string, replicas []int32, configs map[string]string) {
	b.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic = topic
	rt.NumPartitions = -1
	rt.ReplicationFactor = -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition = 0
	ra.Replicas = replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name = k
		c.Value = kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, bc.admin)
	if err != nil {
		b.Fatalf("create topic %s: %v", topic, err)
	}
	if len(resp.Topics) != 1 {
		b.Fatalf("create topic %s: %d topics in the response", topic, len(resp.Topics))
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		b.Fatalf("create topic %s on %v: %v", topic, replicas, err)
	}
	bc.waitFor(b, fmt.Sprintf("leader %d and a full ISR for %s", replicas[0], topic), func() (bool, error) {
		st, err := bc.state(topic, 0)
		return err == nil && st.Leader == replicas[0] && len(st.ISR) == len(replicas), err
	})
	// The state znode is written before the controller's LeaderAndIsr
	// reaches the leader; until it does, the leader answers
	// UNKNOWN_TOPIC_OR_PARTITION, which franz-go gives up on after a few
	// tries. So the first record is retried until it is acknowledged.
	bc.waitFor(b, fmt.Sprintf("a first acknowledged record in %s", topic), func() (bool, error) {
		pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
		defer pcancel()
		r := &kgo.Record{Topic: topic, Value: make([]byte, recordSize)}
		err := bc.admin.ProduceSync(pctx, r).FirstErr()
		return err == nil, err
	})
}

// deleteTopic deletes a topic and waits until the controller has finished
// (its znodes are gone), so that the files' removal does not overlap the
// next run.
func (bc *benchCluster) deleteTopic(b *testing.B, topic string) {
	b.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	req.TopicNames = []string{topic}
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	resp, err := req.RequestWith(ctx, bc.admin)
	if err != nil {
		b.Fatalf("delete topic %s: %v", topic, err)
	}
	for _, t := range resp.Topics {
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			b.Fatalf("delete topic %s: %v", topic, err)
		}
	}
	bc.waitFor(b, fmt.Sprintf("deletion of %s", topic), func() (bool, error) {
		exists, err := bc.zk.Exists("/brokers/topics/" + topic)
		if err != nil {
			return false, err
		}
		pending, err := bc.zk.Exists("/admin/delete_topics/" + topic)
		if err != nil {
			return false, err
		}
		return !exists && !pending, nil
	})
}

// waitISR waits until the partition's ISR holds exactly the given brokers
// (in any order).
func (bc *benchCluster) waitISR(b *testing.B, topic string, want []int32) {
	b.Helper()
	want = slices.Sorted(slices.Values(want))
	bc.waitFor(b, fmt.Sprintf("ISR %v for %s", want, topic), func() (bool, error) {
		st, err := bc.state(topic, 0)
		if err != nil {
			return false, err
		}
		got := slices.Sorted(slices.Values(st.ISR))
		return st.Leader >= 0 && slices.Equal(got, want), nil
	})
}
