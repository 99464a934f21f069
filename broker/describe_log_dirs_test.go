package broker

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// dirBytes sums the .log files of a partition directory.
func dirBytes(t *testing.T, dir string) int64 {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
	}
	return n
}

// TestDescribeLogDirs describes a broker with two log dirs, as
// kafka-log-dirs.sh --describe does: every dir by absolute path, with the
// partitions it holds, their sizes as on disk, no lag, and the volume's
// sizes; a topic filter narrows the partitions but keeps every dir.
func TestDescribeLogDirs(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	s, addr := startTestServer(t, "log.dirs="+d1+","+d2)
	adm, _ := newAdmin(t, addr)
	ctx := adminCtx(t)
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, "ld"); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "other"); err != nil {
		t.Fatal(err)
	}
	produceN(t, []string{addr}, "ld", 5)
	waitFor(t, 10*time.Second, "five partitions hosted", func() bool { return len(s.replicas.all()) == 5 })

	all, err := adm.DescribeBrokerLogDirs(ctx, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("dirs: %+v", all)
	}
	seen := 0
	for _, dir := range []string{d1, d2} {
		abs, _ := filepath.Abs(dir)
		ld, ok := all[abs]
		if !ok || ld.Err != nil {
			t.Fatalf("dir %s: %+v", abs, all)
		}
		if ld.TotalBytes <= 0 || ld.UsableBytes <= 0 || ld.UsableBytes > ld.TotalBytes {
			t.Errorf("dir %s volume: total %d usable %d", abs, ld.TotalBytes, ld.UsableBytes)
		}
		for topic, ps := range ld.Topics {
			for p, dp := range ps {
				seen++
				if want := dirBytes(t, filepath.Join(abs, topic+"-"+itoa32(p))); dp.Size != want || dp.OffsetLag != 0 || dp.IsFuture {
					t.Errorf("%s-%d in %s: size %d lag %d future %v, want size %d", topic, p, abs, dp.Size, dp.OffsetLag, dp.IsFuture, want)
				}
			}
		}
	}
	if seen != 5 {
		t.Errorf("described %d partitions, want 5", seen)
	}
	some, err := adm.DescribeBrokerLogDirs(ctx, 0, kadm.TopicsSet{"other": {0: {}}})
	if err != nil || len(some) != 2 {
		t.Fatalf("filtered: %v %+v", err, some)
	}
	n := 0
	some.Each(func(ld kadm.DescribedLogDir) {
		ld.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			n++
			if p.Topic != "other" || p.Partition != 0 {
				t.Errorf("filtered answer holds %s-%d", p.Topic, p.Partition)
			}
		})
	})
	if n != 1 {
		t.Errorf("filtered answer holds %d partitions, want 1", n)
	}
}

func itoa32(n int32) string { return strconv.Itoa(int(n)) }
