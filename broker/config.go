package broker

import (
	"time"

	"github.com/gokafka/gokafka/storage"
)

// Listener is one parsed entry of listeners / advertised.listeners
// ("PLAINTEXT://127.0.0.1:9092").
type Listener struct {
	Name string // PLAINTEXT
	Host string
	Port int32
}

// Config is the broker's configuration, read from a Kafka-style
// server.properties with Kafka's key names and defaults. Each field's comment
// names its key and Kafka's default.
type Config struct {
	// BrokerID is broker.id (default -1 in Kafka means generated; gokafka
	// requires it to be set, default 0).
	BrokerID int32
	// Listeners is listeners (default PLAINTEXT://:9092).
	Listeners []Listener
	// AdvertisedListeners is advertised.listeners (default: listeners).
	AdvertisedListeners []Listener
	// LogDirs is log.dirs, else log.dir (default /tmp/kafka-logs).
	LogDirs []string
	// ZooKeeperConnect is zookeeper.connect (required).
	ZooKeeperConnect string
	// ZooKeeperSessionTimeout is zookeeper.session.timeout.ms (18000).
	ZooKeeperSessionTimeout time.Duration
	// ZooKeeperConnectionTimeout is zookeeper.connection.timeout.ms
	// (default: the session timeout).
	ZooKeeperConnectionTimeout time.Duration
	// NumPartitions is num.partitions (1).
	NumPartitions int32
	// DefaultReplicationFactor is default.replication.factor (1).
	DefaultReplicationFactor int16
	// AutoCreateTopics is auto.create.topics.enable (true).
	AutoCreateTopics bool
	// DeleteTopicEnable is delete.topic.enable (true).
	DeleteTopicEnable bool
	// MessageMaxBytes is message.max.bytes (1048588): the default
	// max.message.bytes of topics.
	MessageMaxBytes int32
	// SocketRequestMaxBytes is socket.request.max.bytes (104857600).
	SocketRequestMaxBytes int32
	// LogMessageTimestampType is log.message.timestamp.type (CreateTime).
	LogMessageTimestampType string
	// MinInsyncReplicas is min.insync.replicas (1).
	MinInsyncReplicas int32
	// LogRetentionCheckInterval is log.retention.check.interval.ms (300000).
	LogRetentionCheckInterval time.Duration
	// LogFlushSchedulerInterval is log.flush.scheduler.interval.ms: how
	// often flush.ms is checked (Kafka's default is MaxLong; gokafka checks
	// every second when log.flush.interval.ms is set).
	LogFlushSchedulerInterval time.Duration
	// Log holds the log.* defaults every topic inherits: log.segment.bytes,
	// log.roll.ms|hours, log.retention.ms|minutes|hours,
	// log.retention.bytes, log.index.interval.bytes,
	// log.index.size.max.bytes, log.flush.interval.messages,
	// log.flush.interval.ms.
	Log storage.Config
	// Raw holds every key as given (after overrides), for DescribeConfigs.
	Raw map[string]string
}

// TopicConfig is a topic's effective configuration: the broker defaults with
// the topic's /config/topics overrides applied.
type TopicConfig struct {
	Log storage.Config
	// MaxMessageBytes is max.message.bytes.
	MaxMessageBytes int32
	// LogAppendTime is message.timestamp.type=LogAppendTime.
	LogAppendTime bool
	// MinInsyncReplicas is min.insync.replicas.
	MinInsyncReplicas int32
	// Overrides are the topic-level keys as stored in ZooKeeper.
	Overrides map[string]string
}
