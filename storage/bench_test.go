package storage

import (
	"math"
	"math/rand/v2"
	"testing"
)

func BenchmarkAppend(b *testing.B) {
	l := openLog(b, b.TempDir(), DefaultConfig(), OpenOptions{})
	b.Cleanup(func() { l.Close() })
	tmpl := testBatch{records: 1, ts: 1, valueSize: 1024 - batchHeaderSize - 12, pid: -1}.encode()
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
