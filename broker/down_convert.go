package broker

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/wire"
	"go.uber.org/zap"
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

// conversionStats counts what message-format conversion costs, apart from
// the requests that need none, in the spirit of Kafka's
// ProduceMessageConversionsPerSec, FetchMessageConversionsPerSec and
// MessageConversionsTimeMs. gokafka has no metrics reporter: the totals are
// logged at shutdown (logConversions) and read by tests.
type conversionStats struct {
	produced      atomic.Int64 // Produce v0-2 partitions up-converted
	producedBytes atomic.Int64 // their message-set bytes
	produceNanos  atomic.Int64
	fetches       atomic.Int64 // Fetch v0-3 partitions down-converted
	bytesIn       atomic.Int64 // stored bytes read for them
	nanos         atomic.Int64 // time spent down-converting
}

// logConversions logs the conversion totals, if there were any.
func (s *Server) logConversions() {
	c := &s.conversions
	if c.produced.Load() == 0 && c.fetches.Load() == 0 {
		return
	}
	s.logger.Info("message format conversions for clients older than 0.11",
		zap.Int64("produce_partitions", c.produced.Load()), zap.Int64("produce_bytes", c.producedBytes.Load()),
		zap.Duration("produce_time", time.Duration(c.produceNanos.Load())),
		zap.Int64("fetch_partitions", c.fetches.Load()), zap.Int64("fetch_bytes_read", c.bytesIn.Load()),
		zap.Duration("fetch_time", time.Duration(c.nanos.Load())))
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
