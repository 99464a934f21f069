package broker

import (
	"math"
	"time"
)

// TxnConfig holds the transaction coordinator's keys, with Kafka's names
// and defaults. A zero field (a Config built without LoadConfig) takes the
// default.
type TxnConfig struct {
	// StateLogNumPartitions is transaction.state.log.num.partitions (50,
	// at least 1), fixed when __transaction_state is created.
	StateLogNumPartitions int32
	// StateLogReplicationFactor is
	// transaction.state.log.replication.factor (3, at least 1). As in
	// Kafka, the topic is not created (FindCoordinator answers
	// COORDINATOR_NOT_AVAILABLE) until that many brokers are alive.
	StateLogReplicationFactor int16
	// StateLogMinISR is transaction.state.log.min.isr (2, at least 1),
	// the topic's min.insync.replicas.
	StateLogMinISR int32
	// StateLogSegmentBytes is transaction.state.log.segment.bytes
	// (104857600, at least 1), the topic's segment.bytes.
	StateLogSegmentBytes int32
	// MaxTimeout is transaction.max.timeout.ms (900000, at least 1).
	MaxTimeout time.Duration
	// IDExpiration is transactional.id.expiration.ms (604800000, at
	// least 1).
	IDExpiration time.Duration
	// AbortTimedOutInterval is
	// transaction.abort.timed.out.transaction.cleanup.interval.ms (10000,
	// at least 1).
	AbortTimedOutInterval time.Duration
	// RemoveExpiredInterval is
	// transaction.remove.expired.transaction.cleanup.interval.ms (3600000,
	// at least 1).
	RemoveExpiredInterval time.Duration
	// SkipPartitionVerification is transaction.partition.verification.enable
	// (true) negated: when the key is false, partition leaders append a
	// transactional batch without asking the coordinator whether the
	// partition is in the transaction (KIP-890's check; txn_verify.go).
	SkipPartitionVerification bool
}

func loadTxnConfig(p *configParser) TxnConfig {
	ms := func(key string, def int64) time.Duration {
		return time.Duration(p.int(key, def, 1, math.MaxInt32)) * time.Millisecond
	}
	return TxnConfig{
		StateLogNumPartitions:     int32(p.int("transaction.state.log.num.partitions", 50, 1, math.MaxInt32)),
		StateLogReplicationFactor: int16(p.int("transaction.state.log.replication.factor", 3, 1, math.MaxInt16)),
		StateLogMinISR:            int32(p.int("transaction.state.log.min.isr", 2, 1, math.MaxInt32)),
		StateLogSegmentBytes:      int32(p.int("transaction.state.log.segment.bytes", 104857600, 1, math.MaxInt32)),
		MaxTimeout:                ms("transaction.max.timeout.ms", 900000),
		IDExpiration:              ms("transactional.id.expiration.ms", 604800000),
		AbortTimedOutInterval:     ms("transaction.abort.timed.out.transaction.cleanup.interval.ms", 10000),
		RemoveExpiredInterval:     ms("transaction.remove.expired.transaction.cleanup.interval.ms", 3600000),
		SkipPartitionVerification: !p.bool("transaction.partition.verification.enable", true),
	}
}

// withDefaults fills zero fields with Kafka's defaults.
func (c TxnConfig) withDefaults() TxnConfig {
	if c.StateLogNumPartitions <= 0 {
		c.StateLogNumPartitions = 50
	}
	if c.StateLogReplicationFactor <= 0 {
		c.StateLogReplicationFactor = 3
	}
	if c.StateLogMinISR <= 0 {
		c.StateLogMinISR = 2
	}
	if c.StateLogSegmentBytes <= 0 {
		c.StateLogSegmentBytes = 104857600
	}
	return c
}
