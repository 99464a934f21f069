package storage

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gokafka/gokafka/storage/vfs"
)

// twoLogDirs opens log dirs d1 and d2 under root on fsys (nil: the OS's),
// closed at the end of the test.
func twoLogDirs(t *testing.T, root string, fsys vfs.FS) (dirs *Dirs, d1, d2 string) {
	t.Helper()
	d1, d2 = filepath.Join(root, "d1"), filepath.Join(root, "d2")
	dirs, err := OpenDirs([]string{d1, d2}, 1, "c", nil, fsys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dirs.Close() })
	return dirs, d1, d2
}

// readLogBytes reads every batch of l from its start, checking each one.
func readLogBytes(t testing.TB, l *Log) []byte {
	t.Helper()
	var out []byte
	for off := l.StartOffset(); off < l.EndOffset(); {
		data, err := l.Read(off, 1<<20, math.MaxInt64)
		if err != nil {
			t.Fatalf("read %s at %d: %v", l.Dir(), off, err)
		}
		hs := splitRead(t, data)
		if len(hs) == 0 {
			t.Fatalf("read %s at %d: nothing, log ends at %d", l.Dir(), off, l.EndOffset())
		}
		out = append(out, data...)
		off = hs[len(hs)-1].LastOffset() + 1
	}
	return out
}

// segmentBytes concatenates the .log files of dir in offset order: what
// the e2e test compares between replicas.
func segmentBytes(t testing.TB, dir string) []byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, e := range ents { // ReadDir sorts by name: zero-padded offsets
		if strings.HasSuffix(e.Name(), logSuffix) {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b...)
		}
	}
	return out
}

// TestFutureLogMoveWhileAppending moves a log to another log dir the way
// the broker does: a future log copies the current one while a writer
// keeps appending (idempotent batches, so there is producer state) and a
// reader keeps reading; under the writer's lock the last batches are
// copied and the two are swapped. Afterwards the same *Log serves from the
// target dir with every batch, byte for byte, in the order appended; the
// producer state is the one it had; the source dir is a -delete dir that
// RemoveDeleted removes; and the log reopens from the new dir with the
// same content.
func TestFutureLogMoveWhileAppending(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		dirs, d1, d2 := twoLogDirs(t, t.TempDir(), nil)
		// No fsyncs: the table's tiny segments roll at every batch, and
		// durability is TestFutureLogKilledDuringMove's business.
		fsys := noSyncFS{vfs.Default}
		cfg.SegmentIndexBytes = min(cfg.SegmentIndexBytes, 4096) // cheap preallocated indexes
		cur := openLog(t, filepath.Join(d1, "t-0"), cfg, OpenOptions{FS: fsys})
		defer cur.Close()
		var a appended
		var pmu sync.Mutex // the partition lock
		seq := int32(0)
		appendOne := func(i int) {
			pmu.Lock()
			defer pmu.Unlock()
			tb := testBatch{base: cur.EndOffset(), records: 1 + i%3, ts: int64(1000 + i), valueSize: 10 + i%50, pid: 7, epoch: 0, seq: seq}
			appendBatch(t, cur, &a, tb)
			seq += int32(max(tb.records, 1))
		}
		for i := range 40 {
			appendOne(i)
		}
		fp, err := dirs.NewFuturePath("t", 0, d2)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, _, ok := ParseFutureDirName(filepath.Base(fp)); !ok {
			t.Fatalf("future dir %s does not parse", fp)
		}
		future := openLog(t, fp, cfg, OpenOptions{FS: fsys})

		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { // the producer
			defer wg.Done()
			for i := 40; i < 140; i++ {
				appendOne(i)
			}
		}()
		readErr := make(chan error, 1)
		go func() { // a consumer reading throughout, the swap included
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := cur.Read(cur.StartOffset(), 4096, math.MaxInt64); err != nil {
					readErr <- err
					return
				}
			}
		}()
		copied := 0
		for i := 0; ; i++ {
			n, err := future.CopyFrom(cur, 512)
			if err != nil {
				t.Fatal(err)
			}
			copied += n
			if n == 0 && i > 50 {
				break
			}
		}
		pmu.Lock()
		for {
			n, err := future.CopyFrom(cur, 512)
			if err != nil {
				pmu.Unlock()
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		producersBefore := cur.Producers().Len()
		doomed, err := cur.ReplaceWithFuture(future)
		pmu.Unlock()
		if err != nil {
			t.Fatalf("replace: %v", err)
		}
		for i := 140; i < 150; i++ { // appends go on in the new dir
			appendOne(i)
		}
		close(done)
		wg.Wait()
		select {
		case err := <-readErr:
			t.Fatalf("a read during the move failed: %v", err)
		default:
		}
		if copied == 0 {
			t.Fatal("nothing was copied before the swap")
		}
		if want := filepath.Join(d2, "t-0"); cur.Dir() != want {
			t.Fatalf("log dir after the move = %s, want %s", cur.Dir(), want)
		}
		if _, err := os.Stat(filepath.Join(d1, "t-0")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the source dir is still there: %v", err)
		}
		if _, err := os.Stat(fp); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the future dir is still there: %v", err)
		}
		if !strings.HasSuffix(doomed, deleteDirSuffix) || filepath.Dir(doomed) != d1 {
			t.Fatalf("doomed dir = %s", doomed)
		}
		if got := cur.Producers().Len(); got != producersBefore || got == 0 {
			t.Fatalf("producers after the move = %d, before %d", got, producersBefore)
		}
		want := bytes.Join(a.batches, nil)
		if got := readLogBytes(t, cur); !bytes.Equal(got, want) {
			t.Fatalf("the moved log reads %d bytes, %d were appended (or they differ)", len(got), len(want))
		}
		if got := segmentBytes(t, cur.Dir()); !bytes.Equal(got, want) {
			t.Fatalf("the moved log's segment files hold %d bytes, %d were appended (or they differ)", len(got), len(want))
		}
		if n, err := dirs.RemoveDeleted(); err != nil || n != 1 {
			t.Fatalf("RemoveDeleted = %d, %v; want 1", n, err)
		}
		if err := cur.Close(); err != nil {
			t.Fatal(err)
		}
		re := openLog(t, filepath.Join(d2, "t-0"), cfg, OpenOptions{})
		defer re.Close()
		if got := readLogBytes(t, re); !bytes.Equal(got, want) {
			t.Fatal("the moved log differs after a reopen")
		}
		if re.Producers().Len() != producersBefore {
			t.Fatalf("producers after a reopen = %d, want %d", re.Producers().Len(), producersBefore)
		}
	})
}

