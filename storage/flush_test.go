package storage

import (
	"errors"
	"math"
	"sync"
	"testing"
	"testing/synctest"
)

// heldSyncs replaces a log's background fsync of rolled segments: each
// sync waits for a token on release (or for release to be closed), then
// runs the real sync, or returns fail when set. The tests run in a
// synctest bubble, so synctest.Wait tells when the flusher is parked in a
// held sync, and an operation that waited for the fsync where it must not
// would deadlock the bubble, which synctest reports at once: no test here
// measures time.
type heldSyncs struct {
	release chan struct{}
	fail    error

	mu    sync.Mutex
	calls []rolledSegment // every sync started, in order
	done  int             // syncs that returned
}

func holdSyncs(l *Log) *heldSyncs {
	h := &heldSyncs{release: make(chan struct{})}
	l.syncRolled = func(r rolledSegment) error {
		h.mu.Lock()
		h.calls = append(h.calls, r)
		h.mu.Unlock()
		<-h.release
		err := h.fail
		if err == nil {
			err = syncRolledSegment(r)
		}
		h.mu.Lock()
		h.done++
		h.mu.Unlock()
		return err
	}
	return h
}

func (h *heldSyncs) started() []rolledSegment {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]rolledSegment(nil), h.calls...)
}

func (h *heldSyncs) finished() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done
}

// rollOnce appends until the active segment rolls and returns the base of
// the segment the roll started.
func rollOnce(t *testing.T, l *Log, a *appended) int64 {
	t.Helper()
	n := l.segmentCount()
	for l.segmentCount() == n {
		appendN(t, l, a, 1, 1000)
	}
	return l.active().base
}

// TestAppendAfterRollDoesNotWaitForFsync holds the fsync of a rolled
// segment and checks that appends (rolling again included), reads and
// offsets go on meanwhile, and that the recovery point stays below the
// unsynced segments until each sync completes.
func TestAppendAfterRollDoesNotWaitForFsync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.SegmentBytes = 200
		l := openLog(t, t.TempDir(), cfg, OpenOptions{})
		h := holdSyncs(l)
		var a appended
		first := rollOnce(t, l, &a)
		synctest.Wait()
		if got := h.started(); len(got) != 1 || got[0].base != 0 || got[0].next != first {
			t.Fatalf("syncs started %+v, want the segment [0, %d)", got, first)
		}

		// The flusher is parked in the first sync. None of this may wait
		// for it (a wait would deadlock the bubble).
		second := rollOnce(t, l, &a)
		appendN(t, l, &a, 3, 2000)
		checkReadsEverything(t, l, &a)
		if l.StartOffset() != 0 || l.EndOffset() <= second {
			t.Fatalf("offsets [%d, %d) while the fsync is held", l.StartOffset(), l.EndOffset())
		}
		if rp := l.RecoveryPoint(); rp != 0 {
			t.Fatalf("recovery point %d while the segment [0, %d) is not synced", rp, first)
		}

		h.release <- struct{}{}
		synctest.Wait()
		if rp := l.RecoveryPoint(); rp != first {
			t.Fatalf("recovery point %d after the first segment synced, want %d", rp, first)
		}
		close(h.release)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if rp := l.RecoveryPoint(); rp != l.EndOffset() {
			t.Fatalf("recovery point %d after Close, want the end %d", rp, l.EndOffset())
		}
	})
}

