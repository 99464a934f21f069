package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// testMsg is a message for the reference encoder below, which builds
// message sets with kmsg's MessageV0/MessageV1 (not with the code under
// test) and fixes up sizes and CRCs.
type testMsg struct {
	offset     int64
	attrs      int8
	timestamp  int64
	key, value []byte
}

// legacySet encodes msgs as a message set of the given magic.
func legacySet(magic int8, msgs ...testMsg) []byte {
	var out []byte
	for _, m := range msgs {
		start := len(out)
		if magic == MagicV0 {
			v := kmsg.MessageV0{Offset: m.offset, Magic: 0, Attributes: m.attrs, Key: m.key, Value: m.value}
			out = v.AppendTo(out)
		} else {
			v := kmsg.MessageV1{Offset: m.offset, Magic: 1, Attributes: m.attrs, Timestamp: m.timestamp, Key: m.key, Value: m.value}
			out = v.AppendTo(out)
		}
		binary.BigEndian.PutUint32(out[start+8:], uint32(len(out)-start-12))
		binary.BigEndian.PutUint32(out[start+12:], crc32.ChecksumIEEE(out[start+16:]))
	}
	return out
}

// wrapper returns one compressed message holding inner (a message set).
func wrapper(t testing.TB, magic, codec int8, offset, ts int64, inner []byte) []byte {
	t.Helper()
	attrs := codec
	if codec == codecSnappyXerial {
		attrs = CodecSnappy
	}
	return legacySet(magic, testMsg{offset: offset, attrs: attrs, timestamp: ts, value: compress(t, codec, inner)})
}

// breakLZ4Checksum rewrites an lz4 frame's header checksum the way Kafka
// before 0.10 computed it: over the frame magic and the descriptor.
func breakLZ4Checksum(t testing.TB, frame []byte) []byte {
	t.Helper()
	frame = bytes.Clone(frame)
	hc := 6
	if frame[4]&lz4FlagSize != 0 {
		hc += 8
	}
	broken := lz4HeaderChecksum(frame[:hc])
	if broken == frame[hc] {
		t.Fatal("the broken checksum happens to equal the right one; pick other data")
	}
	frame[hc] = broken
	return frame
}

// wantRecord is what an up-converted record must hold.
type wantRecord struct {
	ts         int64
	key, value []byte
}

// readBatchRecords decodes every record of a v2 batch (decompressing it).
func readBatchRecords(t testing.TB, batch []byte) (BatchHeader, []wantRecord) {
	t.Helper()
	h, err := ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	payload := batch[RecordBatchHeaderSize:h.Size()]
	if h.Compression() != CodecNone {
		var c DownConverter
		if payload, err = c.decompress(h.Compression(), payload); err != nil {
			t.Fatal(err)
		}
		payload = bytes.Clone(payload)
	}
	var out []wantRecord
	for i := int32(0); len(payload) > 0; i++ {
		r, n, err := readRecordV2(payload)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if r.offsetDelta != i {
			t.Fatalf("record %d has offset delta %d", i, r.offsetDelta)
		}
		out = append(out, wantRecord{ts: h.BaseTimestamp + r.timestampDelta, key: r.key, value: r.value})
		payload = payload[n:]
	}
	return h, out
}

