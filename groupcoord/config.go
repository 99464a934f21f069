package groupcoord

import (
	"math"
	"time"

	"go.uber.org/zap"
)

// Config holds the group coordinator's settings. The durations mirror Kafka's
// broker configs of the same meaning; a zero field takes Kafka's default
// (see DefaultConfig), so a Config literal only names what it changes.
type Config struct {
	// MinSessionTimeout is group.min.session.timeout.ms (Kafka: 6000 ms).
	// A JoinGroup asking for less answers INVALID_SESSION_TIMEOUT.
	MinSessionTimeout time.Duration
	// MaxSessionTimeout is group.max.session.timeout.ms (Kafka: 1800000 ms).
	MaxSessionTimeout time.Duration
	// MaxGroupSize is group.max.size (Kafka: Int32 max, i.e. unbounded).
	// Joins past it answer GROUP_MAX_SIZE_REACHED.
	MaxGroupSize int
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms (Kafka: 3000
	// ms): how long the first rebalance of an empty group waits for more
	// members, extended by each new member up to the rebalance timeout. A
	// negative value means no delay (Kafka's 0).
	InitialRebalanceDelay time.Duration
	// OffsetsRetention is offsets.retention.minutes (Kafka: 10080 minutes,
	// 7 days): committed offsets of a group without members expire this long
	// after the group became empty (or, for groups that never had members,
	// after the commit).
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms
	// (Kafka: 600000 ms): how often the expiry pass runs. Negative disables
	// the periodic pass (ExpireOffsets can still be called).
	OffsetsRetentionCheckInterval time.Duration
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes (Kafka: 4096):
	// longer commit metadata answers OFFSET_METADATA_TOO_LARGE.
	OffsetMetadataMaxBytes int
	// NewMemberJoinTimeout bounds how long a JoinGroup of a member that has
	// never completed a rebalance may wait (Kafka's fixed 5 minutes): such a
	// member cannot heartbeat, so this is what removes it if it went away.
	NewMemberJoinTimeout time.Duration

	// Now is the wall clock used for commit timestamps, state timestamps and
	// offset expiry (time.Now by default). Timers (session, rebalance,
	// initial delay) always run on the monotonic clock.
	Now func() time.Time
	// Logger receives the coordinator's logs (zap.NewNop by default).
	Logger *zap.Logger
	// Store persists committed offsets; required.
	Store OffsetStore
	// TxnStore, when set, keeps TxnOffsetCommit's pending offsets durable
	// (see TxnOffsetStore); nil keeps them in memory only (unit tests, a
	// single broker without failover).
	TxnStore TxnOffsetStore
	// Owns reports whether this coordinator is responsible for a group. A
	// group it does not own is neither created nor loaded (the request
	// answers NOT_COORDINATOR) and is left out of ListGroups. Nil means
	// every group (a single broker).
	Owns func(group string) bool
}

// DefaultConfig returns Kafka's defaults for every setting; Store must
// still be set.
func DefaultConfig() Config {
	return Config{
		MinSessionTimeout:             6 * time.Second,
		MaxSessionTimeout:             30 * time.Minute,
		MaxGroupSize:                  math.MaxInt32,
		InitialRebalanceDelay:         3 * time.Second,
		OffsetsRetention:              10080 * time.Minute,
		OffsetsRetentionCheckInterval: 10 * time.Minute,
		OffsetMetadataMaxBytes:        4096,
		NewMemberJoinTimeout:          5 * time.Minute,
	}
}

// withDefaults fills the zero fields of cfg from DefaultConfig.
func (cfg Config) withDefaults() Config {
	d := DefaultConfig()
	if cfg.MinSessionTimeout == 0 {
		cfg.MinSessionTimeout = d.MinSessionTimeout
	}
	if cfg.MaxSessionTimeout == 0 {
		cfg.MaxSessionTimeout = d.MaxSessionTimeout
	}
	if cfg.MaxGroupSize == 0 {
		cfg.MaxGroupSize = d.MaxGroupSize
	}
	switch {
	case cfg.InitialRebalanceDelay == 0:
		cfg.InitialRebalanceDelay = d.InitialRebalanceDelay
	case cfg.InitialRebalanceDelay < 0:
		cfg.InitialRebalanceDelay = 0
	}
	if cfg.OffsetsRetention == 0 {
		cfg.OffsetsRetention = d.OffsetsRetention
	}
	if cfg.OffsetsRetentionCheckInterval == 0 {
		cfg.OffsetsRetentionCheckInterval = d.OffsetsRetentionCheckInterval
	}
	if cfg.OffsetMetadataMaxBytes == 0 {
		cfg.OffsetMetadataMaxBytes = d.OffsetMetadataMaxBytes
	}
	if cfg.NewMemberJoinTimeout == 0 {
		cfg.NewMemberJoinTimeout = d.NewMemberJoinTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return cfg
}
