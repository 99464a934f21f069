package storage

import (
	"fmt"
)

// Taking a log offline.
//
// Kafka treats an I/O error on a log as the failure of its whole log dir
// (LogDirFailureChannel): the partitions there stop serving with
// KAFKA_STORAGE_ERROR, nothing is written to that disk any more, and the
// broker goes on with its other log dirs. A log here goes offline the same
// way: the first failed write, fsync, truncation or roll is kept (never
// retried: a retried fsync after EIO usually "succeeds" because the failed
// pages were marked clean) and every writing method returns it from then
// on. The recovery point stays where the last successful sync put it, so
// the recovery-point checkpoint never claims data that may be gone. The
// log reports its own failure through OpenOptions.OnOffline; the broker
// then takes the other logs of the dir offline with TakeOffline and closes
// them.

// fail takes the log offline because of err, unless it already is, and
// returns the log's failure (the first one). The first failure is handed to
// OnOffline.
func (l *Log) fail(err error) error {
	wrapped := fmt.Errorf("%w: %w", ErrOffline, err)
	if !l.failure.CompareAndSwap(nil, &wrapped) {
		return *l.failure.Load()
	}
	if l.onOffline != nil {
		l.onOffline(wrapped)
	}
	return wrapped
}

// TakeOffline takes the log offline because another log of its log dir
// failed (cause); a log already offline keeps its own failure. OnOffline
// is not called.
func (l *Log) TakeOffline(cause error) {
	wrapped := fmt.Errorf("%w: %w", ErrOffline, cause)
	l.failure.CompareAndSwap(nil, &wrapped)
}

// Offline returns the error that took the log offline, wrapping ErrOffline,
// or nil while it is online.
func (l *Log) Offline() error { return l.offline() }

func (l *Log) offline() error {
	if p := l.failure.Load(); p != nil {
		return *p
	}
	return nil
}
