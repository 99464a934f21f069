package storage

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// lastSegmentLog returns the path of the log's last .log file.
func lastSegmentLog(t *testing.T, dir string) string {
	t.Helper()
	logs := segmentFiles(t, dir, ".log")
	return filepath.Join(dir, logs[len(logs)-1])
}

// TestRecoveryTornTail cuts the last batch at every byte and checks that the
// log reopens at the last whole batch and takes new appends. The flush
// policy does not change recovery, so the flush-every-message configurations
// (an fsync per append, hundreds of times here) are left out.
func TestRecoveryTornTail(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		if cfg.FlushMessages == 1 {
			t.Skip("flush policy is irrelevant to recovery")
		}
		src := t.TempDir()
		l := openLog(t, src, cfg, OpenOptions{})
		var a appended
		appendN(t, l, &a, 8, 0)
		appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 2, ts: 5000, valueSize: 3, pid: -1})
		activeBase := l.active().base
		l.Close()
		last := a.hdrs[len(a.hdrs)-1]
		lastLen := len(a.batches[len(a.batches)-1])
		whole := appended{batches: a.batches[:len(a.batches)-1], hdrs: a.hdrs[:len(a.hdrs)-1]}
		for cut := range lastLen {
			dir := copyDir(t, src)
			path := lastSegmentLog(t, dir)
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(path, fi.Size()-int64(lastLen)+int64(cut)); err != nil {
				t.Fatal(err)
			}
			l := openLog(t, dir, cfg, OpenOptions{RecoveryPoint: activeBase})
			if l.EndOffset() != last.BaseOffset {
				t.Fatalf("cut at %d: end %d, want %d", cut, l.EndOffset(), last.BaseOffset)
			}
			got := whole
			checkReadsEverything(t, l, &got)
			appendBatch(t, l, &got, testBatch{base: l.EndOffset(), records: 2, ts: 6000, valueSize: 3, pid: -1})
			checkReadsEverything(t, l, &got)
			l.Close()
		}
	})
}

// TestRecoveryCorruptByte flips each byte of the last batch's CRC-covered
// area (and the CRC itself): recovery drops the batch.
func TestRecoveryCorruptByte(t *testing.T) {
	cfg := DefaultConfig()
	src := t.TempDir()
	l := openLog(t, src, cfg, OpenOptions{})
	var a appended
	appendN(t, l, &a, 5, 0)
	l.Close()
	last := a.hdrs[len(a.hdrs)-1]
	lastLen := len(a.batches[len(a.batches)-1])
	whole := appended{batches: a.batches[:len(a.batches)-1], hdrs: a.hdrs[:len(a.hdrs)-1]}
	for at := 17; at < lastLen; at++ {
		dir := copyDir(t, src)
		path := lastSegmentLog(t, dir)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)-lastLen+at] ^= 0x5a
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l := openLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
		if l.EndOffset() != last.BaseOffset {
			t.Fatalf("flip at %d: end %d, want %d", at, l.EndOffset(), last.BaseOffset)
		}
		got := whole
		checkReadsEverything(t, l, &got)
		l.Close()
	}
}

// TestRecoveryDeletesSegmentsAfterCorruption corrupts a middle segment: the
// log ends where it breaks.
func TestRecoveryDeletesSegmentsAfterCorruption(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 200
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	var a appended
	appendN(t, l, &a, 12, 0)
	l.Close()
	logs := segmentFiles(t, dir, ".log")
	if len(logs) < 3 {
		t.Fatalf("only %d segments", len(logs))
	}
	second := filepath.Join(dir, logs[1])
	data, _ := os.ReadFile(second)
	data[len(data)-1] ^= 1
	os.WriteFile(second, data, 0o644)
	l = openLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
	defer l.Close()
	if n := len(segmentFiles(t, dir, ".log")); n != 2 {
		t.Fatalf("%d segments after recovery, want 2", n)
	}
	i := a.batchFor(l.EndOffset() - 1)
	if a.hdrs[i].LastOffset()+1 != l.EndOffset() {
		t.Fatalf("end %d is not a batch boundary", l.EndOffset())
	}
	got := appended{batches: a.batches[:i+1], hdrs: a.hdrs[:i+1]}
	checkReadsEverything(t, l, &got)
}

