package controller_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ControlledShutdown moves leadership off the stopping broker to another
// ISR member (bumping the leader epoch), takes it out of the ISRs it
// follows in (and stops those replicas, without deleting them), and
// answers with the partitions it still leads: those where no other ISR
// member exists. Single-replica partitions are not its business.
func TestControlledShutdown(t *testing.T) {
	tests := []struct {
		name string
		// parts is topic t's assignment; shrink lists partitions whose
		// ISR is cut to the leader alone before the shutdown.
		parts     map[int32][]int32
		shrink    []int32
		want      map[int32]zkmeta.LeaderAndIsr // leader and ISR after
		remaining []int32
	}{
		{
			name:  "leadership can move everywhere",
			parts: map[int32][]int32{0: {1, 2, 3}, 1: {2, 1, 3}, 2: {1}, 3: {3, 2}},
			want: map[int32]zkmeta.LeaderAndIsr{
				0: {Leader: 2, ISR: []int32{2, 3}},
				1: {Leader: 2, ISR: []int32{2, 3}},
				2: {Leader: 1, ISR: []int32{1}},
				3: {Leader: 3, ISR: []int32{3, 2}},
			},
		},
		{
			name:   "sole ISR member keeps its partition",
			parts:  map[int32][]int32{0: {1, 2}, 1: {1, 3, 2}},
			shrink: []int32{0},
			want: map[int32]zkmeta.LeaderAndIsr{
				0: {Leader: 1, ISR: []int32{1}},
				1: {Leader: 3, ISR: []int32{3, 2}},
			},
			remaining: []int32{0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c, bs := startCluster(t, e, []int32{1, 2, 3})
			e.createTopic("t", tc.parts, nil)
			before := map[int32]zkmeta.LeaderAndIsr{}
			for p, reps := range tc.parts {
				before[p] = e.waitLeader("t", p, reps[0], reps...)
			}
			for _, p := range tc.shrink {
				s := before[p]
				a := alterPartition{version: 1, broker: s.Leader, brokerEpoch: bs[s.Leader].brokerEpoch(), topic: "t", partition: p,
					leaderEpoch: s.LeaderEpoch, partitionEpoch: s.ZkVersion, isr: []int32{s.Leader}}
				if r := onlyPartition(t, c.c.AlterPartition(e.ctx, a.request())); r.ErrorCode != 0 {
					t.Fatalf("shrink t-%d: %v", p, kerr.ErrorForCode(r.ErrorCode))
				}
				before[p], _ = e.state("t", p)
			}

			req := kmsg.NewPtrControlledShutdownRequest()
			req.Version = 3
			req.BrokerID = 1
			req.BrokerEpoch = bs[1].brokerEpoch()
			resp := c.c.ControlledShutdown(e.ctx, req)
			if resp.ErrorCode != 0 {
				t.Fatalf("ControlledShutdown: %v", kerr.ErrorForCode(resp.ErrorCode))
			}
			var remaining []int32
			for _, r := range resp.PartitionsRemaining {
				if r.Topic != "t" {
					t.Errorf("remaining partition of topic %q", r.Topic)
				}
				remaining = append(remaining, r.Partition)
			}
			slices.Sort(remaining)
			if !slices.Equal(remaining, tc.remaining) {
				t.Errorf("partitions remaining %v, want %v", remaining, tc.remaining)
			}

			// The answer comes after the writes.
			for p, w := range tc.want {
				s, _ := e.state("t", p)
				if s.Leader != w.Leader || !slices.Equal(s.ISR, w.ISR) {
					t.Errorf("t-%d after controlled shutdown: %s, want leader %d isr %v", p, fmtState(s), w.Leader, w.ISR)
					continue
				}
				if s.Leader != before[p].Leader && s.LeaderEpoch != before[p].LeaderEpoch+1 {
					t.Errorf("t-%d: leader moved with leader epoch %d, want %d", p, s.LeaderEpoch, before[p].LeaderEpoch+1)
				}
				if s.Leader == before[p].Leader && slices.Equal(s.ISR, before[p].ISR) && s.ZkVersion != before[p].ZkVersion {
					t.Errorf("t-%d: unchanged partition rewritten: %s, before %s", p, fmtState(s), fmtState(before[p]))
				}
				if s.Leader == before[p].Leader {
					continue
				}
				// The replicas that stay hear of the new leader.
				for _, r := range tc.parts[p] {
					if r == 1 {
						continue
					}
					bs[r].waitLeaderAndIsr(t, "t", p, fmt.Sprintf("leader %d", w.Leader), func(l lisrPartition) bool {
						return l.state.Leader == w.Leader && l.state.LeaderEpoch == s.LeaderEpoch
					})
				}
			}
			// Broker 1 stops following where it left the ISR, keeping the
			// data.
			for p, reps := range tc.parts {
				if reps[0] == 1 || !slices.Contains(reps, 1) {
					continue
				}
				var st kmsg.StopReplicaRequestTopicPartitionState
				waitFor(t, fmt.Sprintf("broker 1 to get StopReplica for t-%d", p), func() bool {
					var ok bool
					_, st, ok = bs[1].stopReplicaFor("t", p)
					return ok
				})
				if st.Delete {
					t.Errorf("StopReplica for t-%d on controlled shutdown deletes the replica", p)
				}
			}

			// A shutting-down broker cannot rejoin an ISR.
			for p, w := range tc.want {
				if w.Leader == 1 || !slices.Contains(tc.parts[p], 1) {
					continue
				}
				s, _ := e.state("t", p)
				a := alterPartition{version: 1, broker: s.Leader, brokerEpoch: bs[s.Leader].brokerEpoch(), topic: "t", partition: p,
					leaderEpoch: s.LeaderEpoch, partitionEpoch: s.ZkVersion, isr: append(slices.Clone(s.ISR), 1)}
				// v1, as gokafka's leaders send it: OPERATION_NOT_ATTEMPTED
				// (INELIGIBLE_REPLICA from v2).
				if r := onlyPartition(t, c.c.AlterPartition(e.ctx, a.request())); r.ErrorCode != kerr.OperationNotAttempted.Code {
					t.Errorf("t-%d: adding the shutting-down broker to the ISR: %v, want OPERATION_NOT_ATTEMPTED", p, kerr.ErrorForCode(r.ErrorCode))
				}
			}
		})
	}
}

