package groupcoord

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTwoStepJoin(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ctx := testCtx(t)
	first := c.JoinGroup(ctx, ClientInfo{ID: "console-consumer", Host: "/127.0.0.1"}, joinReq(9, "g", "", "", 10*time.Second, "t"))
	if first.ErrorCode != kerr.MemberIDRequired.Code {
		t.Fatalf("first join: error %d, want MEMBER_ID_REQUIRED", first.ErrorCode)
	}
	if !strings.HasPrefix(first.MemberID, "console-consumer-") || len(first.MemberID) != len("console-consumer-")+36 {
		t.Fatalf("member id %q is not <client.id>-<uuid>", first.MemberID)
	}
	j := c.JoinGroup(ctx, ClientInfo{ID: "console-consumer", Host: "/127.0.0.1"}, joinReq(9, "g", first.MemberID, "", 10*time.Second, "t"))
	if j.ErrorCode != 0 || j.Generation != 1 || j.LeaderID != first.MemberID || len(j.Members) != 1 {
		t.Fatalf("second join: %+v", j)
	}
	if j.Protocol == nil || *j.Protocol != "range" || j.ProtocolType == nil || *j.ProtocolType != "consumer" {
		t.Fatalf("protocol %v type %v", j.Protocol, j.ProtocolType)
	}
	s := c.SyncGroup(ctx, syncReq("g", j.MemberID, 1, map[string]string{j.MemberID: "p0"}))
	if s.ErrorCode != 0 || string(s.MemberAssignment) != "p0" {
		t.Fatalf("sync: %+v", s)
	}
	if h := c.Heartbeat(ctx, heartbeatReq("g", j.MemberID, 1)); h.ErrorCode != 0 {
		t.Fatalf("heartbeat: %d", h.ErrorCode)
	}
	d := describe(t, c, "g")
	if d.State != "Stable" || len(d.Members) != 1 || d.Members[0].ClientHost != "/127.0.0.1" || string(d.Members[0].MemberAssignment) != "p0" {
		t.Fatalf("describe: %+v", d)
	}
}

func TestThreeMemberRebalance(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ms := []*simMember{
		startMember(t, c, "g3", 10*time.Second),
		startMember(t, c, "g3", 10*time.Second),
		startMember(t, c, "g3", 10*time.Second),
	}
	waitFor(t, "three members stable in one generation", func() bool {
		d := describe(t, c, "g3")
		if d.State != "Stable" || len(d.Members) != 3 {
			return false
		}
		gen := int32(-1)
		for _, m := range ms {
			st := m.state()
			if !m.stable.Load() || (gen != -1 && st.generation != gen) {
				return false
			}
			gen = st.generation
		}
		return true
	})
	leaders := 0
	for _, m := range ms {
		st := m.state()
		if st.assignment != st.id {
			t.Errorf("member %s got assignment %q from SyncGroup, want its own id", st.id, st.assignment)
		}
		if st.leaderSaw > 0 {
			leaders++
			if st.leaderSaw != 3 {
				t.Errorf("leader saw %d members, want 3", st.leaderSaw)
			}
		}
	}
	if leaders != 1 {
		t.Errorf("%d members led the final generation, want 1", leaders)
	}
}

func TestLeaveTriggersRebalance(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	a := startMember(t, c, "gl", 10*time.Second)
	b := startMember(t, c, "gl", 10*time.Second)
	waitFor(t, "two stable members", func() bool {
		return describe(t, c, "gl").State == "Stable" && len(describe(t, c, "gl").Members) == 2 &&
			a.stable.Load() && b.stable.Load() && a.state().generation == b.state().generation
	})
	gen := a.state().generation
	bid := b.state().id
	b.stop()
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version = 5
	leave.Group = "gl"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: bid}}
	resp := c.LeaveGroup(testCtx(t), leave)
	if resp.ErrorCode != 0 || len(resp.Members) != 1 || resp.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %+v", resp)
	}
	waitFor(t, "the remaining member in a new generation alone", func() bool {
		d := describe(t, c, "gl")
		st := a.state()
		return d.State == "Stable" && len(d.Members) == 1 && a.stable.Load() && st.generation > gen && st.assignment == st.id
	})
}

