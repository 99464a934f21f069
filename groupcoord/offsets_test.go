package groupcoord

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// commitReq builds an OffsetCommit v9 of offsets on topic t, partitions
// 0..len-1.
func commitReq(group, memberID string, gen int32, topic string, offsets ...int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group, r.MemberID, r.Generation = group, memberID, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for i, o := range offsets {
		p := kmsg.NewOffsetCommitRequestTopicPartition()
		p.Partition, p.Offset, p.LeaderEpoch = int32(i), o, 7
		p.Metadata = kmsg.StringPtr("meta")
		rt.Partitions = append(rt.Partitions, p)
	}
	r.Topics = append(r.Topics, rt)
	return r
}

func commitCode(t *testing.T, r *kmsg.OffsetCommitResponse) int16 {
	t.Helper()
	code := r.Topics[0].Partitions[0].ErrorCode
	for _, tp := range r.Topics {
		for _, p := range tp.Partitions {
			if p.ErrorCode != code {
				t.Fatalf("mixed partition errors: %+v", r.Topics)
			}
		}
	}
	return code
}

// fetchV8 fetches every committed offset of the groups (topics nil).
func fetchV8(t *testing.T, c *Coordinator, groups ...string) *kmsg.OffsetFetchResponse {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 9
	req.RequireStable = true
	for _, g := range groups {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = g
		req.Groups = append(req.Groups, rg)
	}
	return c.OffsetFetch(testCtx(t), req)
}

func TestSimpleCommitAndFetch(t *testing.T) {
	store := newMemStore()
	c := newTestCoordinator(t, store, nil)
	ctx := testCtx(t)
	if code := commitCode(t, c.OffsetCommit(ctx, commitReq("reset", "", -1, "t", 10, 20, 30))); code != 0 {
		t.Fatalf("simple commit to a new group: %d", code)
	}
	if calls := store.commitCalls(); len(calls) != 1 || len(calls[0]) != 3 {
		t.Fatalf("store commit calls %v, want one call with 3 offsets", calls)
	}

	// v5 fetch of named partitions: partition 5 has no commit.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 5
	req.Group = "reset"
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = "t", []int32{1, 5}
	req.Topics = append(req.Topics, rt)
	f := c.OffsetFetch(ctx, req)
	ps := f.Topics[0].Partitions
	if f.ErrorCode != 0 || ps[0].Offset != 20 || ps[0].LeaderEpoch != 7 || *ps[0].Metadata != "meta" || ps[1].Offset != -1 || ps[1].LeaderEpoch != -1 {
		t.Fatalf("fetch: %+v", f.Topics)
	}

	// A coordinator taking the group over reads the commits back.
	c2 := newTestCoordinator(t, store, nil)
	g := fetchV8(t, c2, "reset", "unknown").Groups
	if len(g) != 2 || len(g[0].Topics) != 1 || len(g[0].Topics[0].Partitions) != 3 || g[0].Topics[0].Partitions[2].Offset != 30 || len(g[1].Topics) != 0 {
		t.Fatalf("multi-group fetch from a new coordinator: %+v", g)
	}
}

func TestCommitValidation(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ctx := testCtx(t)
	id, gen := joinStable(t, c, "g", "t")
	big := commitReq("g", id, gen, "t", 1)
	big.Topics[0].Partitions[0].Metadata = kmsg.StringPtr(string(make([]byte, 5000)))
	for _, tc := range []struct {
		name string
		req  *kmsg.OffsetCommitRequest
		want int16
	}{
		{"member on its generation", commitReq("g", id, gen, "t", 5), 0},
		{"stale generation", commitReq("g", id, gen-1, "t", 5), errIllegalGeneration},
		{"unknown member", commitReq("g", "nope", gen, "t", 5), errUnknownMemberID},
		{"simple commit to a group with members", commitReq("g", "", -1, "t", 5), errUnknownMemberID},
		{"generation for a group that does not exist", commitReq("none", "m", 3, "t", 5), errIllegalGeneration},
		{"metadata too large", big, kerr.OffsetMetadataTooLarge.Code},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := commitCode(t, c.OffsetCommit(ctx, tc.req)); code != tc.want {
				t.Fatalf("error %d, want %d", code, tc.want)
			}
		})
	}
}