// TestRecoveryPointFollowsSyncedRolls lets the rolled segments' fsyncs
// through one at a time, on every configuration that rolls in the
// background (flush.messages=1 fsyncs in Append instead), and checks that
// the recovery point is exactly the end of the last synced segment each
// time: never past data that is not on disk.
func TestRecoveryPointFollowsSyncedRolls(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		if cfg.FlushMessages != math.MaxInt64 {
			t.Skip("flush.messages=1 syncs every append itself")
		}
		cfg.SegmentBytes = min(cfg.SegmentBytes, 300)
		synctest.Test(t, func(t *testing.T) {
			l := openLog(t, t.TempDir(), cfg, OpenOptions{})
			h := holdSyncs(l)
			var a appended
			const rolls = 4
			for range rolls {
				rollOnce(t, l, &a)
			}
			var synced int64
			for i := range rolls {
				synctest.Wait()
				calls := h.started()
				if len(calls) != i+1 {
					t.Fatalf("%d syncs started after %d released, want %d", len(calls), i, i+1)
				}
				if c := calls[i]; c.base != synced {
					t.Fatalf("sync %d is of the segment at %d, want the next one, at %d", i, c.base, synced)
				}
				if rp := l.RecoveryPoint(); rp != synced {
					t.Fatalf("recovery point %d with %d segments synced, want %d", rp, i, synced)
				}
				h.release <- struct{}{}
				synced = calls[i].next
			}
			synctest.Wait()
			if rp, want := l.RecoveryPoint(), l.active().base; rp != synced || rp != want {
				t.Fatalf("recovery point %d with every rolled segment synced, want %d", rp, want)
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			if rp := l.RecoveryPoint(); rp != l.EndOffset() {
				t.Fatalf("recovery point %d after Flush, want the end %d", rp, l.EndOffset())
			}
			checkReadsEverything(t, l, &a)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// TestWaitsForRolledFlush checks what must wait for the background fsync:
// a clean Close, Flush and TruncateTo each return only after every rolled
// segment is synced, with the recovery point where the operation promises.
func TestWaitsForRolledFlush(t *testing.T) {
	tests := []struct {
		name string
		op   func(l *Log) error
		// wantRP is the recovery point after op, given the log end.
		wantRP func(l *Log) int64
	}{
		{"Close", (*Log).Close, (*Log).EndOffset},
		{"Flush", (*Log).Flush, (*Log).EndOffset},
		{"TruncateTo", func(l *Log) error { return l.TruncateTo(l.EndOffset() - 1) }, (*Log).EndOffset},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.SegmentBytes = 200
				l := openLog(t, t.TempDir(), cfg, OpenOptions{})
				defer l.Close()
				h := holdSyncs(l)
				var a appended
				rollOnce(t, l, &a)
				rollOnce(t, l, &a)
				appendN(t, l, &a, 2, 3000)
				rolled := l.segmentCount() - 1
				synctest.Wait()

				done := make(chan error, 1)
				go func() { done <- tc.op(l) }()
				synctest.Wait()
				select {
				case err := <-done:
					t.Fatalf("%s returned (%v) while a rolled segment's fsync was held", tc.name, err)
				default:
				}
				close(h.release)
				if err := <-done; err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if n := h.finished(); n != rolled {
					t.Fatalf("%s returned with %d of %d rolled segments synced", tc.name, n, rolled)
				}
				if rp, want := l.RecoveryPoint(), tc.wantRP(l); rp != want {
					t.Fatalf("recovery point %d after %s, want %d", rp, tc.name, want)
				}
			})
		})
	}
}

// TestRolledFlushFailureIsKept fails the background fsync of one rolled
// segment and checks that it is never retried, that the recovery point
// stays at the end of the last segment synced, and that Append, Flush,
// TruncateTo and Close all report the failure.
func TestRolledFlushFailureIsKept(t *testing.T) {
	errDisk := errors.New("injected EIO")
	tests := []struct {
		name      string
		goodRolls int // rolled segments synced before the failing one
	}{
		{"first rolled segment fails", 0},
		{"third rolled segment fails", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := DefaultConfig()
				cfg.SegmentBytes = 200
				l := openLog(t, t.TempDir(), cfg, OpenOptions{})
				h := holdSyncs(l)
				var a appended
				var synced int64
				for range tc.goodRolls {
					synced = rollOnce(t, l, &a)
					h.release <- struct{}{}
					synctest.Wait()
				}
				h.fail = errDisk // read by the flusher after the next release
				failing := rollOnce(t, l, &a)
				synctest.Wait()
				h.release <- struct{}{}
				synctest.Wait()
				close(h.release)

				want := func(op string, err error) {
					t.Helper()
					if !errors.Is(err, ErrFlushFailed) || !errors.Is(err, errDisk) {
						t.Fatalf("%s after the failed fsync: %v, want ErrFlushFailed wrapping the fsync error", op, err)
					}
				}
				end := l.EndOffset()
				want("Append", l.Append(testBatch{base: end, records: 1, ts: 5000, valueSize: 3, pid: -1}.encode(), AppendInfo{Records: 1}))
				if l.EndOffset() != end {
					t.Fatalf("Append after the failed fsync moved the end from %d to %d", end, l.EndOffset())
				}
				want("Flush", l.Flush())
				want("TruncateTo", l.TruncateTo(end-1))
				if rp := l.RecoveryPoint(); rp != synced {
					t.Fatalf("recovery point %d, want %d: the segment ending at %d failed its fsync", rp, synced, failing)
				}
				want("Close", l.Close())
				if n := len(h.started()); n != tc.goodRolls+1 {
					t.Fatalf("%d background syncs for %d rolls: the failed one was retried", n, tc.goodRolls+1)
				}
				if rp := l.RecoveryPoint(); rp != synced {
					t.Fatalf("recovery point %d after Close, want %d", rp, synced)
				}
			})
		})
	}
}

// TestRetentionDuringRolledFlush deletes a rolled segment while its fsync
// is pending: the flusher still syncs it through its own reference to the
// .log, skips the unlinked indexes and reports no error.
func TestRetentionDuringRolledFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.SegmentBytes = 200
		l := openLog(t, t.TempDir(), cfg, OpenOptions{})
		h := holdSyncs(l)
		var a appended
		first := rollOnce(t, l, &a)
		synctest.Wait()
		cfg.RetentionBytes = 0
		l.SetConfig(cfg)
		if n, err := l.DeleteRetained(); err != nil || n == 0 {
			t.Fatalf("retention deleted %d segments (%v), want the rolled one", n, err)
		}
		if l.StartOffset() < first {
			t.Fatalf("log start %d, want at least %d", l.StartOffset(), first)
		}
		close(h.release)
		synctest.Wait()
		if err := l.offline(); err != nil {
			t.Fatalf("background flush of a deleted segment: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
