package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetCommit answers OffsetCommit v0-9. As in Kafka, a partition
// that does not exist (unknown topic, or a partition number past the
// topic's count) answers UNKNOWN_TOPIC_OR_PARTITION and is not committed;
// the rest go to the coordinator as one commit. When no partition is
// known the coordinator is not asked at all (Kafka sends the response
// directly, too). Version 0 is the ZooKeeper-era commit that any broker
// writes itself (groupcoord's CommitZooKeeperOffsets).
func (s *Server) handleOffsetCommit(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.OffsetCommitRequest)
	commit := s.groups.OffsetCommit
	if r.Version == 0 {
		commit = s.groups.CommitZooKeeperOffsets
	}
	known := *r
	var unknown partitionSet
	known.Topics, unknown = splitKnownPartitions(s, r.Topics,
		func(t *kmsg.OffsetCommitRequestTopic) string { return t.Topic },
		func(t *kmsg.OffsetCommitRequestTopic) *[]kmsg.OffsetCommitRequestTopicPartition { return &t.Partitions },
		func(p *kmsg.OffsetCommitRequestTopicPartition) int32 { return p.Partition })
	if len(unknown) == 0 {
		return commit(ctx, r), nil
	}

	codes := make(partitionCodes)
	if len(known.Topics) > 0 {
		for _, t := range commit(ctx, &known).Topics {
			for _, p := range t.Partitions {
				codes.set(t.Topic, p.Partition, p.ErrorCode)
			}
		}
	}
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes.answer(unknown, t.Topic, p.Partition)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
