package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetDelete answers OffsetDelete v0. Partitions that do not exist
// answer UNKNOWN_TOPIC_OR_PARTITION, as in Kafka; the others go to the
// coordinator, whose group-level error (GROUP_ID_NOT_FOUND,
// NON_EMPTY_GROUP, NOT_COORDINATOR, ...) wins over per-partition codes.
func (s *Server) handleOffsetDelete(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.OffsetDeleteRequest)
	known := *r
	var unknown partitionSet
	known.Topics, unknown = splitKnownPartitions(s, r.Topics,
		func(t *kmsg.OffsetDeleteRequestTopic) string { return t.Topic },
		func(t *kmsg.OffsetDeleteRequestTopic) *[]kmsg.OffsetDeleteRequestTopicPartition { return &t.Partitions },
		func(p *kmsg.OffsetDeleteRequestTopicPartition) int32 { return p.Partition })
	resp := s.groups.OffsetDelete(ctx, &known)
	if resp.ErrorCode != 0 || len(unknown) == 0 {
		return resp, nil
	}
	codes := make(partitionCodes)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			codes.set(t.Topic, p.Partition, p.ErrorCode)
		}
	}
	resp.Topics = nil
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes.answer(unknown, t.Topic, p.Partition)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
