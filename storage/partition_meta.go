package storage

// WritePartitionMetadata writes <dir>/partition.metadata ("version: 0" and
// "topic_id: <base64url id>") as Kafka does since KIP-516.
func WritePartitionMetadata(dir string, topicID [16]byte) error { panic("not implemented") }

// ReadPartitionMetadata reads the topic id back; ok is false when the file
// is missing.
func ReadPartitionMetadata(dir string) (topicID [16]byte, ok bool, err error) {
	panic("not implemented")
}

// LeaderEpochEntry is one line of leader-epoch-checkpoint.
type LeaderEpochEntry struct {
	Epoch       int32
	StartOffset int64
}

// AssignLeaderEpoch records that epoch starts at startOffset in
// <dir>/leader-epoch-checkpoint (version 0, count, "epoch offset" lines),
// dropping entries a newer epoch supersedes.
func AssignLeaderEpoch(dir string, epoch int32, startOffset int64) error { panic("not implemented") }

// ReadLeaderEpochs reads leader-epoch-checkpoint.
func ReadLeaderEpochs(dir string) ([]LeaderEpochEntry, error) { panic("not implemented") }
