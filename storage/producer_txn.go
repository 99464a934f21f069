package storage

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// Transaction errors, mapped by the broker to Kafka's codes.
var (
	// ErrInvalidTxnState is a non-transactional batch from a producer with
	// an open transaction (INVALID_TXN_STATE).
	ErrInvalidTxnState = errors.New("invalid transaction state")
	// ErrCoordinatorFenced is a marker from a coordinator epoch older than
	// the one that wrote the producer's last marker
	// (TRANSACTION_COORDINATOR_FENCED).
	ErrCoordinatorFenced = errors.New("transaction coordinator fenced")
)

// completedTxn is a transaction whose marker is in the log (Kafka's
// CompletedTxn): the producer, the offset of its first batch, the offset of
// its marker, and whether it aborted.
type completedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
	Aborted     bool
}

// txnTable is the partition's transactions as producer state sees them:
// the open transaction of each producer (its first offset) and the
// transactions completed whose marker the high watermark has not passed
// yet (Kafka's ongoingTxns and unreplicatedTxns). Both hold the last
// stable offset back. It lives in ProducerState, under the same lock.
type txnTable struct {
	open map[int64]int64 // producer id -> first offset of its open transaction
	// unreplicated is in marker order (ascending LastOffset).
	unreplicated []completedTxn
	// changed says the table changed since Log last published its view.
	changed bool
}

// beginTxn records the first batch of a producer's transaction; later
// batches of the same transaction change nothing.
func (s *ProducerState) beginTxn(pid, first int64) {
	e := s.producers[pid]
	if e == nil || e.txnFirst >= 0 {
		return
	}
	s.clearVerification(pid)
	e.txnFirst = first
	if s.txns.open == nil {
		s.txns.open = map[int64]int64{}
	}
	s.txns.open[pid] = first
	s.txns.changed = true
}

// endTxn applies a marker: the producer's epoch and coordinator epoch
// move, and its open transaction, if any, completes. A marker of a
// producer without an open transaction (Kafka writes one for a
// transaction without data in this partition) completes nothing.
func (s *ProducerState) endTxn(h *batchHeader, m recordbatch.EndTxnMarker) (done completedTxn, ok bool) {
	e := s.entry(h.ProducerID, h.ProducerEpoch)
	if e == nil {
		// An older epoch: only a follower copies such a marker (the
		// leader refused it); its transaction still ends here.
		e = s.producers[h.ProducerID]
	}
	e.coordinatorEpoch = m.CoordinatorEpoch
	e.markerTs = max(e.markerTs, h.MaxTimestamp)
	s.clearVerification(h.ProducerID)
	if e.txnFirst < 0 {
		return done, false
	}
	done = completedTxn{ProducerID: h.ProducerID, FirstOffset: e.txnFirst, LastOffset: h.BaseOffset, Aborted: !m.Commit}
	e.txnFirst = -1
	delete(s.txns.open, h.ProducerID)
	s.txns.unreplicated = append(s.txns.unreplicated, done)
	s.txns.changed = true
	return done, true
}

// HasOpenTxns reports whether any producer has an open transaction. The
// produce path asks it first, so that batches of producers without
// transactions cost one length check.
func (s *ProducerState) HasOpenTxns() bool { return len(s.txns.open) > 0 }

// CheckTxn applies Kafka's rule for a data batch of an idempotent or
// transactional producer: a non-transactional batch while the producer has
// an open transaction is ErrInvalidTxnState.
func (s *ProducerState) CheckTxn(pid int64, transactional bool) error {
	if transactional {
		return nil
	}
	if first, ok := s.txns.open[pid]; ok {
		return fmt.Errorf("producer %d: non-transactional batch inside the transaction begun at offset %d: %w", pid, first, ErrInvalidTxnState)
	}
	return nil
}

// CheckMarker decides whether a transaction marker from the coordinator
// may be appended for the producer, as Kafka's ProducerAppendInfo does for
// an append from the coordinator: an epoch older than the producer's is
// ErrInvalidProducerEpoch, a coordinator epoch older than the one of the
// producer's last marker is ErrCoordinatorFenced. An unknown producer is
// accepted (its marker ends nothing).
func (s *ProducerState) CheckMarker(pid int64, epoch int16, coordinatorEpoch int32) error {
	e := s.producers[pid]
	if e == nil {
		return nil
	}
	if epoch < e.epoch {
		return fmt.Errorf("producer %d: marker epoch %d is older than the current %d: %w", pid, epoch, e.epoch, ErrInvalidProducerEpoch)
	}
	if coordinatorEpoch < e.coordinatorEpoch {
		return fmt.Errorf("producer %d: coordinator epoch %d is older than %d: %w", pid, coordinatorEpoch, e.coordinatorEpoch, ErrCoordinatorFenced)
	}
	return nil
}

