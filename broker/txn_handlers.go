package broker

import (
	"context"
	"time"

	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Versions before these answer INVALID_PRODUCER_EPOCH where newer ones
// answer PRODUCER_FENCED (KIP-588), as Kafka's KafkaApis maps them.
const (
	producerFencedInitProducerID  = 4
	producerFencedAddPartitions   = 2
	producerFencedAddOffsets      = 2
	producerFencedEndTxn          = 2
	producerFencedTxnOffsetCommit = 3
)

// fencedCode is e's code for a request of version v: PRODUCER_FENCED
// becomes INVALID_PRODUCER_EPOCH before firstFenced.
func fencedCode(e *kerr.Error, v, firstFenced int16) int16 {
	if e == nil {
		return 0
	}
	if e == kerr.ProducerFenced && v < firstFenced {
		return kerr.InvalidProducerEpoch.Code
	}
	return e.Code
}

// txnUnavailable reports whether the transaction coordinator is not
// running (a Server that was never Run): its requests answer
// COORDINATOR_NOT_AVAILABLE.
func (s *Server) txnUnavailable() bool { return s.txn == nil }

// initTxnProducerID answers InitProducerId with a transactional id
// (v0-5) through the transaction coordinator. From v3 the request may
// carry the producer's current id and epoch (KIP-360); both or neither.
func (s *Server) initTxnProducerID(ctx context.Context, r *kmsg.InitProducerIDRequest, resp *kmsg.InitProducerIDResponse) {
	var expected *txncoord.ProducerIDAndEpoch
	if r.Version >= 3 {
		switch {
		case r.ProducerID >= 0 && r.ProducerEpoch >= 0:
			expected = &txncoord.ProducerIDAndEpoch{ID: r.ProducerID, Epoch: r.ProducerEpoch}
		case r.ProducerID >= 0 || r.ProducerEpoch >= 0:
			resp.ErrorCode = kerr.InvalidRequest.Code
			return
		}
	}
	if s.txnUnavailable() {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return
	}
	pe, e := s.txn.InitProducerID(ctx, *r.TransactionalID, r.TransactionTimeoutMillis, expected)
	resp.ProducerID, resp.ProducerEpoch = pe.ID, pe.Epoch
	resp.ErrorCode = fencedCode(e, r.Version, producerFencedInitProducerID)
}

// handleAddPartitionsToTxn answers AddPartitionsToTxn v0-5. Clients send
// v0-3 with one transaction; brokers send v4+ with a batch of
// transactions, verify_only set to check (KIP-890) that partitions are
// already in the producer's transaction. Partitions of unknown topics are
// UNKNOWN_TOPIC_OR_PARTITION and the others of that transaction
// OPERATION_NOT_ATTEMPTED, nothing written.
func (s *Server) handleAddPartitionsToTxn(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AddPartitionsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	if r.Version < 4 {
		topics := make([]kmsg.AddPartitionsToTxnRequestTransactionTopic, 0, len(r.Topics))
		for _, t := range r.Topics {
			topics = append(topics, kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		res := s.addPartitionsToTxn(ctx, r.Version, kmsg.AddPartitionsToTxnRequestTransaction{
			TransactionalID: r.TransactionalID, ProducerID: r.ProducerID, ProducerEpoch: r.ProducerEpoch, Topics: topics})
		for _, t := range res.Topics {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.AddPartitionsToTxnResponseTopicPartition{Partition: p.Partition, ErrorCode: p.ErrorCode})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil
	}
	for _, t := range r.Transactions {
		resp.Transactions = append(resp.Transactions, s.addPartitionsToTxn(ctx, r.Version, t))
	}
	return resp, nil
}

// addPartitionsToTxn handles one transaction of AddPartitionsToTxn.
func (s *Server) addPartitionsToTxn(ctx context.Context, version int16, t kmsg.AddPartitionsToTxnRequestTransaction) kmsg.AddPartitionsToTxnResponseTransaction {
	out := kmsg.NewAddPartitionsToTxnResponseTransaction()
	out.TransactionalID = t.TransactionalID
	var tps []txncoord.TopicPartition
	unknown := map[txncoord.TopicPartition]bool{}
	for _, rt := range t.Topics {
		for _, p := range rt.Partitions {
			tp := txncoord.TopicPartition{Topic: rt.Topic, Partition: p}
			tps = append(tps, tp)
			if !s.txnPartitionExists(tp) {
				unknown[tp] = true
			}
		}
	}
	perPartition := map[txncoord.TopicPartition]int16{}
	var all *kerr.Error
	switch {
	case s.txnUnavailable():
		all = kerr.CoordinatorNotAvailable
	case len(unknown) > 0:
		for _, tp := range tps {
			perPartition[tp] = kerr.OperationNotAttempted.Code
			if unknown[tp] {
				perPartition[tp] = kerr.UnknownTopicOrPartition.Code
			}
		}
	case t.VerifyOnly:
		res, e := s.txn.Verify(t.TransactionalID, t.ProducerID, t.ProducerEpoch, tps)
		all = e
		for tp, pe := range res {
			perPartition[tp] = fencedCode(pe, version, producerFencedAddPartitions)
		}
	default:
		all = s.txn.AddPartitions(ctx, t.TransactionalID, t.ProducerID, t.ProducerEpoch, tps)
	}
	for _, rt := range t.Topics {
		ot := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		ot.Topic = rt.Topic
		for _, p := range rt.Partitions {
			code := perPartition[txncoord.TopicPartition{Topic: rt.Topic, Partition: p}]
			if all != nil {
				code = fencedCode(all, version, producerFencedAddPartitions)
			}
			ot.Partitions = append(ot.Partitions, kmsg.AddPartitionsToTxnResponseTransactionTopicPartition{Partition: p, ErrorCode: code})
		}
		out.Topics = append(out.Topics, ot)
	}
	return out
}

// txnPartitionExists reports whether a transaction may hold tp: a
// partition in the metadata cache, or one of the __consumer_offsets
// partitions, which gokafka has no log for but transactions still name
// (AddOffsetsToTxn; the verify-only form for TxnOffsetCommit).
func (s *Server) txnPartitionExists(tp txncoord.TopicPartition) bool {
	if tp.Topic == txncoord.OffsetsTopic {
		return tp.Partition >= 0 && tp.Partition < offsetsTopicPartitions
	}
	return s.partitionExists(tp.Topic, tp.Partition)
}

// handleAddOffsetsToTxn answers AddOffsetsToTxn v0-4: the group's
// __consumer_offsets partition joins the transaction.
func (s *Server) handleAddOffsetsToTxn(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AddOffsetsToTxnRequest)
	resp := r.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	if s.txnUnavailable() {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	e := s.txn.AddOffsets(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Group)
	resp.ErrorCode = fencedCode(e, r.Version, producerFencedAddOffsets)
	return resp, nil
}

// handleEndTxn answers EndTxn v0-4: commit or abort the transaction. The
// answer comes once the decision is written; markers follow.
func (s *Server) handleEndTxn(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.EndTxnRequest)
	resp := r.ResponseKind().(*kmsg.EndTxnResponse)
	if s.txnUnavailable() {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	e := s.txn.EndTxn(ctx, r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit)
	resp.ErrorCode = fencedCode(e, r.Version, producerFencedEndTxn)
	return resp, nil
}

// handleDescribeTransactions answers DescribeTransactions v0
// (kafka-transactions.sh describe).
func (s *Server) handleDescribeTransactions(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DescribeTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	if s.txnUnavailable() {
		for _, id := range r.TransactionalIDs {
			st := kmsg.NewDescribeTransactionsResponseTransactionState()
			st.TransactionalID, st.ErrorCode = id, kerr.CoordinatorNotAvailable.Code
			resp.TransactionStates = append(resp.TransactionStates, st)
		}
		return resp, nil
	}
	for _, d := range s.txn.Describe(r.TransactionalIDs) {
		st := kmsg.NewDescribeTransactionsResponseTransactionState()
		st.TransactionalID = d.TransactionalID
		st.StartTimestamp, st.ProducerID, st.ProducerEpoch = -1, -1, -1
		if d.Err != nil {
			st.ErrorCode = d.Err.Code
			resp.TransactionStates = append(resp.TransactionStates, st)
			continue
		}
		st.State, st.TimeoutMillis, st.StartTimestamp = d.State.String(), d.TimeoutMs, d.StartMs
		st.ProducerID, st.ProducerEpoch = d.ProducerID, d.ProducerEpoch
		for _, tg := range txncoord.GroupByTopic(d.Partitions) {
			t := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
			t.Topic, t.Partitions = tg.Topic, tg.Partitions
			st.Topics = append(st.Topics, t)
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return resp, nil
}

// handleListTransactions answers ListTransactions v0-1 (kafka-transactions.sh
// list) for the transactional ids this broker coordinates.
func (s *Server) handleListTransactions(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ListTransactionsRequest)
	resp := r.ResponseKind().(*kmsg.ListTransactionsResponse)
	if s.txnUnavailable() {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp, nil
	}
	f := txncoord.ListFilter{States: r.StateFilters, ProducerIDs: r.ProducerIDFilters}
	if r.Version >= 1 && r.DurationFilterMillis > 0 {
		f.MinDuration = time.Duration(r.DurationFilterMillis) * time.Millisecond
	}
	list, unknown, e := s.txn.List(f)
	resp.UnknownStateFilters = unknown
	if e != nil {
		resp.ErrorCode = e.Code
		return resp, nil
	}
	for _, l := range list {
		resp.TransactionStates = append(resp.TransactionStates, kmsg.ListTransactionsResponseTransactionState{
			TransactionalID: l.TransactionalID, ProducerID: l.ProducerID, TransactionState: l.State.String()})
	}
	return resp, nil
}
