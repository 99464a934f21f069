package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap/zaptest"
)

// Handler tests of the data path without a network or ZooKeeper: a Server
// holding only a metadata cache, a replica manager over real storage in a
// temp dir and a producer id allocator with in-memory blocks.

// newDataServer returns such a Server.
func newDataServer(t testing.TB) *Server {
	t.Helper()
	rm, _ := newTestReplicaManager(t)
	t.Cleanup(func() { rm.close() })
	var next int64
	pids := &producerIDs{sem: make(chan struct{}, 1), next: 0, end: -1}
	pids.alloc = func(ctx context.Context) (int64, int64, error) {
		start := next
		next += 10
		return start, start + 9, nil
	}
	return &Server{logger: zaptest.NewLogger(t), meta: newMetadataCache(), replicas: rm, pids: pids}
}

// addTopic registers a topic in the cache and leads the given partitions
// (all of them when hosted is nil).
func addTopic(t testing.TB, s *Server, name string, id [16]byte, partitions int32, cfg TopicConfig, hosted ...int32) {
	t.Helper()
	tm := &topicMeta{Name: name, ID: id, Partitions: map[int32]partitionMeta{}, Config: cfg}
	for p := int32(0); p < partitions; p++ {
		tm.Partitions[p] = partitionMeta{Replicas: []int32{0}, Leader: 0, ISR: []int32{0}}
	}
	s.meta.setTopic(tm)
	if hosted == nil {
		for p := int32(0); p < partitions; p++ {
			hosted = append(hosted, p)
		}
	}
	for _, p := range hosted {
		if err := s.replicas.makeLeader(topicPartition{name, p}, id, 1, cfg); err != nil {
			t.Fatalf("makeLeader: %v", err)
		}
	}
}

// produceReq builds a Produce request of version v.
func produceReq(v int16, acks int16, topic string, batches ...[]byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version = v
	req.Acks = acks
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for i, b := range batches {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = int32(i)
		rp.Records = b
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func doProduce(t testing.TB, s *Server, req *kmsg.ProduceRequest) []kmsg.ProduceResponseTopicPartition {
	t.Helper()
	resp, err := s.handleProduce(context.Background(), &wire.RequestHeader{APIKey: 0, APIVersion: req.Version}, req)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions
}

func TestHandleProducePartitionOutcomes(t *testing.T) {
	s := newDataServer(t)
	cfg := testTopicConfig()
	addTopic(t, s, "t", [16]byte{1}, 3, cfg, 0, 1) // partition 2 is not hosted here
	small := testTopicConfig()
	small.MaxMessageBytes = 200
	addTopic(t, s, "small", [16]byte{2}, 1, small)
	isr2 := testTopicConfig()
	isr2.MinInsyncReplicas = 2
	addTopic(t, s, "isr2", [16]byte{3}, 1, isr2)

	bad := plainBatch(2, 10)
	bad[len(bad)-1] ^= 1
	big := testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1}, []testRecord{{value: make([]byte, 300)}})
	txnBatch := testBatch(testBatchOpts{producerID: 5, producerEpoch: 0, baseSequence: 0, attributes: 0x10}, []testRecord{{value: []byte("x")}})

	tests := []struct {
		name     string
		req      *kmsg.ProduceRequest
		wantCode []int16
		wantBase []int64
	}{
		{"corrupt batch only fails its partition", produceReq(9, 1, "t", bad, plainBatch(2, 10)),
			[]int16{kerr.CorruptMessage.Code, 0}, []int64{-1, 0}},
		{"partition not hosted", produceReq(9, 1, "t", plainBatch(1, 1), plainBatch(1, 1), plainBatch(1, 1)),
			[]int16{0, 0, kerr.NotLeaderForPartition.Code}, []int64{0, 2, -1}},
		{"partition beyond the topic", produceReq(9, 1, "small", plainBatch(1, 1), plainBatch(1, 1)),
			[]int16{0, kerr.UnknownTopicOrPartition.Code}, []int64{0, -1}},
		{"unknown topic", produceReq(9, 1, "missing", plainBatch(1, 1)),
			[]int16{kerr.UnknownTopicOrPartition.Code}, []int64{-1}},
		{"too large", produceReq(9, 1, "small", big), []int16{kerr.MessageTooLarge.Code}, []int64{-1}},
		{"min.insync.replicas with acks=all", produceReq(9, -1, "isr2", plainBatch(1, 1)),
			[]int16{kerr.NotEnoughReplicas.Code}, []int64{-1}},
		{"min.insync.replicas ignored with acks=1", produceReq(9, 1, "isr2", plainBatch(1, 1)),
			[]int16{0}, []int64{0}},
		{"invalid acks", produceReq(9, 3, "small", plainBatch(1, 1)),
			[]int16{kerr.InvalidRequiredAcks.Code}, []int64{-1}},
		{"v2 carrying a v2 batch", produceReq(2, 1, "small", plainBatch(1, 1)),
			[]int16{0}, []int64{1}},
		{"transactional batch without a transactional id", produceReq(9, 1, "small", txnBatch),
			[]int16{kerr.TransactionalIDAuthorizationFailed.Code}, []int64{-1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := doProduce(t, s, tt.req)
			if len(ps) != len(tt.wantCode) {
				t.Fatalf("%d partitions in the response, want %d", len(ps), len(tt.wantCode))
			}
			for i, p := range ps {
				if p.ErrorCode != tt.wantCode[i] || p.BaseOffset != tt.wantBase[i] {
					t.Fatalf("partition %d: code %d base %d, want code %d base %d", i, p.ErrorCode, p.BaseOffset, tt.wantCode[i], tt.wantBase[i])
				}
				if p.ErrorCode != 0 && tt.req.Version >= 8 && p.ErrorCode == kerr.CorruptMessage.Code && p.ErrorMessage == nil {
					t.Fatalf("partition %d: no error message for a corrupt batch", i)
				}
			}
		})
	}
	if p, _ := s.replicas.get(topicPartition{"t", 0}); p.EndOffset() != 1 {
		t.Fatalf("t-0 end offset = %d: the corrupt batch must not be appended", p.EndOffset())
	}
}

