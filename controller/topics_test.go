package controller_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A topic znode written by a tool gets its partition state znodes: the
// leader is the first replica, the ISR every replica in assignment order,
// leader epoch 0. Every replica hears of its partitions with LeaderAndIsr
// (is_new set) and every broker of the topic with UpdateMetadata listing
// all live brokers. A topic created by a ZooKeeper-era tool, without a
// topic id, gets one.
func TestNewTopic(t *testing.T) {
	for _, withID := range []bool{true, false} {
		t.Run(fmt.Sprintf("topic_id=%v", withID), func(t *testing.T) {
			e := newEnv(t)
			c, bs := startCluster(t, e, []int32{1, 2, 3})
			parts := map[int32][]int32{0: {1, 2, 3}, 1: {2, 3, 1}, 2: {3, 1, 2}}
			var id [16]byte
			if withID {
				id = e.createTopic("orders", parts, nil)
			} else if err := e.admin.CreateTopic(e.ctx, "orders", zkmeta.TopicAssignment{Partitions: parts}, nil); err != nil {
				t.Fatal(err)
			}

			for p, reps := range parts {
				s := e.waitState("orders", p, "to exist", func(zkmeta.LeaderAndIsr) bool { return true })
				if s.Leader != reps[0] || !slices.Equal(s.ISR, reps) || s.LeaderEpoch != 0 || s.ControllerEpoch != c.c.Epoch() || s.ZkVersion != 0 {
					t.Errorf("orders-%d: state %s, want leader %d isr %v leader_epoch 0 controller_epoch %d zkVersion 0",
						p, fmtState(s), reps[0], reps, c.c.Epoch())
				}
			}
			if !withID {
				waitFor(t, "the controller to give the topic an id", func() bool {
					a, err := e.admin.Topic(e.ctx, "orders")
					if err != nil {
						t.Fatal(err)
					}
					id = a.TopicID
					return id != [16]byte{}
				})
			}

			for _, b := range bs {
				for p, reps := range parts {
					l := b.waitLeaderAndIsr(t, "orders", p, "any state", func(lisrPartition) bool { return true })
					if l.req.Version != 7 || l.req.ControllerID != 100 || l.req.ControllerEpoch != c.c.Epoch() || l.req.BrokerEpoch != b.brokerEpoch() {
						t.Errorf("broker %d: LeaderAndIsr header: version %d controller %d controller_epoch %d broker_epoch %d; want 7, 100, %d, %d",
							b.id, l.req.Version, l.req.ControllerID, l.req.ControllerEpoch, l.req.BrokerEpoch, c.c.Epoch(), b.brokerEpoch())
					}
					if l.topicID != id {
						t.Errorf("broker %d: LeaderAndIsr topic id %s, want %s", b.id, zkmeta.FormatUUID(l.topicID), zkmeta.FormatUUID(id))
					}
					st := l.state
					if st.Leader != reps[0] || st.LeaderEpoch != 0 || !slices.Equal(st.ISR, reps) || !slices.Equal(st.Replicas, reps) || !st.IsNew || st.ZKVersion != 0 {
						t.Errorf("broker %d: LeaderAndIsr for orders-%d: leader %d leader_epoch %d isr %v replicas %v is_new %v zkVersion %d; want leader %d, 0, isr and replicas %v, new, 0",
							b.id, p, st.Leader, st.LeaderEpoch, st.ISR, st.Replicas, st.IsNew, st.ZKVersion, reps[0], reps)
					}
					if !slices.ContainsFunc(l.req.LiveLeaders, func(x kmsg.LeaderAndISRRequestLiveLeader) bool {
						return x.BrokerID == reps[0] && x.Host == "127.0.0.1" && x.Port == bs[reps[0]].port()
					}) {
						t.Errorf("broker %d: LeaderAndIsr live leaders %+v lack leader %d at its endpoint", b.id, l.req.LiveLeaders, reps[0])
					}

					u := b.waitUpdateMetadata(t, "orders", p, "any state", func(umPartition) bool { return true })
					if got := liveBrokerIDs(u.req); !slices.Equal(got, []int32{1, 2, 3}) {
						t.Errorf("broker %d: UpdateMetadata live brokers %v, want [1 2 3]", b.id, got)
					}
					for _, lb := range u.req.LiveBrokers {
						if len(lb.Endpoints) != 1 || lb.Endpoints[0].Port != bs[lb.ID].port() || lb.Endpoints[0].ListenerName != "PLAINTEXT" {
							t.Errorf("broker %d: UpdateMetadata endpoints of broker %d: %+v", b.id, lb.ID, lb.Endpoints)
						}
					}
					us := u.state
					if u.req.Version != 8 || u.topicID != id || us.Leader != reps[0] || !slices.Equal(us.ISR, reps) || !slices.Equal(us.Replicas, reps) || len(us.OfflineReplicas) != 0 {
						t.Errorf("broker %d: UpdateMetadata v%d for orders-%d: topic id %s leader %d isr %v replicas %v offline %v",
							b.id, u.req.Version, p, zkmeta.FormatUUID(u.topicID), us.Leader, us.ISR, us.Replicas, us.OfflineReplicas)
					}
				}
			}
		})
	}
}

