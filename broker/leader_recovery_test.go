package broker

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A leader taken from outside the ISR by an unclean election starts
// RECOVERING (KIP-704: the state znode says leader_recovery_state 1 and the
// controller lets no one else into the ISR), and once the old leader comes
// back, truncates to the new leader's log and catches up, the new leader
// reports RECOVERED with the ISR expansion: the ISR grows back to both
// replicas and the partition is RECOVERED. Were the leader to report
// RECOVERING, the controller would refuse the expansion and the ISR would
// stay the leader alone.
func TestUncleanLeaderReportsRecovered(t *testing.T) {
	c := startTestCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	zk := c.zk()

	// The replicas are the two brokers that are not the controller, so
	// stopping both leaves the controller running.
	var ctl int32
	waitFor(t, 30*time.Second, "a controller", func() bool {
		id, err := zk.Controller(ctx)
		ctl = id
		return err == nil && id > 0
	})
	var reps []int32
	for id := int32(1); id <= 3; id++ {
		if id != ctl {
			reps = append(reps, id)
		}
	}
	first, second := reps[0], reps[1]
	err := zk.CreateTopic(ctx, "rec", zkmeta.TopicAssignment{Partitions: map[int32][]int32{0: {first, second}}},
		map[string]string{"unclean.leader.election.enable": "true"})
	if err != nil {
		t.Fatal(err)
	}
	state := func() zkmeta.LeaderAndIsr {
		s, _ := zk.PartitionState(ctx, "rec", 0)
		return s
	}
	waitState := func(what string, cond func(zkmeta.LeaderAndIsr) bool) zkmeta.LeaderAndIsr {
		t.Helper()
		var s zkmeta.LeaderAndIsr
		waitFor(t, 30*time.Second, what, func() bool {
			s = state()
			return cond(s)
		})
		return s
	}
	waitState(fmt.Sprintf("leader %d with ISR [%d %d]", first, first, second), func(s zkmeta.LeaderAndIsr) bool {
		return s.Leader == first && len(s.ISR) == 2
	})

	// The follower stops; the leader takes records alone and stops too.
	c.stop(int(second))
	waitState(fmt.Sprintf("ISR [%d]", first), func(s zkmeta.LeaderAndIsr) bool { return slices.Equal(s.ISR, []int32{first}) })
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.DefaultProduceTopic("rec"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: fmt.Appendf(nil, "only-on-%d-%d", first, i)}).FirstErr(); err != nil {
			t.Fatalf("produce to the sole ISR member: %v", err)
		}
	}
	prod.Close()
	c.stop(int(first))
	waitState("partition offline", func(s zkmeta.LeaderAndIsr) bool { return s.Leader == -1 })

	// The old follower comes back and is elected unclean.
	c.start(int(second))
	s := waitState(fmt.Sprintf("leader %d elected unclean", second), func(s zkmeta.LeaderAndIsr) bool { return s.Leader == second })
	if !slices.Equal(s.ISR, []int32{second}) || s.LeaderRecoveryState != 1 {
		t.Fatalf("after the unclean election: leader %d ISR %v recovery state %d; want ISR [%d], RECOVERING (1)",
			s.Leader, s.ISR, s.LeaderRecoveryState, second)
	}

	// The old leader comes back as a follower, catches up, and the
	// leader's ISR expansion carries RECOVERED.
	c.start(int(first))
	s = waitState("the ISR back to both replicas", func(s zkmeta.LeaderAndIsr) bool { return len(s.ISR) == 2 })
	if s.Leader != second || !slices.Contains(s.ISR, first) || s.LeaderRecoveryState != 0 {
		t.Fatalf("after the follower caught up: leader %d ISR %v recovery state %d; want leader %d, ISR with %d, RECOVERED (0)",
			s.Leader, s.ISR, s.LeaderRecoveryState, second, first)
	}
	leader, ok := c.servers[second-1].replicas.get(topicPartition{"rec", 0})
	if !ok {
		t.Fatalf("broker %d does not host rec-0", second)
	}
	follower, ok := c.servers[first-1].replicas.get(topicPartition{"rec", 0})
	if !ok {
		t.Fatalf("broker %d does not host rec-0", first)
	}
	if leader.EndOffset() != 0 || follower.EndOffset() != 0 {
		t.Fatalf("log end offsets: leader %d follower %d; want both 0 (the records only the old leader had are lost, as unclean elections lose them)",
			leader.EndOffset(), follower.EndOffset())
	}
}
