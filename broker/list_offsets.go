package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// ListOffsets special timestamps (KIP-79, KIP-734, KIP-405/1005).
const (
	latestTimestamp        = -1 // the high watermark (LSO for read_committed)
	earliestTimestamp      = -2 // the log start offset
	maxTimestamp           = -3 // the record with the largest timestamp (v7+)
	earliestLocalTimestamp = -4 // the local log start offset (v8+)
	latestTieredTimestamp  = -5 // the highest offset in tiered storage (v9+)
)

// errOffsetNotFound marks a lookup that found no record: the answer is
// offset -1, timestamp -1, without an error code.
var errOffsetNotFound = errors.New("no such offset")

// handleListOffsets answers ListOffsets v0-9.
//
// v0 (0.8.2 and 0.9 clients) asks for up to max_num_offsets offsets
// "before" a timestamp and reads old_style_offsets: answered as Kafka does,
// from segment boundaries (offsetsBefore).
//
// gokafka has no tiered storage, so -4 (earliest local) is the log start
// offset and -5 (latest tiered) finds nothing (offset -1, timestamp -1,
// leader epoch -1), as Kafka answers for topics without remote storage.
// A timestamp lookup answers the first record whose timestamp is at or after
// the target, below the high watermark, with the leader epoch of its batch.
func (s *Server) handleListOffsets(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ListOffsetsRequest)
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	for i := range r.Topics {
		rt := &r.Topics[i]
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		tm, topicOK := s.meta.topic(rt.Topic)
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			if !topicOK {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if _, ok := tm.Partitions[rp.Partition]; !ok {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if p, ok := s.replicas.get(topicPartition{rt.Topic, rp.Partition}); ok && p.isOffline() {
				// A replica in a failed log dir answers so whatever its
				// role, as Kafka's getPartitionOrException does.
				sp.ErrorCode = kerr.KafkaStorageError.Code
			} else if !ok || (!p.leading.Load() && r.ReplicaID != debugReplicaID) {
				// Only the leader answers, except to the debugging
				// consumer (replica id -2), as in Kafka.
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			} else if p.isDeleted() {
				sp.ErrorCode = p.goneError().Code
			} else {
				epoch := int32(-1)
				if r.Version >= 4 {
					epoch = rp.CurrentLeaderEpoch
				}
				s.listOffset(p, r, rp.Timestamp, rp.MaxNumOffsets, epoch, &sp)
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, nil
}

// listOffset answers one partition.
func (s *Server) listOffset(p *Partition, r *kmsg.ListOffsetsRequest, ts int64, maxNum, currentEpoch int32, sp *kmsg.ListOffsetsResponseTopicPartition) {
	if err := p.checkLeaderEpoch(currentEpoch); err != nil {
		var ke *kerr.Error
		errors.As(err, &ke)
		sp.ErrorCode = ke.Code
		return
	}
	if r.Version == 0 {
		offsets, err := p.offsetsBefore(ts, maxNum, r.ReplicaID < 0, time.Now())
		if err != nil {
			s.logger.Error("list offsets", zap.String("partition", p.tp.String()), zap.Int64("timestamp", ts), zap.Error(err))
			sp.ErrorCode = kerr.KafkaStorageError.Code
			return
		}
		sp.Offset, sp.Timestamp = -1, -1
		sp.OldStyleOffsets = offsets
		return
	}
	offset, timestamp, epoch, err := p.offsetForTimestamp(ts, r.Version >= 2 && r.IsolationLevel == readCommitted)
	switch {
	case errors.Is(err, errOffsetNotFound):
		return
	case err != nil:
		s.logger.Error("list offsets", zap.String("partition", p.tp.String()), zap.Int64("timestamp", ts), zap.Error(err))
		sp.ErrorCode = kerr.KafkaStorageError.Code
		return
	}
	sp.Offset = offset
	sp.Timestamp = timestamp
	if r.Version >= 4 {
		sp.LeaderEpoch = epoch
	}
}

// offsetForTimestamp resolves a ListOffsets timestamp to an offset, the
// timestamp of the record found (-1 for the special positions) and the
// leader epoch of that offset. A read_committed request (v2+) sees up to
// the last stable offset instead of the high watermark, as in Kafka's
// fetchOffsetForTimestamp: the latest offset is the LSO, and a record found
// by timestamp must lie below it.
func (p *Partition) offsetForTimestamp(ts int64, committed bool) (offset, timestamp int64, epoch int32, err error) {
	hw := p.HighWatermark()
	if committed {
		hw = p.log.LastStableOffset(hw)
	}
	switch ts {
	case latestTimestamp:
		return hw, -1, p.LeaderEpoch(), nil
	case earliestTimestamp, earliestLocalTimestamp:
		start := p.StartOffset()
		return start, -1, p.epochForOffset(start), nil
	case latestTieredTimestamp:
		return -1, -1, -1, nil
	case maxTimestamp:
		batch, ok, err := p.log.MaxTimestampBatch()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("max timestamp of %s: %w", p.tp, err)
		}
		if !ok {
			return 0, 0, 0, errOffsetNotFound
		}
		return p.recordAt(batch, func(rs []wire.RecordTimestamp) int {
			best := -1
			for i, rt := range rs {
				if best < 0 || rt.Timestamp > rs[best].Timestamp {
					best = i
				}
			}
			return best
		}, hw)
	}
	if ts < 0 {
		return 0, 0, 0, errOffsetNotFound
	}
	batch, ok, err := p.log.BatchAtTimestamp(ts)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("offset for timestamp %d in %s: %w", ts, p.tp, err)
	}
	if !ok {
		return 0, 0, 0, errOffsetNotFound
	}
	start := p.StartOffset()
	return p.recordAt(batch, func(rs []wire.RecordTimestamp) int {
		for i, rt := range rs {
			if rt.Timestamp >= ts && rt.Offset >= start {
				return i
			}
		}
		return -1
	}, hw)
}

// recordAt decodes the records of one stored batch, picks one with pick
// (-1 for none) and returns its offset, timestamp and the batch's partition
// leader epoch. A record at or past the high watermark is not visible yet.
func (p *Partition) recordAt(batch []byte, pick func([]wire.RecordTimestamp) int, hw int64) (int64, int64, int32, error) {
	h, err := wire.ParseBatchHeader(batch)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("batch header in %s: %w", p.tp, err)
	}
	rs, err := wire.RecordTimestamps(batch, decompressedLimit(p.config().MaxMessageBytes))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("record timestamps in %s: %w", p.tp, err)
	}
	i := pick(rs)
	if i < 0 || rs[i].Offset >= hw {
		return 0, 0, 0, errOffsetNotFound
	}
	epoch := h.PartitionLeaderEpoch
	if epoch < 0 {
		epoch = -1
	}
	return rs[i].Offset, rs[i].Timestamp, epoch, nil
}

