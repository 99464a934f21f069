package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetCommit answers OffsetCommit v0-9. As in Kafka, a partition
// that does not exist (unknown topic, or a partition number past the
// topic's count) answers UNKNOWN_TOPIC_OR_PARTITION and is not committed;
// the rest go to the coordinator as one atomic commit. When no partition is
// known the coordinator is not asked at all (Kafka sends the response
// directly, too).
func (s *Server) handleOffsetCommit(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.OffsetCommitRequest)
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
	if len(unknown) == 0 {
		return s.groups.OffsetCommit(ctx, r), nil
	}

	codes := make(map[string]map[int32]int16)
	if len(known.Topics) > 0 {
		for _, t := range s.groups.OffsetCommit(ctx, &known).Topics {
			m := make(map[int32]int16, len(t.Partitions))
			for _, p := range t.Partitions {
				m[p.Partition] = p.ErrorCode
			}
			codes[t.Topic] = m
		}
	}
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetCommitResponseTopicPartition()
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

// partitionExists reports whether topic has partition p in the metadata
// cache.
func (s *Server) partitionExists(topic string, p int32) bool {
	tm, ok := s.meta.topic(topic)
	if !ok {
		return false
	}
	_, ok = tm.Partitions[p]
	return ok
}
