package broker

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.uber.org/zap/zaptest"
)

// End-to-end tests of the data path: an in-process broker on a real
// ZooKeeper, driven by franz-go exactly as a user's client would.

// testCtx is a context bounded for one test step.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newTestClient is a kgo client of addr, closed at the end of the test.
func newTestClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.MetadataMinAge(100 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTestTopic creates a topic through the admin API and waits until
// this broker leads every partition.
func createTestTopic(t *testing.T, s *Server, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	adm := kadm.NewClient(newTestClient(t, addr))
	resp, err := adm.CreateTopic(testCtx(t), partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	waitUntil(t, fmt.Sprintf("leading %s", topic), func() bool {
		for p := int32(0); p < partitions; p++ {
			if _, ok := s.replicas.get(topicPartition{topic, p}); !ok {
				return false
			}
		}
		return true
	})
}

// consumeN reads n records from the given partition offsets.
func consumeN(t *testing.T, addr string, parts map[string]map[int32]kgo.Offset, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newTestClient(t, addr, append([]kgo.Opt{kgo.ConsumePartitions(parts), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	ctx := testCtx(t)
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", len(got), n)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s-%d: %v", topic, p, err)
		})
		got = append(got, fs.Records()...)
	}
	return got
}

func TestProduceConsumeEveryCodecAndAcks(t *testing.T) {
	s, addr := startTestServer(t)
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	acks := []struct {
		name string
		acks kgo.Acks
	}{{"acks0", kgo.NoAck()}, {"acks1", kgo.LeaderAck()}, {"acksall", kgo.AllISRAcks()}}
	for _, c := range codecs {
		for _, a := range acks {
			t.Run(c.name+"-"+a.name, func(t *testing.T) {
				topic := "codec-" + c.name + "-" + a.name
				createTestTopic(t, s, addr, topic, 1, nil)
				opts := []kgo.Opt{kgo.ProducerBatchCompression(c.codec), kgo.RequiredAcks(a.acks)}
				if a.name != "acksall" {
					opts = append(opts, kgo.DisableIdempotentWrite())
				}
				prod := newTestClient(t, addr, opts...)
				base := time.UnixMilli(1_600_000_000_000)
				var sent []*kgo.Record
				for i := 0; i < 50; i++ {
					sent = append(sent, &kgo.Record{
						Topic:     topic,
						Key:       []byte(fmt.Sprintf("key-%d", i)),
						Value:     bytes.Repeat([]byte{byte('a' + i%26)}, 100+i),
						Headers:   []kgo.RecordHeader{{Key: "h", Value: []byte(fmt.Sprint(i))}},
						Timestamp: base.Add(time.Duration(i) * time.Second),
					})
				}
				if err := prod.ProduceSync(testCtx(t), sent...).FirstErr(); err != nil {
					t.Fatalf("produce: %v", err)
				}
				got := consumeN(t, addr, map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}, len(sent))
				for i, r := range got {
					w := sent[i]
					if r.Offset != int64(i) || !bytes.Equal(r.Key, w.Key) || !bytes.Equal(r.Value, w.Value) ||
						!r.Timestamp.Equal(w.Timestamp) || len(r.Headers) != 1 || r.Headers[0].Key != "h" ||
						!bytes.Equal(r.Headers[0].Value, w.Headers[0].Value) {
						t.Fatalf("record %d = offset %d key %q ts %v headers %v; want key %q ts %v", i, r.Offset, r.Key, r.Timestamp, r.Headers, w.Key, w.Timestamp)
					}
				}
			})
		}
	}
}

