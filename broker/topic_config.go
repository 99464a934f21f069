package broker

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerSynonym is a server.properties key that sets a topic key's default.
// scale converts its unit to the topic key's (log.roll.hours -> segment.ms
// is 3600000); zero copies the value as is.
type brokerSynonym struct {
	name  string
	scale int64
}

// topicKey is one topic-level configuration key of Kafka 3.9's LogConfig:
// its type, default, validator and the broker keys that supply its default
// (ServerTopicConfigSynonyms), in precedence order.
type topicKey struct {
	name     string
	typ      kmsg.ConfigType
	def      string
	synonyms []brokerSynonym
	// validate checks a value; nil accepts anything of the type.
	validate func(string) error
}

const (
	maxLong = "9223372036854775807"
	hourMs  = 3600000
)

// topicKeys is every topic config key Kafka 3.9 knows, sorted by name, with
// Kafka's defaults. gokafka honours segment.*, retention.*, flush.*,
// index.interval.bytes, max.message.bytes, message.timestamp.type,
// min.insync.replicas and the replication throttled replicas lists; the
// rest are validated, stored and described so that tools see what Kafka
// shows, but have no effect yet.
var topicKeys = []topicKey{
	{"cleanup.policy", kmsg.ConfigTypeList, "delete", syn("log.cleanup.policy"), listIn("compact", "delete")},
	{"compression.gzip.level", kmsg.ConfigTypeInt, "-1", syn("compression.gzip.level"), gzipLevel},
	{"compression.lz4.level", kmsg.ConfigTypeInt, "9", syn("compression.lz4.level"), intRange(1, 17)},
	{"compression.type", kmsg.ConfigTypeString, "producer", syn("compression.type"), stringIn("uncompressed", "zstd", "lz4", "snappy", "gzip", "producer")},
	{"compression.zstd.level", kmsg.ConfigTypeInt, "3", syn("compression.zstd.level"), intRange(-131072, 22)},
	{"delete.retention.ms", kmsg.ConfigTypeLong, "86400000", syn("log.cleaner.delete.retention.ms"), longAtLeast(0)},
	{"file.delete.delay.ms", kmsg.ConfigTypeLong, "60000", syn("log.segment.delete.delay.ms"), longAtLeast(0)},
	{"flush.messages", kmsg.ConfigTypeLong, maxLong, syn("log.flush.interval.messages"), longAtLeast(1)},
	{"flush.ms", kmsg.ConfigTypeLong, maxLong, syn("log.flush.interval.ms", "log.flush.scheduler.interval.ms"), longAtLeast(0)},
	{"follower.replication.throttled.replicas", kmsg.ConfigTypeList, "", nil, throttledReplicas},
	{"index.interval.bytes", kmsg.ConfigTypeInt, "4096", syn("log.index.interval.bytes"), intRange(0, math.MaxInt32)},
	{"leader.replication.throttled.replicas", kmsg.ConfigTypeList, "", nil, throttledReplicas},
	{"local.retention.bytes", kmsg.ConfigTypeLong, "-2", syn("log.local.retention.bytes"), longAtLeast(-2)},
	{"local.retention.ms", kmsg.ConfigTypeLong, "-2", syn("log.local.retention.ms"), longAtLeast(-2)},
	{"max.compaction.lag.ms", kmsg.ConfigTypeLong, maxLong, syn("log.cleaner.max.compaction.lag.ms"), longAtLeast(1)},
	{"max.message.bytes", kmsg.ConfigTypeInt, "1048588", syn("message.max.bytes"), intRange(0, math.MaxInt32)},
	{"message.downconversion.enable", kmsg.ConfigTypeBoolean, "true", syn("log.message.downconversion.enable"), nil},
	{"message.format.version", kmsg.ConfigTypeString, "3.0-IV1", syn("log.message.format.version"), nil},
	{"message.timestamp.after.max.ms", kmsg.ConfigTypeLong, maxLong, syn("log.message.timestamp.after.max.ms"), longAtLeast(0)},
	{"message.timestamp.before.max.ms", kmsg.ConfigTypeLong, maxLong, syn("log.message.timestamp.before.max.ms"), longAtLeast(0)},
	{"message.timestamp.difference.max.ms", kmsg.ConfigTypeLong, maxLong, syn("log.message.timestamp.difference.max.ms"), longAtLeast(0)},
	{"message.timestamp.type", kmsg.ConfigTypeString, "CreateTime", syn("log.message.timestamp.type"), stringIn("CreateTime", "LogAppendTime")},
	{"min.cleanable.dirty.ratio", kmsg.ConfigTypeDouble, "0.5", syn("log.cleaner.min.cleanable.ratio"), ratio},
	{"min.compaction.lag.ms", kmsg.ConfigTypeLong, "0", syn("log.cleaner.min.compaction.lag.ms"), longAtLeast(0)},
	{"min.insync.replicas", kmsg.ConfigTypeInt, "1", syn("min.insync.replicas"), intRange(1, math.MaxInt32)},
	{"preallocate", kmsg.ConfigTypeBoolean, "false", syn("log.preallocate"), nil},
	{"remote.log.copy.disable", kmsg.ConfigTypeBoolean, "false", nil, nil},
	{"remote.log.delete.on.disable", kmsg.ConfigTypeBoolean, "false", nil, nil},
	{"remote.storage.enable", kmsg.ConfigTypeBoolean, "false", nil, nil},
	{"retention.bytes", kmsg.ConfigTypeLong, "-1", syn("log.retention.bytes"), nil},
	{"retention.ms", kmsg.ConfigTypeLong, "604800000", []brokerSynonym{{"log.retention.ms", 0}, {"log.retention.minutes", 60000}, {"log.retention.hours", hourMs}}, longAtLeast(-1)},
	// Kafka 3.9 requires at least LegacyRecord.RECORD_OVERHEAD_V0 (14)
	// bytes; 4.0 raised it to 1 MiB. Tests rely on tiny segments.
	{"segment.bytes", kmsg.ConfigTypeInt, "1073741824", syn("log.segment.bytes"), intRange(14, math.MaxInt32)},
	{"segment.index.bytes", kmsg.ConfigTypeInt, "10485760", syn("log.index.size.max.bytes"), intRange(4, math.MaxInt32)},
	{"segment.jitter.ms", kmsg.ConfigTypeLong, "0", []brokerSynonym{{"log.roll.jitter.ms", 0}, {"log.roll.jitter.hours", hourMs}}, longAtLeast(0)},
	{"segment.ms", kmsg.ConfigTypeLong, "604800000", []brokerSynonym{{"log.roll.ms", 0}, {"log.roll.hours", hourMs}}, longAtLeast(1)},
	{"unclean.leader.election.enable", kmsg.ConfigTypeBoolean, "false", syn("unclean.leader.election.enable"), nil},
}

