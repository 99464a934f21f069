package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/wire"
)

// TestCleanAbortMarkerInActiveSegment: an aborted transaction whose data
// lies in a cleanable segment but whose ABORT marker (and so its
// .txnindex entry) lies in the active segment.
func TestCleanAbortMarkerInActiveSegment(t *testing.T) {
	cfg := compactConfig(DefaultConfig())
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	defer l.Close()
	seq := map[int64]int32{}
	app := func(pid int64, txn bool, recs ...kv) int64 {
		base := l.EndOffset()
		b := encodeKeyed(t, base, 100, 0, pid, recs)
		if pid >= 0 {
			binary.BigEndian.PutUint32(b[recordbatch.BaseSequenceOffset:], uint32(seq[pid]))
			seq[pid] += int32(len(recs))
		}
		if txn {
			binary.BigEndian.PutUint16(b[recordbatch.AttributesOffset:], recordbatch.AttrTransactional)
		}
		recordbatch.SetCRC(b)
		h, _ := parseBatchHeader(b)
		if err := l.Append(b, AppendInfo{BaseOffset: base, LastOffset: h.LastOffset(), MaxTimestamp: h.MaxTimestamp}); err != nil {
			t.Fatal(err)
		}
		return base
	}
	w := newTxnWriter(t, l)
	app(1, true, kv{key: []byte("k"), value: []byte("committed")}) // 0
	w.marker(1, true, 0)                                           // 1
	app(2, true, kv{key: []byte("k"), value: []byte("aborted")})   // 2
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	w.marker(2, false, 0) // 3, in the active segment
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	l.HighWatermarkMoved(l.EndOffset())
	if _, err := l.Clean(context.Background(), CleanOptions{UpperBound: l.EndOffset(), MapEntries: 100, Codec: wire.Codecs{}, Force: true}); err != nil {
		t.Fatal(err)
	}
	var got []string
	aborted := l.AbortedTxns(0, l.EndOffset())
	for _, r := range readAll(t, l) {
		if r.offset == 1 || r.offset == 3 {
			continue
		}
		skip := false
		for _, a := range aborted {
			if r.offset >= a.FirstOffset && r.offset <= a.LastOffset {
				skip = true
			}
		}
		if !skip {
			got = append(got, fmt.Sprintf("%d:%s", r.offset, r.value))
		}
	}
	if fmt.Sprint(got) != "[0:committed]" {
		t.Fatalf("read_committed view after the clean: %v, want [0:committed]", got)
	}
}
