package controller_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// reassignRequest builds AlterPartitionReassignments v0 for one topic; a
// nil replica list cancels.
func reassignRequest(topic string, parts map[int32][]int32) *kmsg.AlterPartitionAssignmentsRequest {
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
	rt.Topic = topic
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition = p
		rp.Replicas = parts[p]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// reassignErrors maps each partition of the answer to its error.
func reassignErrors(t *testing.T, resp *kmsg.AlterPartitionAssignmentsResponse) map[string]error {
	t.Helper()
	if resp.ErrorCode != 0 {
		t.Fatalf("AlterPartitionReassignments: top-level error %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	out := map[string]error{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out[fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)] = kerr.ErrorForCode(rp.ErrorCode)
		}
	}
	return out
}

// mustReassign sends a reassignment that must be accepted for every
// partition.
func (rc *runningController) mustReassign(t *testing.T, e *env, topic string, parts map[int32][]int32) {
	t.Helper()
	for p, err := range reassignErrors(t, rc.c.AlterPartitionReassignments(e.ctx, reassignRequest(topic, parts))) {
		if err != nil {
			t.Fatalf("reassign %s: %v", p, err)
		}
	}
}

// listReassignments lists every ongoing reassignment as
// "topic-p" -> {replicas, adding, removing}.
func (rc *runningController) listReassignments(t *testing.T, e *env) map[string][3][]int32 {
	t.Helper()
	req := kmsg.NewPtrListPartitionReassignmentsRequest()
	req.Topics = nil
	resp := rc.c.ListPartitionReassignments(e.ctx, req)
	if resp.ErrorCode != 0 {
		t.Fatalf("ListPartitionReassignments: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	out := map[string][3][]int32{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			out[fmt.Sprintf("%s-%d", rt.Topic, rp.Partition)] = [3][]int32{rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas}
		}
	}
	return out
}

// topicZnode reads a topic's assignment.
func (e *env) topicZnode(name string) zkmeta.TopicAssignment {
	e.t.Helper()
	a, err := e.admin.Topic(e.ctx, name)
	if err != nil {
		e.t.Fatalf("read topic %s: %v", name, err)
	}
	return a
}

// waitTopicZnode waits until partition p of the topic znode has replicas
// reps and the given adding and removing replicas (nil: none).
func (e *env) waitTopicZnode(name string, p int32, reps, adding, removing []int32) {
	e.t.Helper()
	var last zkmeta.TopicAssignment
	waitFor(e.t, fmt.Sprintf("%s-%d replicas %v adding %v removing %v in the topic znode", name, p, reps, adding, removing), func() bool {
		last = e.topicZnode(name)
		return slices.Equal(last.Partitions[p], reps) && slices.Equal(last.AddingReplicas[p], adding) && slices.Equal(last.RemovingReplicas[p], removing)
	})
}

// isrJoined sends the AlterPartition a leader sends when followers caught
// up: the partition's ISR becomes isr, at the current epochs.
func (rc *runningController) isrJoined(t *testing.T, e *env, bs map[int32]*fakeBroker, topic string, p int32, isr ...int32) {
	t.Helper()
	cur, _ := e.state(topic, p)
	a := alterPartition{version: 1, broker: cur.Leader, brokerEpoch: bs[cur.Leader].brokerEpoch(), topic: topic, partition: p,
		leaderEpoch: cur.LeaderEpoch, partitionEpoch: cur.ZkVersion, isr: isr}
	got := onlyPartition(t, rc.c.AlterPartition(e.ctx, a.request()))
	if got.ErrorCode != 0 {
		t.Fatalf("AlterPartition %s-%d isr %v: %v", topic, p, isr, kerr.ErrorForCode(got.ErrorCode))
	}
}

// A reassignment from [1 2 3] to [2 3 4] follows KIP-455: the topic znode
// lists target + original with adding [4] and removing [1], the leader
// epoch goes up and every replica (the new one too, as new) gets
// LeaderAndIsr with the full set; once 4 is in the ISR, leadership moves
// off 1 (not in the target) to 2, the ISR and the assignment shrink to
// the target, 1 deletes its replica and every broker learns the result.
func TestReassignMovesReplicas(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3, 4})
	e.createTopic("r", map[int32][]int32{0: {1, 2, 3}}, nil)
	before := e.waitLeader("r", 0, 1, 1, 2, 3)

	c.mustReassign(t, e, "r", map[int32][]int32{0: {2, 3, 4}})
	e.waitTopicZnode("r", 0, []int32{2, 3, 4, 1}, []int32{4}, []int32{1})
	during := e.waitState("r", 0, "a new leader epoch", func(s zkmeta.LeaderAndIsr) bool { return s.LeaderEpoch > before.LeaderEpoch })
	if during.Leader != 1 || !slices.Equal(during.ISR, []int32{1, 2, 3}) {
		t.Errorf("state while moving: %s; want leader 1 and isr [1 2 3] unchanged", fmtState(during))
	}
	for _, id := range []int32{1, 2, 3, 4} {
		l := bs[id].waitLeaderAndIsr(t, "r", 0, "the full replica set", func(l lisrPartition) bool {
			return l.state.LeaderEpoch == during.LeaderEpoch
		})
		if !slices.Equal(l.state.Replicas, []int32{2, 3, 4, 1}) || !slices.Equal(l.state.AddingReplicas, []int32{4}) ||
			!slices.Equal(l.state.RemovingReplicas, []int32{1}) || l.state.IsNew != (id == 4) {
			t.Errorf("broker %d got replicas %v adding %v removing %v is_new %v; want [2 3 4 1], [4], [1], %v",
				id, l.state.Replicas, l.state.AddingReplicas, l.state.RemovingReplicas, l.state.IsNew, id == 4)
		}
	}
	got := c.listReassignments(t, e)
	if want := [3][]int32{{2, 3, 4, 1}, {4}, {1}}; len(got) != 1 || fmt.Sprint(got["r-0"]) != fmt.Sprint(want) {
		t.Errorf("ListPartitionReassignments: %v; want r-0 %v", got, want)
	}

	// The new replica catches up; the leader adds it to the ISR.
	c.isrJoined(t, e, bs, "r", 0, 1, 2, 3, 4)
	after := e.waitLeader("r", 0, 2, 2, 3, 4)
	e.waitTopicZnode("r", 0, []int32{2, 3, 4}, nil, nil)
	if _, st, ok := bs[1].stopReplicaFor("r", 0); !ok || !st.Delete {
		waitFor(t, "broker 1 to get StopReplica with delete for r-0", func() bool {
			_, st, ok := bs[1].stopReplicaFor("r", 0)
			return ok && st.Delete
		})
	}
	for _, id := range []int32{2, 3, 4} {
		bs[id].waitLeaderAndIsr(t, "r", 0, "leader 2 and replicas [2 3 4]", func(l lisrPartition) bool {
			return l.state.Leader == 2 && slices.Equal(l.state.Replicas, []int32{2, 3, 4}) && l.state.LeaderEpoch == after.LeaderEpoch
		})
	}
	for _, id := range []int32{1, 2, 3, 4} {
		bs[id].waitUpdateMetadata(t, "r", 0, "replicas [2 3 4]", func(u umPartition) bool {
			return slices.Equal(u.state.Replicas, []int32{2, 3, 4}) && u.state.Leader == 2
		})
	}
	if got := c.listReassignments(t, e); len(got) != 0 {
		t.Errorf("ListPartitionReassignments after completion: %v; want none", got)
	}
	if _, st, _ := bs[1].stopReplicaFor("r", 0); st.LeaderEpoch < during.LeaderEpoch {
		t.Errorf("StopReplica carries leader epoch %d; want the partition's current one (at least %d)", st.LeaderEpoch, during.LeaderEpoch)
	}
	for _, id := range []int32{2, 3, 4} {
		if _, _, ok := bs[id].stopReplicaFor("r", 0); ok {
			t.Errorf("broker %d, a target replica, got StopReplica", id)
		}
	}
}

