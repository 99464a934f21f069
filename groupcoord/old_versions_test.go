package groupcoord

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOldClientVersions drives the requests of 0.8.2-0.10 clients:
// OffsetCommit v0 (no generation: a ZooKeeper-era commit) and v1 (with a
// commit timestamp), OffsetFetch v0-1, and JoinGroup v0, which has no
// rebalance timeout and gets a member id at once.
func TestOldClientVersions(t *testing.T) {
	store := newMemStore()
	c := newTestCoordinator(t, store, nil)
	ctx := testCtx(t)

	v0 := commitReq("old", "ignored", 42, "t", 10, 20)
	v0.Version = 0
	if code := commitCode(t, c.CommitZooKeeperOffsets(ctx, v0)); code != 0 {
		t.Fatalf("OffsetCommit v0: %d (its generation and member are not read)", code)
	}
	v1 := commitReq("old", "", -1, "t", 11)
	v1.Version = 1
	v1.Topics[0].Partitions[0].Timestamp = time.Now().UnixMilli()
	if code := commitCode(t, c.OffsetCommit(ctx, v1)); code != 0 {
		t.Fatalf("OffsetCommit v1: %d", code)
	}
	for _, v := range []int16{0, 1} {
		req := v0FetchReq("old", "t", 0, 1, 2)
		req.Version = v
		fetch := c.OffsetFetch
		if v == 0 {
			fetch = c.FetchZooKeeperOffsets
		}
		ps := fetch(ctx, req).Topics[0].Partitions
		if len(ps) != 3 || ps[0].Offset != 11 || ps[1].Offset != 20 || ps[2].Offset != -1 || ps[0].ErrorCode != 0 {
			t.Fatalf("OffsetFetch v%d: %+v", v, ps)
		}
	}

	r := c.JoinGroup(ctx, ClientInfo{ID: "old-client"}, joinReq(0, "g0", "", "", 10*time.Second, "t"))
	if r.ErrorCode != 0 || r.MemberID == "" || r.LeaderID != r.MemberID || r.Generation != 1 {
		t.Fatalf("JoinGroup v0: %+v", r)
	}
}

// v0FetchReq is an OffsetFetch v0 request for partitions of topic.
func v0FetchReq(group, topic string, partitions ...int32) *kmsg.OffsetFetchRequest {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 0
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, partitions
	req.Topics = append(req.Topics, rt)
	return req
}

// TestZooKeeperOffsetsAnyBroker checks OffsetCommit v0 and OffsetFetch v0
// as Kafka's ZooKeeper-mode brokers answer them: on a broker that does not
// coordinate the group, and on the coordinator of a group with members,
// the commit is written (no member or generation is checked), and the
// fetch reads what is stored, without metadata, a partition without a
// commit answering -1 with UNKNOWN_TOPIC_OR_PARTITION.
func TestZooKeeperOffsetsAnyBroker(t *testing.T) {
	for _, tc := range []struct {
		name    string
		owns    bool
		members bool
	}{
		{"not the coordinator", false, false},
		{"coordinator of a group with members", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			c := newTestCoordinator(t, store, func(cfg *Config) {
				cfg.Owns = func(string) bool { return tc.owns }
			})
			ctx := testCtx(t)
			if tc.members {
				joinStable(t, c, "zk", "t")
			}
			v0 := commitReq("zk", "", -1, "t", 10, 20)
			v0.Version = 0
			if code := commitCode(t, c.CommitZooKeeperOffsets(ctx, v0)); code != 0 {
				t.Fatalf("OffsetCommit v0: %v", kerr.ErrorForCode(code))
			}
			stored, _ := store.Fetch(ctx, "zk")
			if stored[TopicPartition{"t", 0}].Offset != 10 || stored[TopicPartition{"t", 1}].Offset != 20 {
				t.Fatalf("stored after the v0 commit: %+v", stored)
			}
			ps := c.FetchZooKeeperOffsets(ctx, v0FetchReq("zk", "t", 0, 1, 2)).Topics[0].Partitions
			want := []struct {
				offset int64
				code   int16
			}{{10, 0}, {20, 0}, {-1, kerr.UnknownTopicOrPartition.Code}}
			for i, w := range want {
				if ps[i].Offset != w.offset || ps[i].ErrorCode != w.code || ps[i].Metadata == nil || *ps[i].Metadata != "" {
					t.Fatalf("OffsetFetch v0 partition %d: %+v, want offset %d code %d and no metadata", i, ps[i], w.offset, w.code)
				}
			}
			v1 := v0FetchReq("zk", "t", 0)
			v1.Version = 1
			p := c.OffsetFetch(ctx, v1).Topics[0].Partitions[0]
			switch {
			case !tc.owns && p.ErrorCode != kerr.NotCoordinator.Code:
				t.Fatalf("OffsetFetch v1 on a broker that is not the coordinator: %+v", p)
			case tc.owns && (p.ErrorCode != 0 || p.Offset != 10):
				t.Fatalf("OffsetFetch v1 on the coordinator after a v0 commit: %+v, want offset 10", p)
			}
		})
	}
}

// TestZooKeeperOffsetCommitMetadataTooLarge checks that a v0 commit holds
// each partition's metadata to offset.metadata.max.bytes, as Kafka's
// ZooKeeper path does, writing the partitions within it.
func TestZooKeeperOffsetCommitMetadataTooLarge(t *testing.T) {
	store := newMemStore()
	c := newTestCoordinator(t, store, func(cfg *Config) { cfg.OffsetMetadataMaxBytes = 8 })
	ctx := testCtx(t)
	v0 := commitReq("zk", "", -1, "t", 10, 20)
	v0.Version = 0
	v0.Topics[0].Partitions[1].Metadata = kmsg.StringPtr(strings.Repeat("m", 9))
	ps := c.CommitZooKeeperOffsets(ctx, v0).Topics[0].Partitions
	if ps[0].ErrorCode != 0 || ps[1].ErrorCode != kerr.OffsetMetadataTooLarge.Code {
		t.Fatalf("OffsetCommit v0 answers: %+v", ps)
	}
	stored, _ := store.Fetch(ctx, "zk")
	if len(stored) != 1 || stored[TopicPartition{"t", 0}].Offset != 10 {
		t.Fatalf("stored: %+v, want only partition 0", stored)
	}
}
