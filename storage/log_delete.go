package storage

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Deleting a partition's log without waiting for the disk, as Kafka's
// LogManager.asyncDelete does it.
//
// A log to delete (StopReplica with delete, a topic deletion, a dropped
// future log) is closed and its directory renamed at once to
// "<topic>-<partition>.<uniqueId>-delete" in the same log dir, with the log
// dir synced; the files are removed later, by the broker's deleter
// (RemoveDueDeletes), once file.delete.delay.ms has passed (Kafka's
// kafka-delete-logs task, which uses the broker's default of that key,
// log.segment.delete.delay.ms, 60000). The request that asked for the
// deletion waits for a rename, not for gigabytes to be unlinked.
//
// Crash safety: the rename is the one step that matters. Before it the
// partition's directory is whole; after it (and the directory sync) only a
// -delete dir exists, which no one loads (ParsePartitionDirName refuses
// it) and the next start queues for removal after the delay (QueueDeleted,
// as Kafka's LogManager does on load). A crash in the middle of
// the removal leaves a part of a -delete dir, never a part of a live one.
// The new name is unique, so a topic re-created under the same name while
// the old directory waits makes its "<topic>-<partition>" directory beside
// it without a clash.

// DefaultFileDeleteDelay is file.delete.delay.ms's default (Kafka's
// log.segment.delete.delay.ms).
const DefaultFileDeleteDelay = 60 * time.Second

// deleteQueue is the -delete dirs waiting for their removal, oldest
// first (a FIFO, as Kafka's logsToBeDeleted: every entry waits the same
// delay, so the first is always the next due).
type deleteQueue struct {
	mu      sync.Mutex
	delay   time.Duration // guarded by mu; set by SetFileDeleteDelay
	set     bool          // guarded by mu: delay was set
	pending []pendingDelete
	wake    chan struct{} // guarded by mu (created on first use)
}

type pendingDelete struct {
	path string
	due  time.Time
}

// wakeLocked returns the queue's wake-up channel, creating it.
func (q *deleteQueue) wakeLocked() chan struct{} {
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
	}
	return q.wake
}

// SetFileDeleteDelay sets how long a renamed directory waits before its
// removal (file.delete.delay.ms); the default is DefaultFileDeleteDelay.
// Entries already queued keep their time.
func (d *Dirs) SetFileDeleteDelay(delay time.Duration) {
	d.deletes.mu.Lock()
	d.deletes.delay, d.deletes.set = max(delay, 0), true
	d.deletes.mu.Unlock()
}

// DeletesQueued signals, without blocking the sender, that a directory
// was queued for removal: the deleter then looks at NextDelete again.
func (d *Dirs) DeletesQueued() <-chan struct{} {
	d.deletes.mu.Lock()
	defer d.deletes.mu.Unlock()
	return d.deletes.wakeLocked()
}

// MarkForDelete renames the directory at path (a partition's log, or a
// future log; its log must be closed) to a unique -delete name in the
// same log dir, syncs the log dir so that the rename survives a power
// loss, and queues the new directory for removal at now + the delay. It
// returns the new path. When the rename fails nothing changed.
func (d *Dirs) MarkForDelete(path string, now time.Time) (string, error) {
	name := filepath.Base(path)
	topic, part, ok := ParsePartitionDirName(name)
	if !ok {
		if topic, part, _, ok = ParseFutureDirName(name); !ok {
			return "", fmt.Errorf("delete %s: not a partition's log directory", path)
		}
	}
	parent := filepath.Dir(path)
	doomed := filepath.Join(parent, deleteDirName(topic, part, newMoveID()))
	if err := d.fs.Rename(path, doomed); err != nil {
		return "", fmt.Errorf("delete %s: %w", path, err)
	}
	if err := syncDir(d.fs, parent); err != nil {
		// The rename happened; a crash before it reached the disk
		// leaves the log where it was, deleted again by whoever asked
		// (the controller resends StopReplica), so this is a warning.
		d.logger.Warn("could not sync the log dir after renaming a log for deletion", zap.String("log_dir", parent), zap.Error(err))
	}
	delay := d.enqueueDeletes(now, doomed)
	d.logger.Info("log renamed for deletion", zap.String("dir", path), zap.String("renamed", doomed), zap.Duration("delete_after", delay))
	return doomed, nil
}

// QueueDeleted queues the -delete dirs an earlier run left in the online
// log dirs (a stop before their delay passed, a crash, a swap whose removal
// failed) for removal at now + the delay, as Kafka's LogManager does with
// the -delete dirs it finds while loading the logs: the start does not
// unlink gigabytes while the broker registers, takes its LeaderAndIsr and
// begins to fetch. It returns how many it queued.
func (d *Dirs) QueueDeleted(now time.Time) (int, error) {
	var found []string
	err := d.eachSubdir(d.OnlinePaths(), func(p, name string) error {
		if _, _, _, ok := parseSuffixedDirName(name, deleteDirSuffix); ok {
			found = append(found, filepath.Join(p, name))
		}
		return nil
	})
	if len(found) == 0 {
		return 0, err
	}
	d.enqueueDeletes(now, found...)
	return len(found), err
}

// enqueueDeletes queues paths for removal at now + the delay, wakes the
// deleter and returns the delay. Every entry waits the same delay and now
// only moves forward, so appending keeps the queue in due order.
func (d *Dirs) enqueueDeletes(now time.Time, paths ...string) time.Duration {
	q := &d.deletes
	q.mu.Lock()
	delay := DefaultFileDeleteDelay
	if q.set {
		delay = q.delay
	}
	for _, path := range paths {
		q.pending = append(q.pending, pendingDelete{path: path, due: now.Add(delay)})
	}
	wake := q.wakeLocked()
	q.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default:
	}
	return delay
}

// NextDelete returns when the oldest queued directory is due, and false
// when none is queued.
func (d *Dirs) NextDelete() (time.Time, bool) {
	d.deletes.mu.Lock()
	defer d.deletes.mu.Unlock()
	if len(d.deletes.pending) == 0 {
		return time.Time{}, false
	}
	return d.deletes.pending[0].due, true
}

// RemoveDueDeletes removes the queued directories due at now and returns
// how many it removed. One that cannot be removed (its log dir failed) is
// dropped from the queue with an error: it stays a -delete dir, which the
// next start queues again.
func (d *Dirs) RemoveDueDeletes(now time.Time) (int, error) {
	d.deletes.mu.Lock()
	var due []pendingDelete
	for len(d.deletes.pending) > 0 && !d.deletes.pending[0].due.After(now) {
		due = append(due, d.deletes.pending[0])
		d.deletes.pending = d.deletes.pending[1:]
	}
	d.deletes.mu.Unlock()
	var errs []error
	n := 0
	for _, p := range due {
		if err := d.fs.RemoveAll(p.path); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p.path, err))
			continue
		}
		n++
		d.logger.Info("deleted log", zap.String("dir", p.path))
	}
	return n, errors.Join(errs...)
}
