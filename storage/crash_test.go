package storage

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gokafka/gokafka/storage/vfs"
)

// Power-loss tests: the log runs on a crashable file layer, a crash image
// (what the disk holds after a power loss at that moment: synced data,
// plus some, none or a torn piece of the rest) is taken at every crash
// point, and the log reopened from it must keep what flushing promised.

// crashKeeps are the ways a crash treats unsynced changes.
var crashKeeps = []struct {
	name string
	keep vfs.Keep
}{
	{"unsynced lost", vfs.DropUnsynced},
	{"unsynced kept", vfs.KeepUnsynced},
	{"half kept, next torn", func(_ string, sizes []int) vfs.Kept {
		w := len(sizes) / 2
		if w < len(sizes) {
			return vfs.Kept{Whole: w, Torn: max(sizes[w]/2, 1)}
		}
		return vfs.Kept{Whole: w}
	}},
	{"last write torn to zeros", func(_ string, sizes []int) vfs.Kept {
		if len(sizes) == 0 {
			return vfs.Kept{}
		}
		return vfs.Kept{Whole: len(sizes) - 1, Torn: sizes[len(sizes)-1], ZeroTorn: true}
	}},
}

// crashPoint is one crash image and what the log had promised then.
type crashPoint struct {
	name string
	img  string // the image's copy of the partition directory
	// recoveryPoint is the log's recovery point when the image was taken:
	// the most the recovery-point checkpoint could hold.
	recoveryPoint int64
	// acked is how many batches of the test's list had been appended.
	acked int
}

// checkRecovered opens the log of a crash image with the recovery point a
// checkpoint could have held and checks what flushing promised: every batch
// below the recovery point is there byte for byte, the log ends at a whole
// batch of those appended (nothing torn, nothing invented), and it takes
// the next append.
func checkRecovered(t *testing.T, cfg Config, cp crashPoint, a *appended) {
	t.Helper()
	l, err := Open(cp.img, cfg, OpenOptions{RecoveryPoint: cp.recoveryPoint, FS: noSyncFS{vfs.Default}})
	if err != nil {
		t.Fatalf("%s: reopen after the crash: %v", cp.name, err)
	}
	defer l.Close()
	end := l.EndOffset()
	if end < cp.recoveryPoint {
		t.Fatalf("%s: the log ends at %d after the crash, below the recovery point %d", cp.name, end, cp.recoveryPoint)
	}
	whole := 0 // batches recovered
	for whole < cp.acked && a.hdrs[whole].LastOffset() < end {
		whole++
	}
	if whole > 0 && a.hdrs[whole-1].LastOffset()+1 != end || whole == 0 && end != 0 {
		t.Fatalf("%s: the log ends at %d, not at the end of a batch appended", cp.name, end)
	}
	for i := range whole {
		h := a.hdrs[i]
		data, err := l.Read(h.BaseOffset, 1, math.MaxInt64)
		if err != nil {
			t.Fatalf("%s: read %d: %v", cp.name, h.BaseOffset, err)
		}
		if !bytes.Equal(data, a.batches[i]) {
			t.Fatalf("%s: batch at %d differs after the crash (recovery point %d, end %d, read %d bytes, want %d)", cp.name, h.BaseOffset, cp.recoveryPoint, end, len(data), len(a.batches[i]))
		}
	}
	tb := testBatch{base: end, records: 1, ts: 99_000, valueSize: 4, pid: -1}
	if err := l.Append(tb.encode(), tb.info()); err != nil {
		t.Fatalf("%s: append after the crash: %v", cp.name, err)
	}
}

// TestCrashKeepsFlushedMessages appends one-record batches with
// flush.messages=N and crashes after every append: whatever was
// acknowledged up to the last flush survives, and the log reopens at a
// whole batch.
func TestCrashKeepsFlushedMessages(t *testing.T) {
	for _, n := range []int64{1, 3, 7} {
		t.Run(fmt.Sprintf("flush.messages=%d", n), func(t *testing.T) {
			root, c := newCrashable(t)
			cfg := DefaultConfig()
			cfg.FlushMessages = n
			cfg.IndexIntervalBytes = 1
			cfg.SegmentIndexBytes = 4096 // small preallocated indexes keep the images cheap
			dir := filepath.Join(root, "t-0")
			l := openLog(t, dir, cfg, OpenOptions{FS: c})
			defer l.Close()
			var a appended
			var points []crashPoint
			for i := range 15 {
				appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 1, ts: int64(1000 + i), valueSize: 20 + i, pid: -1})
				if want := int64(i+1) / n * n; l.RecoveryPoint() != want {
					t.Fatalf("recovery point %d after %d appends, want %d", l.RecoveryPoint(), i+1, want)
				}
				for _, k := range crashKeeps {
					img := filepath.Join(t.TempDir(), "img")
					if err := c.CrashImage(img, k.keep); err != nil {
						t.Fatal(err)
					}
					points = append(points, crashPoint{
						name: fmt.Sprintf("after append %d, %s", i+1, k.name),
						img:  filepath.Join(img, "t-0"), recoveryPoint: l.RecoveryPoint(), acked: len(a.hdrs),
					})
				}
			}
			for _, cp := range points {
				checkRecovered(t, cfg, cp, &a)
			}
		})
	}
}

