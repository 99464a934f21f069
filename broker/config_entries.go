package broker

import (
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// configEntry is one described configuration value with where it came
// from (DescribeConfigs, and CreateTopics v5+).
type configEntry struct {
	name     string
	value    *string
	source   kmsg.ConfigSource
	typ      kmsg.ConfigType
	readOnly bool
	synonyms []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
}

func strPtr(s string) *string { return &s }

// configLayers are the non-default sources of a broker key, highest
// precedence first: this broker's dynamic config, the cluster default's,
// server.properties.
type configLayers struct {
	perBroker, cluster, static map[string]string
}

// layers snapshots the broker's config sources.
func (s *Server) layers() configLayers {
	perBroker, cluster := s.dynamicLayers()
	return configLayers{perBroker: perBroker, cluster: cluster, static: s.cfg.Raw}
}

// lookup returns the value of a broker key and its source, or false
// when no layer sets it. Only dynamic keys are read from the dynamic
// layers (Kafka ignores others stored there).
func (l configLayers) lookup(name string) (string, kmsg.ConfigSource, bool) {
	if dynamicBrokerKey(name) {
		if v, ok := l.perBroker[name]; ok {
			return v, kmsg.ConfigSourceDynamicBrokerConfig, true
		}
		if v, ok := l.cluster[name]; ok {
			return v, kmsg.ConfigSourceDynamicDefaultBrokerConfig, true
		}
	}
	if v, ok := l.static[name]; ok {
		return v, kmsg.ConfigSourceStaticBrokerConfig, true
	}
	return "", 0, false
}

// synonyms lists the set values of a group of synonymous broker keys as
// Kafka's configSynonyms does: every key of the group in this broker's
// dynamic config, then in the cluster default's, then in
// server.properties, then the keys that have a default.
func (l configLayers) synonyms(k *topicKey) []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym {
	var out []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym
	add := func(name, v string, src kmsg.ConfigSource) {
		out = append(out, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: name, Value: strPtr(v), Source: src})
	}
	for _, layer := range []struct {
		m   map[string]string
		src kmsg.ConfigSource
	}{
		{l.perBroker, kmsg.ConfigSourceDynamicBrokerConfig},
		{l.cluster, kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		{l.static, kmsg.ConfigSourceStaticBrokerConfig},
	} {
		for _, syn := range k.synonyms {
			if layer.src != kmsg.ConfigSourceStaticBrokerConfig && !dynamicBrokerKey(syn.name) {
				continue
			}
			if v, ok := layer.m[syn.name]; ok {
				add(syn.name, v, layer.src)
			}
		}
	}
	if n := len(k.synonyms); n > 0 {
		add(k.synonyms[n-1].name, brokerKeyDefault(k, n-1), kmsg.ConfigSourceDefaultConfig)
	}
	return out
}

// merged is the raw broker config with the dynamic layers applied.
func (l configLayers) merged() map[string]string {
	raw := make(map[string]string, len(l.static))
	for k, v := range l.static {
		raw[k] = v
	}
	for _, m := range []map[string]string{l.cluster, l.perBroker} {
		for k, v := range m {
			if dynamicBrokerKey(k) {
				raw[k] = v
			}
		}
	}
	return raw
}

// topicConfigEntries describes every topic key: the topic's override
// (DYNAMIC_TOPIC_CONFIG), else the broker default it inherits, from this
// broker's dynamic config (DYNAMIC_BROKER_CONFIG), the cluster default's
// (DYNAMIC_DEFAULT_BROKER_CONFIG), server.properties
// (STATIC_BROKER_CONFIG) or Kafka's default (DEFAULT_CONFIG). Synonyms
// list the candidates from the highest precedence down, and the source is
// the first synonym's, as Kafka's ConfigHelper reports them.
func (s *Server) topicConfigEntries(overrides map[string]string) []configEntry {
	l := s.layers()
	raw := l.merged()
	out := make([]configEntry, 0, len(topicKeys))
	for i := range topicKeys {
		k := &topicKeys[i]
		e := configEntry{name: k.name, typ: k.typ}
		if v, ok := overrides[k.name]; ok {
			e.value, e.source = strPtr(v), kmsg.ConfigSourceDynamicTopicConfig
			e.synonyms = append(e.synonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: k.name, Value: strPtr(v), Source: kmsg.ConfigSourceDynamicTopicConfig})
		}
		// Kafka lists the broker synonyms from the first entry of the
		// topic key's primary broker key on (configSynonyms' dropWhile):
		// with log.retention.ms unset, retention.ms shows none, even when
		// log.retention.hours supplies its value, and its source is then
		// DEFAULT_CONFIG ("retention.ms=604800000 sensitive=false
		// synonyms={}" in kafka-configs.sh --describe --all).
		group := l.synonyms(k)
		if len(k.synonyms) > 0 {
			primary := k.synonyms[0].name
			for len(group) > 0 && group[0].Name != primary {
				group = group[1:]
			}
		}
		e.synonyms = append(e.synonyms, group...)
		if e.value == nil {
			v, _ := k.brokerDefault(raw)
			e.value = strPtr(v)
			e.source = kmsg.ConfigSourceDefaultConfig
			if len(group) > 0 {
				e.source = group[0].Source
			}
		}
		out = append(out, e)
	}
	return out
}