// topicKeyByName indexes topicKeys.
var topicKeyByName = func() map[string]*topicKey {
	m := make(map[string]*topicKey, len(topicKeys))
	for i := range topicKeys {
		m[topicKeys[i].name] = &topicKeys[i]
	}
	return m
}()

// topicSynonymKeys maps each broker key that is a topic key's synonym to
// the topic key.
var topicSynonymKeys = func() map[string]*topicKey {
	m := make(map[string]*topicKey)
	for i := range topicKeys {
		for _, s := range topicKeys[i].synonyms {
			m[s.name] = &topicKeys[i]
		}
	}
	return m
}()

func syn(names ...string) []brokerSynonym {
	out := make([]brokerSynonym, len(names))
	for i, n := range names {
		out[i] = brokerSynonym{name: n}
	}
	return out
}

// check validates v against the key's type and validator, with Kafka's
// message wording ("Invalid value x for configuration y: ...").
func (k *topicKey) check(v string) error {
	if err := checkType(k.typ, v); err != nil {
		return invalidValue(k.name, v, err)
	}
	if k.validate != nil {
		if err := k.validate(strings.TrimSpace(v)); err != nil {
			return invalidValue(k.name, v, err)
		}
	}
	return nil
}

// reason is why v fails the key's type or validator, without the
// "Invalid value" prefix, for callers that name another key (the broker
// key that supplied the value).
func (k *topicKey) reason(v string) error {
	if err := checkType(k.typ, v); err != nil {
		return err
	}
	if k.validate != nil {
		return k.validate(strings.TrimSpace(v))
	}
	return nil
}

