package broker

import (
	"math"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

// TestGroupConfigKeys: the group coordinator's keys take Kafka's names and
// defaults, accept overrides and reject bad values naming the key.
func TestGroupConfigKeys(t *testing.T) {
	c, err := LoadConfig("", []string{zkOnly}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"group.min.session.timeout.ms", c.GroupMinSessionTimeout, 6 * time.Second},
		{"group.max.session.timeout.ms", c.GroupMaxSessionTimeout, 30 * time.Minute},
		{"group.max.size", c.GroupMaxSize, int32(math.MaxInt32)},
		{"group.initial.rebalance.delay.ms", c.GroupInitialRebalanceDelay, 3 * time.Second},
		{"offsets.retention.minutes", c.OffsetsRetention, 7 * 24 * time.Hour},
		{"offsets.retention.check.interval.ms", c.OffsetsRetentionCheckInterval, 10 * time.Minute},
		{"offset.metadata.max.bytes", c.OffsetMetadataMaxBytes, int32(4096)},
	} {
		if tc.got != tc.want {
			t.Errorf("default %s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	c, err = LoadConfig("", []string{zkOnly, "group.max.size=5", "offsets.retention.minutes=1", "group.initial.rebalance.delay.ms=0"}, zap.NewNop())
	if err != nil || c.GroupMaxSize != 5 || c.OffsetsRetention != time.Minute || c.GroupInitialRebalanceDelay != 0 {
		t.Fatalf("overrides: %+v %v", c, err)
	}

	for _, bad := range []struct{ kv, key string }{
		{"group.max.size=0", "group.max.size"},
		{"offsets.retention.minutes=0", "offsets.retention.minutes"},
		{"offsets.retention.check.interval.ms=x", "offsets.retention.check.interval.ms"},
		{"group.initial.rebalance.delay.ms=-1", "group.initial.rebalance.delay.ms"},
		{"group.min.session.timeout.ms=60000,group.max.session.timeout.ms=1000", "group.min.session.timeout.ms"},
	} {
		_, err := LoadConfig("", append([]string{zkOnly}, strings.Split(bad.kv, ",")...), zap.NewNop())
		if err == nil || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%s: error %v, want one naming %s", bad.kv, err, bad.key)
		}
	}
}
