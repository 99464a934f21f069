package broker

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
)

// topicPartition names a partition.
type topicPartition struct {
	Topic     string
	Partition int32
}

func (tp topicPartition) String() string { return fmt.Sprintf("%s-%d", tp.Topic, tp.Partition) }

// Partition is one partition this broker hosts. Its mutex serializes
// appends (offset assignment, producer-state checks, the storage append),
// retention and flushes; reads go to the storage.Log directly, which is safe
// alongside one writer.
//
// The high watermark, the leader epoch and the topic configuration are
// atomics, and storage.Log serves reads without the partition lock, so a
// consumer's Fetch never waits behind an append (a follower's fetch takes
// the lock to record its position). An append holds the lock for its write
// to the page cache; the lock is held across an fsync only when
// flush.messages or flush.ms ask for one (a roll's fsync runs in the
// background, storage/flush.go). ListOffsets reads only atomics and the log,
// except that the earliest offset's leader epoch comes from epochs under the
// lock (epochForOffset): that answer can wait for an append or flush in
// progress.
type Partition struct {
	mu sync.Mutex

	tp      topicPartition
	topicID [16]byte
	log     *storage.Log

	// epochs mirrors leader-epoch-checkpoint (guarded by mu).
	epochs []storage.LeaderEpochEntry
	// deleted is set once the log is closed and removed (guarded by mu).
	deleted bool

	leaderEpoch   atomic.Int32
	highWatermark atomic.Int64
	cfg           atomic.Pointer[TopicConfig]
	// appended is closed and replaced after every append (and when the
	// partition goes away) so that long-polling fetches wake up without a
	// sync.Cond: a waiter takes the channel before it reads and waits on it.
	appended atomic.Pointer[chan struct{}]
	// gone mirrors deleted for readers that must not wait for mu;
	// removed says the log was deleted with its topic rather than closed
	// at shutdown.
	gone    atomic.Bool
	removed atomic.Bool
	// moved says the replica was deleted because a reassignment took it
	// off this broker while the topic lives on: requests still in flight
	// answer NOT_LEADER_OR_FOLLOWER, as Kafka does for a partition its
	// metadata still knows, so clients look for the new leader.
	moved atomic.Bool
	// offline says the log's dir failed (takeOffline): the partition
	// answers KAFKA_STORAGE_ERROR from then on.
	offline atomic.Bool
	// waiters counts fetches parked on this partition (for tests and
	// metrics).
	waiters atomic.Int32
	// move is the replica's move to another log dir in progress, nil when
	// none (log_dir_move.go); set and cleared under mu.
	move atomic.Pointer[logMove]

	// Replication state (partition_replication.go), guarded by mu except
	// where noted: this broker's role, the assignment and the committed
	// ISR as the controller last told (partitionEpoch is the state
	// znode's zkVersion), a pending ISR while an AlterPartition is in
	// flight, and as leader what each follower last fetched.
	self           int32
	role           replicaRole
	leaderID       int32
	replicas       []int32
	isr            []int32
	pendingISR     []int32
	partitionEpoch int32
	// recoveryState is the partition's leader recovery state (KIP-704,
	// leader_recovery.go): what the controller last said as a follower,
	// always RECOVERED as leader.
	recoveryState int8
	followers     map[int32]*followerState
	// leading mirrors role == roleLeader for the produce path's first
	// check without the lock; following mirrors role == roleFollower for
	// consumers' fetches from a follower (follower_read.go).
	leading   atomic.Bool
	following atomic.Bool
}

// newPartition wraps an open log. hw is the high watermark from the
// replication-offset-checkpoint (capped at the log end), or -1 when the
// checkpoint has none, which starts it at the log start as in Kafka (a
// leader alone in its ISR moves it to the log end at once).
func newPartition(tp topicPartition, topicID [16]byte, log *storage.Log, cfg TopicConfig, self int32, hw int64) *Partition {
	p := &Partition{tp: tp, topicID: topicID, log: log, self: self, leaderID: -1}
	p.cfg.Store(&cfg)
	hw = min(max(hw, log.StartOffset()), log.EndOffset())
	p.highWatermark.Store(hw)
	ch := make(chan struct{})
	p.appended.Store(&ch)
	return p
}

// HighWatermark is the offset up to which consumers may read: as leader,
// the smallest log end offset in the ISR; as follower, the leader's high
// watermark as far as this replica has the data.
func (p *Partition) HighWatermark() int64 { return p.highWatermark.Load() }

// EndOffset is the log end offset.
func (p *Partition) EndOffset() int64 { return p.log.EndOffset() }

// StartOffset is the log start offset.
func (p *Partition) StartOffset() int64 { return p.log.StartOffset() }

