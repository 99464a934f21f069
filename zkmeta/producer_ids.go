package zkmeta

import "context"

// ProducerIDBlockSize is Kafka's block size for /latest_producer_id_block.
const ProducerIDBlockSize = 1000

// AllocateProducerIDBlock claims the next block in /latest_producer_id_block
// ({"version":1,"broker":id,"block_start":"s","block_end":"e"}, strings,
// inclusive) with a conditional write, retrying on a concurrent claim. The
// first block is [0, 999].
func (c *Client) AllocateProducerIDBlock(ctx context.Context, brokerID int32) (start, end int64, err error) {
	panic("not implemented")
}
