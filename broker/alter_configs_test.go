package broker

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// incrementalAlter sends one IncrementalAlterConfigs resource to broker 0
// directly (kgo would route a broker resource to that broker; these tests
// also send other brokers' ids on purpose) and returns its result.
func incrementalAlter(t *testing.T, cl *kgo.Broker, typ kmsg.ConfigResourceType, name string, validateOnly bool, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) kmsg.IncrementalAlterConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.ValidateOnly = validateOnly
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.Configs = typ, name, ops
	req.Resources = append(req.Resources, rr)
	raw, err := cl.Request(adminCtx(t), req)
	if err != nil {
		t.Fatalf("incremental alter configs: %v", err)
	}
	resp := raw.(*kmsg.IncrementalAlterConfigsResponse)
	if len(resp.Resources) != 1 {
		t.Fatalf("incremental alter configs: %d resources", len(resp.Resources))
	}
	return resp.Resources[0]
}

func op(name string, o kmsg.IncrementalAlterConfigOp, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = name, o, value
	return c
}

func set(name, value string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	return op(name, kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(value))
}

// TestAlterConfigsErrors checks each refusal against Kafka 3.9's code and
// message (ZkAdminManager), and that a refused or validate_only request
// writes nothing.
func TestAlterConfigsErrors(t *testing.T) {
	s, addr := startTestServer(t)
	adm, cl := newAdmin(t, addr)
	ctx := adminCtx(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	b0 := cl.Broker(0)
	topic, broker := kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBroker
	tests := []struct {
		name     string
		typ      kmsg.ConfigResourceType
		resource string
		ops      []kmsg.IncrementalAlterConfigsRequestResourceConfig
		code     *kerr.Error
		msg      string
	}{
		{"unknown topic key", topic, "t", ops(set("retention.msx", "1")), kerr.InvalidConfig, "Unknown topic config name: retention.msx"},
		{"bad topic value", topic, "t", ops(set("retention.ms", "abc")), kerr.InvalidRequest,
			"Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value abc for configuration retention.ms: Not a number of type LONG"},
		{"topic value out of range", topic, "t", ops(set("min.insync.replicas", "0")), kerr.InvalidRequest,
			"Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value 0 for configuration min.insync.replicas: Value must be at least 1"},
		{"bad list item", topic, "t", ops(set("cleanup.policy", "delete,compactx")), kerr.InvalidRequest,
			"Invalid config value for resource ConfigResource(type=TOPIC, name='t'): Invalid value compactx for configuration cleanup.policy: String must be one of: compact, delete"},
		{"unknown topic", topic, "nope", ops(set("retention.ms", "1")), kerr.UnknownTopicOrPartition, "The topic 'nope' does not exist."},
		{"duplicate keys", topic, "t", ops(set("retention.ms", "1"), set("retention.ms", "2")), kerr.InvalidRequest, "Error due to duplicate config keys : retention.ms"},
		{"null value", topic, "t", ops(op("retention.ms", kmsg.IncrementalAlterConfigOpSet, nil)), kerr.InvalidRequest, "Null value not supported for : SET:retention.ms"},
		{"append to a non-list", topic, "t", ops(op("retention.ms", kmsg.IncrementalAlterConfigOpAppend, kmsg.StringPtr("1"))), kerr.InvalidRequest,
			"Config value append is not allowed for config key: retention.ms"},
		{"read-only broker key", broker, "0", ops(set("broker.id", "3"), set("log.dirs", "/x")), kerr.InvalidRequest,
			"Invalid config value for resource ConfigResource(type=BROKER, name='0'): Cannot update these configs dynamically: Set(broker.id, log.dirs)"},
		{"static synonym is read-only", broker, "", ops(set("log.retention.hours", "1")), kerr.InvalidRequest,
			"Invalid config value for resource ConfigResource(type=BROKER, name=''): Cannot update these configs dynamically: Set(log.retention.hours)"},
		{"bad broker value", broker, "0", ops(set("log.segment.bytes", "ten")), kerr.InvalidRequest,
			"Invalid config value for resource ConfigResource(type=BROKER, name='0'): Invalid value ten for configuration log.segment.bytes: Not a number of type INT"},
		{"another broker's id", broker, "7", ops(set("log.retention.ms", "1")), kerr.InvalidRequest, "Unexpected broker id, expected 0, but received 7"},
		{"broker id not a number", broker, "x", ops(set("log.retention.ms", "1")), kerr.InvalidRequest, "Broker id must be an integer, but it is: x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, validateOnly := range []bool{true, false} {
				res := incrementalAlter(t, b0, tc.typ, tc.resource, validateOnly, tc.ops...)
				if res.ErrorCode != tc.code.Code || res.ErrorMessage == nil || *res.ErrorMessage != tc.msg {
					t.Errorf("validate_only=%v: %s %v, want %s %q", validateOnly, kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage), tc.code, tc.msg)
				}
			}
		})
	}

	// The same checks hold for AlterConfigs, which has no operations.
	req := kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = topic, "t"
	c := kmsg.NewAlterConfigsRequestResourceConfig()
	c.Name, c.Value = "segment.bytes", kmsg.StringPtr("13")
	rr.Configs = append(rr.Configs, c)
	req.Resources = append(req.Resources, rr)
	raw, err := b0.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res := raw.(*kmsg.AlterConfigsResponse).Resources[0]; res.ErrorCode != kerr.InvalidRequest.Code ||
		!strings.HasSuffix(deref(res.ErrorMessage), "Invalid value 13 for configuration segment.bytes: Value must be at least 14") {
		t.Errorf("alter configs: %s %s", kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage))
	}

	// validate_only of a good change writes nothing.
	if res := incrementalAlter(t, b0, topic, "t", true, set("retention.ms", "1000")); res.ErrorCode != 0 {
		t.Fatalf("validate only: %s", deref(res.ErrorMessage))
	}
	if cfg, err := s.zk.EntityConfig(ctx, zkmeta.ConfigTypeTopics, "t"); err != nil || len(cfg) != 0 {
		t.Errorf("after refusals and validate_only: %v %v", cfg, err)
	}
	if cfg, err := s.zk.EntityConfig(ctx, zkmeta.ConfigTypeBrokers, "0"); err != nil || len(cfg) != 0 {
		t.Errorf("broker config after refusals: %v %v", cfg, err)
	}
}

