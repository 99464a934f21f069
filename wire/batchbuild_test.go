package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/snappy/xerial"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// codecSnappyXerial is a test-only pseudo codec: snappy framed the way Kafka's
// Java producer frames it.
const codecSnappyXerial int8 = 100

// codecSnappyXerialLib is xerial framing as klauspost's encoder writes it.
const codecSnappyXerialLib int8 = 101

// testRecords returns n records with valueSize-byte values, a key on even
// records and a header on every third.
func testRecords(n, valueSize int) []kmsg.Record {
	recs := make([]kmsg.Record, n)
	for i := range recs {
		r := kmsg.Record{TimestampDelta64: int64(i * 10), OffsetDelta: int32(i), Value: bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)}
		if i%2 == 0 {
			r.Key = []byte(fmt.Sprintf("key-%d", i))
		}
		if i%3 == 0 {
			r.Headers = []kmsg.Header{{Key: "h", Value: []byte("v")}, {Key: "null"}}
		}
		recs[i] = r
	}
	return recs
}

// encodeRecords encodes records, computing each record's length prefix.
func encodeRecords(recs []kmsg.Record) []byte {
	var out []byte
	for _, r := range recs {
		r.Length = 0
		body := r.AppendTo(nil)[1:] // drop the one-byte varint 0
		r.Length = int32(len(body))
		out = r.AppendTo(out)
	}
	return out
}

// compress compresses raw with codec, as each client library does.
func compress(t testing.TB, codec int8, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch codec {
	case CodecNone:
		return raw
	case CodecGzip:
		w := gzip.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case CodecSnappy:
		return snappy.Encode(nil, raw)
	case codecSnappyXerial:
		// Small blocks so the test covers several xerial blocks.
		out := append([]byte{}, xerialMagic...)
		out = binary.BigEndian.AppendUint32(out, 1)
		out = binary.BigEndian.AppendUint32(out, 1)
		for len(raw) > 0 {
			n := min(len(raw), 1000)
			blk := snappy.Encode(nil, raw[:n])
			out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
			out = append(out, blk...)
			raw = raw[n:]
		}
		return out
	case codecSnappyXerialLib:
		return xerial.Encode(nil, raw)
	case CodecLZ4:
		w := lz4.NewWriter(&buf)
		w.Write(raw)
		w.Close()
	case CodecZstd:
		w, err := zstd.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
		w.Close()
	default:
		t.Fatalf("unknown codec %d", codec)
	}
	return buf.Bytes()
}

// batchSpec describes a test batch; mutate may change the kmsg form before
// the length and CRC are computed.
type batchSpec struct {
	codec  int8
	recs   []kmsg.Record
	mutate func(*kmsg.RecordBatch)
	// payload, when set, replaces the encoded (compressed) records.
	payload []byte
}

// buildBatch encodes a magic-v2 batch with a correct length and CRC.
func buildBatch(t testing.TB, s batchSpec) []byte {
	t.Helper()
	attr := s.codec
	if attr == codecSnappyXerial || attr == codecSnappyXerialLib {
		attr = CodecSnappy
	}
	payload := s.payload
	if payload == nil {
		payload = compress(t, s.codec, encodeRecords(s.recs))
	}
	n := int32(len(s.recs))
	b := kmsg.RecordBatch{
		Magic:           2,
		Attributes:      int16(attr),
		LastOffsetDelta: n - 1,
		FirstTimestamp:  1_700_000_000_000,
		MaxTimestamp:    1_700_000_000_000 + int64(n-1)*10,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      n,
		Records:         payload,
	}
	if s.mutate != nil {
		s.mutate(&b)
	}
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
	binary.BigEndian.PutUint32(out[17:], crc32.Checksum(out[21:], crc32.MakeTable(crc32.Castagnoli)))
	return out
}