// When a broker dies, partitions it led move to the next live ISR replica
// in assignment order with the leader epoch bumped, and it leaves every
// ISR; partitions it has no replica of are left alone. The survivors hear
// of it with LeaderAndIsr and UpdateMetadata; when it returns it gets
// LeaderAndIsr for its partitions (leaders do not move back: there is no
// preferred leader election).
func TestBrokerFailure(t *testing.T) {
	e := newEnv(t)
	_, bs := startCluster(t, e, []int32{1, 2, 3})
	parts := map[int32][]int32{
		0: {1, 2, 3}, // 1 leads
		1: {2, 1, 3}, // 1 follows
		2: {3, 2},    // 1 has no replica
		3: {1, 3, 2}, // 1 leads; 3 is next
	}
	e.createTopic("t", parts, nil)
	before := map[int32]zkmeta.LeaderAndIsr{}
	for p, reps := range parts {
		before[p] = e.waitLeader("t", p, reps[0], reps...)
	}

	bs[1].kill()
	tests := []struct {
		p           int32
		leader      int32
		isr         []int32
		leaderMoved bool
	}{
		{p: 0, leader: 2, isr: []int32{2, 3}, leaderMoved: true},
		{p: 1, leader: 2, isr: []int32{2, 3}},
		{p: 3, leader: 3, isr: []int32{3, 2}, leaderMoved: true},
	}
	for _, tc := range tests {
		s := e.waitLeader("t", tc.p, tc.leader, tc.isr...)
		if tc.leaderMoved && s.LeaderEpoch != before[tc.p].LeaderEpoch+1 {
			t.Errorf("t-%d: leader moved but leader epoch is %d, want %d", tc.p, s.LeaderEpoch, before[tc.p].LeaderEpoch+1)
		}
		if s.LeaderEpoch < before[tc.p].LeaderEpoch {
			t.Errorf("t-%d: leader epoch went back from %d to %d", tc.p, before[tc.p].LeaderEpoch, s.LeaderEpoch)
		}
		for _, id := range []int32{2, 3} {
			if !slices.Contains(parts[tc.p], id) {
				continue
			}
			bs[id].waitLeaderAndIsr(t, "t", tc.p, fmt.Sprintf("leader %d leader epoch %d isr %v", tc.leader, s.LeaderEpoch, tc.isr), func(l lisrPartition) bool {
				return l.state.Leader == tc.leader && l.state.LeaderEpoch == s.LeaderEpoch && slices.Equal(l.state.ISR, tc.isr) && l.state.ZKVersion == s.ZkVersion
			})
			bs[id].waitUpdateMetadata(t, "t", tc.p, "broker 1 offline", func(u umPartition) bool {
				return u.state.Leader == tc.leader && slices.Equal(u.state.OfflineReplicas, []int32{1}) && slices.Equal(liveBrokerIDs(u.req), []int32{2, 3})
			})
		}
	}
	// Every change above was written and sent in the one event that
	// handled broker 1's failure; t-2 was not touched by it.
	if s, _ := e.state("t", 2); s.ZkVersion != before[2].ZkVersion || s.LeaderEpoch != before[2].LeaderEpoch {
		t.Errorf("t-2 has no replica on broker 1 but changed: %s, before %s", fmtState(s), fmtState(before[2]))
	}

	bs[1].restart()
	epoch := bs[1].brokerEpoch()
	for _, tc := range tests {
		bs[1].waitLeaderAndIsr(t, "t", tc.p, "its new broker epoch and the current leader", func(l lisrPartition) bool {
			return l.req.BrokerEpoch == epoch && l.state.Leader == tc.leader
		})
	}
	for _, b := range bs {
		b.waitLiveBrokers(t, 1, 2, 3)
	}
	for _, tc := range tests {
		if s, _ := e.state("t", tc.p); s.Leader != tc.leader {
			t.Errorf("t-%d: leader moved to %d when broker 1 returned, want it to stay on %d", tc.p, s.Leader, tc.leader)
		}
	}
}