func TestConsumeFromOffsetInsideBatch(t *testing.T) {
	s, addr := startTestServer(t)
	createTestTopic(t, s, addr, "mid", 1, nil)
	prod := newTestClient(t, addr, kgo.ProducerLinger(time.Second))
	var rs []*kgo.Record
	for i := 0; i < 10; i++ {
		rs = append(rs, &kgo.Record{Topic: "mid", Value: []byte(fmt.Sprint(i))})
	}
	if err := prod.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	// The raw fetch at offset 5 returns the whole batch that holds it.
	cl := newTestClient(t, addr)
	resp, err := fetchAt(testCtx(t), s, cl, "mid", 5, 0)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	part := resp.Topics[0].Partitions[0]
	if part.ErrorCode != 0 || part.HighWatermark != 10 || len(part.RecordBatches) < 61 {
		t.Fatalf("fetch at 5: error %d hw %d %d bytes", part.ErrorCode, part.HighWatermark, len(part.RecordBatches))
	}
	var batch kmsg.RecordBatch
	if err := batch.ReadFrom(part.RecordBatches); err != nil || batch.FirstOffset != 0 {
		t.Fatalf("first batch base offset = %d (%v), want 0: the batch holding offset 5", batch.FirstOffset, err)
	}
	got := consumeN(t, addr, map[string]map[int32]kgo.Offset{"mid": {0: kgo.NewOffset().At(5)}}, 5)
	if got[0].Offset != 5 || string(got[0].Value) != "5" {
		t.Fatalf("first consumed record = offset %d value %q, want offset 5", got[0].Offset, got[0].Value)
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	s, addr := startTestServer(t)
	createTestTopic(t, s, addr, "times", 1, nil)
	prod := newTestClient(t, addr)
	for i, ts := range []int64{1000, 2000, 3000, 2500} {
		r := &kgo.Record{Topic: "times", Value: []byte(fmt.Sprint(i)), Timestamp: time.UnixMilli(ts)}
		if err := prod.ProduceSync(testCtx(t), r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	adm := kadm.NewClient(newTestClient(t, addr))
	ctx := testCtx(t)
	check := func(what string, lo kadm.ListedOffsets, err error, offset, ts int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		o, ok := lo.Lookup("times", 0)
		if !ok || o.Err != nil || o.Offset != offset || (ts != 0 && o.Timestamp != ts) {
			t.Fatalf("%s = %+v, want offset %d timestamp %d", what, o, offset, ts)
		}
	}
	lo, err := adm.ListStartOffsets(ctx, "times")
	check("earliest", lo, err, 0, 0)
	lo, err = adm.ListEndOffsets(ctx, "times")
	check("latest", lo, err, 4, 0)
	lo, err = adm.ListOffsetsAfterMilli(ctx, 1500, "times")
	check("after 1500", lo, err, 1, 2000)
	lo, err = adm.ListOffsetsAfterMilli(ctx, 2600, "times")
	check("after 2600", lo, err, 2, 3000)
	lo, err = adm.ListMaxTimestampOffsets(ctx, "times")
	check("max timestamp", lo, err, 2, 3000)
	// Past the last timestamp nothing is found: kadm reports the end.
	lo, err = adm.ListOffsetsAfterMilli(ctx, 9000, "times")
	check("after 9000", lo, err, 4, 0)

	// Consuming from a timestamp starts at the first record at or after it.
	got := consumeN(t, addr, map[string]map[int32]kgo.Offset{"times": {0: kgo.NewOffset().AfterMilli(2600)}}, 1)
	if got[0].Offset != 2 {
		t.Fatalf("consume after 2600 starts at %d, want 2", got[0].Offset)
	}
}

// fetchAt sends one raw fetch of topic-0 at offset, naming the topic both
// ways (kgo sends Fetch v13+, which names topics by id).
func fetchAt(ctx context.Context, s *Server, cl *kgo.Client, topic string, offset int64, maxWait time.Duration) (*kmsg.FetchResponse, error) {
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = int32(maxWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	if tm, ok := s.meta.topic(topic); ok {
		rt.TopicID = tm.ID
	}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset = offset
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req.RequestWith(ctx, cl)
}

func TestLongPollFetch(t *testing.T) {
	s, addr := startTestServer(t)
	createTestTopic(t, s, addr, "poll", 1, nil)
	cl := newTestClient(t, addr)
	ctx := testCtx(t)

	start := time.Now()
	resp, err := fetchAt(ctx, s, cl, "poll", 0, 300*time.Millisecond)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("empty long poll: error %d, %d bytes", p.ErrorCode, len(p.RecordBatches))
	}
	if time.Since(start) < 250*time.Millisecond {
		t.Fatalf("empty fetch returned after %v, before max wait", time.Since(start))
	}

	type result struct {
		resp *kmsg.FetchResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := fetchAt(ctx, s, cl, "poll", 0, 20*time.Second)
		done <- result{r, err}
	}()
	p, _ := s.replicas.get(topicPartition{"poll", 0})
	// Produce only once the fetch is parked waiting for data.
	waitUntil(t, "the fetch to wait", func() bool { return p.waiters.Load() > 0 })
	prod := newTestClient(t, addr)
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "poll", Value: []byte("wake")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("long poll: %v", r.err)
		}
		if part := r.resp.Topics[0].Partitions[0]; len(part.RecordBatches) == 0 || part.HighWatermark != 1 {
			t.Fatalf("long poll woke with %d bytes, hw %d", len(part.RecordBatches), part.HighWatermark)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("long poll did not return after an append (hw %d)", p.HighWatermark())
	}
}

// produceRaw sends one raw Produce of the batches to topic's partitions.
// kgo sends it with the acks the client is configured with (acks=all by
// default), whatever the request says.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, parts map[int32][]byte) *kmsg.ProduceResponse {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < int32(len(parts)); p++ {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = p
		rp.Records = parts[p]
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), cl)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp
}

