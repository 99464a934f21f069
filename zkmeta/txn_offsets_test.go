package zkmeta

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestTxnOffsetsLifecycle walks pending transactional offsets through
// their life: they sit under /gokafka/txn-offsets and nowhere under
// /consumers, an older epoch is fenced, the commit marker moves them to
// /consumers exactly once (a second broker applying the same marker finds
// nothing), and the abort marker drops them.
func TestTxnOffsetsLifecycle(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	now := time.UnixMilli(1_700_000_000_000)
	o1 := ConsumerOffset{Topic: "in", Partition: 0, Offset: 10, LeaderEpoch: 2, Metadata: "m", CommitTime: now}
	o2 := ConsumerOffset{Topic: "in", Partition: 1, Offset: 20, LeaderEpoch: -1, CommitTime: now}

	if err := c.PutTxnOffsets(ctx, 4000, 3, "g", []ConsumerOffset{o1}); err != nil {
		t.Fatal(err)
	}
	o1b := o1
	o1b.Offset = 11
	if err := c.PutTxnOffsets(ctx, 4000, 3, "g", []ConsumerOffset{o1b, o2}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutTxnOffsets(ctx, 4000, 2, "g", []ConsumerOffset{o1}); !errors.Is(err, ErrTxnOffsetsFenced) {
		t.Fatalf("put at an older epoch: %v, want ErrTxnOffsetsFenced", err)
	}
	raw := rawConn(t)
	if data, _ := rawGet(t, raw, chroot+"/gokafka/txn-offsets/4000/g"); len(data) == 0 {
		t.Fatal("no pending znode")
	}
	if got, err := c.ConsumerOffsets(ctx, "g"); err != nil || len(got) != 0 {
		t.Fatalf("committed offsets while pending: %v, %v; want none", got, err)
	}
	pending, err := c.TxnOffsetsOfGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	want := []PendingTxnOffsets{{ProducerID: 4000, ProducerEpoch: 3, Offsets: []ConsumerOffset{o1b, o2}}}
	if !reflect.DeepEqual(pending, want) {
		t.Fatalf("pending = %+v, want %+v", pending, want)
	}
	if groups, err := c.TxnOffsetGroups(ctx, 4000); err != nil || !reflect.DeepEqual(groups, []string{"g"}) {
		t.Fatalf("groups of producer 4000 = %v, %v", groups, err)
	}

	// A marker of an older epoch does not touch a later transaction's offsets.
	if _, applied, err := c.CompleteTxnOffsets(ctx, 4000, 2, "g", true); err != nil || applied {
		t.Fatalf("marker at an older epoch: applied=%v, %v", applied, err)
	}
	got, applied, err := c.CompleteTxnOffsets(ctx, 4000, 3, "g", true)
	if err != nil || !applied || !reflect.DeepEqual(got, []ConsumerOffset{o1b, o2}) {
		t.Fatalf("commit marker: %v, %v, %v", got, applied, err)
	}
	if _, applied, err := c.CompleteTxnOffsets(ctx, 4000, 3, "g", true); err != nil || applied {
		t.Fatalf("repeated commit marker: applied=%v, %v; want nothing to do", applied, err)
	}
	committed, err := c.ConsumerOffsets(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(committed) != 2 || committed[0].Offset != 11 || committed[1].Offset != 20 {
		t.Fatalf("committed after the marker: %+v", committed)
	}
	if exists, err := c.znodeExists(ctx, "/gokafka/txn-offsets/4000"); err != nil || exists {
		t.Fatalf("producer znode after its last marker: exists=%v, %v", exists, err)
	}

	// Abort drops them.
	if err := c.PutTxnOffsets(ctx, 4001, 0, "g", []ConsumerOffset{{Topic: "in", Partition: 0, Offset: 99, LeaderEpoch: -1, CommitTime: now}}); err != nil {
		t.Fatal(err)
	}
	if _, applied, err := c.CompleteTxnOffsets(ctx, 4001, 0, "g", false); err != nil || !applied {
		t.Fatalf("abort marker: applied=%v, %v", applied, err)
	}
	committed, err = c.ConsumerOffsets(ctx, "g")
	if err != nil || committed[0].Offset != 11 {
		t.Fatalf("committed after an abort: %+v, %v", committed, err)
	}
	if pending, err := c.TxnOffsetsOfGroup(ctx, "g"); err != nil || len(pending) != 0 {
		t.Fatalf("pending after the abort: %+v, %v", pending, err)
	}
}

// TestDeleteTxnOffsetsOfGroup: deleting a group's pending offsets removes
// them under every producer and leaves other groups' alone, so the deleted
// group's COMMIT marker finds nothing to write under /consumers while the
// other group's still commits.
func TestDeleteTxnOffsetsOfGroup(t *testing.T) {
	chroot := testChroot(t)
	c := connect(t, chroot)
	ctx := testCtx(t)
	o := ConsumerOffset{Topic: "in", Partition: 0, Offset: 42, LeaderEpoch: -1, CommitTime: time.UnixMilli(1_700_000_000_000)}
	for _, put := range []struct {
		pid   int64
		group string
	}{{5000, "gone"}, {5001, "gone"}, {5001, "kept"}} {
		if err := c.PutTxnOffsets(ctx, put.pid, 0, put.group, []ConsumerOffset{o}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := c.DeleteTxnOffsetsOfGroup(ctx, "gone"); err != nil || n != 2 {
		t.Fatalf("delete pending offsets of gone: %d producers, %v; want 2", n, err)
	}
	if n, err := c.DeleteTxnOffsetsOfGroup(ctx, "gone"); err != nil || n != 0 {
		t.Fatalf("deleting again: %d producers, %v; want 0", n, err)
	}
	if pending, err := c.TxnOffsetsOfGroup(ctx, "gone"); err != nil || len(pending) != 0 {
		t.Fatalf("pending offsets of gone after the delete: %+v, %v", pending, err)
	}
	raw := rawConn(t)
	if rawExists(t, raw, chroot+"/gokafka/txn-offsets/5000") {
		t.Error("producer 5000's znode left behind with no group under it")
	}
	for _, pid := range []int64{5000, 5001} {
		if _, applied, err := c.CompleteTxnOffsets(ctx, pid, 0, "gone", true); err != nil || applied {
			t.Fatalf("commit marker of producer %d for gone: applied=%v, %v; want nothing to do", pid, applied, err)
		}
	}
	if got, err := c.ConsumerOffsets(ctx, "gone"); err != nil || len(got) != 0 {
		t.Fatalf("gone's offsets after the marker: %+v, %v; want none", got, err)
	}
	if groups, err := c.ConsumerGroups(ctx); err != nil || len(groups) != 0 {
		t.Fatalf("groups with offsets: %v, %v; want none", groups, err)
	}
	if _, applied, err := c.CompleteTxnOffsets(ctx, 5001, 0, "kept", true); err != nil || !applied {
		t.Fatalf("commit marker for kept: applied=%v, %v", applied, err)
	}
	if got, err := c.ConsumerOffsets(ctx, "kept"); err != nil || len(got) != 1 || got[0].Offset != 42 {
		t.Fatalf("kept's offsets after the marker: %+v, %v; want 42", got, err)
	}
}

// TestTxnOffsetsLargeCommit commits more partitions than one multi holds.
func TestTxnOffsetsLargeCommit(t *testing.T) {
	c := connect(t, testChroot(t))
	ctx := testCtx(t)
	var offs []ConsumerOffset
	for p := int32(0); p < 250; p++ {
		offs = append(offs, ConsumerOffset{Topic: "big", Partition: p, Offset: int64(p) + 1, LeaderEpoch: -1, CommitTime: time.UnixMilli(1)})
	}
	if err := c.PutTxnOffsets(ctx, 7, 0, "g", offs); err != nil {
		t.Fatal(err)
	}
	if _, applied, err := c.CompleteTxnOffsets(ctx, 7, 0, "g", true); err != nil || !applied {
		t.Fatalf("commit marker: applied=%v, %v", applied, err)
	}
	committed, err := c.ConsumerOffsets(ctx, "g")
	if err != nil || len(committed) != 250 {
		t.Fatalf("committed: %d, %v; want 250", len(committed), err)
	}
	for _, o := range committed {
		if o.Offset != int64(o.Partition)+1 {
			t.Fatalf("partition %d committed at %d", o.Partition, o.Offset)
		}
	}
}

// FuzzDecodeTxnOffsets: whatever a pending-offsets znode holds, decoding
// returns an error or a value that encodes and decodes to itself.
func FuzzDecodeTxnOffsets(f *testing.F) {
	f.Add([]byte(`{"version":1,"producer_id":4000,"producer_epoch":2,"offsets":[{"topic":"t","partition":0,"offset":42,"leader_epoch":-1,"metadata":"m","commit_timestamp":1700000000000}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"offsets":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodeTxnOffsets(data)
		if err != nil {
			return
		}
		enc, err := encodeTxnOffsets(p)
		if err != nil {
			t.Fatalf("encode %+v: %v", p, err)
		}
		again, err := decodeTxnOffsets(enc)
		if err != nil {
			t.Fatalf("decode of our own encoding %s: %v", enc, err)
		}
		if p.ProducerID != again.ProducerID || p.ProducerEpoch != again.ProducerEpoch || len(p.Offsets) != len(again.Offsets) {
			t.Fatalf("round trip changed %+v into %+v", p, again)
		}
	})
}
