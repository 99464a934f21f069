package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/wire"
)

// TestCleanTransactions compacts a log with committed and aborted
// transactions: an aborted record never shadows the committed value of
// its key and is removed, markers stay, the cleaned segment keeps the
// transaction index entries, and an open transaction stops the clean at
// its first offset.
func TestCleanTransactions(t *testing.T) {
	cfg := compactConfig(DefaultConfig())
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	defer l.Close()
	app := keyedAppender(t, l)
	w := newTxnWriter(t, l)
	app(1, true, kv{key: []byte("k"), value: []byte("committed")}) // 0
	w.marker(1, true, 0)                                           // 1
	app(2, true, kv{key: []byte("k"), value: []byte("aborted")})   // 2
	app(-1, false, kv{key: []byte("j"), value: []byte("plain")})   // 3
	w.marker(2, false, 0)                                          // 4
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	open := app(3, true, kv{key: []byte("j"), value: []byte("open")}) // 5
	if err := l.Roll(); err != nil {
		t.Fatal(err)
	}
	app(-1, false, kv{key: []byte("z"), value: []byte("1")})
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	l.HighWatermarkMoved(l.EndOffset())
	res, err := l.Clean(context.Background(), CleanOptions{UpperBound: l.EndOffset(), MapEntries: 100, Codec: wire.Codecs{}, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.NextDirty > open {
		t.Fatalf("cleaned through %d, past the open transaction at %d", res.NextDirty, open)
	}
	var recs []readRecord
	for _, r := range readAll(t, l) {
		if r.offset != 1 && r.offset != 4 { // the markers
			recs = append(recs, r)
		}
	}
	want := []readRecord{{0, "k", "committed", false}, {3, "j", "plain", false}, {5, "j", "open", false}, {6, "z", "1", false}}
	if fmt.Sprint(recs) != fmt.Sprint(want) {
		t.Fatalf("records after the clean %+v, want %+v", recs, want)
	}
	data, err := l.Read(0, 1<<20, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	markers := 0
	for _, h := range splitRead(t, data) {
		if h.IsControl() {
			markers++
		}
	}
	if markers != 2 {
		t.Fatalf("%d markers after the clean, want 2", markers)
	}
	if got := l.AbortedTxns(0, l.EndOffset()); len(got) != 1 || got[0].ProducerID != 2 || got[0].FirstOffset != 2 || got[0].LastOffset != 4 {
		t.Fatalf("aborted after the clean: %+v", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg, OpenOptions{CleanShutdown: true})
	if got := l.AbortedTxns(0, l.EndOffset()); len(got) != 1 || got[0].ProducerID != 2 {
		t.Fatalf("aborted after the clean and a reopen: %+v", got)
	}
}

// keyedAppender returns a function appending one batch of keyed records
// to l as the leader, from producer pid (-1: none) with its next
// sequence, transactional when txn; it returns the batch's base offset.
func keyedAppender(t *testing.T, l *Log) func(pid int64, txn bool, recs ...kv) int64 {
	t.Helper()
	seq := map[int64]int32{}
	return func(pid int64, txn bool, recs ...kv) int64 {
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
}

// TestCleanAbortMarkerInActiveSegment: an aborted transaction whose data
// lies in a cleanable segment but whose ABORT marker (and so its
// .txnindex entry) lies in the active segment.
func TestCleanAbortMarkerInActiveSegment(t *testing.T) {
	cfg := compactConfig(DefaultConfig())
	dir := t.TempDir()
	l := openLog(t, dir, cfg, OpenOptions{})
	defer l.Close()
	app := keyedAppender(t, l)
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