// Cancelling (a null replica list) reverts to the original replicas: the
// added broker's replica is stopped and deleted, the assignment is the
// original one again; a second cancel is NO_REASSIGNMENT_IN_PROGRESS.
func TestReassignCancel(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3, 4})
	e.createTopic("r", map[int32][]int32{0: {1, 2, 3}}, nil)
	e.waitLeader("r", 0, 1, 1, 2, 3)

	c.mustReassign(t, e, "r", map[int32][]int32{0: {1, 2, 4}})
	e.waitTopicZnode("r", 0, []int32{1, 2, 4, 3}, []int32{4}, []int32{3})
	bs[4].waitLeaderAndIsr(t, "r", 0, "the new replica", func(l lisrPartition) bool { return slices.Contains(l.state.Replicas, 4) })

	c.mustReassign(t, e, "r", map[int32][]int32{0: nil})
	e.waitTopicZnode("r", 0, []int32{1, 2, 3}, nil, nil)
	waitFor(t, "broker 4 to delete its replica of r-0", func() bool {
		_, st, ok := bs[4].stopReplicaFor("r", 0)
		return ok && st.Delete
	})
	s := e.waitLeader("r", 0, 1, 1, 2, 3)
	for _, id := range []int32{1, 2, 3} {
		bs[id].waitLeaderAndIsr(t, "r", 0, "replicas [1 2 3] again", func(l lisrPartition) bool {
			return slices.Equal(l.state.Replicas, []int32{1, 2, 3}) && l.state.LeaderEpoch == s.LeaderEpoch
		})
		if _, _, ok := bs[id].stopReplicaFor("r", 0); ok {
			t.Errorf("broker %d, an original replica, got StopReplica", id)
		}
	}
	if got := c.listReassignments(t, e); len(got) != 0 {
		t.Errorf("ListPartitionReassignments after cancel: %v; want none", got)
	}
	errs := reassignErrors(t, c.c.AlterPartitionReassignments(e.ctx, reassignRequest("r", map[int32][]int32{0: nil})))
	if errs["r-0"] != kerr.NoReassignmentInProgress {
		t.Errorf("second cancel: %v; want NO_REASSIGNMENT_IN_PROGRESS", errs["r-0"])
	}
}

