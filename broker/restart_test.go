package broker

import (
	"testing"
)

// TestRestartKeepsTopics stops a broker and starts it again on the same
// log dirs and chroot: the cluster id, topics, topic ids and leader
// epochs survive, and the broker leads its partitions again.
func TestRestartKeepsTopics(t *testing.T) {
	cfg := testServerConfig(t)
	s1, addr, stop := runTestServer(t, cfg)
	adm, _ := newAdmin(t, addr)
	created, err := adm.CreateTopic(adminCtx(t), 2, 1, nil, "kept")
	if err != nil || created.Err != nil {
		t.Fatal(err, created.Err)
	}
	cluster := s1.clusterID
	stop()

	s2, addr2, _ := runTestServer(t, cfg)
	if s2.clusterID != cluster {
		t.Errorf("cluster id changed: %s -> %s", cluster, s2.clusterID)
	}
	_, cl := newAdmin(t, addr2)
	tp := metadataFor(t, cl, 12, false, "kept").Topics[0]
	if tp.ErrorCode != 0 || tp.TopicID != created.ID || len(tp.Partitions) != 2 {
		t.Fatalf("after restart: %+v", tp)
	}
	for _, p := range tp.Partitions {
		if p.Leader != 0 || p.LeaderEpoch != 0 {
			t.Errorf("partition %d: leader %d epoch %d, want 0/0", p.Partition, p.Leader, p.LeaderEpoch)
		}
	}
}
