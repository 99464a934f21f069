// Package storage holds one broker's partition logs on disk in Apache Kafka's
// layout, so that Kafka's own tools (kafka-dump-log, kafka-log-dirs) and a
// person with ls see what they would see on Kafka.
//
// storage knows nothing about the network or ZooKeeper; see docs/design.md
// for the whole system.
//
// # Layout
//
//	<log.dir>/
//	  meta.properties                   version=0, broker.id, cluster.id
//	  recovery-point-offset-checkpoint  \
//	  replication-offset-checkpoint      > "0\n<count>\n<topic> <partition> <offset>\n..."
//	  log-start-offset-checkpoint        > (written to .tmp, fsynced, renamed)
//	  cleaner-offset-checkpoint         /  compacted partitions, cleaned below offset
//	  .kafka_cleanshutdown              present only after a clean stop
//	  .lock                             flock(LOCK_EX|LOCK_NB) held while a broker runs
//	  .gokafka-zk-session               "<hex session id>\n": the holder's ZooKeeper session
//	  <topic>-<partition>/
//	    partition.metadata              "version: 0\ntopic_id: <base64url, 22 chars>\n"
//	    leader-epoch-checkpoint         "0\n<count>\n<epoch> <startOffset>\n..."
//	    00000000000000000000.log        record batches, exactly as received
//	    00000000000000000000.index      sparse offset index
//	    00000000000000000000.timeindex  sparse time index
//	    00000000000000000000.txnindex   aborted transactions whose markers are in this segment (txn_index.go)
//	    00000000000000001234.snapshot   producer state at offset 1234 (producer_snapshot.go)
//	    00000000000000001234.log        next segment: named by its base offset
//	    00000000000000000000.log.cleaned  a clean in progress (and .index/.timeindex)
//	    00000000000000000000.log.swap     a finished clean being swapped in
//	    ...
//
// # Log-dir lock and the recorded ZooKeeper session
//
// As Kafka's LogManager, OpenDirs takes an exclusive, non-blocking flock on
// each log dir's .lock and holds it until Dirs.Close or the end of the
// process (SIGKILL included: the kernel drops the lock with the file). A
// second broker on the same dir fails with Kafka's "Failed to acquire lock
// on file .lock in <dir>" (ErrLogDirLocked).
//
// .gokafka-zk-session is gokafka's own (Kafka ignores non-directory files
// at the top of a log dir): the broker writes its ZooKeeper session id there
// after registering and after every new session (temp file, fsync, rename).
// The rule it serves: a session read from a dir whose .lock this process
// holds was written by a process that has exited, so that session's
// ephemerals (/brokers/ids/<id>, /controller) may be deleted instead of
// waiting for ZooKeeper to expire it. Dirs naming different sessions are
// all used (PreviousZKSessions). storage only stores the number; the broker
// and zkmeta apply the rule.
//
// # Segment files
//
// A .log is magic-v2 record batches back to back; the header storage reads
// is laid out in internal/recordbatch (checked here in batch_header.go).
// The indexes hold big-endian entries, with offsets relative to the
// segment's base offset:
//
//	.index      +--------------------+--------------------+
//	            | relative offset u32 | position in .log u32 |   8 bytes
//	            +--------------------+--------------------+
//	.timeindex  +------------------------+--------------------+
//	            | max timestamp so far i64 | relative offset u32 | 12 bytes
//	            +------------------------+--------------------+
//
// As in Kafka's LogSegment, once more than index.interval.bytes have been
// appended since the last entry, the next batch gets an .index entry (its
// last offset at its start position) and, when the segment's max timestamp
// grew, a .timeindex entry (the max timestamp and the last offset of the
// batch holding it). Rolling adds a final .timeindex entry for the max
// timestamp if it is not there yet. A lookup takes the last entry at or
// below the target and walks batch headers from there.
//
// # Index files are memory-mapped; the fd budget
//
// As Kafka does, the indexes are reached through memory mappings, never
// through an open descriptor (indexfile.go). The active segment's .index and
// .timeindex are preallocated as sparse files to segment.index.bytes
// (rounded down to whole entries; the .timeindex gets one more slot, for
// the entry rolling adds), mapped MAP_SHARED read-write, and their
// descriptors closed right after mapping; entries are stored straight into
// the mapping. Flush msyncs the entries where it fsyncs the .log. When the
// segment rolls, and for the active segment at a clean Close, the files are
// trimmed to their entries (what Kafka leaves and its tools read) and the
// mapping dropped (a rolled segment's trimmed files are then fsynced by the
// background flush, through a descriptor opened for the purpose); an inactive segment's indexes are mapped read-only on
// their first lookup (and, at Open, for the check and unmapped after it).
//
// So a partition costs one file descriptor per segment, its .log, plus
// descriptors held for a moment (an index being mapped, trimmed or synced, a
// checkpoint being written) and the .log references of Regions still being
// sent. A broker with P partitions of S segments each needs P*S descriptors
// for logs, under `ulimit -n` with room for sockets: 10,000 single-segment
// partitions fit in 20,000. The mappings count against vm.max_map_count
// (65,530 by default): two per partition for the active segment plus two per
// inactive segment that has been read since Open; each active mapping
// reserves segment.index.bytes of address space, not memory: only the pages
// holding entries are ever touched.
//
// A crash leaves the active segment's indexes untrimmed, with a zero-filled
// tail. The next Open rebuilds the active segment's indexes anyway (it is
// always at or after the recovery point), and a zero tail is never taken
// for entries elsewhere either: the first batch of a segment never gets an
// .index entry, so an all-zero entry (position 0) fails the index check like
// any other bad entry, and so does a second .timeindex entry that does not
// grow the timestamp; the segment is then scanned and its indexes rebuilt.
// The same covers a trim lost to a power failure (trims are not fsynced).
// A sparse index page that the disk has no room for faults on first write;
// that fault is turned into an append error rather than a crash.
//
// The active (last) segment rolls before an append when it is not empty and
// the append would pass segment.bytes, or it was created more than
// segment.ms ago by the log's clock, or an index is full
// (segment.index.bytes), or the batch's last offset would not fit the
// index's 32-bit relative offset.
//
// # Flushing and the recovery point
//
// The recovery point is the offset below which everything is known to be
// on disk; the broker writes it to recovery-point-offset-checkpoint and
// Open scans only from it. Data reaches the disk two ways: Flush (the
// flush.messages policy in Append, the broker's flush.ms scheduler, a clean
// Close) fsyncs what is unsynced and moves the recovery point to the log
// end; and a roll, as in Kafka, fsyncs nothing in Append: it hands the
// segment it retires to a background flusher owned by the log (flush.go),
// which fsyncs the .log, its trimmed indexes and the directory, and only
// then moves the recovery point to the end of that segment. Flush, Close
// and TruncateTo wait for that flusher first. A flush also fsyncs the
// directory (and its parent) when it created a segment the flusher did not
// sync, such as a new log's first one: without that, a power loss could
// drop the file the recovery point vouches for.
//
// # Failures: the log goes offline
//
// A failed write, fsync, truncation or roll takes the log offline
// (offline.go): the failure is kept, never retried (a second fsync after
// EIO usually "succeeds" on Linux because the failed pages were marked
// clean), every writing method returns ErrOffline from then on, the
// recovery point stays put, and OpenOptions.OnOffline tells the broker,
// which takes the whole log dir offline (Dirs.Fail, dir_failure.go; Kafka's
// LogDirFailureChannel): no checkpoints, no clean-shutdown marker and no
// new partitions there until the next start recovers it.
//
// # The file layer
//
// Every file goes through a vfs.FS (OpenOptions.FS, OpenDirs), so tests
// can fail operations (vfs.Faulty) or simulate a power loss (vfs.Crashable,
// used by crash_test.go). Files are real OS files underneath, for mmap and
// sendfile; the layer costs an interface call and no allocation.
//
// # Recovery
//
// After an unclean stop (no .kafka_cleanshutdown), Open scans the segment
// holding the recovery point and every later one (always at least the active
// segment). Each batch must have a sane header (length at least a header,
// magic 2, non-negative deltas), lie wholly inside the file, start after the
// previous batch and match its CRC-32C. The .log is truncated at the first
// batch that fails, later segments are deleted, and the scanned segments'
// indexes are rebuilt. A scanned segment that ends before the next one's
// base offset lost its last batches in a power failure: the log ends there
// too, rather than skip the lost offsets. For any other segment the indexes are checked (size a
// multiple of the entry size, entries in order and inside the .log, the last
// entry pointing at a batch); a segment failing that is scanned the same way.
// The log end offset is the last batch's base offset + lastOffsetDelta + 1.
// Producer state is rebuilt from the newest valid snapshot (below).
//
// # Compaction
//
// The log cleaner (compact.go, cleaner.go) rewrites a group of closed
// segments to <base>.log.cleaned (+ .index.cleaned, .timeindex.cleaned),
// syncs them, renames them to .swap (the .log last: its .swap is the commit
// point) and then over <base>'s files, deleting the group's other segments.
// At Open, .cleaned files are deleted (the old segments are intact) and a
// .log.swap is completed: renamed over <base>.log with its index .swap files
// (or, without them, <base>'s old indexes deleted and rebuilt), and the
// segments starting inside its offset range deleted. A crash between the
// commit and those deletions can leave a later segment of the group whose
// records were all superseded; it is kept (it holds only older values of
// keys rewritten above it) and the next clean removes its records again.
//
// # Producer-state snapshots
//
// Log.Append records every idempotent batch in the log's ProducerState, so
// the table always describes the log's own batches. Like Kafka, the log
// writes it to `<20-digit offset>.snapshot` (Kafka's ProducerSnapshot v1:
// version, CRC-32C, then per producer its id, epoch, last sequence, last
// offset, offset delta and timestamp; the format is drawn in
// producer_snapshot.go) at every roll, named by the new segment's base, and
// at a clean close, named by the log end (skipped there for a log under
// 1 MiB with no idempotent producer, unless ExpireProducers removed some:
// a walk would bring them back). Open loads the newest snapshot between
// the log start and end whose CRC holds and replays only the batches from
// its offset on; without one it walks every batch header. Snapshots past the
// end (lost to recovery or a truncation) or below the start (retention) are
// deleted. They are written without fsync, and at a roll before the data
// below their offset is synced: data lost in a crash ends the recovered log
// below the snapshot, which is then deleted as past the end, and a torn
// snapshot fails its CRC and is skipped, so a lost snapshot costs a longer
// walk, never a wrong table.
//
// Producers expire as in Kafka (producer.id.expiration.ms, default one
// day): ExpireProducers, which the broker runs every
// producer.id.expiration.check.interval.ms, drops each producer whose last
// batch's max timestamp is that old, and later snapshots no longer carry
// it. (A restart from an older snapshot, or a walk, brings it back until
// the next check.)
//
// # Concurrency
//
// A Log has one writer at a time (the broker's partition lock) and any number
// of readers. Lock order: Log.wmu (writers) before Log.mu (segment list,
// published sizes, recovery point), and Log.wmu before Log.fmu (the
// background flush of rolled segments); Log.mu and Log.fmu are never held
// together. The flusher takes only Log.fmu and Log.mu, and neither during an
// fsync, so no reader and no writer waits for a roll's fsync. Read holds
// Log.mu's read lock while it copies, so retention and truncation never close
// a file under it. ReadRegion (the sendfile path) holds the read lock only to
// locate the batches and then takes a reference on the segment's .log: the
// file is closed when the segment is gone and the last Region is released, so
// a response still being written to a slow consumer neither blocks a producer
// nor loses its file to retention (the unlinked file stays readable through
// the open descriptor). ProducerState is guarded by the caller's partition
// lock. The log cleaner takes no partition lock: it takes wmu (then mu) to
// snapshot the segment list and producers' last offsets, reads segments
// through .log references it holds, and takes wmu then mu again only to
// swap cleaned segments in, so the lock order is unchanged.
package storage