// TestRebuildIndexes damages the index files in several ways; a clean open
// must notice and rebuild them to what Append wrote.
func TestRebuildIndexes(t *testing.T) {
	damages := []struct {
		name   string
		suffix string
		damage func(b []byte) []byte
	}{
		{"missing offset index", ".index", nil},
		{"missing time index", ".timeindex", nil},
		{"offset index odd size", ".index", func(b []byte) []byte { return append(b, 1, 2, 3) }},
		{"time index odd size", ".timeindex", func(b []byte) []byte { return append(b, 1, 2, 3) }},
		{"offset index out of order", ".index", func(b []byte) []byte {
			if len(b) < 8 {
				return b
			}
			return append(b, b[:8]...)
		}},
		{"offset index past the log", ".index", func(b []byte) []byte {
			return append(b, 0, 0, 0x7f, 0xff, 0x7f, 0xff, 0xff, 0xff)
		}},
		{"last offset index entry pointing inside a batch", ".index", func(b []byte) []byte {
			if len(b) >= 8 {
				b[len(b)-1]++
			}
			return b
		}},
		{"time index out of order", ".timeindex", func(b []byte) []byte {
			if len(b) < 12 {
				return b
			}
			return append(b, b[:12]...)
		}},
		{"time index missing its last entry", ".timeindex", func(b []byte) []byte { return b[:max(len(b)-12, 0)] }},
		{"preallocated zeros", ".index", func(b []byte) []byte { return append(b, make([]byte, 64)...) }},
	}
	for _, c := range testConfigs() {
		if c.cfg.IndexIntervalBytes != 1 {
			continue // needs entries to damage
		}
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			src := t.TempDir()
			l := openLog(t, src, cfg, OpenOptions{})
			var a appended
			appendN(t, l, &a, 25, 0)
			end := l.EndOffset()
			l.Close()
			want := readIndexFiles(t, src)
			for _, d := range damages {
				t.Run(d.name, func(t *testing.T) {
					dir := copyDir(t, src)
					for _, name := range segmentFiles(t, dir, d.suffix) {
						path := filepath.Join(dir, name)
						if d.damage == nil {
							os.Remove(path)
							continue
						}
						b, _ := os.ReadFile(path)
						os.WriteFile(path, d.damage(b), 0o644)
					}
					l := openLog(t, dir, cfg, OpenOptions{CleanShutdown: true, RecoveryPoint: end})
					if l.EndOffset() != end {
						t.Fatalf("end %d, want %d", l.EndOffset(), end)
					}
					checkReadsEverything(t, l, &a)
					if _, ok, err := l.BatchAtTimestamp(a.hdrs[10].MaxTimestamp); !ok || err != nil {
						t.Fatalf("BatchAtTimestamp after rebuild: %v %v", ok, err)
					}
					// Closed, the active segment's indexes are trimmed too.
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
					got := readIndexFiles(t, dir)
					for name, b := range want {
						if !bytes.Equal(b, got[name]) {
							t.Errorf("%s not rebuilt: %x, want %x", name, got[name], b)
						}
					}
				})
			}
		})
	}
}

