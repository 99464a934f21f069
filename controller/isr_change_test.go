package controller_test

import (
	"slices"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/zkmeta"
)

// TestIsrChangeNotification plays a leader of an old
// inter.broker.protocol version: it shrinks an ISR in the state znode
// itself and announces it in /isr_change_notification. The controller
// must tell every broker the new ISR and delete the notification.
func TestIsrChangeNotification(t *testing.T) {
	e := newEnv(t)
	_, bs := startCluster(t, e, []int32{1, 2, 3})
	e.createTopic("old", map[int32][]int32{0: {1, 2, 3}}, nil)
	cur := e.waitLeader("old", 0, 1, 1, 2, 3)

	next := cur
	next.ISR = []int32{1, 2}
	if _, err := e.admin.UpdatePartitionState(e.ctx, zkmeta.ControllerEpoch{ZkVersion: -1}, "old", 0, next); err != nil {
		t.Fatal(err)
	}
	note := e.rawPath("/isr_change_notification/isr_change_")
	if _, err := e.raw.Create(note, []byte(`{"version":1,"partitions":[{"topic":"old","partition":0}]}`), zk.FlagSequence, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		b.waitUpdateMetadata(t, "old", 0, "the ISR from the notification", func(u umPartition) bool {
			return slices.Equal(u.state.ISR, []int32{1, 2})
		})
	}
	waitFor(t, "the notification to be deleted", func() bool {
		kids, _, err := e.raw.Children(e.rawPath("/isr_change_notification"))
		return err == nil && len(kids) == 0
	})
}
