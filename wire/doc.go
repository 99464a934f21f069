// Package wire turns bytes into kmsg requests and kmsg responses into bytes.
//
// It owns the Kafka framing (an int32 size followed by the body), the request
// and response headers (flexible or not, per API and version), the
// per-connection serve loop, and the record-batch helpers the broker needs
// before it appends a producer's bytes to disk: CRC-32C validation, bounded
// decompression for validation, and stamping offsets, the recomputed max
// timestamp and LogAppendTime in place without re-encoding records.
//
// wire knows nothing about topics, partitions or ZooKeeper.
package wire
