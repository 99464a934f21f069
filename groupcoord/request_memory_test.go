package groupcoord

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// scribble overwrites b in place, as the broker's frame pool does when it
// hands a request's buffer to another connection after the handler
// returned.
func scribble(b []byte) {
	for i := range b {
		b[i] = 0xEE
	}
}

// TestRequestBytesAreNotRetained checks that what the coordinator keeps from
// a request (a member's protocol metadata, the leader's assignments) does
// not change when the request's buffer is reused after the call: a member
// whose SyncGroup came after its leader's used to receive whatever bytes the
// next request on the broker had put there (an empty assignment, in the
// franz-go benchmark that found it), and the group never covered its
// partitions.
func TestRequestBytesAreNotRetained(t *testing.T) {
	for _, tc := range []struct {
		name                       string
		scribbleJoin, scribbleSync bool
	}{
		{name: "JoinGroup protocol metadata", scribbleJoin: true},
		{name: "SyncGroup assignments", scribbleSync: true},
		{name: "both", scribbleJoin: true, scribbleSync: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCoordinator(t, newMemStore(), nil)
			ctx := testCtx(t)
			const group = "g"
			leader, gen := joinStable(t, c, group, "t")

			// A second member joins; its JoinGroup waits for the leader
			// to rejoin. Its buffer is reused while it waits.
			first := c.JoinGroup(ctx, ClientInfo{ID: "b"}, joinReq(9, group, "", "", 10*time.Second, "t"))
			bReq := joinReq(9, group, first.MemberID, "", 10*time.Second, "t")
			bJoin := async(func() *kmsg.JoinGroupResponse { return c.JoinGroup(ctx, ClientInfo{ID: "b"}, bReq) })
			waitFor(t, "the rebalance to start", func() bool { return describe(t, c, group).State == "PreparingRebalance" })
			if tc.scribbleJoin {
				scribble(bReq.Protocols[0].Metadata)
			}
			lj := c.JoinGroup(ctx, ClientInfo{ID: "solo"}, joinReq(9, group, leader, "", 10*time.Second, "t"))
			if lj.ErrorCode != 0 || lj.Generation != gen+1 || lj.LeaderID != leader {
				t.Fatalf("leader rejoin: error %d, generation %d (want %d), leader %s (want %s)",
					lj.ErrorCode, lj.Generation, gen+1, lj.LeaderID, leader)
			}
			bj := await(t, bJoin)
			if bj.ErrorCode != 0 {
				t.Fatalf("second member's join: error %d", bj.ErrorCode)
			}
			want := subscription("t")
			for _, m := range lj.Members {
				if !bytes.Equal(m.ProtocolMetadata, want) {
					t.Errorf("leader sees member %s with metadata %x, want %x", m.MemberID, m.ProtocolMetadata, want)
				}
			}

			// The leader syncs first; the follower after the group is
			// Stable, by when the leader's buffer has been reused.
			sReq := syncReq(group, leader, lj.Generation, map[string]string{leader: "for-leader", bj.MemberID: "for-b"})
			if s := c.SyncGroup(ctx, sReq); s.ErrorCode != 0 || string(s.MemberAssignment) != "for-leader" {
				t.Fatalf("leader sync: error %d, assignment %q", s.ErrorCode, s.MemberAssignment)
			}
			if tc.scribbleSync {
				for _, a := range sReq.GroupAssignment {
					scribble(a.MemberAssignment)
				}
			}
			s := c.SyncGroup(ctx, syncReq(group, bj.MemberID, bj.Generation, nil))
			if s.ErrorCode != 0 || string(s.MemberAssignment) != "for-b" {
				t.Errorf("follower sync after the leader's: error %d, assignment %q, want %q", s.ErrorCode, s.MemberAssignment, "for-b")
			}
			for _, m := range describe(t, c, group).Members {
				wantA := map[string]string{leader: "for-leader", bj.MemberID: "for-b"}[m.MemberID]
				if string(m.MemberAssignment) != wantA || !bytes.Equal(m.ProtocolMetadata, want) {
					t.Errorf("DescribeGroups: member %s has assignment %q (want %q), metadata %x (want %x)",
						m.MemberID, m.MemberAssignment, wantA, m.ProtocolMetadata, want)
				}
			}
		})
	}
}
