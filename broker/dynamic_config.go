package broker

import (
	"context"
	"errors"
	"maps"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Dynamic broker configuration (KIP-226) and the change notifications that
// carry every config change to every broker (Kafka's DynamicConfigManager).
//
// A broker key's value comes, highest precedence first, from
// /config/brokers/<id> (DYNAMIC_BROKER_CONFIG), /config/brokers/<default>
// (DYNAMIC_DEFAULT_BROKER_CONFIG), server.properties (STATIC_BROKER_CONFIG)
// and Kafka's default (DEFAULT_CONFIG). The layers are merged key by key
// before synonyms are resolved, as Kafka merges its properties before
// KafkaConfig reads them: a dynamic log.retention.ms beats a static
// log.retention.hours because .ms is the stronger synonym, not because it
// is dynamic.
//
// Only the keys Kafka can change at runtime are accepted (dynamicBrokerKey).
// Of those gokafka applies the topic defaults (log.retention.*,
// log.segment.bytes, log.roll.ms, message.max.bytes, min.insync.replicas,
// unclean.leader.election.enable, ...), which reach every hosted partition
// at once, the log cleaner's keys (log_cleaner.go) and the replication
// throttle rates (replication_quota.go); the thread-pool and connection
// keys are stored and described but have no effect until a restart.

// dynamicConfigs holds this broker's view of /config/brokers.
//
// mu guards perBroker and cluster and serializes recomputing eff; it is
// never held while calling ZooKeeper or while taking topicConfigs.mu.
type dynamicConfigs struct {
	mu        sync.Mutex
	perBroker map[string]string // /config/brokers/<this broker's id>
	cluster   map[string]string // /config/brokers/<default>
	// eff is the static configuration with the dynamic layers applied;
	// nil until the first load (then the static one is used).
	eff atomic.Pointer[Config]
	// expiry is how old (in nanoseconds) an applied notification must be
	// before this broker deletes it: zkmeta.ConfigChangeExpiry, shorter
	// in tests.
	expiry atomic.Int64
}

// effectiveConfig is the broker configuration in force: server.properties
// with the dynamic broker configs applied.
func (s *Server) effectiveConfig() *Config {
	if c := s.dyn.eff.Load(); c != nil {
		return c
	}
	return &s.cfg
}

// dynamicLayers returns copies of the per-broker and cluster-default
// dynamic configs.
func (s *Server) dynamicLayers() (perBroker, cluster map[string]string) {
	s.dyn.mu.Lock()
	defer s.dyn.mu.Unlock()
	return maps.Clone(s.dyn.perBroker), maps.Clone(s.dyn.cluster)
}

// extraDynamicBrokerKeys are Kafka's dynamic broker keys that are not
// topic defaults, with their types (DynamicConfig.Broker,
// LogCleaner.ReconfigurableConfigs, DynamicThreadPool,
// DynamicConnectionQuota). gokafka stores them all; the cleaner and
// replication throttle keys take effect at once (reconfigurable.go).
var extraDynamicBrokerKeys = map[string]kmsg.ConfigType{
	"leader.replication.throttled.rate":              kmsg.ConfigTypeLong,
	"follower.replication.throttled.rate":            kmsg.ConfigTypeLong,
	"replica.alter.log.dirs.io.max.bytes.per.second": kmsg.ConfigTypeLong,
	"log.cleaner.threads":                            kmsg.ConfigTypeInt,
	"log.cleaner.dedupe.buffer.size":                 kmsg.ConfigTypeLong,
	"log.cleaner.io.buffer.load.factor":              kmsg.ConfigTypeDouble,
	"log.cleaner.io.buffer.size":                     kmsg.ConfigTypeInt,
	"log.cleaner.io.max.bytes.per.second":            kmsg.ConfigTypeDouble,
	"log.cleaner.backoff.ms":                         kmsg.ConfigTypeLong,
	"num.io.threads":                                 kmsg.ConfigTypeInt,
	"num.network.threads":                            kmsg.ConfigTypeInt,
	"num.replica.fetchers":                           kmsg.ConfigTypeInt,
	"num.recovery.threads.per.data.dir":              kmsg.ConfigTypeInt,
	"background.threads":                             kmsg.ConfigTypeInt,
	"max.connections":                                kmsg.ConfigTypeInt,
	"max.connections.per.ip":                         kmsg.ConfigTypeInt,
	"max.connections.per.ip.overrides":               kmsg.ConfigTypeString,
	"max.connection.creation.rate":                   kmsg.ConfigTypeInt,
	"producer.id.expiration.ms":                      kmsg.ConfigTypeInt,
	"transaction.partition.verification.enable":      kmsg.ConfigTypeBoolean,
	"remote.log.manager.copy.max.bytes.per.second":   kmsg.ConfigTypeLong,
	"remote.log.manager.fetch.max.bytes.per.second":  kmsg.ConfigTypeLong,
	"remote.log.index.file.cache.total.size.bytes":   kmsg.ConfigTypeLong,
	"remote.log.manager.copier.thread.pool.size":     kmsg.ConfigTypeInt,
	"remote.log.manager.expiration.thread.pool.size": kmsg.ConfigTypeInt,
	"remote.log.manager.thread.pool.size":            kmsg.ConfigTypeInt,
	"remote.fetch.max.wait.ms":                       kmsg.ConfigTypeInt,
	"remote.log.reader.threads":                      kmsg.ConfigTypeInt,
	"metric.reporters":                               kmsg.ConfigTypeList,
}

// dynamicBrokerTopicKey returns the topic key a dynamic broker key
// defaults: only each topic key's first broker synonym is dynamic in Kafka
// (ServerTopicConfigSynonyms.TOPIC_CONFIG_SYNONYMS), so log.retention.ms
// is and log.retention.hours is not; log.message.format.version is
// excluded as in DynamicLogConfig.
func dynamicBrokerTopicKey(name string) (*topicKey, bool) {
	k := topicSynonymKeys[name]
	if k == nil || len(k.synonyms) == 0 || k.synonyms[0].name != name || name == "log.message.format.version" {
		return nil, false
	}
	return k, true
}

// dynamicBrokerKey reports whether Kafka lets name change without a
// restart (DynamicBrokerConfig.AllDynamicConfigs, the parts gokafka knows).
func dynamicBrokerKey(name string) bool {
	if _, ok := dynamicBrokerTopicKey(name); ok {
		return true
	}
	_, ok := extraDynamicBrokerKeys[name]
	return ok
}

// staticOnlyBrokerKey reports whether name is a broker key Kafka knows
// and refuses to change dynamically ("Cannot update these configs
// dynamically"). Names Kafka does not know are accepted and stored, as
// Kafka does (custom keys of reconfigurable plugins).
func staticOnlyBrokerKey(name string) bool {
	if dynamicBrokerKey(name) {
		return false
	}
	if brokerKeys[name] || topicSynonymKeys[name] != nil {
		return true
	}
	for _, k := range ignoredKafkaKeys {
		if k == name {
			return true
		}
	}
	return false
}

// loadDynamicBrokerConfigs reads /config/brokers/<default> and
// /config/brokers/<id> and recomputes the effective configuration. It runs
// at start, before partitions open, and after each brokers/ notification.
func (s *Server) loadDynamicBrokerConfigs(ctx context.Context) error {
	cluster, err := s.zk.EntityConfig(ctx, zkmeta.ConfigTypeBrokers, zkmeta.DefaultEntity)
	if err != nil {
		return err
	}
	perBroker, err := s.zk.EntityConfig(ctx, zkmeta.ConfigTypeBrokers, strconv.Itoa(int(s.cfg.BrokerID)))
	if err != nil {
		return err
	}
	s.dyn.mu.Lock()
	defer s.dyn.mu.Unlock()
	s.dyn.perBroker, s.dyn.cluster = perBroker, cluster
	s.applyBrokerReconfigurables(cluster, perBroker)
	eff, err := mergeDynamic(s.cfg, cluster, perBroker)
	if err != nil {
		// Kafka logs and keeps the last valid configuration when a stored
		// dynamic value no longer validates.
		s.logger.Warn("invalid dynamic broker config in zookeeper; keeping the previous configuration", zap.Error(err))
		return nil
	}
	s.dyn.eff.Store(&eff)
	return nil
}

// mergeDynamic layers the dynamic configs (cluster default, then this
// broker's) over the static keys and resolves the result. Only the topic
// defaults take part: they are what gokafka applies at runtime.
func mergeDynamic(static Config, cluster, perBroker map[string]string) (Config, error) {
	raw := maps.Clone(static.Raw)
	if raw == nil {
		raw = map[string]string{}
	}
	for _, layer := range []map[string]string{cluster, perBroker} {
		for k, v := range layer {
			if _, ok := dynamicBrokerTopicKey(k); ok {
				raw[k] = v
			}
		}
	}
	c, err := parseConfig(raw, zap.NewNop())
	if err != nil {
		return Config{}, err
	}
	// What is not a topic default stays as it was resolved at start (the
	// advertised listeners, for one, were completed by New).
	out := static
	out.Log = c.Log
	out.MessageMaxBytes = c.MessageMaxBytes
	out.LogMessageTimestampType = c.LogMessageTimestampType
	out.LogCleanupPolicy = c.LogCleanupPolicy
	out.MinInsyncReplicas = c.MinInsyncReplicas
	out.UncleanLeaderElection = c.UncleanLeaderElection
	return out, nil
}

// applyTopicConfig installs a topic's configuration in the cache (which
// DescribeConfigs reads) and every hosted partition of the topic, so that the
// next append, fetch or retention pass uses it (Kafka's
// TopicConfigHandler.processConfigChanges updating each log's config).
func (s *Server) applyTopicConfig(name string, tc TopicConfig) {
	s.topicCfgs.mu.Lock()
	if s.topicCfgs.m == nil {
		s.topicCfgs.m = map[string]TopicConfig{}
	}
	s.topicCfgs.m[name] = tc
	s.topicCfgs.mu.Unlock()
	if s.replicas == nil {
		return
	}
	for _, p := range s.replicas.all() {
		if p.tp.Topic != name {
			continue
		}
		c := tc
		p.cfg.Store(&c)
		p.log.SetConfig(tc.Log)
	}
}

// resolveTopicConfig computes a topic's configuration from its overrides
// and the effective broker defaults; invalid overrides fall back to the
// defaults with a log line, as topicConfigFor does.
func (s *Server) resolveTopicConfig(name string, overrides map[string]string) TopicConfig {
	eff := s.effectiveConfig()
	tc, err := eff.TopicConfig(overrides)
	if err != nil {
		s.logger.Warn("invalid topic config in zookeeper; using the broker defaults", zap.String("topic", name), zap.Error(err))
		tc, _ = eff.TopicConfig(nil)
		tc.Overrides = overrides
	}
	return tc
}

// reloadTopicConfig re-reads /config/topics/<name> and applies it.
func (s *Server) reloadTopicConfig(ctx context.Context, name string) error {
	overrides, err := s.zk.TopicConfig(ctx, name)
	if err != nil && !errors.Is(err, zkmeta.ErrNoNode) {
		return err
	}
	s.applyTopicConfig(name, s.resolveTopicConfig(name, overrides))
	s.logger.Info("topic config changed", zap.String("topic", name), zap.Any("overrides", overrides))
	return nil
}

// knowsTopic reports whether the topic is in the metadata cache or its
// config is cached.
func (s *Server) knowsTopic(name string) bool {
	if _, ok := s.meta.topic(name); ok {
		return true
	}
	s.topicCfgs.mu.Lock()
	defer s.topicCfgs.mu.Unlock()
	_, ok := s.topicCfgs.m[name]
	return ok
}

// reapplyTopicConfigs recomputes every cached topic's configuration after
// the broker defaults changed.
func (s *Server) reapplyTopicConfigs() {
	s.topicCfgs.mu.Lock()
	cached := make(map[string]map[string]string, len(s.topicCfgs.m))
	for name, tc := range s.topicCfgs.m {
		cached[name] = tc.Overrides
	}
	s.topicCfgs.mu.Unlock()
	names := make([]string, 0, len(cached))
	for n := range cached {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.applyTopicConfig(n, s.resolveTopicConfig(n, cached[n]))
	}
}

// watchConfigChanges is this broker's DynamicConfigManager: it follows
// /config/changes and, for each notification newer than the last one it
// applied, re-reads the entity it names and applies it. Notifications
// present at start are applied too (they re-read current state, so an old
// one is harmless). Every round also deletes the notifications older than
// ConfigChangeExpiry, as every Kafka broker purges them. A failed round is
// retried after a second; a lost watch (session expiry) fires the channel,
// and the list is read again.
func (s *Server) watchConfigChanges(ctx context.Context) {
	last := int64(-1)
	for ctx.Err() == nil {
		changes, ch, err := s.zk.ConfigChanges(ctx, -1)
		if err != nil {
			if ctx.Err() == nil {
				s.logger.Debug("read config changes", zap.Error(err))
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for _, c := range changes {
			if c.Seq <= last {
				continue
			}
			if err := s.processConfigChange(ctx, c); err != nil {
				if ctx.Err() == nil {
					s.logger.Warn("apply config change", zap.String("notification", c.Name), zap.Error(err))
				}
				break
			}
			last = c.Seq
		}
		for _, c := range changes {
			if c.Seq <= last && time.Since(c.Created) >= time.Duration(s.dyn.expiry.Load()) {
				if err := s.zk.DeleteConfigChange(ctx, c.Name); err != nil && ctx.Err() == nil {
					s.logger.Debug("purge config change", zap.String("notification", c.Name), zap.Error(err))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// processConfigChange applies one notification: a topic's overrides, or
// the broker configs when they are this broker's or the cluster default.
// Other entity types (clients, users, ips: quotas and SCRAM) are not
// implemented and are skipped.
func (s *Server) processConfigChange(ctx context.Context, c zkmeta.ConfigChange) error {
	switch c.EntityType {
	case zkmeta.ConfigTypeTopics:
		if validateTopicName(c.EntityName) != nil || !s.knowsTopic(c.EntityName) {
			// A topic this broker has not heard of yet: topicConfigFor
			// reads its config when it does, so caching it now would
			// only risk keeping a deleted topic's config.
			return nil
		}
		return s.reloadTopicConfig(ctx, c.EntityName)
	case zkmeta.ConfigTypeBrokers:
		if c.EntityName != zkmeta.DefaultEntity && c.EntityName != strconv.Itoa(int(s.cfg.BrokerID)) {
			return nil
		}
		if err := s.loadDynamicBrokerConfigs(ctx); err != nil {
			return err
		}
		s.logger.Info("dynamic broker config changed", zap.String("entity", c.EntityName))
		s.reapplyTopicConfigs()
	}
	return nil
}
