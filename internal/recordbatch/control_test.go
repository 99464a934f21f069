package recordbatch

import (
	"bytes"
	"errors"
	"testing"
)

// TestEndTxnMarkerRoundTrip builds markers and reads them back, and checks
// the record bytes against Kafka's EndTransactionMarker layout.
func TestEndTxnMarkerRoundTrip(t *testing.T) {
	for _, m := range []EndTxnMarker{{Commit: true, CoordinatorEpoch: 0}, {Commit: false, CoordinatorEpoch: 77}, {Commit: true, CoordinatorEpoch: -1}} {
		b := BuildEndTxnMarker(42, 3, 1234, m)
		h, ok := ReadHeader(b)
		if !ok || h.Size() != len(b) || !h.IsControl() || !h.IsTransactional() || h.ProducerID != 42 || h.ProducerEpoch != 3 || h.RecordCount != 1 || h.BaseSequence != -1 {
			t.Fatalf("%+v: header %+v", m, h)
		}
		if !CRCValid(b) {
			t.Fatalf("%+v: bad CRC", m)
		}
		got, ok, err := ReadEndTxnMarker(b)
		if err != nil || !ok || got != m {
			t.Fatalf("read back %+v ok=%v err=%v, want %+v", got, ok, err, m)
		}
		typ := byte(0)
		if m.Commit {
			typ = 1
		}
		// key: length 4 (varint 8), version 0, type; value: length 6
		// (varint 12), version 0, coordinator epoch.
		key := []byte{8, 0, 0, 0, typ, 12, 0, 0}
		if !bytes.Contains(b[HeaderSize:], key) {
			t.Fatalf("%+v: record %x lacks key/value prefix %x", m, b[HeaderSize:], key)
		}
	}
}

// TestReadEndTxnMarkerRejects checks what is not a readable marker.
func TestReadEndTxnMarkerRejects(t *testing.T) {
	good := BuildEndTxnMarker(1, 0, 0, EndTxnMarker{Commit: true})
	data := append([]byte(nil), good...)
	data[AttributesOffset+1] &^= AttrControl
	if _, _, err := ReadEndTxnMarker(data); !errors.Is(err, ErrBadControlRecord) {
		t.Fatalf("data batch: %v", err)
	}
	if _, _, err := ReadEndTxnMarker(good[:len(good)-3]); !errors.Is(err, ErrBadControlRecord) {
		t.Fatalf("cut batch: %v", err)
	}
	other := append([]byte(nil), good...)
	other[HeaderSize+1+1+1+1+1+2] = 5 // control type 5 (KRaft): not a marker
	if _, ok, err := ReadEndTxnMarker(other); err != nil || ok {
		t.Fatalf("other control type: ok=%v err=%v, want skipped", ok, err)
	}
}

// FuzzReadEndTxnMarker feeds arbitrary control batches to the decoder: it
// never panics and never reads past the batch; a marker it reads builds
// back to one it reads the same.
func FuzzReadEndTxnMarker(f *testing.F) {
	f.Add(BuildEndTxnMarker(1, 0, 0, EndTxnMarker{Commit: true, CoordinatorEpoch: 5}))
	f.Add(BuildEndTxnMarker(7, 2, 99, EndTxnMarker{}))
	f.Add(make([]byte, HeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, ok, err := ReadEndTxnMarker(b)
		if err != nil && !errors.Is(err, ErrBadControlRecord) {
			t.Fatalf("error %v is not ErrBadControlRecord", err)
		}
		if ok {
			again, ok2, err2 := ReadEndTxnMarker(BuildEndTxnMarker(1, 0, 0, m))
			if err2 != nil || !ok2 || again != m {
				t.Fatalf("%+v does not round-trip: %+v %v %v", m, again, ok2, err2)
			}
		}
	})
}
