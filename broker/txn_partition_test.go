package broker

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handler tests of the partition side of transactions: transactional
// produce, WriteTxnMarkers, read_committed Fetch and ListOffsets, and
// DescribeProducers, driven with the requests a producer and a
// transaction coordinator send.

// txnBatch is a transactional batch of n records from pid/epoch at seq.
func txnBatch(pid int64, epoch int16, seq int32, n int) []byte {
	rs := make([]testRecord, n)
	for i := range rs {
		rs[i] = testRecord{value: []byte("t"), tsDelta: int64(i)}
	}
	return testBatch(testBatchOpts{producerID: pid, producerEpoch: epoch, baseSequence: seq, baseTimestamp: 1000, attributes: recordbatch.AttrTransactional}, rs)
}

// txnProduce sends one batch to partition 0 of topic as transactional id
// "tx" (nil: no transactional id) and returns the partition's answer.
func txnProduce(t *testing.T, s *Server, topic string, txnID *string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := produceReq(9, -1, topic, batch)
	req.TransactionID = txnID
	resp, err := s.handleProduce(context.Background(), &wire.RequestHeader{APIKey: 0, APIVersion: 9}, req)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return settle(t, resp).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
}

// settle waits for a deferred answer (acks=all, markers) and returns it.
func settle(t *testing.T, resp kmsg.Response) kmsg.Response {
	t.Helper()
	if d, ok := resp.(*wire.DeferredResponse); ok {
		d.Wait(context.Background())
		return d.Response
	}
	return resp
}

// writeMarkers sends one WriteTxnMarkers marker and returns the error code
// of each partition.
func writeMarkers(t *testing.T, s *Server, pid int64, epoch int16, coordEpoch int32, commit bool, topic string, parts ...int32) []int16 {
	t.Helper()
	req := kmsg.NewPtrWriteTxnMarkersRequest()
	req.Version = 1
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.CoordinatorEpoch, m.Committed = pid, epoch, coordEpoch, commit
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, parts
	m.Topics = append(m.Topics, mt)
	req.Markers = append(req.Markers, m)
	resp, err := s.handleWriteTxnMarkers(context.Background(), &wire.RequestHeader{APIKey: 27, APIVersion: 1}, req)
	if err != nil {
		t.Fatalf("write markers: %v", err)
	}
	r := settle(t, resp).(*kmsg.WriteTxnMarkersResponse)
	if len(r.Markers) != 1 || r.Markers[0].ProducerID != pid || len(r.Markers[0].Topics) != 1 {
		t.Fatalf("answer %+v", r)
	}
	var codes []int16
	for _, p := range r.Markers[0].Topics[0].Partitions {
		codes = append(codes, p.ErrorCode)
	}
	return codes
}

// fetchIsolated fetches partition 0 from offset at an isolation level and
// returns the partition's answer with the offsets of the data records
// (control batches skipped) and the control batches seen.
func fetchIsolated(t *testing.T, s *Server, topic string, id [16]byte, offset int64, isolation int8) (kmsg.FetchResponseTopicPartition, []int64, int) {
	t.Helper()
	req := fetchReq(12, topic, id, 1<<20, offset)
	req.IsolationLevel = isolation
	sp := doFetch(t, context.Background(), s, req).Topics[0].Partitions[0]
	var offs []int64
	controls := 0
	for data := sp.RecordBatches; len(data) > 0; {
		h, err := wire.ParseBatchHeader(data)
		if err != nil {
			t.Fatalf("fetched batch: %v", err)
		}
		if h.IsControl() {
			controls++
		} else {
			for o := h.BaseOffset; o <= h.BaseOffset+int64(h.LastOffsetDelta); o++ {
				offs = append(offs, o)
			}
		}
		data = data[h.Size():]
	}
	return sp, offs, controls
}

func TestTransactionalProduceNeedsTransactionalID(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{1}, 1, testTopicConfig())
	if sp := txnProduce(t, s, "t", nil, txnBatch(1, 0, 0, 1)); sp.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional batch without a transactional id: error %d, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", sp.ErrorCode)
	}
	id := "tx"
	if sp := txnProduce(t, s, "t", &id, txnBatch(1, 0, 0, 2)); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Fatalf("transactional batch: error %d at %d, want 0 at 0", sp.ErrorCode, sp.BaseOffset)
	}
	// A plain batch of the same producer inside its transaction.
	if sp := txnProduce(t, s, "t", &id, idempotentBatch(1, 0, 2, 1, 1000)); sp.ErrorCode != kerr.InvalidTxnState.Code {
		t.Fatalf("plain batch inside the transaction: error %d, want INVALID_TXN_STATE", sp.ErrorCode)
	}
	if sp := txnProduce(t, s, "t", &id, txnBatch(1, 0, 2, 1)); sp.ErrorCode != 0 {
		t.Fatalf("next transactional batch: error %d", sp.ErrorCode)
	}
}

