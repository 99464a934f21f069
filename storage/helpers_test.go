package storage

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// testBatch describes a magic-v2 batch for tests; encode builds it with
// uncompressed records and a correct CRC-32C.
type testBatch struct {
	base      int64
	records   int   // at least 1
	ts        int64 // first record's timestamp; record i has ts+i
	valueSize int
	pid       int64 // -1 for a non-idempotent batch
	epoch     int16
	seq       int32
}

func appendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func (tb testBatch) encode() []byte {
	n := max(tb.records, 1)
	var recs []byte
	for i := range n {
		var body []byte
		body = append(body, 0)              // attributes
		body = appendVarint(body, int64(i)) // timestamp delta
		body = appendVarint(body, int64(i)) // offset delta
		body = appendVarint(body, -1)       // null key
		body = appendVarint(body, int64(tb.valueSize))
		for j := range tb.valueSize {
			body = append(body, byte(int(tb.base)+i+j))
		}
		body = appendVarint(body, 0) // no headers
		recs = appendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	b := make([]byte, recordbatch.HeaderSize, recordbatch.HeaderSize+len(recs))
	be := binary.BigEndian
	pid, epoch, seq := tb.pid, tb.epoch, tb.seq
	if pid < 0 {
		pid, epoch, seq = -1, -1, -1
	}
	be.PutUint64(b[0:], uint64(tb.base))
	be.PutUint32(b[8:], uint32(recordbatch.HeaderSize-recordbatch.LogOverhead+len(recs)))
	be.PutUint32(b[12:], 0)
	b[16] = 2
	be.PutUint16(b[21:], 0)
	be.PutUint32(b[23:], uint32(n-1))
	be.PutUint64(b[27:], uint64(tb.ts))
	be.PutUint64(b[35:], uint64(tb.ts+int64(n-1)))
	be.PutUint64(b[43:], uint64(pid))
	be.PutUint16(b[51:], uint16(epoch))
	be.PutUint32(b[53:], uint32(seq))
	be.PutUint32(b[57:], uint32(n))
	b = append(b, recs...)
	be.PutUint32(b[17:], crc32.Checksum(b[recordbatch.CRCStart:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func (tb testBatch) info() AppendInfo {
	n := int64(max(tb.records, 1))
	return AppendInfo{
		BaseOffset: tb.base, LastOffset: tb.base + n - 1,
		MaxTimestamp: tb.ts + n - 1, OffsetOfMaxTimestamp: tb.base + n - 1, Records: n,
	}
}

// fakeClock is a settable clock for roll and retention tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testConfigs are the segment configurations every Log test runs on, so
// that rolling, indexing and flushing edge cases are everyday cases.
func testConfigs() []struct {
	name string
	cfg  Config
} {
	var out []struct {
		name string
		cfg  Config
	}
	for _, seg := range []int64{1 << 30, 200} {
		for _, interval := range []int32{4096, 1} {
			for _, flush := range []int64{math.MaxInt64, 1} {
				cfg := DefaultConfig()
				cfg.SegmentBytes, cfg.IndexIntervalBytes, cfg.FlushMessages = seg, interval, flush
				name := fmt.Sprintf("seg=%d/interval=%d/flush=%d", seg, interval, flush)
				out = append(out, struct {
					name string
					cfg  Config
				}{name, cfg})
			}
		}
	}
	small := DefaultConfig()
	small.IndexIntervalBytes, small.SegmentIndexBytes = 1, 24 // 3 offset entries, 2 time entries
	out = append(out, struct {
		name string
		cfg  Config
	}{"tiny-index", small})
	return out
}

// forEachConfig runs fn as a subtest per configuration.
func forEachConfig(t *testing.T, fn func(t *testing.T, cfg Config)) {
	for _, c := range testConfigs() {
		t.Run(c.name, func(t *testing.T) { fn(t, c.cfg) })
	}
}

// appended is what a test appended: the encoded batches in order.
type appended struct {
	batches [][]byte
	hdrs    []batchHeader
}

// batchFor returns the index of the batch that holds offset.
func (a *appended) batchFor(offset int64) int {
	for i, h := range a.hdrs {
		if h.BaseOffset <= offset && offset <= h.LastOffset() {
			return i
		}
	}
	return -1
}

// appendN appends n batches of varying shape starting at the log end, with
// timestamps from ts0 growing by 10 per batch.
func appendN(t testing.TB, l *Log, a *appended, n int, ts0 int64) {
	t.Helper()
	for i := range n {
		k := i
		if a != nil {
			k = len(a.batches)
		}
		tb := testBatch{base: l.EndOffset(), records: 1 + i%4, ts: ts0 + int64(10*k), valueSize: 5 + (i*7)%40, pid: -1}
		appendBatch(t, l, a, tb)
	}
}

func appendBatch(t testing.TB, l *Log, a *appended, tb testBatch) {
	t.Helper()
	b := tb.encode()
	if err := l.Append(b, tb.info()); err != nil {
		t.Fatalf("append at %d: %v", tb.base, err)
	}
	h, err := parseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if a != nil {
		a.batches = append(a.batches, b)
		a.hdrs = append(a.hdrs, h)
	}
}

// splitRead decodes a Read result into its batches, checking that each is a
// whole, CRC-valid magic-v2 batch.
func splitRead(t testing.TB, data []byte) []batchHeader {
	t.Helper()
	var hs []batchHeader
	for pos := 0; pos < len(data); {
		h, err := parseBatchHeader(data[pos:])
		if err != nil {
			t.Fatalf("read result at %d: %v", pos, err)
		}
		end := pos + int(h.size())
		if end > len(data) {
			t.Fatalf("read result has a partial batch at %d", pos)
		}
		if !recordbatch.CRCValid(data[pos:end]) {
			t.Fatalf("read result: batch at offset %d fails its CRC", h.BaseOffset)
		}
		hs = append(hs, h)
		pos = end
	}
	return hs
}

func openLog(t testing.TB, dir string, cfg Config, opts OpenOptions) *Log {
	t.Helper()
	l, err := Open(dir, cfg, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return l
}

// segmentCount is how many segments the log has.
func (l *Log) segmentCount() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.segs)
}

// waitBackgroundFlush waits for the background fsync of the segments
// rolled so far (flush.go), for tests that count descriptors or look at
// files the flusher holds open for a moment.
func (l *Log) waitBackgroundFlush(t testing.TB) {
	t.Helper()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.waitFlushes(); err != nil {
		t.Fatalf("background flush: %v", err)
	}
}
