package storage

import (
	"errors"
	"github.com/gokafka/gokafka/storage/vfs"
	"slices"
	"testing"
)

// TestIncrementStartOffset moves the log start offset (DeleteRecords) to
// several points on every segment configuration: reads below it fail,
// reads at it work, only segments wholly below it are deleted (never the
// active one), and a reopen with the checkpointed start keeps it.
func TestIncrementStartOffset(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		dir := t.TempDir()
		l := openLog(t, dir, cfg, OpenOptions{})
		var a appended
		appendN(t, l, &a, 40, 1000)
		end := l.EndOffset()
		steps := []struct {
			name   string
			offset int64
			moved  bool
			err    error
			start  int64
		}{
			{"inside the first batch", a.hdrs[0].BaseOffset + 1, true, nil, a.hdrs[0].BaseOffset + 1},
			{"backwards changes nothing", 0, false, nil, a.hdrs[0].BaseOffset + 1},
			{"a batch boundary", a.hdrs[10].BaseOffset, true, nil, a.hdrs[10].BaseOffset},
			{"past the end", end + 1, false, ErrOffsetOutOfRange, a.hdrs[10].BaseOffset},
			{"mid log", a.hdrs[25].BaseOffset + 1, true, nil, a.hdrs[25].BaseOffset + 1},
		}
		for _, s := range steps {
			before := l.segmentCount()
			moved, err := l.IncrementStartOffset(s.offset)
			if moved != s.moved || !errors.Is(err, s.err) || (s.err == nil && err != nil) {
				t.Fatalf("%s: moved %v err %v, want %v %v", s.name, moved, err, s.moved, s.err)
			}
			if got := l.StartOffset(); got != s.start {
				t.Fatalf("%s: start %d, want %d", s.name, got, s.start)
			}
			if l.segmentCount() > before {
				t.Fatalf("%s: segments grew", s.name)
			}
			l.mu.RLock()
			for i, seg := range l.segs {
				if i+1 < len(l.segs) && l.segs[i+1].base <= l.start {
					t.Errorf("%s: segment %d lies below the start %d and was kept", s.name, seg.base, l.start)
				}
			}
			l.mu.RUnlock()
			if _, err := l.Read(s.start-1, 1<<20, end); s.start > 0 && !errors.Is(err, ErrOffsetOutOfRange) {
				t.Fatalf("%s: read below the start: %v", s.name, err)
			}
			data, err := l.Read(s.start, 1<<20, end)
			if err != nil {
				t.Fatalf("%s: read at the start: %v", s.name, err)
			}
			if hs := splitRead(t, data); len(hs) == 0 || hs[0].BaseOffset > s.start || hs[0].LastOffset() < s.start {
				t.Fatalf("%s: read at %d starts with %+v", s.name, s.start, hs)
			}
		}
		// Up to the end: everything but the active segment goes.
		if _, err := l.IncrementStartOffset(end); err != nil {
			t.Fatal(err)
		}
		if l.segs[0] != l.active() && l.segs[0].next <= end && len(l.segs) > 1 && l.segs[1].base <= end {
			t.Errorf("segments below the end remain: %d", l.segmentCount())
		}
		want := l.StartOffset()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l = openLog(t, dir, cfg, OpenOptions{LogStartOffset: want})
		defer l.Close()
		if got := l.StartOffset(); got != want {
			t.Errorf("reopened with the checkpoint: start %d, want %d", got, want)
		}
		appendN(t, l, nil, 3, 5000)
		if got := l.StartOffset(); got != want {
			t.Errorf("after appends: start %d, want %d", got, want)
		}
	})
}

// TestOpenStartOffsetCapped: a checkpointed start past the log end (the
// log lost its tail) is capped at the end; one inside the log is kept.
func TestOpenStartOffsetCapped(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 200
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	appendN(t, l, nil, 20, 1000)
	end := l.EndOffset()
	l.Close()
	for _, tc := range []struct{ saved, want int64 }{{end + 100, end}, {0, 0}, {3, 3}} {
		l := openLog(t, dir, cfg, OpenOptions{LogStartOffset: tc.saved})
		if got := l.StartOffset(); got != tc.want {
			t.Errorf("saved %d: start %d, want %d", tc.saved, got, tc.want)
		}
		l.Close()
	}
}

// TestTruncateEpochsFromStart follows Kafka's truncateFromStart: entries
// at or before the new start go, the last of them kept at the start.
func TestTruncateEpochsFromStart(t *testing.T) {
	e := func(epoch int32, off int64) LeaderEpochEntry { return LeaderEpochEntry{Epoch: epoch, StartOffset: off} }
	base := []LeaderEpochEntry{e(0, 0), e(2, 10), e(5, 30)}
	tests := []struct {
		start int64
		want  []LeaderEpochEntry
	}{
		{0, []LeaderEpochEntry{e(0, 0), e(2, 10), e(5, 30)}},
		{5, []LeaderEpochEntry{e(0, 5), e(2, 10), e(5, 30)}},
		{10, []LeaderEpochEntry{e(2, 10), e(5, 30)}},
		{29, []LeaderEpochEntry{e(2, 29), e(5, 30)}},
		{40, []LeaderEpochEntry{e(5, 40)}},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		if err := writeLeaderEpochs(vfs.Default, dir, base); err != nil {
			t.Fatal(err)
		}
		got, err := TruncateLeaderEpochsFromStart(vfs.Default, dir, tc.start)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("start %d: %v %v, want %v", tc.start, got, err, tc.want)
		}
		if onDisk, err := ReadLeaderEpochs(vfs.Default, dir); err != nil || !slices.Equal(onDisk, tc.want) {
			t.Errorf("start %d on disk: %v %v", tc.start, onDisk, err)
		}
	}
}
