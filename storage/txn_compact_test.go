package storage

import (
	"context"
	"fmt"
	"testing"

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
