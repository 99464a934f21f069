package broker

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
)

// abortingVerifier says yes, but the transaction is aborted (its marker
// written) between the verification and the append: what happens when the
// coordinator aborts while the leader's verification round trip returns.
type abortingVerifier struct {
	t *testing.T
	s *Server
}

func (v *abortingVerifier) VerifyTxnPartitions(ctx context.Context, txnID string, pid int64, epoch int16, tps []txncoord.TopicPartition) map[txncoord.TopicPartition]*kerr.Error {
	out := map[txncoord.TopicPartition]*kerr.Error{}
	for _, tp := range tps {
		if c := writeMarkers(v.t, v.s, pid, epoch, 0, false, tp.Topic, tp.Partition); c[0] != 0 {
			v.t.Fatalf("abort marker: %d", c[0])
		}
		out[tp] = nil
	}
	return out
}

func TestTxnVerifiedBatchAfterAbortMarkerRefused(t *testing.T) {
	s := newDataServer(t)
	id := [16]byte{9}
	addTopic(t, s, "t", id, 1, testTopicConfig())
	s.SetTxnVerifier(&abortingVerifier{t: t, s: s})
	txn := "tx"
	sp := txnProduce(t, s, "t", &txn, txnBatch(1, 0, 0, 1))
	fsp, _, _ := fetchIsolated(t, s, "t", id, 0, 1)
	if sp.ErrorCode == 0 && fsp.LastStableOffset < fsp.HighWatermark {
		t.Fatalf("a batch verified before the ABORT marker was appended after it (produce error %d at offset %d): a transaction no coordinator knows is open, LSO %d stuck below HW %d",
			sp.ErrorCode, sp.BaseOffset, fsp.LastStableOffset, fsp.HighWatermark)
	}
}

// TestTxnProduceNotInTransactionByVersion: a partition the coordinator
// says is not in the transaction (TRANSACTION_ABORTABLE, as Kafka 3.9's
// coordinator answers) is INVALID_TXN_STATE to Produce v10 and older,
// whose clients do not know the newer error, and TRANSACTION_ABORTABLE to
// v11, as Kafka's AddPartitionsToTxnManager answers.
func TestTxnProduceNotInTransactionByVersion(t *testing.T) {
	for _, tt := range []struct {
		version int16
		want    *kerr.Error
	}{
		{9, kerr.InvalidTxnState},
		{10, kerr.InvalidTxnState},
		{11, kerr.TransactionAbortable},
	} {
		t.Run(fmt.Sprintf("v%d", tt.version), func(t *testing.T) {
			s := newDataServer(t)
			addTopic(t, s, "t", [16]byte{4}, 1, testTopicConfig())
			s.SetTxnVerifier(&fakeVerifier{err: kerr.TransactionAbortable})
			txn := "tx"
			req := produceReq(tt.version, -1, "t", txnBatch(1, 0, 0, 1))
			req.TransactionID = &txn
			resp, err := s.handleProduce(context.Background(), &wire.RequestHeader{APIKey: 0, APIVersion: tt.version}, req)
			if err != nil {
				t.Fatal(err)
			}
			sp := settle(t, resp).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
			if sp.ErrorCode != tt.want.Code {
				t.Fatalf("Produce v%d of a partition not in the transaction: %v, want %v", tt.version, kerr.ErrorForCode(sp.ErrorCode), tt.want)
			}
		})
	}
}

// TestTxnProduceVerifiesPartitionsTogether: the first batches of a
// transaction for several partitions in one Produce are verified with one
// question to the coordinator, not one round trip each, and all appended.
func TestTxnProduceVerifiesPartitionsTogether(t *testing.T) {
	s := newDataServer(t)
	addTopic(t, s, "t", [16]byte{5}, 3, testTopicConfig())
	v := &fakeVerifier{}
	s.SetTxnVerifier(v)
	txn := "tx"
	req := produceReq(11, -1, "t", txnBatch(1, 0, 0, 1), txnBatch(1, 0, 0, 1), txnBatch(1, 0, 0, 1))
	req.TransactionID = &txn
	resp, err := s.handleProduce(context.Background(), &wire.RequestHeader{APIKey: 0, APIVersion: 11}, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range settle(t, resp).(*kmsg.ProduceResponse).Topics[0].Partitions {
		if sp.ErrorCode != 0 || sp.BaseOffset != 0 {
			t.Fatalf("partition %d: error %v at offset %d, want appended at 0", sp.Partition, kerr.ErrorForCode(sp.ErrorCode), sp.BaseOffset)
		}
	}
	if v.calls != 1 {
		t.Fatalf("%d verifications for three partitions of one producer, want 1", v.calls)
	}
}
