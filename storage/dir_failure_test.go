package storage

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/gokafka/gokafka/storage/vfs"
)

// TestDirsFail checks the log-dir failure channel: a dir goes offline
// once, is delivered once, gets no checkpoints, no clean-shutdown marker
// and no new partitions, and a checkpoint write that fails takes its dir
// offline while the other dir is still written.
func TestDirsFail(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	fsys := vfs.NewFaulty(nil)
	d, err := OpenDirs([]string{a, b}, 1, "c", nil, fsys)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	pa := PartitionDir{Topic: "t", Partition: 0, Path: filepath.Join(a, "t-0")}
	pb := PartitionDir{Topic: "t", Partition: 1, Path: filepath.Join(b, "t-1")}
	cp := func(off int64) Checkpoints {
		m := map[PartitionDir]int64{pa: off, pb: off}
		return Checkpoints{RecoveryPoints: m, HighWatermarks: m, LogStartOffsets: m}
	}
	if err := d.WriteCheckpoints(cp(5)); err != nil {
		t.Fatal(err)
	}

	// A checkpoint write in a fails: a goes offline, b is written.
	fsys.Inject(vfs.OpSync, a, syscall.EIO)
	if err := d.WriteCheckpoints(cp(7)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("WriteCheckpoints with a failing dir: %v, want EIO", err)
	}
	select {
	case got := <-d.Failed():
		if got != a {
			t.Fatalf("Failed delivered %s, want %s", got, a)
		}
	default:
		t.Fatal("the failed dir was not delivered")
	}
	if !d.IsOffline(pa.Path) || d.IsOffline(pb.Path) {
		t.Fatalf("IsOffline: a's partition %v, b's %v; want true, false", d.IsOffline(pa.Path), d.IsOffline(pb.Path))
	}
	if d.Fail(filepath.Join(a, "t-3"), errors.New("again")) {
		t.Fatal("a second failure of the same dir reported as the first")
	}
	select {
	case got := <-d.Failed():
		t.Fatalf("dir %s delivered twice", got)
	default:
	}
	if got := d.OnlinePaths(); !slices.Equal(got, []string{b}) {
		t.Fatalf("OnlinePaths = %v, want [%s]", got, b)
	}

	fsys.Clear()
	if err := d.WriteCheckpoints(cp(9)); err != nil {
		t.Fatalf("WriteCheckpoints with a offline: %v", err)
	}
	back, err := d.ReadCheckpoints()
	if err != nil {
		t.Fatal(err)
	}
	if got := back.RecoveryPoints[pa]; got != 5 {
		t.Fatalf("offline dir's recovery point %d, want 5: it must not move once the dir failed", got)
	}
	if got := back.RecoveryPoints[pb]; got != 9 {
		t.Fatalf("online dir's recovery point %d, want 9", got)
	}
	for i := range 3 {
		if p := d.PathFor("new", int32(i)); filepath.Dir(p) != b {
			t.Fatalf("new partition placed in %s, an offline dir", filepath.Dir(p))
		}
	}
	if err := d.MarkCleanShutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a, cleanShutdownMarker)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("offline dir got a clean-shutdown marker (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(b, cleanShutdownMarker)); err != nil {
		t.Fatalf("online dir has no clean-shutdown marker: %v", err)
	}
}