func ops(o ...kmsg.IncrementalAlterConfigsRequestResourceConfig) []kmsg.IncrementalAlterConfigsRequestResourceConfig {
	return o
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// describeOne returns one config of a resource, with synonyms; kgo sends
// a broker resource to that broker.
func describeOne(t *testing.T, cl *kgo.Client, typ kmsg.ConfigResourceType, resource, key string) (kmsg.DescribeConfigsResponseResourceConfig, bool) {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, resource
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(adminCtx(t), cl)
	if err != nil || len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe %v %q: %v %+v", typ, resource, err, resp)
	}
	for _, c := range resp.Resources[0].Configs {
		if c.Name == key {
			return c, true
		}
	}
	return kmsg.DescribeConfigsResponseResourceConfig{}, false
}

// notifications lists /config/changes.
func notifications(t *testing.T, s *Server) []zkmeta.ConfigChange {
	t.Helper()
	changes, _, err := s.zk.ConfigChanges(adminCtx(t), -1)
	if err != nil {
		t.Fatal(err)
	}
	return changes
}

// TestIncrementalAlterTopicConfig sets, appends to and deletes topic
// keys, checking the znodes Kafka's tools read, the notification, what
// DescribeConfigs reports and what the hosted partition now uses.
func TestIncrementalAlterTopicConfig(t *testing.T) {
	s, addr := startTestServer(t, "log.retention.hours=24")
	adm, cl := newAdmin(t, addr)
	ctx := adminCtx(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, map[string]*string{"flush.messages": kadm.StringPtr("10")}, "t"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "partition hosted", func() bool { _, ok := s.replicas.get(topicPartition{"t", 0}); return ok })
	before := notifications(t, s)

	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("5000")},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: kadm.StringPtr("compact")},
		{Op: kadm.DeleteConfig, Name: "flush.messages"},
	}, "t")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, rs)
	}
	cfg, err := s.zk.EntityConfig(ctx, zkmeta.ConfigTypeTopics, "t")
	if err != nil || len(cfg) != 2 || cfg["retention.ms"] != "5000" || cfg["cleanup.policy"] != "delete,compact" {
		t.Errorf("/config/topics/t: %v %v", cfg, err)
	}
	after := notifications(t, s)
	if len(after) != len(before)+1 || after[len(after)-1].EntityType != "topics" || after[len(after)-1].EntityName != "t" {
		t.Errorf("notifications: before %+v after %+v", before, after)
	}
	p, _ := s.replicas.get(topicPartition{"t", 0})
	if got := p.config(); got.Log.RetentionMs != 5000 || got.Log.FlushMessages == 10 {
		t.Errorf("partition config: retention %d flush.messages %d", got.Log.RetentionMs, got.Log.FlushMessages)
	}

	tests := []struct {
		key, value string
		source     kmsg.ConfigSource
		synonyms   []string // source:name=value
	}{
		// Kafka drops the broker synonyms before log.retention.ms,
		// which is unset.
		{"retention.ms", "5000", kmsg.ConfigSourceDynamicTopicConfig, []string{"DYNAMIC_TOPIC_CONFIG:retention.ms=5000"}},
		{"segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig, []string{"DEFAULT_CONFIG:log.segment.bytes=1073741824"}},
		{"cleanup.policy", "delete,compact", kmsg.ConfigSourceDynamicTopicConfig, nil},
		{"flush.messages", maxLong, kmsg.ConfigSourceDefaultConfig, nil},
	}
	for _, tc := range tests {
		c, ok := describeOne(t, cl, kmsg.ConfigResourceTypeTopic, "t", tc.key)
		if !ok || deref(c.Value) != tc.value || c.Source != tc.source {
			t.Errorf("%s: %s from %v, want %s from %v", tc.key, deref(c.Value), c.Source, tc.value, tc.source)
		}
		if tc.synonyms != nil {
			var got []string
			for _, s := range c.ConfigSynonyms {
				got = append(got, s.Source.String()+":"+s.Name+"="+deref(s.Value))
			}
			if strings.Join(got, ",") != strings.Join(tc.synonyms, ",") {
				t.Errorf("%s synonyms: %v, want %v", tc.key, got, tc.synonyms)
			}
		}
	}

	// SUBTRACT, then AlterConfigs, which replaces the whole set.
	if rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SubtractConfig, Name: "cleanup.policy", Value: kadm.StringPtr("delete")}}, "t"); err != nil || rs[0].Err != nil {
		t.Fatalf("subtract: %v %+v", err, rs)
	}
	if cfg, _ := s.zk.EntityConfig(ctx, zkmeta.ConfigTypeTopics, "t"); cfg["cleanup.policy"] != "compact" {
		t.Errorf("after subtract: %v", cfg)
	}
	if rs, err := adm.AlterTopicConfigsState(ctx, []kadm.AlterConfig{{Name: "segment.ms", Value: kadm.StringPtr("60000")}}, "t"); err != nil || rs[0].Err != nil {
		t.Fatalf("alter (non-incremental): %v %+v", err, rs)
	}
	if cfg, _ := s.zk.EntityConfig(ctx, zkmeta.ConfigTypeTopics, "t"); len(cfg) != 1 || cfg["segment.ms"] != "60000" {
		t.Errorf("after AlterConfigs: %v", cfg)
	}
	if got := p.config(); got.Log.RetentionMs != 86400000 || got.Log.SegmentMs != 60000 {
		t.Errorf("partition config after AlterConfigs: retention %d segment.ms %d", got.Log.RetentionMs, got.Log.SegmentMs)
	}
}

