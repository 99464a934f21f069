package txncoord

import (
	"bytes"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestEncodeBatchDecodesWithKmsg checks EncodeBatch against franz-go's
// independent decoder of Kafka's batch format.
func TestEncodeBatchDecodesWithKmsg(t *testing.T) {
	b := EncodeBatch([]byte("k"), []byte("value"), 1234)
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if rb.Magic != 2 || rb.NumRecords != 1 || rb.ProducerID != -1 || rb.FirstTimestamp != 1234 || int(rb.Length) != len(b)-12 {
		t.Fatalf("batch header = %+v", rb)
	}
	var rec kmsg.Record
	if err := rec.ReadFrom(rb.Records); err != nil {
		t.Fatal(err)
	}
	if string(rec.Key) != "k" || string(rec.Value) != "value" {
		t.Fatalf("record = %q/%q", rec.Key, rec.Value)
	}
}

func TestForEachRecord(t *testing.T) {
	a := EncodeBatch([]byte("a"), []byte("1"), 1)
	tomb := EncodeBatch([]byte("b"), nil, 1)
	// Place the second batch at offset 7, as a compacted log may (the
	// base offset is outside the CRC).
	tomb = setBaseOffset(tomb, 7)
	var got []string
	next, err := ForEachRecord(append(append([]byte(nil), a...), tomb...), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v)+map[bool]string{true: "<nil>", false: ""}[v == nil])
		return nil
	})
	if err != nil || next != 8 || len(got) != 2 || got[0] != "a=1" || got[1] != "b=<nil>" {
		t.Fatalf("ForEachRecord = %v, next %d, %v", got, next, err)
	}
	bad := append([]byte(nil), a...)
	bad[len(bad)-2] ^= 0xff
	if _, err := ForEachRecord(bad, func(k, v []byte) error { return nil }); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("corrupted batch: %v", err)
	}
	if _, err := ForEachRecord(a[:len(a)-1], func(k, v []byte) error { return nil }); !errors.Is(err, ErrCorruptRecord) {
		t.Fatalf("truncated batch: %v", err)
	}
}

// setBaseOffset sets b's base offset to base (the leader's stamp).
func setBaseOffset(b []byte, base int64) []byte {
	for i := 0; i < 8; i++ {
		b[i] = byte(base >> (56 - 8*i))
	}
	return b
}

func FuzzForEachRecord(f *testing.F) {
	f.Add(EncodeBatch([]byte("k"), []byte("v"), 1))
	f.Add(append(EncodeBatch(EncodeKey("tx"), EncodeValue(Metadata{State: Empty, StartMs: -1}), 5), EncodeBatch([]byte("x"), nil, 2)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := ForEachRecord(data, func(k, v []byte) error {
			if !bytes.Contains(data, k) || !bytes.Contains(data, v) {
				t.Fatalf("record fields not from the input")
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrCorruptRecord) && !errors.Is(err, ErrCompressedBatch) {
			t.Fatalf("error %v is neither ErrCorruptRecord nor ErrCompressedBatch", err)
		}
	})
}
