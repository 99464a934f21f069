package broker

import (
	"context"
	"errors"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetForLeaderEpoch answers OffsetForLeaderEpoch v0-4 (KIP-101,
// KIP-279): for each partition this broker leads, the largest leader epoch
// in its cache that is not above the requested one, and that epoch's end
// offset (the next epoch's start, or the log end for the latest). Followers
// truncate to it before fetching from a new leader. current_leader_epoch
// (v2+) is fenced as in Fetch; an epoch older than the cache answers
// epoch -1 and offset -1 (UNDEFINED_EPOCH_OFFSET). Only the leader answers
// (v3+ with a replica id, and consumers); others get NOT_LEADER_OR_FOLLOWER.
func (s *Server) handleOffsetForLeaderEpoch(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.OffsetForLeaderEpochRequest)
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range r.Topics {
		ot := kmsg.NewOffsetForLeaderEpochResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			op.Partition = rp.Partition
			op.LeaderEpoch = -1
			op.EndOffset = -1
			p, ok := s.replicas.get(topicPartition{rt.Topic, rp.Partition})
			current := int32(-1)
			if r.Version >= 2 {
				current = rp.CurrentLeaderEpoch
			}
			switch {
			case !ok:
				if _, known := s.meta.topic(rt.Topic); known {
					op.ErrorCode = kerr.NotLeaderForPartition.Code
				} else {
					op.ErrorCode = kerr.UnknownTopicOrPartition.Code
				}
			case p.isDeleted():
				op.ErrorCode = p.goneError().Code
			case !p.leading.Load():
				op.ErrorCode = kerr.NotLeaderForPartition.Code
			default:
				if err := p.checkLeaderEpoch(current); err != nil {
					var ke *kerr.Error
					errors.As(err, &ke)
					op.ErrorCode = ke.Code
					break
				}
				op.LeaderEpoch, op.EndOffset = p.endOffsetForEpoch(rp.LeaderEpoch)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp, nil
}
