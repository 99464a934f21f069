package storage

import (
	"encoding/binary"
	"math"
	"os"
	"testing"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// FuzzRecovery appends valid batches, then damages the active segment with
// fuzz bytes (appended garbage and/or overwritten bytes). Open must not
// panic, and the log it yields must read back as whole CRC-valid batches
// from start to end and take a new append.
func FuzzRecovery(f *testing.F) {
	f.Add([]byte{}, uint16(0), []byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 60}, uint16(0), []byte{})
	f.Add(testBatch{base: 1000, records: 2, pid: -1}.encode(), uint16(3), []byte{0xff})
	f.Add([]byte{}, uint16(70), []byte{1, 2, 3})
	// Transaction markers after the data: a commit, and an abort whose
	// record is damaged (recovery and producer-state replay must not
	// trip on it).
	commit := recordbatch.BuildEndTxnMarker(3, 0, 5, recordbatch.EndTxnMarker{Commit: true, CoordinatorEpoch: 1})
	binary.BigEndian.PutUint64(commit, 1000)
	f.Add(commit, uint16(0), []byte{})
	abort := recordbatch.BuildEndTxnMarker(3, 0, 5, recordbatch.EndTxnMarker{})
	binary.BigEndian.PutUint64(abort, 1000)
	abort[len(abort)-4] = 0x7f
	recordbatch.SetCRC(abort)
	f.Add(abort, uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, tail []byte, at uint16, overwrite []byte) {
		cfg := DefaultConfig()
		cfg.SegmentBytes = 400
		cfg.IndexIntervalBytes = 1
		dir := t.TempDir()
		l, err := Open(dir, cfg, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, nil, 6, 0)
		l.Close()
		path := lastSegmentLog(t, dir)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, tail...)
		for i, b := range overwrite {
			if p := int(at) + i; p < len(data) {
				data[p] = b
			}
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		l, err = Open(dir, cfg, OpenOptions{RecoveryPoint: 0})
		if err != nil {
			t.Fatalf("open after damage: %v", err)
		}
		defer l.Close()
		for off := l.StartOffset(); off < l.EndOffset(); {
			data, err := l.Read(off, 1<<20, math.MaxInt64)
			if err != nil {
				t.Fatalf("read %d: %v", off, err)
			}
			hs := splitRead(t, data)
			if len(hs) == 0 {
				t.Fatalf("read %d below end %d: nothing", off, l.EndOffset())
			}
			next := hs[len(hs)-1].LastOffset() + 1
			if next <= off {
				t.Fatalf("read %d made no progress", off)
			}
			off = next
		}
		tb := testBatch{base: l.EndOffset(), records: 1, pid: -1}
		if err := l.Append(tb.encode(), tb.info()); err != nil {
			t.Fatalf("append after recovery: %v", err)
		}
	})
}