// TestFutureLogFollowsTruncation: a future log ahead of a truncated current
// log is cut back to it, and one behind a current log whose start moved
// past it restarts at that start.
func TestFutureLogFollowsTruncation(t *testing.T) {
	cfg := DefaultConfig()
	root := t.TempDir()
	cur := openLog(t, filepath.Join(root, "d1", "t-0"), cfg, OpenOptions{})
	defer cur.Close()
	future := openLog(t, filepath.Join(root, "d2", "t-0.0123456789abcdef0123456789abcdef-future"), cfg, OpenOptions{})
	defer future.Close()
	appendN(t, cur, nil, 20, 1000)
	for {
		n, err := future.CopyFrom(cur, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if err := cur.TruncateTo(10); err != nil {
		t.Fatal(err)
	}
	if _, err := future.CopyFrom(cur, 100); err != nil {
		t.Fatal(err)
	}
	if future.EndOffset() != cur.EndOffset() {
		t.Fatalf("future ends at %d after the current log was cut to %d", future.EndOffset(), cur.EndOffset())
	}
	appendN(t, cur, nil, 10, 2000)
	if _, err := cur.IncrementStartOffset(cur.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if _, err := cur.DeleteRetained(); err != nil {
		t.Fatal(err)
	}
	if err := cur.Roll(); err != nil {
		t.Fatal(err)
	}
	if _, err := cur.DeleteRetained(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := future.CopyFrom(cur, 100); err != nil {
			t.Fatal(err)
		}
	}
	if future.StartOffset() != cur.StartOffset() || future.EndOffset() != cur.EndOffset() {
		t.Fatalf("future holds [%d, %d), current [%d, %d)", future.StartOffset(), future.EndOffset(), cur.StartOffset(), cur.EndOffset())
	}
}

// TestFutureLogKilledDuringMove kills the process (SIGKILL: the page
// cache and every directory entry survive, vfs.Crashable.KillImage) after
// every file operation of a move: the copy, the swap and the removal of
// the old dir. From each image OpenDirs must find exactly one current dir
// of the partition (completing a swap cut between its two renames), and
// that log must hold every batch appended, byte for byte; a -future dir
// left must be a prefix of it, which the broker resumes.
func TestFutureLogKilledDuringMove(t *testing.T) {
	root := t.TempDir()
	c, err := vfs.NewCrashable(root)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.SegmentBytes = 600 // several segments, rolled while copying
	cfg.IndexIntervalBytes = 1
	cfg.SegmentIndexBytes = 4096
	dirs, d1, d2 := twoLogDirs(t, root, c)
	cur := openLog(t, filepath.Join(d1, "t-0"), cfg, OpenOptions{FS: c})
	var a appended
	appendN(t, cur, &a, 20, 1000)
	want := bytes.Join(a.batches, nil)

	var imgMu sync.Mutex // the background flusher's operations call the hook too
	var images []string
	c.OnOp(func(int) {
		imgMu.Lock()
		defer imgMu.Unlock()
		img := filepath.Join(t.TempDir(), "img")
		if err := c.KillImage(img); err != nil {
			t.Error(err)
		}
		images = append(images, img)
	})
	fp, err := dirs.NewFuturePath("t", 0, d2)
	if err != nil {
		t.Fatal(err)
	}
	future := openLog(t, fp, cfg, OpenOptions{FS: c})
	for {
		n, err := future.CopyFrom(cur, 300)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	doomed, err := cur.ReplaceWithFuture(future)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveAll(doomed); err != nil {
		t.Fatal(err)
	}
	c.OnOp(func(int) {})
	imgMu.Lock()
	defer imgMu.Unlock()
	if err := cur.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dirs.Close(); err != nil {
		t.Fatal(err)
	}
	if len(images) < 10 {
		t.Fatalf("only %d crash points", len(images))
	}
	for i, img := range images {
		t.Run(fmt.Sprintf("op%d", i+1), func(t *testing.T) {
			rd, _, _ := twoLogDirs(t, img, nil) // the broker restarting on the image
			parts, err := rd.Partitions()
			if err != nil {
				t.Fatal(err)
			}
			if len(parts) != 1 {
				t.Fatalf("partition dirs after the crash: %v", parts)
			}
			l := openLog(t, parts[0].Path, cfg, OpenOptions{FS: noSyncFS{vfs.Default}})
			defer l.Close()
			if got := readLogBytes(t, l); !bytes.Equal(got, want) {
				t.Fatalf("%s holds %d bytes after the crash, %d were appended (or they differ)", parts[0].Path, len(got), len(want))
			}
			futures, err := rd.FutureDirs()
			if err != nil {
				t.Fatal(err)
			}
			for _, fd := range futures {
				fl := openLog(t, fd.Path, cfg, OpenOptions{FS: noSyncFS{vfs.Default}})
				got := readLogBytes(t, fl)
				fl.Close()
				if !bytes.HasPrefix(want, got) {
					t.Fatalf("future log %s is not a prefix of the log", fd.Path)
				}
			}
			if _, err := rd.RemoveDeleted(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestPathForPreferredAndFutures: a new partition goes to the log dir with
// the fewest partitions, future logs counted, unless AlterReplicaLogDirs
// preferred a dir for it first; the preference is used once.
func TestPathForPreferredAndFutures(t *testing.T) {
	dirs, d1, d2 := twoLogDirs(t, t.TempDir(), nil)
	mk := func(p string) {
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mk(filepath.Join(d1, "a-0"))
	mk(filepath.Join(d2, "a-1"))
	mk(filepath.Join(d2, "a-0.0123456789abcdef0123456789abcdef-future"))
	if got := dirs.PathFor("b", 0); got != filepath.Join(d1, "b-0") {
		t.Fatalf("PathFor(b-0) = %s: d2 holds a future log, d1 has fewer", got)
	}
	dirs.SetPreferred("c", 0, d2)
	if got := dirs.PathFor("c", 0); got != filepath.Join(d2, "c-0") {
		t.Fatalf("PathFor(c-0) = %s, want the preferred d2", got)
	}
	if got, ok := dirs.LogDirFor(d2); !ok || got != d2 {
		t.Fatalf("LogDirFor(%s) = %s, %v", d2, got, ok)
	}
	if _, ok := dirs.LogDirFor(filepath.Join(d1, "nope")); ok {
		t.Fatal("LogDirFor found an unconfigured dir")
	}
}

// FuzzParseFutureDirName checks the parser of directory names found on
// disk: it never panics, and whatever it accepts is rebuilt exactly by
// futureDirName.
func FuzzParseFutureDirName(f *testing.F) {
	for _, s := range []string{
		"t-0.0123456789abcdef0123456789abcdef-future", "my-topic-12.abc-future", "t-0-future",
		"t-0.x-delete", ".-future", "t-.a-future", "t-99999999999.a-future", "a b-0.c-future",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		topic, part, id, ok := ParseFutureDirName(name)
		if !ok {
			return
		}
		if got := futureDirName(topic, part, id); got != name {
			// Leading zeros in the partition are the only way to differ.
			if _, _, _, ok2 := ParseFutureDirName(got); !ok2 {
				t.Fatalf("%q parsed to %q %d %q, which rebuilds to unparsable %q", name, topic, part, id, got)
			}
		}
		if topic == "" || part < 0 || id == "" {
			t.Fatalf("%q parsed to empty parts: %q %d %q", name, topic, part, id)
		}
	})
}
