package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDynamicLogCleanerConfig changes log.cleaner.* through
// IncrementalAlterConfigs on a running broker: the cleaner runs its next
// pass with the new thread count and takes the new backoff and I/O rate
// without a restart, DescribeConfigs shows the values as dynamic, and
// changes Kafka's LogCleaner.validateReconfiguration refuses are refused
// with its message and leave the cleaner as it was.
func TestDynamicLogCleanerConfig(t *testing.T) {
	s, addr := startTestServer(t, "log.cleaner.backoff.ms=3600000")
	_, cl := newAdmin(t, addr)
	b0 := cl.Broker(0)
	broker := kmsg.ConfigResourceTypeBroker
	waitFor(t, 10*time.Second, "cleaner started", func() bool { return s.cleaner.Load() != nil && s.cleaner.Load().Passes() > 0 })
	c := s.cleaner.Load()
	if got := c.Threads(); got != 1 {
		t.Fatalf("threads at start: %d", got)
	}

	res := incrementalAlter(t, b0, broker, "0", false,
		set("log.cleaner.threads", "2"), set("log.cleaner.backoff.ms", "60000"), set("log.cleaner.io.max.bytes.per.second", "1048576"))
	if res.ErrorCode != 0 {
		t.Fatalf("alter: %v %s", kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage))
	}
	// The change wakes the cleaner, whose hour-long backoff would
	// otherwise hold the next pass.
	waitFor(t, 10*time.Second, "a pass with two threads", func() bool { return c.Threads() == 2 })
	if cfg := c.Config(); cfg.Backoff != time.Minute || cfg.IOMaxBytesPerSecond != 1<<20 {
		t.Fatalf("cleaner config after the change: %+v", cfg)
	}
	if got, ok := describeOne(t, cl, broker, "0", "log.cleaner.threads"); !ok || deref(got.Value) != "2" || got.Source != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("described log.cleaner.threads: %s from %v", deref(got.Value), got.Source)
	}

	// The cluster default applies where the broker has no value of its
	// own.
	if res := incrementalAlter(t, b0, broker, "", false, set("log.cleaner.threads", "4")); res.ErrorCode != 0 {
		t.Fatalf("alter default: %v %s", kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage))
	}
	if got := c.Config().Threads; got != 2 {
		t.Fatalf("the cluster default overrode the broker's value: %d threads", got)
	}
	if res := incrementalAlter(t, b0, broker, "0", false, op("log.cleaner.threads", kmsg.IncrementalAlterConfigOpDelete, nil)); res.ErrorCode != 0 {
		t.Fatalf("delete broker value: %v %s", kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage))
	}
	waitFor(t, 10*time.Second, "a pass with the default's four threads", func() bool { return c.Threads() == 4 })

	const prefix = "Invalid config value for resource ConfigResource(type=BROKER, name='0'): "
	for _, tc := range []struct {
		name, value, msg string
	}{
		{"more than double", "9", "Log cleaner threads cannot be increased to more than double the current value 4"},
		{"less than half", "1", "Log cleaner threads cannot be reduced to less than half the current value 4"},
		{"zero", "0", "Log cleaner threads should be at least 1"},
		{"negative", "-1", "Invalid value -1 for configuration log.cleaner.threads: Value must be at least 0"},
		{"buffer under 1 MiB a thread", "8", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ops := ops(set("log.cleaner.threads", tc.value))
			want := prefix + tc.msg
			if tc.msg == "" {
				ops = append(ops, set("log.cleaner.dedupe.buffer.size", "8388608"))
				want = prefix + "requirement failed: log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread."
			}
			res := incrementalAlter(t, b0, broker, "0", false, ops...)
			if res.ErrorCode != kerr.InvalidRequest.Code || deref(res.ErrorMessage) != want {
				t.Fatalf("got %v %q, want INVALID_REQUEST %q", kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage), want)
			}
		})
	}
	if got := c.Config().Threads; got != 4 {
		t.Fatalf("a refused change reached the cleaner: %d threads", got)
	}
}
