package storage

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gokafka/gokafka/storage/vfs"
)

// TestIOFailureTakesLogOffline fails one kind of disk operation of a log
// through a faulty file layer and checks what Kafka's log-dir failure
// handling promises: the operation reports ErrOffline, OnOffline hears of
// it exactly once, nothing is retried (the fault is cleared and the log
// still refuses, with the recovery point where the last good sync left
// it), and the log reopens with every acknowledged batch.
func TestIOFailureTakesLogOffline(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*Config)
		op   vfs.Op
		// trigger runs the operation that meets the fault and returns its
		// error (for the background fsync of a roll: the Flush that
		// waits for it).
		trigger func(t *testing.T, l *Log, a *appended) error
	}{
		{
			name: "fsync of the .log by flush.messages",
			cfg:  func(c *Config) { c.FlushMessages = 3 },
			op:   vfs.OpSync,
			trigger: func(t *testing.T, l *Log, a *appended) error {
				appendN(t, l, a, 1, 5000) // 1 unflushed record: no fsync yet
				tb := testBatch{base: l.EndOffset(), records: 2, ts: 6000, valueSize: 10, pid: -1}
				return l.Append(tb.encode(), tb.info())
			},
		},
		{
			name: "write of the .log",
			op:   vfs.OpWrite,
			trigger: func(t *testing.T, l *Log, a *appended) error {
				tb := testBatch{base: l.EndOffset(), records: 2, ts: 6000, valueSize: 10, pid: -1}
				return l.Append(tb.encode(), tb.info())
			},
		},
		{
			name: "msync of the active index",
			cfg:  func(c *Config) { c.IndexIntervalBytes = 1 },
			op:   vfs.OpMsync,
			trigger: func(t *testing.T, l *Log, a *appended) error {
				appendN(t, l, a, 3, 5000)
				return l.Flush()
			},
		},
		{
			name: "background fsync of a rolled segment",
			cfg:  func(c *Config) { c.SegmentBytes = 300 },
			op:   vfs.OpSync,
			trigger: func(t *testing.T, l *Log, a *appended) error {
				for n := l.segmentCount(); l.segmentCount() == n; {
					appendN(t, l, a, 1, 5000)
				}
				return l.Flush()
			},
		},
		{
			name: "truncation",
			op:   vfs.OpTruncate,
			trigger: func(t *testing.T, l *Log, a *appended) error {
				return l.TruncateTo(l.EndOffset() - 1)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "t-0")
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			fsys := vfs.NewFaulty(nil)
			var reports atomic.Int32
			var reported atomic.Pointer[error]
			l := openLog(t, dir, cfg, OpenOptions{FS: fsys, OnOffline: func(err error) {
				reports.Add(1)
				reported.Store(&err)
			}})
			var a appended
			appendN(t, l, &a, 4, 1000)
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			synced := l.RecoveryPoint()
			if synced != l.EndOffset() {
				t.Fatalf("recovery point %d after Flush, want %d", synced, l.EndOffset())
			}

			fsys.Inject(tc.op, dir, syscall.EIO)
			err := tc.trigger(t, l, &a)
			if !errors.Is(err, ErrOffline) || !errors.Is(err, syscall.EIO) {
				t.Fatalf("operation meeting the fault: %v, want ErrOffline wrapping EIO", err)
			}
			if n := reports.Load(); n != 1 {
				t.Fatalf("OnOffline called %d times, want once", n)
			}
			if p := reported.Load(); p == nil || !errors.Is(*p, ErrOffline) {
				t.Fatalf("OnOffline got %v, want ErrOffline", p)
			}

			// The disk "recovers": a retried fsync would now succeed and
			// claim data that may be gone. The log must not try.
			fsys.Clear()
			end := l.EndOffset()
			tb := testBatch{base: end, records: 1, ts: 9000, valueSize: 3, pid: -1}
			for name, err := range map[string]error{
				"Append":     l.Append(tb.encode(), tb.info()),
				"Flush":      l.Flush(),
				"Roll":       l.Roll(),
				"TruncateTo": l.TruncateTo(end - 1),
			} {
				if !errors.Is(err, ErrOffline) {
					t.Errorf("%s on the offline log: %v, want ErrOffline", name, err)
				}
			}
			if _, err := l.DeleteRetained(); !errors.Is(err, ErrOffline) {
				t.Errorf("DeleteRetained on the offline log: %v, want ErrOffline", err)
			}
			if l.EndOffset() != end {
				t.Fatalf("log end moved from %d to %d while offline", end, l.EndOffset())
			}
			if rp := l.RecoveryPoint(); rp != synced {
				t.Fatalf("recovery point %d, want %d: nothing was synced after the failure", rp, synced)
			}
			if n := reports.Load(); n != 1 {
				t.Fatalf("OnOffline called %d times, want once", n)
			}
			if err := l.Close(); !errors.Is(err, ErrOffline) {
				t.Fatalf("Close of the offline log: %v, want ErrOffline", err)
			}

			// No power was lost: the next Open recovers a log holding at
			// least everything acknowledged before the failure.
			re := openLog(t, dir, cfg, OpenOptions{RecoveryPoint: synced})
			defer re.Close()
			if re.EndOffset() < synced {
				t.Fatalf("reopened log ends at %d, below the recovery point %d", re.EndOffset(), synced)
			}
			checkHolds(t, re, &a)
		})
	}
}

