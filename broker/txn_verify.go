package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"

	"github.com/gokafka/gokafka/txncoord"
)

// verifyTimeout bounds one verification round trip to the coordinator.
const verifyTimeout = 10 * time.Second

// txnVerifier asks the transaction coordinator whether a partition is in a
// producer's open transaction before the partition's leader appends that
// transaction's first batch to it (KIP-890; Kafka's
// AddPartitionsToTxnManager): AddPartitionsToTxn v4 with verify_only, or
// the local coordinator directly when this broker is the coordinator. It
// implements the partition side's TxnVerifier hook (txn_hooks.go), and
// maps the coordinator's answer to what Produce answers, as Kafka's
// ReplicaManager does: coordinator errors a producer should retry become
// NOT_ENOUGH_REPLICAS, PRODUCER_FENCED becomes INVALID_PRODUCER_EPOCH,
// TRANSACTION_ABORTABLE (a partition not in the transaction),
// INVALID_TXN_STATE and INVALID_PRODUCER_ID_MAPPING stay; the caller turns
// TRANSACTION_ABORTABLE into INVALID_TXN_STATE for requests of versions
// that predate it (abortableForVersion).
type txnVerifier struct {
	s       *Server
	clients *peerClients
}

func newTxnVerifier(s *Server) *txnVerifier {
	return &txnVerifier{s: s, clients: newPeerClients(s, "txn-verifier")}
}

// VerifyTxnPartition returns nil when topic-partition is in the open
// transaction of transactionalID's producer producerID at epoch.
func (v *txnVerifier) VerifyTxnPartition(ctx context.Context, transactionalID string, producerID int64, epoch int16, topic string, partition int32) *kerr.Error {
	e := v.verify(ctx, transactionalID, producerID, epoch, topic, partition)
	switch e {
	case nil:
		return nil
	case kerr.ConcurrentTransactions, kerr.CoordinatorLoadInProgress, kerr.CoordinatorNotAvailable, kerr.NotCoordinator:
		return kerr.NotEnoughReplicas
	case kerr.ProducerFenced:
		return kerr.InvalidProducerEpoch
	}
	return e
}

func (v *txnVerifier) verify(ctx context.Context, transactionalID string, producerID int64, epoch int16, topic string, partition int32) *kerr.Error {
	s := v.s
	node, e := s.txnCoordinatorNode(ctx, transactionalID)
	if e != nil {
		return e
	}
	tp := txncoord.TopicPartition{Topic: topic, Partition: partition}
	if node == s.cfg.BrokerID {
		res, e := s.txn.Verify(transactionalID, producerID, epoch, []txncoord.TopicPartition{tp})
		if e != nil {
			return e
		}
		return res[tp]
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	t := kmsg.NewAddPartitionsToTxnRequestTransaction()
	t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.VerifyOnly = transactionalID, producerID, epoch, true
	t.Topics = []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: topic, Partitions: []int32{partition}}}
	req.Transactions = append(req.Transactions, t)
	c, err := v.clients.get(node)
	if err != nil {
		return kerr.CoordinatorNotAvailable
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	raw, err := c.Request(ctx, req)
	if err != nil {
		s.logger.Debug("verifying a transactional partition", zap.Int32("coordinator", node), zap.Error(err))
		return kerr.CoordinatorNotAvailable
	}
	resp, ok := raw.(*kmsg.AddPartitionsToTxnResponse)
	if !ok {
		s.logger.Warn("verifying a transactional partition", zap.Error(fmt.Errorf("answer of type %T", raw)))
		return kerr.CoordinatorNotAvailable
	}
	if resp.ErrorCode != 0 {
		return kerr.ErrorForCode(resp.ErrorCode).(*kerr.Error)
	}
	for _, rt := range resp.Transactions {
		for _, t := range rt.Topics {
			for _, p := range t.Partitions {
				if t.Topic == topic && p.Partition == partition {
					if p.ErrorCode == 0 {
						return nil
					}
					return kerr.ErrorForCode(p.ErrorCode).(*kerr.Error)
				}
			}
		}
	}
	return kerr.CoordinatorNotAvailable
}

// abortableForVersion is e as a request answers it: TRANSACTION_ABORTABLE
// only when the request's version knows the error (Produce v11 and later,
// Kafka's genericError), else INVALID_TXN_STATE, as Kafka's
// AddPartitionsToTxnManager does for older clients.
func abortableForVersion(e *kerr.Error, knowsAbortable bool) *kerr.Error {
	if e == kerr.TransactionAbortable && !knowsAbortable {
		return kerr.InvalidTxnState
	}
	return e
}

// produceKnowsAbortable is the first Produce version whose clients handle
// TRANSACTION_ABORTABLE (KIP-890).
const produceKnowsAbortable = 11
