package broker

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"testing"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Produce v0-2 and Fetch v0-3 through the handlers: message sets of format
// v0 and v1 go in, are stored as v2 batches, and come out again in the
// format each Fetch version reads.

// oldMsg is one message of a test message set.
type oldMsg struct {
	attrs      int8
	ts         int64
	key, value []byte
}

// oldSet encodes a message set of format magic with kmsg's message types,
// then sets each entry's size and CRC-32.
func oldSet(magic int8, msgs ...oldMsg) []byte {
	var set []byte
	for i, m := range msgs {
		at := len(set)
		if magic == 0 {
			set = (&kmsg.MessageV0{Offset: int64(i), Attributes: m.attrs, Key: m.key, Value: m.value}).AppendTo(set)
		} else {
			set = (&kmsg.MessageV1{Offset: int64(i), Magic: 1, Attributes: m.attrs, Timestamp: m.ts, Key: m.key, Value: m.value}).AppendTo(set)
		}
		entry := set[at:]
		binary.BigEndian.PutUint32(entry[8:], uint32(len(entry)-12))
		binary.BigEndian.PutUint32(entry[12:], crc32.ChecksumIEEE(entry[16:]))
	}
	return set
}

// withOffsets returns set with its entries' offsets (which no CRC covers)
// replaced by offsets, in order.
func withOffsets(set []byte, offsets ...int64) []byte {
	set = bytes.Clone(set)
	for pos, i := 0, 0; pos < len(set) && i < len(offsets); i++ {
		binary.BigEndian.PutUint64(set[pos:], uint64(offsets[i]))
		pos += 12 + int(binary.BigEndian.Uint32(set[pos+8:]))
	}
	return set
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// readOldSet decodes a Fetch v0-3 record set of whole messages, as an old
// consumer does: wrapper messages are unpacked.
func readOldSet(t testing.TB, set []byte) []kmsg.MessageV1 {
	t.Helper()
	var out []kmsg.MessageV1
	for len(set) > 0 {
		if len(set) < 17 {
			t.Fatalf("%d bytes left, no whole message", len(set))
		}
		n := 12 + int(binary.BigEndian.Uint32(set[8:]))
		if n > len(set) {
			t.Fatalf("partial message of %d bytes, %d present", n, len(set))
		}
		if got := crc32.ChecksumIEEE(set[16:n]); got != binary.BigEndian.Uint32(set[12:]) {
			t.Fatalf("message crc %#x", got)
		}
		var m kmsg.MessageV1
		if set[16] == 0 {
			var m0 kmsg.MessageV0
			if err := m0.ReadFrom(set[:n]); err != nil {
				t.Fatal(err)
			}
			m = kmsg.MessageV1{Offset: m0.Offset, Magic: 0, Attributes: m0.Attributes, Timestamp: -1, Key: m0.Key, Value: m0.Value}
		} else if err := m.ReadFrom(set[:n]); err != nil {
			t.Fatal(err)
		}
		set = set[n:]
		if m.Attributes&0x07 == 0 {
			out = append(out, m)
			continue
		}
		// A gzip wrapper (the only codec these tests store): its inner
		// messages, with offsets relative to the first in format v1.
		if m.Attributes&0x07 != 1 {
			t.Fatalf("wrapper codec %d", m.Attributes&0x07)
		}
		zr, err := gzip.NewReader(bytes.NewReader(m.Value))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		inner := readOldSet(t, raw)
		if m.Magic == 1 {
			delta := m.Offset - inner[len(inner)-1].Offset
			for i := range inner {
				inner[i].Offset += delta
			}
		}
		out = append(out, inner...)
	}
	return out
}

func TestProduceMessageSets(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{1}, 1, testTopicConfig())
	lat := testTopicConfig()
	lat.LogAppendTime = true
	addTopic(t, s, "lat", [16]byte{2}, 1, lat)

	small := testTopicConfig()
	small.MaxMessageBytes = 300
	addTopic(t, s, "small", [16]byte{3}, 1, small)
	tiny := make([]oldMsg, 10)
	for i := range tiny {
		tiny[i] = oldMsg{ts: int64(i), value: []byte{'x'}}
	}

	inner := oldSet(1, oldMsg{ts: 500, key: []byte("k"), value: []byte("a")}, oldMsg{ts: 501, value: []byte("b")})
	// An old client's inner offsets (not 0..n-1) are taken and replaced,
	// as in Kafka; a wrapper offset below the last inner one is not.
	oddInner := withOffsets(inner, 7, 3)
	inner3 := oldSet(1, oldMsg{value: []byte("c")}, oldMsg{value: []byte("d")}, oldMsg{value: []byte("e")})
	lowWrapper := withOffsets(oldSet(1, oldMsg{attrs: 1, value: gzipped(t, inner3)}), 1)
	badCRC := oldSet(0, oldMsg{value: []byte("x")})
	badCRC[len(badCRC)-1] ^= 1
	tests := []struct {
		name    string
		version int16
		topic   string
		set     []byte
		code    int16
		base    int64
	}{
		{"v0 plain", 0, "t", oldSet(0, oldMsg{value: []byte("m0")}, oldMsg{key: []byte("k"), value: []byte("m1")}), 0, 0},
		{"v1 plain", 1, "t", oldSet(1, oldMsg{ts: 100, value: []byte("m2")}), 0, 2},
		{"v2 gzip wrapper", 2, "t", oldSet(1, oldMsg{attrs: 1, ts: 501, value: gzipped(t, inner)}), 0, 3},
		{"v2 carrying a v2 batch", 2, "t", plainBatch(2, 7), 0, 5},
		{"bad crc", 0, "t", badCRC, kerr.CorruptMessage.Code, -1},
		{"bad crc after a good message", 1, "t", append(oldSet(1, oldMsg{value: []byte("y")}), badCRC...), kerr.CorruptMessage.Code, -1},
		{"log append time from the producer", 2, "t", oldSet(1, oldMsg{attrs: 8, value: []byte("z")}), kerr.InvalidTimestamp.Code, -1},
		{"log append time topic", 2, "lat", oldSet(1, oldMsg{ts: 5, value: []byte("z")}), 0, 0},
		{"set above max.message.bytes, messages and batch below", 2, "small", oldSet(1, tiny...), 0, 0},
		{"message above max.message.bytes", 2, "small", oldSet(1, oldMsg{value: make([]byte, 300)}), kerr.MessageTooLarge.Code, -1},
		{"inner offsets not 0..n-1", 2, "t", oldSet(1, oldMsg{attrs: 1, ts: 501, value: gzipped(t, oddInner)}), 0, 7},
		{"wrapper offset below its last inner offset", 2, "t", lowWrapper, kerr.InvalidRecord.Code, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := doProduce(t, s, produceReq(tc.version, 1, tc.topic, tc.set))[0]
			if p.ErrorCode != tc.code || p.BaseOffset != tc.base {
				t.Fatalf("code %d base %d, want %d %d", p.ErrorCode, p.BaseOffset, tc.code, tc.base)
			}
			if tc.topic == "lat" && p.LogAppendTime <= 0 {
				t.Fatalf("log append time %d", p.LogAppendTime)
			}
		})
	}
	if n := s.conversions.produced.Load(); n != 11 {
		t.Fatalf("%d up-conversions counted, want 11 (every set of format v0/v1)", n)
	}
	// The failed sets appended nothing: offsets 0-8 hold the nine
	// records above, read back as a v2 batch each.
	pt, _ := s.replicas.get(topicPartition{"t", 0})
	if end := pt.EndOffset(); end != 9 {
		t.Fatalf("log end %d, want 9", end)
	}
	data, err := pt.log.Read(3, 1<<20, 7)
	if err != nil {
		t.Fatal(err)
	}
	h, err := wire.ParseBatchHeader(data)
	if err != nil || h.Compression() != wire.CodecGzip || h.RecordCount != 2 || h.BaseTimestamp != 500 || h.MaxTimestamp != 501 || h.ProducerID != -1 {
		t.Fatalf("converted wrapper stored as %+v, %v", h, err)
	}
}

