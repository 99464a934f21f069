package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

var allCodecs = []struct {
	name  string
	codec int8
}{
	{"none", CodecNone},
	{"gzip", CodecGzip},
	{"snappy-raw", CodecSnappy},
	{"snappy-xerial", codecSnappyXerial},
	{"snappy-xerial-lib", codecSnappyXerialLib},
	{"lz4", CodecLZ4},
	{"zstd", CodecZstd},
}

var testValidate = ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 1 << 20}

func TestValidateProduceBatchAcceptsEveryCodec(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.name, func(t *testing.T) {
			for _, n := range []int{1, 7, 300} {
				b := buildBatch(t, batchSpec{codec: c.codec, recs: testRecords(n, 50)})
				h, err := ValidateProduceBatch(b, testValidate)
				if err != nil {
					t.Fatalf("%d records: %v", n, err)
				}
				if h.RecordCount != int32(n) || h.Size() != len(b) || h.Magic != 2 {
					t.Fatalf("%d records: header %+v, batch %d bytes", n, h, len(b))
				}
			}
		})
	}
}

func TestValidateProduceBatchRejects(t *testing.T) {
	good := func(t *testing.T) []byte { return buildBatch(t, batchSpec{recs: testRecords(5, 20)}) }
	tests := []struct {
		name  string
		batch func(t *testing.T) []byte
		cfg   ValidateConfig
		want  error
	}{
		{"empty", func(t *testing.T) []byte { return nil }, testValidate, ErrInvalidRecord},
		{"bad crc", func(t *testing.T) []byte { b := good(t); b[len(b)-1] ^= 1; return b }, testValidate, ErrCorruptMessage},
		{"truncated header", func(t *testing.T) []byte { return good(t)[:40] }, testValidate, ErrCorruptMessage},
		{"truncated batch", func(t *testing.T) []byte { b := good(t); return b[:len(b)-3] }, testValidate, ErrCorruptMessage},
		{"length below header", func(t *testing.T) []byte {
			b := good(t)
			binary.BigEndian.PutUint32(b[8:], 10)
			return b
		}, testValidate, ErrCorruptMessage},
		{"length too short for records", func(t *testing.T) []byte {
			// The batch claims fewer bytes than it has: the rest is
			// trailing data and the records are cut.
			b := good(t)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12-5))
			return b
		}, testValidate, ErrInvalidRecord},
		{"trailing bytes", func(t *testing.T) []byte { return append(good(t), 0, 0, 0) }, testValidate, ErrInvalidRecord},
		{"second batch", func(t *testing.T) []byte { return append(good(t), good(t)...) }, testValidate, ErrInvalidRecord},
		{"old magic", func(t *testing.T) []byte { b := good(t); b[16] = 1; return b }, testValidate, ErrInvalidRecord},
		{"count above records", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(5, 20), mutate: func(b *kmsg.RecordBatch) { b.NumRecords, b.LastOffsetDelta = 6, 5 }})
		}, testValidate, ErrInvalidRecord},
		{"count below records", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(5, 20), mutate: func(b *kmsg.RecordBatch) { b.NumRecords, b.LastOffsetDelta = 4, 3 }})
		}, testValidate, ErrInvalidRecord},
		{"zero count", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(5, 20), mutate: func(b *kmsg.RecordBatch) { b.NumRecords, b.LastOffsetDelta = 0, -1 }})
		}, testValidate, ErrInvalidRecord},
		{"last offset delta disagrees", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(5, 20), mutate: func(b *kmsg.RecordBatch) { b.LastOffsetDelta = 7 }})
		}, testValidate, ErrInvalidRecord},
		{"bad offset delta", func(t *testing.T) []byte {
			recs := testRecords(5, 20)
			recs[3].OffsetDelta = 4
			return buildBatch(t, batchSpec{recs: recs})
		}, testValidate, ErrInvalidRecord},
		{"record length too long", func(t *testing.T) []byte {
			recs := testRecords(1, 20)
			raw := encodeRecords(recs)
			raw[0] += 2 // zigzag: length + 1
			return buildBatch(t, batchSpec{recs: recs, payload: raw})
		}, testValidate, ErrCorruptMessage},
		{"record length too short", func(t *testing.T) []byte {
			recs := testRecords(2, 20)
			raw := encodeRecords(recs)
			raw[0] -= 2
			return buildBatch(t, batchSpec{recs: recs, payload: raw})
		}, testValidate, ErrCorruptMessage},
		{"records truncated", func(t *testing.T) []byte {
			recs := testRecords(3, 20)
			raw := encodeRecords(recs)
			return buildBatch(t, batchSpec{recs: recs, payload: raw[:len(raw)-4]})
		}, testValidate, ErrCorruptMessage},
		{"unknown codec", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(2, 20), mutate: func(b *kmsg.RecordBatch) { b.Attributes |= 5 }})
		}, testValidate, ErrUnsupportedCompression},
		{"codec 7", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(2, 20), mutate: func(b *kmsg.RecordBatch) { b.Attributes |= 7 }})
		}, testValidate, ErrUnsupportedCompression},
		{"control batch", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(2, 20), mutate: func(b *kmsg.RecordBatch) { b.Attributes |= 0x20 }})
		}, testValidate, ErrInvalidRecord},
		{"log append time from producer", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(2, 20), mutate: func(b *kmsg.RecordBatch) { b.Attributes |= 0x08 }})
		}, testValidate, ErrInvalidTimestamp},
		{"producer id without sequence", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{recs: testRecords(2, 20), mutate: func(b *kmsg.RecordBatch) { b.ProducerID = 7 }})
		}, testValidate, ErrInvalidRecord},
		{"too large", func(t *testing.T) []byte { return good(t) }, ValidateConfig{MaxBatchBytes: 100}, ErrMessageTooLarge},
		{"gzip garbage", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecGzip, recs: testRecords(2, 20), payload: []byte("not gzip at all")})
		}, testValidate, ErrCorruptMessage},
		{"snappy garbage", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecSnappy, recs: testRecords(2, 20), payload: []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2}})
		}, testValidate, ErrCorruptMessage},
		{"xerial block overruns", func(t *testing.T) []byte {
			p := compress(t, codecSnappyXerial, encodeRecords(testRecords(2, 20)))
			binary.BigEndian.PutUint32(p[16:], 1<<30)
			return buildBatch(t, batchSpec{codec: CodecSnappy, recs: testRecords(2, 20), payload: p})
		}, testValidate, ErrCorruptMessage},
		{"lz4 garbage", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecLZ4, recs: testRecords(2, 20), payload: []byte("garbage garbage")})
		}, testValidate, ErrCorruptMessage},
		{"zstd garbage", func(t *testing.T) []byte {
			return buildBatch(t, batchSpec{codec: CodecZstd, recs: testRecords(2, 20), payload: []byte("garbage garbage")})
		}, testValidate, ErrCorruptMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ValidateProduceBatch(tt.batch(t), tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// TestValidateProduceBatchZipBomb checks that a small batch whose records
// decompress beyond the bound is rejected for every codec, and that the
// same batch passes under a bound large enough for it.
func TestValidateProduceBatchZipBomb(t *testing.T) {
	recs := []kmsg.Record{{OffsetDelta: 0, Value: make([]byte, 4<<20)}}
	for _, c := range allCodecs[1:] {
		t.Run(c.name, func(t *testing.T) {
			b := buildBatch(t, batchSpec{codec: c.codec, recs: recs})
			if len(b) > 1<<20 {
				t.Fatalf("bomb is %d bytes, want it small", len(b))
			}
			_, err := ValidateProduceBatch(b, ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 1 << 20})
			if !errors.Is(err, ErrCorruptMessage) {
				t.Fatalf("bound 1 MiB: got %v, want ErrCorruptMessage", err)
			}
			if _, err := ValidateProduceBatch(b, ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 8 << 20}); err != nil {
				t.Fatalf("bound 8 MiB: %v", err)
			}
		})
	}
}

