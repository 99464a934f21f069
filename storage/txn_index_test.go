package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/storage/vfs"
)

// txnWriter drives a log the way a partition leader does with
// transactions: data batches of producers (transactional or not) and
// markers, each at the log end, keeping per producer its next sequence.
type txnWriter struct {
	t   testing.TB
	l   *Log
	seq map[int64]int32
}

func newTxnWriter(t testing.TB, l *Log) *txnWriter {
	return &txnWriter{t: t, l: l, seq: map[int64]int32{}}
}

// data appends n records of pid (pid -1: a plain batch) and returns the
// batch's base offset.
func (w *txnWriter) data(pid int64, n int, transactional bool) int64 {
	w.t.Helper()
	base := w.l.EndOffset()
	tb := testBatch{base: base, records: n, ts: 1000 + base, valueSize: 8, pid: pid, seq: w.seq[pid]}
	b := tb.encode()
	if transactional {
		binary.BigEndian.PutUint16(b[recordbatch.AttributesOffset:], recordbatch.AttrTransactional)
		recordbatch.SetCRC(b)
	}
	if err := w.l.Append(b, tb.info()); err != nil {
		w.t.Fatalf("append at %d: %v", base, err)
	}
	if pid >= 0 {
		w.seq[pid] += int32(n)
	}
	return base
}

// marker appends a COMMIT or ABORT marker for pid and returns its offset.
func (w *txnWriter) marker(pid int64, commit bool, coordinatorEpoch int32) int64 {
	w.t.Helper()
	base := w.l.EndOffset()
	b := recordbatch.BuildEndTxnMarker(pid, 0, 5000+base, recordbatch.EndTxnMarker{Commit: commit, CoordinatorEpoch: coordinatorEpoch})
	binary.BigEndian.PutUint64(b, uint64(base))
	if err := w.l.Append(b, AppendInfo{BaseOffset: base, LastOffset: base, MaxTimestamp: 5000 + base, OffsetOfMaxTimestamp: base, Records: 1}); err != nil {
		w.t.Fatalf("append a marker at %d: %v", base, err)
	}
	return base
}

