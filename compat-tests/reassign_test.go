package compattests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// Partition reassignment end to end (issue 11): real brokers, a real
// ZooKeeper, and franz-go's kadm pinned to Kafka 3.9's request versions
// doing what kafka-reassign-partitions.sh --bootstrap-server does
// (AlterPartitionReassignments, ListPartitionReassignments), or a raw
// ZooKeeper client writing /admin/reassign_partitions as the 2.x tool's
// --zookeeper mode does.

// reassignAdmin is an admin client that speaks as Kafka 3.9's tools do,
// and its kgo client.
func reassignAdmin(t *testing.T, seeds []string) (*kadm.Client, *kgo.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl), cl
}

// reassign asks for the given assignments (a nil list cancels) and fails
// the test on any error.
func reassign(ctx context.Context, t *testing.T, adm *kadm.Client, topic string, parts map[int32][]int32) {
	t.Helper()
	req := kadm.AlterPartitionAssignmentsReq{}
	for p, reps := range parts {
		if reps == nil {
			req.CancelAssign(topic, p)
		} else {
			req.Assign(topic, p, reps)
		}
	}
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("AlterPartitionReassignments %s %v: %v", topic, parts, err)
	}
}

// topicZnode is /brokers/topics/<t> as zkCli shows it.
type topicZnode struct {
	Partitions       map[string][]int32 `json:"partitions"`
	AddingReplicas   map[string][]int32 `json:"adding_replicas"`
	RemovingReplicas map[string][]int32 `json:"removing_replicas"`
}

func readTopicZnode(t *testing.T, z *testcluster.ZKConn, topic string) topicZnode {
	t.Helper()
	data, err := z.Get("/brokers/topics/" + topic)
	if err != nil {
		t.Fatalf("read topic znode %s: %v", topic, err)
	}
	var v topicZnode
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("topic znode %s %q: %v", topic, data, err)
	}
	return v
}

// replicasOf reads every partition's replicas from the topic znode.
func replicasOf(t *testing.T, z *testcluster.ZKConn, topic string) map[int32][]int32 {
	t.Helper()
	out := map[int32][]int32{}
	for k, reps := range readTopicZnode(t, z, topic).Partitions {
		p, err := strconv.Atoi(k)
		if err != nil {
			t.Fatalf("topic znode %s: partition %q", topic, k)
		}
		out[int32(p)] = reps
	}
	return out
}

// waitReassigned waits until every partition in want has exactly those
// replicas in the topic znode with no reassignment left there or in
// ListPartitionReassignments, and every replica in the ISR.
func waitReassigned(ctx context.Context, t *testing.T, adm *kadm.Client, z *testcluster.ZKConn, topic string, want map[int32][]int32) {
	t.Helper()
	waitUntil(t, 3*time.Minute, fmt.Sprintf("%s reassigned to %v", topic, want), func() bool {
		tz := readTopicZnode(t, z, topic)
		for p, reps := range want {
			k := strconv.Itoa(int(p))
			if !slices.Equal(tz.Partitions[k], reps) || len(tz.AddingReplicas[k]) > 0 || len(tz.RemovingReplicas[k]) > 0 {
				return false
			}
			st, ok := readState(t, z, topic, p)
			if !ok || st.Leader < 0 || !sameSet(st.ISR, reps) {
				return false
			}
		}
		set := kadm.TopicsSet{topic: {}}
		for p := range want {
			set[topic][p] = struct{}{}
		}
		ls, err := adm.ListPartitionReassignments(ctx, set)
		if err != nil {
			return false
		}
		ongoing := false
		ls.Each(func(kadm.ListPartitionReassignmentsResponse) { ongoing = true })
		return !ongoing
	})
}

func sameSet(a, b []int32) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// partitionDir reports whether a broker has a directory for topic-p in any
// of its log dirs.
func partitionDir(b *testcluster.Broker, topic string, p int32) bool {
	for _, d := range b.LogDirs() {
		if _, err := os.Stat(filepath.Join(d, fmt.Sprintf("%s-%d", topic, p))); err == nil {
			return true
		}
	}
	return false
}

// fourBrokerOverrides are threeBrokers' settings, for a broker started
// later.
var reassignOverrides = map[string]string{
	"replica.lag.time.max.ms":   "4000",
	"replica.fetch.wait.max.ms": "100",
	"min.insync.replicas":       "2",
}

