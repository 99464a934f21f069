package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// highWatermarkOffset is DeleteRecordsRequest.HIGH_WATERMARK: delete up to
// the partition's high watermark.
const highWatermarkOffset = -1

// handleDeleteRecords answers DeleteRecords v0-2 (kafka-delete-records.sh,
// Admin.deleteRecords) as Kafka's ReplicaManager.deleteRecords does: on the
// leader, the log start offset moves up to the requested offset (-1: the
// high watermark), the segments wholly below it go, and the answer waits,
// up to timeout_ms, until every in-sync follower has moved its own log
// start that far (it follows the log_start_offset of its fetch
// responses); low_watermark is then the smallest of those starts. Kafka
// waits for the live replicas; gokafka waits for the ISR, so a follower
// that is behind does not hold the answer until the timeout.
//
// Errors per partition: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER
// on a follower, OFFSET_OUT_OF_RANGE for an offset above the high
// watermark or below -1, POLICY_VIOLATION for a topic whose cleanup.policy
// lacks delete, REQUEST_TIMED_OUT when the followers do not catch up in
// time. The new start is checkpointed in log-start-offset-checkpoint with
// the other checkpoints, and at once, so a restart keeps it.
func (s *Server) handleDeleteRecords(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DeleteRecordsRequest)
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	wctx, cancel := requestTimeout(ctx, r.TimeoutMillis)
	defer cancel()
	type pending struct {
		out       *kmsg.DeleteRecordsResponseTopicPartition
		p         *Partition
		requested int64
	}
	var waits []pending
	moved := false
	for _, rt := range r.Topics {
		t := kmsg.NewDeleteRecordsResponseTopic()
		t.Topic = rt.Topic
		t.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			out := &t.Partitions[i]
			*out = kmsg.NewDeleteRecordsResponseTopicPartition()
			out.Partition = rp.Partition
			out.LowWatermark = -1
			p, requested, didMove, kerrr := s.deleteRecordsOnLeader(rt.Topic, rp.Partition, rp.Offset)
			if kerrr != nil {
				out.ErrorCode = kerrr.Code
				continue
			}
			moved = moved || didMove
			waits = append(waits, pending{out: out, p: p, requested: requested})
		}
		resp.Topics = append(resp.Topics, t)
	}
	if moved {
		// Kafka checkpoints the log start offsets on a timer; writing them
		// now keeps a DeleteRecords acknowledged just before a crash.
		if err := s.replicas.writeCheckpoints(); err != nil {
			s.logger.Warn("checkpoint after DeleteRecords", zap.Error(err))
		}
	}
	// Each out points into a topic's Partitions array, which the copy
	// appended to resp.Topics shares.
	for _, w := range waits {
		low, err := w.p.waitLowWatermark(wctx, w.requested)
		w.out.LowWatermark = low
		if err != nil {
			w.out.ErrorCode = err.Code
		}
	}
	return resp, nil
}

// deleteRecordsOnLeader moves one partition's log start (Kafka's
// Partition.deleteRecordsOnLeader).
func (s *Server) deleteRecordsOnLeader(topic string, partition int32, offset int64) (p *Partition, requested int64, moved bool, kerrr *kerr.Error) {
	tm, ok := s.meta.topic(topic)
	if !ok {
		return nil, 0, false, kerr.UnknownTopicOrPartition
	}
	if _, ok := tm.Partitions[partition]; !ok {
		return nil, 0, false, kerr.UnknownTopicOrPartition
	}
	p, ok = s.replicas.get(topicPartition{topic, partition})
	if !ok || !p.leading.Load() || s.leadershipFenced() {
		return nil, 0, false, kerr.NotLeaderForPartition
	}
	requested, moved, err := p.deleteRecords(offset)
	if err != nil {
		var ke *kerr.Error
		if errors.As(err, &ke) {
			return nil, 0, false, ke
		}
		s.logger.Warn("delete records", zap.String("partition", p.tp.String()), zap.Int64("offset", offset), zap.Error(err))
		if errors.Is(err, storage.ErrOffsetOutOfRange) {
			return nil, 0, false, kerr.OffsetOutOfRange
		}
		return nil, 0, false, kerr.KafkaStorageError
	}
	if moved {
		s.logger.Info("log start offset moved by DeleteRecords", zap.String("partition", p.tp.String()), zap.Int64("log_start_offset", requested))
	}
	return p, requested, moved, nil
}

// deleteRecords moves the log start offset to offset (-1: the high
// watermark) on the leader. It returns the offset asked for and whether
// the start moved.
func (p *Partition) deleteRecords(offset int64) (int64, bool, error) {
	if !p.config().deletePolicy() {
		return 0, false, kerr.PolicyViolation
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return 0, false, p.goneError()
	}
	if p.role != roleLeader {
		return 0, false, kerr.NotLeaderForPartition
	}
	hw := p.HighWatermark()
	if offset == highWatermarkOffset {
		offset = hw
	}
	if offset < 0 || offset > hw {
		return 0, false, kerr.OffsetOutOfRange
	}
	moved, err := p.log.IncrementStartOffset(offset)
	if err != nil {
		return 0, moved, fmt.Errorf("delete records of %s before %d: %w", p.tp, offset, err)
	}
	if moved {
		if err := p.truncateEpochsFromStartLocked(); err != nil {
			return offset, moved, err
		}
		p.notify()
	}
	return offset, moved, nil
}

// truncateEpochsFromStartLocked drops the leader epochs the log no longer
// holds after its start moved (Kafka's truncateFromStart). Called with mu
// held.
func (p *Partition) truncateEpochsFromStartLocked() error {
	epochs, err := storage.TruncateLeaderEpochsFromStart(p.log.FS(), p.log.Dir(), p.log.StartOffset())
	if err != nil {
		return fmt.Errorf("leader epochs of %s: %w", p.tp, err)
	}
	p.epochs = epochs
	return nil
}

// lowWatermark is the smallest log start offset among this leader and its
// in-sync followers (Kafka's lowWatermarkIfLeader, over the ISR); a
// follower that has not reported one yet counts as -1.
func (p *Partition) lowWatermark() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	low := p.log.StartOffset()
	for id, f := range p.followers {
		if !slices.Contains(p.isr, id) {
			continue
		}
		low = min(low, f.logStart)
	}
	return low
}

// waitLowWatermark waits until the low watermark reaches requested (Kafka's
// DelayedDeleteRecords) or ctx ends, which is REQUEST_TIMED_OUT.
func (p *Partition) waitLowWatermark(ctx context.Context, requested int64) (int64, *kerr.Error) {
	for {
		ch := p.waitChan()
		low := p.lowWatermark()
		if low >= requested {
			return low, nil
		}
		if p.isDeleted() {
			return -1, p.goneError()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return low, kerr.RequestTimedOut
		}
	}
}
