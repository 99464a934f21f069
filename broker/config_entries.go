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

// topicConfigEntries describes every topic key: the topic's override
// (DYNAMIC_TOPIC_CONFIG), else the server.properties value
// (STATIC_BROKER_CONFIG), else Kafka's default (DEFAULT_CONFIG). Synonyms
// list the candidates from the highest precedence down.
func (s *Server) topicConfigEntries(overrides map[string]string) []configEntry {
	out := make([]configEntry, 0, len(topicKeys))
	for i := range topicKeys {
		k := &topicKeys[i]
		e := configEntry{name: k.name, typ: k.typ}
		if v, ok := overrides[k.name]; ok {
			e.value, e.source = strPtr(v), kmsg.ConfigSourceDynamicTopicConfig
			e.synonyms = append(e.synonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: k.name, Value: strPtr(v), Source: kmsg.ConfigSourceDynamicTopicConfig})
		}
		for _, syn := range k.synonyms {
			if v, ok := s.cfg.Raw[syn.name]; ok {
				e.synonyms = append(e.synonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: syn.name, Value: strPtr(v), Source: kmsg.ConfigSourceStaticBrokerConfig})
			}
		}
		def := k.def
		defName := k.name
		if n := len(k.synonyms); n > 0 {
			defName = k.synonyms[n-1].name
			def = brokerKeyDefault(k, n-1)
		}
		e.synonyms = append(e.synonyms, kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{Name: defName, Value: strPtr(def), Source: kmsg.ConfigSourceDefaultConfig})
		if e.value == nil {
			v, from := k.brokerDefault(s.cfg.Raw)
			e.value = strPtr(v)
			e.source = kmsg.ConfigSourceDefaultConfig
			if from != "" {
				e.source = kmsg.ConfigSourceStaticBrokerConfig
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

// brokerConfigEntries describes the broker keys gokafka implements, with
// STATIC_BROKER_CONFIG for those set in server.properties (or overrides)
// and DEFAULT_CONFIG otherwise. Only the log.* topic defaults are
// read_only false, matching what Kafka can change dynamically.
func (s *Server) brokerConfigEntries() []configEntry {
	c := &s.cfg
	listeners := make([]string, len(c.Listeners))
	for i, l := range c.Listeners {
		listeners[i] = l.String()
	}
	advertised := make([]string, len(s.advertised))
	for i, l := range s.advertised {
		advertised[i] = l.String()
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
		{"broker.id", kmsg.ConfigTypeInt, itoa(int64(c.BrokerID))},
		{"connections.max.idle.ms", kmsg.ConfigTypeLong, rawOr("connections.max.idle.ms", itoa(defaultConnectionsMaxIdleMs))},
		{"default.replication.factor", kmsg.ConfigTypeInt, itoa(int64(c.DefaultReplicationFactor))},
		{"delete.topic.enable", kmsg.ConfigTypeBoolean, strconv.FormatBool(c.DeleteTopicEnable)},
		{"fetch.max.bytes", kmsg.ConfigTypeInt, itoa(int64(c.FetchMaxBytes))},
		{"listeners", kmsg.ConfigTypeString, strings.Join(listeners, ",")},
		{"log.dirs", kmsg.ConfigTypeString, strings.Join(c.LogDirs, ",")},
		{"log.retention.check.interval.ms", kmsg.ConfigTypeLong, itoa(c.LogRetentionCheckInterval.Milliseconds())},
		{"max.connections", kmsg.ConfigTypeInt, itoa(int64(c.MaxConnections))},
		{"max.connections.per.ip", kmsg.ConfigTypeInt, itoa(int64(c.MaxConnectionsPerIP))},
		{"max.connections.per.ip.overrides", kmsg.ConfigTypeString, rawOr("max.connections.per.ip.overrides", "")},
		{"num.partitions", kmsg.ConfigTypeInt, itoa(int64(c.NumPartitions))},
		{"producer.id.expiration.check.interval.ms", kmsg.ConfigTypeInt, itoa(c.ProducerIDExpirationCheckInterval.Milliseconds())},
		{"producer.id.expiration.ms", kmsg.ConfigTypeInt, itoa(c.Log.ProducerIDExpirationMs)},
		{"socket.request.max.bytes", kmsg.ConfigTypeInt, itoa(int64(c.SocketRequestMaxBytes))},
		{"zookeeper.connect", kmsg.ConfigTypeString, c.ZooKeeperConnect},
		{"zookeeper.connection.timeout.ms", kmsg.ConfigTypeInt, itoa(c.ZooKeeperConnectionTimeout.Milliseconds())},
		{"zookeeper.session.timeout.ms", kmsg.ConfigTypeInt, itoa(c.ZooKeeperSessionTimeout.Milliseconds())},
	}
	var out []configEntry
	for _, f := range fixed {
		e := configEntry{name: f.name, typ: f.typ, value: strPtr(f.value), source: kmsg.ConfigSourceDefaultConfig, readOnly: true}
		if _, ok := c.Raw[f.name]; ok {
			e.source = kmsg.ConfigSourceStaticBrokerConfig
		}
		out = append(out, e)
	}
	for i := range topicKeys {
		k := &topicKeys[i]
		for j, syn := range k.synonyms {
			typ := k.typ
			if syn.scale != 0 {
				typ = kmsg.ConfigTypeInt
			}
			e := configEntry{name: syn.name, typ: typ, source: kmsg.ConfigSourceDefaultConfig}
			if v, ok := c.Raw[syn.name]; ok {
				e.value, e.source = strPtr(v), kmsg.ConfigSourceStaticBrokerConfig
			} else if d := brokerKeyDefault(k, j); d != "" || j == len(k.synonyms)-1 {
				e.value = strPtr(d)
			}
			e.synonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{{Name: e.name, Value: e.value, Source: e.source}}
			out = append(out, e)
		}
	}
	for i := range out {
		if out[i].synonyms == nil {
			out[i].synonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{{Name: out[i].name, Value: out[i].value, Source: out[i].source}}
		}
	}
	return out
}
