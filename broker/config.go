package broker

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/storage/vfs"
	"github.com/spf13/viper"
	"go.uber.org/zap"
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
	// FS is the file layer under the log dirs (no key: nil is the
	// operating system's). Tests set a vfs.Faulty to fail a disk.
	FS vfs.FS
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
	// ConnectionsMaxIdle is connections.max.idle.ms (600000): a client
	// connection on which no request arrives for this long is closed, and
	// so is one whose response moves no byte for this long (the client
	// stopped reading), which is how Kafka's Selector treats both (a
	// stalled send is no activity). A negative key disables both, as in
	// Kafka, and so does 0 in gokafka (Kafka would close every connection
	// at its first idle moment); either is stored as 0.
	ConnectionsMaxIdle time.Duration
	// MaxConnections is max.connections (2147483647): the broker's limit
	// on open client connections over all listeners. The inter-broker
	// listener is exempt when there is more than one listener, as in
	// Kafka. Kafka stops accepting at the limit; gokafka accepts and closes
	// at once (conn_quotas.go says why).
	MaxConnections int32
	// MaxConnectionsPerIP is max.connections.per.ip (2147483647): the
	// limit on open connections from one address; beyond it a connection
	// is closed at once, as in Kafka. 0 is allowed only with overrides.
	MaxConnectionsPerIP int32
	// MaxConnectionsPerIPOverrides is max.connections.per.ip.overrides
	// ("" by default): "host:count" pairs, comma-separated, where host is
	// an IP address or a name resolved at start.
	MaxConnectionsPerIPOverrides map[string]int32
	// FetchMaxBytes is fetch.max.bytes (57671680, 55 MiB, at least 1024):
	// the most record bytes one Fetch response carries, whatever the
	// request's max_bytes, followers' fetches included; the first batch
	// is still returned whole when larger (KIP-74).
	FetchMaxBytes int32
	// LogMessageTimestampType is log.message.timestamp.type (CreateTime).
	LogMessageTimestampType string
	// LogMessageDownConversionDisabled is log.message.downconversion.enable
	// set to false (Kafka's default is true): Fetch v0-3, which need
	// stored batches down-converted, get UNSUPPORTED_VERSION.
	LogMessageDownConversionDisabled bool
	// LogCleanupPolicy is log.cleanup.policy (delete): the topics'
	// default cleanup.policy: compact has the log cleaner compact the
	// topic; without delete, DeleteRecords is refused and retention.ms and
	// retention.bytes do not apply.
	LogCleanupPolicy string
	// LogCleanerEnable is log.cleaner.enable (true): run the log cleaner,
	// which compacts topics whose cleanup.policy has compact.
	LogCleanerEnable bool
	// LogCleanerThreads is log.cleaner.threads (1).
	LogCleanerThreads int
	// LogCleanerBackoff is log.cleaner.backoff.ms (15000): the pause
	// between the cleaner's passes.
	LogCleanerBackoff time.Duration
	// LogCleanerDedupeBufferSize is log.cleaner.dedupe.buffer.size
	// (134217728): the offset maps' memory over all cleaner threads.
	LogCleanerDedupeBufferSize int64
	// LogCleanerIOMaxBytesPerSecond is log.cleaner.io.max.bytes.per.second
	// (unlimited): the cleaner's read rate over all its threads.
	LogCleanerIOMaxBytesPerSecond float64
	// MinInsyncReplicas is min.insync.replicas (1).
	MinInsyncReplicas int32
	// LogRetentionCheckInterval is log.retention.check.interval.ms (300000).
	LogRetentionCheckInterval time.Duration
	// LogFlushSchedulerInterval is log.flush.scheduler.interval.ms: how
	// often flush.ms is checked (Kafka's default is MaxLong; gokafka checks
	// every second when the key is not set, which is cheap and lets
	// flush.ms overrides work).
	LogFlushSchedulerInterval time.Duration
	// ProducerIDExpirationCheckInterval is
	// producer.id.expiration.check.interval.ms (600000, at least 1): how
	// often idle producers are dropped from the partitions' producer
	// tables. producer.id.expiration.ms (86400000, at least 1), how idle
	// they must be, is Log.ProducerIDExpirationMs.
	ProducerIDExpirationCheckInterval time.Duration
	// GroupMinSessionTimeout is group.min.session.timeout.ms (6000).
	GroupMinSessionTimeout time.Duration
	// GroupMaxSessionTimeout is group.max.session.timeout.ms (1800000).
	GroupMaxSessionTimeout time.Duration
	// GroupMaxSize is group.max.size (2147483647, at least 1).
	GroupMaxSize int32
	// GroupInitialRebalanceDelay is group.initial.rebalance.delay.ms
	// (3000; 0 means no delay).
	GroupInitialRebalanceDelay time.Duration
	// OffsetsRetention is offsets.retention.minutes (10080, at least 1).
	OffsetsRetention time.Duration
	// OffsetsRetentionCheckInterval is offsets.retention.check.interval.ms
	// (600000, at least 1).
	OffsetsRetentionCheckInterval time.Duration
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes (4096; gokafka
	// requires at least 1, Kafka accepts 0).
	OffsetMetadataMaxBytes int32
	// Txn is the transaction coordinator's configuration (txn_config.go).
	Txn TxnConfig
	// Replication (replication.go, fetcher.go, isr.go).
	//
	// ReplicaLagTimeMax is replica.lag.time.max.ms (30000): a follower
	// that has not caught up for this long leaves the ISR.
	ReplicaLagTimeMax time.Duration
	// ReplicaFetchWaitMax is replica.fetch.wait.max.ms (500).
	ReplicaFetchWaitMax time.Duration
	// ReplicaFetchMinBytes is replica.fetch.min.bytes (1).
	ReplicaFetchMinBytes int32
	// ReplicaFetchMaxBytes is replica.fetch.max.bytes (1048576), per
	// partition.
	ReplicaFetchMaxBytes int32
	// ReplicaFetchResponseMaxBytes is replica.fetch.response.max.bytes
	// (10485760).
	ReplicaFetchResponseMaxBytes int32
	// ReplicaFetchBackoff is replica.fetch.backoff.ms (1000).
	ReplicaFetchBackoff time.Duration
	// NumReplicaFetchers is num.replica.fetchers (1): fetcher goroutines
	// per source broker.
	NumReplicaFetchers int
	// UncleanLeaderElection is unclean.leader.election.enable (false).
	UncleanLeaderElection bool
	// AutoLeaderRebalanceEnable is auto.leader.rebalance.enable (true):
	// the controller moves leadership back to preferred replicas.
	AutoLeaderRebalanceEnable bool
	// LeaderImbalancePerBrokerPercentage is
	// leader.imbalance.per.broker.percentage (10).
	LeaderImbalancePerBrokerPercentage int
	// LeaderImbalanceCheckInterval is
	// leader.imbalance.check.interval.seconds (300).
	LeaderImbalanceCheckInterval time.Duration
	// ControlledShutdownEnable is controlled.shutdown.enable (true).
	ControlledShutdownEnable bool
	// ControlledShutdownMaxRetries is controlled.shutdown.max.retries (3).
	ControlledShutdownMaxRetries int
	// ControlledShutdownRetryBackoff is
	// controlled.shutdown.retry.backoff.ms (5000).
	ControlledShutdownRetryBackoff time.Duration
	// BrokerRack is broker.rack (unset by default): registered in
	// /brokers/ids/<id>, reported in Metadata, and used by rack-aware
	// replica assignment when every broker has one.
	BrokerRack string
	// ReplicaSelectorClass is replica.selector.class (unset by default:
	// consumers read from the leader only). The one class gokafka
	// implements is Kafka's RackAwareReplicaSelector
	// (replica_selector.go); any other name fails the start, as Kafka's
	// ClassNotFoundException does.
	ReplicaSelectorClass string
	// InterBrokerListenerName is inter.broker.listener.name (default: the
	// listener of security.inter.broker.protocol, PLAINTEXT; gokafka uses
	// the first listener when neither names one).
	InterBrokerListenerName string
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
	// DownConversionDisabled is message.downconversion.enable=false:
	// Fetch v0-3 of the topic answer UNSUPPORTED_VERSION.
	DownConversionDisabled bool
	// MinInsyncReplicas is min.insync.replicas.
	MinInsyncReplicas int32
	// CleanupPolicy is cleanup.policy ("delete", "compact" or both,
	// comma-separated).
	CleanupPolicy string
	// Overrides are the topic-level keys as stored in ZooKeeper.
	Overrides map[string]string
	// LeaderThrottled and FollowerThrottled are this broker's part of
	// {leader,follower}.replication.throttled.replicas
	// (replication_quota.go); nil throttles nothing.
	LeaderThrottled, FollowerThrottled *throttledPartitions
}

