package controller_test

import (
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
)

// elect runs one ElectLeaders election for topic-p on controller rc.
func elect(t *testing.T, e *env, rc *runningController, typ controller.ElectionType, topic string, p int32) controller.ElectionResult {
	t.Helper()
	pn := zkmeta.PartitionName{Topic: topic, Partition: p}
	res := rc.c.ElectLeaders(e.ctx, typ, []zkmeta.PartitionName{pn})
	r, ok := res[pn]
	if !ok || len(res) != 1 {
		t.Fatalf("ElectLeaders %s %s-%d answered %v, want exactly that partition", typ, topic, p, res)
	}
	return r
}

// wantCode fails the test unless r carries the error code want.
func wantCode(t *testing.T, what string, r controller.ElectionResult, want *kerr.Error) {
	t.Helper()
	code := int16(0)
	if want != nil {
		code = want.Code
	}
	if r.ErrorCode != code {
		t.Fatalf("%s: error %v (%q), want %v", what, kerr.ErrorForCode(r.ErrorCode), r.Message, want)
	}
}

// expandISR makes the leader of topic-p add members to its ISR with
// AlterPartition, as a leader does once a follower caught up.
func expandISR(t *testing.T, e *env, rc *runningController, bs map[int32]*fakeBroker, topic string, p int32, isr ...int32) zkmeta.LeaderAndIsr {
	t.Helper()
	s, _ := e.state(topic, p)
	a := alterPartition{version: 1, broker: s.Leader, brokerEpoch: bs[s.Leader].brokerEpoch(), topic: topic, partition: p,
		leaderEpoch: s.LeaderEpoch, partitionEpoch: s.ZkVersion, isr: isr}
	if r := onlyPartition(t, rc.c.AlterPartition(e.ctx, a.request())); r.ErrorCode != 0 {
		t.Fatalf("AlterPartition %s-%d to ISR %v: %v", topic, p, isr, kerr.ErrorForCode(r.ErrorCode))
	}
	return e.waitLeader(topic, p, s.Leader, isr...)
}

// clusterWithTopic starts brokers 1, 2 and 3 and the controller (tune
// applied to its config), creates topic t with the assignment parts and
// waits until each partition is led by its first replica with the full
// ISR.
func clusterWithTopic(t *testing.T, e *env, parts map[int32][]int32, tune ...func(*controller.Config)) (*runningController, map[int32]*fakeBroker) {
	t.Helper()
	c, bs := startCluster(t, e, []int32{1, 2, 3}, tune...)
	e.createTopic("t", parts, nil)
	for p, reps := range parts {
		e.waitLeader("t", p, reps[0], reps...)
	}
	return c, bs
}

// A PREFERRED election after a bounce: refused while the preferred
// replica is out of the ISR, then moves leadership back to it with a new
// leader epoch (the ISR unchanged) and tells the brokers; a partition led
// by its preferred replica needs none, and unknown partitions are
// UNKNOWN_TOPIC_OR_PARTITION.
func TestElectLeadersPreferred(t *testing.T) {
	e := newEnv(t)
	c, bs := clusterWithTopic(t, e, map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}})

	bs[1].restart()
	e.waitLeader("t", 0, 2, 2, 3)
	e.waitLeader("t", 1, 2, 2, 3)
	wantCode(t, "preferred replica out of the ISR", elect(t, e, c, controller.ElectPreferred, "t", 0), kerr.PreferredLeaderNotAvailable)

	before := expandISR(t, e, c, bs, "t", 0, 2, 3, 1)
	r := elect(t, e, c, controller.ElectPreferred, "t", 0)
	wantCode(t, "preferred election", r, nil)
	if r.Leader != 1 {
		t.Fatalf("preferred election elected %d, want 1", r.Leader)
	}
	after, _ := e.state("t", 0)
	if after.Leader != 1 || !slices.Equal(after.ISR, []int32{2, 3, 1}) || after.LeaderEpoch != before.LeaderEpoch+1 || after.ControllerEpoch != c.c.Epoch() {
		t.Fatalf("state after the election %s, want leader 1, ISR [2 3 1], leader epoch %d, controller epoch %d", fmtState(after), before.LeaderEpoch+1, c.c.Epoch())
	}
	for _, id := range []int32{1, 2, 3} {
		bs[id].waitLeaderAndIsr(t, "t", 0, "leader 1 at the new epoch", func(p lisrPartition) bool {
			return p.state.Leader == 1 && p.state.LeaderEpoch == after.LeaderEpoch
		})
		bs[id].waitUpdateMetadata(t, "t", 0, "leader 1", func(p umPartition) bool { return p.state.Leader == 1 })
	}

	wantCode(t, "already led by its preferred replica", elect(t, e, c, controller.ElectPreferred, "t", 1), kerr.ElectionNotNeeded)
	wantCode(t, "unknown partition", elect(t, e, c, controller.ElectPreferred, "t", 7), kerr.UnknownTopicOrPartition)
	wantCode(t, "unknown topic", elect(t, e, c, controller.ElectUnclean, "nope", 0), kerr.UnknownTopicOrPartition)
}

