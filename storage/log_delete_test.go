package storage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/gokafka/storage/vfs"
)

// TestMarkForDelete: the log's directory is renamed to a -delete name at
// once and removed only when its delay has passed; a partition of the
// same name made meanwhile (a re-created topic) lives beside it, and the
// removal leaves it alone.
func TestMarkForDelete(t *testing.T) {
	dirs, d1, _ := twoLogDirs(t, t.TempDir(), nil)
	dirs.SetFileDeleteDelay(time.Minute)
	cfg := DefaultConfig()
	live := filepath.Join(d1, "t-0")
	l := openLog(t, live, cfg, OpenOptions{})
	var a appended
	appendN(t, l, &a, 5, 1000)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	doomed, err := dirs.MarkForDelete(live, now)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(doomed) != d1 || !strings.HasPrefix(filepath.Base(doomed), "t-0.") || !strings.HasSuffix(doomed, "-delete") {
		t.Fatalf("renamed to %s; want %s/t-0.<id>-delete", doomed, d1)
	}
	if _, err := os.Stat(live); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after MarkForDelete: %v", live, err)
	}
	if due, ok := dirs.NextDelete(); !ok || !due.Equal(now.Add(time.Minute)) {
		t.Fatalf("NextDelete = %v, %v; want %v", due, ok, now.Add(time.Minute))
	}
	// The topic is re-created under the same name meanwhile.
	again := openLog(t, dirs.PathFor("t", 0), cfg, OpenOptions{})
	var b appended
	appendN(t, again, &b, 3, 2000)
	if parts, err := dirs.Partitions(); err != nil || len(parts) != 1 || parts[0].Path != live {
		t.Fatalf("partitions with a -delete dir beside the new one: %v, %v; want only %s", parts, err, live)
	}
	if n, err := dirs.RemoveDueDeletes(now.Add(time.Minute - time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("RemoveDueDeletes before the delay = %d, %v; want 0", n, err)
	}
	if _, err := os.Stat(doomed); err != nil {
		t.Fatalf("%s removed before its delay: %v", doomed, err)
	}
	if n, err := dirs.RemoveDueDeletes(now.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("RemoveDueDeletes at the delay = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(doomed); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after its removal: %v", doomed, err)
	}
	if _, ok := dirs.NextDelete(); ok {
		t.Fatal("the queue is not empty after the removal")
	}
	if got := readLogBytes(t, again); !bytes.Equal(got, bytes.Join(b.batches, nil)) {
		t.Fatal("the re-created partition's log changed when the old one was removed")
	}
	again.Close()
	if _, err := dirs.MarkForDelete(filepath.Join(d1, "not-a-partition"), now); err == nil {
		t.Fatal("MarkForDelete renamed a directory that is no partition's")
	}
}

