package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/storage/vfs"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap/zaptest"
)

// testTopicConfig is a topic with Kafka's defaults.
func testTopicConfig() TopicConfig {
	return TopicConfig{Log: storage.DefaultConfig(), MaxMessageBytes: 1048588, MinInsyncReplicas: 1}
}

// newTestReplicaManager opens log dirs in a temp dir and returns a replica
// manager over them, and the dirs.
func newTestReplicaManager(t testing.TB, logDirs ...string) (*replicaManager, *storage.Dirs) {
	t.Helper()
	if len(logDirs) == 0 {
		logDirs = []string{t.TempDir()}
	}
	dirs, err := storage.OpenDirs(logDirs, 0, "test-cluster", zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatalf("open dirs: %v", err)
	}
	t.Cleanup(func() { dirs.Close() })
	clean := dirs.CleanShutdown()
	cp, err := dirs.ReadCheckpoints()
	if err != nil {
		t.Fatalf("read checkpoints: %v", err)
	}
	return newReplicaManager(dirs, zaptest.NewLogger(t), 0, clean, cp), dirs
}

// makeLeader makes this broker the only replica and leader of tp at
// leaderEpoch, as a single-replica LeaderAndIsr from the controller would:
// it opens (or creates) the log and records the epoch. A second call with
// the same epoch is a no-op; a newer epoch is recorded; an older one is
// refused. A partition directory holding another topic id (a topic deleted
// and re-created while this broker was away) is an error, as Kafka's
// InconsistentTopicIdException.
func (rm *replicaManager) makeLeader(tp topicPartition, topicID [16]byte, leaderEpoch int32, cfg TopicConfig) error {
	p, err := rm.open(tp, topicID, cfg)
	if err != nil {
		return err
	}
	if p.leading.Load() && p.LeaderEpoch() == leaderEpoch {
		return nil
	}
	self := []int32{rm.brokerID}
	return p.becomeLeader(partitionState{Leader: rm.brokerID, LeaderEpoch: leaderEpoch, ISR: self, Replicas: self}, rm.now())
}

// appendBatch validates batch like Produce does and appends it.
func appendBatch(t testing.TB, p *Partition, batch []byte) (appendResult, error) {
	t.Helper()
	h, err := wire.ValidateProduceBatch(batch, wire.ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 1 << 24})
	if err != nil {
		t.Fatalf("test batch does not validate: %v", err)
	}
	return p.append(batch, h, nil, time.Now(), txnVerification{})
}

var testTopicID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

