package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/gokafka/gokafka/storage"
	"go.uber.org/zap"
)

// Moving a replica between log dirs (AlterReplicaLogDirs, KIP-113), as
// Kafka's ReplicaAlterLogDirsThread does it.
//
// A move opens a future log (storage/future_log.go) in the target log dir
// and a goroutine, the mover, copies the partition's log into it: it reads
// the current log from the future log's end up to the current log's end,
// as a follower fetches from its leader, and appends. Produce, fetch and
// replication go on against the current log meanwhile; nothing is added
// on their paths. Once the future log has caught up the mover takes the
// partition lock (no append, truncation or retention can run), copies what
// arrived since, writes the partition's leader epochs into the future dir
// and has storage swap the two (Log.ReplaceWithFuture): the partition's
// *storage.Log now lives in the target dir. The old directory, renamed
// -delete, is removed by the mover right after, and the checkpoints are
// rewritten so that the old log dir's forget the partition.
//
// The current log may shrink under a move: a follower truncates to its new
// leader (afterTruncateLocked calls truncateFutureLocked, under the
// partition lock, which cuts the future log to match) and retention or
// DeleteRecords move its start (the future log restarts at the new start
// when it falls behind it, storage.Log.CopyFrom).
//
// A move ends by swapping, by being cancelled (another AlterReplicaLogDirs
// target, the partition deleted, a log dir failed: the future log is
// deleted, or closed when its own dir failed) or by the broker stopping:
// the future log is then closed where it is, and the next start resumes it
// (replicaManager.open), as Kafka resumes its -future dirs after a
// restart.
//
// The movers share one quota, replica.alter.log.dirs.io.max.bytes.per.second
// (Kafka's alterLogDirs ReplicationQuotaManager): every byte copied is
// recorded, and while the rate is over the bound no mover copies, nor
// swaps, and each looks again after moveThrottleBackoff (Kafka's
// LocalLeaderEndPoint builds no fetch while the quota is exceeded, and the
// thread backs off replica.fetch.backoff.ms). Only the copy under the
// partition lock at the swap, the few batches appended since the last
// step, is not held back. A copy step is at most the bound's bytes, so a
// low bound is kept in small steps rather than one 1 MiB burst.
//
// Lock order: Partition.mu, then logMove.mu. The mover holds logMove.mu
// alone while it copies, and both only for the swap.

// moveChunkBytes is how much the mover copies per step (Kafka's
// replica.fetch.max.bytes default, 1 MiB, bounds its future-replica
// fetches the same way).
const moveChunkBytes = 1 << 20

// moveThrottleBackoff is how long a mover waits while the log dir move
// quota is exceeded (Kafka's replica.fetch.backoff.ms default).
const moveThrottleBackoff = time.Second

// moveIdleWait bounds how long a caught-up mover waits for an append
// before it checks again (it is woken by appends before that).
const moveIdleWait = 500 * time.Millisecond

// logMove is one replica's move to another log dir.
type logMove struct {
	// mu serializes writes to future: the mover's copies and truncations
	// that follow the current log's.
	mu     sync.Mutex
	future *storage.Log
	// target is the log dir the replica moves to.
	target string
	cancel context.CancelFunc
	done   chan struct{}
	// discard says the future log is to be deleted when the mover exits
	// rather than closed for a resume; written under Partition.mu by
	// whoever takes the move off the partition.
	discard bool
}

// futureDir is the log dir the partition's replica is moving to, "" when
// none.
func (p *Partition) futureDir() string {
	if m := p.move.Load(); m != nil {
		return m.target
	}
	return ""
}

// truncateFutureLocked cuts the future log back to the current one after a
// truncation of the latter (called with p.mu held): without it the future
// log could keep batches the current log replaced. When that fails the
// move is dropped (its mover deletes the future log) and the error
// returned.
func (p *Partition) truncateFutureLocked() error {
	m := p.move.Load()
	if m == nil {
		return nil
	}
	m.mu.Lock()
	start, end := p.log.StartOffset(), p.log.EndOffset()
	var err error
	switch {
	case start == end:
		err = m.future.TruncateFullyTo(start)
	case m.future.EndOffset() > end:
		err = m.future.TruncateTo(end)
	}
	m.mu.Unlock()
	if err != nil {
		p.move.Store(nil)
		m.discard = true
		m.cancel()
	}
	return err
}

