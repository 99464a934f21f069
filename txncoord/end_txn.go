package txncoord

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// EndTxn answers EndTxn (Kafka's handleEndTransaction from a client):
// PrepareCommit or PrepareAbort is written, the caller is answered, and the
// markers go to every partition of the transaction in the background until
// all are written, when CompleteCommit or CompleteAbort is written. A retry
// of an end that already completed the same way succeeds; the other way,
// or with no transaction open, is INVALID_TXN_STATE. An unknown id or
// another producer id is INVALID_PRODUCER_ID_MAPPING, an old epoch
// PRODUCER_FENCED.
func (c *Coordinator) EndTxn(ctx context.Context, id string, producerID int64, epoch int16, commit bool) *kerr.Error {
	if id == "" {
		return kerr.InvalidRequest
	}
	c.mu.Lock()
	p, t, e := c.lookup(id)
	if e != nil {
		c.mu.Unlock()
		return e
	}
	fields := []zap.Field{zap.Int64("producer_id", producerID), zap.Int16("producer_epoch", epoch), zap.Bool("commit", commit)}
	switch {
	case t == nil || t.meta.ProducerID != producerID:
		c.mu.Unlock()
		return c.reject("EndTxn", id, kerr.InvalidProducerIDMapping, fields...)
	case epoch != t.meta.ProducerEpoch:
		c.mu.Unlock()
		return c.reject("EndTxn", id, kerr.ProducerFenced, append(fields, zap.Int16("current_producer_epoch", t.meta.ProducerEpoch))...)
	case t.pending:
		c.mu.Unlock()
		return kerr.ConcurrentTransactions
	}
	var e2 *kerr.Error
	switch t.meta.State {
	case Ongoing:
		next := t.meta.clone()
		next.State = PrepareAbort
		if commit {
			next.State = PrepareCommit
		}
		next.LastUpdateMs = c.nowMs()
		return c.prepareEnd(ctx, p, t, next)
	case PrepareCommit:
		e2 = pick(commit, kerr.ConcurrentTransactions, kerr.InvalidTxnState)
	case PrepareAbort:
		e2 = pick(!commit, kerr.ConcurrentTransactions, kerr.InvalidTxnState)
	case CompleteCommit:
		e2 = pick(commit, nil, kerr.InvalidTxnState)
	case CompleteAbort:
		e2 = pick(!commit, nil, kerr.InvalidTxnState)
	default:
		e2 = kerr.InvalidTxnState
	}
	c.mu.Unlock()
	if e2 == kerr.InvalidTxnState {
		return c.reject("EndTxn", id, e2, append(fields, zap.Stringer("state", t.meta.State))...)
	}
	return e2
}

func pick(cond bool, yes, no *kerr.Error) *kerr.Error {
	if cond {
		return yes
	}
	return no
}

// prepareEnd writes next (PrepareCommit or PrepareAbort) for t, with c.mu
// held on entry and released on return, and starts the marker round once
// it is written.
func (c *Coordinator) prepareEnd(ctx context.Context, p *txnPartition, t *txnEntry, next Metadata) *kerr.Error {
	if e := c.begin(t, next); e != nil {
		c.mu.Unlock()
		return e
	}
	c.mu.Unlock()
	return c.persist(ctx, p, t, next, func() {
		t.pending, t.pendingTo = true, completeState(next.State)
		c.startCompletion(p, t)
	})
}

// abortFencing aborts t's open transaction on the coordinator's own
// initiative (a new producer of the id, or the transaction timed out): the
// epoch is bumped in the same PrepareAbort record, so the old producer's
// requests are fenced from then on (Kafka goes through PrepareEpochFence in
// memory to the same record).
func (c *Coordinator) abortFencing(p *txnPartition, t *txnEntry, why string) *kerr.Error {
	c.mu.Lock()
	if c.parts[p.id] != p || t.pending || t.meta.State != Ongoing {
		pending := t.pending
		c.mu.Unlock()
		if pending {
			return kerr.ConcurrentTransactions
		}
		return nil
	}
	next := t.meta.clone()
	if !epochExhausted(next.ProducerEpoch) {
		next.ProducerEpoch++
	}
	next.LastProducerEpoch = noEpoch
	next.State = PrepareAbort
	next.LastUpdateMs = c.nowMs()
	c.log.Info("aborting transaction", zap.String("transactional_id", t.id), zap.String("reason", why),
		zap.Int64("producer_id", next.ProducerID), zap.Int16("fenced_epoch", t.meta.ProducerEpoch), zap.Int16("new_epoch", next.ProducerEpoch))
	return c.prepareEnd(p.ctx, p, t, next)
}

// startCompletion runs t's marker round in the background, with c.mu held
// and t.pending set: markers to every partition until all are written,
// then the Complete state. It stops when the partition is unloaded; the
// next coordinator of the partition resumes it from the log.
func (c *Coordinator) startCompletion(p *txnPartition, t *txnEntry) {
	m := t.meta.clone()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.complete(p, t, m)
	}()
}

// completeState is the state that completes prepared.
func completeState(prepared State) State {
	if prepared == PrepareCommit {
		return CompleteCommit
	}
	return CompleteAbort
}

func (c *Coordinator) complete(p *txnPartition, t *txnEntry, m Metadata) {
	marker := Marker{TransactionalID: t.id, ProducerID: m.ProducerID, ProducerEpoch: m.ProducerEpoch,
		Commit: m.State == PrepareCommit, CoordinatorEpoch: p.epoch, Partitions: m.Partitions}
	for len(marker.Partitions) > 0 {
		if p.ctx.Err() != nil {
			return
		}
		marker.Partitions = c.cfg.Markers.WriteMarkers(p.ctx, marker)
		if len(marker.Partitions) == 0 {
			break
		}
		if !sleep(p.ctx, c.cfg.RetryBackoff) {
			return
		}
	}
	next := m.clone()
	next.State = completeState(m.State)
	next.Partitions = nil
	next.LastUpdateMs = c.nowMs()
	for {
		e := c.persist(p.ctx, p, t, next, nil)
		if e == nil {
			c.log.Debug("transaction completed", zap.String("transactional_id", t.id), zap.Stringer("state", next.State))
			return
		}
		if e == kerr.NotCoordinator || p.ctx.Err() != nil {
			return
		}
		c.mu.Lock()
		t.pending, t.pendingTo = true, next.State // persist cleared it; the completion is still under way
		c.mu.Unlock()
		if !sleep(p.ctx, c.cfg.RetryBackoff) {
			return
		}
	}
}
