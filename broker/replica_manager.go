package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/storage/vfs"
	"go.uber.org/zap"
)

// Background intervals of the replica manager.
const (
	// checkpointInterval is how often the recovery-point, high-watermark
	// and log-start-offset checkpoint files are rewritten. Kafka's
	// defaults are 60 s (log.flush.offset.checkpoint.interval.ms), 5 s
	// (replica.high.watermark.checkpoint.interval.ms) and 60 s
	// (log.flush.start.offset.checkpoint.interval.ms); gokafka writes all
	// three together at the shortest of them.
	checkpointInterval = 5 * time.Second
	// flushCheckInterval is how often flush.ms is checked for logs that set
	// it (Kafka's log.flush.scheduler.interval.ms defaults to MaxLong, which
	// never checks; gokafka checks every second so flush.ms means what it
	// says).
	flushCheckInterval = time.Second
)

// replicaManager holds the partitions this broker hosts. Lookups take a
// read lock on the map only; nothing on the request path holds a global lock
// while it touches a log.
//
// Lock order: replicaManager.openMu, then replicaManager.mu, then
// Partition.mu. The map lock is never held while a log is opened, flushed or
// deleted.
type replicaManager struct {
	// cpMu serializes writeCheckpoints: the periodic writer, shutdown and
	// DeleteRecords share the files' .tmp names.
	cpMu       sync.Mutex
	mu         sync.RWMutex
	partitions map[topicPartition]*Partition

	// openMu and tpLocks keep a partition from being opened twice or
	// while it is being deleted: opening or deleting one partition holds
	// openMu for reading and that partition's lock in tpLocks, so distinct
	// partitions open in parallel (a start with 10,000 partitions is
	// bounded by system calls, not by one lock); close holds openMu for
	// writing, excluding all of them.
	openMu  sync.RWMutex
	tpLocks partitionLocks

	dirs          *storage.Dirs
	fs            vfs.FS // the file layer under the log dirs; nil: the OS's
	logger        *zap.Logger
	brokerID      int32
	cleanShutdown bool
	now           func() time.Time
	// flushEvery and checkpointEvery are flushCheckInterval and
	// checkpointInterval; tests shorten them.
	flushEvery      time.Duration
	checkpointEvery time.Duration
	// producerExpiryEvery is producer.id.expiration.check.interval.ms
	// (zero: Kafka's default, 10 minutes); the server sets it, tests
	// shorten it.
	producerExpiryEvery time.Duration

	// saved holds checkpoint entries of partitions not opened (yet), so a
	// checkpoint written before every partition is opened does not forget
	// their recovery points (guarded by mu).
	saved map[topicPartition]savedOffsets

	// Log dir moves (log_dir_move.go): futures are the -future dirs found
	// at start, resumed when their partition opens (guarded by mu);
	// moveCtx is the movers' parent, cancelled at close, and moveWG waits
	// for them.
	futures    map[topicPartition]storage.FutureDir
	moveCtx    context.Context
	moveCancel context.CancelFunc
	moveWG     sync.WaitGroup
	// moveQuota bounds what the movers copy, all together
	// (replica.alter.log.dirs.io.max.bytes.per.second); nil: unlimited.
	moveQuota *replicationQuota
	// afterMove, when set, is told of each finished move (the server
	// moves the partition's cleaner checkpoint).
	afterMove func(tp topicPartition, from, to string)
	// alterMu serializes AlterReplicaLogDirs changes, as Kafka's
	// replicaStateChangeLock does.
	alterMu sync.Mutex
	// onMoveStart, set by tests only, sees each move before its mover
	// starts.
	onMoveStart func(*logMove)
}

// savedOffsets is one partition's line in each checkpoint file.
type savedOffsets struct {
	dir           string
	recoveryPoint int64
	hw            int64
	start         int64
	hasRecovery   bool
	hasHW         bool
	hasStart      bool
}