func TestUpConvertMessageSet(t *testing.T) {
	v1inner := legacySet(MagicV1,
		testMsg{offset: 0, timestamp: 1000, key: []byte("k0"), value: []byte("v0")},
		testMsg{offset: 1, timestamp: 1005, value: []byte("v1")},
		testMsg{offset: 2, timestamp: 1002, key: []byte{}, value: nil},
	)
	v1want := []wantRecord{{1000, []byte("k0"), []byte("v0")}, {1005, nil, []byte("v1")}, {1002, []byte{}, nil}}
	// Magic 0 inner offsets are absolute and meaningless: any values do.
	v0inner := legacySet(MagicV0,
		testMsg{offset: 41, key: []byte("a"), value: bytes.Repeat([]byte("x"), 300)},
		testMsg{offset: 7, value: []byte("b")},
	)
	v0want := []wantRecord{{-1, []byte("a"), bytes.Repeat([]byte("x"), 300)}, {-1, nil, []byte("b")}}
	lz4v0 := breakLZ4Checksum(t, compress(t, CodecLZ4, v0inner))
	// Some old clients write magic-1 inner offsets other than 0..n-1;
	// Kafka takes them and assigns offsets of its own, as here.
	v1innerAt := func(offsets ...int64) []byte {
		return legacySet(MagicV1,
			testMsg{offset: offsets[0], timestamp: 1000, key: []byte("k0"), value: []byte("v0")},
			testMsg{offset: offsets[1], timestamp: 1005, value: []byte("v1")},
			testMsg{offset: offsets[2], timestamp: 1002, key: []byte{}, value: nil},
		)
	}

	tests := []struct {
		name      string
		set       []byte
		codec     int8
		want      []wantRecord
		firstTS   int64
		maxTS     int64
		wantCount int
	}{
		{"v0 plain", legacySet(MagicV0, testMsg{key: []byte("k"), value: []byte("v")}, testMsg{offset: 9, value: []byte("w")}),
			CodecNone, []wantRecord{{-1, []byte("k"), []byte("v")}, {-1, nil, []byte("w")}}, -1, -1, 2},
		{"v1 plain", v1inner, CodecNone, v1want, 1000, 1005, 3},
		{"v1 gzip", wrapper(t, MagicV1, CodecGzip, 2, 1005, v1inner), CodecGzip, v1want, 1000, 1005, 3},
		{"v1 snappy", wrapper(t, MagicV1, CodecSnappy, 2, 1005, v1inner), CodecSnappy, v1want, 1000, 1005, 3},
		{"v1 snappy xerial", wrapper(t, MagicV1, codecSnappyXerial, 2, 1005, v1inner), CodecSnappy, v1want, 1000, 1005, 3},
		{"v1 lz4", wrapper(t, MagicV1, CodecLZ4, 2, 1005, v1inner), CodecLZ4, v1want, 1000, 1005, 3},
		{"v0 gzip", wrapper(t, MagicV0, CodecGzip, 0, 0, v0inner), CodecGzip, v0want, -1, -1, 2},
		{"v0 lz4 right checksum", wrapper(t, MagicV0, CodecLZ4, 0, 0, v0inner), CodecLZ4, v0want, -1, -1, 2},
		{"v0 lz4 broken checksum", legacySet(MagicV0, testMsg{attrs: CodecLZ4, value: lz4v0}), CodecLZ4, v0want, -1, -1, 2},
		{"v1 inner offsets out of order", wrapper(t, MagicV1, CodecGzip, 0, 1005, v1innerAt(5, 9, 3)), CodecGzip, v1want, 1000, 1005, 3},
		{"v1 inner offsets all 0", wrapper(t, MagicV1, CodecSnappy, 2, 1005, v1innerAt(0, 0, 0)), CodecSnappy, v1want, 1000, 1005, 3},
		{"v1 inner offsets absolute", wrapper(t, MagicV1, CodecLZ4, 102, 1005, v1innerAt(100, 101, 102)), CodecLZ4, v1want, 1000, 1005, 3},
		{"v0 wrapper offset below its inner ones", wrapper(t, MagicV0, CodecGzip, 3, 0, v0inner), CodecGzip, v0want, -1, -1, 2},
		{"two wrappers and a plain message",
			append(append(wrapper(t, MagicV1, CodecGzip, 2, 0, v1inner), legacySet(MagicV1, testMsg{timestamp: 999, value: []byte("p")})...), wrapper(t, MagicV1, CodecSnappy, 2, 0, v1inner)...),
			CodecSnappy, append(append(append([]wantRecord{}, v1want...), wantRecord{999, nil, []byte("p")}), v1want...), 1000, 1005, 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			batch, err := UpConvertMessageSet(tc.set, ValidateConfig{})
			if err != nil {
				t.Fatal(err)
			}
			h, err := ValidateProduceBatch(bytes.Clone(batch), ValidateConfig{})
			if err != nil {
				t.Fatalf("the converted batch does not validate: %v", err)
			}
			if h.Compression() != tc.codec || h.ProducerID != -1 || h.ProducerEpoch != -1 || h.BaseSequence != -1 || h.IsLogAppendTime() {
				t.Fatalf("header %+v", h)
			}
			if int(h.RecordCount) != tc.wantCount || h.BaseTimestamp != tc.firstTS || h.MaxTimestamp != tc.maxTS {
				t.Fatalf("count %d first ts %d max ts %d, want %d %d %d", h.RecordCount, h.BaseTimestamp, h.MaxTimestamp, tc.wantCount, tc.firstTS, tc.maxTS)
			}
			_, got := readBatchRecords(t, batch)
			if len(got) != len(tc.want) {
				t.Fatalf("%d records, want %d", len(got), len(tc.want))
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if g.ts != w.ts || !bytes.Equal(g.key, w.key) || (g.key == nil) != (w.key == nil) || !bytes.Equal(g.value, w.value) || (g.value == nil) != (w.value == nil) {
					t.Fatalf("record %d is %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestUpConvertMessageSetRejects(t *testing.T) {
	good := legacySet(MagicV1, testMsg{timestamp: 5, key: []byte("k"), value: []byte("v")})
	v1inner := legacySet(MagicV1, testMsg{offset: 0, value: []byte("a")}, testMsg{offset: 1, value: []byte("b")})
	mutate := func(b []byte, f func([]byte)) []byte { b = bytes.Clone(b); f(b); return b }
	recrc := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
		return b
	}
	tests := []struct {
		name string
		set  []byte
		cfg  ValidateConfig
		want error
	}{
		{"empty", nil, ValidateConfig{}, ErrCorruptMessage},
		{"bad crc", mutate(good, func(b []byte) { b[len(b)-1] ^= 1 }), ValidateConfig{}, ErrCorruptMessage},
		{"truncated", good[:len(good)-1], ValidateConfig{}, ErrCorruptMessage},
		{"trailing bytes", append(bytes.Clone(good), 0, 0, 0), ValidateConfig{}, ErrCorruptMessage},
		{"size below minimum", mutate(good, func(b []byte) { binary.BigEndian.PutUint32(b[8:], 13) }), ValidateConfig{}, ErrCorruptMessage},
		{"magic 2 message", recrc(mutate(good, func(b []byte) { b[16] = 2 })), ValidateConfig{}, ErrCorruptMessage},
		{"magic 1 too short for a timestamp", recrc(mutate(legacySet(MagicV0, testMsg{}), func(b []byte) { b[16] = 1 })), ValidateConfig{}, ErrCorruptMessage},
		{"key longer than the message", recrc(mutate(good, func(b []byte) { binary.BigEndian.PutUint32(b[26:], 1<<30) })), ValidateConfig{}, ErrCorruptMessage},
		{"value shorter than the message", recrc(mutate(good, func(b []byte) { binary.BigEndian.PutUint32(b[31:], 0) })), ValidateConfig{}, ErrCorruptMessage},
		{"zstd", legacySet(MagicV1, testMsg{attrs: CodecZstd, value: compress(t, CodecZstd, v1inner)}), ValidateConfig{}, ErrUnsupportedCompression},
		{"codec 5", legacySet(MagicV1, testMsg{attrs: 5, value: []byte("x")}), ValidateConfig{}, ErrCorruptMessage},
		{"log append time", legacySet(MagicV1, testMsg{attrs: legacyAttrTimestampType, value: []byte("x")}), ValidateConfig{}, ErrInvalidTimestamp},
		{"wrapper without value", legacySet(MagicV1, testMsg{attrs: CodecGzip}), ValidateConfig{}, ErrCorruptMessage},
		{"wrapper not decompressing", legacySet(MagicV1, testMsg{attrs: CodecGzip, value: []byte("not gzip")}), ValidateConfig{}, ErrCorruptMessage},
		{"wrapper with nothing inside", wrapper(t, MagicV1, CodecGzip, 0, 0, nil), ValidateConfig{}, ErrCorruptMessage},
		{"nested compression", wrapper(t, MagicV1, CodecGzip, 0, 0, wrapper(t, MagicV1, CodecGzip, 1, 0, v1inner)), ValidateConfig{}, ErrInvalidRecord},
		{"inner magic differs", wrapper(t, MagicV1, CodecGzip, 0, 0, legacySet(MagicV0, testMsg{value: []byte("a")})), ValidateConfig{}, ErrInvalidRecord},
		{"v1 wrapper offset below its last inner offset", wrapper(t, MagicV1, CodecGzip, 1, 0, append(bytes.Clone(v1inner), legacySet(MagicV1, testMsg{offset: 2, value: []byte("c")})...)), ValidateConfig{}, ErrInvalidRecord},
		{"v1 wrapper offset negative", wrapper(t, MagicV1, CodecGzip, -1, 0, legacySet(MagicV1, testMsg{offset: 0, value: []byte("a")})), ValidateConfig{}, ErrInvalidRecord},
		// KIP-57: the old lz4 header checksum is forgiven in magic 0 only.
		{"v1 lz4 broken checksum", legacySet(MagicV1, testMsg{attrs: CodecLZ4, value: breakLZ4Checksum(t, compress(t, CodecLZ4, v1inner))}), ValidateConfig{}, ErrCorruptMessage},
		{"inner garbage", wrapper(t, MagicV1, CodecSnappy, 0, 0, []byte("garbage that is no message")), ValidateConfig{}, ErrCorruptMessage},
		{"inner log append time", wrapper(t, MagicV1, CodecGzip, 0, 0, legacySet(MagicV1, testMsg{attrs: legacyAttrTimestampType, value: []byte("a")})), ValidateConfig{}, ErrInvalidTimestamp},
		{"decompression bound", wrapper(t, MagicV1, CodecGzip, 0, 0, legacySet(MagicV1, testMsg{value: make([]byte, 100_000)})), ValidateConfig{MaxDecompressedBytes: 50_000}, ErrCorruptMessage},
		{"message too large", legacySet(MagicV1, testMsg{value: make([]byte, 2000)}), ValidateConfig{MaxBatchBytes: 1000}, ErrMessageTooLarge},
		{"converted batch too large", legacySet(MagicV1, testMsg{value: make([]byte, 600)}, testMsg{value: make([]byte, 600)}), ValidateConfig{MaxBatchBytes: 1000}, ErrMessageTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UpConvertMessageSet(tc.set, tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestLZ4HeaderChecksum checks the short XXH32 against the frames the lz4
// library writes, with and without a content size.
func TestLZ4HeaderChecksum(t *testing.T) {
	for _, opts := range [][]lz4.Option{nil, {lz4.SizeOption(11)}} {
		var buf bytes.Buffer
		w := lz4.NewWriter(&buf)
		if err := w.Apply(opts...); err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("hello world"))
		w.Close()
		frame := buf.Bytes()
		hc := 6
		if frame[4]&lz4FlagSize != 0 {
			hc += 8
		}
		if got := lz4HeaderChecksum(frame[4:hc]); got != frame[hc] {
			t.Fatalf("options %v: checksum %#x, the frame has %#x", opts, got, frame[hc])
		}
		if fixed := fixLZ4V0Header(breakLZ4Checksum(t, frame)); !bytes.Equal(fixed, frame) {
			t.Fatalf("options %v: the fixed frame differs", opts)
		}
	}
}

// expandSet decodes a Fetch v0-3 message set as a consumer does: wrapper
// messages are decompressed and their inner messages given absolute
// offsets (and, under LogAppendTime, the wrapper's timestamp).
func expandSet(t testing.TB, set []byte) []legacyMessage {
	t.Helper()
	var out []legacyMessage
	for len(set) > 0 {
		m, n, err := readLegacyMessage(set)
		if err != nil {
			t.Fatal(err)
		}
		set = set[n:]
		if m.codec() == CodecNone {
			out = append(out, m)
			continue
		}
		var c DownConverter
		inner, err := c.decompress(m.codec(), m.value)
		if err != nil {
			t.Fatalf("wrapper at offset %d: %v", m.offset, err)
		}
		inner = bytes.Clone(inner)
		var msgs []legacyMessage
		for len(inner) > 0 {
			im, k, err := readLegacyMessage(inner)
			if err != nil || im.magic != m.magic || im.codec() != CodecNone {
				t.Fatalf("inner message %+v: %v", im, err)
			}
			msgs = append(msgs, im)
			inner = inner[k:]
		}
		if len(msgs) == 0 {
			t.Fatal("empty wrapper")
		}
		if m.magic == MagicV1 {
			delta := m.offset - msgs[len(msgs)-1].offset
			for i := range msgs {
				msgs[i].offset += delta
			}
		} else if msgs[len(msgs)-1].offset != m.offset {
			t.Fatalf("v0 wrapper offset %d, last inner %d", m.offset, msgs[len(msgs)-1].offset)
		}
		out = append(out, msgs...)
	}
	return out
}

func TestDownConvert(t *testing.T) {
	recs := testRecords(5, 20) // keys on even records, headers on every third
	for _, codec := range []int8{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		for _, magic := range []int8{MagicV0, MagicV1} {
			t.Run(fmt.Sprintf("codec=%d/magic=%d", codec, magic), func(t *testing.T) {
				batch := buildBatch(t, batchSpec{codec: codec, recs: recs})
				SetBaseOffset(batch, 100)
				c := DownConverter{Magic: magic}
				out, next, stopped, err := c.Append(nil, batch, 102, 1<<20, 1<<30)
				if err != nil || stopped || next != 105 {
					t.Fatalf("next %d stopped %v err %v", next, stopped, err)
				}
				wrapped := codec == CodecGzip || codec == CodecSnappy || (codec == CodecLZ4 && magic == MagicV1)
				if first, _, _ := readLegacyMessage(out); (first.codec() != CodecNone) != wrapped {
					t.Fatalf("first entry has codec %d", first.codec())
				}
				got := expandSet(t, out)
				if len(got) != 3 {
					t.Fatalf("%d messages, want 3 (from offset 102)", len(got))
				}
				for i, m := range got {
					r := recs[i+2]
					wantTS := int64(1_700_000_000_000) + r.TimestampDelta64
					if magic == MagicV0 {
						wantTS = -1
					}
					if m.magic != magic || m.attrs != 0 || m.offset != int64(102+i) || m.timestamp != wantTS ||
						!bytes.Equal(m.key, r.Key) || (m.key == nil) != (r.Key == nil) || !bytes.Equal(m.value, r.Value) {
						t.Fatalf("message %d: %+v, want record %+v", i, m, r)
					}
				}

				// Bounds count plain message sizes (and a wrapper's
				// header): room for exactly two stops before the third.
				plainBatch := buildBatch(t, batchSpec{recs: recs})
				SetBaseOffset(plainBatch, 100)
				plain, _, _, _ := (&DownConverter{Magic: magic}).Append(nil, plainBatch, 102, 1<<20, 1<<30)
				two := legacyEntryOverhead + int(binary.BigEndian.Uint32(plain[8:]))
				one := two
				two += legacyEntryOverhead + int(binary.BigEndian.Uint32(plain[two+8:]))
				if wrapped {
					one += legacyEntryOverhead + legacyMessageSize(magic, nil, nil)
					two += legacyEntryOverhead + legacyMessageSize(magic, nil, nil)
				}
				out2, next2, stopped2, err := c.Append(nil, batch, 102, two, 0)
				if err != nil || !stopped2 || next2 != 104 || len(out2) > two || len(expandSet(t, out2)) != 2 {
					t.Fatalf("bounded: next %d stopped %v err %v, %d bytes of %d", next2, stopped2, err, len(out2), two)
				}
				// A bound below one message: nothing, unless the first
				// message may take more.
				if out3, next3, _, _ := c.Append(nil, batch, 102, 10, 0); len(out3) != 0 || next3 != 102 {
					t.Fatalf("tiny bound: %d bytes, next %d", len(out3), next3)
				}
				if out4, next4, _, _ := c.Append(nil, batch, 102, 10, one); len(expandSet(t, out4)) != 1 || next4 != 103 {
					t.Fatalf("tiny bound, first: %d bytes, next %d", len(out4), next4)
				}
			})
		}
	}
}

func TestDownConvertSkipsAndStamps(t *testing.T) {
	recs := testRecords(3, 4)
	control := buildBatch(t, batchSpec{recs: recs, mutate: func(b *kmsg.RecordBatch) { b.Attributes |= 0x20 }})
	var c DownConverter
	c.Magic = MagicV1
	out, next, _, err := c.Append(nil, control, 0, 1<<20, 1<<30)
	if err != nil || len(out) != 0 || next != 3 {
		t.Fatalf("control batch: %d bytes, next %d, err %v", len(out), next, err)
	}
	before := buildBatch(t, batchSpec{recs: recs})
	SetBaseOffset(before, 10)
	if out, next, _, err = c.Append(nil, before, 20, 1<<20, 1<<30); err != nil || len(out) != 0 || next != 20 {
		t.Fatalf("batch before the offset: %d bytes, next %d, err %v", len(out), next, err)
	}
	lat := buildBatch(t, batchSpec{recs: recs})
	SetLogAppendTime(lat, 42)
	if out, _, _, err = c.Append(nil, lat, 0, 1<<20, 1<<30); err != nil {
		t.Fatal(err)
	}
	m, _, err := readLegacyMessage(out)
	if err != nil || m.timestamp != 42 || m.attrs != legacyAttrTimestampType {
		t.Fatalf("log append time: %+v, %v", m, err)
	}
}

// FuzzUpConvertMessageSet feeds arbitrary bytes to the message-set decoder
// and up-converter. Whatever it accepts must be a valid v2 batch whose
// records, converted back to the input's format, carry the same keys and
// values.
func FuzzUpConvertMessageSet(f *testing.F) {
	inner := legacySet(MagicV1, testMsg{offset: 0, timestamp: 3, key: []byte("k"), value: []byte("v")}, testMsg{offset: 1, value: []byte("w")})
	f.Add(legacySet(MagicV0, testMsg{key: []byte("k"), value: []byte("v")}))
	f.Add(inner)
	for _, codec := range []int8{CodecGzip, CodecSnappy, CodecLZ4} {
		f.Add(wrapper(f, MagicV1, codec, 1, 3, inner))
		f.Add(wrapper(f, MagicV0, codec, 0, 0, legacySet(MagicV0, testMsg{value: []byte("x")})))
	}
	f.Add(legacySet(MagicV0, testMsg{attrs: CodecLZ4, value: breakLZ4Checksum(f, compress(f, CodecLZ4, legacySet(MagicV0, testMsg{value: []byte("x")})))}))
	f.Add(legacySet(MagicV1, testMsg{attrs: CodecLZ4, value: breakLZ4Checksum(f, compress(f, CodecLZ4, inner))}))
	// Magic-1 inner offsets that are not 0..n-1, under a wrapper offset
	// that is 0, at least the last inner one, or below it.
	odd := legacySet(MagicV1, testMsg{offset: 7, value: []byte("a")}, testMsg{offset: 3, value: []byte("b")})
	for _, at := range []int64{0, 3, 2} {
		f.Add(wrapper(f, MagicV1, CodecGzip, at, 3, odd))
	}
	f.Fuzz(func(t *testing.T, set []byte) {
		cfg := ValidateConfig{MaxDecompressedBytes: 1 << 20}
		batch, err := UpConvertMessageSet(set, cfg)
		if err != nil {
			if batch != nil {
				t.Fatal("a batch with an error")
			}
			return
		}
		if _, err := ValidateProduceBatch(bytes.Clone(batch), cfg); err != nil {
			t.Fatalf("accepted set converts to an invalid batch: %v", err)
		}
		w := getWalker(1 << 20)
		defer w.release()
		var want []legacyMessage
		if err := w.walk(set, func(m *legacyMessage) error {
			want = append(want, legacyMessage{key: bytes.Clone(m.key), value: bytes.Clone(m.value)})
			return nil
		}); err != nil {
			t.Fatalf("second walk: %v", err)
		}
		var c DownConverter
		c.Magic = MagicV1
		out, _, _, err := c.Append(nil, batch, 0, 1<<30, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		got := expandSet(t, out)
		if len(got) != len(want) {
			t.Fatalf("%d messages from %d records", len(got), len(want))
		}
		for i, m := range got {
			if m.offset != int64(i) || !bytes.Equal(m.key, want[i].key) || (m.key == nil) != (want[i].key == nil) || !bytes.Equal(m.value, want[i].value) {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}

// TestUpConvertGolden compares an uncompressed magic-1 set's conversion
// byte for byte with the batch kmsg's reference encoder writes for the same
// records: for uncompressed data Kafka's result is fixed by the format
// (base offset 0 and leader epoch -1 until the append, no producer).
func TestUpConvertGolden(t *testing.T) {
	recs := testRecords(5, 8)
	var msgs []testMsg
	for i := range recs {
		recs[i].Headers = nil // format v1 has none
		msgs = append(msgs, testMsg{offset: int64(i), timestamp: 1_700_000_000_000 + recs[i].TimestampDelta64, key: recs[i].Key, value: recs[i].Value})
	}
	want := buildBatch(t, batchSpec{recs: recs, mutate: func(b *kmsg.RecordBatch) { b.PartitionLeaderEpoch = -1 }})
	got, err := UpConvertMessageSet(legacySet(MagicV1, msgs...), ValidateConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("converted batch\n%x\nwant\n%x", got, want)
	}

	// Compressed, the bytes depend on the compressor, but the header
	// (but for length, codec and CRC) and the decompressed records are
	// fixed.
	wantHdr, _ := ParseBatchHeader(want)
	for _, codec := range []int8{CodecGzip, CodecSnappy, CodecLZ4} {
		got, err := UpConvertMessageSet(wrapper(t, MagicV1, codec, 4, 0, legacySet(MagicV1, msgs...)), ValidateConfig{})
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		h, err := ParseBatchHeader(got)
		if err != nil {
			t.Fatal(err)
		}
		var c DownConverter
		records, err := c.decompress(codec, got[RecordBatchHeaderSize:])
		if err != nil {
			t.Fatalf("codec %d: %v", codec, err)
		}
		h.BatchLength, h.CRC = wantHdr.BatchLength, wantHdr.CRC
		if h.Attributes != int16(codec) || !bytes.Equal(records, want[RecordBatchHeaderSize:]) {
			t.Fatalf("codec %d: attributes %d, records differ", codec, h.Attributes)
		}
		h.Attributes = wantHdr.Attributes
		if h != wantHdr {
			t.Fatalf("codec %d: header %+v, want %+v", codec, h, wantHdr)
		}
	}
}

// BenchmarkUpConvert converts a Produce v2 message set of 100 messages of
// 1 KiB (format v1), plain and in one gzip or lz4 wrapper. Bytes/s counts
// the messages uncompressed, so that the rate reads as a cost per GiB of
// data whatever the codec.
func BenchmarkUpConvert(b *testing.B) {
	var msgs []testMsg
	for i := range 100 {
		msgs = append(msgs, testMsg{offset: int64(i), timestamp: int64(1_700_000_000_000 + i), key: []byte(fmt.Sprintf("key-%d", i)), value: bytes.Repeat([]byte{byte(i)}, 1024)})
	}
	inner := legacySet(MagicV1, msgs...)
	for _, tc := range []struct {
		name string
		set  []byte
	}{
		{"none", inner},
		{"gzip", wrapper(b, MagicV1, CodecGzip, 99, 0, inner)},
		{"lz4", wrapper(b, MagicV1, CodecLZ4, 99, 0, inner)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(inner)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := UpConvertMessageSet(tc.set, ValidateConfig{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDownConvert converts a stored batch of 100 records of 1 KiB to
// format v1 for Fetch v2-3, plain and compressed (one wrapper of the same
// codec). Bytes/s counts the stored batch as it would be uncompressed.
func BenchmarkDownConvert(b *testing.B) {
	recs := testRecords(100, 1024)
	for _, codec := range []int8{CodecNone, CodecGzip, CodecSnappy, CodecLZ4} {
		batch := buildBatch(b, batchSpec{codec: codec, recs: recs})
		raw := len(buildBatch(b, batchSpec{recs: recs}))
		b.Run(fmt.Sprintf("codec=%d", codec), func(b *testing.B) {
			c := DownConverter{Magic: MagicV1}
			var out []byte
			b.SetBytes(int64(raw))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if out, _, _, err = c.Append(out[:0], batch, 0, 1<<30, 1<<30); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDownConvert feeds arbitrary bytes as a stored batch to the
// down-converter: it must not panic, and what it writes must parse as
// whole messages of the asked format within the bounds.
func FuzzDownConvert(f *testing.F) {
	for _, codec := range []int8{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		f.Add(buildBatch(f, batchSpec{codec: codec, recs: testRecords(4, 10)}), int64(1), uint16(200), false)
	}
	f.Fuzz(func(t *testing.T, batch []byte, from int64, maxLen uint16, v0 bool) {
		c := DownConverter{Magic: MagicV1, MaxDecompressedBytes: 1 << 20}
		if v0 {
			c.Magic = MagicV0
		}
		out, _, _, err := c.Append(nil, batch, from, int(maxLen), 1<<20)
		if err != nil {
			return
		}
		if len(out) > int(maxLen) && len(expandSet(t, out)) != 1 {
			t.Fatalf("%d bytes for a bound of %d, more than one message", len(out), maxLen)
		}
		for _, m := range expandSet(t, out) {
			if m.magic != c.Magic {
				t.Fatalf("message of magic %d", m.magic)
			}
		}
	})
}
