package groupcoord

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnCommitVerified sends req as the broker does after the transaction
// coordinator said yes: with a guard taken before the question (offsets
// partition 0 in these tests).
func txnCommitVerified(t *testing.T, c *Coordinator, req *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	t.Helper()
	return c.TxnOffsetCommit(testCtx(t), req, c.StartTxnOffsetVerification(0, req.ProducerID))
}

// TestTxnOffsetGuard: pending offsets are stored only with a current guard
// or when the producer already has offsets pending in the group; a marker
// for the offsets partition drops the guard (so a verification that raced
// with it is refused, INVALID_TXN_STATE, storing nothing), and no guard
// outlives its use.
func TestTxnOffsetGuard(t *testing.T) {
	all := func(string) bool { return true }
	for _, tt := range []struct {
		name string
		// between runs after the guard is taken and before the commit.
		between func(t *testing.T, c *Coordinator, g *TxnOffsetGuard)
		want    int16
	}{
		{"guard current", func(*testing.T, *Coordinator, *TxnOffsetGuard) {}, 0},
		{"abort marker in between", func(t *testing.T, c *Coordinator, _ *TxnOffsetGuard) {
			c.EndTxnOffsetVerification(0, 7)
			if err := c.CompleteTxnOffsets(testCtx(t), 7, 0, false, all); err != nil {
				t.Fatal(err)
			}
		}, kerr.InvalidTxnState.Code},
		{"another producer's marker", func(_ *testing.T, c *Coordinator, _ *TxnOffsetGuard) { c.EndTxnOffsetVerification(0, 8) }, 0},
		{"guard released", func(_ *testing.T, c *Coordinator, g *TxnOffsetGuard) { c.ReleaseTxnOffsetVerification(g) }, kerr.InvalidTxnState.Code},
	} {
		for _, withStore := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, TxnStore %v", tt.name, withStore), func(t *testing.T) {
				offsets := newMemStore()
				var txnStore *memTxnStore
				var mod func(*Config)
				if withStore {
					txnStore = newMemTxnStore(offsets)
					mod = func(cfg *Config) { cfg.TxnStore = txnStore }
				}
				c := newTestCoordinator(t, offsets, mod)
				g := c.StartTxnOffsetVerification(0, 7)
				if again := c.StartTxnOffsetVerification(0, 7); again != g {
					t.Fatal("a second verification of the same producer and offsets partition got another guard")
				}
				c.EndTxnOffsetVerification(1, 7) // another offsets partition's marker
				tt.between(t, c, g)
				code := c.TxnOffsetCommit(testCtx(t), txnCommitReq("g", "", -1, 7, 42), g).Topics[0].Partitions[0].ErrorCode
				if code != tt.want {
					t.Fatalf("TxnOffsetCommit: %v, want %v", kerr.ErrorForCode(code), kerr.ErrorForCode(tt.want))
				}
				_, stable := fetchStable(t, c, "g", true)
				if pending := stable == kerr.UnstableOffsetCommit.Code; pending != (tt.want == 0) {
					t.Fatalf("offsets pending after TxnOffsetCommit answered %v: %v", kerr.ErrorForCode(code), pending)
				}
				if txnStore != nil {
					if groups, _ := txnStore.TxnOffsetGroups(testCtx(t), 7); len(groups) != 0 != (tt.want == 0) {
						t.Fatalf("store holds pending offsets in %v after TxnOffsetCommit answered %v", groups, kerr.ErrorForCode(code))
					}
				}
				if n := c.txnGuardCount(); n != 0 {
					t.Fatalf("%d guards left after the commit", n)
				}
				if tt.want == 0 {
					// The transaction is open in the group: a later commit of
					// the same transaction needs no guard.
					if code := c.TxnOffsetCommit(testCtx(t), txnCommitReq("g", "", -1, 7, 43), nil).Topics[0].Partitions[0].ErrorCode; code != 0 {
						t.Fatalf("second TxnOffsetCommit of an open transaction: %v", kerr.ErrorForCode(code))
					}
				}
			})
		}
	}
}