// LeaderEpoch is the partition's current leader epoch.
func (p *Partition) LeaderEpoch() int32 { return p.leaderEpoch.Load() }

// TopicID is the topic id written in partition.metadata.
func (p *Partition) TopicID() [16]byte { return p.topicID }

// config returns the topic's current configuration.
func (p *Partition) config() TopicConfig { return *p.cfg.Load() }

// waitChan returns the channel that the next append closes. Take it before
// reading so that an append between the read and the wait is not missed.
func (p *Partition) waitChan() <-chan struct{} { return *p.appended.Load() }

// notify wakes every fetch waiting on this partition.
func (p *Partition) notify() {
	ch := make(chan struct{})
	old := p.appended.Swap(&ch)
	close(*old)
}

// checkLeaderEpoch applies KIP-320 fencing to a request's
// current_leader_epoch: -1 means the client does not know it; an older epoch
// is FENCED_LEADER_EPOCH and a newer one UNKNOWN_LEADER_EPOCH (this broker
// has not caught up with the controller yet).
func (p *Partition) checkLeaderEpoch(requested int32) error {
	if requested < 0 {
		return nil
	}
	cur := p.LeaderEpoch()
	switch {
	case requested < cur:
		return kerr.FencedLeaderEpoch
	case requested > cur:
		return kerr.UnknownLeaderEpoch
	}
	return nil
}

// epochForOffset returns the leader epoch in which offset was written,
// from the leader-epoch cache, or -1 when unknown.
func (p *Partition) epochForOffset(offset int64) int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	epoch := int32(-1)
	for _, e := range p.epochs {
		if e.StartOffset > offset {
			break
		}
		epoch = e.Epoch
	}
	return epoch
}

// appendResult is what a Produce response reports for one partition.
type appendResult struct {
	BaseOffset int64
	// LastOffset is the batch's last offset: acks=all waits for the high
	// watermark to pass it.
	LastOffset int64
	// LogAppendTime is the broker time stamped into the batch for
	// LogAppendTime topics, and -1 for CreateTime topics.
	LogAppendTime  int64
	LogStartOffset int64
}

// append appends one validated batch (hdr is its parsed header) as the
// leader. Under the partition lock it refuses while leadership is fenced
// (the ZooKeeper session is lost: NOT_LEADER_OR_FOLLOWER), runs the
// idempotent-producer checks (a retry of one of the last five batches gets
// its original offsets and is not appended again), stamps the base offset,
// the partition leader epoch and, for LogAppendTime topics, the append time,
// appends, records the batch in the producer state and advances the high
// watermark. Errors are *kerr.Error values for the protocol outcomes and
// wrapped storage errors otherwise.
func (p *Partition) append(batch []byte, hdr wire.BatchHeader, fenced func() bool, now time.Time, tv txnVerification) (appendResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.deleted {
		return appendResult{}, p.goneError()
	}
	if fenced != nil && fenced() {
		return appendResult{}, kerr.NotLeaderForPartition
	}
	if p.role != roleLeader {
		return appendResult{}, kerr.NotLeaderForPartition
	}
	cfg := p.config()
	idempotent := hdr.ProducerID >= 0
	if idempotent {
		dup, err := p.log.Producers().Check(hdr.ProducerID, hdr.ProducerEpoch, hdr.BaseSequence, hdr.LastSequence())
		switch {
		case errors.Is(err, storage.ErrOutOfOrderSequence):
			return appendResult{}, kerr.OutOfOrderSequenceNumber
		case errors.Is(err, storage.ErrInvalidProducerEpoch):
			return appendResult{}, kerr.InvalidProducerEpoch
		case err != nil:
			return appendResult{}, fmt.Errorf("producer state of %s: %w", p.tp, err)
		}
		if err := p.checkTxnLocked(hdr); err != nil {
			return appendResult{}, err
		}
		if err := p.checkVerifiedLocked(hdr, tv); err != nil {
			return appendResult{}, err
		}
		if dup != nil {
			// Kafka answers a duplicate with the offsets of the original
			// append; the batch is not written twice.
			res := appendResult{BaseOffset: dup.FirstOffset, LastOffset: dup.LastOffset, LogAppendTime: -1, LogStartOffset: p.log.StartOffset()}
			if cfg.LogAppendTime {
				res.LogAppendTime = dup.MaxTimestamp
			}
			return res, nil
		}
	}

	base := p.log.EndOffset()
	wire.SetBaseOffset(batch, base)
	wire.SetPartitionLeaderEpoch(batch, p.LeaderEpoch())
	maxTS := hdr.MaxTimestamp
	appendTime := int64(-1)
	if cfg.LogAppendTime {
		appendTime = now.UnixMilli()
		wire.SetLogAppendTime(batch, appendTime)
		maxTS = appendTime
	}
	last := base + int64(hdr.LastOffsetDelta)
	info := storage.AppendInfo{
		BaseOffset:           base,
		LastOffset:           last,
		MaxTimestamp:         maxTS,
		OffsetOfMaxTimestamp: last,
		Records:              int64(hdr.RecordCount),
	}
	if err := p.log.Append(batch, info); err != nil {
		if errors.Is(err, storage.ErrOffline) {
			// The log dir failed; its handler takes the partition
			// offline soon.
			return appendResult{}, kerr.KafkaStorageError
		}
		return appendResult{}, fmt.Errorf("append to %s: %w", p.tp, err)
	}
	// storage.Log.Append has recorded the batch in the producer table.
	p.maybeIncrementHWLocked()
	p.notify()
	return appendResult{BaseOffset: base, LastOffset: last, LogAppendTime: appendTime, LogStartOffset: p.log.StartOffset()}, nil
}