// TestLastStableOffset follows the LSO through open, completed and
// unreplicated transactions, with non-transactional data in between, and
// the aborted list a read_committed fetch gets.
func TestLastStableOffset(t *testing.T) {
	l := openLog(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	defer l.Close()
	w := newTxnWriter(t, l)
	if got := l.LastStableOffset(0); got != 0 {
		t.Fatalf("empty log: LSO %d, want the high watermark 0", got)
	}
	a := w.data(1, 3, true) // 0..2, producer 1's transaction
	w.data(-1, 1, false)    // 3, plain
	b := w.data(2, 2, true) // 4..5, producer 2's transaction
	w.data(1, 1, true)      // 6, producer 1 again
	steps := []struct {
		name string
		hw   int64
		want int64
	}{
		{"hw below the first open transaction", 0, 0},
		{"hw inside it", 2, 0},
		{"hw at the end", l.EndOffset(), a},
	}
	for _, s := range steps {
		if got := l.LastStableOffset(s.hw); got != s.want {
			t.Fatalf("%s: LSO(hw %d) = %d, want %d", s.name, s.hw, got, s.want)
		}
	}
	commitA := w.marker(1, true, 0) // 7
	// The marker is not replicated yet: the transaction still holds the
	// LSO at its first offset.
	if got := l.LastStableOffset(commitA); got != a {
		t.Fatalf("commit not replicated: LSO %d, want %d", got, a)
	}
	l.HighWatermarkMoved(commitA + 1)
	if got := l.LastStableOffset(commitA + 1); got != b {
		t.Fatalf("after producer 1 committed: LSO %d, want producer 2's first offset %d", got, b)
	}
	w.data(-1, 2, false) // 8..9: plain records after an open transaction wait too
	if got := l.LastStableOffset(l.EndOffset()); got != b {
		t.Fatalf("plain records after the open transaction: LSO %d, want %d", got, b)
	}
	abortB := w.marker(2, false, 0) // 10
	l.HighWatermarkMoved(l.EndOffset())
	if got := l.LastStableOffset(l.EndOffset()); got != l.EndOffset() {
		t.Fatalf("all transactions complete: LSO %d, want the high watermark %d", got, l.EndOffset())
	}
	want := []AbortedTxn{{ProducerID: 2, FirstOffset: b, LastOffset: abortB, LastStableOffset: abortB + 1}}
	for _, r := range []struct{ from, upper int64 }{{0, 11}, {4, 5}, {5, 11}, {10, 11}} {
		if got := l.AbortedTxns(r.from, r.upper); !slices.Equal(got, want) {
			t.Fatalf("aborted in [%d, %d): %+v, want %+v", r.from, r.upper, got, want)
		}
	}
	for _, r := range []struct{ from, upper int64 }{{0, 4}, {11, 11}} {
		if got := l.AbortedTxns(r.from, r.upper); len(got) != 0 {
			t.Fatalf("aborted in [%d, %d): %+v, want none", r.from, r.upper, got)
		}
	}
}

// TestProducerTxnErrors checks the checks the leader applies: a plain
// batch inside a transaction, a marker of an older producer epoch or
// coordinator epoch.
func TestProducerTxnErrors(t *testing.T) {
	l := openLog(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	defer l.Close()
	w := newTxnWriter(t, l)
	w.data(1, 1, true)
	ps := l.Producers()
	if err := ps.CheckTxn(1, false); !errors.Is(err, ErrInvalidTxnState) {
		t.Fatalf("plain batch inside a transaction: %v, want ErrInvalidTxnState", err)
	}
	if err := ps.CheckTxn(1, true); err != nil {
		t.Fatalf("transactional batch: %v", err)
	}
	if err := ps.CheckTxn(2, false); err != nil {
		t.Fatalf("another producer's plain batch: %v", err)
	}
	w.marker(1, false, 3)
	if err := ps.CheckMarker(1, 0, 2); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("older coordinator epoch: %v, want ErrCoordinatorFenced", err)
	}
	if err := ps.CheckMarker(1, 0, 3); err != nil {
		t.Fatalf("same coordinator epoch: %v", err)
	}
	if err := ps.CheckMarker(1, -1, 3); !errors.Is(err, ErrInvalidProducerEpoch) {
		t.Fatalf("older producer epoch: %v, want ErrInvalidProducerEpoch", err)
	}
	got := ps.Describe()
	want := []ProducerInfo{{ProducerID: 1, ProducerEpoch: 0, LastSequence: 0, LastTimestamp: 5001, CoordinatorEpoch: 3, CurrentTxnStartOffset: -1}}
	if !slices.Equal(got, want) {
		t.Fatalf("describe: %+v, want %+v", got, want)
	}
}

// TestTxnIndexFileFormat checks the bytes of a .txnindex against Kafka's
// AbortedTxn layout.
func TestTxnIndexFileFormat(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, DefaultConfig(), OpenOptions{})
	w := newTxnWriter(t, l)
	w.data(7, 2, true)    // 0..1
	w.data(8, 1, true)    // 2, producer 8 stays open
	w.marker(7, false, 0) // 3: LSO after it is producer 8's first offset
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, segmentFileName(0, txnIndexSuffix)))
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	want = binary.BigEndian.AppendUint16(want, 0)
	for _, v := range []int64{7, 0, 3, 2} {
		want = binary.BigEndian.AppendUint64(want, uint64(v))
	}
	if !bytes.Equal(got, want) {
		t.Fatalf(".txnindex holds %x, want %x", got, want)
	}
}

// txnModel is what a test appended, to check the log's answers against.
type txnModel struct {
	aborted []AbortedTxn // without LastStableOffset
	open    map[int64]int64
}

