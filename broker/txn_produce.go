package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// hasTransactionalBatch reports whether any partition of the request
// carries a transactional batch (Kafka's
// RequestUtils.hasTransactionalRecords), reading one attribute byte each.
func hasTransactionalBatch(r *kmsg.ProduceRequest) bool {
	for i := range r.Topics {
		for j := range r.Topics[i].Partitions {
			rec := r.Topics[i].Partitions[j].Records
			if len(rec) > recordbatch.AttributesOffset+1 && rec[recordbatch.MagicOffset] == recordbatch.MagicV2 &&
				rec[recordbatch.AttributesOffset+1]&recordbatch.AttrTransactional != 0 {
				return true
			}
		}
	}
	return false
}

// txnVerification is what an append of a transactional batch presents
// when KIP-890 verification is on: the guard taken before the
// coordinator's round trip (storage/producer_verification.go), nil when
// the producer's transaction was already open here. The zero value (off)
// is what every other append passes.
type txnVerification struct {
	required bool
	guard    *storage.VerificationGuard
}

// txnPrecheck is the KIP-890 verification of one partition of a
// transactional Produce, done for all the request's partitions before any
// append (verifyTransactionalPartitions).
type txnPrecheck struct {
	checked bool
	pid     int64
	tv      txnVerification
	err     *kerr.Error
}

// verifyTransactionalPartitions takes the verification guard of every
// partition of r whose transactional batch may open a transaction here,
// and asks the coordinator about all of them at once: one verify-only
// AddPartitionsToTxn per producer (a request carries one), as Kafka's
// ReplicaManager does, instead of one blocking round trip per partition.
// It returns the result by the request's topic and partition indexes, or
// nil when r needs no verification.
func (s *Server) verifyTransactionalPartitions(ctx context.Context, r *kmsg.ProduceRequest) [][]txnPrecheck {
	vp := s.txnHooks.verifier.Load()
	if vp == nil || r.TransactionID == nil {
		return nil
	}
	type ask struct {
		pid   int64
		epoch int16
		tps   []txncoord.TopicPartition
		at    [][2]int
	}
	var asks []ask
	out := make([][]txnPrecheck, len(r.Topics))
	for i := range r.Topics {
		rt := &r.Topics[i]
		out[i] = make([]txnPrecheck, len(rt.Partitions))
		for j := range rt.Partitions {
			rec := rt.Partitions[j].Records
			if len(rec) < recordbatch.ProducerEpochOffset+2 || rec[recordbatch.MagicOffset] != recordbatch.MagicV2 ||
				rec[recordbatch.AttributesOffset+1]&recordbatch.AttrTransactional == 0 {
				continue
			}
			pid := int64(binary.BigEndian.Uint64(rec[recordbatch.ProducerIDOffset:]))
			epoch := int16(binary.BigEndian.Uint16(rec[recordbatch.ProducerEpochOffset:]))
			p, ok := s.replicas.get(topicPartition{rt.Topic, rt.Partitions[j].Partition})
			if pid < 0 || !ok || !p.leading.Load() {
				continue // producePartition answers
			}
			guard, open := p.startVerification(pid)
			out[i][j] = txnPrecheck{checked: true, pid: pid, tv: txnVerification{required: true, guard: guard}}
			if open {
				continue
			}
			k := slices.IndexFunc(asks, func(a ask) bool { return a.pid == pid && a.epoch == epoch })
			if k < 0 {
				asks = append(asks, ask{pid: pid, epoch: epoch})
				k = len(asks) - 1
			}
			asks[k].tps = append(asks[k].tps, txncoord.TopicPartition{Topic: rt.Topic, Partition: rt.Partitions[j].Partition})
			asks[k].at = append(asks[k].at, [2]int{i, j})
		}
	}
	for _, a := range asks {
		res := (*vp).VerifyTxnPartitions(ctx, *r.TransactionID, a.pid, a.epoch, a.tps)
		for n, tp := range a.tps {
			e := res[tp]
			if _, answered := res[tp]; !answered {
				e = kerr.NotEnoughReplicas // a verifier that skipped it: retriable
			}
			out[a.at[n][0]][a.at[n][1]].err = abortableForVersion(e, r.Version >= produceKnowsAbortable)
		}
	}
	return out
}