func TestIdempotentProduceRaw(t *testing.T) {
	s, addr := startTestServer(t)
	createTestTopic(t, s, addr, "idem", 1, nil)
	cl := newTestClient(t, addr)
	ipReq := kmsg.NewPtrInitProducerIDRequest()
	ipReq.TransactionTimeoutMillis = 60000
	ip, err := ipReq.RequestWith(testCtx(t), cl)
	if err != nil || ip.ErrorCode != 0 {
		t.Fatalf("init producer id: %v, code %d", err, ip.ErrorCode)
	}
	pid := ip.ProducerID
	one := func(b []byte) kmsg.ProduceResponseTopicPartition {
		return produceRaw(t, cl, "idem", map[int32][]byte{0: b}).Topics[0].Partitions[0]
	}
	first := one(idempotentBatch(pid, 0, 0, 3, 1000))
	retry := one(idempotentBatch(pid, 0, 0, 3, 1000))
	if first.ErrorCode != 0 || retry.ErrorCode != 0 || retry.BaseOffset != first.BaseOffset {
		t.Fatalf("retry answered %+v, first %+v: want the same base offset", retry, first)
	}
	p, _ := s.replicas.get(topicPartition{"idem", 0})
	if p.EndOffset() != 3 {
		t.Fatalf("log end offset = %d after a retried batch, want 3 (one copy)", p.EndOffset())
	}
	if gap := one(idempotentBatch(pid, 0, 5, 1, 1000)); gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap answered %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", gap.ErrorCode)
	}
	if next := one(idempotentBatch(pid, 1, 0, 1, 1000)); next.ErrorCode != 0 || next.BaseOffset != 3 {
		t.Fatalf("new epoch answered %+v, want offset 3", next)
	}
	if old := one(idempotentBatch(pid, 0, 3, 1, 1000)); old.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("old epoch answered %d, want INVALID_PRODUCER_EPOCH", old.ErrorCode)
	}
}