// TestQueueDeletedAtStart: a -delete dir that an earlier run left (it was
// stopped before the dir's delay passed) survives the next start and is
// removed file.delete.delay.ms after it, as Kafka's LogManager schedules
// the -delete dirs it loads; live partitions in the same log dirs are not
// queued.
func TestQueueDeletedAtStart(t *testing.T) {
	root := t.TempDir()
	first, d1, _ := twoLogDirs(t, root, nil)
	cfg := DefaultConfig()
	for _, name := range []string{"gone-0", "kept-0"} {
		l := openLog(t, filepath.Join(d1, name), cfg, OpenOptions{})
		var a appended
		appendN(t, l, &a, 3, 1000)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	doomed, err := first.MarkForDelete(filepath.Join(d1, "gone-0"), time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	dirs, _, _ := twoLogDirs(t, root, nil)
	dirs.SetFileDeleteDelay(time.Minute)
	start := time.Unix(5000, 0)
	if n, err := dirs.QueueDeleted(start); err != nil || n != 1 {
		t.Fatalf("QueueDeleted = %d, %v; want 1", n, err)
	}
	if due, ok := dirs.NextDelete(); !ok || !due.Equal(start.Add(time.Minute)) {
		t.Fatalf("NextDelete = %v, %v; want %v", due, ok, start.Add(time.Minute))
	}
	if n, err := dirs.RemoveDueDeletes(start.Add(time.Minute - time.Millisecond)); err != nil || n != 0 {
		t.Fatalf("RemoveDueDeletes before the delay = %d, %v; want 0", n, err)
	}
	if _, err := os.Stat(doomed); err != nil {
		t.Fatalf("%s removed before its delay: %v", doomed, err)
	}
	if n, err := dirs.RemoveDueDeletes(start.Add(time.Minute)); err != nil || n != 1 {
		t.Fatalf("RemoveDueDeletes at the delay = %d, %v; want 1", n, err)
	}
	if _, err := os.Stat(doomed); !os.IsNotExist(err) {
		t.Fatalf("%s still exists after its delay: %v", doomed, err)
	}
	if _, err := os.Stat(filepath.Join(d1, "kept-0")); err != nil {
		t.Fatalf("the live partition was touched: %v", err)
	}
	if n, err := dirs.QueueDeleted(start); err != nil || n != 0 {
		t.Fatalf("QueueDeleted with no -delete dir = %d, %v; want 0", n, err)
	}
}

// TestLogDeleteKilled takes the image a SIGKILL, and one a power loss,
// would leave after every file operation of deleting a log (the rename,
// the log dir's sync, the removal), restarts on each (OpenDirs, then
// RemoveDeleted as the broker's start does) and checks that the partition
// is either whole, every batch readable, or gone, and that no -delete dir
// is left: never a half-deleted live directory.
func TestLogDeleteKilled(t *testing.T) {
	for _, kind := range []string{"SIGKILL", "power loss"} {
		t.Run(kind, func(t *testing.T) {
			root := t.TempDir()
			c, err := vfs.NewCrashable(root)
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			cfg.SegmentBytes = 600 // several segments
			cfg.SegmentIndexBytes = 4096
			dirs, d1, _ := twoLogDirs(t, root, c)
			dirs.SetFileDeleteDelay(0)
			l := openLog(t, filepath.Join(d1, "t-0"), cfg, OpenOptions{FS: c})
			var a appended
			appendN(t, l, &a, 20, 1000)
			want := bytes.Join(a.batches, nil)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var images []string
			c.OnOp(func(int) {
				mu.Lock()
				defer mu.Unlock()
				img := filepath.Join(t.TempDir(), "img")
				var err error
				if kind == "SIGKILL" {
					err = c.KillImage(img)
				} else {
					err = c.CrashImage(img, vfs.DropUnsynced)
				}
				if err != nil {
					t.Error(err)
				}
				images = append(images, img)
			})
			now := time.Now()
			if _, err := dirs.MarkForDelete(l.Dir(), now); err != nil {
				t.Fatal(err)
			}
			if n, err := dirs.RemoveDueDeletes(now); err != nil || n != 1 {
				t.Fatalf("RemoveDueDeletes = %d, %v", n, err)
			}
			c.OnOp(func(int) {})
			mu.Lock()
			defer mu.Unlock()
			if len(images) < 2 {
				t.Fatalf("only %d crash points", len(images))
			}
			sawWhole, sawGone := false, false
			for i, img := range images {
				t.Run(fmt.Sprintf("op%d", i+1), func(t *testing.T) {
					rd, i1, i2 := twoLogDirs(t, img, nil) // the broker restarting on the image
					if _, err := rd.RemoveDeleted(); err != nil {
						t.Fatal(err)
					}
					for _, d := range []string{i1, i2} {
						ents, err := os.ReadDir(d)
						if err != nil {
							t.Fatal(err)
						}
						for _, e := range ents {
							if e.IsDir() && e.Name() != "t-0" {
								t.Errorf("%s left in %s after the restart", e.Name(), d)
							}
						}
					}
					parts, err := rd.Partitions()
					if err != nil {
						t.Fatal(err)
					}
					switch len(parts) {
					case 0:
						sawGone = true
					case 1:
						sawWhole = true
						rl := openLog(t, parts[0].Path, cfg, OpenOptions{})
						defer rl.Close()
						if got := readLogBytes(t, rl); !bytes.Equal(got, want) {
							t.Fatalf("%s holds %d bytes after the crash, %d were appended (or they differ)", parts[0].Path, len(got), len(want))
						}
					default:
						t.Fatalf("partition dirs after the crash: %v", parts)
					}
				})
			}
			if !sawGone {
				t.Error("no crash point after the rename: the test saw no deletion")
			}
			if kind == "power loss" && !sawWhole {
				t.Error("no crash point kept the log: the rename was durable before the first operation")
			}
		})
	}
}