// A partition whose ISR members are all dead is offline (leader -1) and
// keeps its last ISR member in the ISR. A replica outside the ISR that
// comes back becomes leader only when unclean.leader.election.enable is
// true for the topic (its /config/topics override, else the broker
// default); otherwise the partition waits for the ISR member.
func TestOfflinePartitionAndUncleanElection(t *testing.T) {
	tests := []struct {
		name          string
		topicConfig   map[string]string
		brokerDefault bool
		unclean       bool
	}{
		{name: "default", unclean: false},
		{name: "topic enables", topicConfig: map[string]string{"unclean.leader.election.enable": "true"}, unclean: true},
		{name: "topic disables over broker default", topicConfig: map[string]string{"unclean.leader.election.enable": "false"}, brokerDefault: true, unclean: false},
		{name: "broker default enables", brokerDefault: true, unclean: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			_, bs := startCluster(t, e, []int32{1, 2}, func(cfg *controller.Config) { cfg.UncleanLeaderElection = tc.brokerDefault })
			e.createTopic("t", map[int32][]int32{0: {1, 2}}, tc.topicConfig)
			e.waitLeader("t", 0, 1, 1, 2)

			bs[2].kill()
			e.waitLeader("t", 0, 1, 1)
			bs[1].kill()
			offline := e.waitLeader("t", 0, -1, 1)

			bs[2].restart()
			// Broker 2 hears of its partition in the same event that
			// decides whether it may lead it.
			epoch2 := bs[2].brokerEpoch()
			l := bs[2].waitLeaderAndIsr(t, "t", 0, "broker 2's new epoch", func(l lisrPartition) bool { return l.req.BrokerEpoch == epoch2 })
			if tc.unclean {
				s := e.waitLeader("t", 0, 2, 2)
				if s.LeaderEpoch != offline.LeaderEpoch+1 {
					t.Errorf("unclean election: leader epoch %d, want %d", s.LeaderEpoch, offline.LeaderEpoch+1)
				}
				bs[2].waitLeaderAndIsr(t, "t", 0, "leader 2 isr [2]", func(l lisrPartition) bool {
					return l.state.Leader == 2 && slices.Equal(l.state.ISR, []int32{2}) && l.state.LeaderEpoch == s.LeaderEpoch
				})
				return
			}
			if l.state.Leader != -1 || !slices.Equal(l.state.ISR, []int32{1}) {
				t.Errorf("broker 2 was told leader %d isr %v, want the partition offline: leader -1 isr [1]", l.state.Leader, l.state.ISR)
			}
			if s, _ := e.state("t", 0); s.Leader != -1 || !slices.Equal(s.ISR, []int32{1}) || s.ZkVersion != offline.ZkVersion {
				t.Errorf("unclean election disabled, yet the state changed when a non-ISR replica returned: %s, was %s", fmtState(s), fmtState(offline))
			}

			bs[1].restart()
			s := e.waitLeader("t", 0, 1, 1)
			if s.LeaderEpoch != offline.LeaderEpoch+1 {
				t.Errorf("clean election after the ISR member returned: leader epoch %d, want %d", s.LeaderEpoch, offline.LeaderEpoch+1)
			}
		})
	}
}