// checkTransactionalBatch applies what a transactional batch needs beyond
// an idempotent one before it is appended: a producer id (Kafka's
// LogValidator), and, for the first batch of a transaction on this
// partition, the coordinator's word that the partition is in the
// transaction (KIP-890, through the installed TxnVerifier, if any), which
// pre holds when verifyTransactionalPartitions asked already. The
// verification it returns goes with the append, which refuses the batch
// should a marker have ended the transaction meanwhile.
func (s *Server) checkTransactionalBatch(ctx context.Context, r *kmsg.ProduceRequest, p *Partition, bh wire.BatchHeader, pre *txnPrecheck) (txnVerification, *kerr.Error, string) {
	if bh.ProducerID < 0 {
		return txnVerification{}, kerr.InvalidRecord, "a transactional batch needs a producer id"
	}
	vp := s.txnHooks.verifier.Load()
	if vp == nil || r.TransactionID == nil {
		return txnVerification{}, nil, ""
	}
	notIn := func(e *kerr.Error) string {
		if e == nil {
			return ""
		}
		return fmt.Sprintf("the transaction of producer %d does not include %s", bh.ProducerID, p.tp)
	}
	if pre != nil && pre.checked && pre.pid == bh.ProducerID {
		return pre.tv, pre.err, notIn(pre.err)
	}
	v := txnVerification{required: true}
	open := false
	v.guard, open = p.startVerification(bh.ProducerID)
	if open {
		return v, nil, ""
	}
	tp := txncoord.TopicPartition{Topic: p.tp.Topic, Partition: p.tp.Partition}
	e, answered := (*vp).VerifyTxnPartitions(ctx, *r.TransactionID, bh.ProducerID, bh.ProducerEpoch, []txncoord.TopicPartition{tp})[tp]
	if !answered {
		e = kerr.NotEnoughReplicas
	}
	e = abortableForVersion(e, r.Version >= produceKnowsAbortable)
	return v, e, notIn(e)
}

// startVerification returns the producer's verification guard and false,
// or nil and true when its transaction is already open here (no
// verification needed).
func (p *Partition) startVerification(pid int64) (*storage.VerificationGuard, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ps := p.log.Producers()
	if ps.HasOpenTxns() && ps.CheckTxn(pid, false) != nil {
		return nil, true
	}
	return ps.StartVerification(pid), false
}

// checkVerifiedLocked refuses a transactional batch that would open a
// transaction whose verification a marker has voided since
// (INVALID_TXN_STATE, Kafka's batchMissingRequiredVerification). Called
// with p.mu held.
func (p *Partition) checkVerifiedLocked(hdr wire.BatchHeader, v txnVerification) error {
	if !v.required || !hdr.IsTransactional() {
		return nil
	}
	if err := p.log.Producers().CheckVerified(hdr.ProducerID, v.guard); err != nil {
		return kerr.InvalidTxnState
	}
	return nil
}

// checkTxnLocked refuses a non-transactional batch from a producer whose
// transaction is open here (INVALID_TXN_STATE, Kafka's
// ProducerAppendInfo.appendDataBatch). Batches of producers without
// transactions cost one length check. Called with p.mu held.
func (p *Partition) checkTxnLocked(hdr wire.BatchHeader) error {
	ps := p.log.Producers()
	if !hdr.IsTransactional() && !ps.HasOpenTxns() {
		return nil
	}
	if err := ps.CheckTxn(hdr.ProducerID, hdr.IsTransactional()); err != nil {
		if errors.Is(err, storage.ErrInvalidTxnState) {
			return kerr.InvalidTxnState
		}
		return fmt.Errorf("producer state of %s: %w", p.tp, err)
	}
	return nil
}

// appendMarker appends a COMMIT or ABORT marker for the producer as the
// leader, as Kafka's appendRecords does for origin COORDINATOR: the
// producer epoch may not be older than the producer's
// (INVALID_PRODUCER_EPOCH) nor the coordinator epoch older than that of
// its last marker (TRANSACTION_COORDINATOR_FENCED). The marker ends the
// producer's transaction here, and an ABORT goes into the transaction
// index. It returns the marker's offset.
func (p *Partition) appendMarker(pid int64, epoch int16, coordinatorEpoch int32, commit bool, fenced func() bool, nowMs int64) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return 0, p.goneError()
	}
	if (fenced != nil && fenced()) || p.role != roleLeader {
		return 0, kerr.NotLeaderForPartition
	}
	if err := p.log.Producers().CheckMarker(pid, epoch, coordinatorEpoch); err != nil {
		switch {
		case errors.Is(err, storage.ErrInvalidProducerEpoch):
			return 0, kerr.InvalidProducerEpoch
		case errors.Is(err, storage.ErrCoordinatorFenced):
			return 0, kerr.TransactionCoordinatorFenced
		}
		return 0, fmt.Errorf("producer state of %s: %w", p.tp, err)
	}
	batch := recordbatch.BuildEndTxnMarker(pid, epoch, nowMs, recordbatch.EndTxnMarker{Commit: commit, CoordinatorEpoch: coordinatorEpoch})
	base := p.log.EndOffset()
	wire.SetBaseOffset(batch, base)
	wire.SetPartitionLeaderEpoch(batch, p.LeaderEpoch())
	info := storage.AppendInfo{BaseOffset: base, LastOffset: base, MaxTimestamp: nowMs, OffsetOfMaxTimestamp: base, Records: 1}
	if err := p.log.Append(batch, info); err != nil {
		if errors.Is(err, storage.ErrOffline) {
			return 0, kerr.KafkaStorageError
		}
		return 0, fmt.Errorf("append a marker to %s: %w", p.tp, err)
	}
	p.maybeIncrementHWLocked()
	p.notify()
	return base, nil
}

// describeProducers is the partition's producer state for
// DescribeProducers.
func (p *Partition) describeProducers() []storage.ProducerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return nil
	}
	return p.log.Producers().Describe()
}
