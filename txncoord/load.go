package txncoord

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// Records reads a __transaction_state partition from its start to its log
// end, calling yield with each record's key and value (nil: tombstone) in
// offset order. The broker implements it over the partition's log.
type Records func(ctx context.Context, yield func(key, value []byte) error) error

// Load makes this broker the coordinator of partition, at coordinator
// epoch epoch (the partition's leader epoch), as Kafka does when it becomes
// the partition's leader: requests for its ids answer
// COORDINATOR_LOAD_IN_PROGRESS until read has replayed the partition, and
// then every transaction found half-completed (PrepareCommit or
// PrepareAbort) has its markers sent again and is completed. A partition
// already loaded at an older epoch is reloaded; at the same or a newer one
// nothing happens.
func (c *Coordinator) Load(partition, epoch int32, read Records) {
	c.mu.Lock()
	if old := c.parts[partition]; old != nil {
		if old.epoch >= epoch {
			c.mu.Unlock()
			return
		}
		old.cancel()
	}
	ctx, cancel := context.WithCancel(c.ctx)
	p := &txnPartition{id: partition, epoch: epoch, loading: true, txns: map[string]*txnEntry{}, ctx: ctx, cancel: cancel}
	c.parts[partition] = p
	c.wg.Add(1)
	c.mu.Unlock()
	go c.load(p, read)
}

// Unload drops partition after this broker stopped leading it (epoch < 0:
// whatever the epoch); its ids answer NOT_COORDINATOR and its marker
// rounds stop.
func (c *Coordinator) Unload(partition, epoch int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[partition]
	if p == nil || (epoch >= 0 && p.epoch > epoch) {
		return
	}
	p.cancel()
	delete(c.parts, partition)
	c.log.Info("unloaded transaction state partition", zap.Int32("partition", partition), zap.Int("transactional_ids", len(p.txns)))
}

// Loaded lists the partitions this coordinator has loaded, with their
// coordinator epochs.
func (c *Coordinator) Loaded() map[int32]int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int32]int32{}
	for id, p := range c.parts {
		if !p.loading {
			out[id] = p.epoch
		}
	}
	return out
}

func (c *Coordinator) load(p *txnPartition, read Records) {
	defer c.wg.Done()
	for {
		txns, err := replay(p.ctx, read)
		if err == nil {
			c.finishLoad(p, txns)
			return
		}
		c.log.Warn("loading transaction state partition", zap.Int32("partition", p.id), zap.Error(err))
		if !sleep(p.ctx, c.cfg.RetryBackoff*10) {
			return
		}
	}
}

// replay reads a partition into the latest state of each id; a tombstone
// removes it. A record that does not decode stops the load: the log is
// corrupt and guessing would lose a transaction.
func replay(ctx context.Context, read Records) (map[string]Metadata, error) {
	out := map[string]Metadata{}
	err := read(ctx, func(key, value []byte) error {
		id, err := DecodeKey(key)
		if err != nil {
			return err
		}
		m, err := DecodeValue(value)
		if err != nil {
			return fmt.Errorf("transactional id %q: %w", id, err)
		}
		if m.State == Dead {
			delete(out, id)
			return nil
		}
		if old, ok := out[id]; ok && old.ProducerID != m.ProducerID {
			m.LastProducerID = old.ProducerID
		}
		out[id] = m
		return nil
	})
	return out, err
}

// finishLoad installs the replayed state and resumes every commit or abort
// that was decided but not completed.
func (c *Coordinator) finishLoad(p *txnPartition, txns map[string]Metadata) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.parts[p.id] != p {
		return
	}
	resumed := 0
	for id, m := range txns {
		t := &txnEntry{id: id, meta: m}
		p.txns[id] = t
		if m.State == PrepareCommit || m.State == PrepareAbort {
			t.pending, t.pendingTo = true, completeState(m.State)
			c.startCompletion(p, t)
			resumed++
		}
	}
	p.loading = false
	c.log.Info("loaded transaction state partition", zap.Int32("partition", p.id), zap.Int32("coordinator_epoch", p.epoch),
		zap.Int("transactional_ids", len(txns)), zap.Int("resumed_completions", resumed))
}