// Kafka's defaults for the broker keys gokafka implements.
const (
	defaultListeners              = "PLAINTEXT://:9092"
	defaultLogDir                 = "/tmp/kafka-logs"
	defaultZKSessionTimeoutMs     = 18000
	defaultRetentionCheckMs       = 300000
	defaultMessageMaxBytes        = 1048588
	defaultSocketRequestMaxBytes  = 104857600
	defaultConnectionsMaxIdleMs   = 600000
	defaultFetchMaxBytes          = 55 * 1024 * 1024
	minFetchMaxBytes              = 1024
	defaultFlushSchedulerInterval = time.Second
	// producer.id.expiration.check.interval.ms; producer.id.expiration.ms
	// defaults through storage.DefaultConfig.
	defaultProducerIDExpirationCheckMs = 600000
)

// brokerKeys are the server.properties keys gokafka implements, besides the
// topic-default keys in topicSynonymKeys (log.segment.bytes, ...), which
// are accepted and validated through their topic key.
var brokerKeys = map[string]bool{
	"broker.id": true, "listeners": true, "advertised.listeners": true,
	"listener.security.protocol.map": true, "log.dirs": true, "log.dir": true,
	"zookeeper.connect": true, "zookeeper.session.timeout.ms": true,
	"zookeeper.connection.timeout.ms": true, "num.partitions": true,
	"default.replication.factor": true, "auto.create.topics.enable": true,
	"delete.topic.enable": true, "socket.request.max.bytes": true,
	"producer.id.expiration.ms": true, "producer.id.expiration.check.interval.ms": true,
	"log.retention.check.interval.ms": true,
	"log.cleaner.enable":              true, "log.cleaner.threads": true, "log.cleaner.backoff.ms": true,
	"log.cleaner.dedupe.buffer.size": true, "log.cleaner.io.max.bytes.per.second": true, // log_cleaner.go
	"group.min.session.timeout.ms": true, "group.max.session.timeout.ms": true,
	"group.max.size": true, "group.initial.rebalance.delay.ms": true,
	"offsets.retention.minutes": true, "offsets.retention.check.interval.ms": true,
	"offset.metadata.max.bytes": true,
	"gokafka.admin.listener":    true, // admin_listener.go
	"replica.lag.time.max.ms":   true, "replica.fetch.wait.max.ms": true,
	"replica.fetch.min.bytes": true, "replica.fetch.max.bytes": true,
	"replica.fetch.response.max.bytes": true, "replica.fetch.backoff.ms": true,
	"num.replica.fetchers": true, "unclean.leader.election.enable": true,
	"replication.quota.window.num": true, "replication.quota.window.size.seconds": true, // replication_quota.go
	"controlled.shutdown.enable": true, "controlled.shutdown.max.retries": true,
	"controlled.shutdown.retry.backoff.ms": true, "inter.broker.listener.name": true,
	"broker.rack": true, "connections.max.idle.ms": true, "max.connections": true,
	"max.connections.per.ip": true, "max.connections.per.ip.overrides": true,
	"fetch.max.bytes": true, "replica.selector.class": true, // replica_selector.go

	// Read by the controller (controller/preferred_election.go).
	"auto.leader.rebalance.enable": true, "leader.imbalance.per.broker.percentage": true, "leader.imbalance.check.interval.seconds": true,
	// txn_config.go
	"transaction.state.log.num.partitions": true, "transaction.state.log.replication.factor": true,
	"transaction.state.log.min.isr": true, "transaction.state.log.segment.bytes": true,
	"transaction.max.timeout.ms": true, "transactional.id.expiration.ms": true,
	"transaction.abort.timed.out.transaction.cleanup.interval.ms": true,
	"transaction.remove.expired.transaction.cleanup.interval.ms":  true,
	"transaction.partition.verification.enable":                   true,
}

