package storage

import (
	"errors"
	"fmt"
	"math"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// Idempotent-producer errors, mapped by the broker to Kafka's codes.
var (
	ErrOutOfOrderSequence   = errors.New("out of order sequence number")
	ErrInvalidProducerEpoch = errors.New("invalid producer epoch")
)

// maxProducerBatches is how many recent batches Kafka remembers per producer
// for duplicate detection (ProducerStateEntry.NUM_BATCHES_TO_RETAIN): a
// producer has at most five requests in flight.
const maxProducerBatches = 5

// ProducerBatch is what producer state remembers of one appended batch.
type ProducerBatch struct {
	ProducerID    int64
	ProducerEpoch int16
	FirstSeq      int32
	LastSeq       int32
	FirstOffset   int64
	LastOffset    int64
	MaxTimestamp  int64
}

// ProducerState is one partition's idempotent-producer table: for each
// producer id, its epoch and its last five batches, as Kafka keeps them
// (ProducerStateManager). It is guarded by the partition's write lock: the
// broker calls Check and Record under the same lock it holds for Append, so
// no retry can slip between the check and the append. The zero value is an
// empty table.
type ProducerState struct {
	producers map[int64]*producerEntry
	// txns holds the partition's transactions (producer_txn.go): the
	// open ones and those completed above the high watermark.
	txns txnTable
	// verifying holds each producer's KIP-890 verification guard
	// (producer_verification.go); in memory only, as Kafka's.
	verifying map[int64]*VerificationGuard
}

// producerEntry is one producer's epoch and recent batches, oldest first.
type producerEntry struct {
	epoch   int16
	batches []ProducerBatch
	// coordinatorEpoch is the epoch of the transaction coordinator that
	// wrote the producer's last marker, -1 before any (Kafka's
	// ProducerStateEntry.coordinatorEpoch).
	coordinatorEpoch int32
	// txnFirst is the first offset of the producer's open transaction,
	// -1 when it has none (currentTxnFirstOffset).
	txnFirst int64
	// markerTs is the timestamp of the producer's last marker, -1 before
	// any: a marker counts as the producer's latest activity.
	markerTs int64
}

// newProducerEntry is an entry without batches, marker or transaction.
func newProducerEntry(epoch int16) *producerEntry {
	return &producerEntry{epoch: epoch, coordinatorEpoch: -1, txnFirst: -1, markerTs: -1}
}

// Check decides what to do with an incoming batch from an idempotent
// producer. A retry of one of the last five batches returns that batch
// (dup != nil): the caller answers with its original base offset and does not
// append. Otherwise it returns ErrInvalidProducerEpoch for an epoch older than
// the producer's, or ErrOutOfOrderSequence for a sequence that does not
// follow the last one (a new epoch must start at 0; an unknown producer may
// start anywhere).
func (s *ProducerState) Check(pid int64, epoch int16, firstSeq, lastSeq int32) (dup *ProducerBatch, err error) {
	e := s.producers[pid]
	if e == nil {
		return nil, nil
	}
	if epoch < e.epoch {
		return nil, fmt.Errorf("producer %d: epoch %d is older than the current %d: %w", pid, epoch, e.epoch, ErrInvalidProducerEpoch)
	}
	if epoch > e.epoch {
		if firstSeq != 0 {
			return nil, fmt.Errorf("producer %d: new epoch %d starts at sequence %d, not 0: %w", pid, epoch, firstSeq, ErrOutOfOrderSequence)
		}
		return nil, nil
	}
	for i := range e.batches {
		if b := e.batches[i]; b.FirstSeq == firstSeq && b.LastSeq == lastSeq {
			return &b, nil
		}
	}
	if len(e.batches) == 0 {
		return nil, nil
	}
	last := e.batches[len(e.batches)-1].LastSeq
	want := last + 1
	if last == math.MaxInt32 {
		want = 0
	}
	if firstSeq != want {
		return nil, fmt.Errorf("producer %d epoch %d: sequence %d, expected %d: %w", pid, epoch, firstSeq, want, ErrOutOfOrderSequence)
	}
	return nil, nil
}

// Record remembers an appended batch. A newer epoch replaces the producer's
// history; a batch of an older epoch is ignored.
func (s *ProducerState) Record(b ProducerBatch) {
	e := s.entry(b.ProducerID, b.ProducerEpoch)
	if e == nil {
		return
	}
	if len(e.batches) == maxProducerBatches {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:maxProducerBatches-1]
	}
	e.batches = append(e.batches, b)
}

// LastBatch returns the producer's most recent batch, if any.
func (s *ProducerState) LastBatch(pid int64) (ProducerBatch, bool) {
	e := s.producers[pid]
	if e == nil || len(e.batches) == 0 {
		return ProducerBatch{}, false
	}
	return e.batches[len(e.batches)-1], true
}

