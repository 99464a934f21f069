package compattests

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// Clients that predate message format v2 (issue 10): sarama pinned to
// 0.8.2, 0.9 and 0.10.2 (Produce v0-2 with message sets v0/v1, Fetch v0-3,
// ListOffsets v0-1, Metadata v0) and kafka-python pinned to 0.8.1, 0.8.2,
// 0.9 and 0.10.1 (with OffsetCommit v0-2 and OffsetFetch v0-1).

// oldRecords is how many records each old-client test writes.
const oldRecords = 40

// saramaConfig is a sarama configuration pinned to version v.
func saramaConfig(v sarama.KafkaVersion, codec sarama.CompressionCodec) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.ClientID = "gokafka-old-sarama"
	cfg.Producer.Compression = codec
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Return.Errors = true
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	return cfg
}

// saramaConsume reads n messages of partition 0 from the start with
// sarama's partition consumer.
func saramaConsume(t *testing.T, b *testcluster.Broker, cfg *sarama.Config, topic string, n int) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
	if err != nil {
		t.Fatalf("sarama consumer (version %s): %v", cfg.Version, err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(topic, 0, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("sarama consume %s-0 (version %s): %v", topic, cfg.Version, err)
	}
	defer pc.Close()
	ctx := testCtx(t)
	var got []*sarama.ConsumerMessage
	for len(got) < n {
		select {
		case m := <-pc.Messages():
			got = append(got, m)
		case err := <-pc.Errors():
			t.Fatalf("sarama consume (version %s) after %d messages: %v", cfg.Version, len(got), err)
		case <-ctx.Done():
			t.Fatalf("sarama consumed %d of %d messages (version %s) before the deadline", len(got), n, cfg.Version)
		}
	}
	return got
}

// TestSaramaOldVersions produces with sarama pinned to each pre-0.11
// version (a different codec each, all in one request so a compressed
// wrapper holds many messages), consumes the messages back with the same
// client, and reads the stored records with franz-go: same offsets, keys,
// values, timestamps where the format has them, and the producer's codec.
func TestSaramaOldVersions(t *testing.T) {
	_, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	for _, tc := range []struct {
		version sarama.KafkaVersion
		codec   sarama.CompressionCodec
		kgo     uint8 // the codec id franz-go reports
	}{
		{sarama.V0_8_2_0, sarama.CompressionGZIP, 1},
		{sarama.V0_9_0_0, sarama.CompressionSnappy, 2},
		{sarama.V0_10_2_0, sarama.CompressionLZ4, 3},
	} {
		t.Run(tc.version.String(), func(t *testing.T) {
			topic := "sarama-" + strings.ReplaceAll(tc.version.String(), ".", "-")
			createTopic(t, adm, topic, 1, nil)
			cfg := saramaConfig(tc.version, tc.codec)
			p, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatalf("sarama producer: %v", err)
			}
			defer p.Close()
			// Whole milliseconds: format v1 keeps milliseconds.
			base := time.UnixMilli(time.Now().UnixMilli())
			msgs := make([]*sarama.ProducerMessage, oldRecords)
			for i := range msgs {
				msgs[i] = &sarama.ProducerMessage{Topic: topic, Partition: 0,
					Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("v%d", i)),
					Timestamp: base.Add(time.Duration(i) * time.Millisecond)}
			}
			if err := p.SendMessages(msgs); err != nil {
				t.Fatalf("sarama produce: %v", err)
			}
			withTS := tc.version.IsAtLeast(sarama.V0_10_0_0)

			got := saramaConsume(t, b, cfg, topic, oldRecords)
			for i, m := range got {
				if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("k%d", i) || string(m.Value) != fmt.Sprintf("v%d", i) {
					t.Fatalf("sarama read message %d: offset %d key %q value %q", i, m.Offset, m.Key, m.Value)
				}
				if withTS && !m.Timestamp.Equal(msgs[i].Timestamp) {
					t.Fatalf("sarama read message %d with timestamp %v, produced %v", i, m.Timestamp, msgs[i].Timestamp)
				}
			}

			var seen compressionSeen
			recs := consume(t, b, map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}, oldRecords, kgo.WithHooks(&seen))
			for i, r := range recs {
				wantTS := int64(-1) // format v0 has no timestamp
				if withTS {
					wantTS = msgs[i].Timestamp.UnixMilli()
				}
				if r.Offset != int64(i) || string(r.Key) != fmt.Sprintf("k%d", i) || string(r.Value) != fmt.Sprintf("v%d", i) || r.Timestamp.UnixMilli() != wantTS {
					t.Fatalf("franz-go read record %d: offset %d key %q value %q timestamp %d (want %d)", i, r.Offset, r.Key, r.Value, r.Timestamp.UnixMilli(), wantTS)
				}
			}
			if ok, codecs := seen.only(tc.kgo); !ok {
				t.Errorf("stored codecs %v, want only %d", codecs, tc.kgo)
			}
		})
	}
}

