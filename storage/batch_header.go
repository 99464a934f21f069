package storage

import (
	"fmt"
	"math"

	"github.com/gokafka/gokafka/internal/recordbatch"
)

// storage reads only the fixed header of a magic-v2 record batch, whose
// layout and CRC-32C are in internal/recordbatch (the package doc has the
// diagram); the records themselves are opaque bytes that the wire package
// validated before Append.

// batchHeader is the decoded fixed part of one record batch in a segment.
type batchHeader struct{ recordbatch.Header }

// size is the number of bytes the whole batch occupies in a segment.
func (h *batchHeader) size() int64 { return int64(h.Size()) }

// parseBatchHeader decodes and sanity-checks the header at the start of b.
// It checks what can be checked without the body: the length is at least a
// header's, the magic is 2, the offset delta and record count are not
// negative. The CRC is checked separately (recordbatch.CRCValid).
func parseBatchHeader(b []byte) (batchHeader, error) {
	rh, ok := recordbatch.ReadHeader(b)
	h := batchHeader{rh}
	switch {
	case !ok:
		return h, fmt.Errorf("batch header: %d bytes, need %d: %w", len(b), recordbatch.HeaderSize, ErrCorruption)
	case h.BatchLength < recordbatch.HeaderSize-recordbatch.LogOverhead:
		return h, fmt.Errorf("batch at offset %d: length %d below header size: %w", h.BaseOffset, h.BatchLength, ErrCorruption)
	case h.Magic != recordbatch.MagicV2:
		return h, fmt.Errorf("batch at offset %d: magic %d, want 2: %w", h.BaseOffset, h.Magic, ErrCorruption)
	case h.BaseOffset < 0 || h.LastOffsetDelta < 0 || h.RecordCount < 0:
		return h, fmt.Errorf("batch at offset %d: negative offset delta or record count: %w", h.BaseOffset, ErrCorruption)
	case h.BaseOffset > math.MaxInt64-int64(h.LastOffsetDelta)-1:
		return h, fmt.Errorf("batch at offset %d: last offset overflows: %w", h.BaseOffset, ErrCorruption)
	}
	return h, nil
}
