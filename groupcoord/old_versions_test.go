package groupcoord

import (
	"testing"
	"time"

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
	if code := commitCode(t, c.OffsetCommit(ctx, v0)); code != 0 {
		t.Fatalf("OffsetCommit v0: %d (its generation and member are not read)", code)
	}
	v1 := commitReq("old", "", -1, "t", 11)
	v1.Version = 1
	v1.Topics[0].Partitions[0].Timestamp = time.Now().UnixMilli()
	if code := commitCode(t, c.OffsetCommit(ctx, v1)); code != 0 {
		t.Fatalf("OffsetCommit v1: %d", code)
	}
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = v
		req.Group = "old"
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = "t", []int32{0, 1, 2}
		req.Topics = append(req.Topics, rt)
		resp := c.OffsetFetch(ctx, req)
		ps := resp.Topics[0].Partitions
		if len(ps) != 3 || ps[0].Offset != 11 || ps[1].Offset != 20 || ps[2].Offset != -1 || ps[0].ErrorCode != 0 {
			t.Fatalf("OffsetFetch v%d: %+v", v, ps)
		}
	}

	r := c.JoinGroup(ctx, ClientInfo{ID: "old-client"}, joinReq(0, "g0", "", "", 10*time.Second, "t"))
	if r.ErrorCode != 0 || r.MemberID == "" || r.LeaderID != r.MemberID || r.Generation != 1 {
		t.Fatalf("JoinGroup v0: %+v", r)
	}
}
