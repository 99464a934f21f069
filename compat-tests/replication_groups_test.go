package compattests

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// TestReplicationGroupCoordinatorFailover runs a consumer group on three
// brokers, commits part of a topic, SIGKILLs the group's coordinator, and
// checks that the group goes on under another coordinator from the
// committed offsets: nothing committed is read again and nothing after the
// commits is skipped.
func TestReplicationGroupCoordinatorFailover(t *testing.T) {
	c := testcluster.New(t)
	byID, seeds := threeBrokers(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ka := kadm.NewClient(adm)
	const topic, group, n = "grouped", "failover-group", 300
	z := c.ZKClient(t)
	createReplicated(ctx, t, adm, z, topic, 3, nil)
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for i := 0; i < n; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("r%d", i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	consumer := func() *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	first := consumer()
	seen := map[string]bool{}
	var committed []*kgo.Record
	for len(committed) < n/2 {
		fs := first.PollRecords(ctx, n/2-len(committed))
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) { committed = append(committed, r); seen[string(r.Value)] = true })
	}
	if err := first.CommitRecords(ctx, committed...); err != nil {
		t.Fatalf("commit: %v", err)
	}
	first.Close() // leaves the group

	described, err := ka.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	coord := described[group].Coordinator.NodeID
	b, ok := byID[coord]
	if !ok {
		t.Fatalf("coordinator %d is not one of the brokers", coord)
	}
	t.Logf("SIGKILL the group coordinator, broker %d", coord)
	b.Kill()
	second := consumer()
	defer second.Close()
	var rest []string
	for len(rest) < n-len(committed) {
		pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
		fs := second.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		pcancel()
		if timedOut {
			t.Fatalf("after the coordinator died the group read %d of the %d uncommitted records", len(rest), n-len(committed))
		}
		fs.EachRecord(func(r *kgo.Record) { rest = append(rest, string(r.Value)) })
	}
	for _, v := range rest {
		if seen[v] {
			t.Errorf("%s was committed before the failover and read again", v)
		}
		seen[v] = true
	}
	if len(seen) != n {
		t.Errorf("read %d distinct records of %d", len(seen), n)
	}
	// A new admin client, bootstrapped from the live brokers, finds the
	// new coordinator (the first client keeps the dead one cached).
	var live []string
	for id, x := range byID {
		if id != coord {
			live = append(live, x.Addr())
		}
	}
	fresh, err := kgo.NewClient(kgo.SeedBrokers(live...))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	after, err := kadm.NewClient(fresh).DescribeGroups(ctx, group)
	if err != nil || after[group].Err != nil {
		t.Fatalf("describe group after the failover: %v %v", err, after[group].Err)
	}
	if nc := after[group].Coordinator.NodeID; nc == coord {
		t.Errorf("the coordinator is still broker %d after it died", coord)
	}
}
