package txncoord

import (
	"context"

	"go.uber.org/zap"
)

// AbortTimedOut aborts every open transaction that has been open longer
// than its timeout, bumping its producer's epoch so the producer is fenced
// (Kafka's abortTimedOutTransactions, run every
// transaction.abort.timed.out.transaction.cleanup.interval.ms).
func (c *Coordinator) AbortTimedOut(ctx context.Context) {
	type victim struct {
		p *txnPartition
		t *txnEntry
	}
	now := c.nowMs()
	var vs []victim
	c.mu.Lock()
	for _, p := range c.parts {
		if p.loading {
			continue
		}
		for _, t := range p.txns {
			if t.meta.State == Ongoing && !t.pending && t.meta.StartMs+int64(t.meta.TimeoutMs) < now {
				vs = append(vs, victim{p, t})
			}
		}
	}
	c.mu.Unlock()
	for _, v := range vs {
		if ctx.Err() != nil {
			return
		}
		if e := c.abortFencing(v.p, v.t, "transaction timed out"); e != nil {
			c.log.Warn("aborting timed-out transaction", zap.String("transactional_id", v.t.id), zap.String("error", e.Message))
		}
	}
}

// RemoveExpired removes the transactional ids with no transaction open
// whose last update is older than transactional.id.expiration.ms, writing
// a tombstone for each (Kafka's removeExpiredTransactionalIds, run every
// transaction.remove.expired.transaction.cleanup.interval.ms).
func (c *Coordinator) RemoveExpired(ctx context.Context) {
	horizon := c.nowMs() - c.cfg.IDExpiration.Milliseconds()
	type victim struct {
		p    *txnPartition
		t    *txnEntry
		next Metadata
	}
	var vs []victim
	c.mu.Lock()
	for _, p := range c.parts {
		if p.loading {
			continue
		}
		for _, t := range p.txns {
			if t.pending || !t.meta.State.completed() || t.meta.LastUpdateMs > horizon {
				continue
			}
			next := t.meta.clone()
			next.State = Dead
			next.LastUpdateMs = c.nowMs()
			if c.begin(t, next) == nil {
				vs = append(vs, victim{p, t, next})
			}
		}
	}
	c.mu.Unlock()
	for _, v := range vs {
		if e := c.persist(ctx, v.p, v.t, v.next, nil); e != nil {
			c.log.Warn("expiring transactional id", zap.String("transactional_id", v.t.id), zap.String("error", e.Message))
			continue
		}
		c.log.Info("expired transactional id", zap.String("transactional_id", v.t.id))
	}
}
