package storage

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkReadsEverything reads at every offset of the log and checks that the
// first batch returned is the one holding the offset and the following ones
// are the batches appended after it.
func checkReadsEverything(t *testing.T, l *Log, a *appended) {
	t.Helper()
	for off := l.StartOffset(); off < l.EndOffset(); off++ {
		data, err := l.Read(off, 1<<20, math.MaxInt64)
		if err != nil {
			t.Fatalf("read %d: %v", off, err)
		}
		hs := splitRead(t, data)
		if len(hs) == 0 {
			t.Fatalf("read %d: no batches", off)
		}
		i := a.batchFor(off)
		for j, h := range hs {
			if !bytes.Equal(data[:h.size()], a.batches[i+j]) {
				t.Fatalf("read %d: batch %d differs from what was appended", off, j)
			}
			data = data[h.size():]
		}
	}
}

func TestAppendReadRoundTrip(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		l := openLog(t, t.TempDir(), cfg, OpenOptions{})
		defer l.Close()
		var a appended
		appendN(t, l, &a, 40, 1000)
		last := a.hdrs[len(a.hdrs)-1]
		if got, want := l.EndOffset(), last.LastOffset()+1; got != want {
			t.Fatalf("EndOffset = %d, want %d", got, want)
		}
		if l.StartOffset() != 0 {
			t.Fatalf("StartOffset = %d, want 0", l.StartOffset())
		}
		checkReadsEverything(t, l, &a)
	})
}

func TestReadLimits(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		l := openLog(t, t.TempDir(), cfg, OpenOptions{})
		defer l.Close()
		var a appended
		for range 6 {
			appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 3, ts: 100, valueSize: 20, pid: -1})
		}
		size := len(a.batches[0]) // all batches have the same size
		end := l.EndOffset()
		tests := []struct {
			name      string
			offset    int64
			maxBytes  int
			maxOffset int64
			wantBases []int64 // nil: no bytes
			wantErr   error
		}{
			{name: "inside a batch returns it whole", offset: 4, maxBytes: size, maxOffset: math.MaxInt64, wantBases: []int64{3}},
			{name: "maxBytes stops before a batch that does not fit", offset: 0, maxBytes: 2*size + size/2, maxOffset: math.MaxInt64, wantBases: []int64{0, 3}},
			{name: "KIP-74 first batch larger than maxBytes", offset: 6, maxBytes: 1, maxOffset: math.MaxInt64, wantBases: []int64{6}},
			{name: "maxOffset excludes batches starting at it", offset: 0, maxBytes: 1 << 20, maxOffset: 9, wantBases: []int64{0, 3, 6}},
			{name: "maxOffset inside a batch keeps it", offset: 0, maxBytes: 1 << 20, maxOffset: 4, wantBases: []int64{0, 3}},
			{name: "first batch at maxOffset returns nothing", offset: 9, maxBytes: 1 << 20, maxOffset: 9},
			{name: "log end returns nothing", offset: end, maxBytes: 1 << 20, maxOffset: math.MaxInt64},
			{name: "past the end", offset: end + 1, maxBytes: 1 << 20, maxOffset: math.MaxInt64, wantErr: ErrOffsetOutOfRange},
			{name: "negative", offset: -1, maxBytes: 1 << 20, maxOffset: math.MaxInt64, wantErr: ErrOffsetOutOfRange},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				data, err := l.Read(tc.offset, tc.maxBytes, tc.maxOffset)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				var bases []int64
				for _, h := range splitRead(t, data) {
					bases = append(bases, h.BaseOffset)
				}
				// A read stays within one segment, so with tiny segments it
				// may return a prefix of the expected batches.
				if len(tc.wantBases) == 0 && len(bases) != 0 || len(tc.wantBases) > 0 && (len(bases) == 0 || !slices.Equal(bases, tc.wantBases[:len(bases)])) {
					t.Fatalf("batches %v, want %v", bases, tc.wantBases)
				}
				if cfg.SegmentBytes > 1<<20 && !slices.Equal(bases, tc.wantBases) {
					t.Fatalf("batches %v, want %v", bases, tc.wantBases)
				}
			})
		}
	})
}

func segmentFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