// TestValidateProduceBatchCompressedLengthBomb checks a record whose value
// length claims far more than the record holds: it fails at once rather than
// decompressing up to the bound.
func TestValidateProduceBatchCompressedLengthLie(t *testing.T) {
	raw := encodeRecords(testRecords(1, 10))
	raw = append(raw, make([]byte, 100)...) // trailing zeros decode as records of length 0
	b := buildBatch(t, batchSpec{codec: CodecGzip, recs: testRecords(1, 10), payload: compress(t, CodecGzip, raw)})
	if _, err := ValidateProduceBatch(b, testValidate); !errors.Is(err, ErrCorruptMessage) && !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("got %v", err)
	}
}

// TestValidateProduceBatchMaxTimestamp: the max timestamp is recomputed
// from the records, and a producer's wrong value is overwritten in the
// header with a CRC that matches, for every codec.
func TestValidateProduceBatchMaxTimestamp(t *testing.T) {
	const base = 1_700_000_000_000
	recsWith := func(deltas ...int64) []kmsg.Record {
		recs := testRecords(len(deltas), 20)
		for i, d := range deltas {
			recs[i].TimestampDelta64 = d
		}
		return recs
	}
	tests := []struct {
		name      string
		deltas    []int64
		baseTS    int64
		headerMax int64
		wantMax   int64
	}{
		{"header right", []int64{0, 10, 20}, base, base + 20, base + 20},
		{"header in the far future", []int64{0, 10, 20}, base, 1 << 62, base + 20},
		{"header above every record", []int64{0, 10, 20}, base, base + 21, base + 20},
		{"header below the records", []int64{0, 10, 20}, base, base, base + 20},
		{"header -1", []int64{0, 10, 20}, base, -1, base + 20},
		{"records out of order", []int64{30, -5, 10}, base, base + 10, base + 30},
		{"one record", []int64{7}, base, 0, base + 7},
		{"no timestamps", []int64{0, 0}, -1, -1, -1},
		{"no timestamps, header set", []int64{0, 0}, -1, base, -1},
	}
	for _, c := range allCodecs {
		for _, tt := range tests {
			t.Run(c.name+"/"+tt.name, func(t *testing.T) {
				b := buildBatch(t, batchSpec{codec: c.codec, recs: recsWith(tt.deltas...), mutate: func(kb *kmsg.RecordBatch) {
					kb.FirstTimestamp, kb.MaxTimestamp = tt.baseTS, tt.headerMax
				}})
				orig := bytes.Clone(b)
				h, err := ValidateProduceBatch(b, testValidate)
				if err != nil {
					t.Fatal(err)
				}
				if h.MaxTimestamp != tt.wantMax {
					t.Fatalf("returned max timestamp %d, want %d", h.MaxTimestamp, tt.wantMax)
				}
				onDisk, err := ParseBatchHeader(b)
				if err != nil {
					t.Fatal(err)
				}
				if onDisk != h {
					t.Fatalf("bytes say %+v, validation returned %+v", onDisk, h)
				}
				if err := checkCRC(b, onDisk); err != nil {
					t.Fatal(err)
				}
				// Only the max timestamp and the CRC may change.
				changed := bytes.Clone(orig)
				copy(changed[recordbatch.CRCOffset:recordbatch.CRCOffset+4], b[recordbatch.CRCOffset:recordbatch.CRCOffset+4])
				copy(changed[recordbatch.MaxTimestampOffset:recordbatch.MaxTimestampOffset+8], b[recordbatch.MaxTimestampOffset:recordbatch.MaxTimestampOffset+8])
				if !bytes.Equal(changed, b) {
					t.Fatal("validation changed bytes other than the max timestamp and the CRC")
				}
				if tt.headerMax == tt.wantMax && !bytes.Equal(orig, b) {
					t.Fatal("a right max timestamp was rewritten")
				}
				// kmsg, an independent decoder, agrees.
				var kb kmsg.RecordBatch
				if err := kb.ReadFrom(b); err != nil {
					t.Fatal(err)
				}
				if kb.MaxTimestamp != tt.wantMax || uint32(kb.CRC) != h.CRC {
					t.Fatalf("kmsg reads max timestamp %d crc %#x", kb.MaxTimestamp, uint32(kb.CRC))
				}
			})
		}
	}
}

