package txncoord

import (
	"context"
	"errors"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// TopicName is Kafka's internal topic for transaction state.
const TopicName = "__transaction_state"

// OffsetsTopic is the topic AddOffsetsToTxn adds a partition of: Kafka adds
// the __consumer_offsets partition that holds the group's offsets, and its
// group coordinator completes the transaction's offsets when the marker for
// that partition arrives.
const OffsetsTopic = "__consumer_offsets"

// Defaults of Kafka's transaction coordinator settings.
const (
	DefaultNumPartitions         = 50                 // transaction.state.log.num.partitions
	DefaultOffsetsPartitions     = 50                 // offsets.topic.num.partitions
	DefaultMaxTimeout            = 15 * time.Minute   // transaction.max.timeout.ms
	DefaultIDExpiration          = 7 * 24 * time.Hour // transactional.id.expiration.ms
	DefaultAbortTimedOutInterval = 10 * time.Second   // transaction.abort.timed.out.transaction.cleanup.interval.ms
	DefaultRemoveExpiredInterval = time.Hour          // transaction.remove.expired.transaction.cleanup.interval.ms
	defaultRetryBackoff          = 100 * time.Millisecond
)

// Log writes records to the partitions of __transaction_state.
type Log interface {
	// Write appends one record (a nil value is a tombstone) to partition
	// of __transaction_state and returns once it is committed as
	// acks=all with the topic's min.insync.replicas would be, or an error:
	// a *kerr.Error (possibly wrapped) when Kafka has a code for it.
	Write(ctx context.Context, partition int32, key, value []byte) error
}

// Marker is one transaction's COMMIT or ABORT marker to write to its
// partitions (one WriteTxnMarkers entry).
type Marker struct {
	TransactionalID  string
	ProducerID       int64
	ProducerEpoch    int16
	Commit           bool
	CoordinatorEpoch int32
	Partitions       []TopicPartition
}

// MarkerWriter delivers markers to partition leaders.
type MarkerWriter interface {
	// WriteMarkers writes m to the leader of each of m.Partitions. It
	// returns the partitions to try again (no leader known, leader
	// unreachable or moved, a retriable error); every other partition is
	// done: written, or given up because its topic is gone or the marker
	// is stale (Kafka's TransactionMarkerRequestCompletionHandler).
	WriteMarkers(ctx context.Context, m Marker) (retry []TopicPartition)
}

// Config configures a Coordinator. Zero durations and counts take Kafka's
// defaults.
type Config struct {
	// NumPartitions is transaction.state.log.num.partitions (50).
	NumPartitions int32
	// OffsetsPartitions is offsets.topic.num.partitions (50), which maps a
	// group to its __consumer_offsets partition for AddOffsetsToTxn.
	OffsetsPartitions int32
	// MaxTimeout is transaction.max.timeout.ms (900000): InitProducerId
	// asking more is INVALID_TRANSACTION_TIMEOUT.
	MaxTimeout time.Duration
	// IDExpiration is transactional.id.expiration.ms (604800000): an id
	// with no transaction for that long is removed.
	IDExpiration time.Duration
	// AbortTimedOutInterval is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms (10000).
	AbortTimedOutInterval time.Duration
	// CompletionWait bounds how long AddPartitionsToTxn waits for the
	// producer's previous transaction to complete (its markers) before
	// answering CONCURRENT_TRANSACTIONS (DefaultCompletionWait).
	CompletionWait time.Duration
	// RemoveExpiredInterval is
	// transaction.remove.expired.transaction.cleanup.interval.ms (3600000).
	RemoveExpiredInterval time.Duration
	// RetryBackoff spaces marker and log-write retries (100 ms).
	RetryBackoff time.Duration

	Log     Log
	Markers MarkerWriter
	// ProducerIDs hands out a producer id never used before.
	ProducerIDs func(ctx context.Context) (int64, error)
	// Now is the clock (time.Now).
	Now    func() time.Time
	Logger *zap.Logger
}

func (c Config) withDefaults() Config {
	if c.NumPartitions <= 0 {
		c.NumPartitions = DefaultNumPartitions
	}
	if c.OffsetsPartitions <= 0 {
		c.OffsetsPartitions = DefaultOffsetsPartitions
	}
	if c.MaxTimeout <= 0 {
		c.MaxTimeout = DefaultMaxTimeout
	}
	if c.IDExpiration <= 0 {
		c.IDExpiration = DefaultIDExpiration
	}
	if c.AbortTimedOutInterval <= 0 {
		c.AbortTimedOutInterval = DefaultAbortTimedOutInterval
	}
	if c.RemoveExpiredInterval <= 0 {
		c.RemoveExpiredInterval = DefaultRemoveExpiredInterval
	}
	if c.CompletionWait <= 0 {
		c.CompletionWait = DefaultCompletionWait
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = defaultRetryBackoff
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

// Coordinator is the transaction coordinator for the partitions of
// __transaction_state this broker leads. Its methods are safe for
// concurrent use.
type Coordinator struct {
	cfg Config
	log *zap.Logger

	// mu guards parts and every txnPartition and txnEntry in it. It is
	// never held across I/O (log writes, marker requests, producer id
	// allocation).
	mu    sync.Mutex
	parts map[int32]*txnPartition
	// settled is closed (and replaced) under mu whenever a transition's
	// write ends, so that a request that found its transaction completing
	// can wait for it (see AddPartitions).
	settled chan struct{}

	ctx    context.Context
	cancel context.CancelFunc
	// wg counts the goroutines the coordinator owns: loads, marker
	// rounds and the two cleanup loops.
	wg sync.WaitGroup
}

// txnPartition is one loaded (or loading) partition of __transaction_state.
type txnPartition struct {
	id int32
	// epoch is the coordinator epoch: the partition's leader epoch when
	// this broker became its leader; markers carry it so partition leaders
	// can refuse those of an older coordinator.
	epoch   int32
	loading bool
	txns    map[string]*txnEntry
	// ctx ends when the partition is unloaded, stopping its marker rounds.
	ctx    context.Context
	cancel context.CancelFunc
}

// txnEntry is one transactional id's state in memory.
type txnEntry struct {
	id   string
	meta Metadata
	// pending is Kafka's pendingState: a transition is being written, or a
	// commit or abort is completing. Requests meanwhile are answered
	// CONCURRENT_TRANSACTIONS.
	pending bool
	// pendingTo is the state the pending transition leads to.
	pendingTo State
}

// New returns a coordinator that owns no partition yet, and starts its
// timeout and expiration loops; Close stops them.
func New(cfg Config) (*Coordinator, error) {
	if cfg.Log == nil || cfg.Markers == nil || cfg.ProducerIDs == nil {
		return nil, errors.New("txncoord: Config.Log, Config.Markers and Config.ProducerIDs are required")
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{cfg: cfg, log: cfg.Logger, parts: map[int32]*txnPartition{}, settled: make(chan struct{}), ctx: ctx, cancel: cancel}
	c.wg.Add(2)
	go c.every(cfg.AbortTimedOutInterval, c.AbortTimedOut)
	go c.every(cfg.RemoveExpiredInterval, c.RemoveExpired)
	return c, nil
}

// Close stops the coordinator's goroutines and waits for them; in-flight
// marker rounds are abandoned (the next coordinator resumes them from the
// log).
func (c *Coordinator) Close() {
	c.cancel()
	c.mu.Lock()
	for _, p := range c.parts {
		p.cancel()
	}
	c.parts = map[int32]*txnPartition{}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *Coordinator) every(d time.Duration, fn func(context.Context)) {
	defer c.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			fn(c.ctx)
		}
	}
}

// PartitionFor is the __transaction_state partition of a transactional id:
// Utils.abs(id.hashCode()) % transaction.state.log.num.partitions.
func (c *Coordinator) PartitionFor(transactionalID string) int32 {
	return PartitionFor(transactionalID, c.cfg.NumPartitions)
}

// PartitionFor maps key to one of n partitions as Kafka maps transactional
// ids and group ids: Utils.abs(key.hashCode()) % n.
func PartitionFor(key string, n int32) int32 {
	return javaAbs(javaHashCode(key)) % n
}

// javaHashCode is Java's String.hashCode over the UTF-16 code units.
func javaHashCode(s string) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(u)
	}
	return h
}

