package broker

import (
	"context"
	"errors"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// markerOffsetsTopic is Kafka's internal topic for group offsets. gokafka keeps
// offsets in ZooKeeper and has no such log: markers for its partitions go
// to the TxnOffsetsMarker hook.
const markerOffsetsTopic = "__consumer_offsets"

// markerAckTimeout bounds how long a marker waits for the ISR: Kafka
// appends markers with acks=-1 and request.timeout.ms (30000 by default)
// as the timeout.
const markerAckTimeout = 30 * time.Second

// markerTarget is one partition of one marker in a WriteTxnMarkers
// request, with where its answer goes.
type markerTarget struct {
	marker, topic, part int
	pending             *pendingAck
}

// handleWriteTxnMarkers answers WriteTxnMarkers v0-1, which the
// transaction coordinator sends to partition leaders when a transaction
// ends. For each marker and partition it appends a COMMIT or ABORT control
// batch as the leader (Partition.appendMarker), then waits, as Kafka's
// appendRecords with acks=-1 and origin COORDINATOR does, until the ISR has
// it (at most request.timeout.ms: REQUEST_TIMED_OUT). Errors per
// partition: UNKNOWN_TOPIC_OR_PARTITION for a partition this cluster does
// not have, NOT_LEADER_OR_FOLLOWER when this broker does not lead it,
// NOT_ENOUGH_REPLICAS when the ISR is below min.insync.replicas,
// INVALID_PRODUCER_EPOCH for an epoch older than the producer's,
// TRANSACTION_COORDINATOR_FENCED for an older coordinator epoch.
func (s *Server) handleWriteTxnMarkers(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.WriteTxnMarkersRequest)
	resp := r.ResponseKind().(*kmsg.WriteTxnMarkersResponse)
	var waits []markerTarget
	for i := range r.Markers {
		m := &r.Markers[i]
		rm := kmsg.NewWriteTxnMarkersResponseMarker()
		rm.ProducerID = m.ProducerID
		for j := range m.Topics {
			mt := &m.Topics[j]
			rt := kmsg.NewWriteTxnMarkersResponseMarkerTopic()
			rt.Topic = mt.Topic
			for k, part := range mt.Partitions {
				rp := kmsg.NewWriteTxnMarkersResponseMarkerTopicPartition()
				rp.Partition = part
				pa, e := s.writeMarker(ctx, m, mt.Topic, part)
				if e != nil {
					rp.ErrorCode = e.Code
				}
				if pa != nil {
					waits = append(waits, markerTarget{marker: i, topic: j, part: k, pending: pa})
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			rm.Topics = append(rm.Topics, rt)
		}
		resp.Markers = append(resp.Markers, rm)
	}
	if len(waits) == 0 {
		return resp, nil
	}
	deadline := time.Now().Add(markerAckTimeout)
	return &wire.DeferredResponse{
		Response: resp,
		Wait: func(wctx context.Context) {
			s.awaitMarkers(wctx, deadline, waits, resp)
		},
	}, nil
}

// writeMarker appends one marker to one partition. It returns what the
// answer waits for, or the partition's error.
func (s *Server) writeMarker(ctx context.Context, m *kmsg.WriteTxnMarkersRequestMarker, topic string, part int32) (*pendingAck, *kerr.Error) {
	tm, ok := s.meta.topic(topic)
	if ok {
		_, ok = tm.Partitions[part]
	}
	if !ok {
		if topic == markerOffsetsTopic {
			return nil, s.markOffsets(ctx, m, part)
		}
		return nil, kerr.UnknownTopicOrPartition
	}
	p, ok := s.replicas.get(topicPartition{topic, part})
	if !ok {
		return nil, kerr.NotLeaderForPartition
	}
	cfg := p.config()
	isr, leading := p.isrSize()
	if !leading {
		return nil, kerr.NotLeaderForPartition
	}
	if int32(isr) < cfg.MinInsyncReplicas {
		return nil, kerr.NotEnoughReplicas
	}
	off, err := p.appendMarker(m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed, s.leadershipFenced, s.replicas.now().UnixMilli())
	if err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return nil, ke
		}
		s.logger.Error("write transaction marker", zap.String("partition", p.tp.String()), zap.Int64("producer_id", m.ProducerID), zap.Error(err))
		return nil, kerr.KafkaStorageError
	}
	return &pendingAck{p: p, last: off, minISR: cfg.MinInsyncReplicas}, nil
}

// markOffsets hands a marker for an offsets partition to the group side.
func (s *Server) markOffsets(ctx context.Context, m *kmsg.WriteTxnMarkersRequestMarker, part int32) *kerr.Error {
	h := s.txnHooks.offsets.Load()
	if h == nil {
		return kerr.UnknownTopicOrPartition
	}
	return (*h).CompleteTxnOffsets(ctx, m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed, part)
}

// awaitMarkers waits until each appended marker is committed, as
// awaitAcks does for an acks=all produce.
func (s *Server) awaitMarkers(ctx context.Context, deadline time.Time, waits []markerTarget, resp *kmsg.WriteTxnMarkersResponse) {
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for _, w := range waits {
		rp := &resp.Markers[w.marker].Topics[w.topic].Partitions[w.part]
		rp.ErrorCode = waitCommitted(wctx, w.pending)
	}
}

// waitCommitted waits until the high watermark passes the appended batch
// with enough replicas in the ISR, and returns the error code of the
// outcome: 0, NOT_ENOUGH_REPLICAS_AFTER_APPEND, NOT_LEADER_OR_FOLLOWER, or
// REQUEST_TIMED_OUT when ctx ends first.
func waitCommitted(ctx context.Context, pa *pendingAck) int16 {
	for {
		ch := pa.p.waitChan()
		done, e := pa.p.ackState(pa.last, pa.minISR)
		if done {
			if e != nil {
				return e.Code
			}
			return 0
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return kerr.RequestTimedOut.Code
		}
	}
}
