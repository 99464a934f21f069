package broker

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/javaprops/javapropstest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

const zkOnly = "zookeeper.connect=zk:2181"

func TestLoadConfigDefaults(t *testing.T) {
	c, err := LoadConfig("", []string{zkOnly}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	checks := []struct {
		name      string
		got, want any
	}{
		{"broker.id", c.BrokerID, int32(0)},
		{"listeners", c.Listeners[0], Listener{Name: "PLAINTEXT", Host: "", Port: 9092}},
		{"advertised.listeners", c.AdvertisedListeners[0], Listener{Name: "PLAINTEXT", Host: host, Port: 9092}},
		{"log.dirs", strings.Join(c.LogDirs, ","), "/tmp/kafka-logs"},
		{"zookeeper.session.timeout.ms", c.ZooKeeperSessionTimeout, 18 * time.Second},
		{"zookeeper.connection.timeout.ms", c.ZooKeeperConnectionTimeout, 18 * time.Second},
		{"num.partitions", c.NumPartitions, int32(1)},
		{"default.replication.factor", c.DefaultReplicationFactor, int16(1)},
		{"auto.create.topics.enable", c.AutoCreateTopics, true},
		{"delete.topic.enable", c.DeleteTopicEnable, true},
		{"log.segment.bytes", c.Log.SegmentBytes, int64(1073741824)},
		{"log.roll.hours", c.Log.SegmentMs, int64(168 * 3600000)},
		{"log.retention.hours", c.Log.RetentionMs, int64(168 * 3600000)},
		{"log.retention.bytes", c.Log.RetentionBytes, int64(-1)},
		{"log.retention.check.interval.ms", c.LogRetentionCheckInterval, 300 * time.Second},
		{"log.flush.interval.messages", c.Log.FlushMessages, int64(1<<63 - 1)},
		{"log.flush.interval.ms", c.Log.FlushMs, int64(1<<63 - 1)},
		{"log.index.interval.bytes", c.Log.IndexIntervalBytes, int32(4096)},
		{"log.index.size.max.bytes", c.Log.SegmentIndexBytes, int32(10485760)},
		{"message.max.bytes", c.MessageMaxBytes, int32(1048588)},
		{"socket.request.max.bytes", c.SocketRequestMaxBytes, int32(104857600)},
		{"connections.max.idle.ms", c.ConnectionsMaxIdle, 10 * time.Minute},
		{"max.connections", c.MaxConnections, int32(2147483647)},
		{"max.connections.per.ip", c.MaxConnectionsPerIP, int32(2147483647)},
		{"max.connections.per.ip.overrides", len(c.MaxConnectionsPerIPOverrides), 0},
		{"fetch.max.bytes", c.FetchMaxBytes, int32(57671680)},
		{"log.message.timestamp.type", c.LogMessageTimestampType, "CreateTime"},
		{"min.insync.replicas", c.MinInsyncReplicas, int32(1)},
		{"producer.id.expiration.ms", c.Log.ProducerIDExpirationMs, int64(86400000)},
		{"producer.id.expiration.check.interval.ms", c.ProducerIDExpirationCheckInterval, 10 * time.Minute},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want Kafka's default %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestLoadConfigValues(t *testing.T) {
	tests := []struct {
		name      string
		overrides []string
		check     func(Config) bool
	}{
		{"roll ms wins over hours", []string{"log.roll.hours=2", "log.roll.ms=5000"}, func(c Config) bool { return c.Log.SegmentMs == 5000 }},
		{"roll hours", []string{"log.roll.hours=2"}, func(c Config) bool { return c.Log.SegmentMs == 2*3600000 }},
		{"retention ms wins", []string{"log.retention.hours=1", "log.retention.minutes=2", "log.retention.ms=3"}, func(c Config) bool { return c.Log.RetentionMs == 3 }},
		{"retention minutes over hours", []string{"log.retention.hours=1", "log.retention.minutes=2"}, func(c Config) bool { return c.Log.RetentionMs == 120000 }},
		{"retention unlimited", []string{"log.retention.ms=-1"}, func(c Config) bool { return c.Log.RetentionMs == -1 }},
		{"retention hours negative is unlimited", []string{"log.retention.hours=-5"}, func(c Config) bool { return c.Log.RetentionMs == -1 }},
		{"flush ms from scheduler interval", []string{"log.flush.scheduler.interval.ms=2000"}, func(c Config) bool { return c.Log.FlushMs == 2000 && c.LogFlushSchedulerInterval == 2*time.Second }},
		{"flush ms explicit", []string{"log.flush.scheduler.interval.ms=2000", "log.flush.interval.ms=10"}, func(c Config) bool { return c.Log.FlushMs == 10 }},
		{"log.dir when no log.dirs", []string{"log.dir=/a"}, func(c Config) bool { return len(c.LogDirs) == 1 && c.LogDirs[0] == "/a" }},
		{"several log dirs", []string{"log.dir=/x", "log.dirs=/a, /b"}, func(c Config) bool { return len(c.LogDirs) == 2 && c.LogDirs[1] == "/b" }},
		{"connection timeout", []string{"zookeeper.session.timeout.ms=6000", "zookeeper.connection.timeout.ms=1000"}, func(c Config) bool {
			return c.ZooKeeperSessionTimeout == 6*time.Second && c.ZooKeeperConnectionTimeout == time.Second
		}},
		{"connection timeout follows session", []string{"zookeeper.session.timeout.ms=6000"}, func(c Config) bool { return c.ZooKeeperConnectionTimeout == 6*time.Second }},
		{"advertised listeners", []string{"listeners=PLAINTEXT://0.0.0.0:9093", "advertised.listeners=PLAINTEXT://kafka.example:19093"}, func(c Config) bool {
			return c.Listeners[0].Port == 9093 && c.AdvertisedListeners[0] == Listener{Name: "PLAINTEXT", Host: "kafka.example", Port: 19093}
		}},
		{"ipv6 listener", []string{"listeners=PLAINTEXT://[::1]:9092"}, func(c Config) bool { return c.Listeners[0].Host == "::1" }},
		{"named listener", []string{"listener.security.protocol.map=CLIENT:PLAINTEXT", "listeners=CLIENT://127.0.0.1:9092"}, func(c Config) bool { return c.Listeners[0].Name == "CLIENT" }},
		{"log append time", []string{"log.message.timestamp.type=LogAppendTime"}, func(c Config) bool { return c.LogMessageTimestampType == "LogAppendTime" }},
		{"booleans any case", []string{"auto.create.topics.enable=FALSE"}, func(c Config) bool { return !c.AutoCreateTopics }},
		{"down-conversion off, on again for a topic", []string{"log.message.downconversion.enable=False"}, func(c Config) bool {
			def, err1 := c.TopicConfig(nil)
			on, err2 := c.TopicConfig(map[string]string{"message.downconversion.enable": "true"})
			return c.LogMessageDownConversionDisabled && def.DownConversionDisabled && !on.DownConversionDisabled && err1 == nil && err2 == nil
		}},
		{"override value with equals", []string{"log.dirs=/a=b"}, func(c Config) bool { return c.LogDirs[0] == "/a=b" }},
		{"idle timeout", []string{"connections.max.idle.ms=1500"}, func(c Config) bool { return c.ConnectionsMaxIdle == 1500*time.Millisecond }},
		{"idle timeout off", []string{"connections.max.idle.ms=-1"}, func(c Config) bool { return c.ConnectionsMaxIdle == 0 }},
		{"connection limits", []string{"max.connections=10", "max.connections.per.ip=0", "max.connections.per.ip.overrides=127.0.0.1:5, ::1:6,[fe80::1]:0,broker-1.example:7"}, func(c Config) bool {
			o := c.MaxConnectionsPerIPOverrides
			return c.MaxConnections == 10 && c.MaxConnectionsPerIP == 0 && len(o) == 4 &&
				o["127.0.0.1"] == 5 && o["::1"] == 6 && o["fe80::1"] == 0 && o["broker-1.example"] == 7
		}},
		{"fetch max bytes", []string{"fetch.max.bytes=1024"}, func(c Config) bool { return c.FetchMaxBytes == 1024 }},
		{"producer expiration", []string{"producer.id.expiration.ms=60000", "producer.id.expiration.check.interval.ms=1000"}, func(c Config) bool {
			tc, err := c.TopicConfig(nil)
			return c.Log.ProducerIDExpirationMs == 60000 && c.ProducerIDExpirationCheckInterval == time.Second && err == nil && tc.Log.ProducerIDExpirationMs == 60000
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig("", append([]string{zkOnly}, tt.overrides...), zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected config: %+v", c)
			}
		})
	}
}

// TestLoadConfigErrors checks that bad values fail at start with the key
// named in the error.
func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		overrides []string
		key       string
	}{
		{[]string{}, "zookeeper.connect"},
		{[]string{zkOnly, "broker.id=abc"}, "broker.id"},
		{[]string{zkOnly, "broker.id=-1"}, "broker.id"},
		{[]string{zkOnly, "num.partitions=0"}, "num.partitions"},
		{[]string{zkOnly, "num.partitions=x"}, "num.partitions"},
		{[]string{zkOnly, "default.replication.factor=0"}, "default.replication.factor"},
		{[]string{zkOnly, "auto.create.topics.enable=yes"}, "auto.create.topics.enable"},
		{[]string{zkOnly, "log.segment.bytes=1"}, "log.segment.bytes"},
		{[]string{zkOnly, "log.segment.bytes=9999999999"}, "log.segment.bytes"},
		{[]string{zkOnly, "log.roll.hours=0"}, "log.roll.hours"},
		{[]string{zkOnly, "log.retention.ms=soon"}, "log.retention.ms"},
		{[]string{zkOnly, "log.retention.check.interval.ms=0"}, "log.retention.check.interval.ms"},
		{[]string{zkOnly, "log.flush.interval.messages=0"}, "log.flush.interval.messages"},
		{[]string{zkOnly, "log.index.size.max.bytes=2"}, "log.index.size.max.bytes"},
		{[]string{zkOnly, "message.max.bytes=-5"}, "message.max.bytes"},
		{[]string{zkOnly, "socket.request.max.bytes=0"}, "socket.request.max.bytes"},
		{[]string{zkOnly, "log.message.timestamp.type=WallClock"}, "log.message.timestamp.type"},
		{[]string{zkOnly, "min.insync.replicas=0"}, "min.insync.replicas"},
		{[]string{zkOnly, "zookeeper.session.timeout.ms=0"}, "zookeeper.session.timeout.ms"},
		{[]string{zkOnly, "listeners=localhost:9092"}, "listeners"},
		{[]string{zkOnly, "listeners=PLAINTEXT://:99999"}, "listeners"},
		{[]string{zkOnly, "listeners=SSL://:9093"}, "listeners"},
		{[]string{zkOnly, "listeners=FOO://:9093"}, "listeners"},
		{[]string{zkOnly, "listeners=PLAINTEXT://:9092,PLAINTEXT://:9093"}, "listeners"},
		{[]string{zkOnly, "advertised.listeners=PLAINTEXT://0.0.0.0:9092"}, "advertised.listeners"},
		{[]string{zkOnly, "log.cleanup.policy=shred"}, "log.cleanup.policy"},
		{[]string{zkOnly, "novalue"}, "novalue"},
		{[]string{zkOnly, "producer.id.expiration.ms=0"}, "producer.id.expiration.ms"},
		{[]string{zkOnly, "producer.id.expiration.check.interval.ms=0"}, "producer.id.expiration.check.interval.ms"},
		{[]string{zkOnly, "connections.max.idle.ms=soon"}, "connections.max.idle.ms"},
		{[]string{zkOnly, "max.connections=-1"}, "max.connections"},
		{[]string{zkOnly, "max.connections.per.ip=-1"}, "max.connections.per.ip"},
		{[]string{zkOnly, "max.connections.per.ip=0"}, "max.connections.per.ip"},
		{[]string{zkOnly, "max.connections.per.ip.overrides=127.0.0.1"}, "max.connections.per.ip.overrides"},
		{[]string{zkOnly, "max.connections.per.ip.overrides=127.0.0.1:-1"}, "max.connections.per.ip.overrides"},
		{[]string{zkOnly, "max.connections.per.ip.overrides=bad host:1"}, "max.connections.per.ip.overrides"},
		{[]string{zkOnly, "fetch.max.bytes=1023"}, "fetch.max.bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			_, err := LoadConfig("", tt.overrides, zap.NewNop())
			if err == nil {
				t.Fatalf("LoadConfig(%v) succeeded, want an error naming %s", tt.overrides, tt.key)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("error %q does not name %s", err, tt.key)
			}
		})
	}
}

