package controller

import (
	"context"
	"errors"
	"slices"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// alterPartition applies a leader's ISR change (Kafka's
// processAlterPartition in ZooKeeper mode). Per partition: the sender must
// be the current leader at the current leader epoch (else
// FENCED_LEADER_EPOCH or NOT_LEADER_OR_FOLLOWER), the partition epoch (the
// state znode's zkVersion) must be current (else INVALID_UPDATE_VERSION),
// the leader recovery state must follow KIP-704's rules
// (recoveryChangeError, else INVALID_REQUEST), and every new ISR member
// must be a live broker that is not shutting down (else
// INELIGIBLE_REPLICA). The change keeps the leader epoch and writes the
// leader recovery state the leader sent (RECOVERED from v0 leaders, which
// cannot say otherwise).
func (st *state) alterPartition(ctx context.Context, e evAlterPartition) (err error) {
	req := e.req
	resp := req.ResponseKind().(*kmsg.AlterPartitionResponse)
	resp.Version = req.Version
	defer func() { e.reply <- resp }()
	if b, ok := st.brokers[req.BrokerID]; !ok || (req.BrokerEpoch >= 0 && req.BrokerEpoch != b.Epoch) {
		st.logger.Warn("AlterPartition from a broker that is not live at that epoch", zap.Int32("broker", req.BrokerID), zap.Int64("broker_epoch", req.BrokerEpoch))
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return nil
	}
	b := st.newBatch()
	defer st.send(b)
	// ISR changes of partitions being reassigned may complete them, once
	// the leader has its answer (Kafka: after the callback).
	var changed []tp
	defer func() {
		if err == nil {
			err = st.maybeCompleteReassignments(ctx, changed, b)
		}
	}()
	for _, rt := range req.Topics {
		name := rt.Topic
		if req.Version >= 2 {
			name = ""
			for n, t := range st.topics {
				if t.id == rt.TopicID {
					name = n
				}
			}
		}
		ot := kmsg.NewAlterPartitionResponseTopic()
		ot.Topic = rt.Topic
		ot.TopidID = rt.TopicID
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionResponseTopicPartition()
			op.Partition = rp.Partition
			newISR := rp.NewISR
			if req.Version >= 3 {
				newISR = nil
				for _, m := range rp.NewEpochISR {
					newISR = append(newISR, m.BrokerID)
				}
			}
			p := tp{name, rp.Partition}
			cur, ok := st.parts[p]
			// v0 has no field: such leaders are RECOVERED (the default).
			rs := rp.LeaderRecoveryState
			switch {
			case name == "" || !ok:
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if req.Version >= 2 && name == "" {
					op.ErrorCode = kerr.UnknownTopicID.Code
				}
			case cur.Leader != req.BrokerID:
				op.ErrorCode = kerr.NotLeaderForPartition.Code
			case rp.LeaderEpoch < cur.LeaderEpoch:
				op.ErrorCode = kerr.FencedLeaderEpoch.Code
			case rp.LeaderEpoch == cur.LeaderEpoch && slices.Equal(newISR, cur.ISR) && rs == cur.LeaderRecoveryState:
				// Already so: a retry whose answer was lost. Kafka answers
				// with the current state whatever partition epoch it
				// carries, so the leader learns the one it missed.
				op.LeaderID = cur.Leader
				op.LeaderEpoch = cur.LeaderEpoch
				op.ISR = slices.Clone(cur.ISR)
				op.PartitionEpoch = cur.ZkVersion
				op.LeaderRecoveryState = cur.LeaderRecoveryState
			case rp.LeaderEpoch > cur.LeaderEpoch || rp.PartitionEpoch > cur.ZkVersion:
				// The leader knows a newer state than this controller:
				// this controller is stale.
				op.ErrorCode = kerr.NotController.Code
			case rp.PartitionEpoch != cur.ZkVersion:
				op.ErrorCode = kerr.InvalidUpdateVersion.Code
			case recoveryChangeError(cur.LeaderRecoveryState, rs, len(newISR)) != nil:
				st.logger.Info("AlterPartition refused: leader recovery state change not allowed",
					zap.String("partition", p.String()), zap.Int32("broker", req.BrokerID),
					zap.Int8("current", cur.LeaderRecoveryState), zap.Int8("proposed", rs), zap.Int32s("isr", newISR))
				op.ErrorCode = recoveryChangeError(cur.LeaderRecoveryState, rs, len(newISR)).Code
			case !slices.Contains(newISR, cur.Leader) || slices.ContainsFunc(newISR, func(r int32) bool {
				return !st.live(r) || st.shuttingDown[r] || !slices.Contains(st.replicas(p), r)
			}):
				// INELIGIBLE_REPLICA exists from v2 on; older leaders get
				// OPERATION_NOT_ATTEMPTED, as Kafka answers them.
				op.ErrorCode = kerr.IneligibleReplica.Code
				if req.Version < 2 {
					op.ErrorCode = kerr.OperationNotAttempted.Code
				}
			default:
				if !slices.Equal(newISR, cur.ISR) || rs != cur.LeaderRecoveryState {
					next := cur
					next.ISR = slices.Clone(newISR)
					next.LeaderRecoveryState = rs
					if err := st.write(ctx, p, next, b); err != nil {
						if errors.Is(err, errResign) {
							op.ErrorCode = kerr.NotController.Code
							ot.Partitions = append(ot.Partitions, op)
							resp.Topics = append(resp.Topics, ot)
							return err
						}
						if errors.Is(err, zkmeta.ErrBadVersion) {
							op.ErrorCode = kerr.InvalidUpdateVersion.Code
						} else {
							st.logger.Error("alter partition", zap.String("partition", p.String()), zap.Error(err))
							op.ErrorCode = kerr.UnknownServerError.Code
						}
						break
					}
					// ISR changes travel by UpdateMetadata only; the
					// leader learns its new partition epoch from this
					// answer.
					delete(b.leaderAndIsr[cur.Leader], p)
					for _, r := range st.replicas(p) {
						delete(b.leaderAndIsr[r], p)
					}
					st.logger.Info("ISR changed", zap.String("partition", p.String()),
						zap.Int32s("from", cur.ISR), zap.Int32s("to", newISR),
						zap.Int8("leader_recovery_state", rs))
					if st.reassigning(p) {
						changed = append(changed, p)
					}
				}
				s := st.parts[p]
				op.LeaderID = s.Leader
				op.LeaderEpoch = s.LeaderEpoch
				op.ISR = slices.Clone(s.ISR)
				op.PartitionEpoch = s.ZkVersion
				op.LeaderRecoveryState = s.LeaderRecoveryState
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return nil
}

// controlledShutdown moves leadership off a broker that asked to stop
// (Kafka's doControlledShutdown): partitions it leads get the first other
// live ISR member as leader, and it leaves the ISR of partitions it
// follows. Partitions with no other ISR member stay with it and are
// reported as remaining.
func (st *state) controlledShutdown(ctx context.Context, e evControlledShutdown) error {
	req := e.req
	resp := req.ResponseKind().(*kmsg.ControlledShutdownResponse)
	resp.Version = req.Version
	defer func() { e.reply <- resp }()
	id := req.BrokerID
	b0, ok := st.brokers[id]
	if !ok {
		resp.ErrorCode = kerr.BrokerNotAvailable.Code
		return nil
	}
	if req.Version >= 2 && req.BrokerEpoch >= 0 && req.BrokerEpoch != b0.Epoch {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return nil
	}
	st.shuttingDown[id] = true
	st.logger.Info("controlled shutdown", zap.Int32("broker", id))
	b := st.newBatch()
	defer st.send(b)
	exclude := map[int32]bool{}
	for s := range st.shuttingDown {
		exclude[s] = true
	}
	for p, s := range st.parts {
		switch {
		case s.Leader == id:
			if len(st.replicas(p)) <= 1 {
				continue
			}
			if err := st.elect(ctx, p, b, exclude); err != nil {
				return err
			}
		case slices.Contains(s.ISR, id) && len(s.ISR) > 1:
			next := s
			next.ISR = slices.DeleteFunc(slices.Clone(s.ISR), func(r int32) bool { return r == id })
			next.LeaderEpoch = s.LeaderEpoch + 1
			if err := st.write(ctx, p, next, b); err != nil {
				return err
			}
			delete(b.leaderAndIsr[id], p)
			b.stopReplicaFor(id, p, false)
		}
	}
	for _, p := range sortedTPs(setOf(st.partitionsOf(id))) {
		if s := st.parts[p]; s.Leader == id && len(st.replicas(p)) > 1 {
			resp.PartitionsRemaining = append(resp.PartitionsRemaining, kmsg.ControlledShutdownResponsePartitionsRemaining{Topic: p.topic, Partition: p.partition})
		}
	}
	return nil
}
