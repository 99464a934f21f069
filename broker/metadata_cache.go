package broker

import (
	"sync"

	"github.com/gokafka/gokafka/zkmeta"
)

// partitionMeta is what the cluster knows of one partition (from its state
// znode and the topic's assignment).
type partitionMeta struct {
	Replicas    []int32
	Leader      int32
	LeaderEpoch int32
	ISR         []int32
}

// topicMeta is one topic as the metadata cache holds it.
type topicMeta struct {
	Name       string
	ID         [16]byte
	Partitions map[int32]partitionMeta
	Config     TopicConfig
}

// metadataCache is the broker's view of the cluster, refreshed from
// ZooKeeper by the controller duties. Readers get immutable snapshots of
// topicMeta: writers replace whole entries rather than mutate them.
type metadataCache struct {
	mu           sync.RWMutex
	topics       map[string]*topicMeta
	byID         map[[16]byte]string
	brokers      []zkmeta.BrokerInfo
	controllerID int32
}
