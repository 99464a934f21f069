package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fdsInto counts this process's open file descriptors that point at files
// in dir (as ls -l /proc/self/fd shows them).
func fdsInto(t *testing.T, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the descriptor ReadDir itself used is gone by now
		}
		if strings.HasPrefix(target, dir+string(os.PathSeparator)) {
			n++
		}
	}
	return n
}

// TestOneFDPerSegment checks the fd budget: a partition with several
// segments holds exactly one descriptor per segment (its .log), between
// appends, after lookups in inactive segments (which map their indexes)
// and after a reopen.
func TestOneFDPerSegment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300
	cfg.IndexIntervalBytes = 1
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	var a appended
	appendN(t, l, &a, 30, 0)
	check := func(when string) {
		t.Helper()
		// The flusher of rolled segments opens each one's indexes for a
		// moment to fsync them; count once it is done.
		l.waitBackgroundFlush(t)
		segs := len(segmentFiles(t, dir, ".log"))
		if segs < 4 {
			t.Fatalf("%s: only %d segments", when, segs)
		}
		if got := fdsInto(t, dir); got != segs {
			t.Fatalf("%s: %d fds into the partition directory, want %d (one per segment)", when, got, segs)
		}
	}
	check("after appends")
	checkReadsEverything(t, l, &a)
	if _, ok, err := l.BatchAtTimestamp(a.hdrs[3].MaxTimestamp); !ok || err != nil {
		t.Fatalf("BatchAtTimestamp: %v %v", ok, err)
	}
	check("after reads")
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := fdsInto(t, dir); got != 0 {
		t.Fatalf("%d fds left after Close", got)
	}
	for _, opts := range []OpenOptions{{CleanShutdown: true, RecoveryPoint: end}, {RecoveryPoint: 0}} {
		l = openLog(t, dir, cfg, opts)
		check("after reopen")
		checkReadsEverything(t, l, &a)
		check("after reads of the reopened log")
		l.Close()
	}
}

// TestIndexTrimmedAndPreallocated checks what a person sees on disk: while
// the log is open the active segment's index files are preallocated to
// segment.index.bytes, the inactive ones hold exactly their entries, and
// after Close every index is trimmed; a clean reopen and close leave them
// byte for byte the same.
func TestIndexTrimmedAndPreallocated(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 1
	cfg.SegmentIndexBytes = 4096
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	var a appended
	appendN(t, l, &a, 40, 0)
	active := l.active().base
	size := func(name string) int64 {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if got := size(segmentFileName(active, ".index")); got != 4096 {
		t.Fatalf("active .index is %d bytes while open, want preallocated 4096", got)
	}
	if got := size(segmentFileName(active, ".timeindex")); got != (4096/12+1)*12 {
		t.Fatalf("active .timeindex is %d bytes while open, want %d", got, (4096/12+1)*12)
	}
	// Inactive indexes: exactly their entries. The first segment's offset
	// index has one entry per batch but the first.
	logs := segmentFiles(t, dir, ".log")
	if len(logs) < 2 {
		t.Fatalf("%d segments", len(logs))
	}
	first := 0
	for _, h := range a.hdrs {
		if h.BaseOffset < l.segs[1].base {
			first++
		}
	}
	if got := size(segmentFileName(0, ".index")); got != int64(first-1)*8 {
		t.Fatalf("inactive .index is %d bytes, want %d (%d entries)", got, (first-1)*8, first-1)
	}
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	before := readIndexFiles(t, dir)
	for name, b := range before {
		if len(b) == 0 || bytes.HasSuffix(b, make([]byte, 8)) {
			t.Errorf("%s: %d bytes ending in zeros after Close, want trimmed entries", name, len(b))
		}
	}
	l = openLog(t, dir, cfg, OpenOptions{CleanShutdown: true, RecoveryPoint: end})
	checkReadsEverything(t, l, &a)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	after := readIndexFiles(t, dir)
	if len(after) != len(before) {
		t.Fatalf("%d index files after reopen, %d before", len(after), len(before))
	}
	for name, b := range before {
		if !bytes.Equal(b, after[name]) {
			t.Errorf("%s changed across a clean reopen: %x, was %x", name, after[name], b)
		}
	}
}

// TestUntrimmedIndexAfterCrash copies a log's directory while it is open,
// as a SIGKILL would leave it: the active segment's indexes are preallocated
// with a zero tail. Opening the copy, after an unclean stop and also when
// the stop is claimed clean, must never take the zeros for entries: the log
// reads back whole, and once closed its indexes are those a clean close
// leaves.
func TestUntrimmedIndexAfterCrash(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		if cfg.FlushMessages == 1 {
			t.Skip("the flush policy does not change what a crash leaves of the indexes")
		}
		src := t.TempDir()
		l := openLog(t, src, cfg, OpenOptions{})
		var a appended
		appendN(t, l, &a, 25, 0)
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		end := l.EndOffset()
		crashed := copyDir(t, src) // while open: untrimmed
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		want := readIndexFiles(t, src)
		untrimmed := 0
		for name, b := range readIndexFiles(t, crashed) {
			if len(b) > len(want[name]) {
				untrimmed++
			}
		}
		if untrimmed == 0 {
			t.Fatal("the crashed copy has no untrimmed index: the test tests nothing")
		}
		for _, opts := range []OpenOptions{{RecoveryPoint: end}, {CleanShutdown: true, RecoveryPoint: end}} {
			dir := copyDir(t, crashed)
			l := openLog(t, dir, cfg, opts)
			if l.EndOffset() != end {
				t.Fatalf("clean=%v: end %d, want %d", opts.CleanShutdown, l.EndOffset(), end)
			}
			checkReadsEverything(t, l, &a)
			if _, ok, err := l.BatchAtTimestamp(a.hdrs[10].MaxTimestamp); !ok || err != nil {
				t.Fatalf("clean=%v: BatchAtTimestamp: %v %v", opts.CleanShutdown, ok, err)
			}
			got := appended{batches: a.batches, hdrs: a.hdrs}
			appendN(t, l, &got, 3, 9000)
			checkReadsEverything(t, l, &got)
			if err := l.TruncateTo(end); err != nil {
				t.Fatal(err)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for name, b := range readIndexFiles(t, dir) {
				if !bytes.Equal(b, want[name]) {
					t.Errorf("clean=%v: %s = %x, want %x", opts.CleanShutdown, name, b, want[name])
				}
			}
		}
	})
}

// TestIndexLimitFollowsConfigChange raises segment.index.bytes on a log
// whose active segment was preallocated for a small index: appends must
// keep working (the segment rolls when its mapping is full) and every batch
// stays readable.
func TestIndexLimitFollowsConfigChange(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexIntervalBytes = 1
	cfg.SegmentIndexBytes = 24
	l := openLog(t, t.TempDir(), cfg, OpenOptions{})
	defer l.Close()
	var a appended
	appendN(t, l, &a, 2, 0)
	bigger := cfg
	bigger.SegmentIndexBytes = 1 << 20
	l.SetConfig(bigger)
	appendN(t, l, &a, 10, 100)
	if len(l.segs) < 2 {
		t.Fatalf("%d segments: the small mapping should have made the log roll", len(l.segs))
	}
	checkReadsEverything(t, l, &a)
	smaller := cfg
	smaller.SegmentIndexBytes = 8
	l.SetConfig(smaller)
	appendN(t, l, &a, 4, 200)
	checkReadsEverything(t, l, &a)
}
