package broker

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// TestInterBrokerBadInput sends the replication requests with what a stale
// controller, a stranger or a confused follower would send, straight over
// the wire as another broker does, and checks Kafka's answers: nothing
// changes on the broker and nothing panics.
func TestInterBrokerBadInput(t *testing.T) {
	s, addr := startTestServer(t, "broker.id=1")
	adm, _ := newAdmin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res, err := adm.CreateTopics(ctx, 1, 1, nil, "guarded"); err != nil || res["guarded"].Err != nil {
		t.Fatalf("create: %v %v", err, res["guarded"].Err)
	}
	waitFor(t, 10*time.Second, "the topic led here", func() bool {
		p, ok := s.replicas.get(topicPartition{"guarded", 0})
		return ok && p.leading.Load()
	})
	p, _ := s.replicas.get(topicPartition{"guarded", 0})
	epochBefore := p.LeaderEpoch()
	cl := wire.NewClient(addr, "stranger")
	defer cl.Close()
	ask := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := cl.Request(ctx, req)
		if err != nil {
			t.Fatalf("request %d: %v", req.Key(), err)
		}
		return resp
	}
	current := s.ctl.Epoch()
	brokerEpoch := s.zk.BrokerEpoch()
	leaderAndIsr := func(controllerEpoch int32, brokerEpoch int64) *kmsg.LeaderAndISRRequest {
		r := kmsg.NewPtrLeaderAndISRRequest()
		r.Version = 7
		r.ControllerID = 9
		r.ControllerEpoch = controllerEpoch
		r.BrokerEpoch = brokerEpoch
		r.TopicStates = []kmsg.LeaderAndISRRequestTopicState{{Topic: "guarded", PartitionStates: []kmsg.LeaderAndISRRequestTopicPartition{{
			Partition: 0, ControllerEpoch: controllerEpoch, Leader: 2, LeaderEpoch: epochBefore + 5, ISR: []int32{2}, Replicas: []int32{1, 2},
		}}}}
		return r
	}
	tests := []struct {
		name string
		req  kmsg.Request
		code func(kmsg.Response) int16
		want *kerr.Error
	}{
		{"LeaderAndIsr from an older controller epoch", leaderAndIsr(current-1, -1),
			func(r kmsg.Response) int16 { return r.(*kmsg.LeaderAndISRResponse).ErrorCode }, kerr.StaleControllerEpoch},
		{"LeaderAndIsr for an older broker epoch", leaderAndIsr(current, brokerEpoch-1),
			func(r kmsg.Response) int16 { return r.(*kmsg.LeaderAndISRResponse).ErrorCode }, kerr.StaleBrokerEpoch},
		{"StopReplica from an older controller epoch", func() kmsg.Request {
			r := kmsg.NewPtrStopReplicaRequest()
			r.Version = 4
			r.ControllerEpoch = current - 1
			r.BrokerEpoch = -1
			r.Topics = []kmsg.StopReplicaRequestTopic{{Topic: "guarded", PartitionStates: []kmsg.StopReplicaRequestTopicPartitionState{{Partition: 0, Delete: true}}}}
			return r
		}(), func(r kmsg.Response) int16 { return r.(*kmsg.StopReplicaResponse).ErrorCode }, kerr.StaleControllerEpoch},
		{"UpdateMetadata from an older controller epoch", func() kmsg.Request {
			r := kmsg.NewPtrUpdateMetadataRequest()
			r.Version = 8
			r.ControllerEpoch = current - 1
			r.BrokerEpoch = -1
			return r
		}(), func(r kmsg.Response) int16 { return r.(*kmsg.UpdateMetadataResponse).ErrorCode }, kerr.StaleControllerEpoch},
		{"Fetch from a replica id that is not a replica", func() kmsg.Request {
			r := kmsg.NewPtrFetchRequest()
			r.Version = 12
			r.ReplicaID = 7
			r.MaxBytes = 1 << 20
			r.Topics = []kmsg.FetchRequestTopic{{Topic: "guarded", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: -1, PartitionMaxBytes: 1 << 20}}}}
			return r
		}(), func(r kmsg.Response) int16 { return r.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode }, kerr.NotLeaderForPartition},
		{"AlterPartition from a broker that is not registered", func() kmsg.Request {
			r := kmsg.NewPtrAlterPartitionRequest()
			r.Version = 1
			r.BrokerID = 7
			r.BrokerEpoch = 1
			r.Topics = []kmsg.AlterPartitionRequestTopic{{Topic: "guarded", Partitions: []kmsg.AlterPartitionRequestTopicPartition{{Partition: 0, NewISR: []int32{7}}}}}
			return r
		}(), func(r kmsg.Response) int16 { return r.(*kmsg.AlterPartitionResponse).ErrorCode }, kerr.StaleBrokerEpoch},
		{"AlterPartition at a stale leader epoch", func() kmsg.Request {
			r := kmsg.NewPtrAlterPartitionRequest()
			r.Version = 1
			r.BrokerID = 1
			r.BrokerEpoch = brokerEpoch
			r.Topics = []kmsg.AlterPartitionRequestTopic{{Topic: "guarded", Partitions: []kmsg.AlterPartitionRequestTopicPartition{{Partition: 0, LeaderEpoch: epochBefore - 1, NewISR: []int32{1}}}}}
			return r
		}(), func(r kmsg.Response) int16 { return r.(*kmsg.AlterPartitionResponse).Topics[0].Partitions[0].ErrorCode }, kerr.FencedLeaderEpoch},
		{"OffsetForLeaderEpoch from a follower ahead of this leader", func() kmsg.Request {
			r := kmsg.NewPtrOffsetForLeaderEpochRequest()
			r.Version = 4
			r.ReplicaID = 2
			r.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: "guarded", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: epochBefore + 1, LeaderEpoch: 0}}}}
			return r
		}(), func(r kmsg.Response) int16 {
			return r.(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0].ErrorCode
		}, kerr.UnknownLeaderEpoch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.code(ask(tc.req)); got != tc.want.Code {
				t.Errorf("answered %v, want %v", kerr.ErrorForCode(got), tc.want)
			}
		})
	}
	// Nothing changed: still the leader at its epoch, the log still there.
	p2, ok := s.replicas.get(topicPartition{"guarded", 0})
	if !ok || p2 != p || !p.leading.Load() || p.LeaderEpoch() != epochBefore {
		t.Errorf("after the refused requests: hosted %v, leading %v, epoch %d (was %d)", ok, p.leading.Load(), p.LeaderEpoch(), epochBefore)
	}

	// An epoch older than any the log has: UNDEFINED_EPOCH_OFFSET.
	r := kmsg.NewPtrOffsetForLeaderEpochRequest()
	r.Version = 4
	r.ReplicaID = -1
	r.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: "guarded", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: -1, LeaderEpoch: epochBefore - 1}}}}
	op := ask(r).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
	if op.ErrorCode != 0 || op.LeaderEpoch != -1 || op.EndOffset != -1 {
		t.Errorf("unknown older epoch: error %d epoch %d end %d, want 0, -1, -1", op.ErrorCode, op.LeaderEpoch, op.EndOffset)
	}
}