func TestMakeLeaderWritesMetadataAndEpochs(t *testing.T) {
	rm, _ := newTestReplicaManager(t)
	defer rm.close()
	tp := topicPartition{"events", 0}
	if err := rm.makeLeader(tp, testTopicID, 3, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, ok := rm.get(tp)
	if !ok {
		t.Fatal("partition not hosted after makeLeader")
	}
	if got := p.LeaderEpoch(); got != 3 {
		t.Fatalf("leader epoch = %d, want 3", got)
	}
	dir := p.log.Dir()
	id, ok, err := storage.ReadPartitionMetadata(vfs.Default, dir)
	if err != nil || !ok || id != testTopicID {
		t.Fatalf("partition.metadata = %x, %v, %v; want the topic id", id, ok, err)
	}
	if _, err := appendBatch(t, p, plainBatch(2, 1000)); err != nil {
		t.Fatalf("append: %v", err)
	}
	// The same epoch again is a no-op; a newer one starts at the log end.
	if err := rm.makeLeader(tp, testTopicID, 3, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader again: %v", err)
	}
	if err := rm.makeLeader(tp, testTopicID, 5, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader new epoch: %v", err)
	}
	epochs, err := storage.ReadLeaderEpochs(vfs.Default, dir)
	if err != nil {
		t.Fatalf("read leader epochs: %v", err)
	}
	want := []storage.LeaderEpochEntry{{Epoch: 3, StartOffset: 0}, {Epoch: 5, StartOffset: 2}}
	if len(epochs) != len(want) || epochs[0] != want[0] || epochs[1] != want[1] {
		t.Fatalf("leader epochs = %v, want %v", epochs, want)
	}
	if got := p.epochForOffset(1); got != 3 {
		t.Fatalf("epoch for offset 1 = %d, want 3", got)
	}
	if err := rm.makeLeader(tp, [16]byte{9}, 6, testTopicConfig()); err == nil {
		t.Fatal("makeLeader with another topic id succeeded")
	}
}

func TestAppendAssignsOffsetsAndWakesFetches(t *testing.T) {
	rm, _ := newTestReplicaManager(t)
	defer rm.close()
	tp := topicPartition{"events", 0}
	if err := rm.makeLeader(tp, testTopicID, 0, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(tp)
	wait := p.waitChan()
	for i, n := range []int{3, 1, 5} {
		res, err := appendBatch(t, p, plainBatch(n, 1000))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		want := []int64{0, 3, 4}[i]
		if res.BaseOffset != want || res.LogAppendTime != -1 || res.LogStartOffset != 0 {
			t.Fatalf("append %d = %+v, want base %d, append time -1, start 0", i, res, want)
		}
	}
	select {
	case <-wait:
	default:
		t.Fatal("the wait channel taken before the appends is still open")
	}
	if hw := p.HighWatermark(); hw != 9 {
		t.Fatalf("high watermark = %d, want 9", hw)
	}
	data, err := p.log.Read(3, 1<<20, p.HighWatermark())
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	h, err := wire.ParseBatchHeader(data)
	if err != nil || h.BaseOffset != 3 || h.PartitionLeaderEpoch != 0 {
		t.Fatalf("batch at 3 = %+v, %v; want base offset 3 with leader epoch 0", h, err)
	}
}

func TestAppendLogAppendTime(t *testing.T) {
	rm, _ := newTestReplicaManager(t)
	defer rm.close()
	tp := topicPartition{"stamped", 0}
	cfg := testTopicConfig()
	cfg.LogAppendTime = true
	if err := rm.makeLeader(tp, testTopicID, 0, cfg); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(tp)
	batch := plainBatch(2, 1000)
	h, err := wire.ValidateProduceBatch(batch, wire.ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 1 << 24})
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	now := time.UnixMilli(1_700_000_000_000)
	res, err := p.append(batch, h, nil, now, txnVerification{})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if res.LogAppendTime != now.UnixMilli() {
		t.Fatalf("log append time = %d, want %d", res.LogAppendTime, now.UnixMilli())
	}
	data, err := p.log.Read(0, 1<<20, p.HighWatermark())
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	stored, err := wire.ParseBatchHeader(data)
	if err != nil || stored.MaxTimestamp != now.UnixMilli() || stored.Attributes&0x08 == 0 {
		t.Fatalf("stored header = %+v, %v; want LogAppendTime bit and max timestamp %d", stored, err, now.UnixMilli())
	}
}

func TestAppendIdempotence(t *testing.T) {
	tests := []struct {
		name     string
		batches  [][]byte
		wantBase []int64
		wantErr  []error
	}{
		{
			name:     "retry of the last batch is answered with its offset",
			batches:  [][]byte{idempotentBatch(7, 0, 0, 3, 1000), idempotentBatch(7, 0, 0, 3, 1000)},
			wantBase: []int64{0, 0},
			wantErr:  []error{nil, nil},
		},
		{
			name:     "consecutive batches append",
			batches:  [][]byte{idempotentBatch(7, 0, 0, 3, 1000), idempotentBatch(7, 0, 3, 2, 1000)},
			wantBase: []int64{0, 3},
			wantErr:  []error{nil, nil},
		},
		{
			name:     "a gap in sequences is out of order",
			batches:  [][]byte{idempotentBatch(7, 0, 0, 3, 1000), idempotentBatch(7, 0, 5, 1, 1000)},
			wantBase: []int64{0, -1},
			wantErr:  []error{nil, kerr.OutOfOrderSequenceNumber},
		},
		{
			name:     "an older epoch is fenced",
			batches:  [][]byte{idempotentBatch(7, 2, 0, 1, 1000), idempotentBatch(7, 1, 1, 1, 1000)},
			wantBase: []int64{0, -1},
			wantErr:  []error{nil, kerr.InvalidProducerEpoch},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rm, _ := newTestReplicaManager(t)
			defer rm.close()
			tp := topicPartition{"idem", 0}
			if err := rm.makeLeader(tp, testTopicID, 0, testTopicConfig()); err != nil {
				t.Fatalf("makeLeader: %v", err)
			}
			p, _ := rm.get(tp)
			var end int64
			for i, b := range tt.batches {
				res, err := appendBatch(t, p, b)
				if !errors.Is(err, tt.wantErr[i]) || (err == nil) != (tt.wantErr[i] == nil) {
					t.Fatalf("batch %d: err = %v, want %v", i, err, tt.wantErr[i])
				}
				if err == nil {
					if res.BaseOffset != tt.wantBase[i] {
						t.Fatalf("batch %d: base offset %d, want %d", i, res.BaseOffset, tt.wantBase[i])
					}
					end = max(end, res.BaseOffset+int64(countRecords(t, b)))
				}
			}
			if got := p.EndOffset(); got != end {
				t.Fatalf("log end offset = %d, want %d (no duplicate or rejected batch written)", got, end)
			}
		})
	}
}

