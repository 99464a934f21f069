package broker

import (
	"context"

	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// offsetsTopicPartitions is offsets.topic.num.partitions at Kafka's
// default: gokafka keeps offsets in ZooKeeper and has no
// __consumer_offsets log, but a transaction still names the partition of
// each group it commits offsets for (AddOffsetsToTxn), as Kafka's does.
const offsetsTopicPartitions = txncoord.DefaultOffsetsPartitions

// handleTxnOffsetCommit answers TxnOffsetCommit v0-4, sent to the group's
// coordinator: the offsets wait, pending, for the transaction's marker
// (groupcoord.TxnOffsetCommit). Partitions that do not exist answer
// UNKNOWN_TOPIC_OR_PARTITION, as in OffsetCommit.
func (s *Server) handleTxnOffsetCommit(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.TxnOffsetCommitRequest)
	known := *r
	var unknown partitionSet
	known.Topics, unknown = splitKnownPartitions(s, r.Topics,
		func(t *kmsg.TxnOffsetCommitRequestTopic) string { return t.Topic },
		func(t *kmsg.TxnOffsetCommitRequestTopic) *[]kmsg.TxnOffsetCommitRequestTopicPartition {
			return &t.Partitions
		},
		func(p *kmsg.TxnOffsetCommitRequestTopicPartition) int32 { return p.Partition })
	codes := make(partitionCodes)
	if len(known.Topics) > 0 {
		for _, t := range s.groups.TxnOffsetCommit(ctx, &known).Topics {
			for _, p := range t.Partitions {
				codes.set(t.Topic, p.Partition, p.ErrorCode)
			}
		}
	}
	resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	for _, t := range r.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode = codes.answer(unknown, t.Topic, p.Partition)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// txnOffsetsMarker applies a transaction marker for a partition of
// __consumer_offsets to the offsets that transaction committed in this
// broker's groups of that partition. It has the signature of the partition
// side's TxnOffsetsMarker hook (WriteTxnMarkers), and the marker writer
// calls it directly when the marker's target is this broker.
type txnOffsetsMarker struct{ s *Server }

// CompleteTxnOffsets commits or drops producerID's pending offsets of the
// groups in offsetsPartition; a store failure is
// COORDINATOR_NOT_AVAILABLE, which the coordinator retries.
func (m txnOffsetsMarker) CompleteTxnOffsets(ctx context.Context, producerID int64, epoch int16, coordinatorEpoch int32, commit bool, offsetsPartition int32) *kerr.Error {
	if m.s.groups == nil {
		return kerr.CoordinatorNotAvailable
	}
	err := m.s.groups.CompleteTxnOffsets(ctx, producerID, commit, func(group string) bool {
		return txncoord.PartitionFor(group, offsetsTopicPartitions) == offsetsPartition
	})
	if err != nil {
		return kerr.CoordinatorNotAvailable
	}
	return nil
}