// TestSaramaOldConsumersReadV2 writes v2 batches with franz-go (idempotent,
// with record headers; a third each in snappy, gzip and lz4) and reads them
// with sarama pinned to 0.10.2 (Fetch v3, format v1) and 0.8.2 (Fetch v0,
// format v0): the broker down-converts into wrapper messages of each codec
// (lz4 plain for format v0), dropping the headers.
func TestSaramaOldConsumersReadV2(t *testing.T) {
	_, b := startBroker(t, nil)
	const topic = "modern"
	createTopic(t, newAdmin(t, b), topic, 1, nil)
	base := time.UnixMilli(time.Now().UnixMilli())
	recs := make([]*kgo.Record, oldRecords)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte(fmt.Sprintf("mk%d", i)), Value: bytes.Repeat([]byte{byte('a' + i%26)}, 100+i),
			Timestamp: base.Add(time.Duration(i) * time.Millisecond), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}}
	}
	third := oldRecords / 3
	for i, codec := range []kgo.CompressionCodec{kgo.SnappyCompression(), kgo.GzipCompression(), kgo.Lz4Compression()} {
		cl := newClient(t, b, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(codec), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		end := (i + 1) * third
		if i == 2 {
			end = oldRecords
		}
		produceSync(t, cl, recs[i*third:end]...)
	}

	for _, v := range []sarama.KafkaVersion{sarama.V0_10_2_0, sarama.V0_8_2_0} {
		t.Run(v.String(), func(t *testing.T) {
			cfg := saramaConfig(v, sarama.CompressionNone)
			// A small fetch size: the answers are bounded by it and the
			// consumer needs several fetches.
			cfg.Consumer.Fetch.Default = 1024
			got := saramaConsume(t, b, cfg, topic, oldRecords)
			for i, m := range got {
				if m.Offset != int64(i) || !bytes.Equal(m.Key, recs[i].Key) || !bytes.Equal(m.Value, recs[i].Value) || len(m.Headers) != 0 {
					t.Fatalf("message %d: offset %d key %q, %d value bytes, %d headers", i, m.Offset, m.Key, len(m.Value), len(m.Headers))
				}
				if v.IsAtLeast(sarama.V0_10_0_0) && !m.Timestamp.Equal(recs[i].Timestamp) {
					t.Fatalf("message %d: timestamp %v, produced %v", i, m.Timestamp, recs[i].Timestamp)
				}
			}
		})
	}
}

