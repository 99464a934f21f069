package wire

// RecordBatchHeaderSize is the size of a magic-v2 record batch header, from
// baseOffset through recordCount.
const RecordBatchHeaderSize = 61

// BatchHeader is the fixed header of a magic-v2 record batch. Layout (big
// endian):
//
//	baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 |
//	magic int8 | crc uint32 | attributes int16 | lastOffsetDelta int32 |
//	baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
//	producerEpoch int16 | baseSequence int32 | recordCount int32
//
// The CRC-32C covers everything from attributes to the end of the batch.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Compression returns the codec bits of the attributes (0 none, 1 gzip,
// 2 snappy, 3 lz4, 4 zstd).
func (h BatchHeader) Compression() int8 { return int8(h.Attributes & 0x07) }

// IsTransactional reports the transactional attribute bit.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&0x10 != 0 }

// IsControl reports the control-batch attribute bit.
func (h BatchHeader) IsControl() bool { return h.Attributes&0x20 != 0 }

// LastSequence is the sequence of the batch's last record, wrapping at
// MaxInt32 as Kafka does.
func (h BatchHeader) LastSequence() int32 {
	if h.BaseSequence < 0 {
		return -1
	}
	s := int64(h.BaseSequence) + int64(h.LastOffsetDelta)
	if s > 1<<31-1 {
		s -= 1 << 31
	}
	return int32(s)
}

// ValidateConfig bounds what ValidateProduceBatch accepts.
type ValidateConfig struct {
	// MaxBatchBytes is the topic's max.message.bytes: a batch larger than
	// this is ErrMessageTooLarge.
	MaxBatchBytes int
	// MaxDecompressedBytes bounds how much a compressed batch may expand
	// while it is validated; beyond it the batch is ErrCorruptMessage.
	MaxDecompressedBytes int
}

// ParseBatchHeader reads the fixed header at the start of b without checking
// the CRC. It returns ErrCorruptMessage if b is shorter than the header or
// than the batch length it announces.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	panic("wire.ParseBatchHeader: not implemented")
}

// ValidateProduceBatch checks the Records field of one partition of a Produce
// request v3+: exactly one magic-v2 batch, exactly as long as it says, CRC-32C
// matching, a record count equal to the records actually present (after
// bounded decompression), offset deltas 0..n-1 matching lastOffsetDelta, and
// well-formed record lengths. Errors are ErrCorruptMessage, ErrInvalidRecord,
// ErrMessageTooLarge or ErrUnsupportedCompression, wrapped with detail.
func ValidateProduceBatch(records []byte, cfg ValidateConfig) (BatchHeader, error) {
	panic("wire.ValidateProduceBatch: not implemented")
}

// SetBaseOffset stamps the batch's base offset in place. The base offset is
// outside the CRC, so the CRC stays valid.
func SetBaseOffset(batch []byte, base int64) {
	panic("wire.SetBaseOffset: not implemented")
}

// SetPartitionLeaderEpoch stamps the partition leader epoch in place (outside
// the CRC).
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	panic("wire.SetPartitionLeaderEpoch: not implemented")
}

// SetLogAppendTime sets the timestamp-type attribute bit and the max
// timestamp to ts, then recomputes the CRC, as Kafka does for topics with
// message.timestamp.type=LogAppendTime.
func SetLogAppendTime(batch []byte, ts int64) {
	panic("wire.SetLogAppendTime: not implemented")
}

// RecordTimestamp is one record's offset and effective timestamp.
type RecordTimestamp struct {
	Offset    int64
	Timestamp int64
}

// RecordTimestamps decodes (decompressing if needed, within maxDecompressed)
// the records of one stored batch and returns each record's absolute offset
// and timestamp. For LogAppendTime batches every record's timestamp is the
// batch max timestamp. ListOffsets uses it to answer by timestamp with the
// exact record offset.
func RecordTimestamps(batch []byte, maxDecompressed int) ([]RecordTimestamp, error) {
	panic("wire.RecordTimestamps: not implemented")
}