// TestDynamicBrokerConfig sets a topic default at the cluster default and
// then on the broker itself, checking the sources and synonyms
// DescribeConfigs reports for the broker, the default resource and a topic,
// and the value the partitions take.
func TestDynamicBrokerConfig(t *testing.T) {
	s, addr := startTestServer(t, "log.retention.hours=24", "message.max.bytes=2000")
	adm, cl := newAdmin(t, addr)
	ctx := adminCtx(t)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "t"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "partition hosted", func() bool { _, ok := s.replicas.get(topicPartition{"t", 0}); return ok })

	alter := func(id string, acs ...kadm.AlterConfig) {
		t.Helper()
		var rs kadm.AlterConfigsResponses
		var err error
		if id == "" {
			rs, err = adm.AlterBrokerConfigs(ctx, acs)
		} else {
			n, _ := strconv.Atoi(id)
			rs, err = adm.AlterBrokerConfigs(ctx, acs, int32(n))
		}
		if err != nil || rs[0].Err != nil {
			t.Fatalf("alter broker %q: %v %+v", id, err, rs)
		}
	}
	alter("", kadm.AlterConfig{Name: "log.retention.ms", Value: kadm.StringPtr("7000")}, kadm.AlterConfig{Name: "leader.replication.throttled.rate", Value: kadm.StringPtr("100")})
	if cfg, _ := s.zk.EntityConfig(ctx, zkmeta.ConfigTypeBrokers, zkmeta.DefaultEntity); cfg["log.retention.ms"] != "7000" {
		t.Errorf("/config/brokers/<default>: %v", cfg)
	}
	p, _ := s.replicas.get(topicPartition{"t", 0})
	if got := p.config().Log.RetentionMs; got != 7000 {
		t.Errorf("retention after the cluster default: %d", got)
	}
	alter("0", kadm.AlterConfig{Name: "message.max.bytes", Value: kadm.StringPtr("3000")})
	if got := p.config().MaxMessageBytes; got != 3000 {
		t.Errorf("max.message.bytes after the broker's: %d", got)
	}

	tests := []struct {
		typ           kmsg.ConfigResourceType
		resource, key string
		value         string
		source        kmsg.ConfigSource
		readOnly      bool
	}{
		{kmsg.ConfigResourceTypeTopic, "t", "retention.ms", "7000", kmsg.ConfigSourceDynamicDefaultBrokerConfig, false},
		{kmsg.ConfigResourceTypeTopic, "t", "max.message.bytes", "3000", kmsg.ConfigSourceDynamicBrokerConfig, false},
		{kmsg.ConfigResourceTypeBroker, "0", "log.retention.ms", "7000", kmsg.ConfigSourceDynamicDefaultBrokerConfig, false},
		{kmsg.ConfigResourceTypeBroker, "0", "log.retention.hours", "24", kmsg.ConfigSourceStaticBrokerConfig, true},
		{kmsg.ConfigResourceTypeBroker, "0", "message.max.bytes", "3000", kmsg.ConfigSourceDynamicBrokerConfig, false},
		{kmsg.ConfigResourceTypeBroker, "0", "leader.replication.throttled.rate", "100", kmsg.ConfigSourceDynamicDefaultBrokerConfig, false},
		{kmsg.ConfigResourceTypeBroker, "0", "broker.id", "0", kmsg.ConfigSourceStaticBrokerConfig, true},
		{kmsg.ConfigResourceTypeBroker, "", "log.retention.ms", "7000", kmsg.ConfigSourceDynamicDefaultBrokerConfig, false},
	}
	for _, tc := range tests {
		c, ok := describeOne(t, cl, tc.typ, tc.resource, tc.key)
		if !ok || deref(c.Value) != tc.value || c.Source != tc.source || c.ReadOnly != tc.readOnly {
			t.Errorf("%v %q %s: %s from %v read-only %v, want %s from %v read-only %v", tc.typ, tc.resource, tc.key,
				deref(c.Value), c.Source, c.ReadOnly, tc.value, tc.source, tc.readOnly)
		}
	}
	if _, ok := describeOne(t, cl, kmsg.ConfigResourceTypeBroker, "", "message.max.bytes"); ok {
		t.Error("the default resource lists a key set only on broker 0")
	}

	// Removing the broker's value brings the cluster default's (none:
	// the static one) back.
	if rs, err := adm.AlterBrokerConfigsState(ctx, nil, 0); err != nil || rs[0].Err != nil {
		t.Fatalf("clear broker 0: %v %+v", err, rs)
	}
	if got := p.config().MaxMessageBytes; got != 2000 {
		t.Errorf("max.message.bytes after deleting the broker's: %d", got)
	}
}

