package storage

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/gokafka/gokafka/storage/vfs"
)

// writeSnapshot writes s as dir's snapshot at offset, in the format
// Log.snapshotProducers writes, for tests that lay snapshots out by hand.
func writeSnapshot(fsys vfs.FS, dir string, offset int64, s *ProducerState) error {
	return writeFileAtomic(fsys, snapshotPath(dir, offset), encodeSnapshot(s))
}

// TestSnapshotLayout checks one encoded entry field by field against
// Kafka's ProducerSnapshot v1 layout, so the files are what Kafka's broker
// would read.
func TestSnapshotLayout(t *testing.T) {
	var s ProducerState
	s.Record(ProducerBatch{ProducerID: 7, ProducerEpoch: 3, FirstSeq: 10, LastSeq: 14, FirstOffset: 100, LastOffset: 104, MaxTimestamp: 1700000000000})
	b := encodeSnapshot(&s)
	if len(b) != snapshotHeaderSize+snapshotEntrySize || snapshotEntrySize != 46 {
		t.Fatalf("snapshot is %d bytes (entry %d), want 10+46", len(b), snapshotEntrySize)
	}
	be := binary.BigEndian
	checks := []struct {
		name      string
		got, want int64
	}{
		{"version", int64(int16(be.Uint16(b[0:]))), 1},
		{"crc", int64(be.Uint32(b[2:])), int64(crc32.Checksum(b[6:], crc32.MakeTable(crc32.Castagnoli)))},
		{"count", int64(int32(be.Uint32(b[6:]))), 1},
		{"producer id", int64(be.Uint64(b[10:])), 7},
		{"epoch", int64(int16(be.Uint16(b[18:]))), 3},
		{"last sequence", int64(int32(be.Uint32(b[20:]))), 14},
		{"last offset", int64(be.Uint64(b[24:])), 104},
		{"offset delta", int64(int32(be.Uint32(b[32:]))), 4},
		{"timestamp", int64(be.Uint64(b[36:])), 1700000000000},
		{"coordinator epoch", int64(int32(be.Uint32(b[44:]))), -1},
		{"current txn first offset", int64(be.Uint64(b[48:])), -1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestSnapshotRoundTrip checks that decoding gives back each producer's
// epoch and last batch, which is what duplicate detection needs.
func TestSnapshotRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		batches []ProducerBatch
	}{
		{"empty", nil},
		{"one producer, five batches kept, last one survives", []ProducerBatch{
			{ProducerID: 1, ProducerEpoch: 0, FirstSeq: 0, LastSeq: 9, FirstOffset: 0, LastOffset: 9, MaxTimestamp: 5},
			{ProducerID: 1, ProducerEpoch: 0, FirstSeq: 10, LastSeq: 19, FirstOffset: 10, LastOffset: 19, MaxTimestamp: 6},
		}},
		{"several producers", []ProducerBatch{
			{ProducerID: 3, ProducerEpoch: 2, FirstSeq: 0, LastSeq: 0, FirstOffset: 40, LastOffset: 40, MaxTimestamp: -1},
			{ProducerID: 1000, ProducerEpoch: 32767, FirstSeq: 5, LastSeq: 7, FirstOffset: 41, LastOffset: 43, MaxTimestamp: 9},
		}},
		{"sequence wraps inside the batch", []ProducerBatch{
			{ProducerID: 9, FirstSeq: math.MaxInt32 - 1, LastSeq: 1, FirstOffset: 50, LastOffset: 53, MaxTimestamp: 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s ProducerState
			for _, b := range tc.batches {
				s.Record(b)
			}
			got, err := decodeSnapshot(encodeSnapshot(&s))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if got.Len() != s.Len() {
				t.Fatalf("%d producers, want %d", got.Len(), s.Len())
			}
			for pid := range s.producers {
				want, _ := s.LastBatch(pid)
				have, ok := got.LastBatch(pid)
				if !ok || !reflect.DeepEqual(have, want) {
					t.Errorf("producer %d: last batch %+v, want %+v", pid, have, want)
				}
				if dup, err := got.Check(pid, want.ProducerEpoch, want.FirstSeq, want.LastSeq); err != nil || dup == nil {
					t.Errorf("producer %d: retry of the last batch not seen as a duplicate (dup %v, err %v)", pid, dup, err)
				}
			}
		})
	}
}

// TestSnapshotCorruption checks that damaged files are typed corruption,
// never a partial table.
func TestSnapshotCorruption(t *testing.T) {
	var s ProducerState
	s.Record(ProducerBatch{ProducerID: 1, LastSeq: 2, LastOffset: 2})
	good := encodeSnapshot(&s)
	flip := func(i int) []byte { b := append([]byte(nil), good...); b[i] ^= 1; return b }
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty file", nil},
		{"torn header", good[:5]},
		{"torn entry", good[:len(good)-1]},
		{"trailing bytes", append(append([]byte(nil), good...), 0)},
		{"bad version", flip(1)},
		{"bad crc", flip(3)},
		{"entry bit flip", flip(20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeSnapshot(tc.b); !errors.Is(err, ErrCorruption) {
				t.Fatalf("decode: %v, want ErrCorruption", err)
			}
		})
	}
}

func TestListSnapshots(t *testing.T) {
	dir := t.TempDir()
	var s ProducerState
	for _, off := range []int64{300, 0, 25} {
		if err := writeSnapshot(vfs.Default, dir, off, &s); err != nil {
			t.Fatal(err)
		}
	}
	for _, junk := range []string{"12.snapshot", "00000000000000000007.snapshot.tmp", "00000000000000000000.log"} {
		if err := os.WriteFile(dir+"/"+junk, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := listSnapshots(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{0, 25, 300}; !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshots %v, want %v", got, want)
	}
}

// FuzzDecodeSnapshot feeds arbitrary bytes to the snapshot decoder: it must
// return a table or ErrCorruption, never panic, and a table it returns must
// encode back to the same bytes.
func FuzzDecodeSnapshot(f *testing.F) {
	var s ProducerState
	f.Add(encodeSnapshot(&s))
	s.Record(ProducerBatch{ProducerID: 1, ProducerEpoch: 2, FirstSeq: 3, LastSeq: 4, FirstOffset: 5, LastOffset: 6, MaxTimestamp: 7})
	f.Add(encodeSnapshot(&s))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeSnapshot(b)
		if err != nil {
			if !errors.Is(err, ErrCorruption) {
				t.Fatalf("error %v is not ErrCorruption", err)
			}
			return
		}
		if again := encodeSnapshot(got); string(again) != string(b) {
			// An entry without batches (offset -1) keeps only its epoch,
			// coordinator epoch and timestamp: its sequence and delta
			// encode as -1 and 0 whatever the file held.
			if len(again) != len(b) {
				t.Fatalf("re-encoded %d bytes from %d", len(again), len(b))
			}
		}
	})
}

// appendIdempotent appends n one-record batches from producers 1..3 in turn
// and returns each producer's next sequence.
func appendIdempotent(t *testing.T, l *Log, n int, seq map[int64]int32) {
	t.Helper()
	for i := range n {
		pid := int64(1 + i%3)
		appendBatch(t, l, nil, testBatch{base: l.EndOffset(), records: 1, ts: 1, valueSize: 50, pid: pid, seq: seq[pid]})
		seq[pid]++
	}
}

// snapshotsOf lists dir's snapshot offsets, failing the test on error.
func snapshotsOf(t *testing.T, dir string) []int64 {
	t.Helper()
	offs, err := listSnapshots(vfs.Default, dir)
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

// checkProducers checks that each producer's last sequence is seq-1 and
// that a retry of its last batch is a duplicate.
func checkProducers(t *testing.T, l *Log, seq map[int64]int32) {
	t.Helper()
	ps := l.Producers()
	if ps.Len() != len(seq) {
		t.Fatalf("%d producers, want %d", ps.Len(), len(seq))
	}
	for pid, next := range seq {
		b, ok := ps.LastBatch(pid)
		if !ok || b.LastSeq != next-1 {
			t.Fatalf("producer %d: last sequence %d (known %v), want %d", pid, b.LastSeq, ok, next-1)
		}
		if dup, err := ps.Check(pid, 0, next-1, next-1); err != nil || dup == nil {
			t.Fatalf("producer %d: retry of the last batch: dup %v, err %v", pid, dup, err)
		}
		if _, err := ps.Check(pid, 0, next, next); err != nil {
			t.Fatalf("producer %d: the next sequence is refused: %v", pid, err)
		}
	}
}

// TestSnapshotsAtRollAndClose checks Kafka's snapshot points: one file per
// roll named by the new segment's base, one at the log end on a clean
// close, and a reopen that rebuilds the same table from them.
func TestSnapshotsAtRollAndClose(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 600
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	seq := map[int64]int32{}
	appendIdempotent(t, l, 30, seq)
	var bases []int64
	for _, s := range l.segs[1:] {
		bases = append(bases, s.base)
	}
	if len(bases) < 2 {
		t.Fatalf("expected several rolls with 600-byte segments, got segments at %v", bases)
	}
	if got := snapshotsOf(t, dir); !reflect.DeepEqual(got, bases) {
		t.Fatalf("snapshots %v after rolls, want one per rolled-to base %v", got, bases)
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := snapshotsOf(t, dir); got[len(got)-1] != end {
		t.Fatalf("snapshots %v after a clean close, want the last at the end offset %d", got, end)
	}
	l = openLog(t, dir, cfg, OpenOptions{})
	defer l.Close()
	checkProducers(t, l, seq)
}

// TestSnapshotFallbacks checks that a snapshot never makes the table wrong:
// a corrupt one is skipped for an older one or a full walk, and one past
// the log end (its batches lost to a crash or a truncation) is deleted.
func TestSnapshotFallbacks(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, dir string, end int64)
	}{
		{"newest snapshot corrupt", func(t *testing.T, dir string, end int64) {
			p := snapshotPath(dir, end)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b[len(b)-1] ^= 0xff
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{"every snapshot empty (torn by a power loss)", func(t *testing.T, dir string, end int64) {
			for _, off := range snapshotsOf(t, dir) {
				if err := os.WriteFile(snapshotPath(dir, off), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"snapshot past the end claims a producer that is not in the log", func(t *testing.T, dir string, end int64) {
			var ps ProducerState
			ps.Record(ProducerBatch{ProducerID: 99, LastSeq: 5, FirstOffset: end + 10, LastOffset: end + 10})
			if err := writeSnapshot(vfs.Default, dir, end+11, &ps); err != nil {
				t.Fatal(err)
			}
		}},
		{"no snapshots at all", func(t *testing.T, dir string, end int64) {
			for _, off := range snapshotsOf(t, dir) {
				if err := os.Remove(snapshotPath(dir, off)); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 600
			dir := t.TempDir()
			l := openLog(t, dir, cfg, OpenOptions{})
			seq := map[int64]int32{}
			appendIdempotent(t, l, 30, seq)
			end := l.EndOffset()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			tc.damage(t, dir, end)
			l = openLog(t, dir, cfg, OpenOptions{})
			defer l.Close()
			checkProducers(t, l, seq)
			for _, off := range snapshotsOf(t, dir) {
				if off > end {
					t.Errorf("snapshot %d past the log end %d was kept", off, end)
				}
			}
		})
	}
}

// TestSnapshotsFollowTruncationAndRetention checks that truncation deletes
// the snapshots past the new end (and the table forgets the cut batches),
// and that retention deletes those below the new log start.
func TestSnapshotsFollowTruncationAndRetention(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 600
	dir := t.TempDir()
	clock := newFakeClock()
	l := openLog(t, dir, cfg, OpenOptions{Now: clock.Now})
	defer l.Close()
	seq := map[int64]int32{}
	appendIdempotent(t, l, 30, seq)
	cut := l.segs[len(l.segs)-2].base + 1 // inside the second-to-last segment
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	for _, off := range snapshotsOf(t, dir) {
		if off > l.EndOffset() {
			t.Fatalf("snapshot %d kept past the truncated end %d", off, l.EndOffset())
		}
	}
	// The batch at offset cut-1 was the last one kept: producers' sequences
	// are back to what they were after end-offset batches.
	want := map[int64]int32{}
	for i := range int(l.EndOffset()) {
		want[int64(1+i%3)]++
	}
	checkProducers(t, l, want)

	l.SetConfig(func() Config { c := cfg; c.RetentionBytes = 600; return c }())
	if n, err := l.DeleteRetained(); err != nil || n == 0 {
		t.Fatalf("retention deleted %d segments (err %v), want some", n, err)
	}
	for _, off := range snapshotsOf(t, dir) {
		if off < l.StartOffset() {
			t.Fatalf("snapshot %d kept below the log start %d", off, l.StartOffset())
		}
	}
}

// TestExpiredProducerLeavesSnapshots expires one producer of two (or the
// only one) by the log's clock and checks that the snapshot written next,
// at a roll or at a clean close, no longer has it, nor does the table
// reopened from that snapshot.
func TestExpiredProducerLeavesSnapshots(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name     string
		idle     []int64 // producers that write once, before the clock moves
		active   []int64 // producers that write again after it moved
		snapshot func(t *testing.T, l *Log) int64
	}{
		{"one of two, snapshot at a roll", []int64{1}, []int64{2}, func(t *testing.T, l *Log) int64 {
			if err := l.Roll(); err != nil {
				t.Fatal(err)
			}
			return l.EndOffset()
		}},
		{"one of two, snapshot at a clean close", []int64{1}, []int64{2}, func(t *testing.T, l *Log) int64 {
			end := l.EndOffset()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			return end
		}},
		{"the only producer, small log, clean close", []int64{1}, nil, func(t *testing.T, l *Log) int64 {
			end := l.EndOffset()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			return end
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			dir := t.TempDir()
			clock := newFakeClock()
			l := openLog(t, dir, cfg, OpenOptions{Now: clock.Now})
			defer l.Close()
			seq := map[int64]int32{}
			write := func(pid int64) {
				appendBatch(t, l, nil, testBatch{base: l.EndOffset(), records: 1, ts: clock.Now().UnixMilli(), valueSize: 10, pid: pid, seq: seq[pid]})
				seq[pid]++
			}
			for _, pid := range append(tc.idle, tc.active...) {
				write(pid)
			}
			clock.Advance(day - time.Millisecond)
			for _, pid := range tc.active {
				write(pid)
			}
			if n, err := l.ExpireProducers(); err != nil || n != 0 {
				t.Fatalf("a day less a millisecond: expired %d (%v), want none", n, err)
			}
			clock.Advance(time.Millisecond)
			if n, err := l.ExpireProducers(); err != nil || n != len(tc.idle) {
				t.Fatalf("a day after: expired %d (%v), want %d", n, err, len(tc.idle))
			}

			off := tc.snapshot(t, l)
			b, err := os.ReadFile(snapshotPath(dir, off))
			if err != nil {
				t.Fatalf("no snapshot at %d after expiry: %v", off, err)
			}
			snap, err := decodeSnapshot(b)
			if err != nil {
				t.Fatal(err)
			}
			checkOnly := func(what string, ps *ProducerState) {
				t.Helper()
				if ps.Len() != len(tc.active) {
					t.Fatalf("%s has %d producers, want %v", what, ps.Len(), tc.active)
				}
				for _, pid := range tc.idle {
					if _, ok := ps.LastBatch(pid); ok {
						t.Fatalf("%s still has expired producer %d", what, pid)
					}
				}
				for _, pid := range tc.active {
					if b, ok := ps.LastBatch(pid); !ok || b.LastSeq != seq[pid]-1 {
						t.Fatalf("%s: producer %d has %+v (%v), want last sequence %d", what, pid, b, ok, seq[pid]-1)
					}
				}
			}
			checkOnly("the snapshot", snap)
			if l.isClosed() {
				l = openLog(t, dir, cfg, OpenOptions{Now: clock.Now})
				defer l.Close()
				checkOnly("the reopened table", l.Producers())
			}
		})
	}
}
