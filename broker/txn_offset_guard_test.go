package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap/zaptest"

	"github.com/gokafka/gokafka/groupcoord"
	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/zkmeta"
)

// TestTxnOffsetCommitAfterAbortMarkerRefused: the transaction coordinator
// answers yes to TxnOffsetCommit's verification, but the transaction is
// aborted (its ABORT marker applied to the group's offsets partition)
// while the answer travels back. The offsets must be refused with
// INVALID_TXN_STATE and nothing stay pending, in memory or in ZooKeeper:
// otherwise the producer's next COMMIT at the same epoch would commit them
// and its consumers would skip input.
func TestTxnOffsetCommitAfterAbortMarkerRefused(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "data", [16]byte{8}, 1, testTopicConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	zk := sharedZooKeeper(t)
	zc, err := zkmeta.Connect(ctx, zkmeta.Config{Connect: fmt.Sprintf("%s/txn-offset-guard-%d", zk.Addr, chrootSeq.Add(1)),
		SessionTimeout: 6 * time.Second, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { zc.Close() })
	store := &memOffsets{m: map[string]map[groupcoord.TopicPartition]groupcoord.CommittedOffset{}}
	g, err := groupcoord.New(groupcoord.Config{Store: store, TxnStore: zkOffsetStore{zc}, OffsetsRetentionCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	s.groups = g
	const pid, epoch = 3000, 0
	aborted := 0
	s.verifyTxnOffsets = func(ctx context.Context, _ string, producerID int64, ep int16, _ string, partition int32) *kerr.Error {
		if e := (txnOffsetsMarker{s}).CompleteTxnOffsets(ctx, producerID, ep, 0, false, partition); e != nil {
			t.Fatalf("ABORT marker: %v", e)
		}
		aborted++
		return nil
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.Version = 3
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = "eos", "copy", pid, epoch, -1
	req.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "data", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 0, Offset: 42, LeaderEpoch: -1}}}}
	code := callTxn[*kmsg.TxnOffsetCommitResponse](t, s, (*Server).handleTxnOffsetCommit, req).Topics[0].Partitions[0].ErrorCode
	if aborted != 1 {
		t.Fatalf("the verifier ran %d times, want 1", aborted)
	}
	if code != kerr.InvalidTxnState.Code {
		t.Errorf("TxnOffsetCommit verified before its transaction's ABORT marker: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 8
	fetch.RequireStable = true
	fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "copy", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "data", Partitions: []int32{0}}}}}
	if p := g.OffsetFetch(ctx, fetch).Groups[0].Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != -1 {
		t.Errorf("require_stable fetch after the abort: offset %d, %v; want -1 and no error (nothing pending)", p.Offset, kerr.ErrorForCode(p.ErrorCode))
	}
	if groups, err := zc.TxnOffsetGroups(ctx, pid); err != nil || len(groups) != 0 {
		t.Errorf("ZooKeeper holds pending offsets of the aborted producer in groups %v (%v), want none", groups, err)
	}
	// The producer's next COMMIT at the same epoch must not commit them.
	if e := (txnOffsetsMarker{s}).CompleteTxnOffsets(ctx, pid, epoch, 0, true, txncoord.PartitionFor("copy", offsetsTopicPartitions)); e != nil {
		t.Fatal(e)
	}
	if p := g.OffsetFetch(ctx, fetch).Groups[0].Topics[0].Partitions[0]; p.Offset != -1 {
		t.Errorf("offset %d committed by a later COMMIT marker, want -1 (the aborted transaction's input skipped)", p.Offset)
	}
}