func TestProduceErrors(t *testing.T) {
	s, addr := startTestServer(t, "auto.create.topics.enable=false")
	small := "1000"
	two := "2"
	createTestTopic(t, s, addr, "two", 2, nil)
	createTestTopic(t, s, addr, "small", 1, map[string]*string{"max.message.bytes": &small})
	createTestTopic(t, s, addr, "minisr", 1, map[string]*string{"min.insync.replicas": &two})
	cl := newTestClient(t, addr)
	cl1 := newTestClient(t, addr, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())

	t.Run("corrupt batch leaves the other partition alone", func(t *testing.T) {
		bad := plainBatch(3, 1000)
		bad[len(bad)-2] ^= 0xff
		resp := produceRaw(t, cl1, "two", map[int32][]byte{0: bad, 1: plainBatch(2, 1000)})
		ps := resp.Topics[0].Partitions
		if ps[0].ErrorCode != kerr.CorruptMessage.Code || ps[0].ErrorMessage == nil {
			t.Fatalf("flipped byte answered %d (%v), want CORRUPT_MESSAGE with a message", ps[0].ErrorCode, ps[0].ErrorMessage)
		}
		if ps[1].ErrorCode != 0 || ps[1].BaseOffset != 0 {
			t.Fatalf("good partition answered %+v", ps[1])
		}
		p0, _ := s.replicas.get(topicPartition{"two", 0})
		if p0.EndOffset() != 0 {
			t.Fatalf("corrupt batch was appended: end offset %d", p0.EndOffset())
		}
	})
	t.Run("message too large", func(t *testing.T) {
		big := testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: 1},
			[]testRecord{{value: bytes.Repeat([]byte("x"), 2000)}})
		resp := produceRaw(t, cl1, "small", map[int32][]byte{0: big})
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.MessageTooLarge.Code {
			t.Fatalf("2000-byte batch answered %d, want MESSAGE_TOO_LARGE", code)
		}
	})
	t.Run("unknown topic without auto creation", func(t *testing.T) {
		resp := produceRaw(t, cl1, "nope", map[int32][]byte{0: plainBatch(1, 1)})
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("unknown topic answered %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
		}
	})
	t.Run("partition beyond the topic", func(t *testing.T) {
		resp := produceRaw(t, cl1, "small", map[int32][]byte{0: plainBatch(1, 1), 1: plainBatch(1, 1)})
		if code := resp.Topics[0].Partitions[1].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("partition 1 of a 1-partition topic answered %d, want UNKNOWN_TOPIC_OR_PARTITION", code)
		}
	})
	t.Run("acks=all below min.insync.replicas", func(t *testing.T) {
		resp := produceRaw(t, cl, "minisr", map[int32][]byte{0: plainBatch(1, 1)})
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.NotEnoughReplicas.Code {
			t.Fatalf("acks=all answered %d, want NOT_ENOUGH_REPLICAS", code)
		}
		resp = produceRaw(t, cl1, "minisr", map[int32][]byte{0: plainBatch(1, 1)})
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("acks=1 answered %d, want success", code)
		}
	})
	t.Run("transactional batch without a transactional id", func(t *testing.T) {
		req := kmsg.NewPtrProduceRequest()
		req.Acks = -1
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "two"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = txnBatch(9, 0, 0, 1)
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.TransactionalIDAuthorizationFailed.Code {
			t.Fatalf("transactional produce answered %d, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", code)
		}
	})
	t.Run("produce v2 takes a v2 batch", func(t *testing.T) {
		vs := kversion.V3_9_0()
		vs.SetMaxKeyVersion(0, 2)
		old := newTestClient(t, addr, kgo.MaxVersions(vs))
		resp := produceRaw(t, old, "two", map[int32][]byte{0: plainBatch(1, 1)})
		if resp.Version != 2 {
			t.Fatalf("client sent Produce v%d, want v2", resp.Version)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("Produce v2 with a v2 batch answered %d, want no error", code)
		}
	})
}

