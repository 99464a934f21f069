package compattests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFranzTopicAdmin walks a topic through its life with kadm: create
// (explicit and default partition counts, configs, validate-only), list,
// describe, grow, produce to a new partition, delete; and the errors Kafka
// gives for duplicates and bad names.
func TestFranzTopicAdmin(t *testing.T) {
	_, b := startBroker(t, map[string]string{"num.partitions": "2"})
	adm := newAdmin(t, b)
	ctx := testCtx(t)

	created := createTopic(t, adm, "orders", 3, map[string]*string{"retention.ms": kadm.StringPtr("3600000")})
	if created.ID == (kadm.TopicID{}) {
		t.Errorf("CreateTopics returned no topic id")
	}
	if created.NumPartitions != 3 || created.ReplicationFactor != 1 {
		t.Errorf("CreateTopics answered %d partitions, rf %d; want 3, 1", created.NumPartitions, created.ReplicationFactor)
	}
	// -1 partitions and replication factor take the broker defaults (KIP-464).
	if resp, err := adm.CreateTopic(ctx, -1, -1, nil, "defaults"); err != nil {
		t.Fatalf("create with broker defaults: %v", err)
	} else if resp.NumPartitions != 2 {
		t.Errorf("topic created with -1 partitions has %d, want num.partitions=2", resp.NumPartitions)
	}

	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "orders"); !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Errorf("creating an existing topic: %v, want TOPIC_ALREADY_EXISTS", err)
	}
	for _, bad := range []string{"bad name", "..", ".", strings.Repeat("a", 250), "sl/ash"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, bad); !errors.Is(err, kerr.InvalidTopicException) {
			t.Errorf("creating topic %q: %v, want INVALID_TOPIC_EXCEPTION", bad, err)
		}
	}
	if resp, err := adm.ValidateCreateTopics(ctx, 1, 1, nil, "dry-run"); err != nil || resp["dry-run"].Err != nil {
		t.Errorf("validate-only create: %v / %v", err, resp["dry-run"].Err)
	}

	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	if names := topics.Names(); !slices.Contains(names, "orders") || !slices.Contains(names, "defaults") || slices.Contains(names, "dry-run") {
		t.Errorf("listed topics %v; want orders and defaults, not dry-run", names)
	}
	d := topics["orders"]
	if d.ID != created.ID {
		t.Errorf("metadata topic id %v, CreateTopics said %v", d.ID, created.ID)
	}
	if len(d.Partitions) != 3 {
		t.Fatalf("orders has %d partitions in metadata, want 3", len(d.Partitions))
	}
	for p, pd := range d.Partitions {
		if pd.Leader != b.ID || !slices.Equal(pd.Replicas, []int32{b.ID}) || !slices.Equal(pd.ISR, []int32{b.ID}) || pd.Err != nil {
			t.Errorf("orders-%d: leader %d replicas %v isr %v err %v; want broker %d everywhere", p, pd.Leader, pd.Replicas, pd.ISR, pd.Err, b.ID)
		}
	}

	cfgs, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	rc, err := cfgs.On("orders", nil)
	if err != nil {
		t.Fatalf("describe configs of orders: %v", err)
	}
	if v := configValue(rc, "retention.ms"); v != "3600000" {
		t.Errorf("retention.ms = %q, want the 3600000 given at creation", v)
	}
	if v := configValue(rc, "cleanup.policy"); v != "delete" {
		t.Errorf("cleanup.policy = %q, want Kafka's default delete", v)
	}

	// Grow to 5 partitions and use the new one.
	if resp, err := adm.UpdatePartitions(ctx, 5, "orders"); err != nil || resp["orders"].Err != nil {
		t.Fatalf("grow orders to 5 partitions: %v / %v", err, resp["orders"].Err)
	}
	eventually(t, "orders has 5 partitions", func() error {
		md, err := adm.ListTopics(ctx, "orders")
		if err != nil {
			return err
		}
		if n := len(md["orders"].Partitions); n != 5 {
			return fmt.Errorf("%d partitions", n)
		}
		return nil
	})
	if resp, err := adm.UpdatePartitions(ctx, 2, "orders"); err != nil || !errors.Is(resp["orders"].Err, kerr.InvalidPartitions) {
		t.Errorf("shrinking orders to 2 partitions: %v / %v, want INVALID_PARTITIONS", err, resp["orders"].Err)
	}
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceSync(t, cl, &kgo.Record{Topic: "orders", Partition: 4, Value: []byte("on the new partition")})
	got := consume(t, b, map[string]map[int32]kgo.Offset{"orders": {4: kgo.NewOffset().AtStart()}}, 1)
	if string(got[0].Value) != "on the new partition" || got[0].Offset != 0 {
		t.Errorf("orders-4 holds %q at offset %d", got[0].Value, got[0].Offset)
	}
}

