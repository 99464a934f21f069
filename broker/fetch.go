package broker

import (
	"context"
	"errors"
	"math"
	"reflect"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// zstdMinFetchVersion is the first Fetch version whose clients can read zstd
// batches (KIP-110); older fetchers get UNSUPPORTED_COMPRESSION_TYPE for a
// partition whose data holds zstd batches, as Kafka answers them.
const zstdMinFetchVersion = 10

// debugReplicaID is the replica id of Kafka's debugging consumer, which may
// read from followers.
const debugReplicaID = -2

// readCommitted is the isolation level value of READ_COMMITTED.
const readCommitted = 1

// fetchTarget is one requested partition, resolved once per request.
type fetchTarget struct {
	topic       int32 // index into the request's topics
	part        int32 // index into that topic's partitions
	p           *Partition
	err         *kerr.Error // set when the partition cannot be read at all
	offset      int64
	maxBytes    int32
	leaderEpoch int32
	// logStart is the fetcher's log start offset (v5+; -1 before), which
	// a follower reports for the leader's DeleteRecords low watermark.
	logStart int64
	// redirect says the replica selector sent this consumer to follower
	// preferred (replica_selector.go): the answer names it and carries
	// no records.
	redirect  bool
	preferred int32
}

// handleFetch answers Fetch v0-17. Below v4 (consumers of 0.10.x and
// before) the stored batches are down-converted to message format v1 or v0
// (down_convert.go); from v4 on they go out as stored.
//
// Fetch sessions (KIP-227) are not kept: every answer carries session id 0,
// which tells clients to keep sending full fetches. That is what Kafka does
// when its session cache has no free slot (for example
// max.incremental.fetch.session.cache.slots=0): a full fetch (epoch -1 or 0,
// whatever its session id) is answered in full without a session, and an
// incremental fetch (epoch > 0) gets FETCH_SESSION_ID_NOT_FOUND at top level,
// after which the client starts over with a full fetch. Forgotten topics
// only matter to sessions and are ignored.
//
// Follower fetches (replica_id >= 0, replication.go's fetchers) read up to
// the log end instead of the high watermark, and each one records the
// follower's position (Partition.followerFetched), which moves the high
// watermark and may grow the ISR. Only the leader serves them; a replica id
// that is not one of the partition's replicas gets NOT_LEADER_OR_FOLLOWER.
//
// The answer reads whole batches up to the high watermark (read_committed:
// the last stable offset, with the aborted transactions of the range,
// txn_fetch.go), within each
// partition's max bytes and the response's max bytes, which is the smaller
// of the request's max_bytes and the broker's fetch.max.bytes (for
// followers too, as in Kafka), except that the first batch of the response
// is returned whole even when it is larger (KIP-74). When fewer than
// min_bytes (at most the response's max bytes) are available and
// max_wait > 0, it waits for an append to any requested partition, the end
// of max_wait, or the end of ctx, reading again after each append.
func (s *Server) handleFetch(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.FetchRequest)
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	if r.Version >= 7 && r.SessionEpoch > 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, nil
	}
	replicaID := fetchReplicaID(r)
	targets := s.resolveFetch(r, replicaID >= 0)
	out := wire.NewFetchResponse(resp)
	if replicaID >= 0 {
		// Once the answer is final: the bytes it carries for throttled
		// partitions count against the leader's replication quota.
		defer s.recordLeaderThrottled(targets, out)
	}
	if replicaID >= 0 {
		s.recordFollowerFetch(replicaID, targets)
	} else if s.cfg.ReplicaSelectorClass != "" && r.Version >= firstRackFetchVersion {
		s.selectReadReplicas(ctx, r.Rack, targets)
	}

	var deadline <-chan time.Time
	if r.MaxWaitMillis > 0 {
		timer := time.NewTimer(time.Duration(r.MaxWaitMillis) * time.Millisecond)
		defer timer.Stop()
		deadline = timer.C
	}
	for {
		// Take the wake-up channels before reading, so an append that
		// lands between the read and the wait still wakes us.
		cases := make([]reflect.SelectCase, 0, len(targets)+2)
		for _, t := range targets {
			if t.p != nil && t.err == nil {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(t.p.waitChan())})
			}
		}
		total, anyErr, full := s.readFetch(r, out, targets, replicaID >= 0)
		if deadline == nil || anyErr || full || total >= min(int64(r.MinBytes), s.fetchMaxBytes(r)) || len(cases) == 0 {
			return out, nil
		}
		cases = append(cases,
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(deadline)},
			reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		for _, t := range targets {
			if t.p != nil {
				t.p.waiters.Add(1)
			}
		}
		chosen, _, _ := reflect.Select(cases)
		for _, t := range targets {
			if t.p != nil {
				t.p.waiters.Add(-1)
			}
		}
		if chosen >= len(cases)-2 {
			// max_wait elapsed or the connection is closing: answer with
			// what there is now.
			if replicaID >= 0 {
				s.recordFollowerFetch(replicaID, targets)
			}
			s.readFetch(r, out, targets, replicaID >= 0)
			return out, nil
		}
	}
}