func TestSessionTimeoutRemovesMember(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	a := startMember(t, c, "gs", 10*time.Second)
	b := startMember(t, c, "gs", 300*time.Millisecond)
	waitFor(t, "two stable members", func() bool {
		d := describe(t, c, "gs")
		return d.State == "Stable" && len(d.Members) == 2 && a.stable.Load() && b.stable.Load() &&
			a.state().generation == b.state().generation
	})
	bid := b.state().id
	b.stop() // crashes: no LeaveGroup, no more heartbeats
	waitFor(t, "the silent member removed and the group stable again", func() bool {
		d := describe(t, c, "gs")
		return d.State == "Stable" && len(d.Members) == 1 && d.Members[0].MemberID == a.state().id && a.stable.Load()
	})
	if h := c.Heartbeat(testCtx(t), heartbeatReq("gs", bid, a.state().generation)); h.ErrorCode != errUnknownMemberID {
		t.Fatalf("heartbeat of the expired member: %d, want UNKNOWN_MEMBER_ID", h.ErrorCode)
	}
}

// staticPair builds a Stable group of static members "a" (leader) and "b"
// with assignments "pa" and "pb".
func staticPair(t *testing.T, c *Coordinator, group string) (aID, bID string, gen int32) {
	t.Helper()
	ctx := testCtx(t)
	ja := c.JoinGroup(ctx, ClientInfo{ID: "ca"}, joinReq(9, group, "", "a", 10*time.Second, "t"))
	if ja.ErrorCode != 0 || ja.Generation != 1 {
		t.Fatalf("static join a: %+v", ja)
	}
	if s := c.SyncGroup(ctx, syncReq(group, ja.MemberID, 1, map[string]string{ja.MemberID: "pa"})); s.ErrorCode != 0 {
		t.Fatalf("sync a: %d", s.ErrorCode)
	}
	jb := async(func() *kmsg.JoinGroupResponse {
		return c.JoinGroup(ctx, ClientInfo{ID: "cb"}, joinReq(9, group, "", "b", 10*time.Second, "t"))
	})
	waitFor(t, "b to start a rebalance", func() bool { return describe(t, c, group).State == "PreparingRebalance" })
	if h := c.Heartbeat(ctx, heartbeatReq(group, ja.MemberID, 1)); h.ErrorCode != errRebalanceInProgress {
		t.Fatalf("heartbeat during rebalance: %d, want REBALANCE_IN_PROGRESS", h.ErrorCode)
	}
	ra := c.JoinGroup(ctx, ClientInfo{ID: "ca"}, joinReq(9, group, ja.MemberID, "a", 10*time.Second, "t"))
	rb := await(t, jb)
	if ra.ErrorCode != 0 || rb.ErrorCode != 0 || ra.Generation != 2 || rb.Generation != 2 || ra.LeaderID != ja.MemberID || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("rejoin: a=%+v b=%+v", ra, rb)
	}
	sb := async(func() *kmsg.SyncGroupResponse { return c.SyncGroup(ctx, syncReq(group, rb.MemberID, 2, nil)) })
	sa := c.SyncGroup(ctx, syncReq(group, ra.MemberID, 2, map[string]string{ra.MemberID: "pa", rb.MemberID: "pb"}))
	if sa.ErrorCode != 0 || string(sa.MemberAssignment) != "pa" {
		t.Fatalf("leader sync: %+v", sa)
	}
	if s := await(t, sb); s.ErrorCode != 0 || string(s.MemberAssignment) != "pb" {
		t.Fatalf("follower sync: %+v", s)
	}
	return ra.MemberID, rb.MemberID, 2
}

