package storage

import (
	"errors"
	"time"

	"go.uber.org/zap"
)

// Errors callers can test for.
var (
	// ErrOffsetOutOfRange is returned by Read for an offset below the log
	// start or above the log end (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrCorruption marks data on disk that fails a check: "the disk lied",
	// as opposed to a caller's mistake.
	ErrCorruption = errors.New("corrupt log data")
)

// OpenOptions carry what Open needs beyond the Config.
type OpenOptions struct {
	Logger *zap.Logger
	// Now is the clock; nil means time.Now. Tests pass a fake clock to drive
	// roll and retention by time.
	Now func() time.Time
	// RecoveryPoint is the offset up to which the log is known flushed (from
	// recovery-point-offset-checkpoint); segments from it on are scanned.
	RecoveryPoint int64
	// CleanShutdown skips scanning when the broker stopped cleanly.
	CleanShutdown bool
}

// AppendInfo describes a validated, offset-stamped batch (or run of batches)
// handed to Append.
type AppendInfo struct {
	BaseOffset   int64
	LastOffset   int64
	MaxTimestamp int64
	// OffsetOfMaxTimestamp is the offset Kafka records in the time index
	// for MaxTimestamp (the batch's last offset).
	OffsetOfMaxTimestamp int64
	// Records is the number of records, for flush.messages.
	Records int64
}

// Log is one partition's log: a directory of segments.
//
// Append, Roll, TruncateTo and DeleteRetained must be called by one writer at
// a time (the broker's partition lock); Read, EndOffset, StartOffset and the
// lookups may run concurrently with them.
type Log struct{}

// Open opens (creating if needed) the partition directory dir, recovers a
// torn tail of the active segment (and any segment after RecoveryPoint) by
// truncating at the last whole, CRC-valid batch, rebuilds missing or corrupt
// indexes, and rebuilds producer state from batch headers.
func Open(dir string, cfg Config, opts OpenOptions) (*Log, error) {
	panic("storage.Open: not implemented")
}

// Dir is the partition directory.
func (l *Log) Dir() string { panic("not implemented") }

// SetConfig replaces the configuration (after an AlterConfigs or a topic
// config change); it applies from the next append or retention pass.
func (l *Log) SetConfig(cfg Config) { panic("not implemented") }

// Append writes batch, whose first base offset must equal EndOffset(), to the
// active segment, rolling first when the segment is full or old. It extends
// the sparse indexes and fsyncs per the flush policy.
func (l *Log) Append(batch []byte, info AppendInfo) error { panic("not implemented") }

// StartOffset is the log start offset (the first offset still stored).
func (l *Log) StartOffset() int64 { panic("not implemented") }

// EndOffset is the log end offset (LEO): the offset the next record gets.
func (l *Log) EndOffset() int64 { panic("not implemented") }

// Read returns whole batches starting with the batch that contains offset,
// stopping before a batch whose base offset is >= maxOffset (the high
// watermark) and before maxBytes would be exceeded, except that the first
// batch is always returned whole even when larger than maxBytes (KIP-74).
// An offset equal to EndOffset returns no bytes; one outside
// [StartOffset, EndOffset] returns ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) ([]byte, error) {
	panic("not implemented")
}

// BatchAtTimestamp returns the first stored batch whose max timestamp is
// >= ts (found through the time indexes), or ok=false when none is.
func (l *Log) BatchAtTimestamp(ts int64) (batch []byte, ok bool, err error) {
	panic("not implemented")
}

// MaxTimestampBatch returns the batch holding the largest timestamp in the
// log (ListOffsets -3), or ok=false for an empty log.
func (l *Log) MaxTimestampBatch() (batch []byte, ok bool, err error) {
	panic("not implemented")
}

// Roll closes the active segment and starts a new one at EndOffset.
func (l *Log) Roll() error { panic("not implemented") }

// DeleteRetained deletes whole segments past retention.ms (by the largest
// timestamp in the segment) and retention.bytes, oldest first, advancing the
// log start offset. The active segment is rolled and deleted only when it too
// is expired and non-empty. It returns how many segments it deleted.
func (l *Log) DeleteRetained() (int, error) { panic("not implemented") }

// TruncateTo removes everything at and after offset (a follower's
// truncation).
func (l *Log) TruncateTo(offset int64) error { panic("not implemented") }

// Flush fsyncs everything appended so far and advances the recovery point.
func (l *Log) Flush() error { panic("not implemented") }

// RecoveryPoint is the offset up to which data is known to be on disk.
func (l *Log) RecoveryPoint() int64 { panic("not implemented") }

// Producers is the partition's idempotent-producer state.
func (l *Log) Producers() *ProducerState { panic("not implemented") }

// Close flushes and closes the files.
func (l *Log) Close() error { panic("not implemented") }

// Delete closes the log and removes its directory.
func (l *Log) Delete() error { panic("not implemented") }