// fetchReplicaID is the fetching replica's id: the request's replica_id,
// in ReplicaState from v15 on (KIP-903); negative for consumers.
func fetchReplicaID(r *kmsg.FetchRequest) int32 {
	if r.Version >= 15 {
		return r.ReplicaState.ID
	}
	return r.ReplicaID
}

// resolveFetch looks up every requested partition once.
func (s *Server) resolveFetch(r *kmsg.FetchRequest, follower bool) []fetchTarget {
	var targets []fetchTarget
	for ti := range r.Topics {
		rt := &r.Topics[ti]
		name := rt.Topic
		var topicErr *kerr.Error
		if r.Version >= 13 {
			n, ok := s.meta.topicNameByID(rt.TopicID)
			if ok {
				name = n
			} else {
				topicErr = kerr.UnknownTopicID
			}
		}
		var tm *topicMeta
		if topicErr == nil {
			var ok bool
			if tm, ok = s.meta.topic(name); !ok {
				topicErr = kerr.UnknownTopicOrPartition
				if r.Version >= 13 {
					topicErr = kerr.UnknownTopicID
				}
			}
		}
		for pi := range rt.Partitions {
			rp := &rt.Partitions[pi]
			t := fetchTarget{topic: int32(ti), part: int32(pi), offset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes, leaderEpoch: -1, logStart: -1}
			if r.Version >= 5 {
				t.logStart = rp.LogStartOffset
			}
			if r.Version >= 9 {
				t.leaderEpoch = rp.CurrentLeaderEpoch
			}
			switch {
			case topicErr != nil:
				t.err = topicErr
			default:
				if _, ok := tm.Partitions[rp.Partition]; !ok {
					t.err = kerr.UnknownTopicOrPartition
				} else if p, ok := s.replicas.get(topicPartition{name, rp.Partition}); !ok {
					t.err = kerr.NotLeaderForPartition
				} else {
					t.p = p
				}
			}
			targets = append(targets, t)
		}
	}
	return targets
}

// readFetch (re)builds out's topics from the logs, releasing the file
// regions of a previous read. It returns the number of record bytes in the
// response, whether any partition has an error (which answers at once,
// as Kafka's fetch does), and whether the response is full: the response's
// max bytes left out data that is there. A full response answers at once
// whatever min_bytes asks, as Kafka caps min_bytes at the response's max
// bytes.
//
// Record sets stay in the segment files (storage.Region) and wire sends them
// with sendfile; only Fetch below v10 copies them, to look for zstd batches
// those clients cannot read.
func (s *Server) readFetch(r *kmsg.FetchRequest, out *wire.FetchResponse, targets []fetchTarget, follower bool) (total int64, anyErr, full bool) {
	out.ReleaseFiles()
	resp := out.FetchResponse
	resp.Topics = resp.Topics[:0]
	limit := s.fetchMaxBytes(r)
	last := int32(-1)
	for _, t := range targets {
		rt := &r.Topics[t.topic]
		if t.topic != last {
			st := kmsg.NewFetchResponseTopic()
			st.Topic = rt.Topic
			st.TopicID = rt.TopicID
			resp.Topics = append(resp.Topics, st)
			last = t.topic
		}
		st := &resp.Topics[len(resp.Topics)-1]
		sp, region, cut := s.readFetchPartition(r, t, total, limit, follower)
		full = full || cut
		sp.Partition = rt.Partitions[t.part].Partition
		if sp.ErrorCode != 0 {
			anyErr = true
		}
		total += int64(len(sp.RecordBatches)) + region.Len
		st.Partitions = append(st.Partitions, sp)
		if region.Len > 0 {
			out.SetFileRecords(len(resp.Topics)-1, len(st.Partitions)-1, wire.FileRecords{
				File: region.File, Offset: region.Pos, Length: region.Len, Release: region.Release,
			})
		}
	}
	return total, anyErr, full
}

