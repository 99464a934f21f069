package broker

import (
	"context"
	"fmt"

	"github.com/gokafka/gokafka/zkmeta"
)

// producerIDs hands out producer ids for InitProducerId from blocks claimed
// in /latest_producer_id_block, as Kafka's ZooKeeper-mode ProducerIdManager
// does: ids come from the current block in order, and a new block of
// zkmeta.ProducerIDBlockSize ids is claimed when it runs out. Ids are never
// reused, even across restarts, because the block is claimed in ZooKeeper
// before any of its ids is handed out.
type producerIDs struct {
	zk       *zkmeta.Client
	brokerID int32

	// sem is a one-slot semaphore guarding next and end; unlike a mutex it
	// lets a caller give up when its context ends while another caller is
	// waiting on ZooKeeper for a new block.
	sem  chan struct{}
	next int64
	end  int64 // inclusive; next > end means no block is held
	// alloc claims a block; tests replace it.
	alloc func(ctx context.Context) (start, end int64, err error)
}

// newProducerIDs returns an allocator that claims blocks through zk.
func newProducerIDs(zk *zkmeta.Client, brokerID int32) *producerIDs {
	p := &producerIDs{zk: zk, brokerID: brokerID, sem: make(chan struct{}, 1), next: 0, end: -1}
	p.alloc = func(ctx context.Context) (int64, int64, error) {
		return p.zk.AllocateProducerIDBlock(ctx, p.brokerID)
	}
	return p
}

// nextID returns a producer id never handed out before. When the current
// block is used up it claims the next one in ZooKeeper, waiting at most
// until ctx ends.
func (p *producerIDs) nextID(ctx context.Context) (int64, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return -1, fmt.Errorf("waiting for a producer id: %w", ctx.Err())
	}
	defer func() { <-p.sem }()
	if p.next > p.end {
		start, end, err := p.alloc(ctx)
		if err != nil {
			return -1, fmt.Errorf("claiming a producer id block: %w", err)
		}
		if end < start {
			return -1, fmt.Errorf("claiming a producer id block: empty block [%d, %d]", start, end)
		}
		p.next, p.end = start, end
	}
	id := p.next
	p.next++
	return id, nil
}