func TestDescribeListDeleteGroups(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ctx := testCtx(t)
	joinStable(t, c, "live", "t")
	commitCode(t, c.OffsetCommit(ctx, commitReq("idle", "", -1, "t", 1)))

	list := func(states, types []string) []string {
		req := kmsg.NewPtrListGroupsRequest()
		req.Version = 5
		req.StatesFilter, req.TypesFilter = states, types
		var out []string
		for _, g := range c.ListGroups(ctx, req).Groups {
			out = append(out, g.Group+":"+g.GroupState)
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		states, types []string
		want          []string
	}{
		{"all", nil, nil, []string{"idle:Empty", "live:Stable"}},
		{"stable, any case", []string{"stable"}, nil, []string{"live:Stable"}},
		{"classic type", nil, []string{"Classic"}, []string{"idle:Empty", "live:Stable"}},
		{"consumer type", nil, []string{"consumer"}, nil},
	} {
		t.Run("list "+tc.name, func(t *testing.T) {
			got := list(tc.states, tc.types)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			}
		})
	}
	if d := describe(t, c, "missing"); d.State != "Dead" || d.ErrorCode != 0 {
		t.Fatalf("describe of an unknown group: %+v", d)
	}

	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version = 2
	del.Groups = []string{"live", "idle", "missing"}
	r := c.DeleteGroups(ctx, del).Groups
	if r[0].ErrorCode != kerr.NonEmptyGroup.Code || r[1].ErrorCode != 0 || r[2].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete groups: %+v", r)
	}
	if g := fetchV8(t, c, "idle").Groups[0]; len(g.Topics) != 0 {
		t.Fatalf("offsets of a deleted group: %+v", g.Topics)
	}
	if got := list(nil, nil); len(got) != 1 || got[0] != "live:Stable" {
		t.Fatalf("list after delete: %v", got)
	}
}

func TestOffsetDelete(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ctx := testCtx(t)
	id, gen := joinStable(t, c, "g", "subscribed")
	commitCode(t, c.OffsetCommit(ctx, commitReq("g", id, gen, "subscribed", 1)))
	commitCode(t, c.OffsetCommit(ctx, commitReq("g", id, gen, "other", 1)))

	req := func(group string, topics ...string) *kmsg.OffsetDeleteRequest {
		r := kmsg.NewPtrOffsetDeleteRequest()
		r.Group = group
		for _, topic := range topics {
			r.Topics = append(r.Topics, kmsg.OffsetDeleteRequestTopic{Topic: topic, Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}})
		}
		return r
	}
	r := c.OffsetDelete(ctx, req("g", "subscribed", "other"))
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != kerr.GroupSubscribedToTopic.Code || r.Topics[1].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete on a consuming group: %+v", r)
	}
	g := fetchV8(t, c, "g").Groups[0]
	if len(g.Topics) != 1 || g.Topics[0].Topic != "subscribed" {
		t.Fatalf("offsets left: %+v", g.Topics)
	}
	if r := c.OffsetDelete(ctx, req("missing", "t")); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("offset delete of an unknown group: %d", r.ErrorCode)
	}

	// Once the group is empty, every offset may go.
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 3
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: id}}
	c.LeaveGroup(ctx, leave)
	waitFor(t, "the group to empty", func() bool { return describe(t, c, "g").State == "Empty" })
	if r := c.OffsetDelete(ctx, req("g", "subscribed")); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete on an empty group: %+v", r)
	}
	if g := fetchV8(t, c, "g").Groups[0]; len(g.Topics) != 0 {
		t.Fatalf("offsets left: %+v", g.Topics)
	}
}

func TestOffsetsExpire(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var clock = func() time.Time { return now }
	store := newMemStore()
	c := newTestCoordinator(t, store, func(cfg *Config) {
		cfg.Now = func() time.Time { return clock() }
		cfg.OffsetsRetention = time.Hour
	})
	ctx := testCtx(t)
	commitCode(t, c.OffsetCommit(ctx, commitReq("old", "", -1, "t", 1)))
	id, gen := joinStable(t, c, "busy", "t")
	commitCode(t, c.OffsetCommit(ctx, commitReq("busy", id, gen, "t", 1)))

	now = now.Add(59 * time.Minute)
	if err := c.ExpireOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	if g := fetchV8(t, c, "old").Groups[0]; len(g.Topics) != 1 {
		t.Fatalf("offset expired before the retention: %+v", g)
	}
	now = now.Add(2 * time.Minute)
	if err := c.ExpireOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	if g := fetchV8(t, c, "old").Groups[0]; len(g.Topics) != 0 {
		t.Fatalf("offset kept past the retention: %+v", g)
	}
	if gs, _ := store.Groups(ctx); len(gs) != 1 || gs[0] != "busy" {
		t.Fatalf("stored groups %v, want only the consuming group", gs)
	}
	if g := fetchV8(t, c, "busy").Groups[0]; len(g.Topics) != 1 {
		t.Fatalf("a stable group's subscribed offsets expired: %+v", g)
	}
}