// kafkaPythonOldScript produces N records with kafka-python pinned to an
// api_version, then consumes them in group py-<topic>: as a member, where
// the version has group membership (0.9 and later), or with the partition
// assigned by hand before that, as 0.8 consumers did. Either way it commits
// offset N for the group and reads the commit back with committed() (an
// OffsetFetch of the same version family). It prints "offset key value"
// per record, then "committed N".
const kafkaPythonOldScript = `
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
addr, topic, n, ver, codec = sys.argv[1], sys.argv[2], int(sys.argv[3]), tuple(int(x) for x in sys.argv[4].split('.')), sys.argv[5]
p = KafkaProducer(bootstrap_servers=addr, api_version=ver, acks='all', request_timeout_ms=30000,
                  compression_type=None if codec == 'none' else codec, linger_ms=50)
futures = [p.send(topic, key=b'k%d' % i, value=b'v%d' % i, partition=0) for i in range(n)]
for f in futures:
    f.get(timeout=60)
p.close()
tp = TopicPartition(topic, 0)
group = 'py-' + topic
if ver >= (0, 9):
    c = KafkaConsumer(topic, bootstrap_servers=addr, api_version=ver, group_id=group, enable_auto_commit=False,
                      auto_offset_reset='earliest', consumer_timeout_ms=60000)
else:
    c = KafkaConsumer(bootstrap_servers=addr, api_version=ver, group_id=group, enable_auto_commit=False,
                      auto_offset_reset='earliest', consumer_timeout_ms=60000)
    c.assign([tp])
    c.seek_to_beginning(tp)
got = 0
for m in c:
    print(m.offset, m.key.decode(), m.value.decode())
    got += 1
    if got == n:
        break
c.commit({tp: OffsetAndMetadata(n, '')})
print('committed', c.committed(tp))
c.close()
`

// TestKafkaPythonOldVersions runs kafka-python with api_version 0.10.1
// and 0.9 (gzip: their fetches get gzip wrapper messages back), 0.8.2 and
// 0.8.1, each committing an offset for its group and reading it back.
//
// What kafka-python sends for the commit depends on the version, and so
// does where Kafka 3.9 (ZooKeeper mode) keeps it: 0.9 and later join the
// group and commit with OffsetCommit v2 (0.10.1 and 0.9 alike); 0.8.2 finds
// the coordinator (GroupCoordinator v0) and commits with OffsetCommit v1
// as a simple commit (generation -1, no member); both go to the group
// coordinator, so a modern client's OffsetFetch (franz-go's admin) reads
// them. 0.8.1 sends OffsetCommit v0 and OffsetFetch v0 to any broker, and
// Kafka writes and reads those straight in ZooKeeper, at
// /consumers/<group>/offsets/<topic>/<partition> with the offset as decimal
// text (KafkaApis.commitOffsetsToZookeeper), which is where the old
// tooling (zkCli, Burrow's ZooKeeper module) looks, so the test reads it
// there.
func TestKafkaPythonOldVersions(t *testing.T) {
	requirePythonModule(t, "kafka", "python3-kafka")
	c, b := startBroker(t, nil)
	adm := newAdmin(t, b)
	for _, tc := range []struct {
		version, codec string
		// zkOffsets: the commit is OffsetCommit v0, kept in ZooKeeper's
		// /consumers tree; otherwise it is the group coordinator's.
		zkOffsets bool
	}{
		{"0.10.1", "gzip", false},
		{"0.9", "gzip", false},
		{"0.8.2", "none", false},
		{"0.8.1", "none", true},
	} {
		t.Run(tc.version, func(t *testing.T) {
			topic := "py-" + strings.ReplaceAll(tc.version, ".", "-")
			group := "py-" + topic
			createTopic(t, adm, topic, 1, nil)
			got := runPython(t, kafkaPythonOldScript, b.Addr(), topic, fmt.Sprint(oldRecords), tc.version, tc.codec)
			want := expectedLines("", oldRecords) + fmt.Sprintf("committed %d\n", oldRecords)
			if got != want {
				t.Fatalf("kafka-python %s read back:\n%s\nwant:\n%s", tc.version, got, want)
			}
			if tc.zkOffsets {
				path := fmt.Sprintf("/consumers/%s/offsets/%s/0", group, topic)
				data, err := c.ZKClient(t).Get(path)
				if err != nil {
					t.Fatalf("read %s: %v", path, err)
				}
				if string(data) != fmt.Sprint(oldRecords) {
					t.Fatalf("%s holds %q, want %q", path, data, fmt.Sprint(oldRecords))
				}
				return
			}
			offs, err := adm.FetchOffsets(testCtx(t), group)
			if err != nil {
				t.Fatalf("fetch offsets: %v", err)
			}
			if o, ok := offs.Lookup(topic, 0); !ok || o.At != oldRecords {
				t.Fatalf("group %s committed %+v, want %d", group, o, oldRecords)
			}
		})
	}
}
