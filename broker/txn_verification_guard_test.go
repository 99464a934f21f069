package broker

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// abortingVerifier says yes, but the transaction is aborted (its marker
// written) between the verification and the append: what happens when the
// coordinator aborts while the leader's verification round trip returns.
type abortingVerifier struct {
	t *testing.T
	s *Server
}

func (v *abortingVerifier) VerifyTxnPartition(ctx context.Context, txnID string, pid int64, epoch int16, topic string, partition int32) *kerr.Error {
	if c := writeMarkers(v.t, v.s, pid, epoch, 0, false, topic, partition); c[0] != 0 {
		v.t.Fatalf("abort marker: %d", c[0])
	}
	return nil
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