// startMove moves partition p's replica to the log dir target: it opens
// the future log at path (a new one when path is "", else one found on disk
// to resume) and starts its mover. The caller checked that target is an
// online log dir other than p's.
func (rm *replicaManager) startMove(p *Partition, target, path string) error {
	resume := path != ""
	if !resume {
		var err error
		if path, err = rm.dirs.NewFuturePath(p.tp.Topic, p.tp.Partition, target); err != nil {
			return err
		}
	}
	opts := storage.OpenOptions{
		Logger:        rm.logger.With(zap.String("partition", p.tp.String()), zap.Bool("future", true)),
		Now:           rm.now,
		CleanShutdown: rm.cleanShutdown,
		FS:            rm.fs,
		OnOffline:     func(err error) { rm.dirs.Fail(path, err) },
	}
	future, err := storage.Open(path, p.config().Log, opts)
	if err != nil {
		return fmt.Errorf("open the future log of %s: %w", p.tp, err)
	}
	drop := func(err error) error {
		if derr := rm.deleteLog(future); derr != nil {
			rm.logger.Warn("deleting a future log", zap.String("partition", p.tp.String()), zap.Error(derr))
		}
		return err
	}
	if err := rm.checkFutureTopicID(p, future, resume); err != nil {
		return drop(err)
	}
	m := &logMove{future: future, target: target, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(rm.moveCtx)
	m.cancel = cancel

	p.mu.Lock()
	if p.deleted || p.move.Load() != nil {
		p.mu.Unlock()
		cancel()
		return drop(fmt.Errorf("move %s: the partition is closed or already moving", p.tp))
	}
	if err := rm.alignFutureLocked(p, future, resume); err != nil {
		p.mu.Unlock()
		cancel()
		return drop(err)
	}
	p.move.Store(m)
	p.mu.Unlock()

	rm.logger.Info("moving a replica to another log dir", zap.String("partition", p.tp.String()),
		zap.String("from", filepath.Dir(p.log.Dir())), zap.String("to", target), zap.Bool("resumed", resume))
	if rm.onMoveStart != nil {
		rm.onMoveStart(m)
	}
	rm.moveWG.Add(1)
	go func() {
		defer rm.moveWG.Done()
		rm.runMove(ctx, p, m)
	}()
	return nil
}

// checkFutureTopicID writes the topic id into a new future dir, or checks
// that a resumed one holds the partition's.
func (rm *replicaManager) checkFutureTopicID(p *Partition, future *storage.Log, resume bool) error {
	stored, ok, err := storage.ReadPartitionMetadata(future.FS(), future.Dir())
	if err != nil {
		return fmt.Errorf("future log of %s: %w", p.tp, err)
	}
	if resume && ok && stored != p.topicID {
		return fmt.Errorf("future log %s holds topic id %x, the topic has %x", future.Dir(), stored, p.topicID)
	}
	if !ok {
		if err := storage.WritePartitionMetadata(future.FS(), future.Dir(), p.topicID); err != nil {
			return fmt.Errorf("future log of %s: %w", p.tp, err)
		}
	}
	return nil
}

// alignFutureLocked makes the future log a prefix of the current one
// before copying starts (p.mu held): a new one starts at the current log's
// start, and a resumed one is kept when its last batch is the current
// log's batch at the same offset, byte for byte, and restarted otherwise
// (Kafka's future replica truncates by leader epoch against the current
// one after a restart; a last batch that matches is the same check made
// stronger, a whole-batch comparison).
func (rm *replicaManager) alignFutureLocked(p *Partition, future *storage.Log, resume bool) error {
	start := p.log.StartOffset()
	if resume && future.EndOffset() > future.StartOffset() && future.EndOffset() <= p.log.EndOffset() && future.EndOffset() > start {
		if ok, err := sameLastBatch(future, p.log); err == nil && ok {
			return nil
		}
		rm.logger.Info("restarting a future log that does not match the current one", zap.String("partition", p.tp.String()))
	}
	if err := future.TruncateFullyTo(start); err != nil {
		return fmt.Errorf("start the future log of %s at %d: %w", p.tp, start, err)
	}
	return nil
}

// sameLastBatch reports whether future's last batch is in cur, identical.
// (Read returns the batch holding an offset whole, and the last batch holds
// the offset before the log end.)
func sameLastBatch(future, cur *storage.Log) (bool, error) {
	last, err := future.Read(future.EndOffset()-1, 1, math.MaxInt64)
	if err != nil || len(last) < 8 {
		return false, err
	}
	base := int64(0)
	for i := range 8 {
		base = base<<8 | int64(last[i])
	}
	got, err := cur.Read(base, len(last), math.MaxInt64)
	if err != nil {
		return false, err
	}
	return len(got) >= len(last) && bytes.Equal(got[:len(last)], last), nil
}

// runMove is the mover of m: it copies until the future log has caught up,
// then swaps under the partition lock; a caught-up mover waits for the next
// append. It exits when the swap is done, when the move is cancelled or
// failed, or when ctx ends.
func (rm *replicaManager) runMove(ctx context.Context, p *Partition, m *logMove) {
	swapped := false
	defer func() {
		// done closes only once the future log is closed or deleted:
		// whoever waits for it may open the same dir again (a resumed
		// move) or remove it.
		defer close(m.done)
		if swapped {
			return
		}
		var err error
		if m.discard {
			err = rm.deleteLog(m.future)
		} else {
			err = m.future.Close()
		}
		if err != nil {
			rm.logger.Warn("closing a future log", zap.String("partition", p.tp.String()), zap.Error(err))
		}
	}()
	for ctx.Err() == nil {
		if q := rm.moveQuota; q != nil && q.exceeded(time.Now()) {
			t := time.NewTimer(moveThrottleBackoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		wake := p.waitChan()
		m.mu.Lock()
		n, err := m.future.CopyFrom(p.log, rm.moveChunk())
		m.mu.Unlock()
		if err != nil {
			rm.abandonMove(p, m, err)
			return
		}
		if n > 0 {
			if q := rm.moveQuota; q != nil {
				q.record(int64(n), time.Now())
			}
			continue
		}
		switch state, err := rm.trySwap(p, m); {
		case err != nil:
			rm.abandonMove(p, m, err)
			return
		case state == swapDone:
			swapped = true
			return
		case state == swapCancelled:
			return
		}
		t := time.NewTimer(moveIdleWait)
		select {
		case <-ctx.Done():
		case <-wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// moveChunk is how many bytes a copy step takes: moveChunkBytes, or the
// quota's bound when that is lower (at least one batch is copied anyway).
func (rm *replicaManager) moveChunk() int {
	if q := rm.moveQuota; q != nil && q.limited() {
		return int(max(1, min(int64(moveChunkBytes), q.bound())))
	}
	return moveChunkBytes
}

// abandonMove ends a move that failed (err), unless it was cancelled
// meanwhile: the future log is deleted unless its own dir failed.
func (rm *replicaManager) abandonMove(p *Partition, m *logMove, err error) {
	p.mu.Lock()
	mine := p.move.CompareAndSwap(m, nil)
	p.mu.Unlock()
	if !mine {
		return
	}
	m.discard = !errors.Is(err, storage.ErrOffline) || !rm.dirs.IsOffline(m.future.Dir())
	rm.logger.Error("moving a replica to another log dir failed", zap.String("partition", p.tp.String()),
		zap.String("to", m.target), zap.Error(err))
}

// swapState is what trySwap did.
type swapState int

const (
	swapNotYet    swapState = iota // the future log is still behind
	swapDone                       // the future log is the partition's log now
	swapCancelled                  // the move is no longer the partition's
)

// trySwap swaps the future log in when it has caught up: under the
// partition lock it copies what was appended since the mover last looked,
// writes the leader epochs into the future dir and replaces the current
// log's files. The old dir is removed and the checkpoints rewritten after
// the lock is released.
func (rm *replicaManager) trySwap(p *Partition, m *logMove) (swapState, error) {
	p.mu.Lock()
	if p.deleted || p.move.Load() != m {
		p.mu.Unlock()
		return swapCancelled, nil
	}
	m.mu.Lock()
	doomed, err := rm.swapLocked(p, m)
	if err == nil {
		p.move.Store(nil)
	}
	m.mu.Unlock()
	p.mu.Unlock()
	if errors.Is(err, storage.ErrNotCaughtUp) {
		return swapNotYet, nil
	}
	if err != nil {
		return swapNotYet, err
	}
	rm.logger.Info("moved a replica to another log dir", zap.String("partition", p.tp.String()),
		zap.String("dir", p.log.Dir()), zap.Int64("log_end_offset", p.log.EndOffset()))
	if rm.afterMove != nil {
		rm.afterMove(p.tp, filepath.Dir(doomed), filepath.Dir(p.log.Dir()))
	}
	if err := rm.writeCheckpoints(); err != nil {
		rm.logger.Error("writing checkpoints after a log dir move", zap.Error(err))
	}
	if err := rm.dirs.RemoveDir(doomed); err != nil {
		rm.logger.Warn("removing a moved replica's old dir", zap.String("dir", doomed), zap.Error(err))
	}
	return swapDone, nil
}

// swapLocked is trySwap's work under both locks.
func (rm *replicaManager) swapLocked(p *Partition, m *logMove) (string, error) {
	for {
		n, err := m.future.CopyFrom(p.log, moveChunkBytes)
		if err != nil {
			return "", err
		}
		if n == 0 {
			break
		}
	}
	if m.future.EndOffset() != p.log.EndOffset() {
		return "", storage.ErrNotCaughtUp
	}
	if err := storage.WriteLeaderEpochs(m.future.FS(), m.future.Dir(), p.epochs); err != nil {
		return "", fmt.Errorf("move %s: %w", p.tp, err)
	}
	doomed, err := p.log.ReplaceWithFuture(m.future)
	if err != nil {
		return "", fmt.Errorf("move %s: %w", p.tp, err)
	}
	return doomed, nil
}

// cancelMove ends p's move, if any, and waits for its mover: with discard
// the future log is deleted, else closed where it is, before it returns. It returns the
// future log's path, "" when there was no move.
func (rm *replicaManager) cancelMove(p *Partition, discard bool) string {
	p.mu.Lock()
	m := p.move.Swap(nil)
	if m != nil {
		m.discard = discard // read by the mover after it sees the swap, under p.mu
	}
	p.mu.Unlock()
	if m == nil {
		return ""
	}
	path := m.future.Dir()
	m.cancel()
	<-m.done
	return path
}

// parkMove stops p's move for a StopReplica without delete, as Kafka
// removes the partition's ReplicaAlterLogDirsThread fetcher but keeps its
// future log: the future log is closed where it is and remembered with the
// future dirs found at start, so that the move resumes when a
// LeaderAndIsr hands the replica a role again (open), as Kafka re-adds the
// fetcher for a partition with a future log, or at the next start.
func (rm *replicaManager) parkMove(p *Partition) {
	path := rm.cancelMove(p, false)
	if path == "" {
		return
	}
	rm.mu.Lock()
	rm.futures[p.tp] = storage.FutureDir{Topic: p.tp.Topic, Partition: p.tp.Partition, Path: path}
	rm.mu.Unlock()
	rm.logger.Info("stopped a log dir move: the replica was stopped", zap.String("partition", p.tp.String()), zap.String("future", path))
}

// resumeParked resumes the move parkMove stopped, if any, now that the
// hosted partition p is given a role again.
func (rm *replicaManager) resumeParked(p *Partition) {
	rm.mu.Lock()
	f, ok := rm.futures[p.tp]
	delete(rm.futures, p.tp)
	rm.mu.Unlock()
	if ok {
		rm.resumeMove(p, f)
	}
}

// stopMoves closes every move's future log where it is, for a resume at
// the next start.
func (rm *replicaManager) stopMoves() {
	rm.moveCancel()
	rm.moveWG.Wait()
}

// resumeMove restarts the move that a future dir found at start describes,
// now that its partition is open: as Kafka resumes a -future log after a
// restart. A future dir in the partition's own log dir, or one that cannot
// be opened, is deleted.
func (rm *replicaManager) resumeMove(p *Partition, f storage.FutureDir) {
	target := filepath.Dir(f.Path)
	if target == filepath.Dir(p.log.Dir()) || rm.dirs.IsOffline(target) {
		if err := rm.deleteDir(f.Path); err != nil {
			rm.logger.Warn("removing a stale future log", zap.String("dir", f.Path), zap.Error(err))
		}
		return
	}
	if err := rm.startMove(p, target, f.Path); err != nil {
		rm.logger.Warn("could not resume a log dir move", zap.String("partition", p.tp.String()), zap.Error(err))
	}
}

// removeFutures deletes the future dirs found at start of the partitions
// that match, when their partition is deleted without being opened.
func (rm *replicaManager) removeFutures(match func(topicPartition) bool) error {
	rm.mu.Lock()
	var doomed []string
	for tp, f := range rm.futures {
		if match(tp) {
			doomed = append(doomed, f.Path)
			delete(rm.futures, tp)
		}
	}
	rm.mu.Unlock()
	var errs []error
	for _, path := range doomed {
		errs = append(errs, rm.deleteDir(path))
	}
	return errors.Join(errs...)
}