// newReplicaManager creates the replica manager. cp are the checkpoints read
// at start; cleanShutdown says whether the previous run stopped cleanly, in
// which case logs are not scanned at open.
func newReplicaManager(dirs *storage.Dirs, logger *zap.Logger, brokerID int32, cleanShutdown bool, cp storage.Checkpoints) *replicaManager {
	if logger == nil {
		logger = zap.NewNop()
	}
	rm := &replicaManager{
		partitions:      make(map[topicPartition]*Partition),
		dirs:            dirs,
		logger:          logger,
		brokerID:        brokerID,
		cleanShutdown:   cleanShutdown,
		now:             time.Now,
		flushEvery:      flushCheckInterval,
		checkpointEvery: checkpointInterval,
		saved:           make(map[topicPartition]savedOffsets),
		futures:         make(map[topicPartition]storage.FutureDir),
	}
	rm.moveCtx, rm.moveCancel = context.WithCancel(context.Background())
	if futures, err := dirs.FutureDirs(); err != nil {
		logger.Error("listing future logs to resume", zap.Error(err))
	} else {
		for _, f := range futures {
			rm.futures[topicPartition{f.Topic, f.Partition}] = f
		}
	}
	entry := func(d storage.PartitionDir) savedOffsets {
		tp := topicPartition{d.Topic, d.Partition}
		s := rm.saved[tp]
		if s.dir == "" {
			s.dir = d.Path
		}
		return s
	}
	for d, off := range cp.RecoveryPoints {
		s := entry(d)
		s.recoveryPoint, s.hasRecovery = off, true
		rm.saved[topicPartition{d.Topic, d.Partition}] = s
	}
	for d, off := range cp.HighWatermarks {
		s := entry(d)
		s.hw, s.hasHW = off, true
		rm.saved[topicPartition{d.Topic, d.Partition}] = s
	}
	for d, off := range cp.LogStartOffsets {
		s := entry(d)
		s.start, s.hasStart = off, true
		rm.saved[topicPartition{d.Topic, d.Partition}] = s
	}
	return rm
}

// get returns the hosted partition.
func (rm *replicaManager) get(tp topicPartition) (*Partition, bool) {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	p, ok := rm.partitions[tp]
	return p, ok
}

// all returns a snapshot of the hosted partitions.
func (rm *replicaManager) all() []*Partition {
	rm.mu.RLock()
	defer rm.mu.RUnlock()
	ps := make([]*Partition, 0, len(rm.partitions))
	for _, p := range rm.partitions {
		ps = append(ps, p)
	}
	return ps
}

// openWorkers is how many logs openMany opens at once. Opening a log is
// mostly system calls (directory listing, open, mmap, small reads) and, on
// a cold page cache, waiting for the disk; a handful in parallel keeps both
// cores and the disk queue busy at a start with many partitions, like
// Kafka's num.recovery.threads.per.data.dir but sized for speed.
const openWorkers = 8

// lockPartition takes openMu for reading and tp's own lock, and returns
// the function that releases both.
func (rm *replicaManager) lockPartition(tp topicPartition) (unlock func()) {
	rm.openMu.RLock()
	release := rm.tpLocks.lock(tp)
	return func() {
		release()
		rm.openMu.RUnlock()
	}
}

// partitionLocks is a mutex per partition, created on first use and
// dropped when nobody holds or waits for it, so the map stays as small as
// the number of opens and deletes in flight.
type partitionLocks struct {
	mu sync.Mutex
	m  map[topicPartition]*partitionLock
}

type partitionLock struct {
	mu   sync.Mutex
	refs int // holders and waiters, guarded by partitionLocks.mu
}

// lock blocks until tp's lock is held and returns its release.
func (l *partitionLocks) lock(tp topicPartition) (release func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[topicPartition]*partitionLock)
	}
	e := l.m[tp]
	if e == nil {
		e = &partitionLock{}
		l.m[tp] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(l.m, tp)
		}
		l.mu.Unlock()
	}
}

// openRequest is one partition of an openMany call.
type openRequest struct {
	tp      topicPartition
	topicID [16]byte
	cfg     TopicConfig
}

