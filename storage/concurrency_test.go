package storage

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// TestReadDuringAppendRollAndRetention runs readers against one writer that
// appends, rolls constantly and deletes old segments. Every read must return
// whole CRC-valid batches starting with the batch holding the offset, or
// ErrOffsetOutOfRange once retention passed it. Run with -race.
func TestReadDuringAppendRollAndRetention(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300
	cfg.IndexIntervalBytes = 1
	cfg.RetentionBytes = 1500
	cfg.RetentionMs = -1
	l := openLog(t, t.TempDir(), cfg, OpenOptions{})
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for ctx.Err() == nil {
				start, end := l.StartOffset(), l.EndOffset()
				if end == start {
					continue
				}
				off := start + rng.Int64N(end-start)
				data, err := l.Read(off, 1000, math.MaxInt64)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				for pos := 0; pos < len(data); {
					h, err := parseBatchHeader(data[pos:])
					if err != nil || pos+int(h.size()) > len(data) || !recordbatch.CRCValid(data[pos:pos+int(h.size())]) {
						errc <- errors.New("read returned a bad batch")
						return
					}
					if pos == 0 && (h.BaseOffset > off || h.LastOffset() < off) {
						errc <- errors.New("first batch does not hold the offset")
						return
					}
					pos += int(h.size())
				}
			}
		}()
	}
	for range 400 {
		tb := testBatch{base: l.EndOffset(), records: 3, ts: 1, valueSize: 20, pid: -1}
		if err := l.Append(tb.encode(), tb.info()); err != nil {
			t.Fatal(err)
		}
		if _, err := l.DeleteRetained(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if l.StartOffset() == 0 {
		t.Fatal("retention never ran")
	}
}