// firstOpenExcept is the first offset of the oldest open transaction of a
// producer other than pid, if any.
func (s *ProducerState) firstOpenExcept(pid int64) (int64, bool) {
	first, ok := int64(0), false
	for p, f := range s.txns.open {
		if p != pid && (!ok || f < first) {
			first, ok = f, true
		}
	}
	return first, ok
}

// replicated forgets the completed transactions whose marker is below hw
// (Kafka's onHighWatermarkUpdated). It reports whether any was dropped.
func (t *txnTable) replicated(hw int64) bool {
	n := 0
	for n < len(t.unreplicated) && t.unreplicated[n].LastOffset < hw {
		n++
	}
	if n == 0 {
		return false
	}
	t.unreplicated = slices.Delete(t.unreplicated, 0, n)
	t.changed = true
	return true
}

// truncateHead forgets what lies wholly below the log start: retention
// removed it. An open transaction whose first batch went is kept (its
// marker may still come) but starts, as far as readers can tell, at the
// log start.
func (t *txnTable) truncateHead(start int64) {
	for pid, f := range t.open {
		if f < start {
			t.open[pid] = start
			t.changed = true
		}
	}
	if t.replicated(start) {
		t.changed = true
	}
}

// unstableTxn is one transaction that holds the last stable offset back:
// open (last -1) or completed above the high watermark.
type unstableTxn struct{ first, last int64 }

// unstableView is an immutable copy of the table, sorted by first offset,
// that readers use without the partition lock.
type unstableView struct{ txns []unstableTxn }

// view builds the readers' copy; nil when nothing is unstable.
func (t *txnTable) view() *unstableView {
	if len(t.open) == 0 && len(t.unreplicated) == 0 {
		return nil
	}
	v := &unstableView{txns: make([]unstableTxn, 0, len(t.open)+len(t.unreplicated))}
	for _, f := range t.open {
		v.txns = append(v.txns, unstableTxn{first: f, last: -1})
	}
	for _, c := range t.unreplicated {
		v.txns = append(v.txns, unstableTxn{first: c.FirstOffset, last: c.LastOffset})
	}
	slices.SortFunc(v.txns, func(a, b unstableTxn) int { return compareInt64(a.first, b.first) })
	return v
}

// lastStable is the last stable offset given the high watermark: the first
// offset of the oldest transaction still open or completed at or above hw,
// else hw.
func (v *unstableView) lastStable(hw int64) int64 {
	for _, t := range v.txns {
		if t.first >= hw {
			break
		}
		if t.last < 0 || t.last >= hw {
			return t.first
		}
	}
	return hw
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ProducerInfo is one producer as DescribeProducers reports it.
type ProducerInfo struct {
	ProducerID       int64
	ProducerEpoch    int16
	LastSequence     int32 // -1 when the producer has no batch here
	LastTimestamp    int64 // -1 when unknown
	CoordinatorEpoch int32 // -1 before any marker
	// CurrentTxnStartOffset is the first offset of the open transaction,
	// -1 when none.
	CurrentTxnStartOffset int64
}

// Describe lists the producers the partition knows, by producer id.
func (s *ProducerState) Describe() []ProducerInfo {
	out := make([]ProducerInfo, 0, len(s.producers))
	for pid, e := range s.producers {
		pi := ProducerInfo{ProducerID: pid, ProducerEpoch: e.epoch, LastSequence: -1, LastTimestamp: e.lastTimestamp(),
			CoordinatorEpoch: e.coordinatorEpoch, CurrentTxnStartOffset: e.txnFirst}
		if len(e.batches) > 0 {
			pi.LastSequence = e.batches[len(e.batches)-1].LastSeq
		}
		out = append(out, pi)
	}
	slices.SortFunc(out, func(a, b ProducerInfo) int { return compareInt64(a.ProducerID, b.ProducerID) })
	return out
}
