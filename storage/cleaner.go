package storage

import (
	"context"
	"errors"
	"fmt"
	"github.com/gokafka/gokafka/storage/vfs"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
)

// cleanerCheckpointFile is Kafka's cleaner-offset-checkpoint: per log dir,
// the offset below which each compacted partition has been cleaned, in the
// offset checkpoint format (checkpoint.go).
const cleanerCheckpointFile = "cleaner-offset-checkpoint"

// CleanerConfig configures the log cleaner from the broker's keys.
type CleanerConfig struct {
	// Threads is log.cleaner.threads, default 1: logs cleaned at once.
	Threads int
	// Backoff is log.cleaner.backoff.ms, default 15000: the pause between
	// passes over the logs when none needed cleaning.
	Backoff time.Duration
	// DedupeBufferSize is log.cleaner.dedupe.buffer.size, default
	// 134217728: the memory for offset maps, shared by the threads, counted
	// as Kafka counts it (24 bytes a key at a load factor of 0.9).
	DedupeBufferSize int64
	// DedupeLoadFactor is log.cleaner.io.buffer.load.factor, default 0.9:
	// how full an offset map may get (0 or less here: the default).
	DedupeLoadFactor float64
	// IOMaxBytesPerSecond is log.cleaner.io.max.bytes.per.second, Kafka's
	// default Double.MaxValue (0 or less here: no limit): the bytes all
	// threads together read from segments per second.
	IOMaxBytesPerSecond float64
	// Codec compresses and decompresses batches (the broker passes
	// wire's).
	Codec  Codec
	Logger *zap.Logger
}

// CleanerLog is one partition the cleaner may clean.
type CleanerLog struct {
	Topic     string
	Partition int32
	Log       *Log
	// HighWatermark bounds what is cleaned: nothing at or past it.
	HighWatermark func() int64
}

// Cleaner is the broker's log cleaner (Kafka's LogCleaner): a pool of
// goroutines that, every Backoff or when woken, cleans the logs whose
// Config.Compact is set and keeps cleaner-offset-checkpoint in each log dir.
// A log is cleaned by one goroutine at a time. The cleaner takes no
// partition lock: Log.Clean takes the log's own locks (compact.go).
type Cleaner struct {
	logs   func() []CleanerLog
	logger *zap.Logger

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	// throttle is always set; its rate is 0 without a limit, so that
	// Reconfigure can impose one on a clean in progress.
	throttle *ioThrottle

	mu     sync.Mutex
	cfg    CleanerConfig               // guarded by mu; replaced by Reconfigure
	active int                         // goroutines of the pass in progress or last run; guarded by mu
	points map[string]map[string]int64 // log dir -> "topic partition" -> offset; guarded by mu
	passes int                         // completed passes; guarded by mu
	passed *sync.Cond                  // signalled after each pass
}

// NewCleaner returns a stopped cleaner over the logs that logs returns at
// each pass.
func NewCleaner(cfg CleanerConfig, logs func() []CleanerLog) *Cleaner {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	cfg = cfg.normalized()
	c := &Cleaner{cfg: cfg, logs: logs, logger: cfg.Logger, wake: make(chan struct{}, 1), points: map[string]map[string]int64{}}
	c.passed = sync.NewCond(&c.mu)
	c.throttle = newIOThrottle(cfg.IOMaxBytesPerSecond, time.Now)
	return c
}

// normalized fills in the defaults of unset fields.
func (cfg CleanerConfig) normalized() CleanerConfig {
	cfg.Threads = max(cfg.Threads, 1)
	if cfg.Backoff <= 0 {
		cfg.Backoff = 15 * time.Second
	}
	if cfg.DedupeBufferSize <= 0 {
		cfg.DedupeBufferSize = 128 << 20
	}
	if cfg.DedupeLoadFactor <= 0 {
		cfg.DedupeLoadFactor = dedupeLoadFactor
	}
	return cfg
}

// ioThrottle holds the cleaner's threads together to a byte rate, as
// Kafka's Throttler: bytes are counted over a window and, when the window's
// rate is above the limit, the caller waits until it is not.
type ioThrottle struct {
	now func() time.Time

	mu    sync.Mutex
	rate  float64       // guarded by mu; 0 or less: no limit
	reset chan struct{} // guarded by mu; closed when the rate changes, to end waits
	start time.Time     // guarded by mu; the window's start
	bytes int64         // guarded by mu; counted in the window
	// waiting counts the callers held back now (guarded by mu), for
	// tests that change the rate under a waiting clean.
	waiting int
}

func newIOThrottle(rate float64, now func() time.Time) *ioThrottle {
	return &ioThrottle{rate: rate, now: now, reset: make(chan struct{})}
}