func TestRollBySize(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	defer l.Close()
	var a appended
	for range 10 {
		appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 2, ts: 1, valueSize: 30, pid: -1})
	}
	size := int64(len(a.batches[0]))
	perSeg := cfg.SegmentBytes / size
	wantSegs := int((10 + perSeg - 1) / perSeg)
	logs := segmentFiles(t, dir, ".log")
	if len(logs) != wantSegs {
		t.Fatalf("%d segments %v, want %d (batch %d bytes)", len(logs), logs, wantSegs, size)
	}
	for i, name := range logs {
		want := segmentFileName(int64(i)*perSeg*2, ".log")
		if name != want {
			t.Fatalf("segment %d named %s, want %s", i, name, want)
		}
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > cfg.SegmentBytes {
			t.Fatalf("%s is %d bytes, over segment.bytes %d", name, fi.Size(), cfg.SegmentBytes)
		}
	}
	// A single batch larger than segment.bytes still goes in (alone).
	appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 1, ts: 1, valueSize: 500, pid: -1})
	if got := len(segmentFiles(t, dir, ".log")); got != wantSegs+1 {
		t.Fatalf("%d segments after a big batch, want %d", got, wantSegs+1)
	}
	checkReadsEverything(t, l, &a)
}

func TestRollByTime(t *testing.T) {
	clock := newFakeClock()
	cfg := DefaultConfig()
	cfg.SegmentMs = 1000
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{Now: clock.Now})
	defer l.Close()
	var a appended
	appendN(t, l, &a, 3, 0)
	clock.Advance(1000 * time.Millisecond)
	appendN(t, l, &a, 1, 0) // exactly segment.ms old: no roll yet
	if n := len(segmentFiles(t, dir, ".log")); n != 1 {
		t.Fatalf("%d segments at segment.ms, want 1", n)
	}
	clock.Advance(time.Millisecond)
	base := l.EndOffset()
	appendN(t, l, &a, 2, 0)
	logs := segmentFiles(t, dir, ".log")
	if len(logs) != 2 || logs[1] != segmentFileName(base, ".log") {
		t.Fatalf("segments %v, want a second one at %d", logs, base)
	}
	checkReadsEverything(t, l, &a)
}

func TestRetention(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name           string
		retentionMs    int64
		retentionBytes int64
		advance        time.Duration
		wantDeleted    int
	}{
		{name: "nothing expired", retentionMs: day.Milliseconds(), retentionBytes: -1, advance: time.Hour},
		{name: "forever", retentionMs: -1, retentionBytes: -1, advance: 1000 * day},
		{name: "all expired by time", retentionMs: day.Milliseconds(), retentionBytes: -1, advance: 2 * day, wantDeleted: 4},
		{name: "by size keeps at least retention.bytes", retentionMs: -1, retentionBytes: 250, wantDeleted: 1},
		{name: "by size exactly", retentionMs: -1, retentionBytes: 230, wantDeleted: 2},
		{name: "by size zero deletes everything", retentionMs: -1, retentionBytes: 0, wantDeleted: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			cfg := DefaultConfig()
			cfg.RetentionMs, cfg.RetentionBytes = tc.retentionMs, tc.retentionBytes
			dir := t.TempDir()
			l := openLog(t, dir, cfg, OpenOptions{Now: clock.Now})
			defer l.Close()
			var a appended
			ts := clock.Now().UnixMilli()
			for i := range 4 { // 4 segments of one ~120-byte batch each
				appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 2, ts: ts, valueSize: 20, pid: -1})
				if i < 3 {
					if err := l.Roll(); err != nil {
						t.Fatal(err)
					}
				}
			}
			clock.Advance(tc.advance)
			n, err := l.DeleteRetained()
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantDeleted {
				t.Fatalf("deleted %d segments, want %d", n, tc.wantDeleted)
			}
			end := a.hdrs[3].LastOffset() + 1
			wantStart := end
			if n < 4 {
				wantStart = a.hdrs[n].BaseOffset
			}
			if l.StartOffset() != wantStart || l.EndOffset() != end {
				t.Fatalf("log [%d, %d), want [%d, %d)", l.StartOffset(), l.EndOffset(), wantStart, end)
			}
			logs := segmentFiles(t, dir, ".log")
			if len(logs) == 0 || logs[0] != segmentFileName(wantStart, ".log") {
				t.Fatalf("segments %v, want the first at %d", logs, wantStart)
			}
			if wantStart > 0 {
				if _, err := l.Read(wantStart-1, 100, math.MaxInt64); !errors.Is(err, ErrOffsetOutOfRange) {
					t.Fatalf("read below start: %v, want out of range", err)
				}
			}
			checkReadsEverything(t, l, &a)
			// The log keeps taking appends.
			appendN(t, l, &a, 2, ts)
			checkReadsEverything(t, l, &a)
		})
	}
}