// TestLoadConfigErrorWording checks Kafka's ConfigException wording for
// bad values, naming the key and the value the user wrote (a broker key
// that defaults a topic key is named itself, not the topic key).
func TestLoadConfigErrorWording(t *testing.T) {
	for _, tt := range []struct{ override, want string }{
		{"log.segment.bytes=1", "Invalid value 1 for configuration log.segment.bytes: Value must be at least 14"},
		{"log.roll.hours=0", "Invalid value 0 for configuration log.roll.hours: Value must be at least 1"},
		{"log.retention.ms=soon", "Invalid value soon for configuration log.retention.ms: Not a number of type LONG"},
		{"num.partitions=x", "Invalid value x for configuration num.partitions: Not a number of type INT"},
		{"num.partitions=0", "Invalid value 0 for configuration num.partitions: Value must be at least 1"},
		{"default.replication.factor=40000", "Invalid value 40000 for configuration default.replication.factor: Value must be no more than 32767"},
		{"auto.create.topics.enable=yes", "Invalid value yes for configuration auto.create.topics.enable: Expected value to be either true or false"},
		{"log.cleanup.policy=shred", "Invalid value shred for configuration log.cleanup.policy: String must be one of: compact, delete"},
		{"fetch.max.bytes=1023", "Invalid value 1023 for configuration fetch.max.bytes: Value must be at least 1024"},
		{"listeners=localhost:9092", "Invalid value localhost:9092 for configuration listeners: "},
	} {
		_, err := LoadConfig("", []string{zkOnly, tt.override}, zap.NewNop())
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.override, err, tt.want)
		}
	}
}

