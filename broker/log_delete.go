package broker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gokafka/gokafka/storage"
	"go.uber.org/zap"
)

// Logs are deleted as Kafka's LogManager.asyncDelete deletes them
// (storage/log_delete.go): the request handler (StopReplica with delete, a
// topic deletion) closes the log and renames its directory to a -delete
// name, which takes a moment whatever the log's size, and the deleter
// below removes the files after file.delete.delay.ms (the broker's
// log.segment.delete.delay.ms, read at start; Kafka's default 60000), in
// the background. A controller's requests to this broker never wait
// behind a large delete.

// deleteDir renames the directory of a closed log (a partition's or a
// future log's) for deletion and queues its removal.
func (rm *replicaManager) deleteDir(dir string) error {
	_, err := rm.dirs.MarkForDelete(dir, rm.now())
	return err
}

// deleteLog closes l and deletes its directory as deleteDir does.
func (rm *replicaManager) deleteLog(l *storage.Log) error {
	cerr := l.Close()
	if err := rm.deleteDir(l.Dir()); err != nil {
		return errors.Join(err, cerr)
	}
	return cerr
}

// runDeleter removes the renamed directories as they fall due, until ctx
// ends (Kafka's kafka-delete-logs task). Those still queued then are left
// as -delete dirs, which the next start queues again.
func (rm *replicaManager) runDeleter(ctx context.Context) {
	queued := rm.dirs.DeletesQueued()
	for {
		wait := time.Duration(-1)
		if due, ok := rm.dirs.NextDelete(); ok {
			wait = max(due.Sub(rm.now()), 0)
		}
		var timer <-chan time.Time
		var t *time.Timer
		if wait >= 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-ctx.Done():
		case <-queued:
		case <-timer:
			if _, err := rm.dirs.RemoveDueDeletes(rm.now()); err != nil {
				rm.logger.Error("deleting logs", zap.Error(err))
			}
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// fileDeleteDelay is file.delete.delay.ms as the broker sets it for every
// topic (log.segment.delete.delay.ms in server.properties), which Kafka's
// deleter uses; a bad value leaves Kafka's default.
func fileDeleteDelay(raw map[string]string) time.Duration {
	v, _ := topicKeyByName["file.delete.delay.ms"].brokerDefault(raw)
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return storage.DefaultFileDeleteDelay
	}
	return time.Duration(ms) * time.Millisecond
}
