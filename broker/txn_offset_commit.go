package broker

import (
	"context"

	"github.com/gokafka/gokafka/groupcoord"
	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
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
//
// First the transaction coordinator confirms that the group's
// __consumer_offsets partition is in the producer's open transaction at
// this epoch (KIP-890's verification, which Kafka also applies to
// TxnOffsetCommit). Kafka fences a zombie's TxnOffsetCommit by the producer
// epoch of its append to __consumer_offsets; gokafka has no such log, so
// this check is what keeps a fenced producer's offsets out of its
// successor's transaction.
func (s *Server) handleTxnOffsetCommit(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.TxnOffsetCommitRequest)
	// The guard is taken before the coordinator's round trip: a marker of
	// the producer for the group's offsets partition arriving meanwhile
	// drops it, and the offsets are then refused (INVALID_TXN_STATE)
	// instead of staying pending in a transaction that is over.
	var guard *groupcoord.TxnOffsetGuard
	if s.groups != nil {
		guard = s.groups.StartTxnOffsetVerification(txncoord.PartitionFor(r.Group, offsetsTopicPartitions), r.ProducerID)
	}
	if code := s.verifyTxnOffsetCommit(ctx, r); code != 0 {
		if s.groups != nil {
			s.groups.ReleaseTxnOffsetVerification(guard)
		}
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, t := range r.Topics {
			rt := kmsg.NewTxnOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.TxnOffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: code})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
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
		for _, t := range s.groups.TxnOffsetCommit(ctx, &known, guard).Topics {
			for _, p := range t.Partitions {
				code := p.ErrorCode
				if code == kerr.ProducerFenced.Code {
					// The stored pending offsets are of a newer epoch.
					code = fencedCode(kerr.ProducerFenced, r.Version, producerFencedTxnOffsetCommit)
				}
				codes.set(t.Topic, p.Partition, code)
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

// txnOffsetsVerifyFunc asks the transaction coordinator whether topic's
// partition is in the producer's transaction at epoch (txnVerifier.verify).
type txnOffsetsVerifyFunc func(ctx context.Context, transactionalID string, producerID int64, epoch int16, topic string, partition int32) *kerr.Error

// verifyTxnOffsetCommit asks the transaction coordinator whether the
// group's __consumer_offsets partition is in r's transaction, and returns
// the code to answer with (0: go on). A coordinator that cannot answer now
// is COORDINATOR_NOT_AVAILABLE, which the producer retries.
func (s *Server) verifyTxnOffsetCommit(ctx context.Context, r *kmsg.TxnOffsetCommitRequest) int16 {
	verify := s.verifyTxnOffsets
	if verify == nil {
		if s.txnVerify == nil {
			return kerr.CoordinatorNotAvailable.Code
		}
		verify = s.txnVerify.verify
	}
	tp := txncoord.PartitionFor(r.Group, offsetsTopicPartitions)
	// No TxnOffsetCommit version of Kafka 3.9 knows
	// TRANSACTION_ABORTABLE.
	switch e := abortableForVersion(verify(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, txncoord.OffsetsTopic, tp), false); e {
	case nil:
		return 0
	case kerr.ConcurrentTransactions, kerr.CoordinatorLoadInProgress, kerr.CoordinatorNotAvailable, kerr.NotCoordinator:
		return kerr.CoordinatorNotAvailable.Code
	default:
		s.logger.Info("TxnOffsetCommit refused", zap.String("transactional_id", r.TransactionalID), zap.String("group", r.Group),
			zap.Int64("producer_id", r.ProducerID), zap.Int16("producer_epoch", r.ProducerEpoch), zap.String("error", e.Message))
		return fencedCode(e, r.Version, producerFencedTxnOffsetCommit)
	}
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
	// First drop any verification of the producer in flight for this
	// partition, so that its offsets cannot be stored after this marker
	// has looked for them.
	m.s.groups.EndTxnOffsetVerification(offsetsPartition, producerID)
	err := m.s.groups.CompleteTxnOffsets(ctx, producerID, epoch, commit, func(group string) bool {
		return txncoord.PartitionFor(group, offsetsTopicPartitions) == offsetsPartition
	})
	if err != nil {
		return kerr.CoordinatorNotAvailable
	}
	return nil
}
