package broker

import (
	"sync"

	"github.com/gokafka/gokafka/storage"
)

// topicPartition names a partition.
type topicPartition struct {
	Topic     string
	Partition int32
}

// Partition is one partition this broker hosts. Its mutex serializes
// appends (offset assignment, producer-state checks, the storage append);
// reads go to the storage.Log directly, which is safe alongside one writer.
type Partition struct {
	mu sync.Mutex

	tp          topicPartition
	topicID     [16]byte
	leaderEpoch int32
	cfg         TopicConfig
	log         *storage.Log
}

// replicaManager holds the partitions this broker hosts. Lookups take a
// read lock on the map only; nothing on the request path holds a global lock
// while it touches a log.
type replicaManager struct {
	mu         sync.RWMutex
	partitions map[topicPartition]*Partition
}