// TestHandleProduceLogAppendTimeFromProducer: a batch with the
// LogAppendTime attribute bit is INVALID_TIMESTAMP with Kafka's message, in
// a CreateTime and in a LogAppendTime topic, and nothing is appended
// (issue 13 item 10).
func TestHandleProduceLogAppendTimeFromProducer(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "create", [16]byte{1}, 1, testTopicConfig())
	lat := testTopicConfig()
	lat.LogAppendTime = true
	addTopic(t, s, "append", [16]byte{2}, 1, lat)
	const wantMsg = "Producer should not set timestamp type to LogAppendTime"
	for _, tt := range []struct {
		topic   string
		version int16
		batch   []byte
	}{
		{"create", 9, testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: 1000, attributes: 0x08}, []testRecord{{value: []byte("x")}})},
		{"append", 9, testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: 1000, attributes: 0x08}, []testRecord{{value: []byte("x")}, {value: []byte("y")}})},
		{"create", 8, testBatch(testBatchOpts{producerID: 3, producerEpoch: 0, baseSequence: 0, baseTimestamp: -1, attributes: 0x08}, []testRecord{{value: []byte("x")}})},
		// Before v8 the response has no error message, only the code.
		{"create", 7, testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, attributes: 0x08}, []testRecord{{value: []byte("x")}})},
	} {
		ps := doProduce(t, s, produceReq(tt.version, 1, tt.topic, tt.batch))
		if len(ps) != 1 {
			t.Fatalf("%s v%d: %d partitions in the response, want 1", tt.topic, tt.version, len(ps))
		}
		p := ps[0]
		if p.ErrorCode != kerr.InvalidTimestamp.Code || p.BaseOffset != -1 {
			t.Errorf("%s v%d: code %d base %d, want INVALID_TIMESTAMP (%d) base -1", tt.topic, tt.version, p.ErrorCode, p.BaseOffset, kerr.InvalidTimestamp.Code)
		}
		switch {
		case tt.version < 8 && p.ErrorMessage != nil:
			t.Errorf("%s v%d: error message %q in a version without one", tt.topic, tt.version, *p.ErrorMessage)
		case tt.version >= 8 && (p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, wantMsg)):
			t.Errorf("%s v%d: error message %v, want one containing %q", tt.topic, tt.version, p.ErrorMessage, wantMsg)
		}
	}
	for _, topic := range []string{"create", "append"} {
		if p, _ := s.replicas.get(topicPartition{topic, 0}); p.EndOffset() != 0 {
			t.Errorf("%s-0 end offset %d: a rejected batch was appended", topic, p.EndOffset())
		}
	}
}

