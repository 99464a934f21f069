package broker

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCreateTopicsErrors checks each refusal a user can meet with
// kafka-topics --create, with Kafka's error codes and messages.
func TestCreateTopicsErrors(t *testing.T) {
	_, addr := startTestServer(t)
	adm, cl := newAdmin(t, addr)
	ctx := adminCtx(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "exists"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 250)
	tests := []struct {
		name    string
		topic   string
		parts   int32
		rf      int16
		configs map[string]*string
		want    error
		msg     string
	}{
		{"bad character", "a/b", 1, 1, nil, kerr.InvalidTopicException, "illegal"},
		{"dot", ".", 1, 1, nil, kerr.InvalidTopicException, "cannot be"},
		{"too long", long, 1, 1, nil, kerr.InvalidTopicException, "249"},
		{"exists", "exists", 1, 1, nil, kerr.TopicAlreadyExists, "already exists"},
		{"zero partitions", "p0", 0, 1, nil, kerr.InvalidPartitions, "larger than 0"},
		{"replication factor", "rf3", 1, 3, nil, kerr.InvalidReplicationFactor, "Replication factor: 3 larger than available brokers: 1."},
		{"zero replication factor", "rf0", 1, 0, nil, kerr.InvalidReplicationFactor, ""},
		{"unknown config", "cfg1", 1, 1, map[string]*string{"retention.mss": kadm.StringPtr("1")}, kerr.InvalidConfig, "Unknown topic config name: retention.mss"},
		{"bad config value", "cfg2", 1, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("shred")}, kerr.InvalidConfig, "cleanup.policy"},
		{"null config value", "cfg3", 1, 1, map[string]*string{"retention.ms": nil}, kerr.InvalidConfig, "Null value"},
		{"collides", "exist_s", 1, 1, nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := adm.CreateTopic(ctx, tt.parts, tt.rf, tt.configs, tt.topic)
			if err == nil {
				err = r.Err
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("create %s: %v", tt.topic, err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("create %q: %v, want %v", tt.topic, err, tt.want)
			}
			if !strings.Contains(r.ErrMessage, tt.msg) {
				t.Errorf("message %q does not contain %q", r.ErrMessage, tt.msg)
			}
		})
	}
	if r, _ := adm.CreateTopic(ctx, 1, 1, nil, "exist.s"); !errors.Is(r.Err, kerr.InvalidTopicException) {
		t.Errorf("exist.s colliding with exist_s? got %v", r.Err)
	}

	// Raw requests for what kadm cannot express: duplicates, explicit
	// assignments, validate_only and the v5+ response fields.
	req := kmsg.NewPtrCreateTopicsRequest()
	add := func(name string, np int32, rf int16, assign ...[]int32) {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, np, rf
		for p, reps := range assign {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(p), reps
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		req.Topics = append(req.Topics, rt)
	}
	add("dup", 1, 1)
	add("dup", 1, 1)
	add("assigned", -1, -1, []int32{0}, []int32{0})
	add("unknown-broker", -1, -1, []int32{7})
	add("dup-replica", -1, -1, []int32{0, 0})
	add("defaults", -1, -1)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int16{"dup": kerr.InvalidRequest.Code, "assigned": 0, "unknown-broker": kerr.InvalidReplicaAssignment.Code, "dup-replica": kerr.InvalidReplicaAssignment.Code, "defaults": 0}
	seen := map[string]bool{}
	for _, rt := range resp.Topics {
		seen[rt.Topic] = true
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s: missing from the response (topics %d)", name, len(resp.Topics))
		}
	}
	for _, rt := range resp.Topics {
		if _, ok := want[rt.Topic]; !ok {
			t.Errorf("%s: in the response but not in the request", rt.Topic)
			continue
		}
		if rt.ErrorCode != want[rt.Topic] {
			t.Errorf("%s: error %d (%v), want %d", rt.Topic, rt.ErrorCode, rt.ErrorMessage, want[rt.Topic])
		}
		if rt.Topic == "assigned" && (rt.NumPartitions != 2 || rt.ReplicationFactor != 1 || rt.TopicID == [16]byte{}) {
			t.Errorf("assigned: partitions %d rf %d id %x", rt.NumPartitions, rt.ReplicationFactor, rt.TopicID)
		}
		if rt.Topic == "defaults" && (rt.NumPartitions != 1 || rt.ReplicationFactor != 1 || len(rt.Configs) != len(topicKeys)) {
			t.Errorf("defaults: partitions %d rf %d, %d configs", rt.NumPartitions, rt.ReplicationFactor, len(rt.Configs))
		}
	}

	vo := kmsg.NewPtrCreateTopicsRequest()
	vo.ValidateOnly = true
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "dry-run", 2, 1
	vo.Topics = append(vo.Topics, rt)
	if resp, err := vo.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("validate_only: %v %+v", err, resp)
	}
	if names, _ := adm.ListTopics(ctx); names.Has("dry-run") {
		t.Error("validate_only created the topic")
	}
}

func TestDeleteAndGrowErrors(t *testing.T) {
	_, addr := startTestServer(t)
	adm, cl := newAdmin(t, addr)
	ctx := adminCtx(t)
	dr, err := adm.DeleteTopics(ctx, "nope")
	if err != nil || !errors.Is(dr["nope"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("delete unknown: %v / %v", err, dr["nope"].Err)
	}
	cr, err := adm.UpdatePartitions(ctx, 3, "nope")
	if err != nil || !errors.Is(cr["nope"].Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("grow unknown: %v / %v", err, cr["nope"].Err)
	}
	created, err := adm.CreateTopic(ctx, 2, 1, nil, "t")
	if err != nil || created.Err != nil {
		t.Fatal(err, created.Err)
	}
	cr, _ = adm.UpdatePartitions(ctx, 1, "t")
	if !errors.Is(cr["t"].Err, kerr.InvalidPartitions) || !strings.Contains(cr["t"].ErrMessage, "Topic currently has 2 partitions, which is higher than the requested 1.") {
		t.Errorf("shrink: %v %q", cr["t"].Err, cr["t"].ErrMessage)
	}

	// DeleteTopics v6 by topic id, as kafka-topics --delete --topic-id.
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Topics = []kmsg.DeleteTopicsRequestTopic{{TopicID: [16]byte{1}}, {TopicID: created.ID}}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Topics[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("unknown id: %d", resp.Topics[0].ErrorCode)
	}
	if resp.Topics[1].ErrorCode != 0 || resp.Topics[1].Topic == nil || *resp.Topics[1].Topic != "t" {
		t.Errorf("delete by id: %+v", resp.Topics[1])
	}
}

func TestDeleteTopicDisabled(t *testing.T) {
	_, addr := startTestServer(t, "delete.topic.enable=false")
	adm, _ := newAdmin(t, addr)
	ctx := adminCtx(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "keep"); err != nil {
		t.Fatal(err)
	}
	dr, _ := adm.DeleteTopics(ctx, "keep")
	if !errors.Is(dr["keep"].Err, kerr.TopicDeletionDisabled) {
		t.Errorf("delete with delete.topic.enable=false: %v", dr["keep"].Err)
	}
}