// TestProducerStateRebuiltOnOpen checks that reopening recovers the
// producers' epochs and last sequences from the batches.
func TestProducerStateRebuiltOnOpen(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		dir := t.TempDir()
		l := openLog(t, dir, cfg, OpenOptions{})
		seq := map[int64]int32{}
		for i := range 12 {
			pid := int64(1 + i%3)
			tb := testBatch{base: l.EndOffset(), records: 2, ts: 1, valueSize: 4, pid: pid, epoch: 0, seq: seq[pid]}
			seq[pid] += 2
			appendBatch(t, l, nil, tb)
		}
		// Producer 3 bumps its epoch.
		appendBatch(t, l, nil, testBatch{base: l.EndOffset(), records: 1, ts: 1, pid: 3, epoch: 1, seq: 0})
		l.Close()
		l = openLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
		defer l.Close()
		ps := l.Producers()
		if ps.Len() != 3 {
			t.Fatalf("%d producers, want 3", ps.Len())
		}
		for pid, want := range map[int64]int32{1: 7, 2: 7, 3: 0} {
			b, ok := ps.LastBatch(pid)
			if !ok || b.LastSeq != want {
				t.Fatalf("producer %d last seq %d (ok=%v), want %d", pid, b.LastSeq, ok, want)
			}
		}
		// A retry of producer 1's last batch is a duplicate at its offset.
		last, _ := ps.LastBatch(1)
		dup, err := ps.Check(1, 0, 6, 7)
		if err != nil || dup == nil || dup.FirstOffset != last.FirstOffset {
			t.Fatalf("retry after reopen: dup=%v err=%v", dup, err)
		}
		if _, err := ps.Check(3, 0, 0, 0); err == nil {
			t.Fatal("old epoch of producer 3 accepted after reopen")
		}
	})
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

var _ = math.MaxInt64

// TestRecoveryLargeBatch checks the chunked CRC path for batches bigger than
// the scan buffer, intact and with a flipped byte near the end.
func TestRecoveryLargeBatch(t *testing.T) {
	for _, flip := range []bool{false, true} {
		dir := t.TempDir()
		l := openLog(t, dir, DefaultConfig(), OpenOptions{})
		var a appended
		appendN(t, l, &a, 2, 0)
		appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 3, ts: 1, valueSize: 100 << 10, pid: -1})
		l.Close()
		want := l.EndOffset()
		if flip {
			path := lastSegmentLog(t, dir)
			data, _ := os.ReadFile(path)
			data[len(data)-10] ^= 1
			os.WriteFile(path, data, 0o644)
			want = a.hdrs[2].BaseOffset
			a.batches, a.hdrs = a.batches[:2], a.hdrs[:2]
		}
		l = openLog(t, dir, DefaultConfig(), OpenOptions{RecoveryPoint: 0})
		if l.EndOffset() != want {
			t.Fatalf("flip=%v: end %d, want %d", flip, l.EndOffset(), want)
		}
		checkReadsEverything(t, l, &a)
		l.Close()
	}
}

// TestRecoveryPointBelowFirstSegment reopens, after retention moved the log
// start past it, with a recovery point older than every segment: every
// segment must be scanned, so a torn middle segment is still caught.
func TestRecoveryPointBelowFirstSegment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 200
	cfg.RetentionBytes = 600
	cfg.RetentionMs = -1
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	appendN(t, l, nil, 20, 0)
	if n, err := l.DeleteRetained(); err != nil || n == 0 {
		t.Fatalf("retention: %d, %v", n, err)
	}
	l.Close()
	logs := segmentFiles(t, dir, ".log")
	first := filepath.Join(dir, logs[0])
	data, _ := os.ReadFile(first)
	data[len(data)-1] ^= 1
	os.WriteFile(first, data, 0o644)
	l = openLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
	defer l.Close()
	if n := len(segmentFiles(t, dir, ".log")); n != 1 {
		t.Fatalf("%d segments, want only the first (cut) one", n)
	}
}

// TestSmallRolledSegmentsReopenWithoutRebuild checks that segments smaller
// than index.interval.bytes, which have no offset index entry but a time
// index entry from their roll (as Kafka writes them), are accepted as they
// are at the next clean open rather than treated as corrupt and rebuilt.
func TestSmallRolledSegmentsReopenWithoutRebuild(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	appendN(t, l, nil, 12, 1000)
	if len(l.segs) < 3 {
		t.Fatalf("%d segments, want several small ones", len(l.segs))
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	before := readIndexFiles(t, dir)
	core, logs := observer.New(zap.WarnLevel)
	l = openLog(t, dir, cfg, OpenOptions{Logger: zap.New(core), CleanShutdown: true, RecoveryPoint: end})
	if n := logs.FilterMessage("rebuilding segment indexes").Len(); n != 0 {
		t.Fatalf("%d segments' indexes rebuilt at a clean open: %v", n, logs.All())
	}
	if err := l.Close(); err != nil { // trims the active segment's indexes again
		t.Fatal(err)
	}
	after := readIndexFiles(t, dir)
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("%s changed across a clean reopen", name)
		}
	}
}

