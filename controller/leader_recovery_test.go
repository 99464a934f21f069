package controller_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
)

// stateZnodeJSON reads the state znode of topic-p as the JSON object
// Kafka's tools and brokers parse.
func (e *env) stateZnodeJSON(topic string, p int32) map[string]any {
	e.t.Helper()
	path := fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p)
	data, _, err := e.raw.Get(e.rawPath(path))
	if err != nil {
		e.t.Fatalf("read %s: %v", path, err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		e.t.Fatalf("%s holds %q: %v", path, data, err)
	}
	return v
}

// wantRecoveryKey fails the test unless the state znode of topic-p has
// "leader_recovery_state" set to want, or, for RECOVERED (0), has no such
// key, as Kafka's TopicPartitionStateZNode writes it.
func wantRecoveryKey(t *testing.T, e *env, topic string, p int32, want int8) {
	t.Helper()
	v := e.stateZnodeJSON(topic, p)
	got, ok := v["leader_recovery_state"]
	switch {
	case want == 0 && ok:
		t.Fatalf("%s-%d state znode %v has leader_recovery_state %v, want the key absent (RECOVERED)", topic, p, v, got)
	case want != 0 && (!ok || got != float64(want)):
		t.Fatalf("%s-%d state znode %v: leader_recovery_state %v, want %d", topic, p, v, got, want)
	}
}

// uncleanLeader makes broker 2 the leader of topic-p (replicas [1 2], led
// by 1) by an unclean election: the leader shrinks the ISR to itself, dies,
// and broker 2 is elected from outside the ISR, by an admin's ElectLeaders
// UNCLEAN (admin true) or by the controller's own offline election when
// the topic allows unclean elections.
func uncleanLeader(t *testing.T, e *env, c *runningController, bs map[int32]*fakeBroker, topic string, ps []int32, admin bool) {
	t.Helper()
	for _, p := range ps {
		e.waitLeader(topic, p, 1, 1, 2)
		expandISR(t, e, c, bs, topic, p, 1)
	}
	bs[1].kill()
	for _, p := range ps {
		if admin {
			e.waitLeader(topic, p, -1, 1)
			if r := elect(t, e, c, controller.ElectUnclean, topic, p); r.ErrorCode != 0 || r.Leader != 2 {
				t.Fatalf("unclean election of %s-%d: leader %d, %v; want leader 2", topic, p, r.Leader, kerr.ErrorForCode(r.ErrorCode))
			}
		}
		e.waitLeader(topic, p, 2, 2)
	}
}

// A leader elected from outside the ISR is RECOVERING (KIP-704): the state
// znode gets "leader_recovery_state":1 and the new leader's LeaderAndIsr
// (v6 and up) says so, whether an admin asked for the unclean election or
// the topic's unclean.leader.election.enable let the controller make it.
func TestUncleanElectionMarksLeaderRecovering(t *testing.T) {
	for _, tc := range []struct {
		name  string
		admin bool
		cfg   map[string]string
	}{
		{name: "ElectLeaders UNCLEAN", admin: true},
		{name: "offline election", cfg: map[string]string{"unclean.leader.election.enable": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c, bs := startCluster(t, e, []int32{1, 2, 3})
			e.createTopic("r", map[int32][]int32{0: {1, 2}}, tc.cfg)
			before := e.waitLeader("r", 0, 1, 1, 2)
			if before.LeaderRecoveryState != 0 {
				t.Fatalf("new partition: leader recovery state %d, want 0", before.LeaderRecoveryState)
			}
			wantRecoveryKey(t, e, "r", 0, 0)

			uncleanLeader(t, e, c, bs, "r", []int32{0}, tc.admin)
			s, _ := e.state("r", 0)
			if s.LeaderRecoveryState != 1 {
				t.Fatalf("after the unclean election: leader recovery state %d, want 1 (RECOVERING)", s.LeaderRecoveryState)
			}
			wantRecoveryKey(t, e, "r", 0, 1)
			l := bs[2].waitLeaderAndIsr(t, "r", 0, "leader 2", func(p lisrPartition) bool { return p.state.Leader == 2 })
			if l.req.Version < 6 || l.state.LeaderRecoveryState != 1 {
				t.Fatalf("LeaderAndIsr v%d to the new leader: leader recovery state %d, want v6+ with 1", l.req.Version, l.state.LeaderRecoveryState)
			}
		})
	}
}