// brokerKeyDefault is Kafka's default of synonym i of a topic key, in the
// broker key's unit: only the last synonym has one (log.retention.hours
// is 168; log.retention.ms and .minutes default to null).
func brokerKeyDefault(k *topicKey, i int) string {
	syn := k.synonyms[i]
	if i != len(k.synonyms)-1 {
		return ""
	}
	if syn.scale == 0 {
		return k.def
	}
	n, _ := strconv.ParseInt(k.def, 10, 64)
	return strconv.FormatInt(n/syn.scale, 10)
}

// brokerConfigEntries describes the broker keys gokafka implements for
// this broker's resource (perBroker) or the cluster default's. Each key's
// value and source is its highest-precedence layer (this broker's dynamic
// config, the cluster default's, server.properties, Kafka's default), and
// only the keys Kafka changes at runtime are read_only false. The cluster
// default's resource lists only what it sets, as Kafka's does, with only
// cluster-default synonyms.
func (s *Server) brokerConfigEntries(perBroker bool) []configEntry {
	l := s.layers()
	if !perBroker {
		return s.defaultBrokerEntries(l)
	}
	c := &s.cfg
	listeners := make([]string, len(c.Listeners))
	for i, ln := range c.Listeners {
		listeners[i] = ln.String()
	}
	advertised := make([]string, len(s.advertised))
	for i, a := range s.advertised {
		advertised[i] = a.String()
	}
	itoa := func(n int64) string { return strconv.FormatInt(n, 10) }
	rawOr := func(key, def string) string {
		if v, ok := c.Raw[key]; ok {
			return v
		}
		return def
	}
	fixed := []struct {
		name  string
		typ   kmsg.ConfigType
		value string
	}{
		{"advertised.listeners", kmsg.ConfigTypeString, strings.Join(advertised, ",")},
		{"auto.create.topics.enable", kmsg.ConfigTypeBoolean, strconv.FormatBool(c.AutoCreateTopics)},
		{"auto.leader.rebalance.enable", kmsg.ConfigTypeBoolean, strconv.FormatBool(c.AutoLeaderRebalanceEnable)},
		{"broker.id", kmsg.ConfigTypeInt, itoa(int64(c.BrokerID))},
		{"connections.max.idle.ms", kmsg.ConfigTypeLong, rawOr("connections.max.idle.ms", itoa(defaultConnectionsMaxIdleMs))},
		{"default.replication.factor", kmsg.ConfigTypeInt, itoa(int64(c.DefaultReplicationFactor))},
		{"delete.topic.enable", kmsg.ConfigTypeBoolean, strconv.FormatBool(c.DeleteTopicEnable)},
		{"fetch.max.bytes", kmsg.ConfigTypeInt, itoa(int64(c.FetchMaxBytes))},
		{"follower.replication.throttled.rate", kmsg.ConfigTypeLong, maxLong},
		{"leader.imbalance.check.interval.seconds", kmsg.ConfigTypeLong, itoa(int64(c.LeaderImbalanceCheckInterval.Seconds()))},
		{"leader.imbalance.per.broker.percentage", kmsg.ConfigTypeInt, itoa(int64(c.LeaderImbalancePerBrokerPercentage))},
		{"leader.replication.throttled.rate", kmsg.ConfigTypeLong, maxLong},
		{"listeners", kmsg.ConfigTypeString, strings.Join(listeners, ",")},
		{"log.dirs", kmsg.ConfigTypeString, strings.Join(c.LogDirs, ",")},
		{"log.retention.check.interval.ms", kmsg.ConfigTypeLong, itoa(c.LogRetentionCheckInterval.Milliseconds())},
		{"max.connections", kmsg.ConfigTypeInt, itoa(int64(c.MaxConnections))},
		{"max.connections.per.ip", kmsg.ConfigTypeInt, itoa(int64(c.MaxConnectionsPerIP))},
		{"max.connections.per.ip.overrides", kmsg.ConfigTypeString, rawOr("max.connections.per.ip.overrides", "")},
		{"num.partitions", kmsg.ConfigTypeInt, itoa(int64(c.NumPartitions))},
		{"num.replica.fetchers", kmsg.ConfigTypeInt, itoa(int64(c.NumReplicaFetchers))},
		{"producer.id.expiration.check.interval.ms", kmsg.ConfigTypeInt, itoa(c.ProducerIDExpirationCheckInterval.Milliseconds())},
		{"producer.id.expiration.ms", kmsg.ConfigTypeInt, itoa(c.Log.ProducerIDExpirationMs)},
		{"replica.alter.log.dirs.io.max.bytes.per.second", kmsg.ConfigTypeLong, maxLong},
		{"socket.request.max.bytes", kmsg.ConfigTypeInt, itoa(int64(c.SocketRequestMaxBytes))},
		{"zookeeper.connect", kmsg.ConfigTypeString, c.ZooKeeperConnect},
		{"zookeeper.connection.timeout.ms", kmsg.ConfigTypeInt, itoa(c.ZooKeeperConnectionTimeout.Milliseconds())},
		{"zookeeper.session.timeout.ms", kmsg.ConfigTypeInt, itoa(c.ZooKeeperSessionTimeout.Milliseconds())},
	}
	var out []configEntry
	listed := map[string]bool{}
	for _, f := range fixed {
		e := configEntry{name: f.name, typ: f.typ, value: strPtr(f.value), source: kmsg.ConfigSourceDefaultConfig, readOnly: !dynamicBrokerKey(f.name)}
		if v, src, ok := l.lookup(f.name); ok {
			e.source = src
			if src != kmsg.ConfigSourceStaticBrokerConfig {
				e.value = strPtr(v)
			}
		}
		listed[f.name] = true
		out = append(out, e)
	}
	for i := range topicKeys {
		k := &topicKeys[i]
		group := l.synonyms(k)
		for j, syn := range k.synonyms {
			typ := k.typ
			if syn.scale != 0 {
				typ = kmsg.ConfigTypeInt
			}
			e := configEntry{name: syn.name, typ: typ, source: kmsg.ConfigSourceDefaultConfig, readOnly: !dynamicBrokerKey(syn.name)}
			// Kafka drops the synonyms before the first entry of the
			// key itself (configSynonyms' dropWhile).
			first := -1
			for g := range group {
				if group[g].Name == syn.name {
					first = g
					break
				}
			}
			if first >= 0 {
				e.synonyms = group[first:]
				e.value, e.source = e.synonyms[0].Value, e.synonyms[0].Source
			} else if d := brokerKeyDefault(k, j); d != "" || j == len(k.synonyms)-1 {
				e.value = strPtr(d)
			}
			listed[syn.name] = true
			out = append(out, e)
		}
	}
	// Dynamic keys set dynamically that the lists above do not cover
	// (log.cleaner.*, thread pools): described so that tools show them.
	for _, m := range []map[string]string{l.perBroker, l.cluster} {
		for _, name := range sortedKeys(m) {
			if listed[name] || !dynamicBrokerKey(name) {
				continue
			}
			v, src, _ := l.lookup(name)
			listed[name] = true
			out = append(out, configEntry{name: name, typ: extraDynamicBrokerKeys[name], value: strPtr(v), source: src})
		}
	}
	for i := range out {
		if out[i].synonyms == nil {
			out[i].synonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{{Name: out[i].name, Value: out[i].value, Source: out[i].source}}
		}
	}
	return out
}

// defaultBrokerEntries describes the cluster default's resource: the keys
// set in /config/brokers/<default>, with only their cluster-default
// synonyms (Kafka's createBrokerConfigEntry with perBrokerConfig false).
func (s *Server) defaultBrokerEntries(l configLayers) []configEntry {
	out := []configEntry{}
	for _, name := range sortedKeys(l.cluster) {
		v := l.cluster[name]
		e := configEntry{name: name, value: strPtr(v), source: kmsg.ConfigSourceDynamicDefaultBrokerConfig, readOnly: !dynamicBrokerKey(name)}
		if k, ok := dynamicBrokerTopicKey(name); ok {
			e.typ = k.typ
			for _, syn := range l.synonyms(k) {
				if syn.Source == kmsg.ConfigSourceDynamicDefaultBrokerConfig {
					e.synonyms = append(e.synonyms, syn)
				}
			}
		} else {
			e.typ = extraDynamicBrokerKeys[name]
			e.synonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{{Name: name, Value: strPtr(v), Source: e.source}}
		}
		out = append(out, e)
	}
	return out
}