// setRate changes the limit (0 or less: none), ending the waits of the old
// one and starting a new window, as Kafka's Throttler.updateDesiredRatePerSec
// applies the next check against the new rate.
func (t *ioThrottle) setRate(rate float64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rate == t.rate {
		return
	}
	t.rate = rate
	t.start, t.bytes = time.Time{}, 0
	if t.reset != nil {
		close(t.reset)
	}
	t.reset = make(chan struct{})
}

// throttleWindow is how often the rate is checked (Kafka's checkIntervalMs
// is 300 ms).
const throttleWindow = 300 * time.Millisecond

func (t *ioThrottle) wait(ctx context.Context, n int64) error {
	t.mu.Lock()
	if t.rate <= 0 {
		t.mu.Unlock()
		return nil
	}
	now := t.now()
	if t.start.IsZero() {
		t.start = now
	}
	t.bytes += n
	elapsed := now.Sub(t.start)
	if elapsed < throttleWindow {
		t.mu.Unlock()
		return nil
	}
	need := time.Duration(float64(t.bytes) / t.rate * float64(time.Second))
	t.start, t.bytes = now, 0
	reset := t.reset
	t.mu.Unlock()
	if need <= elapsed {
		return nil
	}
	timer := time.NewTimer(need - elapsed)
	defer timer.Stop()
	t.mu.Lock()
	t.waiting++
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.waiting--
		t.mu.Unlock()
	}()
	select {
	case <-timer.C:
		return nil
	case <-reset:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reconfigure applies log.cleaner.* changed at runtime (Kafka's
// LogCleaner.reconfigure, for LogCleaner.ReconfigurableConfigs): the I/O
// rate at once, even to a clean in progress; the threads, dedupe buffer and
// load factor from the next pass; the backoff from now, as a pass starts at
// once. Kafka restarts its cleaner threads instead, which aborts the
// cleans in progress; here they finish under the new rate. The caller
// validates the values (threads at most double or half, ...).
func (c *Cleaner) Reconfigure(cfg CleanerConfig) {
	c.mu.Lock()
	cfg.Codec, cfg.Logger = c.cfg.Codec, c.cfg.Logger
	c.cfg = cfg.normalized()
	c.mu.Unlock()
	c.throttle.setRate(cfg.IOMaxBytesPerSecond)
	c.Wake()
}

// Config returns the configuration in force.
func (c *Cleaner) Config() CleanerConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg
}

// Threads is the number of goroutines of the pass in progress, or of the
// last one: log.cleaner.threads as the pass read it.
func (c *Cleaner) Threads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.active
}

// Start runs the cleaner until Stop.
func (c *Cleaner) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.done = make(chan struct{})
	go c.run(ctx)
}

// Stop ends the cleaner, interrupting a clean in progress (its .cleaned
// files are removed or, after a crash, by Open), and waits for it.
func (c *Cleaner) Stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
	c.cancel = nil
}

// Wake starts a pass now rather than after the backoff.
func (c *Cleaner) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Passes is the number of completed passes, for tests that wait for one.
func (c *Cleaner) Passes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.passes
}

func (c *Cleaner) run(ctx context.Context) {
	defer close(c.done)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-c.wake:
		}
		c.pass(ctx)
		c.mu.Lock()
		c.passes++
		c.passed.Broadcast()
		backoff := c.cfg.Backoff
		c.mu.Unlock()
		t.Reset(backoff)
	}
}

