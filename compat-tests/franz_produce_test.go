package compattests

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// testRecords builds n records for topic with keys, two headers and
// distinct millisecond timestamps, so a round trip checks every field.
func testRecords(topic, prefix string, n int, base time.Time) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{
			Topic:     topic,
			Key:       []byte(fmt.Sprintf("%s-key-%d", prefix, i)),
			Value:     []byte(fmt.Sprintf("%s-value-%d", prefix, i)),
			Headers:   []kgo.RecordHeader{{Key: "seq", Value: []byte(fmt.Sprint(i))}, {Key: "origin", Value: []byte(prefix)}},
			Timestamp: base.Add(time.Duration(i) * time.Second).Truncate(time.Millisecond),
		}
	}
	return recs
}

// TestFranzProduceAcks produces with acks 0, 1 and all (idempotent) and
// reads everything back: keys, values, headers and timestamps intact, in
// order, at offsets 0..n-1.
func TestFranzProduceAcks(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	base := time.Now().Add(-time.Hour)

	for _, tc := range []struct {
		name string
		opts []kgo.Opt
	}{
		{"acks=0", []kgo.Opt{kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()}},
		{"acks=1", []kgo.Opt{kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()}},
		{"acks=all", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks())}},
		{"acks=all-non-idempotent", []kgo.Opt{kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DisableIdempotentWrite()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "acks-" + tc.name[5:]
			createTopic(t, adm, topic, 1, nil)
			want := testRecords(topic, tc.name, 50, base)
			produceSync(t, newClient(t, b, tc.opts...), want...)
			got := consumeAll(t, b, topic, 1, len(want))
			recordsEqual(t, got, want)
			for i, r := range got {
				if r.Offset != int64(i) {
					t.Fatalf("record %d at offset %d", i, r.Offset)
				}
			}
		})
	}
}

// TestFranzCompression produces with every codec and checks that the
// records come back intact and that the consumer received batches in the
// producer's codec (the broker stores batches as produced).
func TestFranzCompression(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	for _, tc := range []struct {
		name  string
		codec kgo.CompressionCodec
		id    uint8
	}{
		{"none", kgo.NoCompression(), 0},
		{"gzip", kgo.GzipCompression(), 1},
		{"snappy", kgo.SnappyCompression(), 2},
		{"lz4", kgo.Lz4Compression(), 3},
		{"zstd", kgo.ZstdCompression(), 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			topic := "codec-" + tc.name
			createTopic(t, adm, topic, 2, nil)
			want := testRecords(topic, tc.name, 200, time.Now())
			for _, r := range want {
				r.Value = append(r.Value, []byte(" and some repetitive padding, padding, padding")...)
			}
			produceSync(t, newClient(t, b, kgo.ProducerBatchCompression(tc.codec), kgo.ProducerLinger(50*time.Millisecond)), want...)

			seen := &compressionSeen{}
			got := consumeAll(t, b, topic, 2, len(want), kgo.WithHooks(seen))
			gotBy, wantBy := byPartition(got), map[string]*kgo.Record{}
			for _, r := range want {
				wantBy[string(r.Key)] = r
			}
			for p, recs := range gotBy {
				var exp []*kgo.Record
				for _, r := range recs {
					exp = append(exp, wantBy[string(r.Key)])
				}
				t.Run(fmt.Sprintf("partition-%d", p), func(t *testing.T) { recordsEqual(t, recs, exp) })
			}
			if ok, codecs := seen.only(tc.id); !ok {
				t.Errorf("fetched batch codecs %v, want only codec %d (%s)", codecs, tc.id, tc.name)
			}
		})
	}
}

// TestFranzConsumePositions consumes from the beginning, from an offset and
// by timestamp, and lists earliest, latest and by-time offsets.
func TestFranzConsumePositions(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	const topic = "positions"
	createTopic(t, adm, topic, 1, nil)

	base := time.Now().Add(-24 * time.Hour).Truncate(time.Millisecond)
	want := testRecords(topic, "pos", 10, base) // timestamps base, base+1s, ... base+9s
	// One record per request so that each lands in its own batch.
	cl := newClient(t, b)
	for _, r := range want {
		produceSync(t, cl, r)
	}

	t.Run("beginning", func(t *testing.T) {
		recordsEqual(t, consumeAll(t, b, topic, 1, 10), want)
	})
	t.Run("offset", func(t *testing.T) {
		got := consume(t, b, map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(6)}}, 4)
		recordsEqual(t, got, want[6:])
		if got[0].Offset != 6 {
			t.Errorf("first record at offset %d, want 6", got[0].Offset)
		}
	})
	t.Run("timestamp", func(t *testing.T) {
		// 3.5 s after base: the first record at or after it is the 5th (offset 4).
		at := base.Add(3500 * time.Millisecond).UnixMilli()
		got := consume(t, b, map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AfterMilli(at)}}, 6)
		recordsEqual(t, got, want[4:])
	})
	t.Run("list-offsets", func(t *testing.T) {
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		byTime, err := adm.ListOffsetsAfterMilli(ctx, base.Add(7*time.Second).UnixMilli(), topic)
		if err != nil {
			t.Fatal(err)
		}
		future, err := adm.ListOffsetsAfterMilli(ctx, time.Now().Add(time.Hour).UnixMilli(), topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			what string
			lo   map[string]map[int32]int64
			want int64
		}{
			{"earliest", offsetsOf(starts), 0},
			{"latest", offsetsOf(ends), 10},
			{"at base+7s", offsetsOf(byTime), 7},
			// Kafka answers -1 for a time after every record; kadm then lists the end.
			{"after the last record", offsetsOf(future), 10},
		} {
			if got := c.lo[topic][0]; got != c.want {
				t.Errorf("%s offset = %d, want %d", c.what, got, c.want)
			}
		}
	})
}