func TestStaticMemberRejoinWithoutRebalance(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ctx := testCtx(t)
	aID, bID, gen := staticPair(t, c, "gst")

	// b restarts: a new JoinGroup with no member id and the same instance id.
	rb := c.JoinGroup(ctx, ClientInfo{ID: "cb"}, joinReq(9, "gst", "", "b", 10*time.Second, "t"))
	if rb.ErrorCode != 0 || rb.Generation != gen || rb.MemberID == bID || rb.LeaderID != aID || rb.SkipAssignment {
		t.Fatalf("static rejoin: %+v", rb)
	}
	if d := describe(t, c, "gst"); d.State != "Stable" {
		t.Fatalf("group state %s after a static rejoin, want Stable", d.State)
	}
	if h := c.Heartbeat(ctx, heartbeatReq("gst", aID, gen)); h.ErrorCode != 0 {
		t.Fatalf("the other member's heartbeat: %d, want no rebalance", h.ErrorCode)
	}
	if s := c.SyncGroup(ctx, syncReq("gst", rb.MemberID, gen, nil)); s.ErrorCode != 0 || string(s.MemberAssignment) != "pb" {
		t.Fatalf("new incarnation sync: %+v", s)
	}
	old := heartbeatReq("gst", bID, gen)
	old.InstanceID = kmsg.StringPtr("b")
	if h := c.Heartbeat(ctx, old); h.ErrorCode != errFencedInstanceID {
		t.Fatalf("old incarnation heartbeat: %d, want FENCED_INSTANCE_ID", h.ErrorCode)
	}

	// The static leader restarts: v9 tells it it leads but must skip the assignment.
	ra := c.JoinGroup(ctx, ClientInfo{ID: "ca"}, joinReq(9, "gst", "", "a", 10*time.Second, "t"))
	if ra.ErrorCode != 0 || ra.Generation != gen || ra.LeaderID != ra.MemberID || !ra.SkipAssignment || len(ra.Members) != 2 {
		t.Fatalf("static leader rejoin: %+v", ra)
	}
}

func TestJoinGroupErrors(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ctx := testCtx(t)
	id, _ := joinStable(t, c, "g", "t")

	otherType := joinReq(3, "g", "", "", time.Second, "t")
	otherType.ProtocolType = "connect"
	otherProto := joinReq(3, "g", "", "", time.Second, "t")
	otherProto.Protocols[0].Name = "roundrobin"
	for _, tc := range []struct {
		name string
		req  *kmsg.JoinGroupRequest
		want int16
	}{
		{"empty group id", joinReq(9, "", "", "", time.Second), errInvalidGroupID},
		{"session below min", joinReq(9, "g", "", "", 0), kerr.InvalidSessionTimeout.Code},
		{"session above max", joinReq(9, "g", "", "", 2*time.Minute), kerr.InvalidSessionTimeout.Code},
		{"unknown member, existing group", joinReq(9, "g", "nope", "", time.Second), errUnknownMemberID},
		{"unknown member, no group", joinReq(9, "none", "nope", "", time.Second), errUnknownMemberID},
		{"protocol type mismatch", otherType, errInconsistentProtocol},
		{"no common protocol", otherProto, errInconsistentProtocol},
		{"known member with an unknown instance id", joinReq(9, "g", id, "x", time.Second, "t"), errUnknownMemberID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := c.JoinGroup(ctx, ClientInfo{ID: "x"}, tc.req); r.ErrorCode != tc.want {
				t.Fatalf("error %d, want %d", r.ErrorCode, tc.want)
			}
		})
	}

	// group.max.size: a second member of a full group is refused.
	full := newTestCoordinator(t, newMemStore(), func(cfg *Config) { cfg.MaxGroupSize = 1 })
	joinStable(t, full, "g", "t")
	if r := full.JoinGroup(ctx, ClientInfo{ID: "x"}, joinReq(3, "g", "", "", time.Second, "t")); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("join of a full group: %d, want GROUP_MAX_SIZE_REACHED", r.ErrorCode)
	}
}

