package controller_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// alterPartition is one AlterPartition proposal.
type alterPartition struct {
	version        int16
	broker         int32
	brokerEpoch    int64
	topic          string
	topicID        [16]byte
	partition      int32
	leaderEpoch    int32
	partitionEpoch int32
	isr            []int32
	// recoveryState is the leader recovery state the leader reports
	// (KIP-704; sent from v1 on).
	recoveryState int8
}

// request builds the AlterPartition request: by topic name up to v1, by
// topic id from v2, with broker epochs per ISR member from v3.
func (a alterPartition) request() *kmsg.AlterPartitionRequest {
	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = a.version
	req.BrokerID = a.broker
	req.BrokerEpoch = a.brokerEpoch
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.Topic = a.topic
	if a.version >= 2 {
		rt.Topic = ""
		rt.TopicID = a.topicID
	}
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition = a.partition
	rp.LeaderEpoch = a.leaderEpoch
	rp.PartitionEpoch = a.partitionEpoch
	rp.LeaderRecoveryState = a.recoveryState
	if a.version >= 3 {
		for _, r := range a.isr {
			m := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
			m.BrokerID = r
			m.BrokerEpoch = -1
			rp.NewEpochISR = append(rp.NewEpochISR, m)
		}
	} else {
		rp.NewISR = slices.Clone(a.isr)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// onlyPartition is the single partition answer of a one-partition
// request; it fails the test when the response has another shape.
func onlyPartition(t *testing.T, resp *kmsg.AlterPartitionResponse) kmsg.AlterPartitionResponseTopicPartition {
	t.Helper()
	if resp.ErrorCode != 0 {
		t.Fatalf("AlterPartition: top-level error %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("AlterPartition answered %d topics (%+v), want 1 topic with 1 partition", len(resp.Topics), resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// isrCluster is brokers 1, 2 and 3 (broker 4 never registers) and topic
// "isr" whose partitions are all replicated on [1 2 3 4], led by 1, with
// the ISR [1 2] at a leader epoch and partition epoch above zero (broker
// 3 restarted, which took it out of the ISRs).
type isrCluster struct {
	e     *env
	c     *runningController
	bs    map[int32]*fakeBroker
	id    [16]byte
	state map[int32]zkmeta.LeaderAndIsr
}

func newISRCluster(t *testing.T, partitions int32) *isrCluster {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2, 3})
	parts := map[int32][]int32{}
	for p := range partitions {
		parts[p] = []int32{1, 2, 3, 4}
	}
	id := e.createTopic("isr", parts, nil)
	for p := range parts {
		e.waitLeader("isr", p, 1, 1, 2, 3)
	}
	bs[3].restart()
	st := map[int32]zkmeta.LeaderAndIsr{}
	for p := range parts {
		st[p] = e.waitLeader("isr", p, 1, 1, 2)
		if st[p].LeaderEpoch == 0 || st[p].ZkVersion == 0 {
			t.Fatalf("isr-%d: %s; want leader and partition epochs above 0 after a follower left the ISR", p, fmtState(st[p]))
		}
	}
	bs[3].waitLeaderAndIsr(t, "isr", 0, "broker 3's new epoch", func(l lisrPartition) bool { return l.req.BrokerEpoch == bs[3].brokerEpoch() })
	return &isrCluster{e: e, c: c, bs: bs, id: id, state: st}
}

// AlterPartition (KIP-497) applies a leader's ISR change when the leader
// sends it at the current leader epoch and partition epoch, and answers
// with the new partition epoch (the state znode's version); everything
// else is refused with Kafka's error codes and leaves the state alone.
func TestAlterPartition(t *testing.T) {
	type tc struct {
		name   string
		change func(a *alterPartition, cur zkmeta.LeaderAndIsr)
		isr    []int32
		want   error // partition error; nil for success
		// top is a top-level error (the whole request is refused).
		top error
	}
	tests := []tc{
		{name: "shrink", isr: []int32{1}},
		{name: "expand", isr: []int32{1, 2, 3}},
		{name: "stale leader epoch", isr: []int32{1}, want: kerr.FencedLeaderEpoch,
			change: func(a *alterPartition, cur zkmeta.LeaderAndIsr) { a.leaderEpoch = cur.LeaderEpoch - 1 }},
		{name: "stale partition epoch", isr: []int32{1}, want: kerr.InvalidUpdateVersion,
			change: func(a *alterPartition, cur zkmeta.LeaderAndIsr) { a.partitionEpoch = cur.ZkVersion - 1 }},
		{name: "not the leader", isr: []int32{1, 2, 3}, want: kerr.NotLeaderForPartition,
			change: func(a *alterPartition, _ zkmeta.LeaderAndIsr) { a.broker = 2 }},
		{name: "dead broker in the ISR", isr: []int32{1, 2, 4}, want: kerr.IneligibleReplica},
		{name: "unknown partition", isr: []int32{1}, want: kerr.UnknownTopicOrPartition,
			change: func(a *alterPartition, _ zkmeta.LeaderAndIsr) { a.partition = 99 }},
		{name: "stale broker epoch", isr: []int32{1}, top: kerr.StaleBrokerEpoch,
			change: func(a *alterPartition, _ zkmeta.LeaderAndIsr) { a.brokerEpoch-- }},
		{name: "unregistered broker", isr: []int32{1}, top: kerr.StaleBrokerEpoch,
			change: func(a *alterPartition, _ zkmeta.LeaderAndIsr) { a.broker, a.brokerEpoch = 4, -1 }},
	}
	// v1 is what this project's leaders send (by topic name); v3 is
	// Kafka 3.9's (by topic id, ISR members with epochs).
	for _, version := range []int16{1, 3} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			cl := newISRCluster(t, int32(len(tests)))
			for i, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					p := int32(i)
					cur := cl.state[p]
					a := alterPartition{
						version: version, broker: 1, brokerEpoch: cl.bs[1].brokerEpoch(),
						topic: "isr", topicID: cl.id, partition: p,
						leaderEpoch: cur.LeaderEpoch, partitionEpoch: cur.ZkVersion, isr: tc.isr,
					}
					if tc.change != nil {
						tc.change(&a, cur)
					}
					if a.broker != 1 && a.broker != 4 {
						a.brokerEpoch = cl.bs[a.broker].brokerEpoch()
					}
					resp := cl.c.c.AlterPartition(cl.e.ctx, a.request())
					if tc.top != nil {
						if err := kerr.ErrorForCode(resp.ErrorCode); err != tc.top {
							t.Fatalf("top-level error %v, want %v", err, tc.top)
						}
					} else {
						got := onlyPartition(t, resp)
						if version >= 2 && resp.Topics[0].TopidID != cl.id {
							t.Errorf("answer names topic id %s, want %s", zkmeta.FormatUUID(resp.Topics[0].TopidID), zkmeta.FormatUUID(cl.id))
						}
						if version < 2 && resp.Topics[0].Topic != "isr" {
							t.Errorf("answer names topic %q, want isr", resp.Topics[0].Topic)
						}
						want := tc.want
						if want == kerr.IneligibleReplica && version < 2 {
							// INELIGIBLE_REPLICA is new in v2; Kafka answers
							// older leaders OPERATION_NOT_ATTEMPTED.
							want = kerr.OperationNotAttempted
						}
						if err := kerr.ErrorForCode(got.ErrorCode); err != want {
							t.Fatalf("partition error %v, want %v", err, want)
						}
						if tc.want == nil {
							s, _ := cl.e.state("isr", p)
							if !slices.Equal(s.ISR, tc.isr) || s.Leader != 1 || s.LeaderEpoch != cur.LeaderEpoch || s.ZkVersion != cur.ZkVersion+1 {
								t.Errorf("state after the change: %s; want leader 1, isr %v, leader epoch %d kept, zkVersion %d",
									fmtState(s), tc.isr, cur.LeaderEpoch, cur.ZkVersion+1)
							}
							if got.LeaderID != 1 || got.LeaderEpoch != cur.LeaderEpoch || !slices.Equal(got.ISR, tc.isr) || got.PartitionEpoch != s.ZkVersion {
								t.Errorf("answer: leader %d leader epoch %d isr %v partition epoch %d; want 1, %d, %v, %d",
									got.LeaderID, got.LeaderEpoch, got.ISR, got.PartitionEpoch, cur.LeaderEpoch, tc.isr, s.ZkVersion)
							}
							// Every broker hears of the new ISR.
							for _, b := range cl.bs {
								b.waitUpdateMetadata(t, "isr", p, fmt.Sprintf("isr %v", tc.isr), func(u umPartition) bool {
									return slices.Equal(u.state.ISR, tc.isr) && u.state.ZKVersion == s.ZkVersion
								})
							}
							return
						}
					}
					if s, _ := cl.e.state("isr", p); s.ZkVersion != cur.ZkVersion || !slices.Equal(s.ISR, cur.ISR) {
						t.Errorf("refused change altered the state: %s, was %s", fmtState(s), fmtState(cur))
					}
				})
			}
			if !cl.c.c.Active() {
				t.Errorf("refused AlterPartition requests made the controller resign")
			}
		})
	}
}

