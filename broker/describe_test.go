package broker

import (
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestKafkaTopicsDescribeSequence replays kafka-topics.sh 3.9 --describe
// against a ZooKeeper-mode broker (protocol.md 2.3): Metadata(all),
// DescribeCluster v1, Metadata by name without auto-creation,
// DescribeConfigs v4, ListPartitionReassignments v0.
func TestKafkaTopicsDescribeSequence(t *testing.T) {
	s, addr := startTestServer(t, "log.retention.hours=24")
	adm, cl := newAdmin(t, addr)
	ctx := adminCtx(t)
	if _, err := adm.CreateTopic(ctx, 2, 1, map[string]*string{"cleanup.policy": kmsg.StringPtr("compact")}, "d"); err != nil {
		t.Fatal(err)
	}

	all := kmsg.NewPtrMetadataRequest()
	if resp, err := all.RequestWith(ctx, cl); err != nil || len(resp.Topics) != 1 {
		t.Fatalf("metadata(all): %v", err)
	}

	dc := kmsg.NewPtrDescribeClusterRequest()
	dc.EndpointType = 1
	dcr, err := dc.RequestWith(ctx, cl)
	if err != nil || dcr.ErrorCode != 0 || dcr.ClusterID != s.clusterID || dcr.ControllerID != 0 || len(dcr.Brokers) != 1 || dcr.EndpointType != 1 {
		t.Fatalf("describe cluster: %v %+v", err, dcr)
	}
	dc.EndpointType = 2
	if dcr, _ := dc.RequestWith(ctx, cl); dcr.ErrorCode != kerr.UnsupportedEndpointType.Code {
		t.Errorf("controllers endpoint: %d", dcr.ErrorCode)
	}

	if tp := metadataFor(t, cl, 12, false, "d").Topics[0]; tp.ErrorCode != 0 || len(tp.Partitions) != 2 {
		t.Fatalf("metadata(d): %+v", tp)
	}

	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	for _, r := range []struct {
		typ  kmsg.ConfigResourceType
		name string
	}{{kmsg.ConfigResourceTypeTopic, "d"}, {kmsg.ConfigResourceTypeTopic, "missing"}, {kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(s.cfg.BrokerID))}} {
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = r.typ, r.name
		req.Resources = append(req.Resources, rr)
	}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	byName := func(cs []kmsg.DescribeConfigsResponseResourceConfig) map[string]kmsg.DescribeConfigsResponseResourceConfig {
		m := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, c := range cs {
			m[c.Name] = c
		}
		return m
	}
	// kgo splits the request (broker resources go to that broker) and
	// merges the answers in no fixed order, so find resources by name.
	resource := func(typ kmsg.ConfigResourceType, name string) kmsg.DescribeConfigsResponseResource {
		for _, r := range resp.Resources {
			if r.ResourceType == typ && r.ResourceName == name {
				return r
			}
		}
		t.Fatalf("no resource %v %q in the answer", typ, name)
		return kmsg.DescribeConfigsResponseResource{}
	}
	topic := byName(resource(kmsg.ConfigResourceTypeTopic, "d").Configs)
	checks := []struct {
		key, value string
		source     kmsg.ConfigSource
		typ        kmsg.ConfigType
	}{
		{"cleanup.policy", "compact", kmsg.ConfigSourceDynamicTopicConfig, kmsg.ConfigTypeList},
		// Kafka's quirk: log.retention.ms is unset, so retention.ms
		// lists no synonym and reads as DEFAULT_CONFIG although
		// log.retention.hours=24 supplies its value.
		{"retention.ms", "86400000", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeLong},
		{"segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeInt},
		{"message.format.version", "3.0-IV1", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeString},
		{"local.retention.ms", "-2", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeLong},
		{"message.downconversion.enable", "true", kmsg.ConfigSourceDefaultConfig, kmsg.ConfigTypeBoolean},
	}
	for _, c := range checks {
		got, ok := topic[c.key]
		if !ok || got.Value == nil || *got.Value != c.value || got.Source != c.source || got.ConfigType != c.typ || got.ReadOnly || got.IsSensitive {
			t.Errorf("%s: %+v, want %s from %v (%v)", c.key, got, c.value, c.source, c.typ)
		}
	}
	if syn := topic["retention.ms"].ConfigSynonyms; len(syn) != 0 {
		t.Errorf("retention.ms synonyms: %+v, want none", syn)
	}
	if syn := topic["segment.bytes"].ConfigSynonyms; len(syn) != 1 || syn[0].Name != "log.segment.bytes" || *syn[0].Value != "1073741824" || syn[0].Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("segment.bytes synonyms: %+v", syn)
	}
	if code := resource(kmsg.ConfigResourceTypeTopic, "missing").ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("missing topic: %d", code)
	}
	broker := byName(resource(kmsg.ConfigResourceTypeBroker, strconv.Itoa(int(s.cfg.BrokerID))).Configs)
	if c := broker["log.retention.hours"]; c.Value == nil || *c.Value != "24" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("broker log.retention.hours: %+v", c)
	}
	if c := broker["num.partitions"]; c.Value == nil || *c.Value != "1" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("broker num.partitions: %+v", c)
	}
	// Another broker's id sent to this broker (kgo would route it to
	// broker 7, so the request goes to broker 0 directly).
	other := kmsg.NewPtrDescribeConfigsRequest()
	or := kmsg.NewDescribeConfigsRequestResource()
	or.ResourceType, or.ResourceName = kmsg.ConfigResourceTypeBroker, "7"
	other.Resources = append(other.Resources, or)
	if oresp, err := other.RequestWith(ctx, cl.Broker(0)); err != nil || oresp.Resources[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("other broker id: %v %+v", err, oresp)
	}

	// A configuration_keys filter.
	req = kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, "d", []string{"segment.ms"}
	req.Resources = append(req.Resources, rr)
	if resp, err := req.RequestWith(ctx, cl); err != nil || len(resp.Resources[0].Configs) != 1 {
		t.Errorf("filtered: %v %+v", err, resp)
	}

	lr := kmsg.NewPtrListPartitionReassignmentsRequest()
	lt := kmsg.NewListPartitionReassignmentsRequestTopic()
	lt.Topic, lt.Partitions = "d", []int32{0, 1}
	lr.Topics = append(lr.Topics, lt)
	if lresp, err := lr.RequestWith(ctx, cl); err != nil || lresp.ErrorCode != 0 || len(lresp.Topics) != 0 {
		t.Errorf("list reassignments: %v %+v", err, lresp)
	}
}