// TestRecoveryEndsAtShortSegment loses the last whole batches (or all) of
// a middle segment, as a power loss can when the rolled segment was never
// synced, and checks that the log ends there, its later segments deleted,
// instead of claiming offsets it no longer has.
func TestRecoveryEndsAtShortSegment(t *testing.T) {
	tests := []struct {
		name string
		keep int // batches of the second segment that survive
	}{
		{"all of it lost", 0},
		{"its last batch lost", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 300
			src := t.TempDir()
			l := openLog(t, src, cfg, OpenOptions{})
			var a appended
			appendN(t, l, &a, 16, 0)
			l.Close()
			dir := copyDir(t, src)
			logs := segmentFiles(t, dir, ".log")
			if len(logs) < 3 {
				t.Fatalf("only %d segments", len(logs))
			}
			base, _ := parseSegmentName(logs[1], logSuffix)
			next, _ := parseSegmentName(logs[2], logSuffix)
			var in []int // the second segment's batches
			for i, h := range a.hdrs {
				if h.BaseOffset >= base && h.BaseOffset < next {
					in = append(in, i)
				}
			}
			keep := tc.keep
			if keep < 0 {
				keep += len(in)
			}
			var size int64
			for _, i := range in[:keep] {
				size += int64(len(a.batches[i]))
			}
			if err := os.Truncate(filepath.Join(dir, logs[1]), size); err != nil {
				t.Fatal(err)
			}
			l = openLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
			defer l.Close()
			want := base
			if keep > 0 {
				want = a.hdrs[in[keep-1]].LastOffset() + 1
			}
			if l.EndOffset() != want {
				t.Fatalf("end %d after recovery, want %d (where the short segment ends)", l.EndOffset(), want)
			}
			if n := len(segmentFiles(t, dir, ".log")); n != 2 {
				t.Fatalf("%d segments after recovery, want 2: the ones after the short segment go", n)
			}
			last := in[0] + keep
			got := appended{batches: a.batches[:last], hdrs: a.hdrs[:last]}
			checkReadsEverything(t, l, &got)
		})
	}
}

// TestRecoveryKeepsGapBelowRecoveryPoint: a segment that ends before the
// next one begins below the recovery point (synced, directory entries
// included) is not a crash's lost tail: a segment retention failed to
// remove whole, or one scanned only because its indexes were lost, never
// cuts the log, whether the shutdown was clean or not.
func TestRecoveryKeepsGapBelowRecoveryPoint(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprintf("clean=%v", clean), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.SegmentBytes = 300
			src := t.TempDir()
			l := openLog(t, src, cfg, OpenOptions{})
			var a appended
			appendN(t, l, &a, 16, 0)
			end := l.EndOffset()
			l.Close()
			dir := copyDir(t, src)
			logs := segmentFiles(t, dir, ".log")
			if len(logs) < 4 {
				t.Fatalf("only %d segments", len(logs))
			}
			// The second segment is gone whole and the first lost its
			// indexes (a retention pass that failed half way), so the
			// first is scanned and ends before the third begins.
			if err := os.Remove(filepath.Join(dir, logs[1])); err != nil {
				t.Fatal(err)
			}
			base0, _ := parseSegmentName(logs[0], logSuffix)
			for _, suffix := range []string{indexSuffix, timeIndexSuffix} {
				if err := os.Remove(filepath.Join(dir, segmentFileName(base0, suffix))); err != nil {
					t.Fatal(err)
				}
			}
			l = openLog(t, dir, cfg, OpenOptions{CleanShutdown: clean, RecoveryPoint: end})
			defer l.Close()
			if l.EndOffset() != end {
				t.Fatalf("end %d after reopening, want %d: a gap below the recovery point cut the log", l.EndOffset(), end)
			}
			if n := len(segmentFiles(t, dir, ".log")); n != len(logs)-1 {
				t.Fatalf("%d segments after reopening, want %d", n, len(logs)-1)
			}
		})
	}
}