// An UNCLEAN election is not needed while the leader is live; once the
// whole ISR is dead it takes a live replica outside it (the ISR reset to
// it), and with no live replica at all it is
// ELIGIBLE_LEADERS_NOT_AVAILABLE. Topics being deleted are
// INVALID_TOPIC_EXCEPTION.
func TestElectLeadersUnclean(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3})
	e.createTopic("u", map[int32][]int32{0: {1, 2}, 1: {3}}, nil)
	e.waitLeader("u", 0, 1, 1, 2)
	e.waitLeader("u", 1, 3, 3)
	expandISR(t, e, c, bs, "u", 0, 1)
	wantCode(t, "unclean with a live leader", elect(t, e, c, controller.ElectUnclean, "u", 0), kerr.ElectionNotNeeded)

	bs[1].kill()
	before := e.waitLeader("u", 0, -1, 1)
	wantCode(t, "preferred with its replica dead", elect(t, e, c, controller.ElectPreferred, "u", 0), kerr.PreferredLeaderNotAvailable)
	r := elect(t, e, c, controller.ElectUnclean, "u", 0)
	wantCode(t, "unclean election", r, nil)
	if r.Leader != 2 {
		t.Fatalf("unclean election elected %d, want 2", r.Leader)
	}
	if after := e.waitLeader("u", 0, 2, 2); after.LeaderEpoch != before.LeaderEpoch+1 {
		t.Fatalf("leader epoch %d after the unclean election, want %d", after.LeaderEpoch, before.LeaderEpoch+1)
	}
	bs[2].waitLeaderAndIsr(t, "u", 0, "leader 2", func(p lisrPartition) bool { return p.state.Leader == 2 })

	bs[3].kill()
	e.waitLeader("u", 1, -1, 3)
	wantCode(t, "unclean with no live replica", elect(t, e, c, controller.ElectUnclean, "u", 1), kerr.EligibleLeadersNotAvailable)

	// Broker 3 is down, so the deletion waits for it.
	if err := e.admin.MarkTopicForDeletion(e.ctx, "u"); err != nil {
		t.Fatal(err)
	}
	c.waitLog(t, "deleting topic")
	wantCode(t, "topic being deleted", elect(t, e, c, controller.ElectPreferred, "u", 0), kerr.InvalidTopicException)
}

// A broker that is not the active controller answers NOT_CONTROLLER for
// every partition.
func TestElectLeadersNotController(t *testing.T) {
	e := newEnv(t)
	startCluster(t, e, []int32{1})
	other := e.startController(101)
	parts := []zkmeta.PartitionName{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}
	res := other.c.ElectLeaders(e.ctx, controller.ElectPreferred, parts)
	for _, p := range parts {
		if res[p].ErrorCode != kerr.NotController.Code {
			t.Fatalf("inactive controller answered %v for %v, want NOT_CONTROLLER", kerr.ErrorForCode(res[p].ErrorCode), p)
		}
	}
}

// /admin/preferred_replica_election, as Kafka 2.x's
// kafka-preferred-replica-election.sh --zookeeper writes it: the listed
// partitions go back to their preferred replica and the znode is deleted;
// a second request afterwards is handled too (the watch is re-armed).
func TestPreferredElectionZnode(t *testing.T) {
	e := newEnv(t)
	c, bs := clusterWithTopic(t, e, map[int32][]int32{0: {1, 2, 3}, 1: {1, 3, 2}})
	bs[1].restart()
	e.waitLeader("t", 0, 2, 2, 3)
	e.waitLeader("t", 1, 3, 3, 2)
	expandISR(t, e, c, bs, "t", 0, 2, 3, 1)
	expandISR(t, e, c, bs, "t", 1, 3, 2, 1)

	for _, p := range []int32{0, 1} {
		if err := e.admin.RequestPreferredElection(e.ctx, []zkmeta.PartitionName{{Topic: "t", Partition: p}, {Topic: "gone", Partition: 0}}); err != nil {
			t.Fatalf("write /admin/preferred_replica_election: %v", err)
		}
		e.waitState("t", p, "leader 1", func(s zkmeta.LeaderAndIsr) bool { return s.Leader == 1 })
		waitFor(t, "the controller to delete /admin/preferred_replica_election", func() bool {
			return !e.exists("/admin/preferred_replica_election")
		})
	}

	// A malformed request is deleted, so it does not block the next one.
	if _, err := e.raw.Create(e.rawPath("/admin/preferred_replica_election"), []byte(`{"version":1}`), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the controller to delete a malformed request", func() bool {
		return !e.exists("/admin/preferred_replica_election")
	})
}