// runTxns appends n random steps: data of three transactional producers
// and a plain one, commits and aborts.
func runTxns(t testing.TB, w *txnWriter, rng *rand.Rand, n int, m *txnModel) {
	for range n {
		pid := int64(rng.Intn(3))
		switch k := rng.Intn(10); {
		case k < 5:
			off := w.data(pid, 1+rng.Intn(3), true)
			if _, ok := m.open[pid]; !ok {
				m.open[pid] = off
			}
		case k < 7:
			w.data(-1, 1, false)
		default:
			first, ok := m.open[pid]
			commit := k == 7
			off := w.marker(pid, commit, 0)
			if ok && !commit {
				m.aborted = append(m.aborted, AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: off})
			}
			delete(m.open, pid)
		}
	}
}

// checkTxnState compares the log's aborted lists and LSO with the model.
func checkTxnState(t testing.TB, what string, l *Log, m *txnModel) {
	t.Helper()
	end := l.EndOffset()
	for from := int64(0); from < end; from += 3 {
		for _, upper := range []int64{from + 1, from + 7, end} {
			var want []AbortedTxn
			for _, a := range m.aborted {
				if a.LastOffset >= from && a.FirstOffset < upper {
					want = append(want, a)
				}
			}
			got := l.AbortedTxns(from, upper)
			// Entries past the range may come too when the walk stops
			// only at an entry whose LSO reaches upper; the fetch path
			// sends what the index says, as Kafka does. Check that the
			// overlapping ones are all there and nothing else.
			var gotOverlap []AbortedTxn
			for _, a := range got {
				if a.LastOffset >= from && a.FirstOffset < upper {
					a.LastStableOffset = 0
					gotOverlap = append(gotOverlap, a)
				}
			}
			if !slices.Equal(gotOverlap, want) || len(gotOverlap) != len(got) {
				t.Fatalf("%s: aborted in [%d, %d): %+v, want %+v", what, from, upper, got, want)
			}
		}
	}
	wantLSO := end
	for _, f := range m.open {
		wantLSO = min(wantLSO, f)
	}
	l.HighWatermarkMoved(end)
	if got := l.LastStableOffset(end); got != wantLSO {
		t.Fatalf("%s: LSO %d, want %d", what, got, wantLSO)
	}
}

// TestTxnIndexAcrossSegments runs random transactions on every segment
// configuration, then checks the aborted lists and the LSO live, after a
// clean reopen, after an unclean one (indexes rebuilt from the log), and
// after the .txnindex files were deleted.
func TestTxnIndexAcrossSegments(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		dir := t.TempDir()
		l := openLog(t, dir, cfg, OpenOptions{})
		w := newTxnWriter(t, l)
		m := &txnModel{open: map[int64]int64{}}
		runTxns(t, w, rand.New(rand.NewSource(1)), 120, m)
		checkTxnState(t, "live", l, m)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir, cfg, OpenOptions{CleanShutdown: true})
		checkTxnState(t, "clean reopen", l, m)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir, cfg, OpenOptions{})
		checkTxnState(t, "unclean reopen", l, m)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*"+txnIndexSuffix))
		if len(m.aborted) > 0 && len(files) == 0 {
			t.Fatal("no .txnindex written")
		}
		for _, f := range files {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range mustGlob(t, filepath.Join(dir, "*"+snapshotSuffix)) {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		l = openLog(t, dir, cfg, OpenOptions{})
		defer l.Close()
		checkTxnState(t, "indexes and snapshots deleted", l, m)
	})
}

func mustGlob(t testing.TB, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTxnIndexDeletedWithSegment checks that retention takes a segment's
// .txnindex with it.
func TestTxnIndexDeletedWithSegment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 200
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	defer l.Close()
	w := newTxnWriter(t, l)
	w.data(1, 1, true)
	w.marker(1, false, 0)
	first := filepath.Join(dir, segmentFileName(0, txnIndexSuffix))
	if _, err := os.Stat(first); err != nil {
		t.Fatalf("no .txnindex for the first segment: %v", err)
	}
	for l.segmentCount() < 3 {
		w.data(-1, 1, false)
	}
	if _, err := l.IncrementStartOffset(l.segs[1].base); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the deleted segment's .txnindex is still there: %v", err)
	}
}