// Marking a topic for deletion makes the controller send StopReplica with
// delete to every replica, tell every broker the partitions are gone
// (leader -2 in UpdateMetadata) and remove the topic's znodes and the
// marker. While a replica's broker is down the deletion waits for it.
func TestTopicDeletion(t *testing.T) {
	parts := map[int32][]int32{0: {1, 2}, 1: {2, 3}, 2: {3, 1}}
	setup := func(t *testing.T, tune ...func(*controller.Config)) (*env, *runningController, map[int32]*fakeBroker) {
		e := newEnv(t)
		c, bs := startCluster(t, e, []int32{1, 2, 3}, tune...)
		e.createTopic("doomed", parts, map[string]string{"retention.ms": "1000"})
		e.createTopic("kept", map[int32][]int32{0: {1, 2, 3}}, nil)
		for p, reps := range parts {
			e.waitLeader("doomed", p, reps[0], reps...)
		}
		e.waitLeader("kept", 0, 1, 1, 2, 3)
		return e, c, bs
	}
	// checkDeleted waits for the whole deletion.
	checkDeleted := func(t *testing.T, e *env, bs map[int32]*fakeBroker) {
		t.Helper()
		for p, reps := range parts {
			for _, r := range reps {
				var (
					req *kmsg.StopReplicaRequest
					st  kmsg.StopReplicaRequestTopicPartitionState
				)
				waitFor(t, fmt.Sprintf("broker %d to get StopReplica for doomed-%d", r, p), func() bool {
					var ok bool
					req, st, ok = bs[r].stopReplicaFor("doomed", p)
					return ok
				})
				if !st.Delete || st.LeaderEpoch != -2 || req.ControllerID != 100 || req.Version != 4 {
					t.Errorf("broker %d: StopReplica v%d from controller %d for doomed-%d: delete %v leader_epoch %d; want v4 from 100, delete, leader epoch -2 (deleting)",
						r, req.Version, req.ControllerID, p, st.Delete, st.LeaderEpoch)
				}
			}
			for _, b := range bs {
				b.waitUpdateMetadata(t, "doomed", p, "leader -2 (deleted)", func(u umPartition) bool { return u.state.Leader == -2 })
			}
		}
		for _, p := range []string{"/brokers/topics/doomed", "/config/topics/doomed", "/admin/delete_topics/doomed"} {
			waitFor(t, p+" to be deleted", func() bool { return !e.exists(p) })
		}
		if _, err := e.admin.Topic(e.ctx, "doomed"); !errors.Is(err, zkmeta.ErrNoNode) {
			t.Errorf("read deleted topic: %v, want ErrNoNode", err)
		}
		if s, ok := e.state("kept", 0); !ok || s.Leader < 0 {
			t.Errorf("topic kept lost its state: %s (exists %v)", fmtState(s), ok)
		}
		for _, b := range bs {
			if _, _, ok := b.stopReplicaFor("kept", 0); ok {
				t.Errorf("broker %d got a StopReplica for topic kept", b.id)
			}
		}
	}

	t.Run("all replicas live", func(t *testing.T) {
		e, _, bs := setup(t)
		if err := e.admin.MarkTopicForDeletion(e.ctx, "doomed"); err != nil {
			t.Fatal(err)
		}
		checkDeleted(t, e, bs)
		// Each replica's StopReplica names only its own partitions.
		for _, b := range bs {
			for p, reps := range parts {
				if _, _, ok := b.stopReplicaFor("doomed", p); ok != slices.Contains(reps, b.id) {
					t.Errorf("broker %d: StopReplica for doomed-%d: %v, replica: %v", b.id, p, ok, slices.Contains(reps, b.id))
				}
			}
		}
	})

	t.Run("replica down", func(t *testing.T) {
		e, ctl, bs := setup(t)
		bs[3].kill()
		e.waitLeader("doomed", 1, 2, 2)
		e.waitLeader("doomed", 2, 1, 1)
		if err := e.admin.MarkTopicForDeletion(e.ctx, "doomed"); err != nil {
			t.Fatal(err)
		}
		// As Kafka's TopicDeletionManager: the live replicas delete at
		// once; the znodes stay until the dead replica has deleted too.
		ctl.waitLog(t, "deleting topic")
		for _, id := range []int32{1, 2} {
			for p, reps := range parts {
				if !slices.Contains(reps, id) {
					continue
				}
				waitFor(t, "StopReplica with delete at a live replica", func() bool {
					_, st, ok := bs[id].stopReplicaFor("doomed", p)
					return ok && st.Delete
				})
			}
		}
		if !e.exists("/brokers/topics/doomed") || !e.exists("/admin/delete_topics/doomed") {
			t.Fatalf("topic znodes deleted while broker 3, one of its replicas, is down")
		}
		bs[3].restart()
		checkDeleted(t, e, bs)
	})

	t.Run("delete.topic.enable=false", func(t *testing.T) {
		e, ctl, bs := setup(t, func(cfg *controller.Config) { cfg.DeleteTopicEnable = false })
		if err := e.admin.MarkTopicForDeletion(e.ctx, "doomed"); err != nil {
			t.Fatal(err)
		}
		ctl.waitLog(t, "delete.topic.enable=false")
		if !e.exists("/brokers/topics/doomed") {
			t.Fatalf("topic deleted with delete.topic.enable=false")
		}
		for _, b := range bs {
			if len(b.stopReplicas()) != 0 {
				t.Errorf("broker %d got StopReplica with delete.topic.enable=false", b.id)
			}
		}
	})
}