func checkType(t kmsg.ConfigType, v string) error {
	v = strings.TrimSpace(v)
	switch t {
	case kmsg.ConfigTypeBoolean:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return fmt.Errorf("Expected value to be either true or false")
		}
	case kmsg.ConfigTypeInt:
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return fmt.Errorf("Not a number of type INT")
		}
	case kmsg.ConfigTypeLong:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("Not a number of type LONG")
		}
	case kmsg.ConfigTypeDouble:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			return fmt.Errorf("Not a number of type DOUBLE")
		}
	}
	return nil
}

func intRange(lo, hi int64) func(string) error {
	return func(v string) error {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n < lo || n > hi {
			if hi == math.MaxInt32 {
				return fmt.Errorf("Value must be at least %d", lo)
			}
			return fmt.Errorf("Value must be in the range [%d, %d]", lo, hi)
		}
		return nil
	}
}

func longAtLeast(lo int64) func(string) error {
	return func(v string) error {
		n, _ := strconv.ParseInt(v, 10, 64)
		if n < lo {
			return fmt.Errorf("Value must be at least %d", lo)
		}
		return nil
	}
}

func gzipLevel(v string) error {
	n, _ := strconv.ParseInt(v, 10, 64)
	if n == -1 || (n >= 1 && n <= 9) {
		return nil
	}
	return fmt.Errorf("Value must be -1 or in the range [1, 9]")
}

func ratio(v string) error {
	f, _ := strconv.ParseFloat(v, 64)
	if f < 0 || f > 1 {
		return fmt.Errorf("Value must be in the range [0, 1]")
	}
	return nil
}

func stringIn(allowed ...string) func(string) error {
	return func(v string) error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("String must be one of: %s", strings.Join(allowed, ", "))
	}
}

func listIn(allowed ...string) func(string) error {
	return func(v string) error {
		for _, item := range strings.Split(v, ",") {
			item = strings.ToLower(strings.TrimSpace(item))
			ok := false
			for _, a := range allowed {
				ok = ok || item == a
			}
			if !ok {
				return listItemError{item: item, msg: "String must be one of: " + strings.Join(allowed, ", ")}
			}
		}
		return nil
	}
}

// listItemError is a LIST value refused for one of its items: Kafka's
// ValidList names the item, not the whole value, in its ConfigException
// ("Invalid value x for configuration cleanup.policy: String must be one
// of: compact, delete").
type listItemError struct {
	item, msg string
}

func (e listItemError) Error() string { return e.msg }

// throttledReplicas accepts "", "*" or "partition:broker,..." lists.
func throttledReplicas(v string) error {
	if v == "" || v == "*" {
		return nil
	}
	for _, item := range strings.Split(v, ",") {
		p, b, ok := strings.Cut(strings.TrimSpace(item), ":")
		if !ok {
			return fmt.Errorf("must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...")
		}
		if _, err := strconv.ParseInt(p, 10, 32); err != nil {
			return fmt.Errorf("must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...")
		}
		if _, err := strconv.ParseInt(b, 10, 32); err != nil {
			return fmt.Errorf("must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...")
		}
	}
	return nil
}

// brokerDefault returns the value a topic key takes when a topic has no
// override, and which broker key supplied it ("" when it is Kafka's
// default). Units are converted (log.retention.hours=1 -> 3600000) and a
// negative log.retention.* means unlimited (-1), as in Kafka.
func (k *topicKey) brokerDefault(raw map[string]string) (value, synonym string) {
	for _, s := range k.synonyms {
		v, ok := raw[s.name]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if s.scale != 0 {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return v, s.name
			}
			v = strconv.FormatInt(n*s.scale, 10)
		}
		if k.name == "retention.ms" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n < 0 {
				v = "-1"
			}
		}
		return v, s.name
	}
	return k.def, ""
}

// validateTopicConfigs checks topic-level overrides as CreateTopics does:
// unknown names and bad values are errors, with Kafka's messages.
func validateTopicConfigs(overrides map[string]string) error {
	for name, v := range overrides {
		k, ok := topicKeyByName[name]
		if !ok {
			return fmt.Errorf("Unknown topic config name: %s", name)
		}
		if err := k.check(v); err != nil {
			return err
		}
	}
	min, err := strconv.ParseInt(effectiveOr(overrides, "min.compaction.lag.ms", "0"), 10, 64)
	if err == nil {
		max, err := strconv.ParseInt(effectiveOr(overrides, "max.compaction.lag.ms", maxLong), 10, 64)
		if err == nil && min > max {
			return fmt.Errorf("conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", min, max)
		}
	}
	return nil
}