// TestTopicDeleteRemovesEverything deletes a topic (by name, and another by
// topic id) and checks what an operator would: the topic is gone from
// metadata, its znodes are gone from ZooKeeper, its partition directories are
// gone from every log dir (renamed -delete at once, removed after
// log.segment.delete.delay.ms, shortened here from Kafka's 60 s), and the
// name can be used again.
func TestTopicDeleteRemovesEverything(t *testing.T) {
	c, b := startBroker(t, map[string]string{"log.segment.delete.delay.ms": "500"})
	adm := newAdmin(t, b)
	ctx := testCtx(t)
	zkc := c.ZKClient(t)

	createTopic(t, adm, "doomed", 2, nil)
	byID := createTopic(t, adm, "doomed-by-id", 1, nil)
	cl := newClient(t, b)
	produceSync(t, cl, &kgo.Record{Topic: "doomed", Value: []byte("x")}, &kgo.Record{Topic: "doomed-by-id", Value: []byte("y")})

	for _, p := range []string{"/brokers/topics/doomed", "/config/topics/doomed", "/brokers/topics/doomed/partitions/1/state"} {
		if ok, err := zkc.Exists(p); err != nil || !ok {
			t.Fatalf("before delete, %s: exists=%v err=%v", p, ok, err)
		}
	}
	for _, dir := range []string{"doomed-0", "doomed-1", "doomed-by-id-0"} {
		if _, err := os.Stat(filepath.Join(b.LogDirs()[0], dir)); err != nil {
			t.Fatalf("before delete: %v", err)
		}
	}

	if resp, err := adm.DeleteTopics(ctx, "doomed"); err != nil || resp["doomed"].Err != nil {
		t.Fatalf("delete doomed: %v / %v", err, resp["doomed"].Err)
	}
	// DeleteTopics v6 names the topic by id alone, as kafka-topics --topic-id does.
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TimeoutMillis = 30000
	delTopic := kmsg.NewDeleteTopicsRequestTopic()
	delTopic.TopicID = byID.ID
	del.Topics = append(del.Topics, delTopic)
	delResp, err := del.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("delete doomed-by-id by topic id: %v", err)
	}
	if len(delResp.Topics) != 1 || delResp.Topics[0].ErrorCode != 0 {
		t.Fatalf("delete by topic id answered %+v, want one topic without error", delResp.Topics)
	}

	for _, topic := range []string{"doomed", "doomed-by-id"} {
		eventually(t, topic+" is gone everywhere", func() error {
			md, err := adm.ListTopics(ctx)
			if err != nil {
				return err
			}
			if md.Has(topic) {
				return fmt.Errorf("still listed in metadata")
			}
			for _, p := range []string{"/brokers/topics/" + topic, "/config/topics/" + topic, "/admin/delete_topics/" + topic} {
				if ok, err := zkc.Exists(p); err != nil || ok {
					return fmt.Errorf("znode %s: exists=%v err=%v", p, ok, err)
				}
			}
			for _, dir := range b.LogDirs() {
				entries, err := os.ReadDir(dir)
				if err != nil {
					return err
				}
				for _, e := range entries {
					if partitionDirOf(e.Name(), topic) {
						return fmt.Errorf("log dir %s still holds %s", dir, e.Name())
					}
				}
			}
			return nil
		})
	}

	// The name is free again and starts empty.
	createTopic(t, adm, "doomed", 1, nil)
	ends, err := adm.ListEndOffsets(ctx, "doomed")
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	if o, _ := ends.Lookup("doomed", 0); o.Offset != 0 || o.Err != nil {
		t.Errorf("re-created doomed-0 ends at %d (%v), want 0", o.Offset, o.Err)
	}
}

// partitionDirOf reports whether a log-dir entry belongs to topic: Kafka's
// "<topic>-<partition>" and, while deletion is in progress,
// "<topic>-<partition>.<uuid>-delete".
func partitionDirOf(name, topic string) bool {
	rest, ok := strings.CutPrefix(name, topic+"-")
	if !ok || rest == "" {
		return false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	return i > 0 && (i == len(rest) || rest[i] == '.')
}

// configValue returns a config's value from a DescribeConfigs answer, or ""
// when it is missing.
func configValue(rc kadm.ResourceConfig, key string) string {
	for _, c := range rc.Configs {
		if c.Key == key {
			return c.MaybeValue()
		}
	}
	return ""
}
