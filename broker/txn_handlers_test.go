package broker

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/gokafka/gokafka/groupcoord"
	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// newTxnServer is a data server with one-partition __transaction_state led
// here, the coordinator started over it and the partition loaded, and a
// two-partition topic "data".
func newTxnServer(t *testing.T) *Server {
	t.Helper()
	s := newDataServer(t)
	s.cfg.Txn = TxnConfig{StateLogNumPartitions: 1}
	addTopic(t, s, txncoord.TopicName, [16]byte{9}, 1, testTopicConfig())
	addTopic(t, s, "data", [16]byte{8}, 2, testTopicConfig())
	if err := s.startTxnCoordinator(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stopTxnCoordinator)
	loadTxnState(t, s, 1)
	return s
}

// loadTxnState (re)loads partition 0 of __transaction_state at epoch, as
// LeaderAndIsr does, and waits for the load.
func loadTxnState(t *testing.T, s *Server, epoch int32) {
	t.Helper()
	p, _ := s.replicas.get(topicPartition{txncoord.TopicName, 0})
	s.txnStateLeadership(p, true, epoch)
	waitUntil(t, "the transaction state to load", func() bool { return s.txn.Loaded()[0] == epoch })
}

func callTxn[R kmsg.Response](t *testing.T, s *Server, h handlerFunc, req kmsg.Request) R {
	t.Helper()
	resp, err := h(s, context.Background(), &wire.RequestHeader{APIKey: req.Key(), APIVersion: req.GetVersion()}, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.(R)
}

func addPartitionsReq(v int16, id string, pid int64, epoch int16, topics map[string][]int32) *kmsg.AddPartitionsToTxnRequest {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = v
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
	for _, topic := range slices.Sorted(maps.Keys(topics)) {
		req.Topics = append(req.Topics, kmsg.AddPartitionsToTxnRequestTopic{Topic: topic, Partitions: topics[topic]})
	}
	return req
}

// codes flattens an AddPartitionsToTxn v0-3 answer to "topic-p" -> code.
func addPartitionsCodes(r *kmsg.AddPartitionsToTxnResponse) map[string]int16 {
	out := map[string]int16{}
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			out[topicPartition{t.Topic, p.Partition}.String()] = p.ErrorCode
		}
	}
	return out
}

