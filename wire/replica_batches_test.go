package wire

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// replicaBatches returns n consecutive batches of 3 records each starting
// at base, as a leader's log holds them.
func replicaBatches(t testing.TB, base int64, n int) []byte {
	var out []byte
	for i := 0; i < n; i++ {
		b := buildBatch(t, batchSpec{recs: testRecords(3, 10)})
		SetBaseOffset(b, base+int64(3*i)) // outside the CRC
		out = append(out, b...)
	}
	return out
}

func TestSplitReplicaBatches(t *testing.T) {
	three := replicaBatches(t, 10, 3)
	one, _ := ParseBatchHeader(three)
	corrupt := bytes.Clone(three)
	corrupt[one.Size()+recordbatch.AttributesOffset+5] ^= 0xff // inside the second batch
	backwards := append(replicaBatches(t, 10, 1), replicaBatches(t, 5, 1)...)
	tests := []struct {
		name    string
		data    []byte
		batches int
		n       int
		err     bool
	}{
		{"empty", nil, 0, 0, false},
		{"whole batches", three, 3, len(three), false},
		{"a cut last batch is left for the next fetch", three[:len(three)-7], 2, 2 * one.Size(), false},
		{"only a header's worth", three[:RecordBatchHeaderSize-1], 0, 0, false},
		{"bad crc", corrupt, 0, 0, true},
		{"offsets going back", backwards, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdrs, n, err := SplitReplicaBatches(tc.data)
			if tc.err {
				if !errors.Is(err, ErrCorruptMessage) {
					t.Fatalf("err = %v, want ErrCorruptMessage", err)
				}
				return
			}
			if err != nil || len(hdrs) != tc.batches || n != tc.n {
				t.Fatalf("got %d batches, %d bytes, %v; want %d, %d", len(hdrs), n, err, tc.batches, tc.n)
			}
		})
	}
}

// FuzzSplitReplicaBatches feeds arbitrary bytes as a leader's fetch answer:
// the follower must never panic, and what it accepts must be whole batches
// with valid CRCs that tile the accepted prefix.
func FuzzSplitReplicaBatches(f *testing.F) {
	f.Add(replicaBatches(f, 0, 2))
	f.Add(replicaBatches(f, 100, 1)[:40])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		hdrs, n, err := SplitReplicaBatches(data)
		if err != nil {
			return
		}
		if n > len(data) {
			t.Fatalf("accepted %d bytes of %d", n, len(data))
		}
		pos := 0
		for _, h := range hdrs {
			if err := checkCRC(data[pos:], h); err != nil {
				t.Fatalf("accepted a batch with a bad crc: %v", err)
			}
			pos += h.Size()
		}
		if pos != n {
			t.Fatalf("batches cover %d bytes, accepted %d", pos, n)
		}
	})
}