// Grow a three-broker cluster to four and move half the partitions of a
// topic onto the new broker, each move replacing the partition's first
// replica (its leader), while an idempotent acks=all producer writes
// without pause: the producer never gives up (only retriable errors), every
// acknowledged record is read back once and in order, the new broker holds
// the moved partitions and the old brokers' copies are deleted from disk.
func TestReassignGrowCluster(t *testing.T) {
	c := testcluster.New(t)
	brokers, seeds := threeBrokers(t, c, reassignOverrides)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	z := c.ZKClient(t)
	adm, cl := reassignAdmin(t, seeds)

	const topic, partitions = "grow", 6
	createReplicated(ctx, t, cl, z, topic, partitions, nil)
	w := startWorkload(ctx, t, seeds, topic, partitions)
	w.progress(300)

	nb := c.StartBroker(t, reassignOverrides)
	brokers[nb.ID] = nb
	waitInMetadata(ctx, t, cl, nb.ID)

	before := replicasOf(t, z, topic)
	target := map[int32][]int32{}
	removed := map[int32]int32{}
	for p := int32(0); p < partitions; p += 2 {
		reps := slices.Clone(before[p])
		removed[p] = reps[0]
		reps[0] = nb.ID
		target[p] = reps
	}
	reassign(ctx, t, adm, topic, target)
	waitReassigned(ctx, t, adm, z, topic, target)
	w.progress(300)

	for p, old := range removed {
		if !partitionDir(nb, topic, p) {
			t.Errorf("new broker %d has no directory for %s-%d", nb.ID, topic, p)
		}
		waitUntil(t, time.Minute, fmt.Sprintf("broker %d to delete %s-%d", old, topic, p), func() bool {
			return !partitionDir(brokers[old], topic, p)
		})
		st, _ := readState(t, z, topic, p)
		if !slices.Contains(target[p], st.Leader) {
			t.Errorf("%s-%d is led by %d, not one of its replicas %v", topic, p, st.Leader, target[p])
		}
	}
	for p := int32(1); p < partitions; p += 2 {
		if got := replicasOf(t, z, topic)[p]; !slices.Equal(got, before[p]) {
			t.Errorf("%s-%d, not reassigned, now has replicas %v; had %v", topic, p, got, before[p])
		}
	}
	w.stop()
	w.check(ctx, seeds)
}

// waitInMetadata waits until Metadata lists broker id, as a tool would
// see a broker just started.
func waitInMetadata(ctx context.Context, t *testing.T, cl *kgo.Client, id int32) {
	t.Helper()
	waitUntil(t, time.Minute, fmt.Sprintf("broker %d in Metadata", id), func() bool {
		// A direct request: kadm's BrokerMetadata answers from kgo's
		// metadata cache.
		m, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
		return err == nil && slices.ContainsFunc(m.Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == id })
	})
}

