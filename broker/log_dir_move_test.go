package broker

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
)

// readWholeLog reads every batch of the partition's log.
func readWholeLog(t *testing.T, p *Partition) []byte {
	t.Helper()
	data, err := p.log.Read(p.log.StartOffset(), math.MaxInt32, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// leaderToMove makes this broker leader of tp at epoch with ten
// one-record batches, and returns it with the other of d1, d2 to move to.
func leaderToMove(t *testing.T, rm *replicaManager, tp topicPartition, epoch int32, d1, d2 string) (*Partition, string) {
	t.Helper()
	if err := rm.makeLeader(tp, testTopicID, epoch, testTopicConfig()); err != nil {
		t.Fatal(err)
	}
	p, _ := rm.get(tp)
	for i := range 10 {
		if _, err := appendBatch(t, p, plainBatch(1, int64(1000+i))); err != nil {
			t.Fatal(err)
		}
	}
	if filepath.Dir(p.log.Dir()) == d1 {
		return p, d2
	}
	return p, d1
}

// waitMoved waits for p's move to end and checks that its log is in
// target; what names the move in the failure.
func waitMoved(t *testing.T, p *Partition, target, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p.move.Load() != nil {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := filepath.Dir(p.log.Dir()); got != target {
		t.Fatalf("the log is in %s after the move, want %s", got, target)
	}
}

// TestLogDirMoveFollowsTruncation truncates the current log (as a follower
// does for a new leader) after the future log copied all of it, and writes
// as many different batches in place: the future log must be cut back
// with it, or the two would end at the same offset with different bytes.
// The moved log holds exactly the current log's bytes, with the leader
// epochs, in the target dir.
func TestLogDirMoveFollowsTruncation(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	rm, _ := newTestReplicaManager(t, d1, d2)
	defer rm.close()
	tp := topicPartition{"tr", 0}
	p, target := leaderToMove(t, rm, tp, 2, d1, d2)
	// Holding the partition lock keeps the mover from swapping; it copies
	// without it.
	rm.onMoveStart = func(*logMove) { p.mu.Lock() } // before the mover starts
	if err := rm.startMove(p, target, ""); err != nil {
		t.Fatal(err)
	}
	m := p.move.Load()
	if m == nil {
		p.mu.Unlock()
		t.Fatal("no move")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m.mu.Lock()
		caught := m.future.EndOffset() == p.log.EndOffset()
		m.mu.Unlock()
		if caught {
			break
		}
		if time.Now().After(deadline) {
			p.mu.Unlock()
			t.Fatal("the future log did not catch up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.log.TruncateTo(5); err != nil {
		p.mu.Unlock()
		t.Fatal(err)
	}
	if err := p.afterTruncateLocked(); err != nil {
		p.mu.Unlock()
		t.Fatal(err)
	}
	if got := m.future.EndOffset(); got != 5 {
		p.mu.Unlock()
		t.Fatalf("future log ends at %d after the current log was cut to 5", got)
	}
	for i := range 5 { // different batches at the same offsets
		b := plainBatch(1, int64(9000+i))
		wire.SetBaseOffset(b, p.log.EndOffset())
		if err := p.log.Append(b, storage.AppendInfo{}); err != nil {
			p.mu.Unlock()
			t.Fatal(err)
		}
	}
	want := readWholeLog(t, p)
	p.mu.Unlock()

	waitMoved(t, p, target, "the move did not finish")
	if got := readWholeLog(t, p); !bytes.Equal(got, want) {
		t.Fatalf("the moved log holds %d bytes, the current log had %d (or they differ)", len(got), len(want))
	}
	epochs, err := storage.ReadLeaderEpochs(p.log.FS(), p.log.Dir())
	if err != nil || len(epochs) != 1 || epochs[0].Epoch != 2 {
		t.Fatalf("leader epochs in the new dir: %+v, %v", epochs, err)
	}
}

// TestLogDirMoveThrottled moves a replica under
// replica.alter.log.dirs.io.max.bytes.per.second: with a bound of 0 the
// mover copies one step (the quota is not exceeded before anything was
// recorded, as Kafka's) and then nothing while the rate of what it copied
// is above the bound, so the move cannot finish; lifting the bound lets it
// finish with every batch, and the server is told the dirs it moved
// between (for the cleaner checkpoint).
func TestLogDirMoveThrottled(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	rm, _ := newTestReplicaManager(t, d1, d2)
	defer rm.close()
	q := &replicationQuota{}
	q.setBound(0)
	rm.moveQuota = q
	tp := topicPartition{"thr", 0}
	p, target := leaderToMove(t, rm, tp, 1, d1, d2)
	want := readWholeLog(t, p)
	source := filepath.Dir(p.log.Dir())
	type moved struct {
		tp       topicPartition
		from, to string
	}
	told := make(chan moved, 1)
	rm.afterMove = func(tp topicPartition, from, to string) { told <- moved{tp, from, to} }
	if err := rm.startMove(p, target, ""); err != nil {
		t.Fatal(err)
	}
	m := p.move.Load()
	if m == nil {
		t.Fatal("no move")
	}
	futureEnd := func() int64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.future.EndOffset()
	}
	// Over two of the mover's back-offs the future log holds the one
	// batch of the first step, never more.
	deadline := time.Now().Add(2*moveThrottleBackoff + moveThrottleBackoff/2)
	sawFirst := false
	for time.Now().Before(deadline) {
		switch end := futureEnd(); {
		case end > 1:
			t.Fatalf("the future log reached offset %d under a bound of 0 bytes/s; want 1 (one step)", end)
		case end == 1:
			sawFirst = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !sawFirst || p.move.Load() != m {
		t.Fatalf("first step copied: %v, move still on: %v", sawFirst, p.move.Load() == m)
	}
	q.setBound(-1) // unlimited
	waitMoved(t, p, target, "the move did not finish once the bound was lifted")
	select {
	case got := <-told:
		if got != (moved{tp, source, target}) {
			t.Fatalf("afterMove told %+v; want %s from %s to %s", got, tp, source, target)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("afterMove was not called after the move")
	}
	if got := readWholeLog(t, p); !bytes.Equal(got, want) {
		t.Fatalf("the moved log holds %d bytes, want the %d of the current log", len(got), len(want))
	}
}

// startHeldMove starts moving a 10-batch partition to the other of d1, d2
// under a move quota of 0 bytes/s, so that the move stays in progress
// after its first step; it returns the partition, the move's target and
// the future log's dir.
func startHeldMove(t *testing.T, rm *replicaManager, tp topicPartition, d1, d2 string) (*Partition, string, string) {
	t.Helper()
	q := &replicationQuota{}
	q.setBound(0)
	rm.moveQuota = q
	p, target := leaderToMove(t, rm, tp, 1, d1, d2)
	if err := rm.startMove(p, target, ""); err != nil {
		t.Fatal(err)
	}
	m := p.move.Load()
	if m == nil {
		t.Fatal("no move")
	}
	return p, target, m.future.Dir()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestStopReplicaStopsMove: a StopReplica without delete stops a move in
// progress (no mover runs, DescribeLogDirs shows no future replica) and
// keeps its future log on disk, as Kafka removes the future log's fetcher;
// the LeaderAndIsr that hands the replica a role again resumes it, and it
// finishes.
func TestStopReplicaStopsMove(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	rm, _ := newTestReplicaManager(t, d1, d2)
	defer rm.close()
	tp := topicPartition{"stop", 0}
	p, target, future := startHeldMove(t, rm, tp, d1, d2)
	m := p.move.Load()
	if err := rm.stopPartition(tp, false, false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.done:
	default:
		t.Fatal("the mover still runs after StopReplica")
	}
	if p.futureDir() != "" {
		t.Fatalf("the partition still moves to %s after StopReplica", p.futureDir())
	}
	if !exists(future) {
		t.Fatalf("StopReplica without delete removed the future log %s", future)
	}
	rm.moveQuota.setBound(-1)
	if _, err := rm.open(tp, testTopicID, testTopicConfig()); err != nil { // LeaderAndIsr
		t.Fatal(err)
	}
	if got := p.futureDir(); got != target {
		t.Fatalf("after a LeaderAndIsr the partition moves to %q, want %s resumed", got, target)
	}
	waitMoved(t, p, target, "the resumed move did not finish")
}

// TestStopReplicaDeleteRemovesFuture: a StopReplica with delete removes
// the future log of a move in progress with the log, and so it does for a
// move an earlier StopReplica without delete stopped.
func TestStopReplicaDeleteRemovesFuture(t *testing.T) {
	for _, stopFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("stopped first %v", stopFirst), func(t *testing.T) {
			d1, d2 := t.TempDir(), t.TempDir()
			rm, _ := newTestReplicaManager(t, d1, d2)
			defer rm.close()
			tp := topicPartition{"del", 0}
			p, _, future := startHeldMove(t, rm, tp, d1, d2)
			current := p.log.Dir()
			if stopFirst {
				if err := rm.stopPartition(tp, false, false); err != nil {
					t.Fatal(err)
				}
			}
			if err := rm.stopPartition(tp, true, true); err != nil {
				t.Fatal(err)
			}
			if exists(future) || exists(current) {
				t.Fatalf("after StopReplica with delete: future log %s exists %v, log %s exists %v; want neither",
					future, exists(future), current, exists(current))
			}
		})
	}
}
