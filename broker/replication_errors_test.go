package broker

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
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
// `zkCli deleteall /brokers/topics/keep` does, without a topic deletion:
// the broker stops serving the topic but keeps its logs on disk, as Kafka
// deletes data only through /admin/delete_topics (issue 13, item 4).
func TestTopicZnodeRemovedKeepsLogs(t *testing.T) {
	s, addr := startTestServer(t)
	adm, _ := newAdmin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res, err := adm.CreateTopics(ctx, 2, 1, nil, "keep"); err != nil || res["keep"].Err != nil {
		t.Fatalf("create: %v %v", err, res["keep"].Err)
	}
	dirs := []string{s.dirs.PathFor("keep", 0), s.dirs.PathFor("keep", 1)}
	waitFor(t, 10*time.Second, "the partitions open", func() bool {
		_, ok0 := s.replicas.get(topicPartition{"keep", 0})
		_, ok1 := s.replicas.get(topicPartition{"keep", 1})
		return ok0 && ok1
	})
	tool := toolClient(t, s)
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