// Kafka's per-partition errors for requests that cannot be carried out,
// and NOT_CONTROLLER from a broker that is not the controller. Nothing
// changes for refused partitions.
func TestReassignErrors(t *testing.T) {
	e := newEnv(t)
	c, _ := startCluster(t, e, []int32{1, 2, 3})
	e.createTopic("r", map[int32][]int32{0: {1, 2}}, nil)
	e.waitLeader("r", 0, 1, 1, 2)
	before := e.topicZnode("r")
	tests := []struct {
		name     string
		topic    string
		p        int32
		replicas []int32
		want     error
	}{
		{"empty replica list", "r", 0, []int32{}, kerr.InvalidReplicaAssignment},
		{"duplicate replicas", "r", 0, []int32{1, 2, 1}, kerr.InvalidReplicaAssignment},
		{"negative broker id", "r", 0, []int32{1, -1}, kerr.InvalidReplicaAssignment},
		{"broker not live", "r", 0, []int32{1, 9}, kerr.InvalidReplicaAssignment},
		{"unknown topic", "nope", 0, []int32{1, 2}, kerr.UnknownTopicOrPartition},
		{"unknown partition", "r", 7, []int32{1, 2}, kerr.UnknownTopicOrPartition},
		{"cancel without a reassignment", "r", 0, nil, kerr.NoReassignmentInProgress},
		{"cancel of an unknown partition", "nope", 3, nil, kerr.NoReassignmentInProgress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := c.c.AlterPartitionReassignments(e.ctx, reassignRequest(tc.topic, map[int32][]int32{tc.p: tc.replicas}))
			key := fmt.Sprintf("%s-%d", tc.topic, tc.p)
			if got := reassignErrors(t, resp)[key]; got != tc.want {
				t.Errorf("%s: %v; want %v", key, got, tc.want)
			}
			if msg := resp.Topics[0].Partitions[0].ErrorMessage; tc.want == kerr.InvalidReplicaAssignment && (msg == nil || *msg == "") {
				t.Errorf("INVALID_REPLICA_ASSIGNMENT without a message")
			}
		})
	}
	if after := e.topicZnode("r"); after.ZkVersion != before.ZkVersion {
		t.Errorf("refused reassignments rewrote the topic znode: %v", after.Partitions)
	}
	idle := controller.New(controller.Config{BrokerID: 7, ZK: e.admin})
	if resp := idle.AlterPartitionReassignments(e.ctx, reassignRequest("r", map[int32][]int32{0: {1, 3}})); kerr.ErrorForCode(resp.ErrorCode) != kerr.NotController {
		t.Errorf("AlterPartitionReassignments on a broker that is not the controller: %v; want NOT_CONTROLLER", kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp := idle.ListPartitionReassignments(e.ctx, kmsg.NewPtrListPartitionReassignmentsRequest()); kerr.ErrorForCode(resp.ErrorCode) != kerr.NotController {
		t.Errorf("ListPartitionReassignments on a broker that is not the controller: %v; want NOT_CONTROLLER", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// /admin/reassign_partitions, as Kafka 2.x's tool writes it: the listed
// partitions are reassigned, a partition that does not exist is taken out
// of the znode, and the znode is deleted once every partition is done.
func TestReassignZnode(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3})
	e.createTopic("z", map[int32][]int32{0: {1, 2}, 1: {2, 1}}, nil)
	e.waitLeader("z", 0, 1, 1, 2)
	e.waitLeader("z", 1, 2, 2, 1)
	if err := e.admin.CreatePartitionReassignments(e.ctx, []zkmeta.PartitionReassignment{
		{Topic: "z", Partition: 0, Replicas: []int32{3, 2}},
		{Topic: "z", Partition: 1, Replicas: []int32{2, 3}},
		{Topic: "gone", Partition: 0, Replicas: []int32{1}},
	}); err != nil {
		t.Fatal(err)
	}
	e.waitTopicZnode("z", 0, []int32{3, 2, 1}, []int32{3}, []int32{1})
	e.waitTopicZnode("z", 1, []int32{2, 3, 1}, []int32{3}, []int32{1})
	waitFor(t, "the partition that does not exist to leave the znode", func() bool {
		rs, err := e.admin.PartitionReassignments(e.ctx)
		return err == nil && len(rs) == 2 && !slices.ContainsFunc(rs, func(r zkmeta.PartitionReassignment) bool { return r.Topic == "gone" })
	})
	if err := e.admin.CreatePartitionReassignments(e.ctx, nil); err != zkmeta.ErrReassignmentInProgress {
		t.Errorf("a second znode while one is in progress: %v; want %v", err, zkmeta.ErrReassignmentInProgress)
	}

	c.isrJoined(t, e, bs, "z", 0, 1, 2, 3)
	e.waitLeader("z", 0, 3, 2, 3)
	e.waitTopicZnode("z", 0, []int32{3, 2}, nil, nil)
	waitFor(t, "z-0 to leave the znode", func() bool {
		rs, err := e.admin.PartitionReassignments(e.ctx)
		return err == nil && len(rs) == 1 && rs[0].Partition == 1
	})
	c.isrJoined(t, e, bs, "z", 1, 2, 1, 3)
	e.waitLeader("z", 1, 2, 2, 3)
	e.waitTopicZnode("z", 1, []int32{2, 3}, nil, nil)
	waitFor(t, "/admin/reassign_partitions to be deleted", func() bool { return !e.exists("/admin/reassign_partitions") })

	// A new znode afterwards is a new request.
	if err := e.admin.CreatePartitionReassignments(e.ctx, []zkmeta.PartitionReassignment{{Topic: "z", Partition: 0, Replicas: []int32{2, 3}}}); err != nil {
		t.Fatal(err)
	}
	// The same replicas in another order: nothing to copy, so it is done
	// at once (the leader stays: it is in the target).
	e.waitTopicZnode("z", 0, []int32{2, 3}, nil, nil)
	waitFor(t, "the second znode to be deleted", func() bool { return !e.exists("/admin/reassign_partitions") })
}

// A reassignment survives a controller failover: the next controller
// finds adding/removing replicas in the topic znode, sends the full
// replica set again at a new leader epoch, and completes the reassignment
// when the ISR catches up.
func TestReassignFailover(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3})
	e.createTopic("f", map[int32][]int32{0: {1, 2}}, nil)
	e.waitLeader("f", 0, 1, 1, 2)
	c.mustReassign(t, e, "f", map[int32][]int32{0: {2, 3}})
	e.waitTopicZnode("f", 0, []int32{2, 3, 1}, []int32{3}, []int32{1})
	moving := e.waitState("f", 0, "the reassignment's leader epoch", func(s zkmeta.LeaderAndIsr) bool { return s.LeaderEpoch >= 1 })
	c.stop()
	c.zk.Close()

	c2 := e.startController(101)
	c2.waitActive(t)
	resumed := e.waitState("f", 0, "a leader epoch bumped by the new controller", func(s zkmeta.LeaderAndIsr) bool {
		return s.LeaderEpoch > moving.LeaderEpoch
	})
	bs[3].waitLeaderAndIsr(t, "f", 0, "the resumed reassignment", func(l lisrPartition) bool {
		return l.state.LeaderEpoch == resumed.LeaderEpoch && slices.Equal(l.state.AddingReplicas, []int32{3})
	})
	if got := c2.listReassignments(t, e); fmt.Sprint(got["f-0"]) != fmt.Sprint([3][]int32{{2, 3, 1}, {3}, {1}}) {
		t.Errorf("the new controller lists %v; want f-0 [[2 3 1] [3] [1]]", got)
	}
	c2.isrJoined(t, e, bs, "f", 0, 1, 2, 3)
	e.waitLeader("f", 0, 2, 2, 3)
	e.waitTopicZnode("f", 0, []int32{2, 3}, nil, nil)
	waitFor(t, "broker 1 to delete its replica", func() bool {
		_, st, ok := bs[1].stopReplicaFor("f", 0)
		return ok && st.Delete
	})
}