// With auto.leader.rebalance.enable the controller moves leadership back
// to the preferred replica by itself once it is in the ISR again, within
// leader.imbalance.check.interval.seconds; a partition whose preferred
// replica is out of the ISR is left alone.
func TestAutoLeaderRebalance(t *testing.T) {
	e := newEnv(t)
	c, bs := clusterWithTopic(t, e, map[int32][]int32{0: {1, 2, 3}, 1: {1, 3, 2}, 2: {2, 3, 1}}, func(cfg *controller.Config) {
		cfg.AutoLeaderRebalance = controller.AutoLeaderRebalance{Enable: true, ImbalancePercentage: 10, CheckInterval: time.Second}
	})
	bs[1].restart()
	e.waitLeader("t", 0, 2, 2, 3)
	e.waitLeader("t", 1, 3, 3, 2)
	expandISR(t, e, c, bs, "t", 0, 2, 3, 1)
	e.waitState("t", 0, "leader 1 again", func(s zkmeta.LeaderAndIsr) bool { return s.Leader == 1 })
	c.waitLog(t, "leader imbalance above leader.imbalance.per.broker.percentage")
	if s, _ := e.state("t", 1); s.Leader != 3 {
		t.Fatalf("t-1, whose preferred replica is out of the ISR, now led by %d, want 3", s.Leader)
	}
}

// The log dir failure path: a broker's notification makes the controller
// send it a LeaderAndIsr for all its replicas; those it answers
// KAFKA_STORAGE_ERROR for are offline: the partitions it led get a leader
// from the rest of the ISR, it leaves the ISRs, is stopped there (not
// deleted), is listed offline in everyone's metadata, and is not elected
// again until it restarts or answers a LeaderAndIsr for it without error.
// The notification is deleted.
func TestLogDirFailure(t *testing.T) {
	e := newEnv(t)
	c, bs := clusterWithTopic(t, e, map[int32][]int32{0: {1, 2, 3}, 1: {2, 1, 3}, 2: {1, 2, 3}})
	bs[1].failLogDir("t", 0, 1)
	if err := e.admin.NotifyLogDirFailure(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	e.waitLeader("t", 0, 2, 2, 3)
	e.waitLeader("t", 1, 2, 2, 3)
	if s, _ := e.state("t", 2); s.Leader != 1 || !slices.Equal(s.ISR, []int32{1, 2, 3}) {
		t.Fatalf("t-2, in a dir that did not fail, changed to %s", fmtState(s))
	}
	for _, p := range []int32{0, 1} {
		waitFor(t, "broker 1 to get a StopReplica (without delete) for its offline replica", func() bool {
			_, st, ok := bs[1].stopReplicaFor("t", p)
			return ok && !st.Delete
		})
		bs[3].waitUpdateMetadata(t, "t", p, "broker 1 offline", func(u umPartition) bool {
			return slices.Equal(u.state.OfflineReplicas, []int32{1})
		})
	}
	waitFor(t, "the controller to delete the log dir notification", func() bool {
		kids, _, err := e.raw.Children(e.rawPath("/log_dir_event_notification"))
		return err == nil && len(kids) == 0
	})
	// An offline replica is not elected even when it is preferred and
	// back in the ISR.
	expandISR(t, e, c, bs, "t", 0, 2, 3, 1)
	wantCode(t, "preferred replica offline", elect(t, e, c, controller.ElectPreferred, "t", 0), kerr.PreferredLeaderNotAvailable)

	// A replica answered without error in a later LeaderAndIsr is online
	// again.
	bs[1].healLogDirs()
	if err := e.admin.NotifyLogDirFailure(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "broker 1's replica of t-0 to be electable again", func() bool {
		return elect(t, e, c, controller.ElectPreferred, "t", 0).ErrorCode == 0
	})
	e.waitLeader("t", 0, 1, 2, 3, 1)
}
