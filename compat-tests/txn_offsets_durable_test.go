package compattests

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupCoordinator returns the node FindCoordinator names for group.
func groupCoordinator(ctx context.Context, t *testing.T, cl *kgo.Client, group string) int32 {
	t.Helper()
	return findCoordinator(ctx, t, cl, 0, group)
}

// commitTxnOffsets puts offsets of topic for group into producer p's open
// transaction (id), as a transactional producer's sendOffsetsToTransaction
// does: AddOffsetsToTxn at the transaction coordinator, then
// TxnOffsetCommit v3 (no member) at the group's coordinator. It fails the
// test on any error and returns p's producer id.
func commitTxnOffsets(ctx context.Context, t *testing.T, cl, p *kgo.Client, txnNode, groupNode int32, id, group, topic string, offsets map[int32]int64) int64 {
	t.Helper()
	pid, epoch, err := p.ProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = id, pid, epoch, group
	if r := txnRequest(ctx, t, cl, txnNode, add, func(r *kmsg.AddOffsetsToTxnResponse) int16 { return r.ErrorCode }); r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.Version = 3
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = id, group, pid, epoch
	commit.Generation, commit.MemberID = -1, ""
	ct := kmsg.NewTxnOffsetCommitRequestTopic()
	ct.Topic = topic
	for part, o := range offsets {
		cp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		cp.Partition, cp.Offset, cp.LeaderEpoch = part, o, -1
		ct.Partitions = append(ct.Partitions, cp)
	}
	commit.Topics = append(commit.Topics, ct)
	resp := txnRequest(ctx, t, cl, groupNode, commit, func(r *kmsg.TxnOffsetCommitResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode })
	for _, rp := range resp.Topics[0].Partitions {
		if rp.ErrorCode != 0 {
			t.Fatalf("TxnOffsetCommit partition %d: %v", rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	return pid
}

// TestTxnOffsetsSurviveGroupCoordinatorKill is the exactly-once gap of
// issue 12: a transactional producer commits a group's offsets
// (AddOffsetsToTxn, TxnOffsetCommit), the group's coordinator is
// SIGKILLed before EndTxn, and the transaction then commits. The offsets
// must be there exactly, read through the group's new coordinator, and
// nothing of the open transaction may have shown under /consumers before
// the commit.
func TestTxnOffsetsSurviveGroupCoordinatorKill(t *testing.T) {
	const topic, id = "eos-offsets", "eos-offsets-txn"
	c, byID, seeds := txnCluster(t, topic, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := txnTestClient(t, seeds)
	txnNode := txnCoordinator(ctx, t, cl, id)
	// A group whose coordinator is not the transaction coordinator, so the
	// kill leaves the transaction's coordinator alive.
	var group string
	var groupNode int32
	for i := 0; ; i++ {
		group = fmt.Sprintf("eos-offsets-group-%d", i)
		if groupNode = groupCoordinator(ctx, t, cl, group); groupNode != txnNode {
			break
		}
	}
	t.Logf("transaction coordinator %d, coordinator of %s %d", txnNode, group, groupNode)

	p := txnProducer(t, seeds, id, topic)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	values := seq("eo-", 6)
	for _, v := range values {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	want := map[int32]int64{0: 101, 1: 202, 2: 303}
	pid := commitTxnOffsets(ctx, t, cl, p, txnNode, groupNode, id, group, topic, want)
	z := c.ZKClient(t)
	if ok, err := z.Exists("/consumers/" + group + "/offsets"); err != nil || ok {
		t.Fatalf("/consumers/%s/offsets exists before the commit (%v, %v): the open transaction's offsets are visible to Kafka's tools", group, ok, err)
	}

	t.Logf("SIGKILL the group's coordinator, broker %d", groupNode)
	byID[groupNode].Kill()
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("EndTxn(commit): %v", err)
	}

	// OffsetFetch (require_stable, as a read_committed consumer sends it)
	// at whichever broker now coordinates the group.
	fresh := txnTestClient(t, seeds)
	got := map[int32]int64{}
	waitUntil(t, time.Minute, "the committed offsets at the group's new coordinator", func() bool {
		node := groupCoordinator(ctx, t, fresh, group)
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 8
		req.RequireStable = true
		req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group}}
		raw, err := fresh.Broker(int(node)).Request(ctx, req)
		if err != nil {
			return false
		}
		g := raw.(*kmsg.OffsetFetchResponse).Groups[0]
		if g.ErrorCode != 0 {
			return false
		}
		clear(got)
		for _, rt := range g.Topics {
			for _, rp := range rt.Partitions {
				if rt.Topic == topic && rp.ErrorCode == 0 {
					got[rp.Partition] = rp.Offset
				}
			}
		}
		return len(got) > 0
	})
	if !maps.Equal(got, want) {
		t.Errorf("committed offsets after the commit: %v, want %v", got, want)
	}
	for part, off := range want {
		data, err := z.Get(fmt.Sprintf("/consumers/%s/offsets/%s/%d", group, topic, part))
		if err != nil || string(data) != fmt.Sprint(off) {
			t.Errorf("ZooKeeper offset of partition %d: %q, %v; want %d", part, data, err, off)
		}
	}
	waitUntil(t, time.Minute, "the pending offsets to be removed after the marker", func() bool {
		ok, err := z.Exists(fmt.Sprintf("/gokafka/txn-offsets/%d/%s", pid, group))
		return err == nil && !ok
	})
	if got := readToSentinel(ctx, t, seeds, topic, 3, kgo.ReadCommitted()); len(got) != len(values) {
		t.Errorf("read_committed read %v, want the %d committed records", got, len(values))
	}
}
