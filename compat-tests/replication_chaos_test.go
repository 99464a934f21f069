package compattests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// chaosRounds is how many kills TestReplicationSurvivesKills runs: a few in
// `make test`, more with CHAOS_ROUNDS set (`make chaos`).
func chaosRounds(t *testing.T) int {
	if v := os.Getenv("CHAOS_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CHAOS_ROUNDS=%q: want a positive number", v)
		}
		return n
	}
	return 3
}

// partitionState is /brokers/topics/<t>/partitions/<p>/state as a user
// reads it with zkCli.
type partitionState struct {
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	ISR         []int32 `json:"isr"`
}

func readState(t *testing.T, z *testcluster.ZKConn, topic string, p int32) (partitionState, bool) {
	t.Helper()
	data, err := z.Get(fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p))
	if err != nil {
		return partitionState{}, false
	}
	var st partitionState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state znode %q: %v", data, err)
	}
	return st, true
}

func readController(t *testing.T, z *testcluster.ZKConn) int32 {
	data, err := z.Get("/controller")
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

// waitUntil polls cond every 50ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicationSurvivesKills is the replication issue's first robustness
// test. Three real brokers, a topic with replication factor 3 and
// min.insync.replicas=2, and an idempotent acks=all producer writing
// numbered records without pause. Each round SIGKILLs a broker (the leader
// of partition 0, or the controller, alternately), waits until ZooKeeper
// shows a new leader, and restarts it. A consumer reads along the whole
// time. Afterwards every ISR must be whole again, and a fresh consumer must
// find every acknowledged record exactly once, at its acknowledged offset,
// in order; the consumer that read during the chaos must never have seen an
// offset go backwards.
func TestReplicationSurvivesKills(t *testing.T) {
	c := testcluster.New(t)
	byID, seeds := threeBrokers(t, c, map[string]string{
		"default.replication.factor": "3",
		"min.insync.replicas":        "2",
	})

	const topic, partitions = "chaos", 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	res, err := kadm.NewClient(adm).CreateTopics(ctx, partitions, 3, nil, topic)
	if err != nil || res[topic].Err != nil {
		t.Fatalf("create topic: %v %v", err, res[topic].Err)
	}
	z := c.ZKClient(t)
	whole := func() bool {
		for p := int32(0); p < partitions; p++ {
			st, ok := readState(t, z, topic, p)
			if !ok || st.Leader < 0 || len(st.ISR) != 3 {
				return false
			}
		}
		return true
	}
	waitUntil(t, time.Minute, "every ISR to have three members", whole)

	w := startWorkload(ctx, t, seeds, topic, partitions)
	w.progress(50)
	for round := 0; round < chaosRounds(t); round++ {
		var victim int32
		if round%2 == 0 {
			st, _ := readState(t, z, topic, 0)
			victim = st.Leader
		} else {
			victim = readController(t, z)
		}
		b, ok := byID[victim]
		if !ok {
			t.Fatalf("round %d: no broker %d to kill", round, victim)
		}
		before, _ := readState(t, z, topic, 0)
		t.Logf("round %d: SIGKILL broker %d (partition 0 leader %d epoch %d, controller %d)",
			round, victim, before.Leader, before.LeaderEpoch, readController(t, z))
		b.Kill()
		waitUntil(t, time.Minute, "partition 0 to move off the killed broker", func() bool {
			st, ok := readState(t, z, topic, 0)
			return ok && st.Leader != victim && st.Leader >= 0 && !slices.Contains(st.ISR, victim)
		})
		w.progress(20)
		rctx, rcancel := context.WithTimeout(ctx, testcluster.StartTimeout)
		if err := b.Start(rctx); err != nil {
			rcancel()
			t.Fatalf("round %d: restart broker %d: %v", round, victim, err)
		}
		rcancel()
		waitUntil(t, 2*time.Minute, "every ISR to be whole again", whole)
		w.progress(20)
	}
	w.stop()
	waitUntil(t, 2*time.Minute, "every ISR to be whole at the end", whole)
	w.check(ctx, seeds)
}

// wholeISRs returns a condition: every partition of topic has a leader and
// an ISR of n.
func wholeISRs(t *testing.T, z *testcluster.ZKConn, topic string, partitions int32, n int) func() bool {
	return func() bool {
		for p := int32(0); p < partitions; p++ {
			st, ok := readState(t, z, topic, p)
			if !ok || st.Leader < 0 || len(st.ISR) != n {
				return false
			}
		}
		return true
	}
}

// createReplicated creates topic with replication factor 3 through adm
// (the controller) and waits until ZooKeeper shows every partition with a
// leader and a full ISR, and every replica's Metadata answer has those
// leaders: CreateTopics answers once the assignment is in ZooKeeper, and
// UpdateMetadata reaches the other brokers a moment later, so a client
// that bootstraps from another broker with retries off could otherwise
// see UNKNOWN_TOPIC_OR_PARTITION (as on Kafka).
func createReplicated(ctx context.Context, t *testing.T, adm *kgo.Client, z *testcluster.ZKConn, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	res, err := kadm.NewClient(adm).CreateTopics(ctx, partitions, 3, configs, topic)
	if err != nil || res[topic].Err != nil {
		t.Fatalf("create topic %s: %v %v", topic, err, res[topic].Err)
	}
	waitUntil(t, time.Minute, topic+" to have full ISRs", wholeISRs(t, z, topic, partitions, 3))
	st, _ := readState(t, z, topic, 0)
	for _, id := range st.ISR {
		waitUntil(t, time.Minute, fmt.Sprintf("broker %d's metadata to lead every partition of %s", id, topic), func() bool {
			req := kmsg.NewPtrMetadataRequest()
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(topic)
			req.Topics = append(req.Topics, rt)
			resp, err := req.RequestWith(ctx, adm.Broker(int(id)))
			if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 || len(resp.Topics[0].Partitions) != int(partitions) {
				return false
			}
			for _, p := range resp.Topics[0].Partitions {
				if p.ErrorCode != 0 || p.Leader < 0 {
					return false
				}
			}
			return true
		})
	}
}

// partitionLogs returns the bytes of every .log segment of topic-partition
// in a broker's log dirs, by file name.
func partitionLogs(t *testing.T, b *testcluster.Broker, topic string, p int32) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, d := range b.LogDirs() {
		dir := filepath.Join(d, fmt.Sprintf("%s-%d", topic, p))
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if filepath.Ext(e.Name()) != ".log" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = data
		}
	}
	return out
}

