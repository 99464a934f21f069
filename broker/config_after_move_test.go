package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// A reassignment that moves one partition of a topic off a
// broker (StopReplica with delete) must not make that broker forget the
// config of the topic's partitions it still hosts: a later change of a
// cluster default must still reach them.
func TestConfigAfterPartitionMovedAway(t *testing.T) {
	c := startTestCluster(t, 2)
	ctx := adminCtx(t)
	adm, _ := newAdmin(t, c.addrs[0])
	if _, err := adm.CreateTopic(ctx, 2, 1, nil, "mv"); err != nil {
		t.Fatal(err)
	}
	// Put both partitions on broker 1.
	req := kadm.AlterPartitionAssignmentsReq{}
	req.Assign("mv", 0, []int32{1})
	req.Assign("mv", 1, []int32{1})
	if _, err := adm.AlterPartitionAssignments(ctx, req); err != nil {
		t.Fatal(err)
	}
	b1 := c.servers[0]
	hosted := func(p int32) *Partition { x, _ := b1.replicas.get(topicPartition{"mv", p}); return x }
	waitFor(t, 60*time.Second, "both partitions on broker 1 only", func() bool {
		ls, err := adm.ListPartitionReassignments(ctx, nil)
		return err == nil && len(ls) == 0 && hosted(0) != nil && hosted(1) != nil
	})
	// Move partition 0 to broker 2: broker 1 deletes its replica of it.
	req = kadm.AlterPartitionAssignmentsReq{}
	req.Assign("mv", 0, []int32{2})
	if _, err := adm.AlterPartitionAssignments(ctx, req); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "mv-0 gone from broker 1", func() bool { return hosted(0) == nil })
	// A cluster default changes.
	if rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.retention.ms", Value: kadm.StringPtr("4321")}}); err != nil || rs[0].Err != nil {
		t.Fatalf("alter cluster default: %v %+v", err, rs)
	}
	// Broker 2 (fresh) applies it to mv-0; broker 1 must apply it to mv-1.
	p1 := hosted(1)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) && p1.config().Log.RetentionMs != 4321 {
		time.Sleep(100 * time.Millisecond)
	}
	if got := p1.config().Log.RetentionMs; got != 4321 {
		t.Errorf("broker 1's mv-1 retention.ms after the cluster default changed: %d, want 4321", got)
	}
}