func TestInitProducerIDBlocks(t *testing.T) {
	s, addr := startTestServer(t)
	cl := newTestClient(t, addr)
	seen := map[int64]bool{}
	n := zkmeta.ProducerIDBlockSize + 5
	for i := 0; i < n; i++ {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionTimeoutMillis = 60000
		resp, err := req.RequestWith(testCtx(t), cl)
		if err != nil || resp.ErrorCode != 0 || resp.ProducerEpoch != 0 {
			t.Fatalf("init producer id %d: %v, %+v", i, err, resp)
		}
		if seen[resp.ProducerID] {
			t.Fatalf("producer id %d handed out twice", resp.ProducerID)
		}
		seen[resp.ProducerID] = true
	}
	// Two blocks are claimed: another claimant gets the third.
	zc, err := zkmeta.Connect(testCtx(t), zkmeta.Config{Connect: s.cfg.ZooKeeperConnect, SessionTimeout: 10 * time.Second, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatalf("zookeeper: %v", err)
	}
	defer zc.Close()
	start, _, err := zc.AllocateProducerIDBlock(testCtx(t), 99)
	if err != nil {
		t.Fatalf("allocate: %v", err)
	}
	if start != 2*zkmeta.ProducerIDBlockSize {
		t.Fatalf("next block in /latest_producer_id_block starts at %d, want %d", start, 2*zkmeta.ProducerIDBlockSize)
	}
	for id := range seen {
		if id >= start {
			t.Fatalf("producer id %d lies in a block the broker never claimed", id)
		}
	}

	// Sent straight to the broker, which does not coordinate the id (a
	// single broker cannot create __transaction_state with its default
	// replication factor of 3): kgo would look for the coordinator first.
	txn := "t1"
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID = &txn
	req.TransactionTimeoutMillis = 60000
	raw, err := cl.SeedBrokers()[0].Request(testCtx(t), req)
	if err != nil {
		t.Fatalf("transactional init producer id: %v", err)
	}
	if resp := raw.(*kmsg.InitProducerIDResponse); resp.ErrorCode != kerr.NotCoordinator.Code {
		t.Fatalf("transactional init producer id answered %d, want NOT_COORDINATOR", resp.ErrorCode)
	}
}

func TestFetchErrors(t *testing.T) {
	s, addr := startTestServer(t)
	createTestTopic(t, s, addr, "f", 1, nil)
	cl := newTestClient(t, addr)
	ctx := testCtx(t)

	resp, err := fetchAt(ctx, s, cl, "f", 5, 0)
	if err != nil || resp.Topics[0].Partitions[0].ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("fetch past the end: %v %+v, want OFFSET_OUT_OF_RANGE", err, resp)
	}

	inc := kmsg.NewPtrFetchRequest()
	inc.SessionID = 12
	inc.SessionEpoch = 3
	r, err := inc.RequestWith(ctx, cl)
	if err != nil || r.ErrorCode != kerr.FetchSessionIDNotFound.Code || r.SessionID != 0 {
		t.Fatalf("incremental fetch: %v code %d session %d, want FETCH_SESSION_ID_NOT_FOUND", err, r.ErrorCode, r.SessionID)
	}

	byID := kmsg.NewPtrFetchRequest()
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = [16]byte{0xde, 0xad}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1000
	rt.Partitions = append(rt.Partitions, rp)
	byID.Topics = append(byID.Topics, rt)
	r, err = byID.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("fetch by id: %v", err)
	}
	if r.Version < 13 {
		t.Skipf("client used Fetch v%d", r.Version)
	}
	if code := r.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicID.Code {
		t.Fatalf("unknown topic id answered %d, want UNKNOWN_TOPIC_ID", code)
	}
}

