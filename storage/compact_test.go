package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/gokafka/gokafka/storage/vfs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/wire"
)

// kv is one keyed test record; a nil value is a tombstone, a nil key a
// record without a key.
type kv struct {
	key, value []byte
}

// encodeKeyed builds a magic-v2 batch of recs at base, compressed with
// codec, with record i at timestamp ts+i.
func encodeKeyed(t testing.TB, base, ts int64, codec int8, pid int64, recs []kv) []byte {
	t.Helper()
	var payload []byte
	for i, r := range recs {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, int64(i))
		body = binary.AppendVarint(body, int64(i))
		if r.key == nil {
			body = binary.AppendVarint(body, -1)
		} else {
			body = binary.AppendVarint(body, int64(len(r.key)))
			body = append(body, r.key...)
		}
		if r.value == nil {
			body = binary.AppendVarint(body, -1)
		} else {
			body = binary.AppendVarint(body, int64(len(r.value)))
			body = append(body, r.value...)
		}
		body = binary.AppendVarint(body, 0)
		payload = binary.AppendVarint(payload, int64(len(body)))
		payload = append(payload, body...)
	}
	if codec != 0 {
		var err error
		if payload, err = (wire.Codecs{}).Compress(nil, codec, payload); err != nil {
			t.Fatal(err)
		}
	}
	b := make([]byte, recordbatch.HeaderSize, recordbatch.HeaderSize+len(payload))
	be := binary.BigEndian
	n := len(recs)
	epoch, seq := int16(-1), int32(-1)
	if pid >= 0 {
		epoch, seq = 0, int32(base)
	}
	be.PutUint64(b[0:], uint64(base))
	be.PutUint32(b[8:], uint32(recordbatch.HeaderSize-recordbatch.LogOverhead+len(payload)))
	b[16] = 2
	be.PutUint16(b[21:], uint16(codec))
	be.PutUint32(b[23:], uint32(n-1))
	be.PutUint64(b[27:], uint64(ts))
	be.PutUint64(b[35:], uint64(ts+int64(n-1)))
	be.PutUint64(b[43:], uint64(pid))
	be.PutUint16(b[51:], uint16(epoch))
	be.PutUint32(b[53:], uint32(seq))
	be.PutUint32(b[57:], uint32(n))
	b = append(b, payload...)
	recordbatch.SetCRC(b)
	return b
}

// readRecord is a record read back from the log.
type readRecord struct {
	offset    int64
	key       string
	value     string
	tombstone bool
}