// ignoredKafkaKeys are keys of Kafka's own server.properties and common
// tuning guides that gokafka accepts but does not implement (thread pools,
// socket buffers, internal-topic settings for features that come later).
// Each one present is logged once at info level with "ignored"; keys that
// are neither implemented nor listed here are logged as warnings, since
// they are most likely typos.
var ignoredKafkaKeys = []string{
	"num.network.threads", "num.io.threads",
	"socket.send.buffer.bytes", "socket.receive.buffer.bytes",
	"num.recovery.threads.per.data.dir",
	"offsets.topic.replication.factor", "offsets.topic.num.partitions",
	"broker.id.generation.enable",
	"inter.broker.protocol.version",
	"security.inter.broker.protocol",
	"request.timeout.ms", "queued.max.requests",
	"zookeeper.set.acl", "zookeeper.max.in.flight.requests",
	"confluent.support.metrics.enable", "confluent.support.customer.id",
	"log.cleaner.io.buffer.size",
	"log.flush.offset.checkpoint.interval.ms", "log.flush.start.offset.checkpoint.interval.ms",
	"metric.reporters", "authorizer.class.name", "allow.everyone.if.no.acl.found",
	"super.users",
}

// ignoredKafkaPrefixes are key families gokafka ignores wholesale.
var ignoredKafkaPrefixes = []string{
	"transaction.state.log.", "transaction.", "log.cleaner.", "ssl.", "sasl.",
	"listener.name.", "metrics.", "quota.", "replica.", "controller.", "zookeeper.ssl.",
	"group.", "offsets.", "confluent.",
}