func TestTxnHandlers(t *testing.T) {
	s := newTxnServer(t)
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	init.TransactionalID = kmsg.StringPtr("tx")
	init.TransactionTimeoutMillis = 60000
	ip := callTxn[*kmsg.InitProducerIDResponse](t, s, (*Server).handleInitProducerID, init)
	if ip.ErrorCode != 0 || ip.ProducerEpoch != 0 {
		t.Fatalf("InitProducerId: %+v", ip)
	}
	pid := ip.ProducerID

	tests := []struct {
		name  string
		req   *kmsg.AddPartitionsToTxnRequest
		codes map[string]int16
	}{
		{"unknown topic: nothing attempted", addPartitionsReq(3, "tx", pid, 0, map[string][]int32{"data": {0}, "nope": {0}}),
			map[string]int16{"data-0": kerr.OperationNotAttempted.Code, "nope-0": kerr.UnknownTopicOrPartition.Code}},
		{"unknown partition", addPartitionsReq(3, "tx", pid, 0, map[string][]int32{"data": {0, 7}}),
			map[string]int16{"data-0": kerr.OperationNotAttempted.Code, "data-7": kerr.UnknownTopicOrPartition.Code}},
		{"wrong epoch, v3", addPartitionsReq(3, "tx", pid, 1, map[string][]int32{"data": {0}}), map[string]int16{"data-0": kerr.ProducerFenced.Code}},
		{"wrong epoch, v1 (before KIP-588)", addPartitionsReq(1, "tx", pid, 1, map[string][]int32{"data": {0}}),
			map[string]int16{"data-0": kerr.InvalidProducerEpoch.Code}},
		{"other producer id", addPartitionsReq(3, "tx", pid+1, 0, map[string][]int32{"data": {0}}),
			map[string]int16{"data-0": kerr.InvalidProducerIDMapping.Code}},
		{"added", addPartitionsReq(3, "tx", pid, 0, map[string][]int32{"data": {0}}), map[string]int16{"data-0": 0}},
	}
	for _, tt := range tests {
		got := addPartitionsCodes(callTxn[*kmsg.AddPartitionsToTxnResponse](t, s, (*Server).handleAddPartitionsToTxn, tt.req))
		if !maps.Equal(got, tt.codes) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.codes)
		}
	}

	// The broker's verify-only form (v4+).
	verify := kmsg.NewPtrAddPartitionsToTxnRequest()
	verify.Version = 5
	vt := kmsg.NewAddPartitionsToTxnRequestTransaction()
	vt.TransactionalID, vt.ProducerID, vt.ProducerEpoch, vt.VerifyOnly = "tx", pid, 0, true
	vt.Topics = []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: "data", Partitions: []int32{0, 1}}}
	verify.Transactions = append(verify.Transactions, vt)
	vr := callTxn[*kmsg.AddPartitionsToTxnResponse](t, s, (*Server).handleAddPartitionsToTxn, verify)
	if len(vr.Transactions) != 1 || len(vr.Transactions[0].Topics) != 1 {
		t.Fatalf("verify answer: %+v", vr)
	}
	vp := vr.Transactions[0].Topics[0].Partitions
	if vp[0].ErrorCode != 0 || vp[1].ErrorCode != kerr.TransactionAbortable.Code {
		t.Fatalf("verify: %+v, want data-0 NONE, data-1 TRANSACTION_ABORTABLE", vp)
	}
	// The offsets partition of a group has no log here but is a partition
	// a transaction may hold: not UNKNOWN_TOPIC_OR_PARTITION.
	vt.Topics = []kmsg.AddPartitionsToTxnRequestTransactionTopic{{Topic: txncoord.OffsetsTopic, Partitions: []int32{3}}}
	verify.Transactions = []kmsg.AddPartitionsToTxnRequestTransaction{vt}
	vr = callTxn[*kmsg.AddPartitionsToTxnResponse](t, s, (*Server).handleAddPartitionsToTxn, verify)
	if code := vr.Transactions[0].Topics[0].Partitions[0].ErrorCode; code != kerr.TransactionAbortable.Code {
		t.Fatalf("verify of __consumer_offsets-3 not in the transaction: %v, want TRANSACTION_ABORTABLE", kerr.ErrorForCode(code))
	}
	data0, data1 := txncoord.TopicPartition{Topic: "data", Partition: 0}, txncoord.TopicPartition{Topic: "data", Partition: 1}
	if e := s.txnVerify.VerifyTxnPartitions(context.Background(), "tx", pid, 0, []txncoord.TopicPartition{data1})[data1]; e != kerr.TransactionAbortable {
		t.Fatalf("the produce path's verifier for data-1: %v", e)
	}
	if e := s.txnVerify.VerifyTxnPartitions(context.Background(), "tx", pid, 3, []txncoord.TopicPartition{data0})[data0]; e != kerr.InvalidProducerEpoch {
		t.Fatalf("the produce path's verifier with a wrong epoch: %v, want INVALID_PRODUCER_EPOCH", e)
	}

	// The state is in the partition's log: a reload finds it.
	s.txn.Unload(0, -1)
	loadTxnState(t, s, 2)
	desc := kmsg.NewPtrDescribeTransactionsRequest()
	desc.TransactionalIDs = []string{"tx", "unknown"}
	dr := callTxn[*kmsg.DescribeTransactionsResponse](t, s, (*Server).handleDescribeTransactions, desc)
	d := dr.TransactionStates[0]
	if d.ErrorCode != 0 || d.State != "Ongoing" || d.ProducerID != pid || len(d.Topics) != 1 || !slices.Equal(d.Topics[0].Partitions, []int32{0}) {
		t.Fatalf("after reload: %+v", d)
	}
	if dr.TransactionStates[1].ErrorCode != kerr.TransactionalIDNotFound.Code {
		t.Fatalf("unknown id: %+v", dr.TransactionStates[1])
	}

	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 1
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "tx", pid, 5, true
	if r := callTxn[*kmsg.EndTxnResponse](t, s, (*Server).handleEndTxn, end); r.ErrorCode != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("EndTxn v1 with a wrong epoch: %v, want INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(r.ErrorCode))
	}
	list := kmsg.NewPtrListTransactionsRequest()
	list.Version = 1
	list.StateFilters = []string{"Ongoing", "Nope"}
	lr := callTxn[*kmsg.ListTransactionsResponse](t, s, (*Server).handleListTransactions, list)
	if lr.ErrorCode != 0 || len(lr.TransactionStates) != 1 || lr.TransactionStates[0].TransactionalID != "tx" || !slices.Equal(lr.UnknownStateFilters, []string{"Nope"}) {
		t.Fatalf("ListTransactions: %+v", lr)
	}
}