// offsetsBefore answers ListOffsets v0 as Kafka's legacy path does. The
// candidates are the segment boundaries of SegmentTimes (base offsets with
// their .log's modification time, then the log end offset at now). -1
// starts from the newest, -2 from the oldest, and a timestamp from the
// newest boundary modified at or before it; up to max_num_offsets offsets
// are answered from there towards older ones, newest first. A consumer
// (replica id -1) must not see offsets above the high watermark: those
// are dropped and the high watermark comes first instead.
func (p *Partition) offsetsBefore(ts int64, maxNum int32, fromConsumer bool, now time.Time) ([]int64, error) {
	times, err := p.log.SegmentTimes(now)
	if err != nil {
		return nil, err
	}
	from := -1
	switch ts {
	case latestTimestamp:
		from = len(times) - 1
	case earliestTimestamp:
		from = min(0, len(times)-1)
	default:
		for i := len(times) - 1; i >= 0; i-- {
			if times[i].Modified.UnixMilli() <= ts {
				from = i
				break
			}
		}
	}
	n := min(int(max(maxNum, 0)), from+1)
	offsets := make([]int64, 0, n+1)
	for i := from; i > from-n; i-- {
		offsets = append(offsets, times[i].Offset)
	}
	slices.SortFunc(offsets, func(a, b int64) int { return cmp.Compare(b, a) })
	if fromConsumer {
		hw := p.HighWatermark()
		if len(offsets) > 0 && offsets[0] > hw {
			i := 0
			for i < len(offsets) && offsets[i] > hw {
				i++
			}
			offsets = append([]int64{hw}, offsets[i:]...)
		}
	}
	return offsets, nil
}
