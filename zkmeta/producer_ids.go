package zkmeta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/go-zookeeper/zk"
)

// producerIDBlockPath is the last block of producer ids handed out.
const producerIDBlockPath = "/latest_producer_id_block"

// ProducerIDBlockSize is Kafka's block size for /latest_producer_id_block.
const ProducerIDBlockSize = 1000

// producerIDBlockJSON is {"version":1,"broker":id,"block_start":"s","block_end":"e"};
// the bounds are JSON strings and inclusive.
type producerIDBlockJSON struct {
	Version    int    `json:"version"`
	Broker     int32  `json:"broker"`
	BlockStart string `json:"block_start"`
	BlockEnd   string `json:"block_end"`
}

func encodeProducerIDBlock(broker int32, start, end int64) []byte {
	b, _ := json.Marshal(producerIDBlockJSON{
		Version:    1,
		Broker:     broker,
		BlockStart: strconv.FormatInt(start, 10),
		BlockEnd:   strconv.FormatInt(end, 10),
	})
	return b
}

func decodeProducerIDBlock(data []byte) (start, end int64, err error) {
	var v producerIDBlockJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return 0, 0, fmt.Errorf("decode %s: %w", producerIDBlockPath, err)
	}
	if start, err = strconv.ParseInt(v.BlockStart, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("decode %s: block_start: %w", producerIDBlockPath, err)
	}
	if end, err = strconv.ParseInt(v.BlockEnd, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("decode %s: block_end: %w", producerIDBlockPath, err)
	}
	return start, end, nil
}

// AllocateProducerIDBlock claims the next block in /latest_producer_id_block
// ({"version":1,"broker":id,"block_start":"s","block_end":"e"}, strings,
// inclusive) with a conditional write, retrying on a concurrent claim. The
// first block is [0, 999].
//
// A retry after a lost connection may skip a block, never reuse one.
func (c *Client) AllocateProducerIDBlock(ctx context.Context, brokerID int32) (start, end int64, err error) {
	err = c.retrying(ctx, func() (err error) {
		start, end, err = c.allocateProducerIDBlock(ctx, brokerID)
		return err
	})
	return start, end, err
}

func (c *Client) allocateProducerIDBlock(ctx context.Context, brokerID int32) (start, end int64, err error) {
	for {
		data, stat, err := c.get(ctx, producerIDBlockPath)
		if errors.Is(err, zk.ErrNoNode) {
			if err := c.create(ctx, producerIDBlockPath, nil, 0); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return 0, 0, wrap("create", producerIDBlockPath, err)
			}
			continue
		}
		if err != nil {
			return 0, 0, wrap("read", producerIDBlockPath, err)
		}
		start = 0
		if len(data) > 0 {
			_, prevEnd, err := decodeProducerIDBlock(data)
			if err != nil {
				return 0, 0, err
			}
			if prevEnd > math.MaxInt64-ProducerIDBlockSize {
				return 0, 0, fmt.Errorf("allocate producer ids: all ids are exhausted (last block ends at %d)", prevEnd)
			}
			start = prevEnd + 1
		}
		end = start + ProducerIDBlockSize - 1
		_, err = c.set(ctx, producerIDBlockPath, encodeProducerIDBlock(brokerID, start, end), stat.Version)
		if err == nil {
			return start, end, nil
		}
		if !errors.Is(err, zk.ErrBadVersion) {
			return 0, 0, fmt.Errorf("allocate producer ids: %w", wrap("update", producerIDBlockPath, err))
		}
		// Another broker claimed a block first: read its end and go on.
	}
}