// TestLoadConfigFile reads a pasted Kafka server.properties: comments,
// continuation lines, ':' separators, overrides after the file, and one
// log line per key gokafka does not implement.
func TestLoadConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.properties")
	body := `# Licensed to the Apache Software Foundation
broker.id=3
listeners=PLAINTEXT://127.0.0.1:9092
num.network.threads=3
socket.send.buffer.bytes=102400
log.dirs=/var/a,\
    /var/b
num.partitions : 4
offsets.topic.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=24
zookeeper.connect=localhost:2181/kafka
brokr.id=9
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.InfoLevel)
	c, err := LoadConfig(path, []string{"num.partitions=6"}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if c.BrokerID != 3 || c.NumPartitions != 6 || len(c.LogDirs) != 2 || c.LogDirs[1] != "/var/b" ||
		c.ZooKeeperConnect != "localhost:2181/kafka" || c.Log.RetentionMs != 24*3600000 {
		t.Errorf("unexpected config %+v", c)
	}
	warned := map[string]bool{}
	ignored := map[string]bool{}
	for _, e := range logs.All() {
		key, _ := e.ContextMap()["key"].(string)
		if e.Level == zap.WarnLevel {
			warned[key] = true
		} else {
			ignored[key] = true
		}
	}
	if !warned["brokr.id"] || len(warned) != 1 {
		t.Errorf("warned about %v, want only the typo brokr.id", warned)
	}
	for _, k := range []string{"num.network.threads", "socket.send.buffer.bytes", "offsets.topic.replication.factor"} {
		if !ignored[k] {
			t.Errorf("no 'ignored' log line for %s", k)
		}
	}
	// The transaction coordinator's keys are implemented (txn_config.go).
	if ignored["transaction.state.log.min.isr"] || c.Txn.StateLogMinISR != 1 {
		t.Errorf("transaction.state.log.min.isr=1: logged as ignored %v, loaded as %d", ignored["transaction.state.log.min.isr"], c.Txn.StateLogMinISR)
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.properties"), nil, zap.NewNop()); err == nil {
		t.Error("a missing file loaded without error")
	}
}

func TestTopicConfigResolution(t *testing.T) {
	c, err := LoadConfig("", []string{zkOnly, "log.segment.bytes=2048", "log.retention.minutes=5"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	tc, err := c.TopicConfig(map[string]string{"retention.ms": "100", "message.timestamp.type": "LogAppendTime", "max.message.bytes": "500"})
	if err != nil {
		t.Fatal(err)
	}
	if tc.Log.SegmentBytes != 2048 || tc.Log.RetentionMs != 100 || !tc.LogAppendTime || tc.MaxMessageBytes != 500 || tc.MinInsyncReplicas != 1 {
		t.Errorf("unexpected topic config %+v", tc)
	}
	bad := []map[string]string{
		{"retention.mss": "1"},
		{"segment.bytes": "10"},
		{"cleanup.policy": "delete,shred"},
		{"min.insync.replicas": "0"},
		{"message.timestamp.type": "Now"},
		{"min.compaction.lag.ms": "10", "max.compaction.lag.ms": "5"},
		{"preallocate": "maybe"},
	}
	for _, o := range bad {
		if _, err := c.TopicConfig(o); err == nil {
			t.Errorf("TopicConfig(%v) accepted", o)
		}
	}
}

// TestTopicConfigCleanupPolicy checks how cleanup.policy and the compaction
// keys reach storage: compact turns the cleaner on (and keyless records
// off), a policy without delete stops time and size retention.
func TestTopicConfigCleanupPolicy(t *testing.T) {
	c, err := LoadConfig("", []string{zkOnly, "log.cleaner.delete.retention.ms=5000", "log.cleaner.min.cleanable.ratio=0.25"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		overrides            map[string]string
		compact, keepForever bool
		deleteRetention      int64
		ratio                float64
	}{
		{overrides: nil, deleteRetention: 5000, ratio: 0.25},
		{overrides: map[string]string{"cleanup.policy": "compact"}, compact: true, keepForever: true, deleteRetention: 5000, ratio: 0.25},
		{overrides: map[string]string{"cleanup.policy": "compact,delete", "delete.retention.ms": "7", "min.cleanable.dirty.ratio": "0.9"}, compact: true, deleteRetention: 7, ratio: 0.9},
		{overrides: map[string]string{"cleanup.policy": "delete", "min.compaction.lag.ms": "3"}, deleteRetention: 5000, ratio: 0.25},
	} {
		tc, err := c.TopicConfig(tt.overrides)
		if err != nil {
			t.Fatal(err)
		}
		if tc.Log.Compact != tt.compact || tc.Log.KeepForever != tt.keepForever || tc.Log.DeleteRetentionMs != tt.deleteRetention || tc.Log.MinCleanableDirtyRatio != tt.ratio {
			t.Errorf("%v: %+v", tt.overrides, tc.Log)
		}
	}
	if !c.LogCleanerEnable || c.LogCleanerThreads != 1 || c.LogCleanerBackoff.Milliseconds() != 15000 || c.LogCleanerDedupeBufferSize != 128<<20 {
		t.Errorf("cleaner defaults: %v %d %v %d", c.LogCleanerEnable, c.LogCleanerThreads, c.LogCleanerBackoff, c.LogCleanerDedupeBufferSize)
	}
}

// TestLoadConfigPropertiesAgree reads the shared table of tricky
// properties inputs as server.properties: the broker, with viper in
// between, must read them as javaprops (and so perftest and storage) do.
func TestLoadConfigPropertiesAgree(t *testing.T) {
	for _, tc := range javapropstest.Cases {
		path := filepath.Join(t.TempDir(), "server.properties")
		if err := os.WriteFile(path, []byte(tc.Input), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := LoadConfig(path, []string{zkOnly}, zap.NewNop())
		if err != nil {
			t.Errorf("%s: %v", tc.Name, err)
			continue
		}
		got := maps.Clone(c.Raw)
		delete(got, "zookeeper.connect")
		if !maps.Equal(got, tc.Want) {
			t.Errorf("%s: read %q, want %q", tc.Name, got, tc.Want)
		}
	}
}

// TestLoadConfigLayers checks the order of the layers: the file, then
// KAFKA_CFG_ environment variables, then --override.
func TestLoadConfigLayers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server.properties")
	body := "zookeeper.connect=file:2181\nlog.retention.hours=1\nnum.partitions=2\nlog.segment.bytes=1048576\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAFKA_CFG_LOG_RETENTION_HOURS", "5")             // env over file
	t.Setenv("KAFKA_CFG_NUM_PARTITIONS", "3")                  // override over env
	t.Setenv("KAFKA_CFG_AUTO_CREATE_TOPICS_ENABLE", " false ") // env alone, trimmed
	t.Setenv("KAFKA_CFG_LOG_SEGMENT_BYTES", "")                // empty: ignored
	t.Setenv("KAFKA_LOG_RETENTION_MS", "1")                    // not our prefix
	c, err := LoadConfig(path, []string{"num.partitions=4"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"zookeeper.connect (file)", c.ZooKeeperConnect, "file:2181"},
		{"log.retention.hours (env over file)", c.Log.RetentionMs, int64(5 * 3600000)},
		{"num.partitions (override over env)", c.NumPartitions, int32(4)},
		{"auto.create.topics.enable (env)", c.AutoCreateTopics, false},
		{"log.segment.bytes (empty env ignored)", c.Log.SegmentBytes, int64(1048576)},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}

	// A bad value from the environment fails naming the key.
	t.Setenv("KAFKA_CFG_NUM_PARTITIONS", "many")
	if _, err := LoadConfig(path, nil, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "num.partitions") {
		t.Errorf("bad num.partitions from the environment: %v", err)
	}
	// An unknown key from the environment warns, as one in the file does.
	t.Setenv("KAFKA_CFG_NUM_PARTITIONS", "1")
	t.Setenv("KAFKA_CFG_NO_SUCH_KEY", "1")
	core, logs := observer.New(zap.WarnLevel)
	if _, err := LoadConfig(path, nil, zap.New(core)); err != nil {
		t.Fatal(err)
	}
	if w := logs.FilterField(zap.String("key", "no.such.key")).Len(); w != 1 {
		t.Errorf("%d warnings about no.such.key, want 1", w)
	}
}

func TestEnvKey(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		ok        bool
	}{
		{"KAFKA_CFG_LOG_RETENTION_HOURS", "log.retention.hours", true},
		{"KAFKA_CFG_BROKER_ID", "broker.id", true},
		{"KAFKA_CFG_", "", false},
		{"KAFKA_LOG_DIRS", "", false},
		{"kafka_cfg_log_dirs", "", false},
	} {
		if key, ok := envKey(tc.name); key != tc.key || ok != tc.ok {
			t.Errorf("envKey(%q) = %q, %v; want %q, %v", tc.name, key, ok, tc.key, tc.ok)
		}
	}
}