// fetchMaxBytes is the response's max bytes: the request's max_bytes
// capped by fetch.max.bytes, as Kafka's KafkaApis does for every fetch. A
// max_bytes of 0 or less reads as no limit from the client.
func (s *Server) fetchMaxBytes(r *kmsg.FetchRequest) int64 {
	limit := int64(math.MaxInt32)
	if r.MaxBytes > 0 {
		limit = int64(r.MaxBytes)
	}
	if s.cfg.FetchMaxBytes > 0 {
		limit = min(limit, int64(s.cfg.FetchMaxBytes))
	}
	return limit
}

// readFetchPartition reads one partition given the bytes already in the
// response and the response's limit. The records come back either in
// sp.RecordBatches (Fetch below v10) or as a file region to release; cut
// reports that the response's limit, not the partition's, left out
// batches below the high watermark, or that the answer names a preferred
// read replica: either answers the fetch at once.
func (s *Server) readFetchPartition(r *kmsg.FetchRequest, t fetchTarget, total, limit int64, follower bool) (sp kmsg.FetchResponseTopicPartition, region storage.Region, cut bool) {
	sp = kmsg.NewFetchResponseTopicPartition()
	// Kafka always answers a record set, empty when there is nothing to
	// return: a null one (size -1) makes librdkafka fail to parse the
	// whole response ("invalid MessageSetSize -1").
	sp.RecordBatches = []byte{}
	sp.HighWatermark = -1
	sp.LastStableOffset = -1
	sp.LogStartOffset = -1
	sp.PreferredReadReplica = -1
	var none storage.Region
	fail := func(e *kerr.Error) (kmsg.FetchResponseTopicPartition, storage.Region, bool) {
		sp.ErrorCode = e.Code
		return sp, none, false
	}
	if t.err != nil {
		return fail(t.err)
	}
	p := t.p
	if p.isDeleted() {
		// The topic was deleted (or the broker is stopping) while the
		// fetch waited.
		return fail(p.goneError())
	}
	if err := p.checkLeaderEpoch(t.leaderEpoch); err != nil {
		var ke *kerr.Error
		errors.As(err, &ke)
		return fail(ke)
	}
	if !p.leading.Load() && (leaderOnlyFetch(r, follower) || !p.servesFollowerReads()) {
		// Replicas and consumers before Fetch v11 read from the leader
		// only; later consumers and the debugging consumer (-2) may read
		// a follower (follower_read.go).
		return fail(kerr.NotLeaderForPartition)
	}
	if t.redirect {
		// The selector named a follower: no records, the leader's
		// offsets, and an answer at once, as Kafka's readFromLog does.
		hw := p.HighWatermark()
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, p.log.LastStableOffset(hw), p.StartOffset()
		sp.PreferredReadReplica = t.preferred
		return sp, none, true
	}
	if r.Version < firstBatchFetchVersion && p.config().DownConversionDisabled {
		// message.downconversion.enable=false, as Kafka answers it.
		return fail(kerr.UnsupportedVersion)
	}
	hw := p.HighWatermark()
	lso := p.log.LastStableOffset(hw)
	// Consumers read up to the high watermark (read_committed ones up to
	// the last stable offset), followers up to the log end.
	upTo := hw
	switch {
	case follower:
		upTo = p.EndOffset()
	case r.IsolationLevel == readCommitted:
		upTo = lso
	}
	start := p.StartOffset()
	if t.offset < start || t.offset > p.EndOffset() {
		return fail(kerr.OffsetOutOfRange)
	}
	sp.HighWatermark = hw
	sp.LastStableOffset = lso
	sp.LogStartOffset = start
	if r.IsolationLevel == readCommitted && !follower {
		sp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
	}
	if follower && s.leaderThrottled(p, fetchReplicaID(r)) {
		// Over leader.replication.throttled.rate: no data this time.
		return sp, none, false
	}
	remaining := limit - total
	if total > 0 && remaining <= 0 {
		return sp, none, t.offset < upTo
	}
	readMax := int(max(min(int64(t.maxBytes), remaining), 0))
	var (
		data []byte
		err  error
	)
	if r.Version >= zstdMinFetchVersion {
		region, err = p.log.ReadRegion(t.offset, readMax, upTo)
	} else {
		data, err = p.log.Read(t.offset, readMax, upTo)
	}
	switch {
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
		return fail(kerr.OffsetOutOfRange)
	case err != nil:
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
		if p.isDeleted() {
			return fail(p.goneError())
		}
		s.logger.Error("fetch", zap.String("partition", p.tp.String()), zap.Int64("offset", t.offset), zap.Error(err))
		return fail(kerr.KafkaStorageError)
	}
	if total > 0 && int64(len(data))+region.Len > remaining {
		// Only the response's first batch may exceed max_bytes (KIP-74).
		region.Release()
		return sp, none, true
	}
	if r.Version < zstdMinFetchVersion && holdsZstd(data) {
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
		return fail(kerr.UnsupportedCompressionType)
	}
	next := region.Next
	switch {
	case len(data) > 0 && r.Version < firstBatchFetchVersion:
		firstMax := int(min(remaining, math.MaxInt32))
		if total == 0 {
			firstMax = math.MaxInt32
		}
		conv, n, err := s.downConvert(data, fetchMagic(r.Version), t.offset, readMax, firstMax, decompressedLimit(p.config().MaxMessageBytes))
		if err != nil {
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			s.logger.Error("fetch down-conversion", zap.String("partition", p.tp.String()), zap.Int64("offset", t.offset), zap.Error(err))
			return fail(kerr.KafkaStorageError)
		}
		if len(conv) == 0 && total > 0 && n < upTo {
			// The first message does not fit in what the response
			// has left.
			return sp, none, true
		}
		sp.RecordBatches = conv
		next = n
	case len(data) > 0:
		sp.RecordBatches = data
		next = nextOffsetAfter(data)
	}
	if sp.AbortedTransactions != nil {
		sp.AbortedTransactions = abortedTransactions(p, t.offset, next)
	}
	cut = remaining < int64(t.maxBytes) && next > 0 && next < upTo
	return sp, region, cut
}