func TestFetchDownConversion(t *testing.T) {
	s := newDataServer(t)
	id := [16]byte{3}
	addTopic(t, s, "t", id, 1, testTopicConfig())
	// Offsets 0-3: a plain batch; 4-5: a gzip batch with keys; 6: a
	// batch with a header, which old formats drop.
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(4, 1000)))
	doProduce(t, s, produceReq(9, 1, "t", testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: 2000, attributes: 1,
		compress: func(b []byte) []byte { return gzipped(t, b) }},
		[]testRecord{{key: []byte("k4"), value: []byte("v4")}, {key: []byte{}, value: []byte("v5"), tsDelta: 3}})))
	withHeader := testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: 3000}, []testRecord{{value: []byte("v6"), headers: [][2]string{{"h", "x"}}}})
	if p := doProduce(t, s, produceReq(9, 1, "t", withHeader))[0]; p.ErrorCode != 0 {
		t.Fatalf("produce with a header: %d", p.ErrorCode)
	}
	wantValue := []string{"v0", "v1", "v2", "v3", "v4", "v5", "v6"}
	wantTS := []int64{1000, 1001, 1002, 1003, 2000, 2003, 3000}

	for v := int16(0); v <= 3; v++ {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			magic := int8(0)
			if v >= 2 {
				magic = 1
			}
			resp := doFetch(t, context.Background(), s, fetchReq(v, "t", id, 1<<20, 2))
			p := resp.Topics[0].Partitions[0]
			if p.ErrorCode != 0 || p.HighWatermark != 7 {
				t.Fatalf("code %d hw %d", p.ErrorCode, p.HighWatermark)
			}
			msgs := readOldSet(t, p.RecordBatches)
			if len(msgs) != 5 {
				t.Fatalf("%d messages from offset 2, want 5", len(msgs))
			}
			for i, m := range msgs {
				off := int64(i + 2)
				ts := wantTS[off]
				if magic == 0 {
					ts = -1
				}
				if m.Magic != magic || m.Offset != off || string(m.Value) != wantValue[off] || m.Timestamp != ts || m.Attributes != 0 {
					t.Fatalf("message %d: %+v", i, m)
				}
			}
			if msgs[2].Key == nil || string(msgs[2].Key) != "k4" || msgs[3].Key == nil || len(msgs[3].Key) != 0 || msgs[0].Key != nil {
				t.Fatalf("keys %q %q %q", msgs[0].Key, msgs[2].Key, msgs[3].Key)
			}

			// A partition max bytes that holds two messages returns two
			// whole ones; one below a message still returns the first.
			for _, tc := range []struct {
				max  int32
				want int
			}{{int32(2*len(oneMessage(t, p.RecordBatches)) + 5), 2}, {10, 1}} {
				req := fetchReq(v, "t", id, 1<<20, 0)
				req.Topics[0].Partitions[0].PartitionMaxBytes = tc.max
				got := readOldSet(t, doFetch(t, context.Background(), s, req).Topics[0].Partitions[0].RecordBatches)
				if len(got) != tc.want || got[0].Offset != 0 {
					t.Fatalf("partition max bytes %d: %d messages, want %d", tc.max, len(got), tc.want)
				}
			}
		})
	}
	if s.conversions.fetches.Load() == 0 || s.conversions.bytesIn.Load() == 0 {
		t.Fatal("conversions not counted")
	}
}

