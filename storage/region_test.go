package storage

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// TestReadRegionMatchesRead checks that the region ReadRegion returns holds
// exactly the bytes Read copies, for offsets at, inside and past batches and
// for several byte limits.
func TestReadRegionMatchesRead(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 100
	l := openLog(t, t.TempDir(), cfg, OpenOptions{})
	defer l.Close()
	var a appended
	appendN(t, l, &a, 60, 1)

	for _, off := range []int64{0, 1, 7, l.EndOffset() / 2, l.EndOffset() - 1, l.EndOffset()} {
		for _, maxBytes := range []int{1, 300, 1 << 20} {
			want, err := l.Read(off, maxBytes, math.MaxInt64)
			if err != nil {
				t.Fatalf("Read(%d, %d): %v", off, maxBytes, err)
			}
			r, err := l.ReadRegion(off, maxBytes, math.MaxInt64)
			if err != nil {
				t.Fatalf("ReadRegion(%d, %d): %v", off, maxBytes, err)
			}
			got := make([]byte, r.Len)
			if r.Len > 0 {
				if _, err := r.File.ReadAt(got, r.Pos); err != nil {
					t.Fatalf("read region: %v", err)
				}
				if n := l.OpenRegions(); n != 1 {
					t.Fatalf("%d open regions while one is held", n)
				}
			}
			r.Release()
			r.Release() // a second release changes nothing
			if n := l.OpenRegions(); n != 0 {
				t.Fatalf("%d open regions after release", n)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("offset %d max %d: region has %d bytes, Read %d, or they differ", off, maxBytes, len(got), len(want))
			}
			var next int64
			for b := want; len(b) > 0; {
				h, err := parseBatchHeader(b)
				if err != nil {
					t.Fatal(err)
				}
				next = h.LastOffset() + 1
				b = b[h.size():]
			}
			if r.Next != next {
				t.Fatalf("offset %d max %d: Next %d, want %d (after the last batch)", off, maxBytes, r.Next, next)
			}
		}
	}
	if _, err := l.ReadRegion(l.EndOffset()+1, 100, math.MaxInt64); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("ReadRegion past the end: %v, want ErrOffsetOutOfRange", err)
	}
}

// TestRegionOutlivesSegment checks that a region stays readable after
// retention deleted its segment and after the log was closed, and that the
// file is closed once the region is released.
func TestRegionOutlivesSegment(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 500
	cfg.RetentionBytes = 0
	cfg.RetentionMs = -1
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	var a appended
	appendN(t, l, &a, 20, 1)

	want, err := l.Read(0, 400, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.ReadRegion(0, 400, math.MaxInt64)
	if err != nil || r.Len == 0 {
		t.Fatalf("ReadRegion: %d bytes, %v", r.Len, err)
	}
	first := r.File.Name()
	if n, err := l.DeleteRetained(); err != nil || n == 0 {
		t.Fatalf("DeleteRetained: %d segments, %v", n, err)
	}
	if _, err := os.Stat(first); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("segment %s still on disk after retention: %v", filepath.Base(first), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, r.Len)
	if _, err := r.File.ReadAt(got, r.Pos); err != nil {
		t.Fatalf("reading a region of a deleted segment: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("region of a deleted segment lost its bytes")
	}
	f := r.File
	r.Release()
	r.Release() // a second release does nothing
	if _, err := f.ReadAt(got[:1], 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("after the last release the file should be closed, read gave %v", err)
	}
}

// TestRegionsDuringAppendRollAndRetention reads regions while one writer
// appends, rolls constantly and deletes old segments, and reads each
// region's bytes only after more appends and retention passes may have
// removed its segment: every region must still hold whole CRC-valid batches
// starting at the requested offset. Run with -race.
func TestRegionsDuringAppendRollAndRetention(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 300
	cfg.IndexIntervalBytes = 1
	cfg.RetentionBytes = 1500
	cfg.RetentionMs = -1
	l := openLog(t, t.TempDir(), cfg, OpenOptions{})
	defer l.Close()

	stop := make(chan struct{})
	errc := make(chan error, 2)
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var held []Region
			var offs []int64
			defer func() {
				for i := range held {
					held[i].Release()
				}
			}()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start, end := l.StartOffset(), l.EndOffset()
				if end == start {
					continue
				}
				off := start + int64(i*(r+7))%(end-start)
				reg, err := l.ReadRegion(off, 400, math.MaxInt64)
				if errors.Is(err, ErrOffsetOutOfRange) || (err == nil && reg.Len == 0) {
					continue
				}
				if err != nil {
					errc <- err
					return
				}
				held, offs = append(held, reg), append(offs, off)
				if len(held) < 8 {
					continue
				}
				// Check the oldest region held, then let it go.
				reg, off = held[0], offs[0]
				held, offs = held[1:], offs[1:]
				data := make([]byte, reg.Len)
				_, err = reg.File.ReadAt(data, reg.Pos)
				reg.Release()
				if err != nil {
					errc <- err
					return
				}
				for pos := 0; pos < len(data); {
					h, err := parseBatchHeader(data[pos:])
					if err != nil || pos+int(h.size()) > len(data) || !recordbatch.CRCValid(data[pos:pos+int(h.size())]) {
						errc <- errors.New("region holds a bad batch")
						return
					}
					if pos == 0 && (h.BaseOffset > off || h.LastOffset() < off) {
						errc <- errors.New("region's first batch does not hold the offset")
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
	close(stop)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if l.StartOffset() == 0 {
		t.Fatal("retention never ran")
	}
}