func countRecords(t *testing.T, b []byte) int32 {
	h, err := wire.ParseBatchHeader(b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return h.RecordCount
}

func TestAppendRefusedWhileFenced(t *testing.T) {
	rm, _ := newTestReplicaManager(t)
	defer rm.close()
	tp := topicPartition{"fenced", 0}
	if err := rm.makeLeader(tp, testTopicID, 0, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(tp)
	batch := plainBatch(1, 1000)
	h, _ := wire.ValidateProduceBatch(batch, wire.ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 1 << 24})
	_, err := p.append(batch, h, func() bool { return true }, time.Now(), txnVerification{})
	if !errors.Is(err, kerr.NotLeaderForPartition) {
		t.Fatalf("append while fenced: %v, want NOT_LEADER_OR_FOLLOWER", err)
	}
	if p.EndOffset() != 0 {
		t.Fatalf("log end offset = %d after a refused append", p.EndOffset())
	}
}

// TestStopReplicaDeleteRemovesTopicLogs deletes a topic as the
// controller does, one StopReplica with delete per partition, on a broker
// that opened only some of the topic's partitions since its restart: every
// partition directory of the topic goes, those never opened in this run
// too, fetches waiting on an open one are woken, and another topic's log
// stays.
func TestStopReplicaDeleteRemovesTopicLogs(t *testing.T) {
	logDir := t.TempDir()
	rm, dirs := newTestReplicaManager(t, logDir)
	for i := int32(0); i < 3; i++ {
		if err := rm.makeLeader(topicPartition{"doomed", i}, testTopicID, 0, testTopicConfig()); err != nil {
			t.Fatalf("makeLeader: %v", err)
		}
	}
	if err := rm.makeLeader(topicPartition{"kept", 0}, [16]byte{2}, 0, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	if err := rm.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	dirs.Close() // the broker's exit: the restarted one takes the .lock

	rm, dirs = newTestReplicaManager(t, logDir)
	defer rm.close()
	// After the restart the controller assigned doomed-1 and kept-0 only.
	if err := rm.makeLeader(topicPartition{"doomed", 1}, testTopicID, 1, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	if err := rm.makeLeader(topicPartition{"kept", 0}, [16]byte{2}, 1, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(topicPartition{"doomed", 1})
	wait := p.waitChan()
	dir := p.log.Dir()
	for i := int32(0); i < 3; i++ {
		if err := rm.stopPartition(topicPartition{"doomed", i}, true, true); err != nil {
			t.Fatalf("StopReplica with delete of doomed-%d: %v", i, err)
		}
	}
	if _, ok := rm.get(topicPartition{"doomed", 1}); ok {
		t.Fatal("partition still hosted after StopReplica with delete")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists: %v", dir, err)
	}
	select {
	case <-wait:
	default:
		t.Fatal("fetches waiting on a deleted partition were not woken")
	}
	parts, err := dirs.Partitions()
	if err != nil {
		t.Fatalf("partitions: %v", err)
	}
	if len(parts) != 1 || parts[0].Topic != "kept" {
		t.Fatalf("partition dirs left = %+v, want only kept-0", parts)
	}
}

func TestCloseWritesCheckpointsAndReopens(t *testing.T) {
	logDir := t.TempDir()
	rm, dirs := newTestReplicaManager(t, logDir)
	tp := topicPartition{"durable", 0}
	if err := rm.makeLeader(tp, testTopicID, 4, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(tp)
	for i := 0; i < 3; i++ {
		if _, err := appendBatch(t, p, plainBatch(2, 1000)); err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	if err := rm.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := dirs.MarkCleanShutdown(); err != nil {
		t.Fatalf("mark clean shutdown: %v", err)
	}
	cp, err := dirs.ReadCheckpoints()
	if err != nil {
		t.Fatalf("read checkpoints: %v", err)
	}
	found := false
	for d, hw := range cp.HighWatermarks {
		if d.Topic == tp.Topic && d.Partition == tp.Partition {
			found = true
			if hw != 6 {
				t.Fatalf("checkpointed high watermark = %d, want 6", hw)
			}
		}
	}
	if !found {
		t.Fatalf("no high watermark checkpoint for %s: %+v", tp, cp.HighWatermarks)
	}
	dirs.Close() // the broker's exit: the restarted one takes the .lock

	rm2, _ := newTestReplicaManager(t, logDir)
	defer rm2.close()
	if err := rm2.makeLeader(tp, testTopicID, 4, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader after restart: %v", err)
	}
	p2, _ := rm2.get(tp)
	if p2.EndOffset() != 6 || p2.HighWatermark() != 6 || p2.LeaderEpoch() != 4 {
		t.Fatalf("after restart: end %d hw %d epoch %d, want 6 6 4", p2.EndOffset(), p2.HighWatermark(), p2.LeaderEpoch())
	}
}

func TestProducerIDsAllocateBlocks(t *testing.T) {
	var mu sync.Mutex
	var claims int64
	p := &producerIDs{sem: make(chan struct{}, 1), next: 0, end: -1}
	p.alloc = func(ctx context.Context) (int64, int64, error) {
		mu.Lock()
		defer mu.Unlock()
		start := claims * 3
		claims++
		return start, start + 2, nil
	}
	seen := map[int64]bool{}
	for i := 0; i < 7; i++ {
		id, err := p.nextID(context.Background())
		if err != nil {
			t.Fatalf("nextID: %v", err)
		}
		if seen[id] {
			t.Fatalf("producer id %d handed out twice", id)
		}
		seen[id] = true
		if id != int64(i) {
			t.Fatalf("id %d = %d, want %d", i, id, i)
		}
	}
	if claims != 3 {
		t.Fatalf("claimed %d blocks for 7 ids of blocks of 3, want 3", claims)
	}
}

func TestProducerIDsGiveUpWithContext(t *testing.T) {
	release := make(chan struct{})
	p := &producerIDs{sem: make(chan struct{}, 1), next: 0, end: -1}
	p.alloc = func(ctx context.Context) (int64, int64, error) {
		select {
		case <-release:
			return 0, 999, nil
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.nextID(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("nextID with ZooKeeper stuck: %v, want deadline exceeded", err)
	}
	close(release)
	if id, err := p.nextID(context.Background()); err != nil || id != 0 {
		t.Fatalf("nextID after ZooKeeper came back = %d, %v; want 0", id, err)
	}
}

func TestDecompressedLimit(t *testing.T) {
	tests := []struct {
		maxMessage int32
		want       int
	}{
		{1024, minDecompressedBatchBytes},
		{1048588, minDecompressedBatchBytes},
		{16 << 20, 128 << 20},
		{1 << 30, maxDecompressedBatchBytes},
	}
	for _, tt := range tests {
		if got := decompressedLimit(tt.maxMessage); got != tt.want {
			t.Errorf("decompressedLimit(%d) = %d, want %d", tt.maxMessage, got, tt.want)
		}
	}
}

func TestBackgroundRetentionFlushAndCheckpoints(t *testing.T) {
	rm, dirs := newTestReplicaManager(t)
	defer rm.close()
	rm.flushEvery = 10 * time.Millisecond
	rm.checkpointEvery = 10 * time.Millisecond

	expiring := testTopicConfig()
	expiring.Log.RetentionMs = 1
	flushed := testTopicConfig()
	flushed.Log.FlushMs = 0
	old := topicPartition{"old", 0}
	fresh := topicPartition{"fresh", 0}
	if err := rm.makeLeader(old, testTopicID, 0, expiring); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	if err := rm.makeLeader(fresh, [16]byte{3}, 0, flushed); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	po, _ := rm.get(old)
	pf, _ := rm.get(fresh)
	// Records from 1970 are past any retention.
	if _, err := appendBatch(t, po, plainBatch(3, 1000)); err != nil {
		t.Fatalf("append: %v", err)
	}
	if _, err := appendBatch(t, pf, plainBatch(2, time.Now().UnixMilli())); err != nil {
		t.Fatalf("append: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); rm.run(ctx, 10*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	waitUntil(t, "retention to delete the expired records", func() bool { return po.StartOffset() == 3 })
	waitUntil(t, "flush.ms=0 to flush", func() bool {
		_, _, _, _, ok := pf.checkpoint()
		return ok && pf.log.RecoveryPoint() == 2
	})
	if pf.StartOffset() != 0 {
		t.Fatalf("retention deleted fresh records: start offset %d", pf.StartOffset())
	}
	waitUntil(t, "checkpoints with the new log start offset", func() bool {
		cp, err := dirs.ReadCheckpoints()
		if err != nil {
			return false
		}
		for d, off := range cp.LogStartOffsets {
			if d.Topic == "old" && off == 3 {
				return true
			}
		}
		return false
	})
}

// TestMaybeFlushAfterFlushMs checks that flush.ms counts from the oldest
// write the log has not fsynced (storage.Log keeps that time) and that a
// flush starts it again.
func TestMaybeFlushAfterFlushMs(t *testing.T) {
	rm, _ := newTestReplicaManager(t)
	defer rm.close()
	t0 := time.Unix(1_700_000_000, 0)
	clock := t0
	rm.now = func() time.Time { return clock }

	cfg := testTopicConfig()
	cfg.Log.FlushMs = 1000
	tp := topicPartition{"flushed", 0}
	if err := rm.makeLeader(tp, testTopicID, 0, cfg); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(tp)
	if _, err := appendBatch(t, p, plainBatch(2, t0.UnixMilli())); err != nil {
		t.Fatalf("append: %v", err)
	}
	clock = t0.Add(500 * time.Millisecond)
	if _, err := appendBatch(t, p, plainBatch(1, t0.UnixMilli())); err != nil {
		t.Fatalf("append: %v", err)
	}
	for _, tc := range []struct {
		at   time.Duration
		want int64
	}{
		{999 * time.Millisecond, 0}, // flush.ms counts from the first append
		{1000 * time.Millisecond, 3},
		{5000 * time.Millisecond, 3}, // nothing new to flush
	} {
		if err := p.maybeFlush(t0.Add(tc.at)); err != nil {
			t.Fatalf("maybeFlush at %v: %v", tc.at, err)
		}
		if got := p.log.RecoveryPoint(); got != tc.want {
			t.Fatalf("at %v: recovery point %d, want %d", tc.at, got, tc.want)
		}
	}
}

// BenchmarkPartitionAppendRead appends batches of 100 records of 100 bytes
// and reads each back, the broker-side cost of one produce and one fetch
// without the network.
func BenchmarkPartitionAppendRead(b *testing.B) {
	rm, _ := newTestReplicaManager(b)
	defer rm.close()
	tp := topicPartition{"bench", 0}
	if err := rm.makeLeader(tp, testTopicID, 0, testTopicConfig()); err != nil {
		b.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(tp)
	rs := make([]testRecord, 100)
	for i := range rs {
		rs[i] = testRecord{value: make([]byte, 100)}
	}
	template := testBatch(testBatchOpts{producerID: -1, producerEpoch: -1, baseSequence: -1, baseTimestamp: time.Now().UnixMilli()}, rs)
	cfg := wire.ValidateConfig{MaxBatchBytes: 1 << 20, MaxDecompressedBytes: 1 << 24}
	batch := make([]byte, len(template))
	b.SetBytes(int64(len(template)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(batch, template)
		h, err := wire.ValidateProduceBatch(batch, cfg)
		if err != nil {
			b.Fatalf("validate: %v", err)
		}
		res, err := p.append(batch, h, nil, time.Now(), txnVerification{})
		if err != nil {
			b.Fatalf("append: %v", err)
		}
		if _, err := p.log.Read(res.BaseOffset, 1<<20, p.HighWatermark()); err != nil {
			b.Fatalf("read: %v", err)
		}
	}
}

func TestEndOffsetForEpoch(t *testing.T) {
	cache := []storage.LeaderEpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 3, StartOffset: 40}, {Epoch: 6, StartOffset: 90}}
	tests := []struct {
		name      string
		epochs    []storage.LeaderEpochEntry
		asked     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{"the latest epoch ends at the log end", cache, 6, 6, 120},
		{"a newer epoch than any is undefined", cache, 9, -1, -1},
		{"an epoch in the middle ends where the next starts", cache, 3, 3, 90},
		{"a missing epoch answers the largest below it", cache, 5, 3, 90},
		{"the first epoch", cache, 1, 1, 40},
		{"older than the cache answers itself and the first start", cache, 0, 0, 0},
		{"no epoch asked is undefined", cache, -1, -1, -1},
		{"no cache is undefined", nil, 4, -1, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, end := endOffsetFor(tc.epochs, tc.asked, 120)
			if e != tc.wantEpoch || end != tc.wantEnd {
				t.Fatalf("endOffsetFor(%d) = (%d, %d), want (%d, %d)", tc.asked, e, end, tc.wantEpoch, tc.wantEnd)
			}
		})
	}
}

// TestReopenLeaderEpochsAtLogEnd reopens a partition whose
// leader-epoch-checkpoint ends at or past its log end: an epoch that
// starts exactly at the log end (a leader elected that has not written) is
// kept, on disk too, so a start does not rewrite the file; one that starts
// past it (a crash cut the records it described) is dropped.
func TestReopenLeaderEpochsAtLogEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records int // written before the close
		file    []storage.LeaderEpochEntry
		want    []storage.LeaderEpochEntry
	}{
		{"empty log, epoch at 0", 0, []storage.LeaderEpochEntry{{Epoch: 0, StartOffset: 0}}, []storage.LeaderEpochEntry{{Epoch: 0, StartOffset: 0}}},
		{"epoch at the end", 2, []storage.LeaderEpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 2}}, []storage.LeaderEpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 2}}},
		{"epoch past the end", 2, []storage.LeaderEpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 5}}, []storage.LeaderEpochEntry{{Epoch: 1, StartOffset: 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logDir := t.TempDir()
			rm, dirs := newTestReplicaManager(t, logDir)
			tp := topicPartition{"reopen", 0}
			if err := rm.makeLeader(tp, testTopicID, 1, testTopicConfig()); err != nil {
				t.Fatalf("makeLeader: %v", err)
			}
			p, _ := rm.get(tp)
			if tc.records > 0 {
				if _, err := appendBatch(t, p, plainBatch(tc.records, 100)); err != nil {
					t.Fatalf("append: %v", err)
				}
			}
			dir := p.log.Dir()
			if err := rm.close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			dirs.Close()
			text := fmt.Sprintf("0\n%d\n", len(tc.file))
			for _, e := range tc.file {
				text += fmt.Sprintf("%d %d\n", e.Epoch, e.StartOffset)
			}
			if err := os.WriteFile(filepath.Join(dir, "leader-epoch-checkpoint"), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}

			rm2, _ := newTestReplicaManager(t, logDir)
			defer rm2.close()
			p2, err := rm2.open(tp, testTopicID, testTopicConfig())
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			if !slices.Equal(p2.epochs, tc.want) {
				t.Errorf("epochs after reopen = %v, want %v", p2.epochs, tc.want)
			}
			onDisk, err := storage.ReadLeaderEpochs(vfs.Default, dir)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(onDisk, tc.want) {
				t.Errorf("leader-epoch-checkpoint after reopen = %v, want %v", onDisk, tc.want)
			}
		})
	}
}

// TestOpenManyOpensEachPartitionOnce opens the same partitions from two
// concurrent openMany calls: the per-partition lock must hand both the
// same *Partition.
func TestOpenManyOpensEachPartitionOnce(t *testing.T) {
	rm, _ := newTestReplicaManager(t)
	defer rm.close()
	var reqs []openRequest
	for i := range int32(64) {
		reqs = append(reqs, openRequest{tp: topicPartition{"many", i}, topicID: testTopicID, cfg: testTopicConfig()})
	}
	var a, b []*Partition
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a, _ = rm.openMany(reqs) }()
	go func() { defer wg.Done(); b, _ = rm.openMany(reqs) }()
	wg.Wait()
	for i := range reqs {
		if a[i] == nil || a[i] != b[i] {
			t.Fatalf("partition %d opened as %p and %p", i, a[i], b[i])
		}
	}
	if len(rm.tpLocks.m) != 0 {
		t.Errorf("%d partition locks left after the opens", len(rm.tpLocks.m))
	}
}
