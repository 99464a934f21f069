package broker

import (
	"context"
	"fmt"
	"slices"
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

// VerifyTxnPartitions answers, for each of tps, nil when it is in the
// open transaction of transactionalID's producer producerID at epoch, with
// one question to the coordinator for all of them.
func (v *txnVerifier) VerifyTxnPartitions(ctx context.Context, transactionalID string, producerID int64, epoch int16, tps []txncoord.TopicPartition) map[txncoord.TopicPartition]*kerr.Error {
	res, e := v.verifyAll(ctx, transactionalID, producerID, epoch, tps)
	out := make(map[txncoord.TopicPartition]*kerr.Error, len(tps))
	for _, tp := range tps {
		pe := e
		if pe == nil {
			pe = res[tp]
		}
		switch pe {
		case kerr.ConcurrentTransactions, kerr.CoordinatorLoadInProgress, kerr.CoordinatorNotAvailable, kerr.NotCoordinator:
			pe = kerr.NotEnoughReplicas
		case kerr.ProducerFenced:
			pe = kerr.InvalidProducerEpoch
		}
		out[tp] = pe
	}
	return out
}

// verify asks about one partition (TxnOffsetCommit's offsets partition),
// answering the coordinator's code unmapped.
func (v *txnVerifier) verify(ctx context.Context, transactionalID string, producerID int64, epoch int16, topic string, partition int32) *kerr.Error {
	tp := txncoord.TopicPartition{Topic: topic, Partition: partition}
	res, e := v.verifyAll(ctx, transactionalID, producerID, epoch, []txncoord.TopicPartition{tp})
	if e != nil {
		return e
	}
	return res[tp]
}

// verifyAll asks the coordinator about tps in one verify-only
// AddPartitionsToTxn (or the local coordinator directly). It returns the
// coordinator's code for each partition, or one error for all of them; a
// partition missing from the answer is COORDINATOR_NOT_AVAILABLE.
func (v *txnVerifier) verifyAll(ctx context.Context, transactionalID string, producerID int64, epoch int16, tps []txncoord.TopicPartition) (map[txncoord.TopicPartition]*kerr.Error, *kerr.Error) {
	s := v.s
	node, e := s.txnCoordinatorNode(ctx, transactionalID)
	if e != nil {
		return nil, e
	}
	if node == s.cfg.BrokerID {
		return s.txn.Verify(transactionalID, producerID, epoch, tps)
	}
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 4
	t := kmsg.NewAddPartitionsToTxnRequestTransaction()
	t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.VerifyOnly = transactionalID, producerID, epoch, true
	for _, tp := range tps {
		i := slices.IndexFunc(t.Topics, func(rt kmsg.AddPartitionsToTxnRequestTransactionTopic) bool { return rt.Topic == tp.Topic })
		if i < 0 {
			t.Topics = append(t.Topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: tp.Topic})
			i = len(t.Topics) - 1
		}
		t.Topics[i].Partitions = append(t.Topics[i].Partitions, tp.Partition)
	}
	req.Transactions = append(req.Transactions, t)
	c, err := v.clients.get(node)
	if err != nil {
		return nil, kerr.CoordinatorNotAvailable
	}
	ctx, cancel := context.WithTimeout(ctx, verifyTimeout)
	defer cancel()
	raw, err := c.Request(ctx, req)
	if err != nil {
		s.logger.Debug("verifying transactional partitions", zap.Int32("coordinator", node), zap.Error(err))
		return nil, kerr.CoordinatorNotAvailable
	}
	resp, ok := raw.(*kmsg.AddPartitionsToTxnResponse)
	if !ok {
		s.logger.Warn("verifying transactional partitions", zap.Error(fmt.Errorf("answer of type %T", raw)))
		return nil, kerr.CoordinatorNotAvailable
	}
	if resp.ErrorCode != 0 {
		return nil, codeError(resp.ErrorCode)
	}
	out := make(map[txncoord.TopicPartition]*kerr.Error, len(tps))
	for _, tp := range tps {
		out[tp] = kerr.CoordinatorNotAvailable
	}
	for _, rt := range resp.Transactions {
		if rt.TransactionalID != transactionalID {
			continue
		}
		for _, t := range rt.Topics {
			for _, p := range t.Partitions {
				tp := txncoord.TopicPartition{Topic: t.Topic, Partition: p.Partition}
				if _, asked := out[tp]; asked {
					out[tp] = codeError(p.ErrorCode)
				}
			}
		}
	}
	return out, nil
}

// codeError is the error of a Kafka error code: nil for 0, and
// UNKNOWN_SERVER_ERROR for a code franz-go does not know.
func codeError(code int16) *kerr.Error {
	if code == 0 {
		return nil
	}
	if e, ok := kerr.ErrorForCode(code).(*kerr.Error); ok {
		return e
	}
	return kerr.UnknownServerError
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