func TestMarkersAndReadCommitted(t *testing.T) {
	s := newDataServer(t)
	id := [16]byte{2}
	addTopic(t, s, "t", id, 2, testTopicConfig(), 0)
	txn := "tx"
	txnProduce(t, s, "t", &txn, txnBatch(5, 0, 0, 3)) // 0..2
	txnProduce(t, s, "t", nil, plainBatch(2, 1000))   // 3..4
	sp, offs, _ := fetchIsolated(t, s, "t", id, 0, 1)
	if sp.ErrorCode != 0 || sp.LastStableOffset != 0 || sp.HighWatermark != 5 || len(offs) != 0 || sp.AbortedTransactions == nil {
		t.Fatalf("read_committed with an open transaction: error %d LSO %d HW %d records %v aborted %v; want LSO 0, HW 5, nothing",
			sp.ErrorCode, sp.LastStableOffset, sp.HighWatermark, offs, sp.AbortedTransactions)
	}
	if _, offs, _ := fetchIsolated(t, s, "t", id, 0, 0); !slices.Equal(offs, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("read_uncommitted: %v, want 0..4", offs)
	}
	lo := listOffsetsAt(t, s, "t", -1, 1)
	if lo != 0 {
		t.Fatalf("ListOffsets latest read_committed: %d, want the LSO 0", lo)
	}
	if lo := listOffsetsAt(t, s, "t", -1, 0); lo != 5 {
		t.Fatalf("ListOffsets latest read_uncommitted: %d, want the HW 5", lo)
	}

	// Errors of the coordinator's side first.
	if c := writeMarkers(t, s, 5, -1, 0, false, "t", 0); c[0] != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("marker of an older epoch: %d, want INVALID_PRODUCER_EPOCH", c[0])
	}
	if c := writeMarkers(t, s, 5, 0, 0, false, "t", 0, 1, 9); !slices.Equal(c, []int16{0, kerr.NotLeaderForPartition.Code, kerr.UnknownTopicOrPartition.Code}) {
		t.Fatalf("abort on a led, a not led and an unknown partition: %v", c)
	}
	if c := writeMarkers(t, s, 5, 0, 0, false, "nope", 0); c[0] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %d", c[0])
	}
	sp, offs, controls := fetchIsolated(t, s, "t", id, 0, 1)
	want := []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 5, FirstOffset: 0}}
	if sp.LastStableOffset != 6 || !slices.Equal(offs, []int64{0, 1, 2, 3, 4}) || controls != 1 || len(sp.AbortedTransactions) != 1 ||
		sp.AbortedTransactions[0].ProducerID != want[0].ProducerID || sp.AbortedTransactions[0].FirstOffset != want[0].FirstOffset {
		t.Fatalf("read_committed after the abort: LSO %d records %v controls %d aborted %+v", sp.LastStableOffset, offs, controls, sp.AbortedTransactions)
	}
	if sp, _, _ := fetchIsolated(t, s, "t", id, 3, 1); len(sp.AbortedTransactions) != 1 {
		t.Fatalf("read_committed from inside the aborted transaction: aborted %+v, want it listed", sp.AbortedTransactions)
	}
	if sp, _, _ := fetchIsolated(t, s, "t", id, 6, 1); len(sp.AbortedTransactions) != 0 {
		t.Fatalf("read_committed after the marker: aborted %+v, want none", sp.AbortedTransactions)
	}

	// A consumer older than 0.11 (Fetch v2, format v1) reads uncommitted,
	// as in Kafka, without the control batch: offsets 0..4.
	old := doFetch(t, context.Background(), s, fetchReq(2, "t", id, 1<<20, 0)).Topics[0].Partitions[0]
	var oldOffs []int64
	for _, m := range readOldSet(t, old.RecordBatches) {
		oldOffs = append(oldOffs, m.Offset)
	}
	if !slices.Equal(oldOffs, []int64{0, 1, 2, 3, 4}) {
		t.Fatalf("Fetch v2 after the abort: offsets %v, want 0..4 and no marker", oldOffs)
	}

	// A committed transaction with a newer coordinator: then an older
	// coordinator's marker is fenced.
	txnProduce(t, s, "t", &txn, txnBatch(5, 1, 0, 1)) // 6, new epoch
	if c := writeMarkers(t, s, 5, 1, 3, true, "t", 0); c[0] != 0 {
		t.Fatalf("commit: %d", c[0])
	}
	if c := writeMarkers(t, s, 5, 1, 2, true, "t", 0); c[0] != kerr.TransactionCoordinatorFenced.Code {
		t.Fatalf("marker of an older coordinator: %d, want TRANSACTION_COORDINATOR_FENCED", c[0])
	}
	sp, offs, _ = fetchIsolated(t, s, "t", id, 6, 1)
	if !slices.Equal(offs, []int64{6}) || len(sp.AbortedTransactions) != 0 || sp.LastStableOffset != sp.HighWatermark {
		t.Fatalf("read_committed of the committed transaction: records %v aborted %+v LSO %d HW %d", offs, sp.AbortedTransactions, sp.LastStableOffset, sp.HighWatermark)
	}

	// DescribeProducers shows the producer with its coordinator epoch
	// and no open transaction.
	dreq := kmsg.NewPtrDescribeProducersRequest()
	dt := kmsg.NewDescribeProducersRequestTopic()
	dt.Topic, dt.Partitions = "t", []int32{0, 1, 7}
	dreq.Topics = append(dreq.Topics, dt)
	dr, err := s.handleDescribeProducers(context.Background(), &wire.RequestHeader{APIKey: 61}, dreq)
	if err != nil {
		t.Fatal(err)
	}
	ps := dr.(*kmsg.DescribeProducersResponse).Topics[0].Partitions
	if ps[1].ErrorCode != kerr.NotLeaderForPartition.Code || ps[2].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("describe producers errors: %d %d", ps[1].ErrorCode, ps[2].ErrorCode)
	}
	if ap := ps[0].ActiveProducers; ps[0].ErrorCode != 0 || len(ap) != 1 || ap[0].ProducerID != 5 || ap[0].ProducerEpoch != 1 ||
		ap[0].CoordinatorEpoch != 3 || ap[0].CurrentTxnStartOffset != -1 || ap[0].LastSequence != 0 {
		t.Fatalf("describe producers: %+v", ps[0])
	}
}

