package compattests

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// These tests drive the transaction coordinator with raw requests, the
// way a Kafka client does before any transactional record is written: they
// need no partition-side transaction support (WriteTxnMarkers), so they
// stop before a commit or abort has to reach the partitions.

// txnCoordinator waits until FindCoordinator names a coordinator for id
// (the first asks create __transaction_state) and returns its node id.
func txnCoordinator(ctx context.Context, t *testing.T, cl *kgo.Client, id string) int32 {
	t.Helper()
	return findCoordinator(ctx, t, cl, 1, id)
}

// findCoordinator waits until FindCoordinator names a coordinator of
// keyType (0 group, 1 transaction) for key and returns its node id.
func findCoordinator(ctx context.Context, t *testing.T, cl *kgo.Client, keyType int8, key string) int32 {
	t.Helper()
	var node int32 = -1
	waitUntil(t, time.Minute, "a coordinator for "+key, func() bool {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType = keyType
		req.CoordinatorKey = key
		req.CoordinatorKeys = []string{key}
		raw, err := cl.Request(ctx, req)
		if err != nil {
			return false
		}
		resp := raw.(*kmsg.FindCoordinatorResponse)
		if len(resp.Coordinators) == 1 && resp.Coordinators[0].ErrorCode == 0 {
			node = resp.Coordinators[0].NodeID
			return true
		}
		return false
	})
	return node
}

// txnRequest sends req to broker node, retrying while the coordinator is
// loading its state or has not yet heard from the controller that it leads
// the id's partition (FindCoordinator may name it first), and returns the
// answer.
func txnRequest[R kmsg.Response](ctx context.Context, t *testing.T, cl *kgo.Client, node int32, req kmsg.Request, code func(R) int16) R {
	t.Helper()
	var resp R
	waitUntil(t, time.Minute, "an answer from the coordinator", func() bool {
		raw, err := cl.Broker(int(node)).Request(ctx, req)
		if err != nil {
			t.Logf("request %d to %d: %v", req.Key(), node, err)
			return false
		}
		resp = raw.(R)
		switch code(resp) {
		case kerr.CoordinatorLoadInProgress.Code, kerr.NotCoordinator.Code, kerr.CoordinatorNotAvailable.Code:
			return false
		}
		return true
	})
	return resp
}

func initPID(ctx context.Context, t *testing.T, cl *kgo.Client, node int32, id string, timeoutMs int32) *kmsg.InitProducerIDResponse {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.Version = 4
	req.TransactionalID = kmsg.StringPtr(id)
	req.TransactionTimeoutMillis = timeoutMs
	return txnRequest(ctx, t, cl, node, req, func(r *kmsg.InitProducerIDResponse) int16 { return r.ErrorCode })
}

func addPartitions(ctx context.Context, t *testing.T, cl *kgo.Client, node int32, id string, pid int64, epoch int16, topic string, parts ...int32) int16 {
	t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.Version = 3
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = id, pid, epoch
	req.Topics = []kmsg.AddPartitionsToTxnRequestTopic{{Topic: topic, Partitions: parts}}
	resp := txnRequest(ctx, t, cl, node, req, func(r *kmsg.AddPartitionsToTxnResponse) int16 { return r.Topics[0].Partitions[0].ErrorCode })
	return resp.Topics[0].Partitions[0].ErrorCode
}

// describeTxn asks the coordinator of id (found afresh) for its
// DescribeTransactions answer, as kafka-transactions.sh describe does.
func describeTxn(ctx context.Context, t *testing.T, cl *kgo.Client, id string) (int32, kmsg.DescribeTransactionsResponseTransactionState) {
	t.Helper()
	node := txnCoordinator(ctx, t, cl, id)
	req := kmsg.NewPtrDescribeTransactionsRequest()
	req.TransactionalIDs = []string{id}
	resp := txnRequest(ctx, t, cl, node, req, func(r *kmsg.DescribeTransactionsResponse) int16 { return r.TransactionStates[0].ErrorCode })
	d := resp.TransactionStates[0]
	if d.ErrorCode != 0 {
		t.Fatalf("DescribeTransactions of %s at %d: %v", id, node, kerr.ErrorForCode(d.ErrorCode))
	}
	return node, d
}

// txnPartitions lists, sorted, the partitions of topic in a described
// transaction.
func txnPartitions(d kmsg.DescribeTransactionsResponseTransactionState, topic string) []int32 {
	for _, t := range d.Topics {
		if t.Topic == topic {
			return slices.Sorted(slices.Values(t.Partitions))
		}
	}
	return nil
}