func TestHandleProduceAcksZero(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{1}, 1, testTopicConfig())
	req := produceReq(9, 0, "t", plainBatch(3, 1))
	resp, err := s.handleProduce(context.Background(), &wire.RequestHeader{}, req)
	if resp != nil || err != nil {
		t.Fatalf("acks=0 answered %v, %v; want no response", resp, err)
	}
	if p, _ := s.replicas.get(topicPartition{"t", 0}); p.EndOffset() != 3 {
		t.Fatalf("acks=0 records not appended: end offset %d", p.EndOffset())
	}
	req = produceReq(9, 0, "missing", plainBatch(1, 1))
	if _, err := s.handleProduce(context.Background(), &wire.RequestHeader{}, req); err == nil {
		t.Fatal("acks=0 with a failed partition kept the connection open")
	}
}

// fetchReq builds a Fetch request of version v for one topic.
func fetchReq(v int16, topic string, id [16]byte, maxBytes int32, offsets ...int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = v
	req.MaxBytes = maxBytes
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rt.TopicID = id
	for i, o := range offsets {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = int32(i)
		rp.FetchOffset = o
		rp.PartitionMaxBytes = 1 << 20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func doFetch(t *testing.T, ctx context.Context, s *Server, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	t.Helper()
	resp, err := s.handleFetch(ctx, &wire.RequestHeader{APIKey: 1, APIVersion: req.Version}, req)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return fetchBody(resp)
}

// fetchBody reads a Fetch answer's file regions into memory, as the wire
// does for a connection that cannot sendfile, and returns the kmsg response.
func fetchBody(resp kmsg.Response) *kmsg.FetchResponse {
	if fr, ok := resp.(*wire.FetchResponse); ok {
		fr.Materialize()
		return fr.FetchResponse
	}
	return resp.(*kmsg.FetchResponse)
}

func TestHandleFetch(t *testing.T) {
	s := newDataServer(t)
	id := [16]byte{7}
	addTopic(t, s, "t", id, 2, testTopicConfig())
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(4, 100), plainBatch(4, 100)))
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(4, 100), plainBatch(4, 100)))
	batchLen := len(plainBatch(4, 100))

	t.Run("mid-batch offset returns the whole batch", func(t *testing.T) {
		resp := doFetch(t, context.Background(), s, fetchReq(12, "t", id, 1<<20, 2))
		p := resp.Topics[0].Partitions[0]
		h, err := wire.ParseBatchHeader(p.RecordBatches)
		if p.ErrorCode != 0 || err != nil || h.BaseOffset != 0 || len(p.RecordBatches) != 2*batchLen || p.HighWatermark != 8 || p.LastStableOffset != 8 {
			t.Fatalf("fetch at 2: code %d base %d, %d bytes, hw %d lso %d", p.ErrorCode, h.BaseOffset, len(p.RecordBatches), p.HighWatermark, p.LastStableOffset)
		}
	})
	t.Run("response max bytes beyond the first batch", func(t *testing.T) {
		resp := doFetch(t, context.Background(), s, fetchReq(12, "t", id, 10, 0, 0))
		p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
		if len(p0.RecordBatches) != batchLen || len(p1.RecordBatches) != 0 || p1.HighWatermark != 8 {
			t.Fatalf("max_bytes 10: %d and %d bytes (hw %d); want one whole batch then nothing", len(p0.RecordBatches), len(p1.RecordBatches), p1.HighWatermark)
		}
	})
	t.Run("by topic id", func(t *testing.T) {
		resp := doFetch(t, context.Background(), s, fetchReq(13, "", id, 1<<20, 4))
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != batchLen || resp.Topics[0].TopicID != id {
			t.Fatalf("fetch by id: code %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
		}
		resp = doFetch(t, context.Background(), s, fetchReq(13, "", [16]byte{9}, 1<<20, 0))
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.UnknownTopicID.Code {
			t.Fatalf("unknown id: code %d", p.ErrorCode)
		}
	})
	t.Run("empty and failed partitions carry an empty record set, not null", func(t *testing.T) {
		// librdkafka rejects a null record set (size -1) in Fetch v4-11 as
		// "invalid MessageSetSize -1"; Kafka always sends size 0.
		for _, req := range []*kmsg.FetchRequest{
			fetchReq(11, "t", id, 1<<20, 8),    // at the end: no data
			fetchReq(11, "nope", id, 1<<20, 0), // unknown topic
		} {
			resp := doFetch(t, context.Background(), s, req)
			resp.Version = req.Version
			decoded := kmsg.NewPtrFetchResponse()
			decoded.Version = req.Version
			if err := decoded.ReadFrom(resp.AppendTo(nil)); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if p := decoded.Topics[0].Partitions[0]; p.RecordBatches == nil {
				t.Errorf("topic %q offset %d: record set encoded as null", req.Topics[0].Topic, req.Topics[0].Partitions[0].FetchOffset)
			}
		}
	})
	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			name string
			req  *kmsg.FetchRequest
			code int16
		}{
			{"past the end", fetchReq(12, "t", id, 1<<20, 9), kerr.OffsetOutOfRange.Code},
			{"below the start", fetchReq(12, "t", id, 1<<20, -1), kerr.OffsetOutOfRange.Code},
			{"unknown topic", fetchReq(12, "nope", id, 1<<20, 0), kerr.UnknownTopicOrPartition.Code},
		}
		for _, tt := range tests {
			p := doFetch(t, context.Background(), s, tt.req).Topics[0].Partitions[0]
			if p.ErrorCode != tt.code || p.HighWatermark != -1 {
				t.Errorf("%s: code %d hw %d, want code %d hw -1", tt.name, p.ErrorCode, p.HighWatermark, tt.code)
			}
		}
		fenced := fetchReq(12, "t", id, 1<<20, 0)
		fenced.Topics[0].Partitions[0].CurrentLeaderEpoch = 0
		if p := doFetch(t, context.Background(), s, fenced).Topics[0].Partitions[0]; p.ErrorCode != kerr.FencedLeaderEpoch.Code {
			t.Errorf("old leader epoch: code %d", p.ErrorCode)
		}
		follower := fetchReq(12, "t", id, 1<<20, 0)
		follower.ReplicaID = 3
		if p := doFetch(t, context.Background(), s, follower).Topics[0].Partitions[0]; p.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Errorf("follower fetch: code %d", p.ErrorCode)
		}
		inc := fetchReq(12, "t", id, 1<<20, 0)
		inc.SessionID, inc.SessionEpoch = 5, 2
		if r := doFetch(t, context.Background(), s, inc); r.ErrorCode != kerr.FetchSessionIDNotFound.Code || len(r.Topics) != 0 {
			t.Errorf("incremental fetch: code %d, %d topics", r.ErrorCode, len(r.Topics))
		}
	})
}