func isIgnoredKafkaKey(k string) bool {
	for _, i := range ignoredKafkaKeys {
		if k == i {
			return true
		}
	}
	for _, p := range ignoredKafkaPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// EnvPrefix starts the environment variables that set configuration keys,
// in the convention of Bitnami's Kafka images: the key upper-cased, its dots
// as underscores, after KAFKA_CFG_ (KAFKA_CFG_LOG_RETENTION_HOURS sets
// log.retention.hours). Keys with underscores cannot be set this way.
const EnvPrefix = "KAFKA_CFG_"

// envKey returns the configuration key the environment variable name sets,
// and false when name is not one of EnvPrefix.
func envKey(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, EnvPrefix)
	if !ok || rest == "" {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", ".")), true
}

// LoadConfig reads a Kafka-style server.properties and layers over it, with
// viper, the environment's KAFKA_CFG_ variables (EnvPrefix) and then the
// "key=value" overrides: an override wins over the environment, which wins
// over the file (kafka-server-start's --override wins over the file the
// same way). It then resolves every key gokafka implements with Kafka's
// default; unknown keys are logged and ignored, a bad value fails with an
// error naming the key. path may be empty to start from the environment and
// the overrides alone. Empty variables are ignored.
func LoadConfig(path string, overrides []string, logger *zap.Logger) (Config, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	reg := viper.NewCodecRegistry()
	if err := reg.RegisterCodec("properties", propertiesCodec{}); err != nil {
		return Config{}, err
	}
	// A delimiter that never occurs keeps dotted keys flat.
	v := viper.NewWithOptions(viper.KeyDelimiter("\x00"), viper.WithCodecRegistry(reg))
	v.SetConfigType("properties")
	if path != "" {
		v.SetConfigFile(path)
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read %s: %w", path, err)
		}
	}
	for _, kv := range os.Environ() {
		name, val, _ := strings.Cut(kv, "=")
		k, ok := envKey(name)
		if !ok || val == "" {
			continue
		}
		if err := v.BindEnv(k, name); err != nil {
			return Config{}, fmt.Errorf("environment variable %s: %w", name, err)
		}
		logger.Info("configuration key from the environment", zap.String("key", k), zap.String("variable", name))
	}
	for _, o := range overrides {
		k, val, ok := strings.Cut(o, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return Config{}, fmt.Errorf("override %q: want key=value", o)
		}
		v.Set(k, val)
	}
	raw := make(map[string]string)
	for _, k := range v.AllKeys() {
		raw[k] = strings.TrimSpace(v.GetString(k))
	}
	return parseConfig(raw, logger)
}

