package storage

import "errors"

// Idempotent-producer errors, mapped by the broker to Kafka's codes.
var (
	ErrOutOfOrderSequence   = errors.New("out of order sequence number")
	ErrInvalidProducerEpoch = errors.New("invalid producer epoch")
)

// ProducerBatch is what producer state remembers of one appended batch.
type ProducerBatch struct {
	ProducerID    int64
	ProducerEpoch int16
	FirstSeq      int32
	LastSeq       int32
	FirstOffset   int64
	LastOffset    int64
	MaxTimestamp  int64
}

// ProducerState is one partition's idempotent-producer table: for each
// producer id, its epoch and its last five batches, as Kafka keeps them
// (ProducerStateManager). It is guarded by the partition's write lock.
type ProducerState struct{}

// Check decides what to do with an incoming batch from an idempotent
// producer. A retry of one of the last five batches returns that batch
// (dup != nil): the caller answers with its original base offset and does not
// append. Otherwise it returns ErrInvalidProducerEpoch for an epoch older than
// the producer's, or ErrOutOfOrderSequence for a sequence that does not
// follow the last one (a new epoch must start at 0; an unknown producer may
// start anywhere).
func (s *ProducerState) Check(pid int64, epoch int16, firstSeq, lastSeq int32) (dup *ProducerBatch, err error) {
	panic("not implemented")
}

// Record remembers an appended batch.
func (s *ProducerState) Record(b ProducerBatch) { panic("not implemented") }