// ControlledShutdown from a broker at a stale epoch or from an unknown
// broker is refused without changing anything.
func TestControlledShutdownRefused(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2})
	e.createTopic("t", map[int32][]int32{0: {1, 2}}, nil)
	before := e.waitLeader("t", 0, 1, 1, 2)
	tests := []struct {
		name   string
		broker int32
		epoch  int64
		want   error
	}{
		{name: "stale broker epoch", broker: 1, epoch: bs[1].brokerEpoch() - 1, want: kerr.StaleBrokerEpoch},
		{name: "unknown broker", broker: 7, epoch: -1, want: kerr.BrokerNotAvailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := kmsg.NewPtrControlledShutdownRequest()
			req.Version = 3
			req.BrokerID = tc.broker
			req.BrokerEpoch = tc.epoch
			if err := kerr.ErrorForCode(c.c.ControlledShutdown(e.ctx, req).ErrorCode); err != tc.want {
				t.Errorf("ControlledShutdown: %v, want %v", err, tc.want)
			}
		})
	}
	if s, _ := e.state("t", 0); s.ZkVersion != before.ZkVersion {
		t.Errorf("refused ControlledShutdown changed t-0: %s, before %s", fmtState(s), fmtState(before))
	}
}

// A broker in controlled shutdown is not live for leader election (Kafka's
// isReplicaOnline excludes shutting-down brokers): a partition created
// while it stops gets another replica as leader and an ISR without it.
func TestControlledShutdownBrokerNotChosenForNewPartitions(t *testing.T) {
	e := newEnv(t)
	c, bs := startCluster(t, e, []int32{1, 2})
	req := kmsg.NewPtrControlledShutdownRequest()
	req.Version = 3
	req.BrokerID = 1
	req.BrokerEpoch = bs[1].brokerEpoch()
	if r := c.c.ControlledShutdown(e.ctx, req); r.ErrorCode != 0 || len(r.PartitionsRemaining) != 0 {
		t.Fatalf("ControlledShutdown: %v, remaining %v", kerr.ErrorForCode(r.ErrorCode), r.PartitionsRemaining)
	}
	e.createTopic("t", map[int32][]int32{0: {1, 2}}, nil)
	s := e.waitState("t", 0, "to exist", func(zkmeta.LeaderAndIsr) bool { return true })
	if s.Leader != 2 || !slices.Equal(s.ISR, []int32{2}) {
		t.Errorf("new partition while broker 1 shuts down: %s; want leader 2 isr [2]", fmtState(s))
	}
}