// TestValidateProduceBatchFailureLeavesBytes: a batch that fails
// validation after its records were walked is not rewritten.
func TestValidateProduceBatchFailureLeavesBytes(t *testing.T) {
	b := buildBatch(t, batchSpec{recs: testRecords(3, 20), mutate: func(kb *kmsg.RecordBatch) {
		kb.MaxTimestamp = 1 << 62
		kb.NumRecords, kb.LastOffsetDelta = 4, 3
	}})
	orig := bytes.Clone(b)
	if _, err := ValidateProduceBatch(b, testValidate); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("got %v, want ErrInvalidRecord", err)
	}
	if !bytes.Equal(orig, b) {
		t.Fatal("a rejected batch was modified")
	}
}

func TestStampingKeepsCRCValid(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.name, func(t *testing.T) {
			b := buildBatch(t, batchSpec{codec: c.codec, recs: testRecords(4, 30)})
			SetBaseOffset(b, 1234)
			SetPartitionLeaderEpoch(b, 9)
			SetLogAppendTime(b, 1_800_000_000_000)
			h, err := ParseBatchHeader(b)
			if err != nil {
				t.Fatal(err)
			}
			if h.BaseOffset != 1234 || h.PartitionLeaderEpoch != 9 || h.MaxTimestamp != 1_800_000_000_000 || !h.IsLogAppendTime() {
				t.Fatalf("header after stamping: %+v", h)
			}
			wantCodec := c.codec
			if wantCodec >= codecSnappyXerial {
				wantCodec = CodecSnappy
			}
			if h.Compression() != wantCodec {
				t.Fatalf("codec bits changed: %d", h.Compression())
			}
			if err := checkCRC(b, h); err != nil {
				t.Fatal(err)
			}
			// kmsg, an independent decoder, agrees.
			var kb kmsg.RecordBatch
			if err := kb.ReadFrom(b); err != nil {
				t.Fatal(err)
			}
			if uint32(kb.CRC) != h.CRC || kb.FirstOffset != 1234 {
				t.Fatalf("kmsg reads crc %#x offset %d", uint32(kb.CRC), kb.FirstOffset)
			}
		})
	}
}

