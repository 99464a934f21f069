package storage

// Config is one partition log's configuration, resolved by the broker from
// server.properties and the topic's overrides. Zero values are not defaults:
// the broker always fills every field (see DefaultConfig).
type Config struct {
	// SegmentBytes is segment.bytes (log.segment.bytes), Kafka's default
	// 1 GiB: the active segment rolls when the next batch would pass it.
	SegmentBytes int64
	// SegmentMs is segment.ms (log.roll.ms/hours), default 7 days: the active
	// segment rolls when it was created more than this long ago by the log's
	// clock (segments found on disk count from Open). Kafka measures from
	// the first batch's timestamp instead; the clock keeps producers with
	// skewed timestamps from rolling a segment per batch.
	SegmentMs int64
	// RetentionMs is retention.ms (log.retention.ms/minutes/hours), default
	// 7 days; -1 keeps segments forever.
	RetentionMs int64
	// RetentionBytes is retention.bytes (log.retention.bytes), default -1
	// (no size limit).
	RetentionBytes int64
	// IndexIntervalBytes is index.interval.bytes (log.index.interval.bytes),
	// default 4096: as in Kafka, a batch gets an .index (and .timeindex)
	// entry once more than this many bytes were appended since the last one.
	IndexIntervalBytes int32
	// SegmentIndexBytes is segment.index.bytes (log.index.size.max.bytes),
	// default 10 MiB: the most an index may hold; a full index rolls the
	// segment.
	SegmentIndexBytes int32
	// FlushMessages is flush.messages (log.flush.interval.messages), default
	// MaxInt64: fsync after this many messages.
	FlushMessages int64
	// FlushMs is flush.ms (log.flush.interval.ms), default MaxInt64: fsync
	// when the oldest unflushed write is this old.
	FlushMs int64
	// ProducerIDExpirationMs is the broker's producer.id.expiration.ms,
	// Kafka's default 86400000 (1 day; a broker key, with no topic
	// override): ExpireProducers drops a producer whose last batch's max
	// timestamp is at least this old by the log's clock. Kafka also drops
	// expired entries when it loads a snapshot; gokafka leaves them to the
	// first check after Open.
	ProducerIDExpirationMs int64

	// Compact is cleanup.policy containing "compact" (log.cleanup.policy,
	// Kafka's default "delete"): the log cleaner keeps only the last record
	// per key in the log's closed segments (cleaner.go).
	Compact bool
	// KeepForever is cleanup.policy without "delete" (a "compact"-only
	// topic): DeleteRetained then applies neither retention.ms nor
	// retention.bytes, as Kafka's LogConfig.delete is false; segments below
	// the log start offset still go.
	KeepForever bool
	// DeleteRetentionMs is delete.retention.ms
	// (log.cleaner.delete.retention.ms), default 86400000 (1 day): how long
	// a tombstone survives in the cleaned part of a compacted log.
	DeleteRetentionMs int64
	// MinCompactionLagMs is min.compaction.lag.ms, default 0: a segment
	// whose largest timestamp is younger than this is not cleaned yet.
	MinCompactionLagMs int64
	// MaxCompactionLagMs is max.compaction.lag.ms, default MaxInt64: a log
	// whose oldest dirty record is older than this is cleaned whatever its
	// dirty ratio.
	MaxCompactionLagMs int64
	// MinCleanableDirtyRatio is min.cleanable.dirty.ratio
	// (log.cleaner.min.cleanable.ratio), default 0.5: the share of the
	// cleanable bytes that must be dirty before the log is cleaned.
	MinCleanableDirtyRatio float64
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 60 * 60 * 1000,
		RetentionMs:        7 * 24 * 60 * 60 * 1000,
		RetentionBytes:     -1,
		IndexIntervalBytes: 4096,
		SegmentIndexBytes:  10 * 1024 * 1024,
		FlushMessages:      1<<63 - 1,
		FlushMs:            1<<63 - 1,
		// producer.id.expiration.ms
		ProducerIDExpirationMs: 24 * 60 * 60 * 1000,
		DeleteRetentionMs:      24 * 60 * 60 * 1000,
		MaxCompactionLagMs:     1<<63 - 1,
		MinCleanableDirtyRatio: 0.5,
	}
}
