package groupcoord

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// memTxnStore is a TxnOffsetStore in memory that writes committed offsets
// into a memStore, as zkmeta writes them into /consumers.
type memTxnStore struct {
	mu      sync.Mutex
	offsets *memStore
	pending map[string]map[int64]PendingTxnOffsets // group -> producer
}

func newMemTxnStore(offsets *memStore) *memTxnStore {
	return &memTxnStore{offsets: offsets, pending: map[string]map[int64]PendingTxnOffsets{}}
}

func (s *memTxnStore) PutTxnOffsets(_ context.Context, group string, pid int64, epoch int16, offsets []CommittedOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending[group] == nil {
		s.pending[group] = map[int64]PendingTxnOffsets{}
	}
	old, ok := s.pending[group][pid]
	if ok && old.ProducerEpoch > epoch {
		return fmt.Errorf("stored epoch %d: %w", old.ProducerEpoch, kerr.ProducerFenced)
	}
	p := PendingTxnOffsets{ProducerID: pid, ProducerEpoch: epoch}
	if ok && old.ProducerEpoch == epoch {
		p.Offsets = old.Offsets
	}
	p.Offsets = append(p.Offsets, offsets...)
	s.pending[group][pid] = p
	return nil
}

func (s *memTxnStore) TxnOffsets(_ context.Context, group string) ([]PendingTxnOffsets, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []PendingTxnOffsets
	for _, p := range s.pending[group] {
		out = append(out, p)
	}
	return out, nil
}

func (s *memTxnStore) TxnOffsetGroups(_ context.Context, pid int64) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for g, byPID := range s.pending {
		if _, ok := byPID[pid]; ok {
			out = append(out, g)
		}
	}
	return out, nil
}

func (s *memTxnStore) CompleteTxnOffsets(ctx context.Context, group string, pid int64, epoch int16, commit bool) ([]CommittedOffset, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pending[group][pid]
	if !ok || p.ProducerEpoch > epoch {
		return nil, false, nil
	}
	delete(s.pending[group], pid)
	if !commit {
		return nil, true, nil
	}
	return p.Offsets, true, s.offsets.Commit(ctx, group, p.Offsets)
}

func (s *memTxnStore) DeleteTxnOffsets(_ context.Context, group string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.pending[group])
	delete(s.pending, group)
	return n, nil
}

// TestTxnOffsetsSurviveCoordinatorLoss hands a group with pending
// transactional offsets to a new coordinator (the old one is gone with its
// memory): the new one reports them unstable, and the transaction's marker
// commits them, whether or not the new coordinator has loaded the group
// when it arrives. An abort drops them.
func TestTxnOffsetsSurviveCoordinatorLoss(t *testing.T) {
	for _, tc := range []struct {
		name         string
		loadedBefore bool
		commit       bool
	}{
		{"commit, group loaded", true, true},
		{"commit, group not loaded", false, true},
		{"abort, group loaded", true, false},
		{"abort, group not loaded", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			offsets := newMemStore()
			txns := newMemTxnStore(offsets)
			withTxn := func(cfg *Config) { cfg.TxnStore = txns }
			old := newTestCoordinator(t, offsets, withTxn)
			if code := txnCommitVerified(t, old, txnCommitReq("g", "", -1, 7, 42)).Topics[0].Partitions[0].ErrorCode; code != 0 {
				t.Fatalf("TxnOffsetCommit: %v", kerr.ErrorForCode(code))
			}
			if len(offsets.commitCalls()) != 0 {
				t.Fatal("committed offsets written before the marker")
			}
			// The old coordinator dies; a new one takes the group.
			next := newTestCoordinator(t, offsets, withTxn)
			if tc.loadedBefore {
				if off, code := fetchStable(t, next, "g", true); off != -1 || code != kerr.UnstableOffsetCommit.Code {
					t.Fatalf("require_stable fetch on the new coordinator = %d, %v; want UNSTABLE_OFFSET_COMMIT", off, kerr.ErrorForCode(code))
				}
			}
			if err := next.CompleteTxnOffsets(testCtx(t), 7, 0, tc.commit, func(g string) bool { return g == "g" }); err != nil {
				t.Fatal(err)
			}
			want := int64(-1)
			if tc.commit {
				want = 42
			}
			if off, code := fetchStable(t, next, "g", true); off != want || code != 0 {
				t.Fatalf("fetch after the marker = %d, %v; want %d", off, kerr.ErrorForCode(code), want)
			}
			if p, _ := txns.TxnOffsets(testCtx(t), "g"); len(p) != 0 {
				t.Fatalf("still pending after the marker: %+v", p)
			}
		})
	}
}

// TestTxnOffsetCommitStoreFencing: a producer whose epoch is older than the
// stored pending offsets' is PRODUCER_FENCED and changes nothing.
func TestTxnOffsetCommitStoreFencing(t *testing.T) {
	offsets := newMemStore()
	txns := newMemTxnStore(offsets)
	c := newTestCoordinator(t, offsets, func(cfg *Config) { cfg.TxnStore = txns })
	newer := txnCommitReq("g", "", -1, 7, 42)
	newer.ProducerEpoch = 5
	if code := txnCommitVerified(t, c, newer).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("TxnOffsetCommit at epoch 5: %v", kerr.ErrorForCode(code))
	}
	zombie := txnCommitReq("g", "", -1, 7, 1)
	zombie.ProducerEpoch = 4
	if code := txnCommitVerified(t, c, zombie).Topics[0].Partitions[0].ErrorCode; code != kerr.ProducerFenced.Code {
		t.Fatalf("TxnOffsetCommit at epoch 4: %v, want PRODUCER_FENCED", kerr.ErrorForCode(code))
	}
	if err := c.CompleteTxnOffsets(testCtx(t), 7, 5, true, func(string) bool { return true }); err != nil {
		t.Fatal(err)
	}
	if off, _ := fetchStable(t, c, "g", true); off != 42 {
		t.Fatalf("committed %d, want the epoch-5 offset 42", off)
	}
}