// AddPartitions (CreatePartitions) writes the grown assignment, fenced,
// and brings the new partitions online at once; partitions that exist
// are refused with ErrPartitionsExist.
func TestAddPartitions(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2})
	id := e.createTopic("t", map[int32][]int32{0: {1, 2}}, nil)
	e.waitLeader("t", 0, 1, 1, 2)

	added := map[int32][]int32{1: {2, 1}, 2: {1, 2}}
	if err := c.c.AddPartitions(e.ctx, "t", added); err != nil {
		t.Fatalf("AddPartitions: %v", err)
	}
	a, err := e.admin.Topic(e.ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Partitions) != 3 || a.TopicID != id {
		t.Fatalf("topic after AddPartitions: %d partitions, id %s; want 3 and %s", len(a.Partitions), zkmeta.FormatUUID(a.TopicID), zkmeta.FormatUUID(id))
	}
	for p, reps := range added {
		s := e.waitLeader("t", p, reps[0], reps...)
		if s.LeaderEpoch != 0 {
			t.Errorf("t-%d: new partition with leader epoch %d", p, s.LeaderEpoch)
		}
		for _, b := range bs {
			b.waitLeaderAndIsr(t, "t", p, "a new partition", func(l lisrPartition) bool {
				return l.state.IsNew && l.state.Leader == reps[0] && slices.Equal(l.state.Replicas, reps)
			})
			b.waitUpdateMetadata(t, "t", p, "its leader", func(u umPartition) bool { return u.state.Leader == reps[0] })
		}
	}

	if err := c.c.AddPartitions(e.ctx, "t", map[int32][]int32{2: {1, 2}, 3: {1, 2}}); !errors.Is(err, controller.ErrPartitionsExist) {
		t.Errorf("AddPartitions of an existing partition: %v, want ErrPartitionsExist", err)
	}
	if err := c.c.AddPartitions(e.ctx, "missing", map[int32][]int32{0: {1}}); err == nil {
		t.Errorf("AddPartitions to a missing topic succeeded")
	}
	if !c.c.Active() {
		t.Errorf("refused AddPartitions made the controller resign")
	}
}