// javaAbs is Kafka's Utils.abs: Math.abs, except that MinValue maps to 0.
func javaAbs(n int32) int32 {
	switch {
	case n == -1<<31:
		return 0
	case n < 0:
		return -n
	}
	return n
}

// lookup finds the entry of id with c.mu held: NOT_COORDINATOR when this
// broker does not lead its partition, COORDINATOR_LOAD_IN_PROGRESS while
// the partition loads. The entry is nil for an unknown id.
func (c *Coordinator) lookup(id string) (*txnPartition, *txnEntry, *kerr.Error) {
	p := c.parts[c.PartitionFor(id)]
	switch {
	case p == nil:
		return nil, nil, kerr.NotCoordinator
	case p.loading:
		return nil, nil, kerr.CoordinatorLoadInProgress
	}
	return p, p.txns[id], nil
}

// reject logs a refused request once, at the edge, and returns its code.
func (c *Coordinator) reject(op, id string, e *kerr.Error, fields ...zap.Field) *kerr.Error {
	c.log.Info(op+" refused", append([]zap.Field{zap.String("transactional_id", id), zap.String("error", e.Message)}, fields...)...)
	return e
}

// begin marks t as changing to next, with c.mu held; an illegal transition
// is a coordinator bug, logged and refused.
func (c *Coordinator) begin(t *txnEntry, next Metadata) *kerr.Error {
	if !canTransition(t.meta.State, next.State) {
		c.log.Error("illegal transaction state transition", zap.String("transactional_id", t.id),
			zap.Stringer("from", t.meta.State), zap.Stringer("to", next.State))
		return kerr.UnknownServerError
	}
	t.pending, t.pendingTo = true, next.State
	return nil
}

