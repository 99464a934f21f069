package broker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// newAdmin returns a kadm client pinned to Kafka 3.9's versions, as
// kafka-topics.sh 3.9 would negotiate them.
func newAdmin(t *testing.T, addr string, opts ...kgo.Opt) (*kadm.Client, *kgo.Client) {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.MaxVersions(kversion.V3_9_0())}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl), cl
}

func adminCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestTopicLifecycle follows kafka-topics.sh: --create, --list,
// --describe, --alter --partitions, --delete, checking what a user sees
// and what lands in ZooKeeper and on disk.
func TestTopicLifecycle(t *testing.T) {
	s, addr := startTestServer(t)
	adm, _ := newAdmin(t, addr)
	ctx := adminCtx(t)

	created, err := adm.CreateTopic(ctx, 3, -1, map[string]*string{"retention.ms": kadm.StringPtr("3600000")}, "orders")
	if err != nil || created.Err != nil {
		t.Fatalf("create: %v / %v", err, created.Err)
	}
	if created.ID == (kadm.TopicID{}) {
		t.Error("create response has no topic id")
	}

	// Right after the response the topic must have leaders.
	md, err := adm.Metadata(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	td := md.Topics["orders"]
	if td.Err != nil || len(td.Partitions) != 3 {
		t.Fatalf("metadata after create: err %v, %d partitions", td.Err, len(td.Partitions))
	}
	for p, pd := range td.Partitions {
		if pd.Leader != 0 || pd.Err != nil || len(pd.ISR) != 1 || pd.ISR[0] != 0 {
			t.Errorf("partition %d: leader %d isr %v err %v; want leader 0, isr [0]", p, pd.Leader, pd.ISR, pd.Err)
		}
	}
	if md.Controller != 0 || md.Cluster == "" || len(md.Cluster) != 22 {
		t.Errorf("controller %d cluster %q; want 0 and a 22-char id", md.Controller, md.Cluster)
	}

	names, err := adm.ListTopics(ctx)
	if err != nil || !names.Has("orders") {
		t.Fatalf("list: %v %v", err, names.Names())
	}

	rc, err := adm.DescribeTopicConfigs(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := rc.On("orders", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]kadm.Config{}
	for _, c := range cfg.Configs {
		got[c.Key] = c
	}
	if c := got["retention.ms"]; c.MaybeValue() != "3600000" || c.Source.String() != "DYNAMIC_TOPIC_CONFIG" {
		t.Errorf("retention.ms = %q (%v), want 3600000 from DYNAMIC_TOPIC_CONFIG", c.MaybeValue(), c.Source)
	}
	if c := got["segment.bytes"]; c.MaybeValue() != "1073741824" || c.Source.String() != "DEFAULT_CONFIG" {
		t.Errorf("segment.bytes = %q (%v), want Kafka's default", c.MaybeValue(), c.Source)
	}
	if len(got) != len(topicKeys) {
		t.Errorf("described %d topic configs, want %d", len(got), len(topicKeys))
	}

	if _, err := adm.ListPartitionReassignments(ctx, nil); err != nil {
		t.Errorf("list reassignments: %v", err)
	}

	resp, err := adm.UpdatePartitions(ctx, 5, "orders")
	if err != nil || resp["orders"].Err != nil {
		t.Fatalf("grow: %v / %v", err, resp["orders"].Err)
	}
	md, _ = adm.Metadata(ctx, "orders")
	if n := len(md.Topics["orders"].Partitions); n != 5 {
		t.Fatalf("%d partitions after growing, want 5", n)
	}
	resp, _ = adm.UpdatePartitions(ctx, 5, "orders")
	if !errors.Is(resp["orders"].Err, kerr.InvalidPartitions) {
		t.Errorf("growing to the same count: %v, want INVALID_PARTITIONS", resp["orders"].Err)
	}
	if !dirExists(filepath.Join(s.cfg.LogDirs[0], "orders-4")) {
		t.Error("no log dir for new partition orders-4")
	}

	dr, err := adm.DeleteTopics(ctx, "orders")
	if err != nil || dr["orders"].Err != nil {
		t.Fatalf("delete: %v / %v", err, dr["orders"].Err)
	}
	names, _ = adm.ListTopics(ctx)
	if names.Has("orders") {
		t.Error("topic still listed after delete")
	}
	for p := 0; p < 5; p++ {
		if dir := filepath.Join(s.cfg.LogDirs[0], "orders-"+string(rune('0'+p))); dirExists(dir) {
			t.Errorf("log dir %s still exists after delete", dir)
		}
	}
	if ts, _ := s.zk.Topics(ctx); len(ts) != 0 {
		t.Errorf("znodes left in /brokers/topics: %v", ts)
	}
	if c, err := s.zk.TopicConfig(ctx, "orders"); err != nil || len(c) != 0 {
		t.Errorf("/config/topics/orders left behind: %v %v", c, err)
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
