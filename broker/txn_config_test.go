package broker

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestTxnConfig(t *testing.T) {
	c, err := LoadConfig("", []string{zkOnly}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	want := TxnConfig{StateLogNumPartitions: 50, StateLogReplicationFactor: 3, StateLogMinISR: 2, StateLogSegmentBytes: 104857600,
		MaxTimeout: 15 * time.Minute, IDExpiration: 7 * 24 * time.Hour, AbortTimedOutInterval: 10 * time.Second, RemoveExpiredInterval: time.Hour}
	if c.Txn != want {
		t.Fatalf("defaults = %+v, want Kafka's %+v", c.Txn, want)
	}
	c, err = LoadConfig("", []string{zkOnly, "transaction.state.log.replication.factor=1", "transaction.max.timeout.ms=5000",
		"transaction.abort.timed.out.transaction.cleanup.interval.ms=200", "transaction.partition.verification.enable=false"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if c.Txn.StateLogReplicationFactor != 1 || c.Txn.MaxTimeout != 5*time.Second || c.Txn.AbortTimedOutInterval != 200*time.Millisecond ||
		!c.Txn.SkipPartitionVerification {
		t.Fatalf("overrides not applied: %+v", c.Txn)
	}
	for _, bad := range []string{"transaction.state.log.num.partitions=0", "transaction.max.timeout.ms=x", "transactional.id.expiration.ms=-1",
		"transaction.partition.verification.enable=maybe"} {
		_, err := LoadConfig("", []string{zkOnly, bad}, zap.NewNop())
		key, _, _ := strings.Cut(bad, "=")
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s: error %v, want one naming the key", bad, err)
		}
	}
}
