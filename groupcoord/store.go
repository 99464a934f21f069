package groupcoord

import (
	"context"
	"time"
)

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// CommittedOffset is one partition's committed position for a group, with
// everything OffsetCommit carries and OffsetFetch returns.
type CommittedOffset struct {
	TopicPartition
	// Offset is the next offset the group will consume.
	Offset int64
	// LeaderEpoch is the leader epoch of the last consumed record, -1 when
	// the client did not say (OffsetCommit v6+).
	LeaderEpoch int32
	// Metadata is the client's free-form string, round-tripped verbatim.
	Metadata string
	// CommitTime is when the coordinator accepted the commit (or the
	// client's timestamp for OffsetCommit v1); millisecond precision is
	// enough for a store.
	CommitTime time.Time
	// ExpireTime, when not zero, is an explicit expiry asked for by an old
	// client (OffsetCommit v1 timestamps, v2-v4 retention_time_ms); it
	// overrides offsets.retention.minutes for this offset.
	ExpireTime time.Time
}

// OffsetStore persists committed offsets. The coordinator keeps a group's
// offsets in memory once the group is loaded and writes through the store,
// so a coordinator that takes a group over (after a broker failure) reads the
// offsets back with Fetch. The ZooKeeper implementation lives in zkmeta
// (/consumers/<group>/offsets/<topic>/<partition>). Implementations must be
// safe for concurrent use; errors that carry a *kerr.Error are answered with
// that code, any other error with COORDINATOR_NOT_AVAILABLE.
type OffsetStore interface {
	// Commit writes all offsets of one OffsetCommit request. Each
	// partition's offset is stored whole or not at all; a store may split a
	// large commit into parts (zkmeta does, past 100 partitions), so a
	// failed commit may leave some partitions written, which the client's
	// retry of the same commit rewrites.
	Commit(ctx context.Context, group string, offsets []CommittedOffset) error
	// Fetch returns every committed offset of group; an unknown group has
	// none (an empty map and no error).
	Fetch(ctx context.Context, group string) (map[TopicPartition]CommittedOffset, error)
	// Delete removes the given partitions' offsets of group, or all of the
	// group's offsets (and the group itself) when no partition is given.
	Delete(ctx context.Context, group string, partitions ...TopicPartition) error
	// Groups lists the groups that have at least one committed offset.
	Groups(ctx context.Context) ([]string, error)
}