// AlterPartition follows KafkaController.processAlterPartition's leader
// recovery rules: a RECOVERING leader may not add ISR members, an unknown
// state is refused, a leader that reports RECOVERED (with or without an
// ISR change) makes the partition RECOVERED, and a partition never goes
// back from RECOVERED to RECOVERING. Refused changes leave the znode alone.
func TestAlterPartitionLeaderRecovery(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3})
	e.createTopic("r", map[int32][]int32{0: {1, 2}, 1: {1, 2}}, nil)
	uncleanLeader(t, e, c, bs, "r", []int32{0, 1}, true)
	bs[1].restart()
	bs[2].waitLiveBrokers(t, 1, 2, 3)

	steps := []struct {
		name      string
		partition int32
		state     int8
		isr       []int32
		want      error
		// wantState and wantISR are the partition's after the step.
		wantState int8
		wantISR   []int32
		written   bool
	}{
		{name: "RECOVERING leader adds a follower", isr: []int32{2, 1}, state: 1, want: kerr.InvalidRequest, wantState: 1, wantISR: []int32{2}},
		{name: "unknown recovery state", isr: []int32{2}, state: 2, want: kerr.InvalidRequest, wantState: 1, wantISR: []int32{2}},
		{name: "RECOVERING, nothing changes", isr: []int32{2}, state: 1, wantState: 1, wantISR: []int32{2}},
		{name: "RECOVERED with the follower", isr: []int32{2, 1}, state: 0, wantState: 0, wantISR: []int32{2, 1}, written: true},
		{name: "back to RECOVERING", isr: []int32{2}, state: 1, want: kerr.InvalidRequest, wantState: 0, wantISR: []int32{2, 1}},
		{name: "RECOVERED retried", isr: []int32{2, 1}, state: 0, wantState: 0, wantISR: []int32{2, 1}},
		{name: "RECOVERED alone", partition: 1, isr: []int32{2}, state: 0, wantState: 0, wantISR: []int32{2}, written: true},
	}
	for _, st := range steps {
		cur, _ := e.state("r", st.partition)
		a := alterPartition{version: 1, broker: 2, brokerEpoch: bs[2].brokerEpoch(), topic: "r", partition: st.partition,
			leaderEpoch: cur.LeaderEpoch, partitionEpoch: cur.ZkVersion, isr: st.isr, recoveryState: st.state}
		got := onlyPartition(t, c.c.AlterPartition(e.ctx, a.request()))
		if err := kerr.ErrorForCode(got.ErrorCode); err != st.want {
			t.Fatalf("%s: partition error %v, want %v", st.name, err, st.want)
		}
		after, _ := e.state("r", st.partition)
		if after.LeaderRecoveryState != st.wantState || !slices.Equal(after.ISR, st.wantISR) || after.Leader != 2 || after.LeaderEpoch != cur.LeaderEpoch {
			t.Fatalf("%s: state %s recovery %d; want leader 2 isr %v recovery %d at leader epoch %d",
				st.name, fmtState(after), after.LeaderRecoveryState, st.wantISR, st.wantState, cur.LeaderEpoch)
		}
		if wantV := cur.ZkVersion + map[bool]int32{true: 1}[st.written]; after.ZkVersion != wantV {
			t.Fatalf("%s: zkVersion %d, want %d", st.name, after.ZkVersion, wantV)
		}
		wantRecoveryKey(t, e, "r", st.partition, st.wantState)
		if st.want == nil && (got.LeaderRecoveryState != st.wantState || got.PartitionEpoch != after.ZkVersion || !slices.Equal(got.ISR, st.wantISR)) {
			t.Fatalf("%s: answer isr %v partition epoch %d recovery %d; want %v, %d, %d",
				st.name, got.ISR, got.PartitionEpoch, got.LeaderRecoveryState, st.wantISR, after.ZkVersion, st.wantState)
		}
	}
	if !c.c.Active() {
		t.Fatalf("refused AlterPartition requests made the controller resign")
	}
}

// A clean election keeps the partition's leader recovery state, as Kafka's
// LeaderAndIsr.newLeaderAndIsr does: a RECOVERING leader that bounces and
// is elected again from the ISR is still RECOVERING (it has not reported
// otherwise), and a RECOVERED partition whose leader dies stays RECOVERED
// under its new in-sync leader.
func TestCleanElectionKeepsLeaderRecoveryState(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3})
	e.createTopic("r", map[int32][]int32{0: {1, 2}}, nil)
	e.createTopic("k", map[int32][]int32{0: {2, 3}}, nil)
	uncleanLeader(t, e, c, bs, "r", []int32{0}, true)
	k := e.waitLeader("k", 0, 2, 2, 3)

	r := e.waitLeader("r", 0, 2, 2)
	bs[2].restart()
	r2 := e.waitState("r", 0, "leader 2 again at a new leader epoch", func(s zkmeta.LeaderAndIsr) bool {
		return s.Leader == 2 && s.LeaderEpoch > r.LeaderEpoch
	})
	if r2.LeaderRecoveryState != 1 {
		t.Fatalf("RECOVERING partition after a clean re-election: recovery state %d, want 1", r2.LeaderRecoveryState)
	}
	wantRecoveryKey(t, e, "r", 0, 1)

	k2 := e.waitState("k", 0, "leader 3 after broker 2's bounce", func(s zkmeta.LeaderAndIsr) bool {
		return s.Leader == 3 && s.LeaderEpoch > k.LeaderEpoch
	})
	if k2.LeaderRecoveryState != 0 {
		t.Fatalf("RECOVERED partition after a clean election: recovery state %d, want 0", k2.LeaderRecoveryState)
	}
	wantRecoveryKey(t, e, "k", 0, 0)
}