// TestCrashDuringRoll crashes after every single file operation of a run
// of appends that rolls segments, the rolled ones synced by the background
// flusher (flush.messages unset): at each point the recovery point must
// not pass what the disk holds, so the log reopened from that recovery
// point (which loads the segments below it from their indexes without a
// scan) has every batch below it.
func TestCrashDuringRoll(t *testing.T) {
	for _, k := range crashKeeps {
		t.Run(k.name, func(t *testing.T) {
			root, c := newCrashable(t)
			cfg := DefaultConfig()
			cfg.SegmentBytes = 400
			cfg.IndexIntervalBytes = 100
			cfg.SegmentIndexBytes = 4096
			dir := filepath.Join(root, "t-0")
			l := openLog(t, dir, cfg, OpenOptions{FS: c})
			var a appended
			var (
				mu     sync.Mutex
				points []crashPoint
				acked  int // batches appended; written by the test goroutine under mu
			)
			// The hook runs in whichever goroutine made the operation, the
			// flusher's included; none of them holds Log.mu then.
			c.OnOp(func(op int) {
				rp := l.RecoveryPoint()
				img := filepath.Join(t.TempDir(), "img")
				if err := c.CrashImage(img, k.keep); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				points = append(points, crashPoint{
					name: fmt.Sprintf("after operation %d", op),
					img:  filepath.Join(img, "t-0"), recoveryPoint: rp, acked: acked,
				})
				mu.Unlock()
			})
			for i := range 12 {
				appendBatch(t, l, &a, testBatch{base: l.EndOffset(), records: 1 + i%3, ts: int64(1000 + 10*i), valueSize: 30 + i, pid: -1})
				mu.Lock()
				acked = len(a.hdrs)
				mu.Unlock()
			}
			l.waitBackgroundFlush(t)
			c.OnOp(nil)
			if l.segmentCount() < 4 {
				t.Fatalf("only %d segments: the test wants several rolls", l.segmentCount())
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%d crash points", len(points))
			moved := 0
			for _, cp := range points {
				if cp.recoveryPoint > 0 {
					moved++
				}
				// A batch appended after the image may be in it (the
				// count is read after the write): the check allows all.
				cp.acked = len(a.hdrs)
				checkRecovered(t, cfg, cp, &a)
			}
			if moved == 0 {
				t.Fatal("the recovery point never moved: no crash point tested a synced roll")
			}
		})
	}
}

// TestCrashDuringCheckpointWrites crashes after every file operation of
// the files written through temp file, fsync, rename and directory fsync
// (the offset checkpoints, leader-epoch-checkpoint, partition.metadata,
// the recorded ZooKeeper session), each overwriting an older version: after
// any crash each file parses and is either the old version or the new one,
// never torn and never missing.
func TestCrashDuringCheckpointWrites(t *testing.T) {
	pd := func(root string) PartitionDir {
		return PartitionDir{Topic: "t", Partition: 0, Path: filepath.Join(root, "t-0")}
	}
	cps := func(root string, off int64) Checkpoints {
		m := map[PartitionDir]int64{pd(root): off}
		return Checkpoints{RecoveryPoints: m, HighWatermarks: m, LogStartOffsets: m}
	}
	tests := []struct {
		name  string
		write func(d *Dirs, fsys vfs.FS, root string, version int) error
		// read returns the version the image holds, or an error for a
		// file that is torn, missing or neither version.
		read func(img string) (int, error)
	}{
		{
			name: "offset checkpoints",
			write: func(d *Dirs, _ vfs.FS, root string, v int) error {
				return d.WriteCheckpoints(cps(root, int64(100*v)))
			},
			read: func(img string) (int, error) {
				v := -1
				for _, f := range []string{recoveryPointFile, highWatermarkFile, logStartOffsetFile} {
					es, err := readOffsetCheckpoint(vfs.Default, filepath.Join(img, f))
					if err != nil {
						return 0, err
					}
					if len(es) != 1 || es[0].offset%100 != 0 {
						return 0, fmt.Errorf("%s holds %v", f, es)
					}
					if fv := int(es[0].offset / 100); v < 0 || fv == v {
						v = fv
					} else if f == recoveryPointFile {
						return 0, fmt.Errorf("files disagree")
					} else {
						v = max(v, fv) // files are written one after the other
					}
				}
				return v, nil
			},
		},
		{
			name: "leader-epoch-checkpoint",
			write: func(_ *Dirs, fsys vfs.FS, root string, v int) error {
				return AssignLeaderEpoch(fsys, pd(root).Path, int32(v), int64(10*v))
			},
			read: func(img string) (int, error) {
				es, err := ReadLeaderEpochs(vfs.Default, filepath.Join(img, "t-0"))
				if err != nil || len(es) == 0 {
					return 0, fmt.Errorf("%v entries: %v", es, err)
				}
				return int(es[len(es)-1].Epoch), nil
			},
		},
		{
			name: "partition.metadata",
			write: func(_ *Dirs, fsys vfs.FS, root string, v int) error {
				return WritePartitionMetadata(fsys, pd(root).Path, [16]byte{byte(v)})
			},
			read: func(img string) (int, error) {
				id, ok, err := ReadPartitionMetadata(vfs.Default, filepath.Join(img, "t-0"))
				if err != nil || !ok {
					return 0, fmt.Errorf("missing or bad (%v)", err)
				}
				return int(id[0]), nil
			},
		},
		{
			name: "recorded ZooKeeper session",
			write: func(d *Dirs, _ vfs.FS, _ string, v int) error {
				return d.RecordZKSession(int64(v))
			},
			read: func(img string) (int, error) {
				b, err := os.ReadFile(filepath.Join(img, zkSessionFile))
				if err != nil {
					return 0, err
				}
				var v int
				if _, err := fmt.Sscanf(string(b), "%x\n", &v); err != nil || string(b) != fmt.Sprintf("%x\n", v) {
					return 0, fmt.Errorf("torn: %q", b)
				}
				return v, nil
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range crashKeeps {
				t.Run(k.name, func(t *testing.T) {
					root, c := newCrashable(t)
					d, err := OpenDirs([]string{root}, 1, "c", nil, c)
					if err != nil {
						t.Fatal(err)
					}
					defer d.Close()
					if err := c.MkdirAll(pd(root).Path, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := tc.write(d, c, root, 1); err != nil {
						t.Fatal(err)
					}
					imgs := imageEveryOp(t, c, k.keep)
					if err := tc.write(d, c, root, 2); err != nil {
						t.Fatal(err)
					}
					c.OnOp(nil)
					if len(*imgs) < 4 {
						t.Fatalf("only %d crash points: the write protocol has at least four steps", len(*imgs))
					}
					sawNew := false
					for i, img := range *imgs {
						v, err := tc.read(img)
						if err != nil || v != 1 && v != 2 {
							t.Fatalf("crash after operation %d: version %d (%v), want the old or the new one", i+1, v, err)
						}
						sawNew = sawNew || v == 2
					}
					if !sawNew {
						t.Fatal("no crash point after the write completed holds the new version")
					}
				})
			}
		})
	}
}

// newCrashable returns a fresh temp dir and a crashable layer over it.
func newCrashable(t *testing.T) (string, *vfs.Crashable) {
	t.Helper()
	root := t.TempDir()
	c, err := vfs.NewCrashable(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, c
}

// imageEveryOp takes a crash image after every later operation of c, for
// synchronous code (the hook appends without a lock); the images' paths
// collect in the slice returned.
func imageEveryOp(t *testing.T, c *vfs.Crashable, keep vfs.Keep) *[]string {
	var imgs []string
	c.OnOp(func(int) {
		img := filepath.Join(t.TempDir(), "img")
		if err := c.CrashImage(img, keep); err != nil {
			t.Error(err)
		}
		imgs = append(imgs, img)
	})
	return &imgs
}

// TestCrashTearsUnsyncedRename is the control for the test above: the same
// rename protocol without the fsync (writeFileNoSync, used for producer
// snapshots, which tolerate it) does lose or tear the file at some crash
// point, so the layer does catch a protocol that skips a step.
func TestCrashTearsUnsyncedRename(t *testing.T) {
	root, c := newCrashable(t)
	p := filepath.Join(root, "f")
	if err := writeFileAtomic(c, p, []byte("old version")); err != nil {
		t.Fatal(err)
	}
	imgs := imageEveryOp(t, c, vfs.DropUnsynced)
	if err := writeFileNoSync(c, p, []byte("new version")); err != nil {
		t.Fatal(err)
	}
	if err := syncDir(c, root); err != nil { // the rename made durable, the data not
		t.Fatal(err)
	}
	bad := 0
	for _, img := range *imgs {
		b, _ := os.ReadFile(filepath.Join(img, "f"))
		if s := string(b); s != "old version" && s != "new version" {
			bad++
		}
	}
	if bad == 0 {
		t.Fatal("no crash point lost or tore a file renamed into place unsynced")
	}
}

// noSyncFS skips fsync and msync: checking hundreds of crash images needs
// no durability, and a real fsync per reopened image on a shared disk
// would make these tests slow.
type noSyncFS struct{ vfs.FS }

func (f noSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return noSyncFile{file}, nil
}

func (noSyncFS) SyncMapping(string, []byte) error { return nil }

type noSyncFile struct{ vfs.File }

func (noSyncFile) Sync() error { return nil }