// pass offers every compacted log to the pool once.
func (c *Cleaner) pass(ctx context.Context) {
	c.mu.Lock()
	cfg := c.cfg
	c.active = cfg.Threads
	c.mu.Unlock()
	work := make(chan CleanerLog)
	var wg sync.WaitGroup
	entries := int(float64(cfg.DedupeBufferSize) / float64(cfg.Threads) / offsetMapEntryBytes * cfg.DedupeLoadFactor)
	for range cfg.Threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cl := range work {
				if _, err := c.CleanLog(ctx, cl, entries, false); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, ErrClosed) {
					if errors.Is(err, errCleanAborted) {
						c.logger.Debug("clean aborted", zap.String("log", cl.Log.Dir()), zap.Error(err))
					} else {
						c.logger.Warn("log clean failed", zap.String("log", cl.Log.Dir()), zap.Error(err))
					}
				}
			}
		}()
	}
	for _, cl := range c.logs() {
		if !cl.Log.compact() {
			continue
		}
		select {
		case work <- cl:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(work)
	wg.Wait()
}

// compact reports whether the log's cleanup.policy includes compact.
func (l *Log) compact() bool {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.cfg.Compact
}

// CleanLog cleans one log now (force ignores the dirty ratio) and records
// the new checkpoint in its log dir's cleaner-offset-checkpoint.
func (c *Cleaner) CleanLog(ctx context.Context, cl CleanerLog, mapEntries int, force bool) (CleanResult, error) {
	dir := filepath.Dir(cl.Log.Dir())
	key := fmt.Sprintf("%s %d", cl.Topic, cl.Partition)
	c.mu.Lock()
	if err := c.loadPointsLocked(dir); err != nil {
		c.mu.Unlock()
		return CleanResult{}, err
	}
	stored, had := c.points[dir][key]
	c.mu.Unlock()
	first := stored
	if t := cl.Log.CleanedThrough(); t >= 0 && t < first {
		first = t
	}
	if first > cl.Log.EndOffset() {
		// A checkpoint past the end describes another log (a topic deleted
		// and created again): start over, as Kafka resets such a
		// checkpoint to the log start.
		first = 0
	}
	upper := cl.Log.EndOffset()
	if cl.HighWatermark != nil {
		upper = cl.HighWatermark()
	}
	opts := CleanOptions{FirstDirty: first, UpperBound: upper, MapEntries: mapEntries, Codec: c.Config().Codec, Force: force, Throttle: c.throttle.wait}
	res, err := cl.Log.Clean(ctx, opts)
	if err != nil {
		return res, fmt.Errorf("clean %s-%d: %w", cl.Topic, cl.Partition, err)
	}
	if !res.Cleaned && (!had || first == stored) {
		// Nothing new to record; a checkpoint a truncation pulled back is
		// written even without a clean, since CleanedThrough forgets it.
		return res, nil
	}
	if filepath.Dir(cl.Log.Dir()) != dir {
		// The log moved to another log dir meanwhile: what this clean
		// did is not known to be in the files the log has now, and the
		// move carried the checkpoint over (MoveCheckpoint).
		return res, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.points[dir][key] = res.NextDirty
	if err := c.writePointsLocked(dir); err != nil {
		return res, fmt.Errorf("clean %s-%d: %w", cl.Topic, cl.Partition, err)
	}
	return res, nil
}

// writePointsLocked writes dir's cleaner-offset-checkpoint from the
// points held for it, forgetting partitions no longer in dir.
func (c *Cleaner) writePointsLocked(dir string) error {
	var entries []checkpointEntry
	for k, o := range c.points[dir] {
		var e checkpointEntry
		if _, err := fmt.Sscanf(k, "%s %d", &e.topic, &e.partition); err != nil {
			continue
		}
		if !fileExists(filepath.Join(dir, fmt.Sprintf("%s-%d", e.topic, e.partition))) {
			// The partition was deleted from this dir (or moved away):
			// forget it, as Kafka's LogCleanerManager does.
			delete(c.points[dir], k)
			continue
		}
		e.offset = o
		entries = append(entries, e)
	}
	return writeFileAtomic(vfs.Default, filepath.Join(dir, cleanerCheckpointFile), encodeOffsetCheckpoint(entries))
}

// MoveCheckpoint carries a partition's cleaner checkpoint from the log
// dir from to the log dir to, after its log moved there
// (AlterReplicaLogDirs), as Kafka's LogCleanerManager.alterCheckpointDir:
// the moved log holds the same batches, so what was cleaned stays cleaned
// and is not compacted again from the start. The entry is written into
// to's file before it leaves from's, so that a crash between the two
// leaves it in both, and from's copy is dropped at its next write (the
// partition is not in from any more).
func (c *Cleaner) MoveCheckpoint(topic string, partition int32, from, to string) error {
	key := fmt.Sprintf("%s %d", topic, partition)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.loadPointsLocked(from); err != nil {
		return err
	}
	o, ok := c.points[from][key]
	if !ok {
		return nil
	}
	if err := c.loadPointsLocked(to); err != nil {
		return err
	}
	c.points[to][key] = o
	if err := c.writePointsLocked(to); err != nil {
		return fmt.Errorf("move the cleaner checkpoint of %s-%d: %w", topic, partition, err)
	}
	delete(c.points[from], key)
	if err := c.writePointsLocked(from); err != nil {
		return fmt.Errorf("move the cleaner checkpoint of %s-%d: %w", topic, partition, err)
	}
	return nil
}

// loadPointsLocked reads dir's checkpoint the first time the dir is seen.
func (c *Cleaner) loadPointsLocked(dir string) error {
	if _, ok := c.points[dir]; ok {
		return nil
	}
	entries, err := readOffsetCheckpoint(vfs.Default, filepath.Join(dir, cleanerCheckpointFile))
	if err != nil {
		return err
	}
	m := make(map[string]int64, len(entries))
	for _, e := range entries {
		m[fmt.Sprintf("%s %d", e.topic, e.partition)] = e.offset
	}
	c.points[dir] = m
	return nil
}

// WaitPasses blocks until n passes have completed or ctx ends.
func (c *Cleaner) WaitPasses(ctx context.Context, n int) error {
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		c.passed.Broadcast()
		c.mu.Unlock()
	})
	defer stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.passes < n {
		if err := ctx.Err(); err != nil {
			return err
		}
		c.passed.Wait()
	}
	return nil
}