func effectiveOr(m map[string]string, k, def string) string {
	if v, ok := m[k]; ok {
		return strings.TrimSpace(v)
	}
	return def
}

// TopicConfig resolves a topic's effective configuration: the broker
// defaults held in c (c.Log, c.MessageMaxBytes, ...) with the topic's
// /config/topics overrides applied. Unknown keys or bad values are errors
// (INVALID_CONFIG at CreateTopics).
func (c *Config) TopicConfig(overrides map[string]string) (TopicConfig, error) {
	if err := validateTopicConfigs(overrides); err != nil {
		return TopicConfig{}, err
	}
	tc := TopicConfig{
		Log:               c.Log,
		MaxMessageBytes:   c.MessageMaxBytes,
		LogAppendTime:     c.LogMessageTimestampType == "LogAppendTime",
		MinInsyncReplicas: c.MinInsyncReplicas,
		CleanupPolicy:     c.LogCleanupPolicy,
		Overrides:         make(map[string]string, len(overrides)),

		DownConversionDisabled: c.LogMessageDownConversionDisabled,
	}
	for k, v := range overrides {
		tc.Overrides[k] = v
		v = strings.TrimSpace(v)
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "segment.bytes":
			tc.Log.SegmentBytes = n
		case "segment.ms":
			tc.Log.SegmentMs = n
		case "retention.ms":
			tc.Log.RetentionMs = n
		case "retention.bytes":
			tc.Log.RetentionBytes = n
		case "index.interval.bytes":
			tc.Log.IndexIntervalBytes = int32(n)
		case "segment.index.bytes":
			tc.Log.SegmentIndexBytes = int32(n)
		case "flush.messages":
			tc.Log.FlushMessages = n
		case "flush.ms":
			tc.Log.FlushMs = n
		case "max.message.bytes":
			tc.MaxMessageBytes = int32(n)
		case "message.timestamp.type":
			tc.LogAppendTime = v == "LogAppendTime"
		case "min.insync.replicas":
			tc.MinInsyncReplicas = int32(n)
		case "message.downconversion.enable":
			tc.DownConversionDisabled = strings.EqualFold(v, "false")
		case "cleanup.policy":
			tc.CleanupPolicy = v
		case "delete.retention.ms":
			tc.Log.DeleteRetentionMs = n
		case "min.compaction.lag.ms":
			tc.Log.MinCompactionLagMs = n
		case "max.compaction.lag.ms":
			tc.Log.MaxCompactionLagMs = n
		case "leader.replication.throttled.replicas":
			tc.LeaderThrottled = parseThrottledPartitions(v, c.BrokerID)
		case "follower.replication.throttled.replicas":
			tc.FollowerThrottled = parseThrottledPartitions(v, c.BrokerID)
		case "min.cleanable.dirty.ratio":
			if r, err := strconv.ParseFloat(v, 64); err == nil {
				tc.Log.MinCleanableDirtyRatio = r
			}
		}
	}
	tc.Log.Compact = tc.compactPolicy()
	tc.Log.KeepForever = !tc.deletePolicy()
	return tc, nil
}

// compactPolicy reports whether cleanup.policy includes compact (Kafka's
// LogConfig.compact): the log cleaner compacts the log and produce rejects
// records without a key.
func (tc TopicConfig) compactPolicy() bool {
	for _, p := range strings.Split(tc.CleanupPolicy, ",") {
		if strings.EqualFold(strings.TrimSpace(p), "compact") {
			return true
		}
	}
	return false
}

// deletePolicy reports whether cleanup.policy includes delete (Kafka's
// LogConfig.delete), which DeleteRecords requires.
func (tc TopicConfig) deletePolicy() bool {
	if tc.CleanupPolicy == "" {
		return true
	}
	for _, p := range strings.Split(tc.CleanupPolicy, ",") {
		if strings.EqualFold(strings.TrimSpace(p), "delete") {
			return true
		}
	}
	return false
}