// txnTestClient is a client that speaks as Kafka 3.9's Java clients do:
// AddPartitionsToTxn at most v3 (v4+ is for brokers), so that raw requests
// go out at the version whose fields the tests fill.
func txnTestClient(t *testing.T, seeds []string) *kgo.Client {
	t.Helper()
	v := kversion.V3_9_0()
	v.SetMaxKeyVersion(24, 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.MaxVersions(v))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestTxnCoordinatorProtocol: __transaction_state is created with Kafka's
// settings on first use; InitProducerId hands out a producer id and bumps
// its epoch, fencing the previous producer; bad requests get Kafka's codes
// and change nothing; DescribeTransactions and ListTransactions (what
// kafka-transactions.sh sends) show the state.
func TestTxnCoordinatorProtocol(t *testing.T) {
	c := testcluster.New(t)
	_, seeds := threeBrokers(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := txnTestClient(t, seeds)
	adm := kadm.NewClient(cl)
	z := c.ZKClient(t)
	createReplicated(ctx, t, cl, z, "txn-data", 2, nil)

	const id = "proto-txn"
	node := txnCoordinator(ctx, t, cl, id)
	var td kadm.TopicDetail
	waitUntil(t, time.Minute, "metadata of __transaction_state", func() bool {
		topics, err := adm.ListTopics(ctx, "__transaction_state")
		td = topics["__transaction_state"]
		return err == nil && td.Err == nil
	})
	if td.Err != nil || len(td.Partitions) != 50 || td.Partitions[0].Replicas == nil || len(td.Partitions[0].Replicas) != 3 || !td.IsInternal {
		t.Fatalf("__transaction_state: %+v, want 50 internal partitions of 3 replicas", td)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, "__transaction_state")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cleanup.policy": "compact", "min.insync.replicas": "2", "segment.bytes": "104857600", "compression.type": "uncompressed"}
	for _, rc := range rcs {
		for _, cfg := range rc.Configs {
			if w, ok := want[cfg.Key]; ok {
				if cfg.Value == nil || *cfg.Value != w {
					t.Errorf("__transaction_state %s = %v, want %s", cfg.Key, cfg.MaybeValue(), w)
				}
				delete(want, cfg.Key)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("__transaction_state lacks configs %v", want)
	}

	first := initPID(ctx, t, cl, node, id, 60000)
	if first.ErrorCode != 0 || first.ProducerEpoch != 0 {
		t.Fatalf("first InitProducerId: %+v", first)
	}
	second := initPID(ctx, t, cl, node, id, 60000)
	if second.ErrorCode != 0 || second.ProducerID != first.ProducerID || second.ProducerEpoch != 1 {
		t.Fatalf("second InitProducerId: %+v, want producer %d epoch 1", second, first.ProducerID)
	}
	if code := addPartitions(ctx, t, cl, node, id, first.ProducerID, 0, "txn-data", 0); code != kerr.ProducerFenced.Code {
		t.Fatalf("AddPartitionsToTxn with the fenced epoch: %v, want PRODUCER_FENCED", kerr.ErrorForCode(code))
	}
	if r := initPID(ctx, t, cl, node, id, 900001); r.ErrorCode != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("InitProducerId with a timeout over transaction.max.timeout.ms: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 3
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = "never-initialised", 1, 0, true
	if r := txnRequest(ctx, t, cl, txnCoordinator(ctx, t, cl, "never-initialised"), end,
		func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode }); r.ErrorCode != kerr.InvalidProducerIDMapping.Code {
		t.Fatalf("EndTxn for an unknown id: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	end.TransactionalID, end.ProducerID, end.ProducerEpoch = id, second.ProducerID, second.ProducerEpoch
	if r := txnRequest(ctx, t, cl, node, end, func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode }); r.ErrorCode != kerr.InvalidTxnState.Code {
		t.Fatalf("EndTxn with no transaction open: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	_, d := describeTxn(ctx, t, cl, id)
	if d.State != "Empty" || d.ProducerID != second.ProducerID || d.ProducerEpoch != 1 || d.TimeoutMillis != 60000 || len(d.Topics) != 0 {
		t.Fatalf("after the refused requests: %+v", d)
	}

	if code := addPartitions(ctx, t, cl, node, id, second.ProducerID, second.ProducerEpoch, "txn-data", 1, 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %v", kerr.ErrorForCode(code))
	}
	_, d = describeTxn(ctx, t, cl, id)
	if d.State != "Ongoing" || d.StartTimestamp <= 0 || !slices.Equal(txnPartitions(d, "txn-data"), []int32{0, 1}) {
		t.Fatalf("after AddPartitionsToTxn: %+v", d)
	}
	listed, err := adm.ListTransactions(ctx, nil, []string{"Ongoing"})
	if err != nil {
		t.Fatal(err)
	}
	if ids := listed.TransactionalIDs(); !slices.Equal(ids, []string{id}) {
		t.Fatalf("ListTransactions Ongoing = %v, want [%s]", ids, id)
	}
}

// TestTxnCoordinatorFailover SIGKILLs the coordinator of an open
// transaction: the new leader of the id's __transaction_state partition
// loads it from the replicated log and answers for it with the same
// producer, epoch and partitions.
func TestTxnCoordinatorFailover(t *testing.T) {
	c := testcluster.New(t)
	byID, seeds := threeBrokers(t, c, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := txnTestClient(t, seeds)
	createReplicated(ctx, t, cl, c.ZKClient(t), "failover-data", 1, nil)

	const id = "failover-txn"
	node := txnCoordinator(ctx, t, cl, id)
	pe := initPID(ctx, t, cl, node, id, 120000)
	if pe.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(pe.ErrorCode))
	}
	if code := addPartitions(ctx, t, cl, node, id, pe.ProducerID, pe.ProducerEpoch, "failover-data", 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %v", kerr.ErrorForCode(code))
	}
	_, before := describeTxn(ctx, t, cl, id)

	t.Logf("SIGKILL the transaction coordinator, broker %d", node)
	byID[node].Kill()
	var next int32
	waitUntil(t, time.Minute, "another coordinator", func() bool {
		next = txnCoordinator(ctx, t, cl, id)
		return next != node
	})
	at, after := describeTxn(ctx, t, cl, id)
	if at != next || after.State != "Ongoing" || after.ProducerID != before.ProducerID || after.ProducerEpoch != before.ProducerEpoch ||
		after.StartTimestamp != before.StartTimestamp || !slices.Equal(txnPartitions(after, "failover-data"), []int32{0}) {
		t.Fatalf("after failover to %d: %+v\nbefore: %+v", next, after, before)
	}
	// The producer goes on with the new coordinator.
	if code := addPartitions(ctx, t, cl, next, id, pe.ProducerID, pe.ProducerEpoch, "failover-data", 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn at the new coordinator: %v", kerr.ErrorForCode(code))
	}
}

// TestTxnCoordinatorAbortsTimedOut: a transaction left open past its
// timeout is aborted by the coordinator
// (transaction.abort.timed.out.transaction.cleanup.interval.ms), which
// bumps the producer's epoch: the producer is fenced. The abort's markers
// need the partition side to complete, so the state is PrepareAbort or,
// with it, CompleteAbort.
func TestTxnCoordinatorAbortsTimedOut(t *testing.T) {
	c := testcluster.New(t)
	_, seeds := threeBrokers(t, c, map[string]string{"transaction.abort.timed.out.transaction.cleanup.interval.ms": "300"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl := txnTestClient(t, seeds)
	createReplicated(ctx, t, cl, c.ZKClient(t), "timeout-data", 1, nil)
	const id = "timeout-txn"
	node := txnCoordinator(ctx, t, cl, id)
	pe := initPID(ctx, t, cl, node, id, 2000)
	if pe.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(pe.ErrorCode))
	}
	if code := addPartitions(ctx, t, cl, node, id, pe.ProducerID, pe.ProducerEpoch, "timeout-data", 0); code != 0 {
		t.Fatalf("AddPartitionsToTxn: %v", kerr.ErrorForCode(code))
	}
	waitUntil(t, time.Minute, "the coordinator to abort the timed-out transaction", func() bool {
		_, d := describeTxn(ctx, t, cl, id)
		return (d.State == "PrepareAbort" || d.State == "CompleteAbort") && d.ProducerEpoch == pe.ProducerEpoch+1
	})
	end := kmsg.NewPtrEndTxnRequest()
	end.Version = 3
	end.TransactionalID, end.ProducerID, end.ProducerEpoch, end.Commit = id, pe.ProducerID, pe.ProducerEpoch, true
	if r := txnRequest(ctx, t, cl, node, end, func(r *kmsg.EndTxnResponse) int16 { return r.ErrorCode }); r.ErrorCode != kerr.ProducerFenced.Code {
		t.Fatalf("EndTxn of the timed-out producer: %v, want PRODUCER_FENCED", kerr.ErrorForCode(r.ErrorCode))
	}
}
