package groupcoord

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// expiryLoop runs ExpireOffsets every offsets.retention.check.interval.ms
// until Close.
func (c *Coordinator) expiryLoop() {
	defer c.timers.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stop
		cancel()
	}()
	t := time.NewTicker(c.cfg.OffsetsRetentionCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if err := c.ExpireOffsets(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("offset expiry pass failed", zap.Error(err))
			}
		}
	}
}

// ExpireOffsets removes expired committed offsets from every group this
// coordinator owns, as Kafka's periodic cleanup does
// (offsets.retention.minutes, KIP-211):
//   - a group without members that had a protocol type expires its offsets
//     once it has been Empty for the retention period;
//   - a group that never had members (only simple commits, or loaded from
//     the store) expires each offset the retention period after its commit;
//   - a Stable consumer group expires, by commit time, the offsets of
//     topics none of its members subscribes to;
//   - an offset committed with an explicit expiry (OffsetCommit v1-v4)
//     expires then instead.
//
// A group left with no members and no offsets is forgotten.
func (c *Coordinator) ExpireOffsets(ctx context.Context) error {
	ids := make(map[string]bool)
	c.mu.Lock()
	for id := range c.groups {
		ids[id] = true
	}
	c.mu.Unlock()
	stored, err := c.store.Groups(ctx)
	if err != nil {
		return err
	}
	for _, id := range stored {
		if c.cfg.Owns == nil || c.cfg.Owns(id) {
			ids[id] = true
		}
	}
	for id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := c.expireGroup(ctx, id); err != nil {
			c.log.Warn("offset expiry failed", zap.String("group", id), zap.Error(err))
		}
	}
	return nil
}

func (c *Coordinator) expireGroup(ctx context.Context, id string) error {
	g, err := c.lockForWrite(ctx, id, false)
	if err != nil || g == nil {
		return err
	}
	defer g.commitMu.Unlock()
	expired := c.expiredLocked(g, c.cfg.Now())
	g.mu.Unlock()
	if len(expired) > 0 {
		if err := c.store.Delete(ctx, id, expired...); err != nil {
			return err
		}
		c.log.Info("expired committed offsets", zap.String("group", id), zap.Int("partitions", len(expired)))
	}
	g.mu.Lock()
	for _, tp := range expired {
		delete(g.offsets, tp)
	}
	c.maybeRemoveLocked(g)
	g.mu.Unlock()
	return nil
}

// expiredLocked lists g's offsets that have expired at now. g.mu is held.
func (c *Coordinator) expiredLocked(g *group, now time.Time) []TopicPartition {
	var base func(CommittedOffset) time.Time
	var keep map[string]bool
	switch {
	case g.protocolType == "":
		base = func(o CommittedOffset) time.Time { return o.CommitTime }
	case g.state == stateEmpty:
		base = func(CommittedOffset) time.Time { return g.stateSince }
	case g.state == stateStable && g.protocolType == consumerProtocolType && g.subscribedKnown:
		base = func(o CommittedOffset) time.Time { return o.CommitTime }
		keep = g.subscribed
	default:
		return nil
	}
	var out []TopicPartition
	for tp, o := range g.offsets {
		if keep[tp.Topic] {
			continue
		}
		if !o.ExpireTime.IsZero() {
			if !now.Before(o.ExpireTime) {
				out = append(out, tp)
			}
			continue
		}
		if now.Sub(base(o)) >= c.cfg.OffsetsRetention {
			out = append(out, tp)
		}
	}
	return out
}
