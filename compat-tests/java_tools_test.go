package compattests

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// javaTools is a Kafka release whose command-line tools we impersonate:
// franz-go pinned to the release's versions sends the same requests at the
// same versions as its kafka-topics.sh / console producer / console consumer
// (../shared/docs/protocol.md section 2), and want lists the version each
// API must be negotiated at against gokafka.
type javaTools struct {
	name     string
	versions *kversion.Versions
	want     map[int16]int16 // api key -> version the tools end up using
}

var javaToolReleases = []javaTools{
	{"kafka-3.9", kversion.V3_9_0(), map[int16]int16{
		0: 11, 1: 17, 2: 9, 3: 12, 19: 7, 20: 6, 21: 2, 22: 5, 32: 4, 33: 2, 35: 4, 37: 3, 43: 2, 44: 1, 46: 0, 60: 1,
	}},
	{"kafka-2.8", kversion.V2_8_0(), map[int16]int16{
		0: 9, 1: 12, 2: 6, 3: 11, 19: 7, 20: 6, 22: 4, 32: 4, 37: 3, 43: 2, 46: 0, 60: 0,
	}},
}

// TestJavaToolSequences replays what kafka-topics.sh (--create, --list,
// --describe, --alter --partitions, --delete), kafka-console-producer.sh
// (idempotent, acks=-1, linger 1000) and kafka-console-consumer.sh
// --partition 0 --offset earliest send, at the versions those tools use.
func TestJavaToolSequences(t *testing.T) {
	_, b := startBroker(t, nil)
	for _, rel := range javaToolReleases {
		t.Run(rel.name, func(t *testing.T) {
			ctx := testCtx(t)
			cl := newClient(t, b, kgo.MaxVersions(rel.versions), kgo.ClientID("adminclient-1"))
			topic := "tools-" + rel.name[6:]
			consoleTopic := "console-" + rel.name[6:]

			t.Run("ApiVersions", func(t *testing.T) {
				resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
				if err != nil || resp.ErrorCode != 0 {
					t.Fatalf("ApiVersions: %v (code %d)", err, resp.ErrorCode)
				}
				adv := map[int16][2]int16{}
				for _, k := range resp.ApiKeys {
					adv[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
				}
				for key, v := range rel.want {
					r, ok := adv[key]
					if !ok {
						t.Errorf("%s not advertised; %s uses v%d", kmsg.NameForKey(key), rel.name, v)
						continue
					}
					// The tools send min(their max, broker max): that must be rel.want.
					clientMax, _ := rel.versions.LookupMaxKeyVersion(key)
					if got := min(clientMax, r[1]); got != v || v < r[0] {
						t.Errorf("%s: broker advertises v%d-%d, %s would use v%d; want v%d", kmsg.NameForKey(key), r[0], r[1], rel.name, got, v)
					}
				}
				if _, ok := adv[75]; ok {
					t.Errorf("DescribeTopicPartitions advertised; a ZooKeeper-mode Kafka 3.9 broker does not (the admin client falls back to Metadata)")
				}
			})

			t.Run("kafka-topics --create", func(t *testing.T) {
				req := kmsg.NewPtrCreateTopicsRequest()
				req.TimeoutMillis = 30000
				def := kmsg.NewCreateTopicsRequestTopic()
				def.Topic, def.NumPartitions, def.ReplicationFactor = topic+"-defaults", -1, -1
				three := kmsg.NewCreateTopicsRequestTopic()
				three.Topic, three.NumPartitions, three.ReplicationFactor = topic, 3, 1
				cfg := kmsg.NewCreateTopicsRequestTopicConfig()
				cfg.Name, cfg.Value = "retention.ms", kmsg.StringPtr("86400000")
				three.Configs = append(three.Configs, cfg)
				req.Topics = append(req.Topics, def, three)
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					t.Fatalf("CreateTopics: %v", err)
				}
				if resp.Version != rel.want[19] {
					t.Errorf("CreateTopics went at v%d, want v%d", resp.Version, rel.want[19])
				}
				if len(resp.Topics) != len(req.Topics) {
					t.Fatalf("CreateTopics answered %d topics, want %d", len(resp.Topics), len(req.Topics))
				}
				for _, rt := range resp.Topics {
					if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
						t.Errorf("create %s: %v (%v)", rt.Topic, err, deref(rt.ErrorMessage))
					}
					if rt.TopicID == [16]byte{} {
						t.Errorf("create %s: no topic id in a v%d response", rt.Topic, resp.Version)
					}
					wantParts := int32(3)
					if rt.Topic != topic {
						wantParts = 1 // num.partitions
					}
					if rt.NumPartitions != wantParts || rt.ReplicationFactor != 1 {
						t.Errorf("create %s: %d partitions rf %d, want %d rf 1", rt.Topic, rt.NumPartitions, rt.ReplicationFactor, wantParts)
					}
				}
			})

			t.Run("kafka-topics --list", func(t *testing.T) {
				resp := metadata(ctx, t, cl, nil, true)
				var names []string
				for _, mt := range resp.Topics {
					names = append(names, deref(mt.Topic))
					if mt.IsInternal {
						t.Errorf("%s reported internal", deref(mt.Topic))
					}
				}
				if !slices.Contains(names, topic) || !slices.Contains(names, topic+"-defaults") {
					t.Errorf("--list shows %v; want %s and %s-defaults", names, topic, topic)
				}
				if resp.ControllerID != b.ID {
					t.Errorf("controller id %d, want %d (the admin client routes creates to it)", resp.ControllerID, b.ID)
				}
			})

			t.Run("kafka-topics --describe", func(t *testing.T) {
				dc := kmsg.NewPtrDescribeClusterRequest()
				if rel.want[60] >= 1 {
					dc.EndpointType = 1 // brokers
				}
				dcResp, err := dc.RequestWith(ctx, cl)
				if err != nil || dcResp.ErrorCode != 0 {
					t.Fatalf("DescribeCluster: %v (code %d)", err, dcResp.ErrorCode)
				}
				if dcResp.ControllerID != b.ID || len(dcResp.Brokers) != 1 || dcResp.Brokers[0].NodeID != b.ID || dcResp.ClusterID == "" {
					t.Errorf("DescribeCluster: controller %d brokers %+v cluster %q", dcResp.ControllerID, dcResp.Brokers, dcResp.ClusterID)
				}

				md := metadata(ctx, t, cl, []string{topic}, false)
				if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != 3 {
					t.Fatalf("Metadata for %s: %+v", topic, md.Topics)
				}
				for _, p := range md.Topics[0].Partitions {
					if p.Leader != b.ID || !slices.Equal(p.Replicas, []int32{b.ID}) || !slices.Equal(p.ISR, []int32{b.ID}) {
						t.Errorf("partition %d: leader %d replicas %v isr %v", p.Partition, p.Leader, p.Replicas, p.ISR)
					}
				}

				cfgReq := kmsg.NewPtrDescribeConfigsRequest()
				res := kmsg.NewDescribeConfigsRequestResource()
				res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, topic
				cfgReq.Resources = append(cfgReq.Resources, res)
				cfgResp, err := cfgReq.RequestWith(ctx, cl)
				if err != nil || len(cfgResp.Resources) != 1 || cfgResp.Resources[0].ErrorCode != 0 {
					t.Fatalf("DescribeConfigs: %v %+v", err, cfgResp)
				}
				sources := map[string]kmsg.ConfigSource{}
				values := map[string]string{}
				for _, c := range cfgResp.Resources[0].Configs {
					sources[c.Name], values[c.Name] = c.Source, deref(c.Value)
				}
				if sources["retention.ms"] != kmsg.ConfigSourceDynamicTopicConfig || values["retention.ms"] != "86400000" {
					t.Errorf("retention.ms = %q from source %v, want 86400000 from DYNAMIC_TOPIC_CONFIG", values["retention.ms"], sources["retention.ms"])
				}
				if sources["segment.bytes"] != kmsg.ConfigSourceDefaultConfig || values["segment.bytes"] != "1073741824" {
					t.Errorf("segment.bytes = %q from source %v, want Kafka's default 1073741824 from DEFAULT_CONFIG", values["segment.bytes"], sources["segment.bytes"])
				}

				lpr := kmsg.NewPtrListPartitionReassignmentsRequest()
				lpr.TimeoutMillis = 30000
				lprResp, err := lpr.RequestWith(ctx, cl)
				if err != nil || lprResp.ErrorCode != 0 || len(lprResp.Topics) != 0 {
					t.Errorf("ListPartitionReassignments: %v %+v; want no error and no reassignments", err, lprResp)
				}
			})

			t.Run("kafka-topics --alter --partitions", func(t *testing.T) {
				req := kmsg.NewPtrCreatePartitionsRequest()
				req.TimeoutMillis = 30000
				rt := kmsg.NewCreatePartitionsRequestTopic()
				rt.Topic, rt.Count = topic, 5
				req.Topics = append(req.Topics, rt)
				resp, err := req.RequestWith(ctx, cl)
				if err != nil || len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
					t.Fatalf("CreatePartitions: %v %+v", err, resp)
				}
				eventually(t, topic+" has 5 partitions", func() error {
					md := metadata(ctx, t, cl, []string{topic}, false)
					if n := len(md.Topics[0].Partitions); n != 5 {
						return fmt.Errorf("%d partitions", n)
					}
					return nil
				})
			})

			var lines []string
			for i := range 20 {
				lines = append(lines, fmt.Sprintf("%s console line %d", rel.name, i))
			}

			t.Run("kafka-console-producer", func(t *testing.T) {
				ip := kmsg.NewPtrInitProducerIDRequest()
				ip.TransactionTimeoutMillis = math.MaxInt32
				ipResp, err := ip.RequestWith(ctx, cl)
				if err != nil || ipResp.ErrorCode != 0 || ipResp.ProducerID < 0 || ipResp.ProducerEpoch < 0 {
					t.Fatalf("InitProducerId: %v %+v", err, ipResp)
				}
				if ipResp.Version != rel.want[22] {
					t.Errorf("InitProducerId went at v%d, want v%d", ipResp.Version, rel.want[22])
				}
				// The console producer's Metadata asks to auto-create its topic.
				eventually(t, consoleTopic+" auto-created", func() error {
					md := metadata(ctx, t, cl, []string{consoleTopic}, true)
					if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != 1 {
						return fmt.Errorf("metadata %+v", md.Topics)
					}
					return nil
				})
				prod := newClient(t, b, kgo.MaxVersions(rel.versions), kgo.ClientID("console-producer"),
					kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(time.Second), kgo.RecordRetries(3))
				for _, l := range lines {
					prod.Produce(ctx, &kgo.Record{Topic: consoleTopic, Value: []byte(l)}, func(_ *kgo.Record, err error) {
						if err != nil {
							t.Errorf("produce: %v", err)
						}
					})
				}
				if err := prod.Flush(ctx); err != nil {
					t.Fatalf("flush: %v", err)
				}
			})

			t.Run("kafka-console-consumer --partition 0 --offset earliest", func(t *testing.T) {
				md := metadata(ctx, t, cl, []string{consoleTopic}, true)
				topicID := md.Topics[0].TopicID

				lo := kmsg.NewPtrListOffsetsRequest()
				lo.ReplicaID = -1
				lt := kmsg.NewListOffsetsRequestTopic()
				lt.Topic = consoleTopic
				lp := kmsg.NewListOffsetsRequestTopicPartition()
				lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = 0, -2, -1
				lt.Partitions = append(lt.Partitions, lp)
				lo.Topics = append(lo.Topics, lt)
				loResp, err := lo.RequestWith(ctx, cl)
				if err != nil || len(loResp.Topics) != 1 || len(loResp.Topics[0].Partitions) != 1 {
					t.Fatalf("ListOffsets earliest: %v %+v", err, loResp)
				}
				if p := loResp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != 0 {
					t.Fatalf("ListOffsets earliest: offset %d code %d, want 0, 0", p.Offset, p.ErrorCode)
				}

				f := kmsg.NewPtrFetchRequest()
				f.ReplicaID, f.MaxWaitMillis, f.MinBytes, f.MaxBytes = -1, 500, 1, 50<<20
				f.SessionID, f.SessionEpoch = 0, 0
				ft := kmsg.NewFetchRequestTopic()
				if rel.want[1] >= 13 {
					ft.TopicID = topicID // Java fetches by topic id from v13
				} else {
					ft.Topic = consoleTopic
				}
				fp := kmsg.NewFetchRequestTopicPartition()
				fp.Partition, fp.FetchOffset, fp.LogStartOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 0, 0, -1, 1<<20, -1
				ft.Partitions = append(ft.Partitions, fp)
				f.Topics = append(f.Topics, ft)
				fResp, err := f.RequestWith(ctx, cl)
				if err != nil || fResp.ErrorCode != 0 || len(fResp.Topics) != 1 || len(fResp.Topics[0].Partitions) != 1 {
					t.Fatalf("Fetch: %v %+v", err, fResp)
				}
				if fResp.Version != rel.want[1] {
					t.Errorf("Fetch went at v%d, want v%d", fResp.Version, rel.want[1])
				}
				if rel.want[1] >= 13 && fResp.Topics[0].TopicID != topicID {
					t.Errorf("Fetch answered topic id %x, want %x", fResp.Topics[0].TopicID, topicID)
				}
				fpResp := fResp.Topics[0].Partitions[0]
				if fpResp.ErrorCode != 0 || fpResp.HighWatermark != int64(len(lines)) {
					t.Fatalf("Fetch partition: code %d high watermark %d, want 0 and %d", fpResp.ErrorCode, fpResp.HighWatermark, len(lines))
				}
				if n, last := countRecords(t, fpResp.RecordBatches); n != len(lines) || last != int64(len(lines)-1) {
					t.Errorf("Fetch returned %d records ending at offset %d, want %d ending at %d", n, last, len(lines), len(lines)-1)
				}

				got := consume(t, b, map[string]map[int32]kgo.Offset{consoleTopic: {0: kgo.NewOffset().AtStart()}}, len(lines), kgo.MaxVersions(rel.versions))
				for i, r := range got {
					if string(r.Value) != lines[i] || r.Key != nil {
						t.Errorf("record %d: key %q value %q, want no key and %q", i, r.Key, r.Value, lines[i])
					}
					if r.ProducerID < 0 {
						t.Errorf("record %d has no producer id: the console producer is idempotent", i)
					}
				}
			})

			t.Run("kafka-topics --delete", func(t *testing.T) {
				req := kmsg.NewPtrDeleteTopicsRequest()
				req.TimeoutMillis = 30000
				for _, name := range []string{topic, topic + "-defaults", consoleTopic} {
					dt := kmsg.NewDeleteTopicsRequestTopic()
					dt.Topic = kmsg.StringPtr(name)
					req.Topics = append(req.Topics, dt)
					req.TopicNames = append(req.TopicNames, name)
				}
				resp, err := req.RequestWith(ctx, cl)
				if err != nil {
					t.Fatalf("DeleteTopics: %v", err)
				}
				if len(resp.Topics) != len(req.TopicNames) {
					t.Fatalf("DeleteTopics answered %d topics, want %d", len(resp.Topics), len(req.TopicNames))
				}
				for _, rt := range resp.Topics {
					if rt.ErrorCode != 0 {
						t.Errorf("delete %s: %v", deref(rt.Topic), kerr.ErrorForCode(rt.ErrorCode))
					}
				}
				eventually(t, "topics deleted", func() error {
					for _, mt := range metadata(ctx, t, cl, nil, false).Topics {
						if n := deref(mt.Topic); n == topic || n == consoleTopic {
							return fmt.Errorf("%s still listed", n)
						}
					}
					return nil
				})
			})
		})
	}
}

// metadata sends a Metadata request for topics (nil: all topics).
func metadata(ctx context.Context, t *testing.T, cl *kgo.Client, topics []string, autoCreate bool) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = autoCreate
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
		for _, name := range topics {
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(name)
			req.Topics = append(req.Topics, mt)
		}
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	return resp
}

// countRecords walks the record batches of a fetch answer and returns how
// many records they hold and the last offset.
func countRecords(t *testing.T, b []byte) (n int, last int64) {
	t.Helper()
	last = -1
	for len(b) >= 12 {
		length := int(binary.BigEndian.Uint32(b[8:12]))
		if 12+length > len(b) {
			break // a partial batch at the end is allowed
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b[:12+length]); err != nil {
			t.Fatalf("decode record batch: %v", err)
		}
		n += int(rb.NumRecords)
		last = rb.FirstOffset + int64(rb.LastOffsetDelta)
		b = b[12+length:]
	}
	return n, last
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