// parseConfig resolves a Config from the raw key/value pairs.
func parseConfig(raw map[string]string, logger *zap.Logger) (Config, error) {
	p := &configParser{raw: raw}
	c := Config{Raw: raw}

	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case brokerKeys[k]:
		case topicSynonymKeys[k] != nil:
			// Validated below through the topic key it defaults.
		case isIgnoredKafkaKey(k):
			logger.Info("configuration key not implemented by gokafka; ignored", zap.String("key", k))
		default:
			logger.Warn("unknown configuration key; ignored", zap.String("key", k))
		}
	}

	c.BrokerID = int32(p.int("broker.id", 0, 0, math.MaxInt32))
	if p.err != nil {
		return Config{}, p.err
	}

	secMap, err := parseSecurityProtocolMap(p.str("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT"))
	if err != nil {
		return Config{}, invalidValue("listener.security.protocol.map", p.str("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT"), err)
	}
	c.Listeners, err = parseListeners(p.str("listeners", defaultListeners), secMap)
	if err != nil {
		return Config{}, invalidValue("listeners", p.str("listeners", defaultListeners), err)
	}
	if adv, ok := raw["advertised.listeners"]; ok {
		c.AdvertisedListeners, err = parseListeners(adv, secMap)
		if err != nil {
			return Config{}, invalidValue("advertised.listeners", adv, err)
		}
		for _, l := range c.AdvertisedListeners {
			if l.Host == "0.0.0.0" || l.Host == "::" {
				return Config{}, invalidValue("advertised.listeners", adv, fmt.Errorf("cannot use the nonroutable meta-address %s", l.Host))
			}
		}
	} else {
		host, herr := os.Hostname()
		if herr != nil {
			host = "localhost"
		}
		for _, l := range c.Listeners {
			if l.Host == "" || l.Host == "0.0.0.0" || l.Host == "::" {
				l.Host = host
			}
			c.AdvertisedListeners = append(c.AdvertisedListeners, l)
		}
	}

	dirs := p.str("log.dirs", "")
	if dirs == "" {
		dirs = p.str("log.dir", defaultLogDir)
	}
	for _, d := range strings.Split(dirs, ",") {
		if d = strings.TrimSpace(d); d != "" {
			c.LogDirs = append(c.LogDirs, d)
		}
	}
	if len(c.LogDirs) == 0 {
		return Config{}, fmt.Errorf("log.dirs: no log directory given")
	}

	c.ZooKeeperConnect = p.str("zookeeper.connect", "")
	if c.ZooKeeperConnect == "" {
		return Config{}, fmt.Errorf("zookeeper.connect: missing required configuration (host:port[,host:port...][/chroot])")
	}
	session := p.int("zookeeper.session.timeout.ms", defaultZKSessionTimeoutMs, 1, math.MaxInt32)
	c.ZooKeeperSessionTimeout = time.Duration(session) * time.Millisecond
	c.ZooKeeperConnectionTimeout = time.Duration(p.int("zookeeper.connection.timeout.ms", session, 1, math.MaxInt32)) * time.Millisecond
	c.NumPartitions = int32(p.int("num.partitions", 1, 1, math.MaxInt32))
	c.DefaultReplicationFactor = int16(p.int("default.replication.factor", 1, 1, math.MaxInt16))
	c.AutoCreateTopics = p.bool("auto.create.topics.enable", true)
	c.DeleteTopicEnable = p.bool("delete.topic.enable", true)
	c.SocketRequestMaxBytes = int32(p.int("socket.request.max.bytes", defaultSocketRequestMaxBytes, 1, math.MaxInt32))
	c.LogCleanerEnable = p.bool("log.cleaner.enable", true)
	c.LogCleanerThreads = int(p.int("log.cleaner.threads", 1, 0, math.MaxInt32))
	c.LogCleanerBackoff = time.Duration(p.int("log.cleaner.backoff.ms", 15000, 0, math.MaxInt64)) * time.Millisecond
	c.LogCleanerDedupeBufferSize = p.int("log.cleaner.dedupe.buffer.size", 128<<20, 0, math.MaxInt64)
	if v := strings.TrimSpace(p.str("log.cleaner.io.max.bytes.per.second", "")); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			p.fail(invalidValue("log.cleaner.io.max.bytes.per.second", v, errors.New("Value must be positive")))
		}
		c.LogCleanerIOMaxBytesPerSecond = r
	}
	idleMs := p.int("connections.max.idle.ms", defaultConnectionsMaxIdleMs, math.MinInt64, math.MaxInt64)
	if idleMs > 0 {
		c.ConnectionsMaxIdle = time.Duration(min(idleMs, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
	}
	c.MaxConnections = int32(p.int("max.connections", math.MaxInt32, 0, math.MaxInt32))
	c.MaxConnectionsPerIP = int32(p.int("max.connections.per.ip", math.MaxInt32, 0, math.MaxInt32))
	if p.err == nil {
		c.MaxConnectionsPerIPOverrides, err = parseConnectionOverrides(p.str("max.connections.per.ip.overrides", ""))
		if err != nil {
			return Config{}, invalidValue("max.connections.per.ip.overrides", p.str("max.connections.per.ip.overrides", ""), err)
		}
		if c.MaxConnectionsPerIP == 0 && len(c.MaxConnectionsPerIPOverrides) == 0 {
			p.fail(errors.New("max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides property is set"))
		}
	}
	c.FetchMaxBytes = int32(p.int("fetch.max.bytes", defaultFetchMaxBytes, minFetchMaxBytes, math.MaxInt32))
	c.LogRetentionCheckInterval = time.Duration(p.int("log.retention.check.interval.ms", defaultRetentionCheckMs, 1, math.MaxInt64)) * time.Millisecond
	c.LogFlushSchedulerInterval = defaultFlushSchedulerInterval
	if _, ok := raw["log.flush.scheduler.interval.ms"]; ok {
		ms := p.int("log.flush.scheduler.interval.ms", 0, 1, math.MaxInt64)
		if ms < int64(math.MaxInt64/int64(time.Millisecond)) {
			c.LogFlushSchedulerInterval = time.Duration(ms) * time.Millisecond
		}
	}
	producerIDExpirationMs := p.int("producer.id.expiration.ms", storage.DefaultConfig().ProducerIDExpirationMs, 1, math.MaxInt32)
	c.ProducerIDExpirationCheckInterval = time.Duration(p.int("producer.id.expiration.check.interval.ms", defaultProducerIDExpirationCheckMs, 1, math.MaxInt32)) * time.Millisecond
	c.GroupMinSessionTimeout = time.Duration(p.int("group.min.session.timeout.ms", 6000, 0, math.MaxInt32)) * time.Millisecond
	c.GroupMaxSessionTimeout = time.Duration(p.int("group.max.session.timeout.ms", 1800000, 0, math.MaxInt32)) * time.Millisecond
	c.GroupMaxSize = int32(p.int("group.max.size", math.MaxInt32, 1, math.MaxInt32))
	c.GroupInitialRebalanceDelay = time.Duration(p.int("group.initial.rebalance.delay.ms", 3000, 0, math.MaxInt32)) * time.Millisecond
	c.OffsetsRetention = time.Duration(p.int("offsets.retention.minutes", 10080, 1, math.MaxInt32)) * time.Minute
	c.OffsetsRetentionCheckInterval = time.Duration(p.int("offsets.retention.check.interval.ms", 600000, 1, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
	c.OffsetMetadataMaxBytes = int32(p.int("offset.metadata.max.bytes", 4096, 1, math.MaxInt32))
	c.Txn = loadTxnConfig(p)
	c.ReplicaLagTimeMax = time.Duration(p.int("replica.lag.time.max.ms", 30000, 1, math.MaxInt32)) * time.Millisecond
	c.ReplicaFetchWaitMax = time.Duration(p.int("replica.fetch.wait.max.ms", 500, 0, math.MaxInt32)) * time.Millisecond
	c.ReplicaFetchMinBytes = int32(p.int("replica.fetch.min.bytes", 1, 1, math.MaxInt32))
	c.ReplicaFetchMaxBytes = int32(p.int("replica.fetch.max.bytes", 1048576, 0, math.MaxInt32))
	c.ReplicaFetchResponseMaxBytes = int32(p.int("replica.fetch.response.max.bytes", 10485760, 0, math.MaxInt32))
	c.ReplicaFetchBackoff = time.Duration(p.int("replica.fetch.backoff.ms", 1000, 0, math.MaxInt32)) * time.Millisecond
	c.NumReplicaFetchers = int(p.int("num.replica.fetchers", 1, 1, 64))
	c.UncleanLeaderElection = p.bool("unclean.leader.election.enable", false)
	c.AutoLeaderRebalanceEnable = p.bool("auto.leader.rebalance.enable", true)
	c.LeaderImbalancePerBrokerPercentage = int(p.int("leader.imbalance.per.broker.percentage", 10, math.MinInt32, math.MaxInt32))
	c.LeaderImbalanceCheckInterval = time.Duration(p.int("leader.imbalance.check.interval.seconds", 300, 1, math.MaxInt64/int64(time.Second))) * time.Second
	c.ControlledShutdownEnable = p.bool("controlled.shutdown.enable", true)
	c.ControlledShutdownMaxRetries = int(p.int("controlled.shutdown.max.retries", 3, 0, math.MaxInt32))
	c.ControlledShutdownRetryBackoff = time.Duration(p.int("controlled.shutdown.retry.backoff.ms", 5000, 0, math.MaxInt32)) * time.Millisecond
	c.InterBrokerListenerName = p.str("inter.broker.listener.name", "")
	c.BrokerRack = p.str("broker.rack", "")
	if v, ok := raw["replica.selector.class"]; ok {
		c.ReplicaSelectorClass = strings.TrimSpace(v)
		if err := checkReplicaSelectorClass(c.ReplicaSelectorClass); err != nil {
			p.fail(err)
		}
	}
	if c.ReplicaFetchWaitMax >= c.ReplicaLagTimeMax && p.err == nil {
		// Kafka's rule: a fetch that waits longer than the lag limit would
		// drop caught-up followers from the ISR.
		p.fail(fmt.Errorf("replica.fetch.wait.max.ms %d should always be less than or equal to replica.lag.time.max.ms %d to prevent frequent changes in ISR",
			c.ReplicaFetchWaitMax.Milliseconds(), c.ReplicaLagTimeMax.Milliseconds()))
	}
	if p.err == nil && c.GroupMinSessionTimeout > c.GroupMaxSessionTimeout {
		p.fail(fmt.Errorf("group.min.session.timeout.ms %d must not exceed group.max.session.timeout.ms %d",
			c.GroupMinSessionTimeout.Milliseconds(), c.GroupMaxSessionTimeout.Milliseconds()))
	}
	if p.err != nil {
		return Config{}, p.err
	}

	// Every broker key that defaults a topic key is checked with that
	// key's validator, after unit conversion (log.roll.hours=0 fails as
	// segment.ms would), and the brokers' own range where Kafka's is
	// stricter than the topic's.
	for name, k := range topicSynonymKeys {
		val, ok := raw[name]
		if !ok {
			continue
		}
		if err := checkType(k.typ, val); err != nil {
			return Config{}, invalidValue(name, val, err)
		}
	}
	for _, name := range []string{"log.roll.hours"} {
		if _, ok := raw[name]; ok {
			p.int(name, 0, 1, math.MaxInt32)
		}
	}
	if p.err != nil {
		return Config{}, p.err
	}
	eff := make(map[string]string, len(topicKeys))
	for i := range topicKeys {
		k := &topicKeys[i]
		val, from := k.brokerDefault(raw)
		if err := k.check(val); err != nil {
			if from == "" {
				return Config{}, err
			}
			// Name the broker key the user wrote and its value, not the
			// topic key it defaults (log.segment.bytes, not segment.bytes).
			return Config{}, invalidValue(from, strings.TrimSpace(raw[from]), k.reason(val))
		}
		eff[k.name] = val
	}
	n := func(name string) int64 {
		x, _ := strconv.ParseInt(eff[name], 10, 64)
		return x
	}
	c.Log = storage.Config{
		SegmentBytes:       n("segment.bytes"),
		SegmentMs:          n("segment.ms"),
		RetentionMs:        n("retention.ms"),
		RetentionBytes:     n("retention.bytes"),
		IndexIntervalBytes: int32(n("index.interval.bytes")),
		SegmentIndexBytes:  int32(n("segment.index.bytes")),
		FlushMessages:      n("flush.messages"),
		FlushMs:            n("flush.ms"),
		// A broker key only: no topic overrides it.
		ProducerIDExpirationMs: producerIDExpirationMs,
		DeleteRetentionMs:      n("delete.retention.ms"),
		MinCompactionLagMs:     n("min.compaction.lag.ms"),
		MaxCompactionLagMs:     n("max.compaction.lag.ms"),
		MinCleanableDirtyRatio: 0.5,
	}
	if r, err := strconv.ParseFloat(eff["min.cleanable.dirty.ratio"], 64); err == nil {
		c.Log.MinCleanableDirtyRatio = r
	}
	c.MessageMaxBytes = int32(n("max.message.bytes"))
	c.LogMessageTimestampType = eff["message.timestamp.type"]
	c.LogMessageDownConversionDisabled = strings.EqualFold(eff["message.downconversion.enable"], "false")
	c.LogCleanupPolicy = eff["cleanup.policy"]
	c.MinInsyncReplicas = int32(n("min.insync.replicas"))
	return c, nil
}

// configParser reads typed values from the raw map, remembering the first
// error so the caller checks once.
type configParser struct {
	raw map[string]string
	err error
}

func (p *configParser) str(key, def string) string {
	if v, ok := p.raw[key]; ok {
		return strings.TrimSpace(v)
	}
	return def
}

func (p *configParser) int(key string, def, lo, hi int64) int64 {
	v, ok := p.raw[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		typ := "LONG"
		if hi <= math.MaxInt32 && lo >= math.MinInt32 {
			typ = "INT"
		}
		p.fail(invalidValue(key, v, fmt.Errorf("Not a number of type %s", typ)))
		return def
	}
	switch {
	case n < lo:
		p.fail(invalidValue(key, v, fmt.Errorf("Value must be at least %d", lo)))
		return def
	case n > hi:
		p.fail(invalidValue(key, v, fmt.Errorf("Value must be no more than %d", hi)))
		return def
	}
	return n
}

// invalidValue words a bad value as Kafka's ConfigException does:
// "Invalid value V for configuration K: reason", K being the key as the
// user wrote it and V the value, or the offending item when a list was
// refused for one of its items (listItemError), as Kafka's ValidList names
// it. Broker properties at start and AlterConfigs both word errors here.
func invalidValue(key, value string, reason error) error {
	value = strings.TrimSpace(value)
	var ie listItemError
	if errors.As(reason, &ie) {
		value = ie.item
	}
	return fmt.Errorf("Invalid value %s for configuration %s: %w", value, key, reason)
}

func (p *configParser) bool(key string, def bool) bool {
	v, ok := p.raw[key]
	if !ok {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(invalidValue(key, v, errors.New("Expected value to be either true or false")))
	return def
}

func (p *configParser) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

// parseConnectionOverrides parses max.connections.per.ip.overrides:
// "host:count,..." where host is an IP address (IPv6 without brackets
// works: the count follows the last colon) or a host name, and count is at
// least 0.
func parseConnectionOverrides(s string) (map[string]int32, error) {
	out := make(map[string]int32)
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndex(item, ":")
		if i <= 0 {
			return nil, fmt.Errorf("invalid entry %q: want host:count", item)
		}
		host := strings.TrimSpace(item[:i])
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		n, err := strconv.ParseInt(strings.TrimSpace(item[i+1:]), 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid entry %q: the count must be a number of at least 0", item)
		}
		if !validHost(host) {
			return nil, fmt.Errorf("invalid entry %q: %q is not an IP address or host name", item, host)
		}
		out[host] = int32(n)
	}
	return out, nil
}

// validHost reports whether h is an IP address or a syntactically valid
// host name (letters, digits, '-' and '.', no empty label).
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// parseSecurityProtocolMap parses listener.security.protocol.map
// ("NAME:PROTOCOL,..."). gokafka serves only PLAINTEXT; the four Kafka
// protocols are recognised so the error can say which is unsupported.
func parseSecurityProtocolMap(s string) (map[string]string, error) {
	m := map[string]string{"PLAINTEXT": "PLAINTEXT", "SSL": "SSL", "SASL_PLAINTEXT": "SASL_PLAINTEXT", "SASL_SSL": "SASL_SSL"}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	m = make(map[string]string)
	for _, item := range strings.Split(s, ",") {
		name, proto, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid entry %q: want NAME:PROTOCOL", item)
		}
		proto = strings.ToUpper(proto)
		switch proto {
		case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
		default:
			return nil, fmt.Errorf("unknown security protocol %q", proto)
		}
		m[strings.ToUpper(name)] = proto
	}
	return m, nil
}

// parseListeners parses "NAME://host:port,..." with Kafka's rules: the name
// must be mapped to a security protocol, names are unique, an empty host
// means every interface, and the port is 0..65535 (0 picks a free port,
// which tests use). Only PLAINTEXT listeners can be served.
func parseListeners(s string, secMap map[string]string) ([]Listener, error) {
	var out []Listener
	seen := make(map[string]bool)
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, hostport, ok := strings.Cut(item, "://")
		if !ok || name == "" {
			return nil, fmt.Errorf("invalid listener %q: want NAME://host:port", item)
		}
		name = strings.ToUpper(name)
		proto, ok := secMap[name]
		if !ok {
			return nil, fmt.Errorf("listener %q: no security protocol defined for listener %s", item, name)
		}
		if proto != "PLAINTEXT" {
			return nil, fmt.Errorf("listener %q: security protocol %s is not supported by gokafka (only PLAINTEXT)", item, proto)
		}
		host, portStr, err := net.SplitHostPort(hostport)
		if err != nil {
			return nil, fmt.Errorf("invalid listener %q: %v", item, err)
		}
		port, err := strconv.ParseInt(portStr, 10, 32)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("invalid listener %q: bad port %q", item, portStr)
		}
		if seen[name] {
			return nil, fmt.Errorf("each listener must have a different name, %s is repeated", name)
		}
		seen[name] = true
		out = append(out, Listener{Name: name, Host: host, Port: int32(port)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no listener given")
	}
	return out, nil
}

// String formats the listener as Kafka writes endpoints: NAME://host:port.
func (l Listener) String() string {
	return l.Name + "://" + net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
}