// oneMessage returns the first message of a set.
func oneMessage(t testing.TB, set []byte) []byte {
	t.Helper()
	return set[:12+int(binary.BigEndian.Uint32(set[8:]))]
}

func TestFetchDownConversionZstd(t *testing.T) {
	s := newDataServer(t)
	id := [16]byte{4}
	addTopic(t, s, "t", id, 1, testTopicConfig())
	p, ok := s.replicas.get(topicPartition{"t", 0})
	if !ok {
		t.Fatal("no partition")
	}
	zb := testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, attributes: 4}, []testRecord{{value: []byte("z")}})
	h, _ := wire.ParseBatchHeader(zb)
	if _, err := p.append(zb, h, nil, s.replicas.now(), txnVerification{}); err != nil {
		t.Fatal(err)
	}
	resp := doFetch(t, context.Background(), s, fetchReq(2, "t", id, 1<<20, 0))
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnsupportedCompressionType.Code {
		t.Fatalf("zstd to Fetch v2: code %d", code)
	}
}

// TestListOffsetsV0: v0's offsets "before" a time are segment boundaries,
// newest first, as Kafka answers them: two rolled segments of three
// records and an active one.
func TestListOffsetsV0(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{1}, 1, testTopicConfig())
	p, ok := s.replicas.get(topicPartition{"t", 0})
	if !ok {
		t.Fatal("no partition")
	}
	for i := range 3 {
		doProduce(t, s, produceReq(9, 1, "t", plainBatch(3, 1000)))
		if i < 2 {
			if err := p.log.Roll(); err != nil {
				t.Fatal(err)
			}
		}
	}
	future := time.Now().Add(time.Hour).UnixMilli()
	for _, tc := range []struct {
		ts   int64
		max  int32
		want []int64
	}{
		{-1, 1, []int64{9}},
		{-1, 2, []int64{9, 6}},
		{-1, 10, []int64{9, 6, 3, 0}},
		{-2, 1, []int64{0}},
		{-2, 10, []int64{0}},
		{-1, 0, nil},
		{future, 2, []int64{9, 6}},
		// Every segment was written after the record timestamps.
		{1001, 5, nil},
	} {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version = 0
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.MaxNumOffsets = tc.ts, tc.max
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := s.handleListOffsets(context.Background(), &wire.RequestHeader{}, req)
		if err != nil {
			t.Fatal(err)
		}
		// Through the v0 encoding, as the client reads it.
		lr := resp.(*kmsg.ListOffsetsResponse)
		var back kmsg.ListOffsetsResponse
		back.Version = 0
		if err := back.ReadFrom(lr.AppendTo(nil)); err != nil {
			t.Fatal(err)
		}
		p := back.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || fmt.Sprint(p.OldStyleOffsets) != fmt.Sprint(tc.want) {
			t.Errorf("timestamp %d max %d: code %d offsets %v, want %v", tc.ts, tc.max, p.ErrorCode, p.OldStyleOffsets, tc.want)
		}
	}
}