// deleteRetained runs one retention pass (retention.ms, retention.bytes).
func (p *Partition) deleteRetained() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return 0, nil
	}
	n, err := p.log.DeleteRetained()
	if err != nil {
		return n, fmt.Errorf("retention of %s: %w", p.tp, err)
	}
	if n > 0 {
		if err := p.truncateEpochsFromStartLocked(); err != nil {
			return n, fmt.Errorf("retention of %s: %w", p.tp, err)
		}
	}
	return n, nil
}

// expireProducers drops the producers idle for producer.id.expiration.ms
// from the log's producer table, under the lock that guards it.
func (p *Partition) expireProducers() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return 0, nil
	}
	n, err := p.log.ExpireProducers()
	if err != nil {
		return n, fmt.Errorf("expire producers of %s: %w", p.tp, err)
	}
	return n, nil
}

// maybeFlush fsyncs the log when its oldest unflushed write is at least
// flush.ms old (Kafka's log.flush.interval.ms / flush.ms); storage.Log
// tracks that write (NeedsFlush). With the default flush.ms (MaxInt64) it
// never does: durability is left to the page cache and, in a cluster, to
// replication.
func (p *Partition) maybeFlush(now time.Time) error {
	flushMs := p.config().Log.FlushMs
	if flushMs == math.MaxInt64 || flushMs < 0 {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted || !p.log.NeedsFlush(now) {
		return nil
	}
	if err := p.log.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", p.tp, err)
	}
	return nil
}

// checkpoint returns the offsets written to the checkpoint files; ok is
// false once the partition is deleted.
func (p *Partition) checkpoint() (recoveryPoint, hw, start int64, dir string, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return 0, 0, 0, "", false
	}
	return p.log.RecoveryPoint(), p.HighWatermark(), p.log.StartOffset(), p.log.Dir(), true
}

// flush fsyncs the whole log (at shutdown).
func (p *Partition) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return nil
	}
	if err := p.log.Flush(); err != nil {
		return fmt.Errorf("flush %s: %w", p.tp, err)
	}
	return nil
}

// closeLog closes the log; with remove it then hands the log's directory
// to remove (replicaManager.deleteDir: renamed at once, removed later).
// Waiting fetches are woken so that they notice the partition is gone.
func (p *Partition) closeLog(remove func(dir string) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return nil
	}
	p.deleted = true
	p.removed.Store(remove != nil)
	p.gone.Store(true)
	defer p.notify()
	cerr := p.log.Close()
	if remove != nil {
		// A log that could not close cleanly goes all the same.
		if err := remove(p.log.Dir()); err != nil {
			return fmt.Errorf("delete %s: %w", p.tp, err)
		}
	}
	if cerr != nil {
		return fmt.Errorf("close %s: %w", p.tp, cerr)
	}
	return nil
}

// isDeleted reports whether the log was closed: deleted by a StopReplica
// with delete, taken offline with its log dir, or closed at shutdown.
func (p *Partition) isDeleted() bool { return p.gone.Load() }

// goneError is what requests for a closed partition answer: the topic is
// gone after a deletion, its log dir failed (KAFKA_STORAGE_ERROR, as
// Kafka answers for an offline replica), and this broker no longer leads
// it after a shutdown began (all retriable: clients refresh their
// metadata).
func (p *Partition) goneError() *kerr.Error {
	switch {
	case p.moved.Load():
		return kerr.NotLeaderForPartition
	case p.removed.Load():
		return kerr.UnknownTopicOrPartition
	case p.offline.Load():
		return kerr.KafkaStorageError
	}
	return kerr.NotLeaderForPartition
}

// isOffline reports whether the partition's log dir failed.
func (p *Partition) isOffline() bool { return p.offline.Load() }