// A leader whose AlterPartition answer was lost (a timeout, a broken
// connection) sends the same proposal again, still at the old partition
// epoch. Kafka's controller answers it with the current state, because the
// partition is already where the leader wants it
// (LeaderAndIsr.equalsAllowStalePartitionEpoch, checked before the
// partition epoch "to maintain idempotency"). A leader learns its new
// partition epoch only from that answer (ISR changes reach it by
// UpdateMetadata, which leaders do not apply to partition epochs), so
// refusing the retry leaves it at a stale partition epoch for good.
func TestAlterPartitionRetryAfterLostAnswer(t *testing.T) {
	cl := newISRCluster(t, 1)
	cur := cl.state[0]
	a := alterPartition{
		version: 1, broker: 1, brokerEpoch: cl.bs[1].brokerEpoch(),
		topic: "isr", partition: 0,
		leaderEpoch: cur.LeaderEpoch, partitionEpoch: cur.ZkVersion, isr: []int32{1},
	}
	first := onlyPartition(t, cl.c.c.AlterPartition(cl.e.ctx, a.request()))
	if first.ErrorCode != 0 {
		t.Fatalf("first AlterPartition: %v", kerr.ErrorForCode(first.ErrorCode))
	}
	retry := onlyPartition(t, cl.c.c.AlterPartition(cl.e.ctx, a.request()))
	if err := kerr.ErrorForCode(retry.ErrorCode); err != nil {
		t.Fatalf("retried AlterPartition whose change is already applied: %v; want the current state (isr [1], partition epoch %d)", err, first.PartitionEpoch)
	}
	if !slices.Equal(retry.ISR, []int32{1}) || retry.PartitionEpoch != first.PartitionEpoch || retry.LeaderEpoch != cur.LeaderEpoch {
		t.Errorf("retry answered isr %v partition epoch %d leader epoch %d; want [1], %d, %d",
			retry.ISR, retry.PartitionEpoch, retry.LeaderEpoch, first.PartitionEpoch, cur.LeaderEpoch)
	}
}
