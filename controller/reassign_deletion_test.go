package controller_test

import (
	"github.com/gokafka/gokafka/controller"
	"github.com/twmb/franz-go/pkg/kerr"
	"testing"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
)

// A partition created while none of its replicas was live
// has no state znode; reassigning it to a live broker completes at once
// ("no data to move"), and the partition should then come online on it.
func TestReassignNeverOnlinePartition(t *testing.T) {
	e := newEnv(t)
	c, _ := startCluster(t, e, []int32{1, 2})
	e.createTopic("o", map[int32][]int32{0: {9}}, nil)
	e.createTopic("ready", map[int32][]int32{0: {1}}, nil)
	e.waitLeader("ready", 0, 1, 1) // the controller has loaded both topics
	if _, ok := e.state("o", 0); ok {
		t.Fatal("o-0 has a state znode although its only replica is not live")
	}
	c.mustReassign(t, e, "o", map[int32][]int32{0: {1}})
	e.waitTopicZnode("o", 0, []int32{1}, nil, nil)
	e.waitState("o", 0, "o-0 online on broker 1", func(s zkmeta.LeaderAndIsr) bool { return s.Leader == 1 })
}

// A topic marked for deletion whose deletion waits for a
// reassignment is "queued up for deletion" in Kafka
// (TopicDeletionManager.isTopicQueuedUpForDeletion covers ineligible
// topics): ElectLeaders answers INVALID_TOPIC_EXCEPTION for it.
func TestElectLeadersTopicQueuedForDeletion(t *testing.T) {
	e := newEnv(t)
	c, _ := startCluster(t, e, []int32{1, 2, 3, 4}, func(cfg *controller.Config) { cfg.DeleteTopicEnable = true })
	e.createTopic("d", map[int32][]int32{0: {1, 2, 3}}, nil)
	e.waitLeader("d", 0, 1, 1, 2, 3)
	c.mustReassign(t, e, "d", map[int32][]int32{0: {1, 2, 4}})
	e.waitTopicZnode("d", 0, []int32{1, 2, 4, 3}, []int32{4}, []int32{3})
	if err := e.admin.MarkTopicForDeletion(e.ctx, "d"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the controller sees the marker
	r := elect(t, e, c, controller.ElectPreferred, "d", 0)
	wantCode(t, "PREFERRED election of a topic queued for deletion", r, kerr.InvalidTopicException)
}
