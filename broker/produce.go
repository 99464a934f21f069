package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Decompressed-size bound for validating compressed batches: a batch may
// expand to decompressionFactor times the topic's max.message.bytes, but
// never less than minDecompressedBatchBytes (so small max.message.bytes
// settings still accept well-compressible data) nor more than
// maxDecompressedBatchBytes (so a tiny batch cannot make the broker
// allocate gigabytes, whatever the topic allows).
const (
	decompressionFactor       = 8
	minDecompressedBatchBytes = 64 << 20
	maxDecompressedBatchBytes = 512 << 20
)

// decompressedLimit is the decompressed-size bound for one batch of a topic
// whose max.message.bytes is maxMessageBytes.
func decompressedLimit(maxMessageBytes int32) int {
	n := int64(maxMessageBytes) * decompressionFactor
	n = max(n, minDecompressedBatchBytes)
	n = min(n, maxDecompressedBatchBytes)
	return int(n)
}

// zstdMinProduceVersion is the first Produce version that may carry zstd
// batches (KIP-110); older requests get UNSUPPORTED_COMPRESSION_TYPE.
const zstdMinProduceVersion = 7

// firstBatchProduceVersion is the first Produce version that carries
// magic-v2 record batches; v0-2 carry message sets of format v0 and v1,
// which are validated and converted to one v2 batch before the append
// (wire.UpConvertMessageSet), as Kafka 3.x stores v2 only.
const firstBatchProduceVersion = 3

// handleProduce answers Produce v0-11. Each partition is checked and
// appended on its own, so a bad batch for one partition never affects the
// others in the same request.
//
// Transactional batches (txn_produce.go) need the request's transactional
// id: without one every partition gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
// as Kafka answers. Control batches from clients are INVALID_RECORD.
//
// With acks=0 nothing is sent back, but the records are still appended;
// when any partition failed, the connection is closed instead, as Kafka
// does, so that the client notices and refreshes its metadata.
func (s *Server) handleProduce(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ProduceRequest)
	resp := r.ResponseKind().(*kmsg.ProduceResponse)

	var topLevel *kerr.Error
	switch {
	case r.TransactionID == nil && hasTransactionalBatch(r):
		topLevel = kerr.TransactionalIDAuthorizationFailed
	case r.Acks != -1 && r.Acks != 0 && r.Acks != 1:
		topLevel = kerr.InvalidRequiredAcks
	}

	var pre [][]txnPrecheck
	if topLevel == nil {
		pre = s.verifyTransactionalPartitions(ctx, r)
	}
	failed := false
	var pending []pendingAck
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			if topLevel != nil {
				sp.ErrorCode = topLevel.Code
			} else if pa := s.producePartition(ctx, r, rt.Topic, rp, &sp, precheckAt(pre, i, j)); pa != nil {
				pa.topic, pa.part = i, j
				pending = append(pending, *pa)
			}
			if sp.ErrorCode != 0 {
				failed = true
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if len(pending) > 0 {
		// The batches are appended; the answer waits for the followers
		// while the connection goes on with the producer's next request
		// (wire.DeferredResponse). The timeout counts from now, not from
		// when the connection's writer gets to this response.
		deadline := time.Now().Add(time.Duration(max(r.TimeoutMillis, 0)) * time.Millisecond)
		return &wire.DeferredResponse{
			Response: resp,
			Wait: func(wctx context.Context) {
				s.awaitAcks(wctx, deadline, pending, resp)
			},
		}, nil
	}
	if r.Acks == 0 {
		if failed {
			return nil, errors.New("produce with acks=0 failed for some partition: closing the connection so the client refreshes its metadata")
		}
		return nil, nil
	}
	return resp, nil
}

// precheckAt is the transactional verification of the request's
// partition j of topic i, nil when the request needed none.
func precheckAt(pre [][]txnPrecheck, i, j int) *txnPrecheck {
	if pre == nil {
		return nil
	}
	return &pre[i][j]
}

// pendingAck is an appended batch that acks=all waits on.
type pendingAck struct {
	p           *Partition
	last        int64
	minISR      int32
	topic, part int // indexes of its response partition
}

