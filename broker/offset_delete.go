package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetDelete answers OffsetDelete v0. Partitions that do not exist
// answer UNKNOWN_TOPIC_OR_PARTITION, as in Kafka; the others go to the
// coordinator, whose group-level error (GROUP_ID_NOT_FOUND,
// NON_EMPTY_GROUP, NOT_COORDINATOR, ...) wins over per-partition codes.
func (s *Server) handleOffsetDelete(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.OffsetDeleteRequest)
	known := *r
	known.Topics = nil
	unknown := make(map[string]map[int32]bool)
	for _, t := range r.Topics {
		kt := t
		kt.Partitions = nil
		for _, p := range t.Partitions {
			if s.partitionExists(t.Topic, p.Partition) {
				kt.Partitions = append(kt.Partitions, p)
				continue
			}
			if unknown[t.Topic] == nil {
				unknown[t.Topic] = make(map[int32]bool)
			}
			unknown[t.Topic][p.Partition] = true
		}
		if len(kt.Partitions) > 0 {
			known.Topics = append(known.Topics, kt)
		}
	}
	resp := s.groups.OffsetDelete(ctx, &known)
	if resp.ErrorCode != 0 || len(unknown) == 0 {
		return resp, nil
	}
	codes := make(map[string]map[int32]int16)
	for _, t := range resp.Topics {
		m := make(map[int32]int16, len(t.Partitions))
		for _, p := range t.Partitions {
			m[p.Partition] = p.ErrorCode
		}
		codes[t.Topic] = m
	}
	resp.Topics = nil
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			if unknown[t.Topic][p.Partition] {
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				rp.ErrorCode = codes[t.Topic][p.Partition]
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}