// After AddPartitions the controller watches the topic znode again and
// then leaves it alone: it reads it a few times, not in an endless loop.
//
// The observation window bounds how long the test looks; a correct
// controller reads the topic znode a handful of times in all, while a
// controller that keeps reloading it passes the limit within milliseconds.
func TestAddPartitionsSettles(t *testing.T) {
	e := newEnv(t)
	bs := e.startBrokers(1, 2)
	proxy := startZKProxy(t, sharedZooKeeper(t).Addr)
	c := e.startControllerOn(e.connectTo(proxy.addr(), "controller-100-zk"), 100)
	c.waitActive(t)
	for _, b := range bs {
		b.waitLiveBrokers(t, 1, 2)
	}
	e.createTopic("t", map[int32][]int32{0: {1, 2}}, nil)
	e.waitLeader("t", 0, 1, 1, 2)
	if err := c.c.AddPartitions(e.ctx, "t", map[int32][]int32{1: {2, 1}}); err != nil {
		t.Fatalf("AddPartitions: %v", err)
	}
	e.waitLeader("t", 1, 2, 2, 1)

	const limit = 50
	topicZnode := e.rawPath("/brokers/topics/t")
	start := proxy.getDataCount(topicZnode)
	window := 3 * time.Second
	if pollFor(window, func() bool { return proxy.getDataCount(topicZnode)-start > limit }) {
		t.Fatalf("the controller read %s more than %d times within %s after AddPartitions had finished (%d reads in all): it keeps reloading the topic",
			topicZnode, limit, window, proxy.getDataCount(topicZnode))
	}
	t.Logf("%s read %d times in all", topicZnode, proxy.getDataCount(topicZnode))
}

// A new partition none of whose replicas is live gets no state znode;
// it comes online when one of its replicas' brokers starts, as Kafka's
// NewPartition -> OnlinePartition transition on broker startup
// (triggerOnlinePartitionStateChange covers NewPartition too).
func TestNewPartitionWithoutLiveReplicaComesOnlineLater(t *testing.T) {
	e := newEnv(t)
	_, bs := startCluster(t, e, []int32{1})
	e.createTopic("t", map[int32][]int32{0: {1}, 1: {2, 3}}, nil)
	e.waitLeader("t", 0, 1, 1)
	bs[1].waitLeaderAndIsr(t, "t", 0, "leader 1", func(l lisrPartition) bool { return l.state.Leader == 1 })
	if _, ok := e.state("t", 1); ok {
		t.Fatalf("t-1 has a state znode though none of its replicas is live")
	}

	b2 := e.startBroker(2)
	b2.waitLiveBrokers(t, 1, 2)
	e.waitLeader("t", 1, 2, 2)
	b2.waitLeaderAndIsr(t, "t", 1, "leader 2", func(l lisrPartition) bool { return l.state.Leader == 2 })
}

// Topic deletion is complete only when every replica has acknowledged its
// StopReplica with delete (Kafka's TopicDeletionManager: a replica whose
// broker fails before answering is ReplicaDeletionIneligible, and deletion
// resumes when it returns). A broker that dies before answering gets the
// StopReplica again when it comes back; otherwise its log of the deleted
// topic stays on disk for good, and a topic created later with the same
// name meets it.
func TestTopicDeletionResumesForReplicaThatDiedBeforeAnswering(t *testing.T) {
	e := newEnv(t)
	_, bs := startCluster(t, e, []int32{1, 2})
	e.createTopic("doomed", map[int32][]int32{0: {1, 2}}, nil)
	e.waitLeader("doomed", 0, 1, 1, 2)

	bs[2].dropStopReplica.Store(true)
	if err := e.admin.MarkTopicForDeletion(e.ctx, "doomed"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "broker 2 to receive (and drop) StopReplica for doomed-0", func() bool {
		_, _, ok := bs[2].stopReplicaFor("doomed", 0)
		return ok
	})
	if !e.exists("/brokers/topics/doomed") {
		t.Errorf("topic znode deleted before replica 2 acknowledged its StopReplica")
	}

	// Broker 2 crashes before answering, and comes back.
	bs[2].kill()
	bs[1].waitLiveBrokers(t, 1)
	bs[2].dropStopReplica.Store(false)
	n := len(bs[2].stopReplicas())
	bs[2].restart()
	bs[2].waitLiveBrokers(t, 1, 2)
	waitFor(t, "broker 2 to get StopReplica with delete for doomed-0 after it returned", func() bool {
		srs := bs[2].stopReplicas()
		for _, r := range srs[min(n, len(srs)):] {
			for _, rt := range r.Topics {
				for _, ps := range rt.PartitionStates {
					if rt.Topic == "doomed" && ps.Partition == 0 && ps.Delete {
						return true
					}
				}
			}
		}
		return false
	})
	waitFor(t, "the topic znode to go", func() bool { return !e.exists("/brokers/topics/doomed") })
}