// A topic marked for deletion while a partition is being reassigned is
// deleted once the reassignment is done (Kafka marks it ineligible until
// then); meanwhile a new reassignment of it is refused as for a topic that
// does not exist.
func TestReassignDelaysTopicDeletion(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2})
	e.createTopic("d", map[int32][]int32{0: {1}}, nil)
	e.waitLeader("d", 0, 1, 1)
	c.mustReassign(t, e, "d", map[int32][]int32{0: {2}})
	e.waitTopicZnode("d", 0, []int32{2, 1}, []int32{2}, []int32{1})
	if err := e.admin.MarkTopicForDeletion(e.ctx, "d"); err != nil {
		t.Fatal(err)
	}
	c.waitLog(t, "topic deletion waits for its partition reassignments")
	if !e.exists("/brokers/topics/d") {
		t.Fatalf("topic deleted while its partition was being reassigned")
	}
	errs := reassignErrors(t, c.c.AlterPartitionReassignments(e.ctx, reassignRequest("d", map[int32][]int32{0: {1, 2}})))
	if errs["d-0"] != kerr.UnknownTopicOrPartition {
		t.Errorf("reassigning a partition of a topic marked for deletion: %v; want UNKNOWN_TOPIC_OR_PARTITION", errs["d-0"])
	}
	c.isrJoined(t, e, bs, "d", 0, 1, 2)
	waitFor(t, "the topic to be deleted after the reassignment", func() bool { return !e.exists("/brokers/topics/d") })
}

