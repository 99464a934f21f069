package storage

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), DefaultConfig(), OpenOptions{})
	b.Cleanup(func() { l.Close() })
	tmpl := testBatch{records: 1, ts: 1, valueSize: 1024 - recordbatch.HeaderSize - 12, pid: -1}.encode()
	b.SetBytes(int64(len(tmpl)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Restamp the base offset in place, as the broker does.
		putBase(tmpl, l.EndOffset())
		if err := l.Append(tmpl, AppendInfo{Records: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func putBase(batch []byte, base int64) {
	for i := range 8 {
		batch[i] = byte(base >> (56 - 8*i))
	}
}

// benchLog fills a log with n 1 KiB batches of 4 records each.
func benchLog(b *testing.B, n int) *Log {
	b.Helper()
	l := openLog(b, b.TempDir(), DefaultConfig(), OpenOptions{})
	b.Cleanup(func() { l.Close() }) // the final fsync is not part of the measurement
	tmpl := testBatch{records: 4, ts: 1, valueSize: 240, pid: -1}.encode()
	for range n {
		putBase(tmpl, l.EndOffset())
		if err := l.Append(tmpl, AppendInfo{Records: 4}); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

func BenchmarkIndexLookup(b *testing.B) {
	l := benchLog(b, 50_000)
	s := l.active()
	end := l.EndOffset()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.index.lookup(rng.Int64N(end)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRead(b *testing.B) {
	l := benchLog(b, 50_000)
	end := l.EndOffset()
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(64 << 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Read(rng.Int64N(end), 64<<10, math.MaxInt64); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendAcrossRolls measures what a producer sees when its
// partition rolls: 1 MiB appends into 64 MiB segments, so that one append
// in 64 starts a new segment (more than 1%, which puts the roll inside the
// p99). It reports the p50, the p99 and the largest single Append latency next to
// the mean (ns/op). Retention keeps the last few segments so the disk
// holds at most a few hundred MiB whatever b.N is; that pass runs with the
// timer stopped and outside the latencies.
func BenchmarkAppendAcrossRolls(b *testing.B) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 64 << 20
	cfg.RetentionBytes = 4 * cfg.SegmentBytes
	l := openLog(b, b.TempDir(), cfg, OpenOptions{})
	b.Cleanup(func() { l.Close() })
	tmpl := testBatch{records: 1, ts: 1, valueSize: 1<<20 - recordbatch.HeaderSize - 16, pid: -1}.encode()
	lat := make([]time.Duration, 0, b.N)
	segs := l.segmentCount()
	b.SetBytes(int64(len(tmpl)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		putBase(tmpl, l.EndOffset())
		start := time.Now()
		if err := l.Append(tmpl, AppendInfo{Records: 1}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		if n := l.segmentCount(); n != segs {
			b.StopTimer()
			if _, err := l.DeleteRetained(); err != nil {
				b.Fatal(err)
			}
			segs = l.segmentCount()
			b.StartTimer()
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[(len(lat)-1)/2]), "p50-ms")
	b.ReportMetric(ms(lat[(len(lat)-1)*99/100]), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
}

// BenchmarkPathForManyPartitions places new partitions in a single log dir
// that already holds 5,000: creating topics with many partitions calls
// PathFor once per partition, so its cost must not grow with the dir.
func BenchmarkPathForManyPartitions(b *testing.B) {
	dir := b.TempDir()
	for i := range 5000 {
		if err := os.Mkdir(filepath.Join(dir, fmt.Sprintf("old-%d", i)), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	d, err := OpenDirs([]string{dir}, 1, "c", nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if p := d.PathFor("new", int32(i)); filepath.Dir(p) != dir {
			b.Fatalf("placed in %s", p)
		}
	}
}