// listOffsetsAt asks partition 0's offset for ts at an isolation level.
func listOffsetsAt(t *testing.T, s *Server, topic string, ts int64, isolation int8) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 5
	req.ReplicaID = -1
	req.IsolationLevel = isolation
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rp.CurrentLeaderEpoch = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := s.handleListOffsets(context.Background(), &wire.RequestHeader{APIKey: 2, APIVersion: 5}, req)
	if err != nil {
		t.Fatal(err)
	}
	sp := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	if sp.ErrorCode != 0 {
		t.Fatalf("list offsets: error %d", sp.ErrorCode)
	}
	return sp.Offset
}

// fakeVerifier answers VerifyTxnPartition with err and counts the calls.
type fakeVerifier struct {
	err   *kerr.Error
	calls int
}

func (f *fakeVerifier) VerifyTxnPartitions(ctx context.Context, txnID string, pid int64, epoch int16, tps []txncoord.TopicPartition) map[txncoord.TopicPartition]*kerr.Error {
	f.calls++
	out := map[txncoord.TopicPartition]*kerr.Error{}
	for _, tp := range tps {
		out[tp] = f.err
	}
	return out
}

// fakeOffsetsMarker records the markers for offsets partitions.
type fakeOffsetsMarker struct{ got []string }

func (f *fakeOffsetsMarker) CompleteTxnOffsets(ctx context.Context, pid int64, epoch int16, coordEpoch int32, commit bool, part int32) *kerr.Error {
	f.got = append(f.got, fmt.Sprintf("commit=%v/%d/%d", commit, pid, part))
	return nil
}

func TestTxnHooks(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{3}, 1, testTopicConfig())
	txn := "tx"
	v := &fakeVerifier{err: kerr.InvalidTxnState}
	s.SetTxnVerifier(v)
	if sp := txnProduce(t, s, "t", &txn, txnBatch(1, 0, 0, 1)); sp.ErrorCode != kerr.InvalidTxnState.Code || v.calls != 1 {
		t.Fatalf("unverified first batch: error %d after %d calls, want INVALID_TXN_STATE after 1", sp.ErrorCode, v.calls)
	}
	v.err = nil
	if sp := txnProduce(t, s, "t", &txn, txnBatch(1, 0, 0, 1)); sp.ErrorCode != 0 || v.calls != 2 {
		t.Fatalf("verified first batch: error %d after %d calls", sp.ErrorCode, v.calls)
	}
	if sp := txnProduce(t, s, "t", &txn, txnBatch(1, 0, 1, 1)); sp.ErrorCode != 0 || v.calls != 2 {
		t.Fatalf("second batch of the transaction: error %d, %d calls (want no new verification)", sp.ErrorCode, v.calls)
	}
	if sp := txnProduce(t, s, "t", nil, plainBatch(1, 1000)); sp.ErrorCode != 0 || v.calls != 2 {
		t.Fatalf("plain batch: error %d, %d calls", sp.ErrorCode, v.calls)
	}

	if c := writeMarkers(t, s, 1, 0, 0, true, markerOffsetsTopic, 4); c[0] != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("offsets partition without a hook: %d, want UNKNOWN_TOPIC_OR_PARTITION", c[0])
	}
	om := &fakeOffsetsMarker{}
	s.SetTxnOffsetsMarker(om)
	if c := writeMarkers(t, s, 1, 0, 0, true, markerOffsetsTopic, 4); c[0] != 0 || !slices.Equal(om.got, []string{"commit=true/1/4"}) {
		t.Fatalf("offsets partition with a hook: %d, hook saw %v", c[0], om.got)
	}
}
