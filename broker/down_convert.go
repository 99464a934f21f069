package broker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/wire"
)

// firstBatchFetchVersion is the first Fetch version whose consumers read
// magic-v2 batches; older ones (0.10.x and before) get the stored batches
// down-converted: format v1 for Fetch v2-3, v0 for v0-1.
const firstBatchFetchVersion = 4

// fetchMagic is the message format a Fetch below v4 reads.
func fetchMagic(version int16) int8 {
	if version >= 2 {
		return wire.MagicV1
	}
	return wire.MagicV0
}

// downConverters reuses DownConverters (and their decompression buffers)
// across fetches; Release drops a buffer that grew beyond a typical batch.
var downConverters = sync.Pool{New: func() any { return new(wire.DownConverter) }}

// conversionStats counts what down-conversion costs, apart from the
// fetches that need none, as Kafka's FetchMessageConversionsPerSec and
// MessageConversionsTimeMs do.
type conversionStats struct {
	fetches atomic.Int64 // partitions converted
	bytesIn atomic.Int64 // stored bytes read for them
	nanos   atomic.Int64 // time spent converting
}

// downConvert turns data, whole v2 batches as the log returned them from
// offset on, into the message set of format magic that a Fetch v0-3
// consumer reads. The result holds whole messages only and at most maxLen
// bytes (the partition's max bytes within what the response has left),
// except that a first message larger than that still goes whole if it fits
// in firstMax (what the response has left; unbounded for the response's
// first partition, KIP-74), so a consumer whose fetch size is below a
// message makes progress. Memory is the output (within fetch.max.bytes, or
// one message) plus one decompressed batch: data itself was read within the
// same bound.
//
// It returns the message set and the offset after the last record it
// covers (records it skipped count: control batches, offsets before
// offset); the offset is not past the data read.
func (s *Server) downConvert(data []byte, magic int8, offset int64, maxLen, firstMax, maxDecompressed int) ([]byte, int64, error) {
	start := time.Now()
	c := downConverters.Get().(*wire.DownConverter)
	c.Magic, c.MaxDecompressedBytes = magic, maxDecompressed
	defer func() { c.Release(); downConverters.Put(c) }()

	out := make([]byte, 0, min(maxLen, len(data)+len(data)/2))
	next := offset
	for pos := 0; pos < len(data); {
		h, err := wire.ParseBatchHeader(data[pos:])
		if err != nil {
			return nil, 0, fmt.Errorf("stored batch at byte %d: %w", pos, err)
		}
		var stopped bool
		out, next, stopped, err = c.Append(out, data[pos:pos+h.Size()], next, maxLen, firstMax)
		if err != nil {
			return nil, 0, fmt.Errorf("down-convert to magic %d: %w", magic, err)
		}
		if stopped {
			break
		}
		pos += h.Size()
	}
	s.conversions.fetches.Add(1)
	s.conversions.bytesIn.Add(int64(len(data)))
	s.conversions.nanos.Add(int64(time.Since(start)))
	return out, next, nil
}
