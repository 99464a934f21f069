package txncoord

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// checkProducer checks, with c.mu held, that producerID and epoch are t's
// current producer with no transition in flight and no commit or abort
// being decided, as AddPartitionsToTxn and its verify-only form do.
func (c *Coordinator) checkProducer(op, id string, t *txnEntry, producerID int64, epoch int16) *kerr.Error {
	return c.checkProducerPending(op, id, t, producerID, epoch, false)
}

// checkProducerPending is checkProducer; with addsPending, a pending
// transition that only adds partitions (Ongoing to Ongoing) does not
// count: the partitions already in the transaction stay in it.
func (c *Coordinator) checkProducerPending(op, id string, t *txnEntry, producerID int64, epoch int16, addsPending bool) *kerr.Error {
	fields := []zap.Field{zap.Int64("producer_id", producerID), zap.Int16("producer_epoch", epoch)}
	switch {
	case t == nil || t.meta.ProducerID != producerID:
		return c.reject(op, id, kerr.InvalidProducerIDMapping, fields...)
	case t.meta.ProducerEpoch != epoch:
		return c.reject(op, id, kerr.ProducerFenced, append(fields, zap.Int16("current_producer_epoch", t.meta.ProducerEpoch))...)
	case t.pending && !(addsPending && t.meta.State == Ongoing && t.pendingTo == Ongoing),
		t.meta.State == PrepareCommit, t.meta.State == PrepareAbort:
		return kerr.ConcurrentTransactions
	case t.meta.State == PrepareEpochFence || t.meta.State == Dead:
		return kerr.ConcurrentTransactions
	}
	return nil
}

// DefaultCompletionWait is Config.CompletionWait's default: a commit's
// markers and its CompleteCommit write take a few milliseconds, and a
// client that hears CONCURRENT_TRANSACTIONS waits 20 ms (the Java
// producer's and franz-go's backoff) before it asks again. For a producer
// that begins its next transaction at once, that backoff was most of the
// transaction's time (BenchmarkTransactionalProduce); Kafka answers at
// once, which clients handle the same way when the wait runs out.
const DefaultCompletionWait = 50 * time.Millisecond

// AddPartitions answers AddPartitionsToTxn from a producer: the partitions
// join the transaction, which starts (state Ongoing, start time now) with
// its first partitions. Partitions already in it write nothing. While the
// producer's previous transaction is completing (PrepareCommit or
// PrepareAbort) it waits up to Config.CompletionWait for the completion.
func (c *Coordinator) AddPartitions(ctx context.Context, id string, producerID int64, epoch int16, tps []TopicPartition) *kerr.Error {
	if id == "" {
		return kerr.InvalidRequest
	}
	tps = normalize(slices.Clone(tps))
	wait := time.NewTimer(c.cfg.CompletionWait)
	defer wait.Stop()
	var (
		p *txnPartition
		t *txnEntry
		e *kerr.Error
	)
	for {
		c.mu.Lock()
		p, t, e = c.lookup(id)
		if e == nil {
			e = c.checkProducer("AddPartitionsToTxn", id, t, producerID, epoch)
		}
		if e == kerr.ConcurrentTransactions && (t.meta.State == PrepareCommit || t.meta.State == PrepareAbort) {
			// The previous transaction is completing (its markers are
			// out): a producer that begins the next one right away waits
			// here briefly rather than backing off (clients wait 20 ms).
			settled := c.settled
			c.mu.Unlock()
			select {
			case <-settled:
				continue
			case <-wait.C:
			case <-ctx.Done():
			}
			c.mu.Lock()
			p, t, e = c.lookup(id)
			if e == nil {
				e = c.checkProducer("AddPartitionsToTxn", id, t, producerID, epoch)
			}
		}
		break
	}
	if e != nil {
		c.mu.Unlock()
		return e
	}
	if t.meta.State == Ongoing && t.meta.hasPartitions(tps) {
		c.mu.Unlock()
		return nil
	}
	next := t.meta.clone()
	now := c.nowMs()
	if next.State != Ongoing {
		next.StartMs = now
		next.Partitions = nil
	}
	next.State = Ongoing
	next.Partitions = normalize(append(next.Partitions, tps...))
	next.LastUpdateMs = now
	if e := c.begin(t, next); e != nil {
		c.mu.Unlock()
		return e
	}
	c.mu.Unlock()
	return c.persist(ctx, p, t, next, nil)
}

// AddOffsets answers AddOffsetsToTxn: the __consumer_offsets partition of
// group joins the transaction, so that its marker completes the offsets
// TxnOffsetCommit left pending in the group's coordinator.
func (c *Coordinator) AddOffsets(ctx context.Context, id string, producerID int64, epoch int16, group string) *kerr.Error {
	return c.AddPartitions(ctx, id, producerID, epoch, []TopicPartition{c.OffsetsPartitionFor(group)})
}

// OffsetsPartitionFor is group's partition of __consumer_offsets.
func (c *Coordinator) OffsetsPartitionFor(group string) TopicPartition {
	return TopicPartition{Topic: OffsetsTopic, Partition: PartitionFor(group, c.cfg.OffsetsPartitions)}
}

// Verify answers the verify-only form of AddPartitionsToTxn that partition
// leaders send before appending a producer's first transactional batch to
// a partition (KIP-890): each partition is NONE when it is in the open
// transaction, TRANSACTION_ABORTABLE when not (as Kafka 3.9's coordinator
// answers; the leader turns it into INVALID_TXN_STATE for clients too old
// to know it). A failure of the producer check
// applies to all of them. An AddPartitionsToTxn being written for other
// partitions does not hold the answer up (a producer adds partitions from
// several connections at once, and the partitions already added stay).
func (c *Coordinator) Verify(id string, producerID int64, epoch int16, tps []TopicPartition) (map[TopicPartition]*kerr.Error, *kerr.Error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, t, e := c.lookup(id)
	if e == nil {
		e = c.checkProducerPending("AddPartitionsToTxn (verify)", id, t, producerID, epoch, true)
	}
	if e != nil {
		return nil, e
	}
	out := make(map[TopicPartition]*kerr.Error, len(tps))
	for _, tp := range tps {
		if t.meta.State == Ongoing && t.meta.hasPartitions([]TopicPartition{tp}) {
			out[tp] = nil
		} else {
			out[tp] = kerr.TransactionAbortable
		}
	}
	return out, nil
}