func TestHandleFetchLongPoll(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{1}, 1, testTopicConfig())

	req := fetchReq(12, "t", [16]byte{}, 1<<20, 0)
	req.MinBytes, req.MaxWaitMillis = 1, 100
	start := time.Now()
	resp := doFetch(t, context.Background(), s, req)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 || time.Since(start) < 90*time.Millisecond {
		t.Fatalf("empty long poll: code %d, %d bytes after %v", p.ErrorCode, len(p.RecordBatches), time.Since(start))
	}

	req.MaxWaitMillis = 30000
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		r, _ := s.handleFetch(context.Background(), &wire.RequestHeader{}, req)
		done <- fetchBody(r)
	}()
	p, _ := s.replicas.get(topicPartition{"t", 0})
	waitUntil(t, "the fetch to wait", func() bool { return p.waiters.Load() > 0 })
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(2, 1)))
	select {
	case r := <-done:
		if part := r.Topics[0].Partitions[0]; len(part.RecordBatches) == 0 || part.HighWatermark != 2 {
			t.Fatalf("woken fetch: %d bytes, hw %d", len(part.RecordBatches), part.HighWatermark)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll not woken by an append")
	}

	// A closing connection ends the wait too.
	ctx, cancel := context.WithCancel(context.Background())
	req = fetchReq(12, "t", [16]byte{}, 1<<20, 2)
	req.MinBytes, req.MaxWaitMillis = 1, 30000
	go func() {
		r, _ := s.handleFetch(ctx, &wire.RequestHeader{}, req)
		done <- fetchBody(r)
	}()
	waitUntil(t, "the fetch to wait", func() bool { return p.waiters.Load() > 0 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("long poll ignored its context")
	}
}

func TestHandleListOffsets(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{1}, 1, testTopicConfig())
	// Offsets 0-2 at 1000,1001,1002; 3-4 at 5000,5001; 5 at 3000.
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(3, 1000)))
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(2, 5000)))
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(1, 3000)))
	tests := []struct {
		ts          int64
		epoch       int32
		code        int16
		offset, got int64
	}{
		{ts: -2, offset: 0, got: -1},
		{ts: -1, offset: 6, got: -1},
		{ts: -3, offset: 4, got: 5001},
		{ts: -4, offset: 0, got: -1},
		{ts: -5, offset: -1, got: -1},
		{ts: 1001, offset: 1, got: 1001},
		{ts: 2000, offset: 3, got: 5000},
		{ts: 5001, offset: 4, got: 5001},
		{ts: 6000, offset: -1, got: -1},
		{ts: -1, epoch: 0, code: kerr.FencedLeaderEpoch.Code, offset: -1, got: -1},
		{ts: -1, epoch: 2, code: kerr.UnknownLeaderEpoch.Code, offset: -1, got: -1},
	}
	for _, tt := range tests {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = 9
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = tt.ts
		rp.CurrentLeaderEpoch = -1
		if tt.epoch != 0 || tt.code != 0 {
			rp.CurrentLeaderEpoch = tt.epoch
		}
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := s.handleListOffsets(context.Background(), &wire.RequestHeader{}, req)
		if err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		p := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if p.ErrorCode != tt.code || p.Offset != tt.offset || p.Timestamp != tt.got {
			t.Errorf("timestamp %d epoch %d: code %d offset %d ts %d; want code %d offset %d ts %d",
				tt.ts, tt.epoch, p.ErrorCode, p.Offset, p.Timestamp, tt.code, tt.offset, tt.got)
		}
		if tt.code == 0 && tt.offset >= 0 && p.LeaderEpoch != 1 {
			t.Errorf("timestamp %d: leader epoch %d, want 1", tt.ts, p.LeaderEpoch)
		}
	}
}