// The latest request wins, whichever way it came (Kafka's
// processApiPartitionReassignment and processZkPartitionReassignment): an
// API reassignment takes its partition out of /admin/reassign_partitions,
// and a znode entry replaces an API reassignment, stopping the replicas
// the replaced one was adding.
func TestReassignLatestRequestWins(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3})
	e.createTopic("w", map[int32][]int32{0: {1, 2}, 1: {2, 1}}, nil)
	e.waitLeader("w", 0, 1, 1, 2)
	e.waitLeader("w", 1, 2, 2, 1)

	// The znode asks to move w-1; an API request for it replaces that.
	if err := e.admin.CreatePartitionReassignments(e.ctx, []zkmeta.PartitionReassignment{{Topic: "w", Partition: 1, Replicas: []int32{3, 1}}}); err != nil {
		t.Fatal(err)
	}
	e.waitTopicZnode("w", 1, []int32{3, 1, 2}, []int32{3}, []int32{2})
	c.mustReassign(t, e, "w", map[int32][]int32{1: {2, 3}})
	e.waitTopicZnode("w", 1, []int32{2, 3, 1}, []int32{3}, []int32{1})
	waitFor(t, "the znode to be deleted when its only partition was taken over", func() bool { return !e.exists("/admin/reassign_partitions") })

	// An API reassignment of w-0 adding 3; a znode entry replaces it
	// with a target already in sync, so it completes at once and 3's
	// replica is stopped.
	c.mustReassign(t, e, "w", map[int32][]int32{0: {1, 3}})
	e.waitTopicZnode("w", 0, []int32{1, 3, 2}, []int32{3}, []int32{2})
	if err := e.admin.CreatePartitionReassignments(e.ctx, []zkmeta.PartitionReassignment{{Topic: "w", Partition: 0, Replicas: []int32{2}}}); err != nil {
		t.Fatal(err)
	}
	e.waitTopicZnode("w", 0, []int32{2}, nil, nil)
	e.waitLeader("w", 0, 2, 2)
	for _, id := range []int32{1, 3} {
		waitFor(t, fmt.Sprintf("broker %d to delete its replica of w-0", id), func() bool {
			_, st, ok := bs[id].stopReplicaFor("w", 0)
			return ok && st.Delete
		})
	}
	waitFor(t, "the second znode to be deleted", func() bool { return !e.exists("/admin/reassign_partitions") })
	if got := c.listReassignments(t, e); fmt.Sprint(got) != fmt.Sprint(map[string][3][]int32{"w-1": {{2, 3, 1}, {3}, {1}}}) {
		t.Errorf("ListPartitionReassignments: %v; want only w-1", got)
	}
}

// A partition that never came online (its only replica's broker never
// registered) has no data to move: reassigning it writes the target
// assignment at once, and the partition comes online on it.
func TestReassignOfflinePartition(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2})
	e.createTopic("o", map[int32][]int32{0: {9}}, nil)
	c.waitLog(t, "new partition has no live replica")
	c.mustReassign(t, e, "o", map[int32][]int32{0: {1, 2}})
	e.waitTopicZnode("o", 0, []int32{1, 2}, nil, nil)
	e.waitLeader("o", 0, 1, 1, 2)
	bs[2].waitLeaderAndIsr(t, "o", 0, "leader 1", func(l lisrPartition) bool { return l.state.Leader == 1 })
	if got := c.listReassignments(t, e); len(got) != 0 {
		t.Errorf("ListPartitionReassignments: %v; want none", got)
	}
}