// openMany opens many partitions with a bounded pool of workers. Every
// partition is tried; errs[i] is the failure of reqs[i].
func (rm *replicaManager) openMany(reqs []openRequest) ([]*Partition, []error) {
	ps := make([]*Partition, len(reqs))
	errs := make([]error, len(reqs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(openWorkers, len(reqs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := reqs[i]
				ps[i], errs[i] = rm.open(r.tp, r.topicID, r.cfg)
			}
		}()
	}
	for i := range reqs {
		next <- i
	}
	close(next)
	wg.Wait()
	return ps, errs
}

// open returns the hosted partition tp, opening its log first when needed:
// the recovery point and high watermark come from the checkpoints, the
// topic id is checked against (or written to) partition.metadata, and the
// leader-epoch cache is read. Calls for distinct partitions may run
// concurrently; lockPartition keeps a partition from being opened twice or while
// it is being deleted.
func (rm *replicaManager) open(tp topicPartition, topicID [16]byte, cfg TopicConfig) (*Partition, error) {
	if p, ok := rm.get(tp); ok {
		if p.topicID != topicID && topicID != ([16]byte{}) {
			return nil, fmt.Errorf("open %s: hosted with topic id %x, asked for %x", tp, p.topicID, topicID)
		}
		p.cfg.Store(&cfg)
		rm.resumeParked(p)
		return p, nil
	}
	defer rm.lockPartition(tp)()
	if p, ok := rm.get(tp); ok {
		return p, nil
	}

	dir := rm.dirs.PathFor(tp.Topic, tp.Partition)
	if rm.dirs.IsOffline(dir) {
		// Kafka neither opens nor re-creates a log in an offline dir.
		return nil, fmt.Errorf("open %s: log dir of %s is offline: %w", tp, dir, storage.ErrOffline)
	}
	rm.mu.RLock()
	saved, hasSaved := rm.saved[tp]
	rm.mu.RUnlock()
	opts := storage.OpenOptions{
		Logger:        rm.logger.With(zap.String("partition", tp.String())),
		Now:           rm.now,
		CleanShutdown: rm.cleanShutdown,
		FS:            rm.fs,
		// An I/O failure of this log takes its whole log dir offline
		// (log_dir_failure.go).
		OnOffline: func(err error) { rm.dirs.Fail(dir, err) },
	}
	if hasSaved && saved.hasRecovery {
		opts.RecoveryPoint = saved.recoveryPoint
	}
	if hasSaved && saved.hasStart {
		opts.LogStartOffset = saved.start
	}
	log, err := storage.Open(dir, cfg.Log, opts)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", tp, err)
	}
	fail := func(err error) (*Partition, error) {
		if cerr := log.Close(); cerr != nil {
			rm.logger.Warn("closing log after a failed open", zap.String("partition", tp.String()), zap.Error(cerr))
		}
		return nil, err
	}
	storedID, ok, err := storage.ReadPartitionMetadata(log.FS(), dir)
	if err != nil {
		return fail(fmt.Errorf("open %s: %w", tp, err))
	}
	switch {
	case !ok:
		if err := storage.WritePartitionMetadata(log.FS(), dir, topicID); err != nil {
			return fail(fmt.Errorf("open %s: %w", tp, err))
		}
	case storedID != topicID:
		return fail(fmt.Errorf("open %s: %s holds topic id %x, the topic has %x", tp, dir, storedID, topicID))
	}
	// Epochs that start past the log end describe records the log no
	// longer has (a crash cut its tail): drop them. Kafka's load also
	// drops an epoch that starts exactly at the log end; this keeps it,
	// because that is the state of a leader just elected that has not
	// written yet (every empty partition), and dropping it costs a
	// synchronous rewrite of the file per partition at each start, then a
	// second one when the same epoch is assigned again by LeaderAndIsr.
	epochs, err := storage.TruncateLeaderEpochs(log.FS(), dir, log.EndOffset()+1)
	if err != nil {
		return fail(fmt.Errorf("open %s: %w", tp, err))
	}
	hw := int64(-1)
	if hasSaved && saved.hasHW {
		hw = saved.hw
	}
	p := newPartition(tp, topicID, log, cfg, rm.brokerID, hw)
	p.epochs = epochs
	if n := len(epochs); n > 0 {
		p.leaderEpoch.Store(epochs[n-1].Epoch)
	} else {
		p.leaderEpoch.Store(-1)
	}
	rm.mu.Lock()
	rm.partitions[tp] = p
	delete(rm.saved, tp)
	future, resume := rm.futures[tp]
	delete(rm.futures, tp)
	rm.mu.Unlock()
	if resume {
		rm.resumeMove(p, future)
	}
	rm.logger.Debug("opened partition", zap.String("partition", tp.String()),
		zap.Int64("log_end_offset", log.EndOffset()), zap.Int64("high_watermark", p.HighWatermark()))
	return p, nil
}