// withHeaderMaxTimestamp returns batch with its header's max timestamp set
// to ts (and the CRC recomputed), as a producer that lies would send it.
func withHeaderMaxTimestamp(batch []byte, ts int64) []byte {
	binary.BigEndian.PutUint64(batch[35:], uint64(ts))
	binary.BigEndian.PutUint32(batch[17:], crc32.Checksum(batch[21:], crc32.MakeTable(crc32.Castagnoli)))
	return batch
}

// TestHandleProduceRecomputesMaxTimestamp: the producer's header max
// timestamp is replaced by the records' own, in the stored batch and in
// what ListOffsets finds through the segment's max timestamp and the time
// index (issue 13 item 6).
func TestHandleProduceRecomputesMaxTimestamp(t *testing.T) {
	s := newDataServer(t)
	id := [16]byte{1}
	addTopic(t, s, "t", id, 1, testTopicConfig())
	// Offsets 0-2 at 1000-1002 with a header claiming 5000; offset 3 at
	// 2000; offset 4 at 3000 with a header far in the future; offset 5
	// at 4000; offsets 6-7 at 500-501 with a header claiming -1.
	for _, b := range [][]byte{
		withHeaderMaxTimestamp(plainBatch(3, 1000), 5000),
		plainBatch(1, 2000),
		withHeaderMaxTimestamp(plainBatch(1, 3000), 1<<62),
		plainBatch(1, 4000),
		withHeaderMaxTimestamp(plainBatch(2, 500), -1),
	} {
		if ps := doProduce(t, s, produceReq(9, 1, "t", b)); len(ps) != 1 || ps[0].ErrorCode != 0 {
			t.Fatalf("produce: %+v", ps)
		}
	}

	resp := doFetch(t, context.Background(), s, fetchReq(12, "t", id, 1<<20, 0))
	stored := resp.Topics[0].Partitions[0].RecordBatches
	var got []int64
	for len(stored) > 0 {
		h, err := wire.ParseBatchHeader(stored)
		if err != nil {
			t.Fatalf("stored batch: %v", err)
		}
		got = append(got, h.MaxTimestamp)
		stored = stored[h.Size():]
	}
	if want := []int64{1002, 2000, 3000, 4000, 501}; !slices.Equal(got, want) {
		t.Fatalf("stored max timestamps %v, want %v", got, want)
	}

	tests := []struct {
		ts             int64
		offset, record int64
	}{
		// A header above its records made this answer -1.
		{ts: 1500, offset: 3, record: 2000},
		{ts: 3001, offset: 5, record: 4000},
		// MAX_TIMESTAMP: the far-future header made this offset 4.
		{ts: -3, offset: 5, record: 4000},
		{ts: 4001, offset: -1, record: -1},
	}
	for _, tt := range tests {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = 9
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = tt.ts
		rp.CurrentLeaderEpoch = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := s.handleListOffsets(context.Background(), &wire.RequestHeader{}, req)
		if err != nil {
			t.Fatalf("list offsets: %v", err)
		}
		p := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Offset != tt.offset || p.Timestamp != tt.record {
			t.Errorf("timestamp %d: code %d offset %d ts %d; want offset %d ts %d", tt.ts, p.ErrorCode, p.Offset, p.Timestamp, tt.offset, tt.record)
		}
	}
}