// TestReopenClean checks that a cleanly closed log reopens with the same
// contents, and that the indexes Append wrote are byte for byte those that
// recovery rebuilds.
func TestReopenClean(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		dir := t.TempDir()
		l := openLog(t, dir, cfg, OpenOptions{})
		var a appended
		appendN(t, l, &a, 30, 5000)
		end := l.EndOffset()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir, cfg, OpenOptions{CleanShutdown: true, RecoveryPoint: end})
		if l.EndOffset() != end {
			t.Fatalf("reopened at %d, want %d", l.EndOffset(), end)
		}
		checkReadsEverything(t, l, &a)
		appendN(t, l, &a, 5, 9000)
		checkReadsEverything(t, l, &a)
		end = l.EndOffset()
		l.Close()
		before := readIndexFiles(t, dir)

		// An unclean open from offset 0 rebuilds every index; they must match.
		l = openLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
		if l.EndOffset() != end {
			t.Fatalf("recovered at %d, want %d", l.EndOffset(), end)
		}
		checkReadsEverything(t, l, &a)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		after := readIndexFiles(t, dir)
		for name, b := range before {
			if !bytes.Equal(b, after[name]) {
				t.Errorf("%s: %d bytes after append, %d after rebuild", name, len(b), len(after[name]))
			}
		}
	})
}

func readIndexFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".index") || strings.HasSuffix(e.Name(), ".timeindex") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out[e.Name()] = b
		}
	}
	return out
}

func TestIndexEntriesFollowKafkaRule(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	var a appended
	for i := range 4 {
		appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 2, ts: int64(100 - i), valueSize: 10, pid: -1})
	}
	appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 2, ts: 500, valueSize: 10, pid: -1})
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	idx := readIndexFiles(t, dir)
	// The first batch gets no entry; each later one does: last offset and
	// position.
	var want []byte
	pos := uint32(len(a.batches[0]))
	for i := 1; i < 5; i++ {
		want = append(want, be32(uint32(a.hdrs[i].LastOffset()))...)
		want = append(want, be32(pos)...)
		pos += uint32(len(a.batches[i]))
	}
	if got := idx[segmentFileName(0, ".index")]; !bytes.Equal(got, want) {
		t.Fatalf(".index = %x, want %x", got, want)
	}
	// Timestamps of batches 1-3 do not pass batch 0's (101); batch 4 (501) does.
	var wantTime []byte
	wantTime = append(wantTime, be64(101)...)
	wantTime = append(wantTime, be32(1)...)
	wantTime = append(wantTime, be64(501)...)
	wantTime = append(wantTime, be32(9)...)
	if got := idx[segmentFileName(0, ".timeindex")]; !bytes.Equal(got, wantTime) {
		t.Fatalf(".timeindex = %x, want %x", got, wantTime)
	}
}

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
func be64(v uint64) []byte { return append(be32(uint32(v>>32)), be32(uint32(v))...) }