// TestReplicationZombieLeader pauses the leader of a partition (SIGSTOP)
// past its ZooKeeper session while an idempotent acks=all producer writes:
// the controller elects another leader, the producer moves there, and when
// the old leader resumes (SIGCONT) it must not acknowledge anything the new
// leader lacks; it finds its session gone, registers again, truncates by
// leader epoch and rejoins the ISR as a follower. At the end every
// acknowledged record is there once, in order, and the three replicas'
// segment files are byte for byte the same.
func TestReplicationZombieLeader(t *testing.T) {
	c := testcluster.New(t)
	byID, seeds := threeBrokers(t, c, map[string]string{"min.insync.replicas": "2"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	const topic, partitions = "zombie", 1
	z := c.ZKClient(t)
	createReplicated(ctx, t, adm, z, topic, partitions, nil)
	w := startWorkload(ctx, t, seeds, topic, partitions)
	w.progress(100)

	st, _ := readState(t, z, topic, 0)
	zombie := byID[st.Leader]
	t.Logf("SIGSTOP broker %d, leader of %s-0 at epoch %d", zombie.ID, topic, st.LeaderEpoch)
	if err := zombie.Pause(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, time.Minute, "another leader", func() bool {
		now, ok := readState(t, z, topic, 0)
		return ok && now.Leader >= 0 && now.Leader != zombie.ID
	})
	w.progress(50)
	if err := zombie.Resume(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Minute, "the old leader back in the ISR", wholeISRs(t, z, topic, partitions, 3))
	w.progress(50)
	w.stop()
	w.check(ctx, seeds)
	if !strings.Contains(zombie.Log(), "zookeeper session lost") {
		t.Errorf("broker %d did not notice its session loss", zombie.ID)
	}

	// Every replica ends with the same bytes once the followers caught up.
	waitUntil(t, time.Minute, "identical segment files on every replica", func() bool {
		var first map[string][]byte
		for _, b := range byID {
			logs := partitionLogs(t, b, topic, 0)
			if first == nil {
				first = logs
				continue
			}
			if len(logs) != len(first) {
				return false
			}
			for name, data := range first {
				if !bytes.Equal(logs[name], data) {
					return false
				}
			}
		}
		return len(first) > 0
	})
}

// TestReplicationZooKeeperMemberDown runs three brokers against a
// three-member ZooKeeper ensemble and kills the ensemble's leader: the
// cluster keeps accepting writes, topics can still be created, a broker
// that is killed meanwhile still fails over, and the member rejoins.
func TestReplicationZooKeeperMemberDown(t *testing.T) {
	c := testcluster.NewWithEnsemble(t, 3)
	byID, seeds := threeBrokers(t, c, map[string]string{"min.insync.replicas": "2"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ka := kadm.NewClient(adm)
	const topic, partitions = "zk-down", 3
	z := c.ZKClient(t)
	createReplicated(ctx, t, adm, z, topic, partitions, nil)
	w := startWorkload(ctx, t, seeds, topic, partitions)
	w.progress(50)

	leader := c.Ensemble.Leader(ctx)
	if leader < 0 {
		t.Fatal("the ensemble has no leader")
	}
	t.Logf("killing ZooKeeper member %d (the ensemble's leader)", leader)
	if err := c.Ensemble.Kill(leader); err != nil {
		t.Fatal(err)
	}
	w.progress(100)
	if res, err := ka.CreateTopics(ctx, 1, 3, nil, "created-while-down"); err != nil || res["created-while-down"].Err != nil {
		t.Errorf("create a topic with a ZooKeeper member down: %v %v", err, res["created-while-down"].Err)
	}
	// A broker failure is still noticed and handled.
	st, _ := readState(t, z, topic, 0)
	victim := byID[st.Leader]
	victim.Kill()
	waitUntil(t, time.Minute, "partition 0 to fail over", func() bool {
		now, ok := readState(t, z, topic, 0)
		return ok && now.Leader >= 0 && now.Leader != victim.ID
	})
	w.progress(50)
	if err := c.Ensemble.Resume(ctx, leader); err != nil {
		t.Fatal(err)
	}
	startAgain(t, victim)
	waitUntil(t, 2*time.Minute, "full ISRs again", wholeISRs(t, z, topic, partitions, 3))
	w.progress(50)
	w.stop()
	w.check(ctx, seeds)
}