// TestTxnTruncation cuts the log below an abort marker, as a follower
// does: the entry goes and the transaction is open again.
func TestTxnTruncation(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	defer l.Close()
	w := newTxnWriter(t, l)
	first := w.data(1, 2, true)
	for range 5 {
		w.data(-1, 1, false)
	}
	abort := w.marker(1, false, 0)
	w.data(-1, 1, false)
	if got := l.AbortedTxns(0, l.EndOffset()); len(got) != 1 {
		t.Fatalf("before truncation: %+v, want one aborted transaction", got)
	}
	if err := l.TruncateTo(abort); err != nil {
		t.Fatal(err)
	}
	if got := l.AbortedTxns(0, l.EndOffset()); len(got) != 0 {
		t.Fatalf("after truncation below the marker: %+v, want none", got)
	}
	if got := l.LastStableOffset(l.EndOffset()); got != first {
		t.Fatalf("after truncation: LSO %d, want the reopened transaction's first offset %d", got, first)
	}
	abort = w.marker(1, false, 0)
	if got := l.AbortedTxns(0, l.EndOffset()); len(got) != 1 || got[0].LastOffset != abort {
		t.Fatalf("marker written again: %+v", got)
	}
}

// TestCrashMidTransaction stops the process (every write kept, nothing
// more: a SIGKILL) or the machine (unsynced writes lost) in the middle of a
// transaction, after an aborted one, and reopens from the recovery point:
// the open transaction holds the LSO where it did, and the aborted list is
// what it was for the data that survived.
func TestCrashMidTransaction(t *testing.T) {
	keeps := []struct {
		name string
		keep vfs.Keep
	}{{"sigkill (page cache kept)", vfs.KeepUnsynced}, {"power loss after a flush", vfs.DropUnsynced}}
	for _, k := range keeps {
		t.Run(k.name, func(t *testing.T) {
			root, c := newCrashable(t)
			cfg := DefaultConfig()
			cfg.SegmentBytes = 400
			cfg.SegmentIndexBytes = 4096
			dir := filepath.Join(root, "t-0")
			l := openLog(t, dir, cfg, OpenOptions{FS: c})
			defer l.Close()
			w := newTxnWriter(t, l)
			m := &txnModel{open: map[int64]int64{}}
			a := w.data(1, 2, true)
			w.data(-1, 3, false)
			abort := w.marker(1, false, 0)
			m.aborted = append(m.aborted, AbortedTxn{ProducerID: 1, FirstOffset: a, LastOffset: abort})
			m.open[2] = w.data(2, 2, true)
			for range 6 {
				w.data(-1, 1, false)
				w.data(2, 1, true)
			}
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			rp := l.RecoveryPoint()
			img := filepath.Join(t.TempDir(), "img")
			if err := c.CrashImage(img, k.keep); err != nil {
				t.Fatal(err)
			}
			r := openLog(t, filepath.Join(img, "t-0"), cfg, OpenOptions{RecoveryPoint: rp})
			defer r.Close()
			if r.EndOffset() != l.EndOffset() {
				t.Fatalf("recovered log ends at %d, want %d (flushed)", r.EndOffset(), l.EndOffset())
			}
			checkTxnState(t, "recovered", r, m)
			if got := r.Producers().Describe(); len(got) != 2 || got[1].CurrentTxnStartOffset != m.open[2] {
				t.Fatalf("recovered producers: %+v, want producer 2's transaction open at %d", got, m.open[2])
			}
		})
	}
}