func TestSyncAndHeartbeatErrors(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ctx := testCtx(t)
	id, gen := joinStable(t, c, "g", "t")
	wrongType := syncReq("g", id, gen, nil)
	wrongType.ProtocolType = kmsg.StringPtr("connect")
	wrongName := syncReq("g", id, gen, nil)
	wrongName.Protocol = kmsg.StringPtr("roundrobin")
	for _, tc := range []struct {
		name string
		req  *kmsg.SyncGroupRequest
		want int16
	}{
		{"ok", syncReq("g", id, gen, nil), 0},
		{"stale generation", syncReq("g", id, gen-1, nil), errIllegalGeneration},
		{"unknown member", syncReq("g", "nope", gen, nil), errUnknownMemberID},
		{"unknown group", syncReq("none", id, gen, nil), errUnknownMemberID},
		{"protocol type mismatch", wrongType, errInconsistentProtocol},
		{"protocol name mismatch", wrongName, errInconsistentProtocol},
	} {
		t.Run("sync "+tc.name, func(t *testing.T) {
			if r := c.SyncGroup(ctx, tc.req); r.ErrorCode != tc.want {
				t.Fatalf("error %d, want %d", r.ErrorCode, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		req  *kmsg.HeartbeatRequest
		want int16
	}{
		{"ok", heartbeatReq("g", id, gen), 0},
		{"stale generation", heartbeatReq("g", id, gen+1), errIllegalGeneration},
		{"unknown member", heartbeatReq("g", "nope", gen), errUnknownMemberID},
		{"empty group id", heartbeatReq("", id, gen), errInvalidGroupID},
	} {
		t.Run("heartbeat "+tc.name, func(t *testing.T) {
			if r := c.Heartbeat(ctx, tc.req); r.ErrorCode != tc.want {
				t.Fatalf("error %d, want %d", r.ErrorCode, tc.want)
			}
		})
	}
}

func TestLeaveGroupV0AndStaticRemoval(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	ctx := testCtx(t)
	_, _, _ = staticPair(t, c, "g")
	v0 := kmsg.NewPtrLeaveGroupRequest()
	v0.Group, v0.MemberID = "g", "nope"
	if r := c.LeaveGroup(ctx, v0); r.ErrorCode != errUnknownMemberID {
		t.Fatalf("v0 leave of an unknown member: %d", r.ErrorCode)
	}
	batch := kmsg.NewPtrLeaveGroupRequest()
	batch.Version = 3
	batch.Group = "g"
	batch.Members = []kmsg.LeaveGroupRequestMember{
		{InstanceID: kmsg.StringPtr("a")},
		{InstanceID: kmsg.StringPtr("b")},
		{InstanceID: kmsg.StringPtr("zz")},
	}
	r := c.LeaveGroup(ctx, batch)
	if r.ErrorCode != 0 || len(r.Members) != 3 || r.Members[0].ErrorCode != 0 || r.Members[1].ErrorCode != 0 || r.Members[2].ErrorCode != errUnknownMemberID {
		t.Fatalf("batch leave: %+v", r)
	}
	waitFor(t, "the group to empty", func() bool { return describe(t, c, "g").State == "Empty" })
}

func TestCloseAnswersWaitingJoin(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), func(cfg *Config) { cfg.InitialRebalanceDelay = time.Minute })
	ch := async(func() *kmsg.JoinGroupResponse {
		return c.JoinGroup(testCtx(t), ClientInfo{ID: "x"}, joinReq(3, "g", "", "", 10*time.Second, "t"))
	})
	waitFor(t, "the join to park", func() bool { return describe(t, c, "g").State == "PreparingRebalance" })
	c.Close()
	if r := await(t, ch); r.ErrorCode != errNotCoordinator {
		t.Fatalf("parked join after Close: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
	if r := c.Heartbeat(testCtx(t), heartbeatReq("g", "x", 1)); r.ErrorCode != errNotCoordinator {
		t.Fatalf("heartbeat after Close: %d, want NOT_COORDINATOR", r.ErrorCode)
	}
}

func TestInitialRebalanceDelayGathersMembers(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), func(cfg *Config) { cfg.InitialRebalanceDelay = 300 * time.Millisecond })
	ctx := testCtx(t)
	a := async(func() *kmsg.JoinGroupResponse {
		return c.JoinGroup(ctx, ClientInfo{ID: "a"}, joinReq(3, "g", "", "", 10*time.Second, "t"))
	})
	b := async(func() *kmsg.JoinGroupResponse {
		return c.JoinGroup(ctx, ClientInfo{ID: "b"}, joinReq(3, "g", "", "", 10*time.Second, "t"))
	})
	ra, rb := await(t, a), await(t, b)
	// Both joined within the delay (it restarts for each new member), so
	// they share the first generation.
	if ra.ErrorCode != 0 || rb.ErrorCode != 0 || ra.Generation != 1 || rb.Generation != 1 {
		t.Fatalf("a=%+v b=%+v", ra, rb)
	}
}
