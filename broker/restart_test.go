package broker

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
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

// TestIdempotenceSurvivesRestart checks that a clean restart keeps the
// idempotent producers' state, through the producer-state snapshots Kafka
// writes at every roll and at shutdown: a retry of the last batch acked
// before the restart is answered with its original offset and not written
// again, a sequence gap is still refused, and the next sequence goes on.
func TestIdempotenceSurvivesRestart(t *testing.T) {
	cfg := testServerConfig(t)
	s1, addr, stop := runTestServer(t, cfg)
	segBytes := "300" // a few batches per segment, so the log rolls
	createTestTopic(t, s1, addr, "idem-restart", 1, map[string]*string{"segment.bytes": &segBytes})
	cl := newTestClient(t, addr)
	ipReq := kmsg.NewPtrInitProducerIDRequest()
	ip, err := ipReq.RequestWith(testCtx(t), cl)
	if err != nil || ip.ErrorCode != 0 {
		t.Fatalf("init producer id: %v, code %d", err, ip.ErrorCode)
	}
	pid := ip.ProducerID
	one := func(cl *kgo.Client, b []byte) kmsg.ProduceResponseTopicPartition {
		return produceRaw(t, cl, "idem-restart", map[int32][]byte{0: b}).Topics[0].Partitions[0]
	}
	const batches, per = 12, 3
	var last kmsg.ProduceResponseTopicPartition
	for i := range batches {
		last = one(cl, idempotentBatch(pid, 0, int32(i*per), per, 1000))
		if last.ErrorCode != 0 {
			t.Fatalf("batch %d: error %d", i, last.ErrorCode)
		}
	}
	const end = batches * per
	cl.Close()
	stop()

	dir := filepath.Join(cfg.LogDirs[0], "idem-restart-0")
	snaps, _ := filepath.Glob(filepath.Join(dir, "*.snapshot"))
	if len(snaps) < 2 {
		t.Fatalf("snapshots in %s: %v, want one per roll and one at shutdown", dir, snaps)
	}
	if want := filepath.Join(dir, fmt.Sprintf("%020d.snapshot", end)); !slices.Contains(snaps, want) {
		t.Fatalf("snapshots %v, want %s written at shutdown", snaps, filepath.Base(want))
	}

	_, addr2, _ := runTestServer(t, cfg)
	cl2 := newTestClient(t, addr2)
	retry := one(cl2, idempotentBatch(pid, 0, int32((batches-1)*per), per, 1000))
	if retry.ErrorCode != 0 || retry.BaseOffset != last.BaseOffset {
		t.Fatalf("retry of the last batch after restart answered code %d offset %d, want the original offset %d", retry.ErrorCode, retry.BaseOffset, last.BaseOffset)
	}
	if gap := one(cl2, idempotentBatch(pid, 0, end+5, 1, 1000)); gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap after restart answered %d, want OUT_OF_ORDER_SEQUENCE_NUMBER", gap.ErrorCode)
	}
	if next := one(cl2, idempotentBatch(pid, 0, end, 1, 1000)); next.ErrorCode != 0 || next.BaseOffset != end {
		t.Fatalf("next sequence after restart answered code %d offset %d, want offset %d (the retry not written twice)", next.ErrorCode, next.BaseOffset, end)
	}
}
