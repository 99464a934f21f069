package storage

import (
	"errors"
	"math"
	"testing"
)

func TestProducerStateCheck(t *testing.T) {
	batch := func(epoch int16, first, last int32, off int64) ProducerBatch {
		return ProducerBatch{ProducerID: 7, ProducerEpoch: epoch, FirstSeq: first, LastSeq: last, FirstOffset: off, LastOffset: off + int64(last-first)}
	}
	tests := []struct {
		name    string
		history []ProducerBatch
		epoch   int16
		first   int32
		last    int32
		wantDup int64 // FirstOffset of the duplicate, -1 for none
		wantErr error
	}{
		{name: "unknown producer any sequence", epoch: 0, first: 42, last: 43, wantDup: -1},
		{name: "next in sequence", history: []ProducerBatch{batch(0, 0, 4, 0)}, epoch: 0, first: 5, last: 9, wantDup: -1},
		{name: "gap", history: []ProducerBatch{batch(0, 0, 4, 0)}, epoch: 0, first: 6, last: 9, wantDup: -1, wantErr: ErrOutOfOrderSequence},
		{name: "behind but not a retry", history: []ProducerBatch{batch(0, 0, 4, 0), batch(0, 5, 9, 5)}, epoch: 0, first: 3, last: 9, wantDup: -1, wantErr: ErrOutOfOrderSequence},
		{name: "retry of the last batch", history: []ProducerBatch{batch(0, 0, 4, 0), batch(0, 5, 9, 5)}, epoch: 0, first: 5, last: 9, wantDup: 5},
		{name: "retry of an older batch", history: []ProducerBatch{batch(0, 0, 4, 0), batch(0, 5, 9, 5)}, epoch: 0, first: 0, last: 4, wantDup: 0},
		{name: "retry older than five batches", history: []ProducerBatch{
			batch(0, 0, 0, 0), batch(0, 1, 1, 1), batch(0, 2, 2, 2), batch(0, 3, 3, 3), batch(0, 4, 4, 4), batch(0, 5, 5, 5),
		}, epoch: 0, first: 0, last: 0, wantDup: -1, wantErr: ErrOutOfOrderSequence},
		{name: "fenced older epoch", history: []ProducerBatch{batch(2, 0, 4, 0)}, epoch: 1, first: 5, last: 9, wantDup: -1, wantErr: ErrInvalidProducerEpoch},
		{name: "fenced older epoch even for a retry", history: []ProducerBatch{batch(2, 0, 4, 0)}, epoch: 1, first: 0, last: 4, wantDup: -1, wantErr: ErrInvalidProducerEpoch},
		{name: "epoch bump from zero", history: []ProducerBatch{batch(0, 0, 4, 0)}, epoch: 1, first: 0, last: 0, wantDup: -1},
		{name: "epoch bump not from zero", history: []ProducerBatch{batch(0, 0, 4, 0)}, epoch: 1, first: 5, last: 5, wantDup: -1, wantErr: ErrOutOfOrderSequence},
		{name: "same sequence under a new epoch is not a duplicate", history: []ProducerBatch{batch(0, 0, 4, 0)}, epoch: 1, first: 0, last: 4, wantDup: -1},
		{name: "wrap after MaxInt32", history: []ProducerBatch{batch(0, math.MaxInt32-1, math.MaxInt32, 0)}, epoch: 0, first: 0, last: 3, wantDup: -1},
		{name: "no wrap before MaxInt32", history: []ProducerBatch{batch(0, 10, 20, 0)}, epoch: 0, first: 0, last: 3, wantDup: -1, wantErr: ErrOutOfOrderSequence},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s ProducerState
			for _, b := range tc.history {
				s.Record(b)
			}
			dup, err := s.Check(7, tc.epoch, tc.first, tc.last)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			switch {
			case tc.wantDup < 0 && dup != nil:
				t.Fatalf("duplicate of %+v, want none", *dup)
			case tc.wantDup >= 0 && (dup == nil || dup.FirstOffset != tc.wantDup):
				t.Fatalf("dup = %v, want the batch at %d", dup, tc.wantDup)
			}
		})
	}
}