// TestConsoleToolSequences replays what Kafka 3.9's console producer and
// console consumer send (protocol.md 2.1/2.2): an idempotent acks=-1
// producer that asks InitProducerId v5 before Metadata and produces with
// v11, and a consumer of --partition 0 --offset earliest that lists offsets
// and fetches by topic id with v17.
func TestConsoleToolSequences(t *testing.T) {
	s, addr := startTestServer(t)
	createTestTopic(t, s, addr, "console", 1, nil)
	pinned := kgo.MaxVersions(kversion.V3_9_0())
	prod := newTestClient(t, addr, pinned, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Second))
	var rs []*kgo.Record
	for i := 0; i < 5; i++ {
		rs = append(rs, &kgo.Record{Topic: "console", Value: []byte(fmt.Sprintf("line %d", i))})
	}
	if err := prod.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatalf("console producer: %v", err)
	}
	got := consumeN(t, addr, map[string]map[int32]kgo.Offset{"console": {0: kgo.NewOffset().AtStart()}}, 5, pinned)
	for i, r := range got {
		if string(r.Value) != fmt.Sprintf("line %d", i) || r.ProducerID < 0 {
			t.Fatalf("record %d = %q producer %d", i, r.Value, r.ProducerID)
		}
	}

	// The console producer's own order on one connection: InitProducerId
	// v5 before any Metadata, then Metadata v12 that may auto-create the
	// topic, then an idempotent Produce v11 with acks=-1.
	seed := newTestClient(t, addr, pinned).SeedBrokers()[0]
	ipr := kmsg.NewPtrInitProducerIDRequest()
	ipr.Version = 5
	ipr.TransactionTimeoutMillis = 1<<31 - 1
	raw, err := seed.Request(testCtx(t), ipr)
	if err != nil || raw.(*kmsg.InitProducerIDResponse).ErrorCode != 0 || raw.GetVersion() != 5 {
		t.Fatalf("InitProducerId v5: %v %+v", err, raw)
	}
	pid := raw.(*kmsg.InitProducerIDResponse).ProducerID
	mr := kmsg.NewPtrMetadataRequest()
	mr.Version = 12
	mt := kmsg.NewMetadataRequestTopic()
	auto := "console-auto"
	mt.Topic = &auto
	mr.Topics = append(mr.Topics, mt)
	mr.AllowAutoTopicCreation = true
	if _, err := seed.Request(testCtx(t), mr); err != nil {
		t.Fatalf("Metadata v12: %v", err)
	}
	waitUntil(t, "the auto-created topic", func() bool {
		_, ok := s.replicas.get(topicPartition{auto, 0})
		return ok
	})
	pr := kmsg.NewPtrProduceRequest()
	pr.Version = 11
	pr.Acks = -1
	pr.TimeoutMillis = 30000
	prt := kmsg.NewProduceRequestTopic()
	prt.Topic = auto
	prp := kmsg.NewProduceRequestTopicPartition()
	prp.Records = idempotentBatch(pid, 0, 0, 2, time.Now().UnixMilli())
	prt.Partitions = append(prt.Partitions, prp)
	pr.Topics = append(pr.Topics, prt)
	raw, err = seed.Request(testCtx(t), pr)
	if err != nil {
		t.Fatalf("Produce v11: %v", err)
	}
	if p := raw.(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 || p.LogStartOffset != 0 || p.LogAppendTime != -1 {
		t.Fatalf("Produce v11 answered %+v", p)
	}

	// The requests the consumer sends, with the versions it sends them.
	cl := newTestClient(t, addr, pinned)
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "console"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -2
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	lr, err := lo.RequestWith(testCtx(t), cl)
	if err != nil || lr.Version != 9 || lr.Topics[0].Partitions[0].Offset != 0 || lr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("ListOffsets earliest: %v %+v", err, lr)
	}
	p, _ := s.replicas.get(topicPartition{"console", 0})
	fr := kmsg.NewPtrFetchRequest()
	fr.MaxBytes = 1 << 20
	fr.SessionEpoch = -1
	ft := kmsg.NewFetchRequestTopic()
	ft.TopicID = p.TopicID()
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	fp.CurrentLeaderEpoch = p.LeaderEpoch()
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	resp, err := fr.RequestWith(testCtx(t), cl)
	if err != nil || resp.Version != 17 {
		t.Fatalf("Fetch v17: %v (version %d)", err, resp.Version)
	}
	part := resp.Topics[0].Partitions[0]
	if part.ErrorCode != 0 || part.HighWatermark != 5 || len(part.RecordBatches) == 0 || resp.Topics[0].TopicID != p.TopicID() {
		t.Fatalf("Fetch v17 by topic id: error %d hw %d %d bytes", part.ErrorCode, part.HighWatermark, len(part.RecordBatches))
	}
	fp.CurrentLeaderEpoch = p.LeaderEpoch() + 1
	fr.Topics[0].Partitions[0] = fp
	resp, err = fr.RequestWith(testCtx(t), cl)
	if err != nil || resp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("fetch with a future leader epoch: %v, want UNKNOWN_LEADER_EPOCH", err)
	}
}