// checkHolds checks that every batch of a is in the log, byte for byte, at
// its offsets (the log may hold more after them).
func checkHolds(t *testing.T, l *Log, a *appended) {
	t.Helper()
	for i, h := range a.hdrs {
		data, err := l.Read(h.BaseOffset, 1, math.MaxInt64)
		if err != nil {
			t.Fatalf("read acknowledged batch at %d: %v", h.BaseOffset, err)
		}
		if !bytes.Equal(data, a.batches[i]) {
			t.Fatalf("acknowledged batch at %d differs after reopening (%d bytes, want %d)", h.BaseOffset, len(data), len(a.batches[i]))
		}
	}
}

// TestTakeOffline checks the broker's side: a log of a failed dir taken
// offline refuses writes without calling OnOffline, and a clean Close
// writes nothing (no snapshot, no trim, no clean flush).
func TestTakeOffline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	called := false
	l := openLog(t, dir, DefaultConfig(), OpenOptions{OnOffline: func(error) { called = true }})
	var a appended
	appendN(t, l, &a, 3, 1000)
	cause := errors.New("sibling failed")
	l.TakeOffline(cause)
	if err := l.Offline(); !errors.Is(err, ErrOffline) || !errors.Is(err, cause) {
		t.Fatalf("Offline() = %v, want ErrOffline wrapping the cause", err)
	}
	tb := testBatch{base: l.EndOffset(), records: 1, ts: 9000, valueSize: 3, pid: -1}
	if err := l.Append(tb.encode(), tb.info()); !errors.Is(err, ErrOffline) {
		t.Fatalf("Append: %v, want ErrOffline", err)
	}
	if called {
		t.Fatal("TakeOffline called OnOffline")
	}
	if rp := l.RecoveryPoint(); rp != 0 {
		t.Fatalf("recovery point %d, want 0: nothing was ever synced", rp)
	}
	if err := l.Close(); !errors.Is(err, ErrOffline) {
		t.Fatalf("Close: %v, want ErrOffline", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, segmentFileName(0, indexSuffix))); err != nil || fi.Size() == 0 {
		t.Fatalf("the active index was trimmed at the close of an offline log (%v)", err)
	}
}

// TestSegmentRemovalFailureTakesLogOffline: a segment below a moved log
// start that cannot be deleted takes the log offline, as a failed write
// does, instead of leaving its files behind with the log still writing.
func TestSegmentRemovalFailureTakesLogOffline(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300
	fsys := vfs.NewFaulty(nil)
	var reports atomic.Int32
	l := openLog(t, dir, cfg, OpenOptions{FS: fsys, OnOffline: func(error) { reports.Add(1) }})
	var a appended
	for l.segmentCount() < 3 {
		appendN(t, l, &a, 1, 1000)
	}
	fsys.Inject(vfs.OpRemove, dir, syscall.EIO)
	_, err := l.IncrementStartOffset(l.EndOffset() - 1)
	if !errors.Is(err, ErrOffline) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("moving the log start with removals failing: %v, want ErrOffline wrapping EIO", err)
	}
	if n := reports.Load(); n != 1 {
		t.Fatalf("OnOffline called %d times, want once", n)
	}
	fsys.Clear()
	tb := testBatch{base: l.EndOffset(), records: 1, ts: 9000, valueSize: 3, pid: -1}
	if err := l.Append(tb.encode(), tb.info()); !errors.Is(err, ErrOffline) {
		t.Fatalf("Append after the failed removal: %v, want ErrOffline", err)
	}
}
