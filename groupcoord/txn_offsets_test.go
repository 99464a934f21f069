package groupcoord

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func txnCommitReq(group, member string, gen int32, pid int64, offset int64) *kmsg.TxnOffsetCommitRequest {
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = 3
	r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch = "tx", group, pid, 0
	r.MemberID, r.Generation = member, gen
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic = "in"
	p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	p.Partition, p.Offset, p.LeaderEpoch = 0, offset, -1
	t.Partitions = append(t.Partitions, p)
	r.Topics = append(r.Topics, t)
	return r
}

// fetchStable fetches group's offset of in-0 with require_stable.
func fetchStable(t *testing.T, c *Coordinator, group string, stable bool) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 8
	req.RequireStable = stable
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = group
	g.Topics = []kmsg.OffsetFetchRequestGroupTopic{{Topic: "in", Partitions: []int32{0}}}
	req.Groups = append(req.Groups, g)
	resp := c.OffsetFetch(testCtx(t), req)
	p := resp.Groups[0].Topics[0].Partitions[0]
	return p.Offset, p.ErrorCode
}

func TestTxnOffsetCommitVisibleOnlyAfterCommit(t *testing.T) {
	for _, commit := range []bool{true, false} {
		store := newMemStore()
		c := newTestCoordinator(t, store, nil)
		member, gen := joinStable(t, c, "g", "in")
		resp := txnCommitVerified(t, c, txnCommitReq("g", member, gen, 7, 42))
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("TxnOffsetCommit: error %d", code)
		}
		if off, code := fetchStable(t, c, "g", false); off != -1 || code != 0 {
			t.Fatalf("read_uncommitted fetch of a pending offset = %d, %d; want -1 (not visible)", off, code)
		}
		if off, code := fetchStable(t, c, "g", true); off != -1 || code != kerr.UnstableOffsetCommit.Code {
			t.Fatalf("require_stable fetch = %d, %d; want UNSTABLE_OFFSET_COMMIT", off, code)
		}
		// Another producer's marker, or another partition's, changes nothing.
		if err := c.CompleteTxnOffsets(testCtx(t), 8, 0, true, func(string) bool { return true }); err != nil {
			t.Fatal(err)
		}
		if err := c.CompleteTxnOffsets(testCtx(t), 7, 0, true, func(string) bool { return false }); err != nil {
			t.Fatal(err)
		}
		if len(store.commitCalls()) != 0 {
			t.Fatalf("store written before the marker: %v", store.commitCalls())
		}
		if err := c.CompleteTxnOffsets(testCtx(t), 7, 0, commit, func(g string) bool { return g == "g" }); err != nil {
			t.Fatal(err)
		}
		want, calls := int64(-1), 0
		if commit {
			want, calls = 42, 1
		}
		if off, code := fetchStable(t, c, "g", true); off != want || code != 0 {
			t.Fatalf("commit=%v: fetch after the marker = %d, %d; want %d", commit, off, code, want)
		}
		if n := len(store.commitCalls()); n != calls {
			t.Fatalf("commit=%v: %d store commits, want %d", commit, n, calls)
		}
	}
}

func TestTxnOffsetCommitFencing(t *testing.T) {
	c := newTestCoordinator(t, newMemStore(), nil)
	member, gen := joinStable(t, c, "g", "in")
	tests := []struct {
		name   string
		member string
		gen    int32
		want   int16
	}{
		{"unknown member", "nobody", gen, kerr.UnknownMemberID.Code},
		{"old generation", member, gen - 1, kerr.IllegalGeneration.Code},
		{"current member", member, gen, 0},
		{"no member checks (v3 from a producer outside the group)", "", -1, 0},
	}
	for _, tt := range tests {
		resp := txnCommitVerified(t, c, txnCommitReq("g", tt.member, tt.gen, 7, 1))
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != tt.want {
			t.Errorf("%s: error %d, want %d", tt.name, code, tt.want)
		}
	}
}