// Take a broker out of every assignment, then stop it: no partition goes
// offline (each has a leader among its replicas) and consumers read every
// acknowledged record.
func TestReassignDecommissionBroker(t *testing.T) {
	c := testcluster.New(t)
	var seeds []string
	brokers := map[int32]*testcluster.Broker{}
	for _, b := range c.StartBrokers(t, 4, reassignOverrides) {
		brokers[b.ID] = b
		seeds = append(seeds, b.Addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	z := c.ZKClient(t)
	adm, cl := reassignAdmin(t, seeds)

	const topic, partitions = "decom", 4
	createReplicated(ctx, t, cl, z, topic, partitions, nil)
	w := startWorkload(ctx, t, seeds, topic, partitions)
	w.progress(200)

	// The broker to take out: the controller, the hardest case (it runs
	// the reassignment it is removed by, and its stop moves the
	// controller).
	gone := readController(t, z)
	ids := make([]int32, 0, len(brokers))
	for id := range brokers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	target := map[int32][]int32{}
	for p, reps := range replicasOf(t, z, topic) {
		i := slices.Index(reps, gone)
		if i < 0 {
			continue
		}
		next := slices.Clone(reps)
		for _, id := range ids {
			if !slices.Contains(reps, id) {
				next[i] = id
				break
			}
		}
		target[p] = next
	}
	if len(target) == 0 {
		t.Fatalf("broker %d is in no assignment of %s: %v", gone, topic, replicasOf(t, z, topic))
	}
	reassign(ctx, t, adm, topic, target)
	waitReassigned(ctx, t, adm, z, topic, target)
	for p := range target {
		waitUntil(t, time.Minute, fmt.Sprintf("broker %d to delete %s-%d", gone, topic, p), func() bool {
			return !partitionDir(brokers[gone], topic, p)
		})
	}

	if code := brokers[gone].Stop(); code != 0 {
		t.Errorf("broker %d exited with status %d", gone, code)
	}
	w.progress(200)
	for p := int32(0); p < partitions; p++ {
		st, ok := readState(t, z, topic, p)
		reps := replicasOf(t, z, topic)[p]
		if !ok || st.Leader < 0 || !slices.Contains(reps, st.Leader) || slices.Contains(reps, gone) {
			t.Errorf("%s-%d after broker %d stopped: state %+v replicas %v; want a leader among replicas without %d", topic, p, gone, st, reps, gone)
		}
	}
	var live []string
	for id, b := range brokers {
		if id != gone {
			live = append(live, b.Addr())
		}
	}
	w.stop()
	w.check(ctx, live)
}

// pickBrokers returns the controller and the other brokers, sorted.
func pickBrokers(t *testing.T, z *testcluster.ZKConn, brokers map[int32]*testcluster.Broker) (int32, []int32) {
	t.Helper()
	var ctrl int32 = -1
	waitUntil(t, time.Minute, "a controller", func() bool { ctrl = readController(t, z); return ctrl >= 0 })
	var others []int32
	for id := range brokers {
		if id != ctrl {
			others = append(others, id)
		}
	}
	slices.Sort(others)
	return ctrl, others
}

// smallCluster is three brokers with a one-partition topic holding
// numbered records, for the tests that move that one partition.
type smallCluster struct {
	ctx     context.Context
	brokers map[int32]*testcluster.Broker
	seeds   []string
	z       *testcluster.ZKConn
	adm     *kadm.Client
	ctrl    int32
	others  []int32 // the brokers that are not the controller, sorted
}

// newSmallCluster starts three brokers and creates topic on the replicas
// pick chooses (from the controller and the two others), with
// values(prefix, n) written at acks=all.
func newSmallCluster(t *testing.T, topic string, pick func(ctrl int32, others []int32) []int32, prefix string, n int) *smallCluster {
	t.Helper()
	c := testcluster.New(t)
	sc := &smallCluster{z: c.ZKClient(t)}
	sc.brokers, sc.seeds = threeBrokers(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	sc.ctx = ctx
	var cl *kgo.Client
	sc.adm, cl = reassignAdmin(t, sc.seeds)
	sc.ctrl, sc.others = pickBrokers(t, sc.z, sc.brokers)
	createAssigned(ctx, t, cl, topic, pick(sc.ctrl, sc.others), nil)
	if err := produceValues(ctx, t, sc.seeds, topic, kgo.AllISRAcks(), values(prefix, n)...); err != nil {
		t.Fatal(err)
	}
	return sc
}

// A reassignment that cannot finish (its new replica's broker is paused,
// SIGSTOP) is cancelled: the assignment is the original one again, the
// new broker deletes the replica it had started once it runs again, and
// no record is lost.
func TestReassignCancel(t *testing.T) {
	const topic = "cancel"
	sc := newSmallCluster(t, topic, func(ctrl int32, others []int32) []int32 { return []int32{ctrl, others[0]} }, "before", 50)
	ctx, brokers, seeds, z, adm, ctrl, others := sc.ctx, sc.brokers, sc.seeds, sc.z, sc.adm, sc.ctrl, sc.others
	from, to := []int32{ctrl, others[0]}, []int32{ctrl, others[1]}
	if err := brokers[others[1]].Pause(); err != nil {
		t.Fatal(err)
	}
	reassign(ctx, t, adm, topic, map[int32][]int32{0: to})
	tz := readTopicZnode(t, z, topic)
	if !slices.Equal(tz.Partitions["0"], []int32{ctrl, others[1], others[0]}) || !slices.Equal(tz.AddingReplicas["0"], []int32{others[1]}) ||
		!slices.Equal(tz.RemovingReplicas["0"], []int32{others[0]}) {
		t.Errorf("topic znode while moving: %+v; want replicas [%d %d %d] adding [%d] removing [%d]", tz, ctrl, others[1], others[0], others[1], others[0])
	}
	ls, err := adm.ListPartitionReassignments(ctx, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := ls[topic][0]; !ok || !slices.Equal(r.AddingReplicas, []int32{others[1]}) || !slices.Equal(r.RemovingReplicas, []int32{others[0]}) {
		t.Errorf("ListPartitionReassignments while moving: %+v; want adding [%d] removing [%d]", ls, others[1], others[0])
	}

	reassign(ctx, t, adm, topic, map[int32][]int32{0: nil})
	tz = readTopicZnode(t, z, topic)
	if !slices.Equal(tz.Partitions["0"], from) || len(tz.AddingReplicas) > 0 || len(tz.RemovingReplicas) > 0 {
		t.Errorf("topic znode after cancel: %+v; want replicas %v and no reassignment", tz, from)
	}
	if err := brokers[others[1]].Resume(); err != nil {
		t.Fatal(err)
	}
	waitReassigned(ctx, t, adm, z, topic, map[int32][]int32{0: from})
	waitUntil(t, time.Minute, fmt.Sprintf("broker %d to delete the replica the cancelled reassignment started", others[1]), func() bool {
		return !partitionDir(brokers[others[1]], topic, 0)
	})
	if err := produceValues(ctx, t, seeds, topic, kgo.AllISRAcks(), values("after", 50)...); err != nil {
		t.Fatal(err)
	}
	if got, want := readAll(ctx, t, seeds, topic), append(values("before", 50), values("after", 50)...); !slices.Equal(got, want) {
		t.Errorf("read %d records after the cancel; want the %d written, in order", len(got), len(want))
	}
}

// The controller is SIGKILLed in the middle of a reassignment (its new
// replica's broker paused, so it cannot finish): the next controller finds
// the reassignment in the topic znode and completes it once the new
// replica catches up.
func TestReassignControllerKilled(t *testing.T) {
	const topic = "failover"
	sc := newSmallCluster(t, topic, func(_ int32, others []int32) []int32 { return others[:1] }, "v", 200)
	ctx, brokers, z, adm, ctrl, others := sc.ctx, sc.brokers, sc.z, sc.adm, sc.ctrl, sc.others
	if err := brokers[others[1]].Pause(); err != nil {
		t.Fatal(err)
	}
	reassign(ctx, t, adm, topic, map[int32][]int32{0: {others[1]}})
	if tz := readTopicZnode(t, z, topic); !slices.Equal(tz.AddingReplicas["0"], []int32{others[1]}) {
		t.Fatalf("topic znode after the request: %+v; want adding [%d]", tz, others[1])
	}
	brokers[ctrl].Kill()
	waitUntil(t, time.Minute, "another controller", func() bool {
		id := readController(t, z)
		return id >= 0 && id != ctrl
	})
	if err := brokers[others[1]].Resume(); err != nil {
		t.Fatal(err)
	}
	live := []string{brokers[others[0]].Addr(), brokers[others[1]].Addr()}
	adm2, _ := reassignAdmin(t, live)
	waitReassigned(ctx, t, adm2, z, topic, map[int32][]int32{0: {others[1]}})
	waitUntil(t, time.Minute, fmt.Sprintf("broker %d to delete its old replica", others[0]), func() bool {
		return !partitionDir(brokers[others[0]], topic, 0)
	})
	if got := readAll(ctx, t, live, topic); !slices.Equal(got, values("v", 200)) {
		t.Errorf("read %d records from the new replica; want the 200 written", len(got))
	}
}

// /admin/reassign_partitions written as Kafka 2.x's
// kafka-reassign-partitions.sh --zookeeper --execute writes it is carried
// out, and the znode is deleted when every partition in it is done.
func TestReassignZnodePath(t *testing.T) {
	const topic = "zkpath"
	sc := newSmallCluster(t, topic, func(_ int32, others []int32) []int32 { return others[:1] }, "v", 100)
	ctx, brokers, z, adm, others := sc.ctx, sc.brokers, sc.z, sc.adm, sc.others
	data := fmt.Sprintf(`{"version":1,"partitions":[{"topic":%q,"partition":0,"replicas":[%d,%d]}]}`, topic, others[1], others[0])
	if _, err := z.Conn.Create(z.Path("/admin/reassign_partitions"), []byte(data), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create /admin/reassign_partitions: %v", err)
	}
	waitReassigned(ctx, t, adm, z, topic, map[int32][]int32{0: {others[1], others[0]}})
	waitUntil(t, time.Minute, "/admin/reassign_partitions to be deleted", func() bool {
		ok, err := z.Exists("/admin/reassign_partitions")
		return err == nil && !ok
	})
	if !partitionDir(brokers[others[1]], topic, 0) {
		t.Errorf("broker %d has no directory for %s-0", others[1], topic)
	}
	if got := readAll(ctx, t, []string{brokers[others[1]].Addr()}, topic); !slices.Equal(got, values("v", 100)) {
		t.Errorf("read %d records; want the 100 written", len(got))
	}
}