func TestHandleInitProducerID(t *testing.T) {
	s := newDataServer(t)
	seen := map[int64]bool{}
	for i := 0; i < 25; i++ {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 5
		req.ProducerID, req.ProducerEpoch = 3, 4 // KIP-360 resume: Kafka still hands out a new id
		resp, err := s.handleInitProducerID(context.Background(), &wire.RequestHeader{}, req)
		if err != nil {
			t.Fatalf("init producer id: %v", err)
		}
		r := resp.(*kmsg.InitProducerIDResponse)
		if r.ErrorCode != 0 || r.ProducerEpoch != 0 || seen[r.ProducerID] {
			t.Fatalf("answer %d: %+v (seen before: %v)", i, r, seen[r.ProducerID])
		}
		seen[r.ProducerID] = true
	}
	for _, tt := range []struct {
		id   string
		code int16
	}{{"", kerr.InvalidRequest.Code}, {"tx", kerr.CoordinatorNotAvailable.Code}} {
		req := kmsg.NewPtrInitProducerIDRequest()
		id := tt.id
		req.TransactionalID = &id
		resp, _ := s.handleInitProducerID(context.Background(), &wire.RequestHeader{}, req)
		if r := resp.(*kmsg.InitProducerIDResponse); r.ErrorCode != tt.code || r.ProducerID != -1 {
			t.Errorf("transactional id %q: %+v, want code %d", tt.id, r, tt.code)
		}
	}
}

// waitUntil polls cond until it holds or 20 s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestZstdNeedsNewVersions(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "z", [16]byte{4}, 1, testTopicConfig())
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatalf("zstd: %v", err)
	}
	defer enc.Close()
	zbatch := func() []byte {
		return testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: 1, attributes: 4,
			compress: func(b []byte) []byte { return enc.EncodeAll(b, nil) }},
			[]testRecord{{value: []byte("compressed")}, {value: []byte("again")}})
	}
	if p := doProduce(t, s, produceReq(6, 1, "z", zbatch()))[0]; p.ErrorCode != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("zstd over Produce v6: code %d, want UNSUPPORTED_COMPRESSION_TYPE", p.ErrorCode)
	}
	if p := doProduce(t, s, produceReq(7, 1, "z", zbatch()))[0]; p.ErrorCode != 0 {
		t.Fatalf("zstd over Produce v7: code %d", p.ErrorCode)
	}
	if p := doFetch(t, context.Background(), s, fetchReq(9, "z", [16]byte{}, 1<<20, 0)).Topics[0].Partitions[0]; p.ErrorCode != kerr.UnsupportedCompressionType.Code || len(p.RecordBatches) != 0 {
		t.Fatalf("zstd to Fetch v9: code %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
	}
	p := doFetch(t, context.Background(), s, fetchReq(10, "z", [16]byte{}, 1<<20, 0)).Topics[0].Partitions[0]
	var batch kmsg.RecordBatch
	if p.ErrorCode != 0 || batch.ReadFrom(p.RecordBatches) != nil || batch.Attributes&7 != 4 || batch.NumRecords != 2 {
		t.Fatalf("zstd to Fetch v10: code %d, batch %+v: want the stored zstd batch", p.ErrorCode, batch)
	}
}