// TestTopicZnodeRemovedKeepsLogs removes a topic's znodes the way
// `zkCli deleteall /brokers/topics/keep` does, without a topic deletion,
// either while the broker runs or while it is down, and restarts the
// broker: its logs stay on disk with every byte, as Kafka deletes data only
// through /admin/delete_topics (issue 13, item 4). In ZooKeeper mode Kafka
// keeps the log of a topic the controller no longer knows and serves
// nothing from it (UNKNOWN_TOPIC_OR_PARTITION); gokafka does the same and
// says at start-up which directories it keeps.
func TestTopicZnodeRemovedKeepsLogs(t *testing.T) {
	tests := []struct {
		name string
		// whileRunning removes the znodes before the broker stops;
		// otherwise between its stop and its restart.
		whileRunning bool
	}{
		{"removed while the broker runs", true},
		{"removed while the broker is down", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testServerConfig(t)
			s, addr, stop := runTestServer(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			adm, cl := newAdmin(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))
			if res, err := adm.CreateTopics(ctx, 2, 1, nil, "keep"); err != nil || res["keep"].Err != nil {
				t.Fatalf("create: %v %v", err, res["keep"].Err)
			}
			dirs := []string{s.dirs.PathFor("keep", 0), s.dirs.PathFor("keep", 1)}
			var values []string
			for p := range int32(2) {
				for i := range 5 {
					v := fmt.Sprintf("kept-%d-%d", p, i)
					values = append(values, v)
					if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "keep", Partition: p, Value: []byte(v)}).FirstErr(); err != nil {
						t.Fatalf("produce %s: %v", v, err)
					}
				}
			}
			tool := toolClient(t, s)
			if tc.whileRunning {
				if err := tool.DeleteTopic(ctx, zkmeta.ControllerEpoch{ZkVersion: -1}, "keep"); err != nil {
					t.Fatal(err)
				}
				waitFor(t, 10*time.Second, "the topic to leave the metadata", func() bool {
					_, ok := s.meta.topic("keep")
					return !ok
				})
				waitFor(t, 10*time.Second, "the replicas to stop", func() bool {
					p, ok := s.replicas.get(topicPartition{"keep", 0})
					return !ok || !p.leading.Load()
				})
				for _, d := range dirs {
					if _, err := os.Stat(d); err != nil {
						t.Errorf("%s after its znodes were removed by hand: %v (want it kept)", d, err)
					}
				}
			}
			stop()
			if !tc.whileRunning {
				if err := tool.DeleteTopic(ctx, zkmeta.ControllerEpoch{ZkVersion: -1}, "keep"); err != nil {
					t.Fatal(err)
				}
			}
			before := segmentFiles(t, dirs)
			for _, v := range values {
				if !segmentsContain(before, v) {
					t.Fatalf("record %q is not in the segments before the restart", v)
				}
			}

			core, logs := observer.New(zap.WarnLevel)
			logger := zap.New(zapcore.NewTee(core, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core()))
			s2, addr2, stop2 := runTestServerLogged(t, cfg, logger)
			waitFor(t, 10*time.Second, "a start-up warning naming the kept directories", func() bool {
				for _, e := range logs.FilterMessage(unlistedPartitionDirsMessage).All() {
					if e.ContextMap()["topic"] == "keep" {
						return true
					}
				}
				return false
			})
			// Another topic created and served after the restart: the
			// controller has done its start-up work by now.
			adm2, _ := newAdmin(t, addr2)
			if res, err := adm2.CreateTopics(ctx, 1, 1, nil, "fresh"); err != nil || res["fresh"].Err != nil {
				t.Fatalf("create after the restart: %v %v", err, res["fresh"].Err)
			}
			waitFor(t, 10*time.Second, "the new topic to be led here", func() bool {
				p, ok := s2.replicas.get(topicPartition{"fresh", 0})
				return ok && p.leading.Load()
			})
			assertNotServed(ctx, t, addr2, "keep")
			if _, ok := s2.replicas.get(topicPartition{"keep", 0}); ok {
				t.Error("keep-0 is hosted after the restart")
			}
			stop2()
			after := segmentFiles(t, dirs)
			if !maps.EqualFunc(before, after, bytes.Equal) {
				t.Errorf("segments changed across the restart: %d files before, %d after", len(before), len(after))
			}
		})
	}
}