// readAll reads every record of the log from its start, checking each
// batch's CRC and that offsets only grow.
func readAll(t testing.TB, l *Log) []readRecord {
	t.Helper()
	var out []readRecord
	last := int64(-1)
	for off := l.StartOffset(); off < l.EndOffset(); {
		data, err := l.Read(off, 1<<20, l.EndOffset())
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		if len(data) == 0 {
			t.Fatalf("read at %d returned nothing before the end %d", off, l.EndOffset())
		}
		for pos := 0; pos < len(data); {
			h, err := parseBatchHeader(data[pos:])
			if err != nil {
				t.Fatal(err)
			}
			b := data[pos : pos+int(h.size())]
			if !recordbatch.CRCValid(b) {
				t.Fatalf("batch at %d fails its CRC", h.BaseOffset)
			}
			payload, err := batchPayload(b, &h, wire.Codecs{})
			if err != nil {
				t.Fatal(err)
			}
			err = forEachRecord(payload, &h, func(r *cleanerRecord) error {
				o := h.BaseOffset + int64(r.offsetDelta)
				if o <= last {
					t.Fatalf("offset %d after %d", o, last)
				}
				last = o
				rr := readRecord{offset: o, key: string(r.key), tombstone: r.tombstone}
				if !r.tombstone {
					_, n := binary.Varint(r.raw)
					body := r.raw[n+1:]
					_, k := binary.Varint(body)
					body = body[k:]
					_, k = binary.Varint(body)
					body = body[k:]
					kl, k := binary.Varint(body)
					body = body[k+max(int(kl), 0):]
					vl, k := binary.Varint(body)
					rr.value = string(body[k : k+int(vl)])
				}
				out = append(out, rr)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			pos += int(h.size())
			off = h.LastOffset() + 1
		}
	}
	return out
}

// compactWorkload appends batches of keyed updates (20 keys, about one in
// eight a tombstone) and returns the latest record per key.
func compactWorkload(t testing.TB, l *Log, rng *rand.Rand, batches int, codec int8, ts int64) map[string]readRecord {
	t.Helper()
	latest := map[string]readRecord{}
	for b := range batches {
		n := 1 + rng.Intn(4)
		recs := make([]kv, n)
		base := l.EndOffset()
		for i := range recs {
			k := fmt.Sprintf("key-%02d", rng.Intn(20))
			recs[i].key = []byte(k)
			if rng.Intn(8) != 0 {
				recs[i].value = []byte(fmt.Sprintf("v%d-%d", base+int64(i), rng.Intn(1000)))
			}
			latest[k] = readRecord{offset: base + int64(i), key: k, value: string(recs[i].value), tombstone: recs[i].value == nil}
		}
		batch := encodeKeyed(t, base, ts+int64(b), codec, -1, recs)
		h, _ := parseBatchHeader(batch)
		if err := l.Append(batch, AppendInfo{BaseOffset: base, LastOffset: h.LastOffset(), MaxTimestamp: h.MaxTimestamp, OffsetOfMaxTimestamp: h.LastOffset()}); err != nil {
			t.Fatal(err)
		}
		if b%7 == 6 {
			if err := l.Roll(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return latest
}

func compactConfig(cfg Config) Config {
	cfg.Compact = true
	cfg.KeepForever = true
	return cfg
}

// checkCompacted checks that the log holds, for every key, its latest
// record, that no key appears twice below cleanedTo, and that tombstones
// below cleanedTo are there only when wantTombstones.
func checkCompacted(t *testing.T, l *Log, latest map[string]readRecord, cleanedTo int64, wantTombstones bool) {
	t.Helper()
	recs := readAll(t, l)
	seen := map[string]bool{}
	last := map[string]readRecord{}
	for _, r := range recs {
		if r.offset < cleanedTo {
			if seen[r.key] {
				t.Fatalf("key %s twice below the cleaned offset %d", r.key, cleanedTo)
			}
			seen[r.key] = true
			if r.tombstone && !wantTombstones {
				t.Fatalf("tombstone of %s at %d survived past the delete horizon", r.key, r.offset)
			}
		}
		last[r.key] = r
	}
	for k, want := range latest {
		got, ok := last[k]
		if want.tombstone && !wantTombstones && want.offset < cleanedTo {
			if ok {
				t.Fatalf("key %s deleted at %d still has %+v", k, want.offset, got)
			}
			continue
		}
		if !ok || got != want {
			t.Fatalf("key %s: latest is %+v, read %+v (ok %v)", k, want, got, ok)
		}
	}
}

// TestCleanKeepsLatestPerKey cleans logs of every test configuration and
// codec: each key keeps its latest record, tombstones survive the first
// clean and go once delete.retention.ms has passed, offsets stay, and the
// cleaned log reopens (after a clean or an unclean stop) to the same data.
func TestCleanKeepsLatestPerKey(t *testing.T) {
	for _, codec := range []int8{0, 1, 2, 3, 4} {
		t.Run(fmt.Sprintf("codec=%d", codec), func(t *testing.T) {
			forEachConfig(t, func(t *testing.T, cfg Config) {
				cfg = compactConfig(cfg)
				dir := t.TempDir()
				l := openLog(t, dir, cfg, OpenOptions{})
				rng := rand.New(rand.NewSource(int64(codec)))
				latest := compactWorkload(t, l, rng, 60, codec, 1000)
				if err := l.Flush(); err != nil {
					t.Fatal(err)
				}
				res, err := l.Clean(context.Background(), CleanOptions{UpperBound: l.EndOffset(), MapEntries: 1 << 20, Codec: wire.Codecs{}, Force: true})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Cleaned || res.NextDirty != l.active().base {
					t.Fatalf("clean: %+v, active base %d", res, l.active().base)
				}
				checkCompacted(t, l, latest, res.NextDirty, true)

				// Age the cleaned segments but the last one past
				// delete.retention.ms and clean again: the delete horizon
				// is the last clean segment's mtime minus the retention, so
				// the aged segments' tombstones go.
				l.mu.RLock()
				lastClean := l.segs[l.segmentFor(res.NextDirty-1)].base
				l.mu.RUnlock()
				old := time.Now().Add(-48 * time.Hour)
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if b, ok := parseSegmentName(e.Name(), logSuffix); ok && b < lastClean {
						os.Chtimes(filepath.Join(dir, e.Name()), old, old)
					}
				}
				for k, v := range compactWorkload(t, l, rng, 8, codec, 5000) {
					latest[k] = v
				}
				if err := l.Roll(); err != nil {
					t.Fatal(err)
				}
				if err := l.Flush(); err != nil {
					t.Fatal(err)
				}
				res2, err := l.Clean(context.Background(), CleanOptions{FirstDirty: res.NextDirty, UpperBound: l.EndOffset(), MapEntries: 1 << 20, Codec: wire.Codecs{}, Force: true})
				if err != nil {
					t.Fatal(err)
				}
				// Tombstones of the segments aged above are gone; the
				// newer ones stay.
				recs := readAll(t, l)
				for _, r := range recs {
					if r.tombstone && r.offset < lastClean {
						t.Fatalf("tombstone at %d in an aged segment survived", r.offset)
					}
				}
				checkLatestPresent(t, recs, latest, lastClean)
				before := readAll(t, l)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				for _, clean := range []bool{true, false} {
					l2 := openLog(t, dir, cfg, OpenOptions{CleanShutdown: clean})
					if got := readAll(t, l2); fmt.Sprint(got) != fmt.Sprint(before) {
						t.Fatalf("reopened (clean %v): %d records, had %d", clean, len(got), len(before))
					}
					if l2.EndOffset() != res2.NextDirty && l2.EndOffset() < res2.NextDirty {
						t.Fatalf("end %d below the cleaned offset %d", l2.EndOffset(), res2.NextDirty)
					}
					l2.Close()
				}
			})
		})
	}
}

// checkLatestPresent checks that every key whose latest record is a value,
// or a tombstone not yet past the horizon (at or above horizonEnd), reads
// as that record.
func checkLatestPresent(t *testing.T, recs []readRecord, latest map[string]readRecord, horizonEnd int64) {
	t.Helper()
	last := map[string]readRecord{}
	for _, r := range recs {
		last[r.key] = r
	}
	for k, want := range latest {
		if want.tombstone && want.offset < horizonEnd {
			continue
		}
		if got := last[k]; got != want {
			t.Fatalf("key %s: want %+v, read %+v", k, want, got)
		}
	}
}

// TestCleanPolicies checks what decides whether a log is cleaned:
// cleanup.policy, min.cleanable.dirty.ratio, min.compaction.lag.ms, the
// upper bound (high watermark) and the active segment.
func TestCleanPolicies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mutate    func(*Config)
		upper     func(l *Log) int64
		force     bool
		wantClean bool
	}{
		{name: "delete policy", mutate: func(c *Config) { c.Compact = false }, force: true},
		{name: "compact forced", force: true, wantClean: true},
		{name: "ratio reached", mutate: func(c *Config) { c.MinCleanableDirtyRatio = 0.5 }, wantClean: true},
		{name: "ratio not reached", mutate: func(c *Config) { c.MinCleanableDirtyRatio = 1.01 }},
		{name: "max lag overrides ratio", mutate: func(c *Config) { c.MinCleanableDirtyRatio = 1.01; c.MaxCompactionLagMs = 1 }, wantClean: true},
		{name: "min lag holds back young segments", mutate: func(c *Config) { c.MinCompactionLagMs = 1 << 50 }, force: true},
		{name: "nothing below the high watermark", upper: func(*Log) int64 { return 0 }, force: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := compactConfig(DefaultConfig())
			cfg.SegmentBytes = 300
			if tc.mutate != nil {
				tc.mutate(&cfg)
			}
			l := openLog(t, t.TempDir(), cfg, OpenOptions{})
			defer l.Close()
			compactWorkload(t, l, rand.New(rand.NewSource(1)), 40, 0, 1000)
			if err := l.Flush(); err != nil {
				t.Fatal(err)
			}
			upper := l.EndOffset()
			if tc.upper != nil {
				upper = tc.upper(l)
			}
			activeBefore := readActive(t, l)
			res, err := l.Clean(context.Background(), CleanOptions{UpperBound: upper, MapEntries: 1 << 20, Codec: wire.Codecs{}, Force: tc.force})
			if err != nil {
				t.Fatal(err)
			}
			if res.Cleaned != tc.wantClean {
				t.Fatalf("cleaned %v, want %v (%+v)", res.Cleaned, tc.wantClean, res)
			}
			if got := readActive(t, l); string(got) != string(activeBefore) {
				t.Fatal("the active segment changed")
			}
		})
	}
}

func readActive(t *testing.T, l *Log) []byte {
	t.Helper()
	a := l.active()
	b := make([]byte, a.size)
	if _, err := a.log.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCleanDropsKeylessKeepsProducerState checks two of Kafka's rules: a
// record without a key is dropped, and a batch whose records all go but
// that is its idempotent producer's last batch stays as an empty batch with
// its offsets and sequence.
func TestCleanDropsKeylessKeepsProducerState(t *testing.T) {
	cfg := compactConfig(DefaultConfig())
	l := openLog(t, t.TempDir(), cfg, OpenOptions{})
	defer l.Close()
	app := func(pid int64, recs ...kv) {
		base := l.EndOffset()
		b := encodeKeyed(t, base, 100, 0, pid, recs)
		h, _ := parseBatchHeader(b)
		if err := l.Append(b, AppendInfo{BaseOffset: base, LastOffset: h.LastOffset(), MaxTimestamp: h.MaxTimestamp}); err != nil {
			t.Fatal(err)
		}
	}
	app(-1, kv{key: nil, value: []byte("x")}, kv{key: []byte("a"), value: []byte("1")})
	app(7, kv{key: []byte("b"), value: []byte("1")}, kv{key: []byte("a"), value: []byte("2")}) // pid 7's last batch
	app(-1, kv{key: []byte("a"), value: []byte("3")}, kv{key: []byte("b"), value: []byte("2")})
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	app(-1, kv{key: []byte("c"), value: []byte("1")})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Clean(context.Background(), CleanOptions{UpperBound: l.EndOffset(), MapEntries: 100, Force: true}); err != nil {
		t.Fatal(err)
	}
	data, err := l.Read(0, 1<<20, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	hs := splitRead(t, data)
	if len(hs) != 2 {
		t.Fatalf("%d batches, want the empty one of pid 7 and the last: %+v", len(hs), hs)
	}
	if e := hs[0]; e.RecordCount != 0 || e.BaseOffset != 2 || e.LastOffset() != 3 || e.ProducerID != 7 || e.BaseSequence != 2 {
		t.Fatalf("empty batch %+v", e)
	}
	recs := readAll(t, l)
	if fmt.Sprint(recs) != fmt.Sprint([]readRecord{{4, "a", "3", false}, {5, "b", "2", false}, {6, "c", "1", false}}) {
		t.Fatalf("records %+v", recs)
	}
}

// errCrash stands for the process dying at a step of a clean.
var errCrash = errors.New("crash")

// TestCleanCrashRecovers interrupts a clean at every step of writing and
// swapping a cleaned segment group (files left exactly as the crash left
// them, nothing closed cleanly) and checks that Open recovers a log with
// every key's latest record and offsets in order.
func TestCleanCrashRecovers(t *testing.T) {
	// Count the steps of an uninterrupted clean first.
	steps := 0
	{
		cfg := compactConfig(DefaultConfig())
		cfg.SegmentBytes = 400
		l := openLog(t, t.TempDir(), cfg, OpenOptions{})
		compactWorkload(t, l, rand.New(rand.NewSource(3)), 40, 0, 1000)
		l.Flush()
		l.cleanHook = func(string) error { steps++; return nil }
		if _, err := l.Clean(context.Background(), CleanOptions{UpperBound: l.EndOffset(), MapEntries: 1 << 20, Force: true}); err != nil {
			t.Fatal(err)
		}
		l.Close()
	}
	if steps < 5 {
		t.Fatalf("only %d steps", steps)
	}
	for crashAt := 1; crashAt <= steps; crashAt++ {
		t.Run(fmt.Sprint(crashAt), func(t *testing.T) {
			cfg := compactConfig(DefaultConfig())
			cfg.SegmentBytes = 400
			dir := t.TempDir()
			l := openLog(t, dir, cfg, OpenOptions{})
			latest := compactWorkload(t, l, rand.New(rand.NewSource(3)), 40, 0, 1000)
			l.Flush()
			end := l.EndOffset()
			n := 0
			var step string
			l.cleanHook = func(s string) error {
				n++
				if n == crashAt {
					step = s
					return errCrash
				}
				return nil
			}
			_, err := l.Clean(context.Background(), CleanOptions{UpperBound: l.EndOffset(), MapEntries: 1 << 20, Force: true})
			if !errors.Is(err, errCrash) {
				t.Fatalf("clean: %v", err)
			}
			// Die: drop descriptors and mappings, write nothing more.
			l.mu.Lock()
			l.closed = true
			l.mu.Unlock()
			l.closeSegments()
			l2 := openLog(t, dir, cfg, OpenOptions{RecoveryPoint: 0})
			defer l2.Close()
			if l2.EndOffset() != end {
				t.Fatalf("crash at %s: end %d, want %d", step, l2.EndOffset(), end)
			}
			recs := readAll(t, l2)
			last := map[string]readRecord{}
			for _, r := range recs {
				last[r.key] = r
			}
			for k, want := range latest {
				if got := last[k]; got != want {
					t.Fatalf("crash at %s: key %s is %+v, want %+v", step, k, got, want)
				}
			}
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), cleanedSuffix) || strings.HasSuffix(e.Name(), swapSuffix) {
					t.Fatalf("crash at %s: %s left after Open", step, e.Name())
				}
			}
			// And a clean after recovery still works.
			if _, err := l2.Clean(context.Background(), CleanOptions{UpperBound: l2.EndOffset(), MapEntries: 1 << 20, Force: true}); err != nil {
				t.Fatal(err)
			}
			checkCompacted(t, l2, latest, l2.active().base, true)
		})
	}
}

