package broker

import (
	"context"
	"github.com/gokafka/gokafka/txncoord"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// handleStopReplica answers StopReplica v0-4 from the controller: each
// partition stops being fetched and served; with delete (topic deletion)
// its log is removed from disk. Only this request deletes data: a topic
// that merely disappears from ZooKeeper keeps its logs.
func (s *Server) handleStopReplica(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.StopReplicaRequest)
	resp := r.ResponseKind().(*kmsg.StopReplicaResponse)
	type item struct {
		tp    topicPartition
		del   bool
		epoch int32 // -1: none given; -2: the topic is being deleted
	}
	var items []item
	for _, t := range r.Topics {
		switch {
		case r.Version >= 3:
			for _, ps := range t.PartitionStates {
				items = append(items, item{topicPartition{t.Topic, ps.Partition}, ps.Delete, ps.LeaderEpoch})
			}
		case r.Version >= 1:
			for _, p := range t.Partitions {
				items = append(items, item{topicPartition{t.Topic, p}, r.DeletePartitions, -1})
			}
		default:
			items = append(items, item{topicPartition{t.Topic, t.Partition}, r.DeletePartitions, -1})
		}
	}
	if e := s.checkControllerRequest(r.ControllerEpoch, r.BrokerEpoch); e != nil {
		s.logger.Warn("ignoring StopReplica", zap.Int32("controller", r.ControllerID), zap.Int32("controller_epoch", r.ControllerEpoch), zap.Error(e))
		resp.ErrorCode = e.Code
		return resp, nil
	}
	for _, it := range items {
		// A request for an older leader epoch than the partition's is
		// stale (Kafka: FENCED_LEADER_EPOCH); -1 (none) and -2 (topic
		// deletion) always apply.
		if p, ok := s.replicas.get(it.tp); ok && it.epoch >= 0 && it.epoch < p.LeaderEpoch() {
			s.logger.Warn("ignoring StopReplica for an older leader epoch", zap.String("partition", it.tp.String()),
				zap.Int32("request_epoch", it.epoch), zap.Int32("leader_epoch", p.LeaderEpoch()))
			resp.Partitions = append(resp.Partitions, kmsg.StopReplicaResponsePartition{Topic: it.tp.Topic, Partition: it.tp.Partition, ErrorCode: kerr.FencedLeaderEpoch.Code})
			continue
		}
		s.fetchers.remove(it.tp)
		if it.tp.Topic == txncoord.TopicName && s.txn != nil {
			s.txn.Unload(it.tp.Partition, -1)
		}
		code := int16(0)
		if err := s.replicas.stopPartition(it.tp, it.del, it.epoch < 0); err != nil {
			s.logger.Error("stop replica", zap.String("partition", it.tp.String()), zap.Bool("delete", it.del), zap.Error(err))
			code = kerr.KafkaStorageError.Code
		}
		if it.del && it.epoch < 0 { // see stopPartition
			// Only a topic deletion (epoch -2, or no epoch from an old
			// controller) forgets the topic's config: a reassignment
			// that moves one partition away deletes it with a real
			// epoch and leaves the others here, which must go on
			// seeing config changes.
			s.forgetTopicConfig(it.tp.Topic)
		}
		resp.Partitions = append(resp.Partitions, kmsg.StopReplicaResponsePartition{Topic: it.tp.Topic, Partition: it.tp.Partition, ErrorCode: code})
	}
	return resp, nil
}