// producePartition checks, validates and appends one partition's batch,
// filling sp. With acks=all it returns what the answer must wait for.
func (s *Server) producePartition(ctx context.Context, r *kmsg.ProduceRequest, topic string, rp *kmsg.ProduceRequestTopicPartition, sp *kmsg.ProduceResponseTopicPartition, pre *txnPrecheck) *pendingAck {
	fail := func(e *kerr.Error, msg string) {
		sp.ErrorCode = e.Code
		if msg != "" && r.Version >= 8 {
			sp.ErrorMessage = &msg
		}
	}
	tm, ok := s.meta.topic(topic)
	if !ok {
		fail(kerr.UnknownTopicOrPartition, "")
		return nil
	}
	pm, ok := tm.Partitions[rp.Partition]
	if !ok {
		fail(kerr.UnknownTopicOrPartition, "")
		return nil
	}
	tp := topicPartition{topic, rp.Partition}
	p, ok := s.replicas.get(tp)
	if !ok {
		fail(kerr.NotLeaderForPartition, "")
		return nil
	}
	_ = pm
	if p.isOffline() {
		// A replica in a failed log dir answers so whatever its role
		// (the controller may already have taken its leadership), as
		// Kafka's getPartitionOrException does; ListOffsets and Fetch
		// check the same first.
		fail(kerr.KafkaStorageError, "")
		return nil
	}
	if !p.leading.Load() {
		fail(kerr.NotLeaderForPartition, "")
		return nil
	}
	cfg := p.config()
	if r.Acks == -1 {
		// Kafka checks min.insync.replicas against the ISR the leader
		// holds, before the append.
		isr, leading := p.isrSize()
		if !leading {
			fail(kerr.NotLeaderForPartition, "")
			return nil
		}
		if int32(isr) < cfg.MinInsyncReplicas {
			fail(kerr.NotEnoughReplicas, fmt.Sprintf("the in-sync replica set has %d members, min.insync.replicas is %d", isr, cfg.MinInsyncReplicas))
			return nil
		}
	}
	legacy := r.Version < firstBatchProduceVersion && !isBatchV2(rp.Records)
	// A v2 set is one batch, so its length is the batch's. A v0/v1 set
	// holds many messages: as in Kafka, each message and the converted
	// batch are held to max.message.bytes, not the set.
	if !legacy && len(rp.Records) > int(cfg.MaxMessageBytes) {
		fail(kerr.MessageTooLarge, fmt.Sprintf("the batch is %d bytes, max.message.bytes is %d", len(rp.Records), cfg.MaxMessageBytes))
		return nil
	}
	vcfg := wire.ValidateConfig{
		MaxBatchBytes:        int(cfg.MaxMessageBytes),
		MaxDecompressedBytes: decompressedLimit(cfg.MaxMessageBytes),
		RequireKeys:          cfg.Log.Compact,
	}
	records := rp.Records
	if legacy {
		start := time.Now()
		converted, err := wire.UpConvertMessageSet(records, vcfg)
		s.conversions.produced.Add(1)
		s.conversions.producedBytes.Add(int64(len(records)))
		s.conversions.produceNanos.Add(int64(time.Since(start)))
		if err != nil {
			fail(validationError(err), err.Error())
			return nil
		}
		records = converted
	}
	bh, err := wire.ValidateProduceBatch(records, vcfg)
	if errors.Is(err, wire.ErrKeylessCompacted) {
		// Kafka's words (LogValidator.validateKey).
		fail(kerr.InvalidRecord, fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s.", p.tp))
		return nil
	}
	if err != nil {
		fail(validationError(err), err.Error())
		return nil
	}
	var tv txnVerification
	var e *kerr.Error
	var msg string
	switch {
	case bh.Compression() == 4 && r.Version < zstdMinProduceVersion:
		fail(kerr.UnsupportedCompressionType, fmt.Sprintf("zstd batches need Produce v%d or later", zstdMinProduceVersion))
		return nil
	case bh.IsControl():
		fail(kerr.InvalidRecord, "clients may not append control batches")
		return nil
	case bh.IsTransactional():
		if tv, e, msg = s.checkTransactionalBatch(ctx, r, p, bh, pre); e != nil {
			fail(e, msg)
			return nil
		}
	}
	res, err := p.append(records, bh, s.leadershipFenced, s.replicas.now(), tv)
	if err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			fail(ke, "")
			return nil
		}
		s.logger.Error("produce", zap.String("partition", tp.String()), zap.Error(err))
		fail(kerr.KafkaStorageError, "")
		return nil
	}
	sp.BaseOffset = res.BaseOffset
	sp.LogAppendTime = res.LogAppendTime
	sp.LogStartOffset = res.LogStartOffset
	if r.Acks == -1 {
		// A batch its own append committed (the leader alone in the ISR)
		// is answered now, so that a request with nothing left to wait
		// for goes out from the reading goroutine rather than through
		// the connection's writer. The watermark is read without the
		// lock first: a batch that waits for followers is not committed
		// yet, and skips the lock.
		if p.HighWatermark() > res.LastOffset {
			if done, e := p.ackState(res.LastOffset, cfg.MinInsyncReplicas); done {
				if e != nil {
					sp.ErrorCode = e.Code
				}
				return nil
			}
		}
		return &pendingAck{p: p, last: res.LastOffset, minISR: cfg.MinInsyncReplicas}
	}
	return nil
}

// awaitAcks waits until each acks=all batch is committed (the high
// watermark passed it with at least min.insync.replicas in the ISR), as
// Kafka's DelayedProduce does, for at most the request's timeout: then
// REQUEST_TIMED_OUT. A partition whose ISR shrank below
// min.insync.replicas meanwhile answers NOT_ENOUGH_REPLICAS_AFTER_APPEND,
// one whose leadership moved NOT_LEADER_OR_FOLLOWER. A single-replica
// partition is committed by its own append and never waits.
func (s *Server) awaitAcks(ctx context.Context, deadline time.Time, pending []pendingAck, resp *kmsg.ProduceResponse) {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for _, pa := range pending {
		resp.Topics[pa.topic].Partitions[pa.part].ErrorCode = waitCommitted(wctx, &pa)
	}
}

// isBatchV2 reports whether records opens with a magic-v2 batch: a
// Produce v0-2 request from a client that knows format v2 may carry one,
// which takes the v3+ path.
func isBatchV2(records []byte) bool {
	magic, ok := wire.RecordsMagic(records)
	return ok && magic == 2
}

// validationError maps a wire batch-validation error to its Kafka code.
func validationError(err error) *kerr.Error {
	switch {
	case errors.Is(err, wire.ErrMessageTooLarge):
		return kerr.MessageTooLarge
	case errors.Is(err, wire.ErrUnsupportedCompression):
		return kerr.UnsupportedCompressionType
	case errors.Is(err, wire.ErrInvalidRecord):
		return kerr.InvalidRecord
	case errors.Is(err, wire.ErrInvalidTimestamp):
		return kerr.InvalidTimestamp
	default:
		return kerr.CorruptMessage
	}
}