// TestCleanerCheckpoint runs the Cleaner over a log and checks
// cleaner-offset-checkpoint in the log dir, and that a truncation below the
// checkpoint brings it back down.
func TestCleanerCheckpoint(t *testing.T) {
	root := t.TempDir()
	cfg := compactConfig(DefaultConfig())
	cfg.SegmentBytes = 300
	l := openLog(t, filepath.Join(root, "t-0"), cfg, OpenOptions{})
	defer l.Close()
	latest := compactWorkload(t, l, rand.New(rand.NewSource(5)), 40, 0, 1000)
	l.Flush()
	c := NewCleaner(CleanerConfig{Threads: 2, Backoff: time.Hour, Codec: wire.Codecs{}}, func() []CleanerLog {
		return []CleanerLog{{Topic: "t", Partition: 0, Log: l}}
	})
	c.Start()
	defer c.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.WaitPasses(ctx, 1); err != nil {
		t.Fatal(err)
	}
	entries, err := readOffsetCheckpoint(vfs.Default, filepath.Join(root, cleanerCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].topic != "t" || entries[0].partition != 0 || entries[0].offset != l.active().base {
		t.Fatalf("checkpoint %+v, active base %d", entries, l.active().base)
	}
	checkCompacted(t, l, latest, entries[0].offset, true)

	if err := l.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CleanLog(ctx, CleanerLog{Topic: "t", Partition: 0, Log: l}, 1<<20, false); err != nil {
		t.Fatal(err)
	}
	entries, err = readOffsetCheckpoint(vfs.Default, filepath.Join(root, cleanerCheckpointFile))
	if err != nil || len(entries) != 1 || entries[0].offset > l.EndOffset() {
		t.Fatalf("checkpoint after truncating to %d: %+v %v", l.EndOffset(), entries, err)
	}
}

// FuzzCleanerRecords feeds arbitrary payloads to the record decoder and
// the batch filter: they fail cleanly, never panic or over-read.
func FuzzCleanerRecords(f *testing.F) {
	f.Add(encodeKeyed(f, 0, 1, 0, -1, []kv{{key: []byte("a"), value: []byte("b")}, {key: nil, value: nil}})[recordbatch.HeaderSize:], int32(2))
	f.Add([]byte{0x02, 0x00}, int32(1))
	f.Fuzz(func(t *testing.T, payload []byte, count int32) {
		h := batchHeader{recordbatch.Header{RecordCount: count, BatchLength: int32(len(payload) + recordbatch.HeaderSize - recordbatch.LogOverhead), Magic: 2}}
		batch := append(make([]byte, recordbatch.HeaderSize), payload...)
		batch[recordbatch.MagicOffset] = 2
		binary.BigEndian.PutUint32(batch[recordbatch.LengthOffset:], uint32(h.BatchLength))
		_ = forEachRecord(payload, &h, func(r *cleanerRecord) error {
			if len(r.key) > len(payload) {
				t.Fatal("key longer than the payload")
			}
			return nil
		})
		out, _, _, err := filterBatch(nil, batch, &h, nil, true, func(r *cleanerRecord) bool { return r.hasKey })
		if err == nil && len(out) > 0 {
			if _, err := parseBatchHeader(out); err != nil {
				t.Fatalf("filtered batch: %v", err)
			}
		}
	})
}

// TestCleanWhileReading checks that readers are unaffected by a clean: a
// Region taken before the swap still reads the old bytes through its
// descriptor after the old segment is gone, and readers running during the
// clean always get whole, CRC-valid batches.
func TestCleanWhileReading(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		cfg = compactConfig(cfg)
		cfg.SegmentBytes = min(cfg.SegmentBytes, 400)
		l := openLog(t, t.TempDir(), cfg, OpenOptions{})
		defer l.Close()
		latest := compactWorkload(t, l, rand.New(rand.NewSource(9)), 60, 0, 1000)
		if err := l.Flush(); err != nil {
			t.Fatal(err)
		}
		r, err := l.ReadRegion(0, 1<<20, l.EndOffset())
		if err != nil || r.Len == 0 {
			t.Fatalf("region: %v %+v", err, r)
		}
		want := make([]byte, r.Len)
		if _, err := r.File.ReadAt(want, r.Pos); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		readerErr := make(chan error, 1)
		go func() {
			defer close(readerErr)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for off := l.StartOffset(); off < l.EndOffset(); {
					data, err := l.Read(off, 1<<20, l.EndOffset())
					if err != nil {
						readerErr <- err
						return
					}
					if len(data) == 0 {
						break
					}
					var next int64
					for pos := 0; pos < len(data); {
						h, err := parseBatchHeader(data[pos:])
						if err != nil || !recordbatch.CRCValid(data[pos:pos+int(h.size())]) {
							readerErr <- fmt.Errorf("bad batch at %d: %v", pos, err)
							return
						}
						next = h.LastOffset() + 1
						pos += int(h.size())
					}
					off = next
				}
			}
		}()
		_, err = l.Clean(context.Background(), CleanOptions{UpperBound: l.EndOffset(), MapEntries: 1 << 20, Force: true})
		close(stop)
		if rerr := <-readerErr; rerr != nil {
			t.Fatalf("reader during the clean: %v", rerr)
		}
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, r.Len)
		if _, err := r.File.ReadAt(got, r.Pos); err != nil {
			t.Fatalf("region after the swap: %v", err)
		}
		if string(got) != string(want) {
			t.Fatal("region bytes changed under the reader")
		}
		r.Release()
		if n := l.OpenRegions(); n != 0 {
			t.Fatalf("%d regions open", n)
		}
		checkCompacted(t, l, latest, l.active().base, true)
	})
}

