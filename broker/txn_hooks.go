package broker

import (
	"context"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gokafka/gokafka/txncoord"
)

// TxnVerifier checks with the transaction coordinator that partitions are
// part of a producer's ongoing transaction before they accept the
// transaction's first batch (KIP-890: Kafka's leader sends one
// AddPartitionsToTxn with verify_only to the coordinator for all the
// partitions of a Produce request). It returns, for each partition, nil
// when the batch may be appended, or the error code the Produce answer
// carries (TRANSACTION_ABORTABLE when the partition is not in the
// transaction, a coordinator error when it cannot be asked, ...).
//
// The transaction coordinator implements it and installs it with
// SetTxnVerifier. Without one, every transactional batch is accepted as
// far as verification goes (what Kafka does with
// transaction.partition.verification.enable=false).
type TxnVerifier interface {
	VerifyTxnPartitions(ctx context.Context, transactionalID string, producerID int64, epoch int16, tps []txncoord.TopicPartition) map[txncoord.TopicPartition]*kerr.Error
}

// TxnOffsetsMarker applies a transaction marker to the offsets a
// transaction committed for a group (TxnOffsetCommit): with commit the
// pending offsets of producerID for the groups of offsetsPartition become
// committed (ZooKeeper, as gokafka keeps them), otherwise they are dropped
// (Kafka's GroupCoordinator.onTransactionCompleted). It returns nil when
// done, or the error for that partition in the WriteTxnMarkers answer.
//
// gokafka has no __consumer_offsets log: a marker for a partition of that
// topic goes to this hook instead of a log. The component that implements
// TxnOffsetCommit installs it with SetTxnOffsetsMarker; without one such a
// marker answers UNKNOWN_TOPIC_OR_PARTITION.
type TxnOffsetsMarker interface {
	CompleteTxnOffsets(ctx context.Context, producerID int64, epoch int16, coordinatorEpoch int32, commit bool, offsetsPartition int32) *kerr.Error
}

// txnHooks holds the installed hooks; each is read on its path without a
// lock.
type txnHooks struct {
	verifier atomic.Pointer[TxnVerifier]
	offsets  atomic.Pointer[TxnOffsetsMarker]
}

// SetTxnVerifier installs (or, with nil, removes) the KIP-890 verifier.
func (s *Server) SetTxnVerifier(v TxnVerifier) {
	if v == nil {
		s.txnHooks.verifier.Store(nil)
		return
	}
	s.txnHooks.verifier.Store(&v)
}

// SetTxnOffsetsMarker installs (or, with nil, removes) the hook that applies
// markers to transactional offset commits.
func (s *Server) SetTxnOffsetsMarker(m TxnOffsetsMarker) {
	if m == nil {
		s.txnHooks.offsets.Store(nil)
		return
	}
	s.txnHooks.offsets.Store(&m)
}