// nextOffsetAfter returns the offset after the last whole batch in data, or
// 0 when it holds none.
func nextOffsetAfter(data []byte) int64 {
	var next int64
	for len(data) >= wire.RecordBatchHeaderSize {
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			break
		}
		n := 12 + int(h.BatchLength)
		if n <= 12 || n > len(data) {
			break
		}
		next = h.BaseOffset + int64(h.LastOffsetDelta) + 1
		data = data[n:]
	}
	return next
}

// holdsZstd reports whether any batch in data is zstd-compressed.
func holdsZstd(data []byte) bool {
	for len(data) >= wire.RecordBatchHeaderSize {
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			return false
		}
		if h.Compression() == 4 {
			return true
		}
		// ParseBatchHeader checked that the whole batch is in data.
		data = data[h.Size():]
	}
	return false
}

// recordFollowerFetch records a follower's fetch offsets on the partitions
// it fetches (as leader) and proposes ISR expansions it makes possible.
// A replica id that is not a replica of the partition fails that
// partition with NOT_LEADER_OR_FOLLOWER.
func (s *Server) recordFollowerFetch(replica int32, targets []fetchTarget) {
	now := s.replicas.now()
	for i := range targets {
		t := &targets[i]
		if t.p == nil || t.err != nil {
			continue
		}
		// Only a fetch that will be answered with data counts: a stale
		// epoch or an offset past the log end tells nothing about the
		// follower's log (Kafka updates the follower after the read).
		if t.p.checkLeaderEpoch(t.leaderEpoch) != nil || t.offset > t.p.EndOffset() || t.offset < t.p.StartOffset() {
			continue
		}
		expand, err := t.p.followerFetched(replica, t.offset, t.logStart, now)
		if err != nil {
			var ke *kerr.Error
			errors.As(err, &ke)
			t.err = ke
			if !t.p.leading.Load() {
				continue
			}
			s.logger.Warn("fetch from a broker that is not a replica of the partition",
				zap.Int32("replica_id", replica), zap.String("partition", t.p.tp.String()))
			continue
		}
		if expand {
			if prop, ok := t.p.proposeExpand(replica); ok {
				s.logger.Info("expanding ISR: follower caught up", zap.String("partition", t.p.tp.String()),
					zap.Int32("replica", replica), zap.Int32s("new_isr", prop.isr))
				s.isr.propose(prop)
			}
		}
	}
}
