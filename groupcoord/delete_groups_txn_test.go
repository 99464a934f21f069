package groupcoord

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDeleteGroupWithPendingTxnOffsets: a group whose only activity is an
// open transaction's offsets (TxnOffsetCommit) has no members, so it is
// Empty and DeleteGroups deletes it, as Kafka 3.9 does; the offsets the
// transaction held for it are forgotten with it, so its COMMIT marker does
// not bring the group back: OffsetFetch answers -1 and ListGroups does not
// list it. Offsets the same transaction commits for the group after the
// deletion belong to the new group and are committed. A group with a
// member is NON_EMPTY_GROUP and keeps everything. Each case runs with the
// pending offsets in memory only and in a TxnOffsetStore, where the
// marker reaches a group the coordinator no longer has loaded.
func TestDeleteGroupWithPendingTxnOffsets(t *testing.T) {
	const pid = 7
	for _, tc := range []struct {
		name string
		// member joins the group first (so it is Stable).
		member bool
		// committed is an offset committed outside the transaction first
		// (-1: none).
		committed int64
		// again is an offset the transaction commits after the deletion
		// (-1: none).
		again      int64
		wantDelete int16
		// wantAfter is the offset OffsetFetch answers after the marker.
		wantAfter int64
	}{
		{name: "pending only", committed: -1, again: -1, wantDelete: 0, wantAfter: -1},
		{name: "committed and pending", committed: 10, again: -1, wantDelete: 0, wantAfter: -1},
		{name: "committed again after the delete", committed: -1, again: 50, wantDelete: 0, wantAfter: 50},
		{name: "group with a member", member: true, committed: -1, again: -1, wantDelete: kerr.NonEmptyGroup.Code, wantAfter: 42},
	} {
		for _, durable := range []bool{false, true} {
			name := tc.name + ", in memory"
			if durable {
				name = tc.name + ", TxnOffsetStore"
			}
			t.Run(name, func(t *testing.T) {
				ctx := testCtx(t)
				offsets := newMemStore()
				txns := newMemTxnStore(offsets)
				c := newTestCoordinator(t, offsets, func(cfg *Config) {
					if durable {
						cfg.TxnStore = txns
					}
				})
				member, gen := "", int32(-1)
				if tc.member {
					member, gen = joinStable(t, c, "g", "in")
				}
				if tc.committed >= 0 {
					if code := commitCode(t, c.OffsetCommit(ctx, commitReq("g", "", -1, "in", tc.committed))); code != 0 {
						t.Fatalf("OffsetCommit: %v", kerr.ErrorForCode(code))
					}
				}
				if code := txnCommitVerified(t, c, txnCommitReq("g", member, gen, pid, 42)).Topics[0].Partitions[0].ErrorCode; code != 0 {
					t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
				}

				del := kmsg.NewPtrDeleteGroupsRequest()
				del.Version = 2
				del.Groups = []string{"g"}
				if code := c.DeleteGroups(ctx, del).Groups[0].ErrorCode; code != tc.wantDelete {
					t.Fatalf("DeleteGroups: %v, want %v", kerr.ErrorForCode(code), kerr.ErrorForCode(tc.wantDelete))
				}
				deleted := tc.wantDelete == 0
				if deleted {
					if d := describe(t, c, "g"); d.State != "Dead" {
						t.Errorf("DescribeGroups of the deleted group: state %s, want Dead", d.State)
					}
					if off, code := fetchStable(t, c, "g", true); off != -1 || code != 0 {
						t.Errorf("require_stable OffsetFetch of the deleted group: %d, %v; want -1, no error (nothing pending)", off, kerr.ErrorForCode(code))
					}
					if got := listGroupIDs(t, c); len(got) != 0 {
						t.Errorf("ListGroups after the delete: %v, want none", got)
					}
				}
				if tc.again >= 0 {
					if code := txnCommitVerified(t, c, txnCommitReq("g", "", -1, pid, tc.again)).Topics[0].Partitions[0].ErrorCode; code != 0 {
						t.Fatalf("TxnOffsetCommit after the delete: %v", kerr.ErrorForCode(code))
					}
				}

				if err := c.CompleteTxnOffsets(ctx, pid, 0, true, func(g string) bool { return g == "g" }); err != nil {
					t.Fatal(err)
				}
				if off, code := fetchStable(t, c, "g", true); off != tc.wantAfter || code != 0 {
					t.Errorf("OffsetFetch after the COMMIT marker: %d, %v; want %d", off, kerr.ErrorForCode(code), tc.wantAfter)
				}
				var wantListed []string
				if !deleted || tc.again >= 0 {
					wantListed = []string{"g"}
				}
				if got := listGroupIDs(t, c); !slices.Equal(got, wantListed) {
					t.Errorf("ListGroups after the COMMIT marker: %v, want %v", got, wantListed)
				}
				if stored, _ := offsets.Fetch(ctx, "g"); deleted && tc.again < 0 && len(stored) != 0 {
					t.Errorf("offset store holds %v for the deleted group after the marker, want nothing", stored)
				}
				if pending, _ := txns.TxnOffsets(ctx, "g"); len(pending) != 0 {
					t.Errorf("TxnOffsetStore still holds %+v after the marker", pending)
				}
			})
		}
	}
}

// listGroupIDs returns the ids ListGroups answers, in order.
func listGroupIDs(t *testing.T, c *Coordinator) []string {
	t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	req.Version = 4
	var out []string
	for _, g := range c.ListGroups(testCtx(t), req).Groups {
		out = append(out, g.Group)
	}
	return out
}
