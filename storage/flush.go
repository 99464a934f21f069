package storage

import (
	"errors"
	"fmt"
	"os"

	"github.com/gokafka/gokafka/storage/vfs"
	"go.uber.org/zap"
)

// Flushing rolled segments in the background.
//
// Kafka's roll does not fsync the segment it closes: it schedules a flush of
// the log up to the new segment's base offset on its background scheduler
// and returns, so the append that rolled goes on at page-cache speed, and
// the recovery point moves to that base offset only once the flush is done.
// gokafka does the same. rollLocked hands the old segment to a flusher
// goroutine owned by the log, which exists only while rolled segments wait.
// It fsyncs them in roll order (the .log through the segment's own
// descriptor; then, by path, the trimmed .index and .timeindex, the
// .txnindex when aborts were written to it since its last sync, and the
// partition directory, which makes the new segment's name durable) and
// after each one moves the recovery point to that segment's end. Nothing else
// moves the recovery point while it runs, so the recovery point never
// passes data that is not on disk.
//
// Whatever must see everything on disk waits for the flusher first: Flush
// (and the flush.messages policy in Append, which calls it), Close and
// truncation. Retention does not wait: the flusher holds its own reference
// on each .log, so a segment deleted meanwhile is still synced through the
// open descriptor, and an index already unlinked is skipped (an index the
// disk lost is rebuilt at the next Open in any case).
//
// A failed fsync is never retried: on Linux a second fsync after an error
// usually succeeds because the failed pages were marked clean, which would
// claim data that may be gone. The failure, of a background or a
// synchronous flush, takes the log offline (offline.go): from then on
// Append, Flush, TruncateTo and Close return it, the recovery point stays
// where it was, and the broker takes the whole log dir offline, as Kafka
// does.

// rolledSegment is a segment waiting for its background fsync: what the
// flusher needs of it, copied at the roll, so the flusher never reads the
// segment itself, which retention may close at any time.
type rolledSegment struct {
	base, next int64
	// log is a reference of the flusher's own on the segment's .log,
	// released once the sync is done.
	log     *fileRef
	indexes [2]string // .index and .timeindex paths
	// txnIndex is the .txnindex path when entries were written to it
	// since its last sync, else empty: the recovery point must not pass
	// an abort whose index entry is not on disk, since recovery does not
	// replay the log below the recovery point.
	txnIndex string
	dir      string
	fs       vfs.FS
}

// syncRolledSegment fsyncs one rolled segment's files and the directory
// holding them (the new segment's directory entry with them). It is the
// default Log.syncRolled.
func syncRolledSegment(r rolledSegment) error {
	if err := r.log.f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", r.log.f.Name(), err)
	}
	for _, p := range r.indexes {
		if err := syncPath(r.fs, p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if r.txnIndex != "" {
		if err := syncPath(r.fs, r.txnIndex); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := syncDir(r.fs, r.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// syncPath fsyncs the file at path through a descriptor of its own.
func syncPath(fsys vfs.FS, path string) error {
	if err := vfs.SyncPath(fsys, path); err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}

// scheduleFlush queues the segment rolling just retired for the background
// fsync, starting the flusher when none runs. Called with wmu held, after
// the segment's last write; the segment is no longer the writer's to sync.
func (l *Log) scheduleFlush(s *segment) {
	s.dirty = false
	var txnIndex string
	if s.txnDirty {
		txnIndex, s.txnDirty = s.path(txnIndexSuffix), false
	}
	l.fmu.Lock()
	defer l.fmu.Unlock()
	if l.offline() != nil {
		// The log is offline; nothing more is claimed durable.
		return
	}
	s.logRef.acquire()
	l.rolled = append(l.rolled, rolledSegment{
		base:     s.base,
		next:     s.next,
		log:      s.logRef,
		indexes:  [2]string{s.index.file.path, s.times.file.path},
		txnIndex: txnIndex,
		dir:      l.dir,
		fs:       l.fs,
	})
	if l.flushing == nil {
		l.flushing = make(chan struct{})
		go l.flushRolled(l.flushing)
	}
}

// flushRolled is the flusher: it syncs the queued segments oldest first,
// advancing the recovery point after each, and exits when the queue is
// empty or a sync failed, closing done.
func (l *Log) flushRolled(done chan struct{}) {
	for {
		l.fmu.Lock()
		if len(l.rolled) == 0 || l.offline() != nil {
			for _, r := range l.rolled {
				_ = r.log.release() // a read-only use: a close error loses nothing
			}
			l.rolled = nil
			l.flushing = nil
			l.fmu.Unlock()
			close(done)
			return
		}
		r := l.rolled[0]
		l.fmu.Unlock()

		err := l.syncRolled(r)
		_ = r.log.release()
		if err == nil {
			l.mu.Lock()
			// Not once the log is offline: a failure elsewhere may
			// have lost data below this segment's end.
			if l.offline() == nil {
				l.recoveryPoint = max(l.recoveryPoint, r.next)
			}
			l.mu.Unlock()
		} else {
			l.logger.Error("fsync of a rolled segment failed; the log goes offline", zap.Int64("base", r.base), zap.Error(err))
			l.fail(fmt.Errorf("%w: rolled segment %d: %w", ErrFlushFailed, r.base, err))
		}

		l.fmu.Lock()
		l.rolled = l.rolled[1:]
		l.fmu.Unlock()
	}
}

// waitFlushes waits for the flusher to finish the segments rolled so far
// and returns the log's failure, if any. Called with wmu held, so no roll
// queues more meanwhile.
func (l *Log) waitFlushes() error {
	for {
		l.fmu.Lock()
		done := l.flushing
		l.fmu.Unlock()
		if done == nil {
			return l.offline()
		}
		<-done
	}
}
