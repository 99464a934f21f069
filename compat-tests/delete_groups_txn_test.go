package compattests

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestDeleteGroupWithOpenTxnOffsets: a transaction commits offsets for a
// group (AddOffsetsToTxn, TxnOffsetCommit), the group is deleted while the
// transaction is open, and then the transaction commits. As in Kafka 3.9,
// the group (no members, so Empty) is listed while the transaction is
// open, DeleteGroups deletes it, and the COMMIT marker does not bring it
// back: OffsetFetch answers -1, ListGroups does not list it, and nothing
// is left under /consumers or /gokafka/txn-offsets. The admin calls go out
// at the versions kafka-consumer-groups.sh 3.9 sends.
func TestDeleteGroupWithOpenTxnOffsets(t *testing.T) {
	const topic, group, id = "dg-txn-in", "dg-txn-group", "dg-txn"
	c, b := startBroker(t, map[string]string{
		"transaction.state.log.replication.factor": "1",
		"transaction.state.log.min.isr":            "1",
	})
	ctx := testCtx(t)
	adm := kadm.NewClient(newClient(t, b, kgo.MaxVersions(kversion.V3_9_0())))
	createTopic(t, adm, topic, 1, nil)
	seeds := []string{b.Addr()}
	cl := txnTestClient(t, seeds)
	txnNode := txnCoordinator(ctx, t, cl, id)
	groupNode := groupCoordinator(ctx, t, cl, group)

	p := txnProducer(t, seeds, id, topic)
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("out")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	pid := commitTxnOffsets(ctx, t, cl, p, txnNode, groupNode, id, group, topic, map[int32]int64{0: 42})

	listed := func() map[string]string {
		t.Helper()
		groups, err := adm.ListGroups(ctx)
		if err != nil {
			t.Fatalf("ListGroups: %v", err)
		}
		out := map[string]string{}
		for _, g := range groups.Sorted() {
			out[g.Group] = g.State
		}
		return out
	}
	if got := listed(); got[group] != "Empty" {
		t.Fatalf("ListGroups with the transaction open: %v, want %s listed Empty", got, group)
	}
	deleted, err := adm.DeleteGroups(ctx, group)
	if err != nil {
		t.Fatalf("DeleteGroups: %v", err)
	}
	if err := deleted[group].Err; err != nil {
		t.Fatalf("DeleteGroups %s with the transaction open: %v, want deleted (the group is Empty)", group, err)
	}
	if got := listed(); got[group] != "" {
		t.Fatalf("ListGroups after DeleteGroups: %v, want %s gone", got, group)
	}

	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("EndTxn(commit): %v", err)
	}
	// The coordinator completes the commit once every marker, the one for
	// the group's __consumer_offsets partition included, is written.
	waitUntil(t, time.Minute, "the transaction to complete its commit", func() bool {
		_, d := describeTxn(ctx, t, cl, id)
		return d.State == "CompleteCommit"
	})

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 8
	fetch.RequireStable = true
	fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: group, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: topic, Partitions: []int32{0}}}}}
	raw, err := cl.Broker(int(groupNode)).Request(ctx, fetch)
	if err != nil {
		t.Fatalf("OffsetFetch: %v", err)
	}
	fg := raw.(*kmsg.OffsetFetchResponse).Groups[0]
	if fg.ErrorCode != 0 || len(fg.Topics) != 1 || len(fg.Topics[0].Partitions) != 1 {
		t.Fatalf("OffsetFetch of the deleted group: %+v", fg)
	}
	if fp := fg.Topics[0].Partitions[0]; fp.ErrorCode != 0 || fp.Offset != -1 {
		t.Errorf("OffsetFetch of the deleted group after the commit: offset %d, %v; want -1, no error", fp.Offset, kerr.ErrorForCode(fp.ErrorCode))
	}
	if got := listed(); got[group] != "" {
		t.Errorf("ListGroups after the commit: %v, want %s still gone", got, group)
	}
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("kadm FetchOffsets: %v", err)
	}
	if o, ok := offsets.Lookup(topic, 0); ok && o.At >= 0 {
		t.Errorf("kadm FetchOffsets of the deleted group: %+v, want no offset", o)
	}
	z := c.ZKClient(t)
	for _, path := range []string{"/consumers/" + group, fmt.Sprintf("/gokafka/txn-offsets/%d/%s", pid, group)} {
		if ok, err := z.Exists(path); err != nil || ok {
			t.Errorf("%s after the commit: exists=%v (%v), want gone", path, ok, err)
		}
	}
}