// segmentFiles reads every segment (.log) file under dirs, by path.
func segmentFiles(t *testing.T, dirs []string) map[string][]byte {
	t.Helper()
	out := make(map[string][]byte)
	for _, d := range dirs {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatalf("%s: %v (want it kept)", d, err)
		}
		for _, e := range ents {
			if filepath.Ext(e.Name()) != ".log" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(d, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Join(d, e.Name())] = b
		}
	}
	return out
}

// segmentsContain reports whether an uncompressed record value is in one of
// the segments.
func segmentsContain(segs map[string][]byte, value string) bool {
	for _, b := range segs {
		if bytes.Contains(b, []byte(value)) {
			return true
		}
	}
	return false
}

// assertNotServed checks that the broker at addr answers Metadata,
// Produce, Fetch and ListOffsets for topic's partition 0 with
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka does for a topic its metadata cache
// does not have, whatever lies on disk.
func assertNotServed(ctx context.Context, t *testing.T, addr, topic string) {
	t.Helper()
	cl := wire.NewClient(addr, "probe")
	defer cl.Close()
	meta := kmsg.NewPtrMetadataRequest()
	meta.Version = 12
	meta.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr(topic)}}
	meta.AllowAutoTopicCreation = false
	produce := produceReq(9, 1, topic, plainBatch(1, time.Now().UnixMilli()))
	fetch := fetchReq(12, topic, [16]byte{}, 1<<20, 0)
	list := kmsg.NewPtrListOffsetsRequest()
	list.Version = 7
	list.ReplicaID = -1
	list.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: topic, Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Partition: 0, CurrentLeaderEpoch: -1, Timestamp: -2}}}}
	tests := []struct {
		name string
		req  kmsg.Request
		code func(kmsg.Response) int16
	}{
		{"Metadata", meta, func(r kmsg.Response) int16 { return r.(*kmsg.MetadataResponse).Topics[0].ErrorCode }},
		{"Produce", produce, func(r kmsg.Response) int16 { return r.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode }},
		{"Fetch", fetch, func(r kmsg.Response) int16 { return r.(*kmsg.FetchResponse).Topics[0].Partitions[0].ErrorCode }},
		{"ListOffsets", list, func(r kmsg.Response) int16 { return r.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode }},
	}
	for _, tc := range tests {
		resp, err := cl.Request(ctx, tc.req)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := tc.code(resp); got != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("%s of %s answered %v, want UNKNOWN_TOPIC_OR_PARTITION", tc.name, topic, kerr.ErrorForCode(got))
		}
	}
}