// memOffsets is an in-memory groupcoord.OffsetStore.
type memOffsets struct {
	mu sync.Mutex
	m  map[string]map[groupcoord.TopicPartition]groupcoord.CommittedOffset
}

func (s *memOffsets) Commit(_ context.Context, group string, offsets []groupcoord.CommittedOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[group] == nil {
		s.m[group] = map[groupcoord.TopicPartition]groupcoord.CommittedOffset{}
	}
	for _, o := range offsets {
		s.m[group][o.TopicPartition] = o
	}
	return nil
}

func (s *memOffsets) Fetch(_ context.Context, group string) (map[groupcoord.TopicPartition]groupcoord.CommittedOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m[group]), nil
}

func (s *memOffsets) Delete(context.Context, string, ...groupcoord.TopicPartition) error { return nil }
func (s *memOffsets) Groups(context.Context) ([]string, error)                           { return nil, nil }

// TestTxnOffsetCommitHandler: TxnOffsetCommit needs the group's offsets
// partition in the producer's transaction at its epoch; its offsets stay
// pending (UNSTABLE_OFFSET_COMMIT for require_stable) until the marker
// commits them to the store.
func TestTxnOffsetCommitHandler(t *testing.T) {
	s := newTxnServer(t)
	store := &memOffsets{m: map[string]map[groupcoord.TopicPartition]groupcoord.CommittedOffset{}}
	g, err := groupcoord.New(groupcoord.Config{Store: store, OffsetsRetentionCheckInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	s.groups = g
	init := kmsg.NewPtrInitProducerIDRequest()
	init.Version = 4
	init.TransactionalID = kmsg.StringPtr("eos")
	init.TransactionTimeoutMillis = 60000
	ip := callTxn[*kmsg.InitProducerIDResponse](t, s, (*Server).handleInitProducerID, init)
	pid := ip.ProducerID

	commit := func(v int16, epoch int16) int16 {
		req := kmsg.NewPtrTxnOffsetCommitRequest()
		req.Version = v
		req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = "eos", "copy", pid, epoch, -1
		req.Topics = []kmsg.TxnOffsetCommitRequestTopic{{Topic: "data", Partitions: []kmsg.TxnOffsetCommitRequestTopicPartition{{Partition: 1, Offset: 42, LeaderEpoch: -1}}}}
		return callTxn[*kmsg.TxnOffsetCommitResponse](t, s, (*Server).handleTxnOffsetCommit, req).Topics[0].Partitions[0].ErrorCode
	}
	if code := commit(3, 0); code != kerr.InvalidTxnState.Code {
		t.Fatalf("TxnOffsetCommit before AddOffsetsToTxn: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.Version = 3
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = "eos", pid, 0, "copy"
	if r := callTxn[*kmsg.AddOffsetsToTxnResponse](t, s, (*Server).handleAddOffsetsToTxn, ao); r.ErrorCode != 0 {
		t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	for _, tt := range []struct {
		v     int16
		epoch int16
		want  int16
	}{{3, 1, kerr.ProducerFenced.Code}, {2, 1, kerr.InvalidProducerEpoch.Code}, {3, 0, 0}} {
		if code := commit(tt.v, tt.epoch); code != tt.want {
			t.Errorf("TxnOffsetCommit v%d at epoch %d: %v, want %v", tt.v, tt.epoch, kerr.ErrorForCode(code), kerr.ErrorForCode(tt.want))
		}
	}
	fetch := func() (int64, int16) {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 8
		req.RequireStable = true
		req.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "copy", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "data", Partitions: []int32{1}}}}}
		p := g.OffsetFetch(context.Background(), req).Groups[0].Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if off, code := fetch(); off != -1 || code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable fetch while pending: %d, %v", off, kerr.ErrorForCode(code))
	}
	part := txncoord.PartitionFor("copy", 50)
	if e := (txnOffsetsMarker{s}).CompleteTxnOffsets(context.Background(), pid, 0, 1, true, part); e != nil {
		t.Fatal(e)
	}
	if off, code := fetch(); off != 42 || code != 0 {
		t.Fatalf("fetch after the COMMIT marker: %d, %v", off, kerr.ErrorForCode(code))
	}
	if o := store.m["copy"][groupcoord.TopicPartition{Topic: "data", Partition: 1}]; o.Offset != 42 {
		t.Fatalf("store after the marker: %+v", o)
	}
}