func TestProducerStateRecordKeepsFive(t *testing.T) {
	var s ProducerState
	for i := range int32(8) {
		s.Record(ProducerBatch{ProducerID: 1, FirstSeq: i, LastSeq: i, FirstOffset: int64(i)})
	}
	for i := range int32(8) {
		dup, err := s.Check(1, 0, i, i)
		if i < 3 && (dup != nil || err == nil) {
			t.Fatalf("seq %d still remembered", i)
		}
		if i >= 3 && (dup == nil || err != nil) {
			t.Fatalf("seq %d forgotten: %v", i, err)
		}
	}
	// An older epoch's batch does not disturb the state.
	s.Record(ProducerBatch{ProducerID: 1, ProducerEpoch: 1, FirstSeq: 0, LastSeq: 0})
	s.Record(ProducerBatch{ProducerID: 1, ProducerEpoch: 0, FirstSeq: 100, LastSeq: 100})
	if b, _ := s.LastBatch(1); b.ProducerEpoch != 1 || b.LastSeq != 0 {
		t.Fatalf("last batch %+v, want epoch 1 seq 0", b)
	}
}

func TestProducerStateTruncateHead(t *testing.T) {
	var s ProducerState
	s.Record(ProducerBatch{ProducerID: 1, LastOffset: 9})
	s.Record(ProducerBatch{ProducerID: 2, LastOffset: 10})
	s.truncateHead(10)
	if _, ok := s.LastBatch(1); ok {
		t.Fatal("producer 1 kept after its data was deleted")
	}
	if _, ok := s.LastBatch(2); !ok {
		t.Fatal("producer 2 dropped")
	}
}

// TestProducerStateRemoveExpired checks Kafka's rule for
// producer.id.expiration.ms: a producer goes once now minus the max
// timestamp of its last batch reaches the expiration.
func TestProducerStateRemoveExpired(t *testing.T) {
	const now, exp = int64(1_700_000_000_000), int64(86_400_000)
	batch := func(pid int64, seq int32, ts int64) ProducerBatch {
		return ProducerBatch{ProducerID: pid, FirstSeq: seq, LastSeq: seq, FirstOffset: int64(seq), LastOffset: int64(seq), MaxTimestamp: ts}
	}
	tests := []struct {
		name    string
		batches []ProducerBatch
		markers []int64 // producers known only from a transaction marker (no batch)
		want    []int64 // producers left
	}{
		{name: "empty table"},
		{name: "older than the expiration goes", batches: []ProducerBatch{batch(1, 0, now-exp-1)}},
		{name: "exactly the expiration goes", batches: []ProducerBatch{batch(1, 0, now-exp)}},
		{name: "one millisecond younger stays", batches: []ProducerBatch{batch(1, 0, now-exp+1)}, want: []int64{1}},
		{name: "a timestamp in the future stays", batches: []ProducerBatch{batch(1, 0, now+exp)}, want: []int64{1}},
		{name: "the last batch decides", batches: []ProducerBatch{batch(1, 0, now-2*exp), batch(1, 1, now-1)}, want: []int64{1}},
		{name: "an old last batch goes though an earlier one is new", batches: []ProducerBatch{batch(1, 0, now), batch(1, 1, now-2*exp)}},
		{name: "the lowest timestamp does not overflow", batches: []ProducerBatch{batch(1, 0, math.MinInt64)}},
		{name: "no batch (NO_TIMESTAMP) goes", markers: []int64{4}},
		{name: "only the idle ones go", batches: []ProducerBatch{
			batch(1, 0, now-exp), batch(2, 0, now), batch(3, 0, now-3*exp), batch(5, 0, now-exp/2),
		}, markers: []int64{4}, want: []int64{2, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s ProducerState
			for _, b := range tc.batches {
				s.Record(b)
			}
			for _, pid := range tc.markers {
				s.entry(pid, 0)
			}
			before := s.Len()
			n := s.removeExpired(now, exp)
			if n != before-len(tc.want) || s.Len() != len(tc.want) {
				t.Fatalf("removed %d of %d, %d left; want %v left", n, before, s.Len(), tc.want)
			}
			for _, pid := range tc.want {
				if _, ok := s.producers[pid]; !ok {
					t.Errorf("producer %d removed, want it kept", pid)
				}
			}
		})
	}
}
