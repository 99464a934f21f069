package compattests

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// TestDynamicConfigsAcrossBrokers alters a topic's max.message.bytes
// through broker 1 of three real brokers and checks, without restarting
// anything, that the partition's leader (whichever broker) refuses a
// record over the new limit, that the znodes read as Kafka's
// (/config/topics/<t>, /config/changes/config_change_*), and that
// DescribeConfigs through another broker reports the sources: the topic
// override, and a cluster default set through broker 2.
func TestDynamicConfigsAcrossBrokers(t *testing.T) {
	c := testcluster.New(t)
	bs := c.StartBrokers(t, 3, nil)
	z := c.ZKClient(t)
	ctx := testCtx(t)
	adm1 := newClient(t, bs[0])
	createReplicated(ctx, t, adm1, z, "dyn", 1, nil)

	producer := newClient(t, bs[2], kgo.DefaultProduceTopic("dyn"), kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordRetries(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	big := strings.Repeat("x", 3000)
	produceSync(t, producer, &kgo.Record{Value: []byte(big)})

	rs, err := kadm.NewClient(adm1).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr("2000")}}, "dyn")
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter topic config: %v %+v", err, rs)
	}
	rs, err = kadm.NewClient(newClient(t, bs[1])).AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: kadm.StringPtr("86400000")}})
	if err != nil || rs[0].Err != nil {
		t.Fatalf("alter cluster default: %v %+v", err, rs)
	}

	// The leader, wherever it is, applies the limit from the notification.
	waitUntil(t, time.Minute, "the leader to refuse a 3000-byte record", func() bool {
		err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte(big)}).FirstErr()
		return errors.Is(err, kerr.MessageTooLarge)
	})
	produceSync(t, producer, &kgo.Record{Value: []byte("small")})

	data, err := z.Get("/config/topics/dyn")
	if err != nil {
		t.Fatal(err)
	}
	var entity struct {
		Version int               `json:"version"`
		Config  map[string]string `json:"config"`
	}
	if err := json.Unmarshal(data, &entity); err != nil || entity.Version != 1 || len(entity.Config) != 1 || entity.Config["max.message.bytes"] != "2000" {
		t.Errorf("/config/topics/dyn: %s", data)
	}
	if data, err := z.Get("/config/brokers/<default>"); err != nil || !strings.Contains(string(data), `"log.retention.ms":"86400000"`) {
		t.Errorf("/config/brokers/<default>: %s %v", data, err)
	}
	names, err := z.Children("/config/changes")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	var paths []string
	for _, n := range names {
		if !strings.HasPrefix(n, "config_change_") || len(n) != len("config_change_")+10 {
			t.Errorf("notification name %q", n)
		}
		data, err := z.Get("/config/changes/" + n)
		if err != nil {
			t.Fatal(err)
		}
		var note map[string]any
		if err := json.Unmarshal(data, &note); err != nil || note["version"] != float64(2) {
			t.Errorf("%s: %s", n, data)
		}
		p, _ := note["entity_path"].(string)
		paths = append(paths, p)
	}
	if !slices.Equal(paths, []string{"topics/dyn", "brokers/<default>"}) {
		t.Errorf("notifications: %v", paths)
	}

	// DescribeConfigs through broker 3 (kadm picks a broker for topics;
	// the raw request goes to broker 3 on purpose).
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "dyn"
	req.Resources = append(req.Resources, rr)
	cl3 := newClient(t, bs[2])
	raw, err := cl3.Broker(int(bs[2].ID)).Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		value  string
		source kmsg.ConfigSource
	}{
		"max.message.bytes": {"2000", kmsg.ConfigSourceDynamicTopicConfig},
		"retention.ms":      {"86400000", kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		"segment.bytes":     {"1073741824", kmsg.ConfigSourceDefaultConfig},
	}
	for _, cfg := range raw.(*kmsg.DescribeConfigsResponse).Resources[0].Configs {
		w, ok := want[cfg.Name]
		if !ok {
			continue
		}
		delete(want, cfg.Name)
		if cfg.Value == nil || *cfg.Value != w.value || cfg.Source != w.source {
			t.Errorf("%s: %v from %v, want %s from %v", cfg.Name, cfg.Value, cfg.Source, w.value, w.source)
		}
	}
	if len(want) > 0 {
		t.Errorf("not described: %v", want)
	}

	// The broker resource of broker 2 through kadm (sent to broker 2).
	bcs, err := kadm.NewClient(cl3).DescribeBrokerConfigs(ctx, bs[1].ID)
	if err != nil || len(bcs) != 1 || bcs[0].Err != nil {
		t.Fatalf("describe broker %d: %v %+v", bs[1].ID, err, bcs)
	}
	for _, cfg := range bcs[0].Configs {
		if cfg.Key == "log.retention.ms" && (cfg.MaybeValue() != "86400000" || cfg.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig) {
			t.Errorf("broker %d log.retention.ms: %s from %v", bs[1].ID, cfg.MaybeValue(), cfg.Source)
		}
		if cfg.Key == "broker.id" && cfg.MaybeValue() != strconv.Itoa(int(bs[1].ID)) {
			t.Errorf("broker.id: %s", cfg.MaybeValue())
		}
	}
}