// TestIOThrottle checks log.cleaner.io.max.bytes.per.second's throttle on
// a fake clock: within a window, or under the rate, no wait; over the rate
// it waits (seen as the cancelled context's error, so the test never
// sleeps).
func TestIOThrottle(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name     string
		rate     float64
		advance  time.Duration
		bytes    int64
		wantWait bool
	}{
		{name: "inside the window", rate: 10, advance: 100 * time.Millisecond, bytes: 1 << 20},
		{name: "under the rate", rate: 1 << 30, advance: time.Second, bytes: 1 << 20},
		{name: "over the rate", rate: 1000, advance: time.Second, bytes: 1 << 20, wantWait: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			th := &ioThrottle{rate: tc.rate, now: clock.Now}
			if err := th.wait(cancelled, 1); err != nil {
				t.Fatalf("first call: %v", err)
			}
			clock.Advance(tc.advance)
			err := th.wait(cancelled, tc.bytes)
			if waited := errors.Is(err, context.Canceled); waited != tc.wantWait {
				t.Fatalf("waited %v, want %v (%v)", waited, tc.wantWait, err)
			}
		})
	}
}

// TestAppendWithGap appends as a follower of a compacted leader does:
// batches may start past the log end (whole batches cleaned away on the
// leader), never before it; reads and a reopen see the gap as it is.
func TestAppendWithGap(t *testing.T) {
	forEachConfig(t, func(t *testing.T, cfg Config) {
		dir := t.TempDir()
		l := openLog(t, dir, cfg, OpenOptions{})
		for _, base := range []int64{0, 5, 6, 40, 41} {
			b := encodeKeyed(t, base, 100+base, 0, -1, []kv{{key: []byte("k"), value: []byte(fmt.Sprint(base))}})
			if err := l.Append(b, AppendInfo{BaseOffset: base, LastOffset: base, MaxTimestamp: 100 + base}); err != nil {
				t.Fatalf("append at %d: %v", base, err)
			}
		}
		b := encodeKeyed(t, 10, 0, 0, -1, []kv{{key: []byte("k")}})
		if err := l.Append(b, AppendInfo{BaseOffset: 10, LastOffset: 10}); err == nil {
			t.Fatal("append below the log end accepted")
		}
		want := []int64{0, 5, 6, 40, 41}
		check := func(l *Log) {
			t.Helper()
			var got []int64
			for _, r := range readAll(t, l) {
				got = append(got, r.offset)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) || l.EndOffset() != 42 {
				t.Fatalf("offsets %v end %d", got, l.EndOffset())
			}
			if data, err := l.Read(20, 1<<20, l.EndOffset()); err != nil || len(splitRead(t, data)) == 0 || splitRead(t, data)[0].BaseOffset != 40 {
				t.Fatalf("read inside the gap: %v", err)
			}
		}
		check(l)
		l.Close()
		l = openLog(t, dir, cfg, OpenOptions{})
		defer l.Close()
		check(l)
	})
}
