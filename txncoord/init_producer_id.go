package txncoord

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// ProducerIDAndEpoch is a producer's identity.
type ProducerIDAndEpoch struct {
	ID    int64
	Epoch int16
}

// noEpoch is RecordBatch.NO_PRODUCER_EPOCH: an id created in memory whose
// first epoch is not handed out yet.
const noEpoch = -1

// InitProducerID answers InitProducerId for a transactional id (Kafka's
// TransactionCoordinator.handleInitProducerId): a new id gets a fresh
// producer id at epoch 0; a known one gets its epoch bumped, which fences
// every older producer of the id. When a transaction is open, it is
// aborted first under a bumped epoch and the caller hears
// CONCURRENT_TRANSACTIONS until the abort completes (then it retries and
// gets the next epoch). expected is the producer's current id and epoch
// when it re-initialises after an error (KIP-360, InitProducerId v3+): it
// must be this id's producer, else PRODUCER_FENCED; a retry of a bump that
// already happened gets the bumped epoch again. When the epoch would
// overflow, a new producer id is handed out at epoch 0.
func (c *Coordinator) InitProducerID(ctx context.Context, id string, timeoutMs int32, expected *ProducerIDAndEpoch) (ProducerIDAndEpoch, *kerr.Error) {
	none := ProducerIDAndEpoch{ID: -1, Epoch: -1}
	if id == "" {
		return none, kerr.InvalidRequest
	}
	if timeoutMs <= 0 || time.Duration(timeoutMs)*time.Millisecond > c.cfg.MaxTimeout {
		return none, c.reject("InitProducerId", id, kerr.InvalidTransactionTimeout, zap.Int32("transaction_timeout_ms", timeoutMs),
			zap.Int64("transaction_max_timeout_ms", c.cfg.MaxTimeout.Milliseconds()))
	}
	c.mu.Lock()
	p, t, e := c.lookup(id)
	if e != nil {
		c.mu.Unlock()
		return none, e
	}
	if t == nil {
		c.mu.Unlock()
		pid, err := c.cfg.ProducerIDs(ctx)
		if err != nil {
			c.log.Warn("allocating a producer id", zap.String("transactional_id", id), zap.Error(err))
			return none, kerr.CoordinatorLoadInProgress
		}
		c.mu.Lock()
		if p, t, e = c.lookup(id); e != nil {
			c.mu.Unlock()
			return none, e
		}
		if t == nil {
			t = &txnEntry{id: id, meta: Metadata{ProducerID: pid, ProducerEpoch: noEpoch, LastProducerID: -1, LastProducerEpoch: noEpoch,
				TimeoutMs: timeoutMs, State: Empty, StartMs: -1, LastUpdateMs: c.nowMs()}}
			p.txns[id] = t
		}
	}
	next, retry, e := c.initTransition(ctx, t, timeoutMs, expected)
	if e != nil {
		c.mu.Unlock()
		return none, e
	}
	if retry {
		c.mu.Unlock()
		return ProducerIDAndEpoch{t.meta.ProducerID, t.meta.ProducerEpoch}, nil
	}
	if t.meta.State == Ongoing {
		// Fence the current producer: abort its transaction under a bumped
		// epoch; this caller retries once the abort is complete.
		c.mu.Unlock()
		if e := c.abortFencing(p, t, "a new producer initialised the transactional id"); e != nil {
			return none, e
		}
		return none, kerr.ConcurrentTransactions
	}
	if e := c.begin(t, next); e != nil {
		c.mu.Unlock()
		return none, e
	}
	c.mu.Unlock()
	if e := c.persist(ctx, p, t, next, nil); e != nil {
		return none, e
	}
	return ProducerIDAndEpoch{next.ProducerID, next.ProducerEpoch}, nil
}

// initTransition decides, with c.mu held, what InitProducerId does to t:
// the next metadata to write, or retry (answer the current id and epoch,
// write nothing), or an error.
func (c *Coordinator) initTransition(ctx context.Context, t *txnEntry, timeoutMs int32, expected *ProducerIDAndEpoch) (next Metadata, retry bool, e *kerr.Error) {
	m := t.meta
	if t.pending {
		return m, false, kerr.ConcurrentTransactions
	}
	if expected != nil && !validExpected(m, *expected) {
		return m, false, c.reject("InitProducerId", t.id, kerr.ProducerFenced, zap.Int64("producer_id", expected.ID),
			zap.Int16("producer_epoch", expected.Epoch), zap.Int64("current_producer_id", m.ProducerID))
	}
	switch m.State {
	case PrepareCommit, PrepareAbort, PrepareEpochFence, Dead:
		return m, false, kerr.ConcurrentTransactions
	case Ongoing:
		return m, false, nil
	}
	next = m.clone()
	next.TimeoutMs = timeoutMs
	next.State = Empty
	next.Partitions = nil
	next.StartMs = -1
	next.LastUpdateMs = c.nowMs()
	if epochExhausted(m.ProducerEpoch) && (expected == nil || expected.Epoch == m.ProducerEpoch) {
		// Rotate to a new producer id (Kafka's prepareProducerIdRotation).
		c.mu.Unlock()
		pid, err := c.cfg.ProducerIDs(ctx)
		c.mu.Lock()
		if err != nil {
			c.log.Warn("allocating a producer id", zap.String("transactional_id", t.id), zap.Error(err))
			return m, false, kerr.CoordinatorLoadInProgress
		}
		if t.pending || t.meta.ProducerID != m.ProducerID || t.meta.ProducerEpoch != m.ProducerEpoch {
			return m, false, kerr.ConcurrentTransactions
		}
		next.LastProducerID, next.ProducerID, next.ProducerEpoch = m.ProducerID, pid, 0
		next.LastProducerEpoch = noEpoch
		if expected != nil {
			next.LastProducerEpoch = m.ProducerEpoch
		}
		return next, false, nil
	}
	switch {
	case expected == nil:
		next.ProducerEpoch, next.LastProducerEpoch = m.ProducerEpoch+1, noEpoch
	case m.ProducerEpoch == noEpoch || expected.Epoch == m.ProducerEpoch:
		next.ProducerEpoch, next.LastProducerEpoch = m.ProducerEpoch+1, m.ProducerEpoch
	case expected.Epoch == m.LastProducerEpoch:
		// The bump happened; its answer was lost. Answer it again.
		return m, true, nil
	default:
		return m, false, c.reject("InitProducerId", t.id, kerr.ProducerFenced, zap.Int16("producer_epoch", expected.Epoch),
			zap.Int16("current_producer_epoch", m.ProducerEpoch))
	}
	return next, false, nil
}

// validExpected is Kafka's isValidProducerId: the producer re-initialising
// with its id and epoch must be this id's current producer (or the
// previous one, when its epoch was exhausted and the rotation's answer was
// lost), unless the id was only just created.
func validExpected(m Metadata, ex ProducerIDAndEpoch) bool {
	return m.ProducerEpoch == noEpoch || ex.ID == m.ProducerID ||
		(ex.ID == m.LastProducerID && epochExhausted(ex.Epoch))
}
