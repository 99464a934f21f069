package storage

import "go.uber.org/zap"

// PartitionDir names one partition directory found in a log dir.
type PartitionDir struct {
	Topic     string
	Partition int32
	// Path is <log.dir>/<topic>-<partition>.
	Path string
}

// Dirs is the broker's set of log dirs (log.dirs): meta.properties, the
// checkpoint files and the clean-shutdown marker live here.
type Dirs struct{}

// OpenDirs creates missing log dirs and checks meta.properties in each: a
// broker.id or cluster.id that differs from the arguments is an error
// (Kafka's InconsistentBrokerIdException / InconsistentClusterIdException);
// missing files are written.
func OpenDirs(paths []string, brokerID int32, clusterID string, logger *zap.Logger) (*Dirs, error) {
	panic("not implemented")
}

// Partitions lists the partition directories in every log dir (skipping
// directories being deleted).
func (d *Dirs) Partitions() ([]PartitionDir, error) { panic("not implemented") }

// PathFor returns the existing directory of topic-partition, or a new path
// in the log dir holding the fewest partitions.
func (d *Dirs) PathFor(topic string, partition int32) string { panic("not implemented") }

// CleanShutdown reports whether the previous run left the clean-shutdown
// marker (.kafka_cleanshutdown), and removes it so a crash is noticed next
// time.
func (d *Dirs) CleanShutdown() bool { panic("not implemented") }

// Checkpoints are the per-partition offsets written into each log dir's
// checkpoint files.
type Checkpoints struct {
	// RecoveryPoints -> recovery-point-offset-checkpoint.
	RecoveryPoints map[PartitionDir]int64
	// HighWatermarks -> replication-offset-checkpoint.
	HighWatermarks map[PartitionDir]int64
	// LogStartOffsets -> log-start-offset-checkpoint.
	LogStartOffsets map[PartitionDir]int64
}

// WriteCheckpoints writes the checkpoint files (Kafka's text format: version
// line, count line, then "topic partition offset" lines) atomically.
func (d *Dirs) WriteCheckpoints(c Checkpoints) error { panic("not implemented") }

// ReadCheckpoints reads them back; missing files are empty maps.
func (d *Dirs) ReadCheckpoints() (Checkpoints, error) { panic("not implemented") }

// MarkCleanShutdown writes the clean-shutdown marker in every log dir.
func (d *Dirs) MarkCleanShutdown() error { panic("not implemented") }