// stopPartition stops replicating tp (StopReplica); with deleteLog the log
// is closed and its directory removed, because the topic is deleted
// (topicDeleted) or the replica was moved to other brokers, and so is the
// future log of a move between log dirs. Without deleteLog a move stops
// and keeps its future log (parkMove).
func (rm *replicaManager) stopPartition(tp topicPartition, deleteLog, topicDeleted bool) error {
	p, ok := rm.get(tp)
	if !ok {
		if deleteLog {
			return rm.removeUnopened(tp)
		}
		return nil
	}
	if !deleteLog {
		rm.parkMove(p)
		p.stopReplica()
		return nil
	}
	rm.cancelMove(p, true)
	defer rm.lockPartition(tp)()
	rm.mu.Lock()
	delete(rm.partitions, tp)
	delete(rm.saved, tp)
	rm.mu.Unlock()
	p.moved.Store(!topicDeleted)
	if err := p.closeLog(rm.deleteDir); err != nil {
		return err
	}
	// A move an earlier StopReplica stopped left its future log.
	if err := rm.removeFutures(func(t topicPartition) bool { return t == tp }); err != nil {
		return err
	}
	rm.logger.Info("deleted partition log", zap.String("partition", tp.String()))
	return nil
}

// removeUnopened deletes the directory of a partition that was never
// opened in this run.
func (rm *replicaManager) removeUnopened(tp topicPartition) error {
	defer rm.lockPartition(tp)()
	rm.mu.Lock()
	delete(rm.saved, tp)
	rm.mu.Unlock()
	dirs, err := rm.dirs.Partitions()
	if err != nil {
		return fmt.Errorf("remove %s: %w", tp, err)
	}
	for _, d := range dirs {
		if d.Topic == tp.Topic && d.Partition == tp.Partition {
			if err := rm.deleteDir(d.Path); err != nil {
				return fmt.Errorf("remove %s: %w", tp, err)
			}
		}
	}
	return rm.removeFutures(func(t topicPartition) bool { return t == tp })
}

// run drives the background work until ctx ends: retention every
// retentionCheck (log.retention.check.interval.ms), flush.ms checks every
// second, the checkpoint files every few seconds and idle producers every
// producerExpiryEvery (producer.id.expiration.check.interval.ms).
func (rm *replicaManager) run(ctx context.Context, retentionCheck time.Duration) {
	if retentionCheck <= 0 {
		retentionCheck = 5 * time.Minute
	}
	if n, err := rm.dirs.QueueDeleted(rm.now()); err != nil {
		rm.logger.Warn("queueing -delete dirs for removal", zap.Error(err))
	} else if n > 0 {
		rm.logger.Info("-delete dirs left by an earlier run queued for removal after file.delete.delay.ms", zap.Int("dirs", n))
	}
	deleterDone := make(chan struct{})
	go func() {
		defer close(deleterDone)
		rm.runDeleter(ctx)
	}()
	defer func() { <-deleterDone }()
	retention := time.NewTicker(retentionCheck)
	defer retention.Stop()
	expiryCheck := rm.producerExpiryEvery
	if expiryCheck <= 0 {
		expiryCheck = defaultProducerIDExpirationCheckMs * time.Millisecond
	}
	producerExpiry := time.NewTicker(expiryCheck)
	defer producerExpiry.Stop()
	flush := time.NewTicker(rm.flushEvery)
	defer flush.Stop()
	checkpoint := time.NewTicker(rm.checkpointEvery)
	defer checkpoint.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-retention.C:
			rm.retentionPass()
		case <-flush.C:
			rm.flushPass()
		case <-producerExpiry.C:
			rm.producerExpiryPass()
		case <-checkpoint.C:
			if err := rm.writeCheckpoints(); err != nil {
				rm.logger.Error("writing checkpoints", zap.Error(err))
			}
		}
	}
}

