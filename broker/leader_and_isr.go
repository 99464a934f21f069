package broker

import (
	"context"
	"errors"
	"slices"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// handleLeaderAndIsr answers LeaderAndIsr v0-7 from the controller (Kafka's
// ReplicaManager.becomeLeaderOrFollower): after the epoch checks of
// checkControllerRequest, each partition that lists this broker as a
// replica is opened (created when new) and made leader or follower. A
// follower whose leader or leader epoch changed is handed to the replica
// fetchers, which truncate it by leader epoch before fetching. A partition
// that does not list this broker is UNKNOWN_TOPIC_OR_PARTITION; one whose
// epochs are not newer than the local ones is STALE_CONTROLLER_EPOCH (see
// Partition.checkStateEpochLocked), and nothing changes for it.
func (s *Server) handleLeaderAndIsr(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.LeaderAndISRRequest)
	resp := r.ResponseKind().(*kmsg.LeaderAndISRResponse)
	type item struct {
		topic   string
		topicID [16]byte
		st      kmsg.LeaderAndISRRequestTopicPartition
		code    int16
	}
	var items []item
	if r.Version < 2 {
		for _, ps := range r.PartitionStates {
			items = append(items, item{topic: ps.Topic, st: ps})
		}
	} else {
		for _, ts := range r.TopicStates {
			for _, ps := range ts.PartitionStates {
				items = append(items, item{topic: ts.Topic, topicID: ts.TopicID, st: ps})
			}
		}
	}
	answer := func() (kmsg.Response, error) {
		if r.Version >= 5 {
			byTopic := map[string]int{}
			for _, it := range items {
				i, ok := byTopic[it.topic]
				if !ok {
					t := kmsg.NewLeaderAndISRResponseTopic()
					t.TopicID = it.topicID
					resp.Topics = append(resp.Topics, t)
					i = len(resp.Topics) - 1
					byTopic[it.topic] = i
				}
				resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, kmsg.LeaderAndISRResponseTopicPartition{Partition: it.st.Partition, ErrorCode: it.code})
			}
		} else {
			for _, it := range items {
				resp.Partitions = append(resp.Partitions, kmsg.LeaderAndISRResponseTopicPartition{Topic: it.topic, Partition: it.st.Partition, ErrorCode: it.code})
			}
		}
		return resp, nil
	}
	if e := s.checkControllerRequest(r.ControllerEpoch, r.BrokerEpoch); e != nil {
		s.logger.Warn("ignoring LeaderAndIsr", zap.Int32("controller", r.ControllerID), zap.Int32("controller_epoch", r.ControllerEpoch), zap.Error(e))
		resp.ErrorCode = e.Code
		return answer()
	}

	self := s.cfg.BrokerID
	var opens []openRequest
	var idx []int
	for i := range items {
		it := &items[i]
		if !slices.Contains(it.st.Replicas, self) {
			it.code = kerr.UnknownTopicOrPartition.Code
			continue
		}
		topicID := it.topicID
		if topicID == ([16]byte{}) {
			if tm, ok := s.meta.topic(it.topic); ok {
				topicID = tm.ID
			}
		}
		opens = append(opens, openRequest{tp: topicPartition{it.topic, it.st.Partition}, topicID: topicID, cfg: s.topicConfigFor(ctx, it.topic)})
		idx = append(idx, i)
	}
	ps, errs := s.replicas.openMany(opens)
	now := s.replicas.now()
	var follow []fetchAssignment
	for j, i := range idx {
		it := &items[i]
		if errs[j] != nil {
			s.logger.Error("open partition for LeaderAndIsr", zap.String("partition", opens[j].tp.String()), zap.Error(errs[j]))
			it.code = kerr.KafkaStorageError.Code
			continue
		}
		p := ps[j]
		st := partitionState{Leader: it.st.Leader, LeaderEpoch: it.st.LeaderEpoch, ISR: it.st.ISR, Replicas: it.st.Replicas,
			PartitionEpoch: it.st.ZKVersion, LeaderRecoveryState: it.st.LeaderRecoveryState}
		var err error
		if st.Leader == self {
			err = p.becomeLeader(st, now)
			if err == nil && st.LeaderRecoveryState == leaderRecovering {
				s.logger.Info("partition elected unclean is RECOVERING; this leader marks it RECOVERED",
					zap.String("partition", p.tp.String()), zap.Int32("leader_epoch", st.LeaderEpoch))
			}
			if err == nil {
				s.fetchers.remove(p.tp)
				s.txnStateLeadership(p, true, st.LeaderEpoch)
				s.logger.Info("leading partition", zap.String("partition", p.tp.String()), zap.Int32("leader_epoch", st.LeaderEpoch),
					zap.Int32s("isr", st.ISR), zap.Int64("log_end_offset", p.EndOffset()), zap.Int64("high_watermark", p.HighWatermark()))
			}
		} else {
			var changed bool
			changed, err = p.becomeFollower(st)
			if err == nil {
				s.txnStateLeadership(p, false, st.LeaderEpoch)
			}
			if err == nil && changed {
				s.fetchers.remove(p.tp)
				if st.Leader >= 0 {
					follow = append(follow, fetchAssignment{p: p, leader: st.Leader, epoch: st.LeaderEpoch})
				}
				s.logger.Info("following partition", zap.String("partition", p.tp.String()), zap.Int32("leader", st.Leader),
					zap.Int32("leader_epoch", st.LeaderEpoch), zap.Int64("log_end_offset", p.EndOffset()))
			}
		}
		if err != nil {
			var ke *kerr.Error
			if errors.As(err, &ke) {
				it.code = ke.Code
			} else {
				s.logger.Error("LeaderAndIsr", zap.String("partition", p.tp.String()), zap.Error(err))
				it.code = kerr.KafkaStorageError.Code
			}
		}
	}
	s.fetchers.add(follow)
	return answer()
}