func TestRecordTimestamps(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.name, func(t *testing.T) {
			b := buildBatch(t, batchSpec{codec: c.codec, recs: testRecords(5, 30)})
			SetBaseOffset(b, 100)
			got, err := RecordTimestamps(b, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 5 {
				t.Fatalf("got %d records", len(got))
			}
			for i, r := range got {
				want := RecordTimestamp{Offset: 100 + int64(i), Timestamp: 1_700_000_000_000 + int64(i)*10}
				if r != want {
					t.Fatalf("record %d: got %+v, want %+v", i, r, want)
				}
			}
			SetLogAppendTime(b, 42)
			got, err = RecordTimestamps(b, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range got {
				if r.Timestamp != 42 || r.Offset != 100+int64(i) {
					t.Fatalf("log append time record %d: %+v", i, r)
				}
			}
		})
	}
}

func TestRecordTimestampsRejectsCorruption(t *testing.T) {
	b := buildBatch(t, batchSpec{recs: testRecords(5, 30)})
	bad := bytes.Clone(b)
	bad[len(bad)-1] ^= 0xff
	if _, err := RecordTimestamps(bad, 1<<20); !errors.Is(err, ErrCorruptMessage) {
		t.Fatalf("bad crc: %v", err)
	}
	if _, err := RecordTimestamps(b[:len(b)-1], 1<<20); !errors.Is(err, ErrCorruptMessage) {
		t.Fatalf("truncated: %v", err)
	}
	bomb := buildBatch(t, batchSpec{codec: CodecZstd, recs: []kmsg.Record{{Value: make([]byte, 2<<20)}}})
	if _, err := RecordTimestamps(bomb, 1<<20); !errors.Is(err, ErrCorruptMessage) {
		t.Fatalf("bomb: %v", err)
	}
}

func FuzzValidateProduceBatch(f *testing.F) {
	for _, c := range allCodecs {
		f.Add(buildBatch(f, batchSpec{codec: c.codec, recs: testRecords(3, 10)}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ValidateProduceBatch(b, ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 1 << 20})
		if err != nil {
			return
		}
		// Whatever validates must also be readable for ListOffsets.
		ts, err := RecordTimestamps(b, 1<<20)
		if err != nil {
			t.Fatalf("validated batch fails RecordTimestamps: %v", err)
		}
		if len(ts) != int(h.RecordCount) {
			t.Fatalf("%d timestamps for %d records", len(ts), h.RecordCount)
		}
		// The header now carries the records' max timestamp.
		maxTS := int64(recordbatch.NoTimestamp)
		for _, r := range ts {
			maxTS = max(maxTS, r.Timestamp)
		}
		if h.MaxTimestamp != maxTS {
			t.Fatalf("max timestamp %d, records reach %d", h.MaxTimestamp, maxTS)
		}
		if onDisk, err := ParseBatchHeader(b); err != nil || onDisk != h {
			t.Fatalf("bytes say %+v (%v), validation returned %+v", onDisk, err, h)
		}
		// Validating again changes nothing.
		again := bytes.Clone(b)
		if h2, err := ValidateProduceBatch(again, ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 1 << 20}); err != nil || h2 != h || !bytes.Equal(again, b) {
			t.Fatalf("second validation: %+v, %v", h2, err)
		}
	})
}

func FuzzRecordTimestamps(f *testing.F) {
	for _, c := range allCodecs {
		f.Add(buildBatch(f, batchSpec{codec: c.codec, recs: testRecords(3, 10)}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := RecordTimestamps(b, 1<<20)
		if err == nil && len(ts) > len(b) {
			t.Fatalf("%d records from %d bytes", len(ts), len(b))
		}
	})
}

func BenchmarkValidateProduceBatch(b *testing.B) {
	for _, c := range []struct {
		name  string
		codec int8
	}{{"none", CodecNone}, {"lz4", CodecLZ4}, {"zstd", CodecZstd}, {"gzip", CodecGzip}, {"snappy", CodecSnappy}} {
		b.Run(c.name, func(b *testing.B) {
			batch := buildBatch(b, batchSpec{codec: c.codec, recs: testRecords(100, 100)})
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ValidateProduceBatch(batch, testValidate); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
