package storage

import (
	"strings"
	"testing"

	"github.com/gokafka/gokafka/storage/vfs"
)

// TestTxnIndexOfRolledSegmentSurvivesPowerLoss: an abort recorded in a segment
// that is then rolled and flushed must survive a power loss.
func TestTxnIndexOfRolledSegmentSurvivesPowerLoss(t *testing.T) {
	root, c := newCrashable(t)
	cfg := DefaultConfig()
	dir := root + "/t-0"
	l := openLog(t, dir, cfg, OpenOptions{FS: c})
	defer l.Close()
	a, abort := abortThenRoll(t, l)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	rp := l.RecoveryPoint()
	img := t.TempDir() + "/img"
	// The OS wrote the (unsynced) snapshot back, not the (unsynced)
	// .txnindex: writeback order is the kernel's.
	keep := func(path string, sizes []int) vfs.Kept {
		if strings.HasSuffix(path, snapshotSuffix) || strings.HasSuffix(path, ".tmp") {
			return vfs.Kept{Whole: len(sizes)}
		}
		return vfs.Kept{}
	}
	if err := c.CrashImage(img, keep); err != nil {
		t.Fatal(err)
	}
	r := openLog(t, img+"/t-0", cfg, OpenOptions{RecoveryPoint: rp})
	defer r.Close()
	checkOneAbort(t, r, a, abort)
}

// TestTxnIndexPastRecoveryPointRebuiltAfterPowerLoss: a power loss before
// a rolled segment's sync loses its .txnindex (and every other
// .txnindex), while the producer snapshot taken at the roll survives.
// Recovery from a recovery point below that segment must replay it and
// write its index again, not trust the newer snapshot.
func TestTxnIndexPastRecoveryPointRebuiltAfterPowerLoss(t *testing.T) {
	root, c := newCrashable(t)
	cfg := DefaultConfig()
	dir := root + "/t-0"
	l := openLog(t, dir, cfg, OpenOptions{FS: c})
	defer l.Close()
	// The background sync of the rolled segment never reaches the disk
	// before the power goes.
	l.syncRolled = func(rolledSegment) error { return nil }
	if err := l.Flush(); err != nil { // the partition directory is durable
		t.Fatal(err)
	}
	a, abort := abortThenRoll(t, l)
	// The kernel wrote back the directory, the .log files and the
	// snapshot, not the .txnindex.
	if err := syncDir(c, dir); err != nil {
		t.Fatal(err)
	}
	img := t.TempDir() + "/img"
	keep := func(path string, sizes []int) vfs.Kept {
		if strings.HasSuffix(path, txnIndexSuffix) {
			return vfs.Kept{}
		}
		return vfs.Kept{Whole: len(sizes)}
	}
	if err := c.CrashImage(img, keep); err != nil {
		t.Fatal(err)
	}
	r := openLog(t, img+"/t-0", cfg, OpenOptions{RecoveryPoint: 0})
	defer r.Close()
	checkOneAbort(t, r, a, abort)
}

// abortThenRoll writes an aborted transaction of producer 1, rolls, and
// appends plain records to the new segment; it returns the transaction's
// first offset and its marker's.
func abortThenRoll(t *testing.T, l *Log) (first, abort int64) {
	t.Helper()
	w := newTxnWriter(t, l)
	first = w.data(1, 2, true)
	abort = w.marker(1, false, 0)
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	w.data(-1, 3, false)
	return first, abort
}

// checkOneAbort fails unless l lists exactly producer 1's aborted
// transaction from first to abort.
func checkOneAbort(t *testing.T, l *Log, first, abort int64) {
	t.Helper()
	got := l.AbortedTxns(0, l.EndOffset())
	if len(got) != 1 || got[0].ProducerID != 1 || got[0].FirstOffset != first || got[0].LastOffset != abort {
		t.Fatalf("after power loss (end %d): aborted %+v, want producer 1 %d..%d", l.EndOffset(), got, first, abort)
	}
}
