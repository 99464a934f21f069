package storage

import (
	"context"
	"math/rand"
	"path/filepath"
	"testing"
	"time"

	"github.com/gokafka/gokafka/storage/vfs"
	"github.com/gokafka/gokafka/wire"
)

// TestCleanerCheckpointFollowsMove compacts a log, moves it to another
// log dir (a future log copied and swapped in, as AlterReplicaLogDirs
// does) and cleans it again with nothing new: with the checkpoint carried
// over (MoveCheckpoint) the cleaner has nothing to do and the new dir's
// cleaner-offset-checkpoint holds the offset while the old dir's forgets
// it; without it (the control) the whole log is compacted again from the
// start.
func TestCleanerCheckpointFollowsMove(t *testing.T) {
	for _, carry := range []bool{true, false} {
		name := "checkpoint carried"
		if !carry {
			name = "control: not carried"
		}
		t.Run(name, func(t *testing.T) {
			dirs, d1, d2 := twoLogDirs(t, t.TempDir(), nil)
			cfg := compactConfig(DefaultConfig())
			cfg.SegmentBytes = 300
			l := openLog(t, filepath.Join(d1, "t-0"), cfg, OpenOptions{})
			defer l.Close()
			compactWorkload(t, l, rand.New(rand.NewSource(7)), 40, 0, 1000)
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			c := NewCleaner(CleanerConfig{Backoff: time.Hour, Codec: wire.Codecs{}}, func() []CleanerLog { return nil })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cl := CleanerLog{Topic: "t", Partition: 0, Log: l}
			first, err := c.CleanLog(ctx, cl, 1<<20, false)
			if err != nil || !first.Cleaned {
				t.Fatalf("first clean: %+v, %v", first, err)
			}

			fp, err := dirs.NewFuturePath("t", 0, d2)
			if err != nil {
				t.Fatal(err)
			}
			future := openLog(t, fp, cfg, OpenOptions{})
			for {
				n, err := future.CopyFrom(l, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if n == 0 {
					break
				}
			}
			doomed, err := l.ReplaceWithFuture(future)
			if err != nil {
				t.Fatal(err)
			}
			if err := dirs.RemoveDir(doomed); err != nil {
				t.Fatal(err)
			}
			if carry {
				if err := c.MoveCheckpoint("t", 0, d1, d2); err != nil {
					t.Fatal(err)
				}
				moved, err := readOffsetCheckpoint(vfs.Default, filepath.Join(d2, cleanerCheckpointFile))
				if err != nil || len(moved) != 1 || moved[0].offset != first.NextDirty {
					t.Fatalf("%s after the move: %+v, %v; want t-0 at %d", d2, moved, err, first.NextDirty)
				}
				left, err := readOffsetCheckpoint(vfs.Default, filepath.Join(d1, cleanerCheckpointFile))
				if err != nil || len(left) != 0 {
					t.Fatalf("%s after the move: %+v, %v; want no entry", d1, left, err)
				}
			}
			again, err := c.CleanLog(ctx, cl, 1<<20, false)
			if err != nil {
				t.Fatal(err)
			}
			if carry && again.Cleaned {
				t.Fatalf("the moved log was compacted again (%d segments read) though nothing new was written", again.Segments)
			}
			if !carry && !again.Cleaned {
				t.Fatal("control: without the checkpoint the moved log was not compacted again; the test proves nothing")
			}
		})
	}
}
