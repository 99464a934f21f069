// Package txncoord is the transaction coordinator (KIP-98, with KIP-360,
// KIP-447 and KIP-890's improvements): the state machine of each
// transactional id and its durable log in Kafka's compacted internal topic
// __transaction_state.
//
// A transactional id belongs to partition abs(hashCode(id)) % 50 of
// __transaction_state (transaction.state.log.num.partitions), and the
// leader of that partition is its coordinator. When a broker becomes a
// leader of such a partition it calls Load, which replays the partition
// (answering COORDINATOR_LOAD_IN_PROGRESS meanwhile) and resumes every
// commit or abort that was decided but not completed; Unload drops it when
// leadership moves.
//
// Every state change is one record written through Log (acks=all with the
// topic's min.insync.replicas) before it is applied: a change the log did
// not acknowledge is not applied, and the client retries. While a write or
// a commit/abort is in flight the id is "pending" and other requests are
// answered CONCURRENT_TRANSACTIONS.
//
// Record format (Kafka's TransactionLogKey / TransactionLogValue, big
// endian):
//
//	key:   version int16 (0) | transactional_id string (int16 length)
//	value: version int16 (0 or 1; 1 is flexible and written by Kafka 3.9)
//	       producer_id int64 | producer_epoch int16 | timeout_ms int32
//	       state int8 | partitions [topic string, partition_ids []int32]
//	       (nullable; null for Empty) | last_update_ms int64 | start_ms int64
//	       [v1: tagged fields; tag 0 previous producer id, 1 next producer
//	       id, 2 client transaction version, written by newer Kafka]
//	tombstone (null value): the id expired.
//
// Version 0 uses int16 string and int32 array lengths; version 1 uses
// compact (uvarint length+1) strings and arrays, with a tagged-field
// section after each partition entry and at the end.
//
// Completing a transaction sends a marker to each partition's leader
// through MarkerWriter (WriteTxnMarkers), retrying until every partition
// is done, and then writes CompleteCommit or CompleteAbort.
//
// Locking: one mutex (Coordinator.mu) guards every partition and id; it is
// never held across I/O.
package txncoord