// TestOffsetsBeforeHighWatermark: a consumer never gets an offset above
// the high watermark from ListOffsets v0; it gets the high watermark
// first instead. A replica asking sees the log end.
func TestOffsetsBeforeHighWatermark(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{2}, 1, testTopicConfig())
	p, ok := s.replicas.get(topicPartition{"t", 0})
	if !ok {
		t.Fatal("no partition")
	}
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(3, 1000)))
	if err := p.log.Roll(); err != nil {
		t.Fatal(err)
	}
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(3, 1000)))
	p.highWatermark.Store(4) // as if the followers had only offsets 0-3
	for _, tc := range []struct {
		consumer bool
		want     []int64
	}{
		{true, []int64{4, 3, 0}},
		{false, []int64{6, 3, 0}},
	} {
		got, err := p.offsetsBefore(-1, 10, tc.consumer, time.Now())
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("consumer %v: %v %v, want %v", tc.consumer, got, err, tc.want)
		}
	}
}

// TestFetchDownConversionSmallFetchSize: a partition max bytes below one
// message still returns one whole message for every partition while the
// response has room (old consumers would otherwise ask for the same offset
// forever), and none once a v3 max_bytes is used up.
func TestFetchDownConversionSmallFetchSize(t *testing.T) {
	s := newDataServer(t)
	id := [16]byte{5}
	addTopic(t, s, "t", id, 2, testTopicConfig())
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(4, 100), plainBatch(4, 100)))
	for _, tc := range []struct {
		name     string
		maxBytes int32
		want     []int
	}{
		{"room for both", 1 << 20, []int{1, 1}},
		{"room for one", 40, []int{1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := fetchReq(3, "t", id, tc.maxBytes, 0, 0)
			for i := range req.Topics[0].Partitions {
				req.Topics[0].Partitions[i].PartitionMaxBytes = 10
			}
			resp := doFetch(t, context.Background(), s, req)
			for i, p := range resp.Topics[0].Partitions {
				if got := readOldSet(t, p.RecordBatches); p.ErrorCode != 0 || len(got) != tc.want[i] {
					t.Fatalf("partition %d: code %d, %d messages, want %d", i, p.ErrorCode, len(got), tc.want[i])
				}
			}
		})
	}
}

// TestFetchDownConversionDisabled: message.downconversion.enable=false
// answers Fetch v0-3 UNSUPPORTED_VERSION for the topic, as Kafka does;
// Fetch v4 reads as ever.
func TestFetchDownConversionDisabled(t *testing.T) {
	s := newDataServer(t)
	id := [16]byte{6}
	cfg := testTopicConfig()
	cfg.DownConversionDisabled = true
	addTopic(t, s, "t", id, 1, cfg)
	doProduce(t, s, produceReq(9, 1, "t", plainBatch(2, 100)))
	for v, want := range map[int16]int16{0: kerr.UnsupportedVersion.Code, 3: kerr.UnsupportedVersion.Code, 4: 0} {
		if p := doFetch(t, context.Background(), s, fetchReq(v, "t", id, 1<<20, 0)).Topics[0].Partitions[0]; p.ErrorCode != want {
			t.Errorf("Fetch v%d: code %d, want %d", v, p.ErrorCode, want)
		}
	}
}