// TestSnapshotKeepsOpenTxn checks that a producer snapshot carries the open
// transaction's first offset and coordinator epoch (Kafka's
// current_txn_first_offset), so that a reopen from it alone holds the LSO.
func TestSnapshotKeepsOpenTxn(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, DefaultConfig(), OpenOptions{})
	w := newTxnWriter(t, l)
	w.data(1, 1, true)
	w.marker(1, true, 4)
	w.data(-1, 2, false)
	first := w.data(1, 2, true)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	offs, err := listSnapshots(vfs.Default, dir)
	if err != nil || len(offs) == 0 {
		t.Fatalf("no snapshot at close: %v %v", offs, err)
	}
	b, err := os.ReadFile(snapshotPath(dir, offs[len(offs)-1]))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := decodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Describe(); len(got) != 1 || got[0].CurrentTxnStartOffset != first || got[0].CoordinatorEpoch != 4 {
		t.Fatalf("snapshot: %+v, want producer 1 open at %d with coordinator epoch 4", got, first)
	}
	l = openLog(t, dir, DefaultConfig(), OpenOptions{CleanShutdown: true})
	defer l.Close()
	if got := l.LastStableOffset(l.EndOffset()); got != first {
		t.Fatalf("reopened: LSO %d, want %d", got, first)
	}
}

// TestSnapshotKeepsMarkerOnlyProducer checks that a producer known only
// from a marker (no batch in this partition) survives a snapshot with its
// coordinator epoch, which fences an older coordinator after a restart, in
// Kafka's encoding (sequence -1, offset -1).
func TestSnapshotKeepsMarkerOnlyProducer(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, DefaultConfig(), OpenOptions{})
	w := newTxnWriter(t, l)
	w.data(-1, 1, false)
	w.marker(9, false, 6)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	offs, err := listSnapshots(vfs.Default, dir)
	if err != nil || len(offs) == 0 {
		t.Fatalf("no snapshot at close: %v %v", offs, err)
	}
	b, err := os.ReadFile(snapshotPath(dir, offs[len(offs)-1]))
	if err != nil {
		t.Fatal(err)
	}
	e := b[snapshotHeaderSize:]
	if len(e) != snapshotEntrySize || int32(binary.BigEndian.Uint32(e[10:])) != -1 || int64(binary.BigEndian.Uint64(e[14:])) != -1 {
		t.Fatalf("snapshot entry %x, want producer 9 with sequence -1 and offset -1", e)
	}
	l = openLog(t, dir, DefaultConfig(), OpenOptions{CleanShutdown: true})
	defer l.Close()
	if err := l.Producers().CheckMarker(9, 0, 5); !errors.Is(err, ErrCoordinatorFenced) {
		t.Fatalf("marker of an older coordinator after the reopen: %v, want ErrCoordinatorFenced", err)
	}
}

// FuzzTxnIndexDecode feeds arbitrary bytes to the .txnindex decoder: it
// never panics, keeps only whole valid entries, and what it returns
// encodes back to a prefix of the input.
func FuzzTxnIndexDecode(f *testing.F) {
	f.Add(appendAbortedTxn(nil, AbortedTxn{ProducerID: 1, FirstOffset: 2, LastOffset: 3, LastStableOffset: 4}))
	f.Add(appendAbortedTxn(appendAbortedTxn(nil, AbortedTxn{ProducerID: 9, LastOffset: 1, LastStableOffset: 2}), AbortedTxn{ProducerID: 1, FirstOffset: 2, LastOffset: 3, LastStableOffset: 4})[:50])
	f.Add([]byte{0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeTxnIndex(b)
		var enc []byte
		for _, a := range got {
			enc = appendAbortedTxn(enc, a)
		}
		if !bytes.HasPrefix(b, enc) {
			t.Fatalf("decoded entries do not encode to a prefix of the input")
		}
		if err == nil && len(enc) != len(b) {
			t.Fatalf("no error but %d of %d bytes used", len(enc), len(b))
		}
		if err != nil && !errors.Is(err, ErrCorruption) {
			t.Fatalf("error %v is not ErrCorruption", err)
		}
	})
}