// retentionPass deletes expired segments in every hosted log.
func (rm *replicaManager) retentionPass() {
	for _, p := range rm.all() {
		n, err := p.deleteRetained()
		if err != nil {
			rm.logger.Error("retention", zap.String("partition", p.tp.String()), zap.Error(err))
			continue
		}
		if n > 0 {
			rm.logger.Info("deleted segments past retention", zap.String("partition", p.tp.String()),
				zap.Int("segments", n), zap.Int64("log_start_offset", p.StartOffset()))
		}
	}
}

// producerExpiryPass drops idle producers (producer.id.expiration.ms) from
// every hosted log's producer table.
func (rm *replicaManager) producerExpiryPass() {
	for _, p := range rm.all() {
		n, err := p.expireProducers()
		if err != nil {
			rm.logger.Error("producer expiration", zap.String("partition", p.tp.String()), zap.Error(err))
			continue
		}
		if n > 0 {
			rm.logger.Debug("expired idle producers", zap.String("partition", p.tp.String()), zap.Int("producers", n))
		}
	}
}

// flushPass fsyncs logs whose flush.ms has elapsed.
func (rm *replicaManager) flushPass() {
	now := rm.now()
	for _, p := range rm.all() {
		if err := p.maybeFlush(now); err != nil {
			rm.logger.Error("flush", zap.String("partition", p.tp.String()), zap.Error(err))
		}
	}
}

// writeCheckpoints writes recovery points, high watermarks and log start
// offsets of every hosted partition (and the saved ones of partitions not
// opened in this run) to the log dirs' checkpoint files.
func (rm *replicaManager) writeCheckpoints() error {
	rm.cpMu.Lock()
	defer rm.cpMu.Unlock()
	cp := storage.Checkpoints{
		RecoveryPoints:  make(map[storage.PartitionDir]int64),
		HighWatermarks:  make(map[storage.PartitionDir]int64),
		LogStartOffsets: make(map[storage.PartitionDir]int64),
	}
	for _, p := range rm.all() {
		rp, hw, start, dir, ok := p.checkpoint()
		if !ok {
			continue
		}
		d := storage.PartitionDir{Topic: p.tp.Topic, Partition: p.tp.Partition, Path: dir}
		cp.RecoveryPoints[d] = rp
		cp.HighWatermarks[d] = hw
		cp.LogStartOffsets[d] = start
	}
	rm.mu.RLock()
	for tp, s := range rm.saved {
		d := storage.PartitionDir{Topic: tp.Topic, Partition: tp.Partition, Path: s.dir}
		if s.hasRecovery {
			cp.RecoveryPoints[d] = s.recoveryPoint
		}
		if s.hasHW {
			cp.HighWatermarks[d] = s.hw
		}
		if s.hasStart {
			cp.LogStartOffsets[d] = s.start
		}
	}
	rm.mu.RUnlock()
	if err := rm.dirs.WriteCheckpoints(cp); err != nil {
		return fmt.Errorf("write checkpoints: %w", err)
	}
	return nil
}

// close flushes every log, writes the checkpoints (so the recovery points
// cover everything) and closes the logs. The caller then marks the clean
// shutdown in the log dirs.
func (rm *replicaManager) close() error {
	rm.stopMoves()
	rm.openMu.Lock()
	defer rm.openMu.Unlock()
	var errs []error
	ps := rm.all()
	for _, p := range ps {
		if err := p.flush(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := rm.writeCheckpoints(); err != nil {
		errs = append(errs, err)
	}
	rm.mu.Lock()
	rm.partitions = make(map[topicPartition]*Partition)
	rm.mu.Unlock()
	for _, p := range ps {
		if err := p.closeLog(nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