func TestFetchWaitingOnDeletedTopic(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "gone", [16]byte{5}, 1, testTopicConfig())
	p, _ := s.replicas.get(topicPartition{"gone", 0})
	req := fetchReq(12, "gone", [16]byte{}, 1<<20, 0)
	req.MinBytes, req.MaxWaitMillis = 1, 30000
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		r, _ := s.handleFetch(context.Background(), &wire.RequestHeader{}, req)
		done <- fetchBody(r)
	}()
	waitUntil(t, "the fetch to wait", func() bool { return p.waiters.Load() > 0 })
	if err := s.replicas.stopPartition(topicPartition{"gone", 0}, true, true); err != nil {
		t.Fatalf("StopReplica with delete: %v", err)
	}
	select {
	case r := <-done:
		if code := r.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("fetch of a deleted topic answered %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("fetch kept waiting on a deleted topic")
	}
	if _, err := p.append(plainBatch(1, 1), wire.BatchHeader{ProducerID: -1}, nil, time.Now(), txnVerification{}); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("append to a deleted partition: %v", err)
	}
}

// TestProduceAcksAllAnsweredAtOnce checks when an acks=all Produce is
// answered from the handler and when it waits for the followers: a
// partition whose ISR is the leader alone is committed by its own append,
// one with a follower that has not fetched waits until the follower has the
// batch.
func TestProduceAcksAllAnsweredAtOnce(t *testing.T) {
	tests := []struct {
		name     string
		isr      []int32
		deferred bool
	}{
		{"leader alone in the ISR", []int32{0}, false},
		{"a follower in the ISR", []int32{0, 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newDataServer(t)
			cfg := testTopicConfig()
			tp := topicPartition{"acks", 0}
			s.meta.setTopic(&topicMeta{Name: tp.Topic, ID: [16]byte{9}, Config: cfg,
				Partitions: map[int32]partitionMeta{0: {Replicas: tt.isr, Leader: 0, ISR: tt.isr}}})
			p, err := s.replicas.open(tp, [16]byte{9}, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.becomeLeader(partitionState{Leader: 0, LeaderEpoch: 1, ISR: tt.isr, Replicas: tt.isr}, s.replicas.now()); err != nil {
				t.Fatal(err)
			}
			req := produceReq(9, -1, tp.Topic, plainBatch(3, 10))
			resp, err := s.handleProduce(context.Background(), &wire.RequestHeader{APIKey: 0, APIVersion: 9}, req)
			if err != nil {
				t.Fatalf("produce: %v", err)
			}
			d, deferred := resp.(*wire.DeferredResponse)
			if deferred != tt.deferred {
				t.Fatalf("deferred = %v, want %v", deferred, tt.deferred)
			}
			if deferred {
				// The follower fetches past the batch: the answer is
				// then final.
				if _, err := p.followerFetched(1, 3, 0, s.replicas.now()); err != nil {
					t.Fatalf("follower fetch: %v", err)
				}
				d.Wait(context.Background())
				resp = d.Response
			}
			got := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			if got.ErrorCode != 0 || got.BaseOffset != 0 {
				t.Fatalf("answer: code %d base %d, want 0 and 0", got.ErrorCode, got.BaseOffset)
			}
			if hw := p.HighWatermark(); hw != 3 {
				t.Fatalf("high watermark %d, want 3", hw)
			}
		})
	}
}