// persist writes next for t (marked pending by begin, c.mu not held) and,
// once the log acknowledged it, applies it and runs applied with c.mu
// held. A write that fails leaves t as it was (Kafka's pending state is
// dropped): the client retries. A partition unloaded meanwhile is
// NOT_COORDINATOR.
func (c *Coordinator) persist(ctx context.Context, p *txnPartition, t *txnEntry, next Metadata, applied func()) *kerr.Error {
	err := c.cfg.Log.Write(ctx, p.id, EncodeKey(t.id), EncodeValue(next))
	c.mu.Lock()
	defer c.mu.Unlock()
	t.pending = false
	close(c.settled)
	c.settled = make(chan struct{})
	if c.parts[p.id] != p {
		return kerr.NotCoordinator
	}
	if err != nil {
		e := writeError(err)
		c.log.Warn("writing transaction state", zap.String("transactional_id", t.id), zap.Int32("partition", p.id),
			zap.Stringer("state", next.State), zap.Error(err), zap.String("answer", e.Message))
		return e
	}
	t.meta = next
	if next.State == Dead {
		delete(p.txns, t.id)
	}
	if applied != nil {
		applied()
	}
	return nil
}

// writeError maps a failed state write to what the client hears, as
// Kafka's TransactionStateManager does.
func writeError(err error) *kerr.Error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		switch ke {
		case kerr.UnknownTopicOrPartition, kerr.NotEnoughReplicas, kerr.NotEnoughReplicasAfterAppend, kerr.RequestTimedOut:
			return kerr.CoordinatorNotAvailable
		case kerr.NotLeaderForPartition, kerr.KafkaStorageError:
			return kerr.NotCoordinator
		}
		return kerr.UnknownServerError
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return kerr.CoordinatorNotAvailable
	}
	return kerr.UnknownServerError
}

// nowMs is the coordinator clock in Unix milliseconds.
func (c *Coordinator) nowMs() int64 { return c.cfg.Now().UnixMilli() }

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Owns reports whether this coordinator has loaded the partition of id.
func (c *Coordinator) Owns(transactionalID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[c.PartitionFor(transactionalID)]
	return p != nil && !p.loading
}