// TestAlterConfigsReachEveryBroker alters a topic key through broker 1
// and the cluster default through broker 2 of a three-broker cluster, and
// waits until every broker's replica of the topic uses both: the
// /config/changes notification, not a restart, carries them. A broker
// restarted afterwards reads them at start.
func TestAlterConfigsReachEveryBroker(t *testing.T) {
	c := startTestCluster(t, 3)
	ctx := adminCtx(t)
	seed := func(i int) *kadm.Client { adm, _ := newAdmin(t, c.addrs[i-1]); return adm }
	if res, err := seed(1).CreateTopics(ctx, 1, 3, nil, "dyn"); err != nil || res["dyn"].Err != nil {
		t.Fatalf("create topic: %v %+v", err, res)
	}
	hosted := func(s *Server) *Partition { p, _ := s.replicas.get(topicPartition{"dyn", 0}); return p }
	waitFor(t, 30*time.Second, "three replicas", func() bool {
		for _, s := range c.servers {
			if hosted(s) == nil {
				return false
			}
		}
		return true
	})
	if rs, err := seed(1).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("4321")}}, "dyn"); err != nil || rs[0].Err != nil {
		t.Fatalf("alter topic: %v %+v", err, rs)
	}
	if rs, err := seed(2).AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: kadm.StringPtr("1234")}}); err != nil || rs[0].Err != nil {
		t.Fatalf("alter cluster default: %v %+v", err, rs)
	}
	for i, s := range c.servers {
		waitFor(t, 10*time.Second, "broker "+strconv.Itoa(i+1)+" applies both", func() bool {
			cfg := hosted(s).config()
			return cfg.MaxMessageBytes == 4321 && cfg.Log.RetentionMs == 1234
		})
	}
	// A describe through broker 3 reports both with their sources.
	_, cl3 := newAdmin(t, c.addrs[2])
	if got, _ := describeOne(t, cl3, kmsg.ConfigResourceTypeTopic, "dyn", "retention.ms"); deref(got.Value) != "1234" || got.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("retention.ms via broker 3: %s from %v", deref(got.Value), got.Source)
	}
	// A restarted broker reads both at start.
	c.stop(3)
	c.start(3)
	waitFor(t, 30*time.Second, "broker 3 hosts the partition again", func() bool { return hosted(c.servers[2]) != nil })
	if cfg := hosted(c.servers[2]).config(); cfg.MaxMessageBytes != 4321 || cfg.Log.RetentionMs != 1234 {
		t.Errorf("after a restart: max.message.bytes %d retention.ms %d", cfg.MaxMessageBytes, cfg.Log.RetentionMs)
	}
}

// TestConfigChangesPurged: a broker deletes the notifications it applied
// once they are older than the expiry (15 minutes in Kafka; none here).
func TestConfigChangesPurged(t *testing.T) {
	srv, addr := startTestServer(t)
	srv.dyn.expiry.Store(0)
	adm, _ := newAdmin(t, addr)
	if rs, err := adm.AlterBrokerConfigs(adminCtx(t), []kadm.AlterConfig{{Name: "log.retention.ms", Value: kadm.StringPtr("1000")}}); err != nil || rs[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, rs)
	}
	waitFor(t, 10*time.Second, "the notification purged", func() bool { return len(notifications(t, srv)) == 0 })
	if got := srv.effectiveConfig().Log.RetentionMs; got != 1000 {
		t.Errorf("retention after the change: %d", got)
	}
}