func TestAppendRejectsWrongOffset(t *testing.T) {
	l := openLog(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	defer l.Close()
	appendN(t, l, nil, 2, 0)
	b := testBatch{base: 0, records: 1, pid: -1}.encode()
	if err := l.Append(b, AppendInfo{}); err == nil {
		t.Fatal("append at an old offset succeeded")
	}
	if err := l.Append(b[:30], AppendInfo{}); !errors.Is(err, ErrCorruption) {
		t.Fatalf("append of a partial batch: %v, want ErrCorruption", err)
	}
}

func TestBatchAtTimestamp(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		l := openLog(t, t.TempDir(), cfg, OpenOptions{})
		defer l.Close()
		var a appended
		// Timestamps go up with a dip, as with producers on skewed clocks.
		tss := []int64{100, 200, 150, 300, 300, 250, 400, 500, 450, 600}
		for _, ts := range tss {
			appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 2, ts: ts, valueSize: 10, pid: -1})
		}
		for _, target := range []int64{0, 100, 101, 102, 150, 199, 201, 250, 301, 302, 451, 501, 601, 602, 1000} {
			want := -1
			for i, h := range a.hdrs {
				if h.MaxTimestamp >= target {
					want = i
					break
				}
			}
			b, ok, err := l.BatchAtTimestamp(target)
			if err != nil {
				t.Fatal(err)
			}
			if ok != (want >= 0) || ok && !bytes.Equal(b, a.batches[want]) {
				t.Fatalf("BatchAtTimestamp(%d): ok=%v batch %d bytes, want index %d", target, ok, len(b), want)
			}
		}
		b, ok, err := l.MaxTimestampBatch()
		if err != nil || !ok || !bytes.Equal(b, a.batches[9]) {
			t.Fatalf("MaxTimestampBatch: ok=%v err=%v, want the last batch", ok, err)
		}
	})
}

func TestMaxTimestampBatchEmpty(t *testing.T) {
	l := openLog(t, t.TempDir(), DefaultConfig(), OpenOptions{})
	defer l.Close()
	if _, ok, err := l.MaxTimestampBatch(); ok || err != nil {
		t.Fatalf("empty log: ok=%v err=%v", ok, err)
	}
	if _, ok, err := l.BatchAtTimestamp(0); ok || err != nil {
		t.Fatalf("empty log: ok=%v err=%v", ok, err)
	}
}

func TestTruncateTo(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		for _, target := range []int64{0, 1, 5, 17, 30} {
			dir := t.TempDir()
			l := openLog(t, dir, cfg, OpenOptions{})
			var a appended
			appendN(t, l, &a, 20, 0)
			if err := l.TruncateTo(target); err != nil {
				t.Fatal(err)
			}
			// Everything from the batch holding target on is gone.
			i := a.batchFor(target)
			want := target
			if i >= 0 {
				want = a.hdrs[i].BaseOffset
				a.batches, a.hdrs = a.batches[:i], a.hdrs[:i]
			}
			if l.EndOffset() != want {
				t.Fatalf("truncate to %d: end %d, want %d", target, l.EndOffset(), want)
			}
			checkReadsEverything(t, l, &a)
			appendN(t, l, &a, 3, 0)
			checkReadsEverything(t, l, &a)
			l.Close()
			l = openLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
			checkReadsEverything(t, l, &a)
			l.Close()
		}
	})
}

func TestDelete(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	l := openLog(t, dir, DefaultConfig(), OpenOptions{})
	appendN(t, l, nil, 3, 0)
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dir still there: %v", err)
	}
	if _, err := l.Read(0, 100, math.MaxInt64); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after delete: %v, want ErrClosed", err)
	}
}

func TestFlushPolicy(t *testing.T) {
	clock := newFakeClock()
	cfg := DefaultConfig()
	cfg.FlushMessages = 5
	cfg.FlushMs = 1000
	l := openLog(t, t.TempDir(), cfg, OpenOptions{Now: clock.Now})
	defer l.Close()
	appendBatch(t, l, nil, testBatch{base: 0, records: 2, pid: -1})
	if l.RecoveryPoint() != 0 {
		t.Fatalf("recovery point %d after 2 records, want 0", l.RecoveryPoint())
	}
	if l.NeedsFlush(clock.Now().Add(999 * time.Millisecond)) {
		t.Fatal("NeedsFlush before flush.ms")
	}
	if !l.NeedsFlush(clock.Now().Add(1000 * time.Millisecond)) {
		t.Fatal("no NeedsFlush at flush.ms")
	}
	appendBatch(t, l, nil, testBatch{base: 2, records: 3, pid: -1})
	if l.RecoveryPoint() != 5 {
		t.Fatalf("recovery point %d after 5 records, want 5", l.RecoveryPoint())
	}
	if l.NeedsFlush(clock.Now().Add(time.Hour)) {
		t.Fatal("NeedsFlush right after a flush")
	}
	appendBatch(t, l, nil, testBatch{base: 5, records: 1, pid: -1})
	if err := l.Flush(); err != nil || l.RecoveryPoint() != 6 {
		t.Fatalf("Flush: %v, recovery point %d, want 6", err, l.RecoveryPoint())
	}
}