// Len is the number of producers known.
func (s *ProducerState) Len() int { return len(s.producers) }

// entry returns the producer's entry for epoch, creating it or resetting it
// on a newer epoch, or nil when epoch is older than the producer's.
func (s *ProducerState) entry(pid int64, epoch int16) *producerEntry {
	if s.producers == nil {
		s.producers = map[int64]*producerEntry{}
	}
	e := s.producers[pid]
	switch {
	case e == nil:
		e = newProducerEntry(epoch)
		s.producers[pid] = e
	case epoch > e.epoch:
		e.epoch, e.batches = epoch, e.batches[:0]
	case epoch < e.epoch:
		return nil
	}
	return e
}

// replay applies one stored batch header while rebuilding state from the
// log or after an append. m is the marker of a control batch (nil for a
// data batch, or for a control batch that is no transaction marker). A
// marker that ends a transaction with data returns it (ok).
func (s *ProducerState) replay(h *batchHeader, m *recordbatch.EndTxnMarker) (done completedTxn, ok bool) {
	if h.ProducerID < 0 {
		return done, false
	}
	if h.IsControl() {
		if m == nil {
			s.entry(h.ProducerID, h.ProducerEpoch)
			return done, false
		}
		return s.endTxn(h, *m)
	}
	if h.BaseSequence < 0 {
		s.entry(h.ProducerID, h.ProducerEpoch)
		return done, false
	}
	s.Record(ProducerBatch{
		ProducerID:    h.ProducerID,
		ProducerEpoch: h.ProducerEpoch,
		FirstSeq:      h.BaseSequence,
		LastSeq:       h.LastSequence(),
		FirstOffset:   h.BaseOffset,
		LastOffset:    h.LastOffset(),
		MaxTimestamp:  h.MaxTimestamp,
	})
	if h.IsTransactional() {
		s.beginTxn(h.ProducerID, h.BaseOffset)
	}
	return done, false
}

// truncateHead forgets producers whose last batch lies wholly before the
// log start offset, as Kafka does when retention removes their data.
func (s *ProducerState) truncateHead(start int64) {
	for pid, e := range s.producers {
		if len(e.batches) > 0 && e.batches[len(e.batches)-1].LastOffset < start && e.txnFirst < 0 {
			delete(s.producers, pid)
		}
	}
	s.txns.truncateHead(start)
}

// lastTimestamp is the max timestamp of the producer's last batch, or -1
// (Kafka's NO_TIMESTAMP) when it has none (only transaction markers).
func (e *producerEntry) lastTimestamp() int64 {
	if len(e.batches) == 0 {
		return e.markerTs
	}
	return max(e.batches[len(e.batches)-1].MaxTimestamp, e.markerTs)
}

// removeExpired forgets the producers whose last timestamp is at least
// expirationMs before nowMs, as Kafka's ProducerStateManager does every
// producer.id.expiration.check.interval.ms, and returns how many it removed.
// A producer with an open transaction is kept, as in Kafka.
func (s *ProducerState) removeExpired(nowMs, expirationMs int64) int {
	n := 0
	cutoff := nowMs - expirationMs // nowMs - ts >= expirationMs, without overflow for any ts
	for pid, e := range s.producers {
		if e.lastTimestamp() <= cutoff && e.txnFirst < 0 {
			delete(s.producers, pid)
			n++
		}
	}
	return n
}

// replaceWith swaps in a rebuilt table, keeping the pointer callers hold.
func (s *ProducerState) replaceWith(o *ProducerState) {
	s.producers, s.txns = o.producers, o.txns
	s.txns.changed = true
}

// ExpireProducers removes from the producer table every producer whose last
// batch's max timestamp is producer.id.expiration.ms or more before now by
// the log's clock (Config.ProducerIDExpirationMs), and returns how many it
// removed. The broker calls it every
// producer.id.expiration.check.interval.ms, under the partition lock that
// guards the table. Snapshots written from then on (at the next roll or
// clean close) no longer carry the removed producers; a retry from one of
// them is then treated as a new producer's first batch, as in Kafka.
func (l *Log) ExpireProducers() (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return 0, fmt.Errorf("expire producers of %s: %w", l.dir, ErrClosed)
	}
	if l.producers == nil {
		return 0, nil
	}
	n := l.producers.removeExpired(l.now().UnixMilli(), l.cfg.ProducerIDExpirationMs)
	if n > 0 {
		// A walk of the log would bring them back: the clean close writes
		// a snapshot even if the table is now empty and the log small.
		l.producersExpired = true
	}
	return n, nil
}
