package broker

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/gokafka/gokafka/zkmeta"
)

// partitionMeta is what the cluster knows of one partition (from its state
// znode and the topic's assignment).
type partitionMeta struct {
	Replicas        []int32
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	OfflineReplicas []int32
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
	// updated is closed and replaced on every change, for admin requests
	// that wait for the controller's decisions to arrive (waitTopic).
	updated atomic.Pointer[chan struct{}]
}

// newMetadataCache returns an empty cache.
func newMetadataCache() *metadataCache {
	m := &metadataCache{
		topics:       make(map[string]*topicMeta),
		byID:         make(map[[16]byte]string),
		controllerID: -1,
	}
	ch := make(chan struct{})
	m.updated.Store(&ch)
	return m
}

// changed returns a channel closed at the next change. Take it before
// reading, so a change in between is not missed.
func (m *metadataCache) changed() <-chan struct{} { return *m.updated.Load() }

// notify wakes everyone waiting on changed.
func (m *metadataCache) notify() {
	ch := make(chan struct{})
	close(*m.updated.Swap(&ch))
}

// topic returns the snapshot of one topic. The returned topicMeta must not
// be modified: writers replace it. Safe on a nil cache.
func (m *metadataCache) topic(name string) (*topicMeta, bool) {
	if m == nil {
		return nil, false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	t, ok := m.topics[name]
	return t, ok
}

// topicNameByID resolves a topic id (Fetch v13+, Metadata v12,
// DeleteTopics v6).
func (m *metadataCache) topicNameByID(id [16]byte) (string, bool) {
	if m == nil {
		return "", false
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	n, ok := m.byID[id]
	return n, ok
}

// setTopic installs or replaces a topic's snapshot.
func (m *metadataCache) setTopic(t *topicMeta) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.topics[t.Name]; ok && old.ID != t.ID {
		delete(m.byID, old.ID)
	}
	m.topics[t.Name] = t
	if t.ID != ([16]byte{}) {
		m.byID[t.ID] = t.Name
	}
	m.notify()
}

// removeTopic forgets a topic.
func (m *metadataCache) removeTopic(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.topics[name]; ok {
		delete(m.byID, old.ID)
		delete(m.topics, name)
	}
	m.notify()
}

// allTopics returns every topic's snapshot, sorted by name.
func (m *metadataCache) allTopics() []*topicMeta {
	m.mu.RLock()
	out := make([]*topicMeta, 0, len(m.topics))
	for _, t := range m.topics {
		out = append(out, t)
	}
	m.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// topicNames returns the names of the cached topics.
func (m *metadataCache) topicNames() map[string]bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]bool, len(m.topics))
	for n := range m.topics {
		out[n] = true
	}
	return out
}

// setBrokers replaces the registered brokers and the controller id.
func (m *metadataCache) setBrokers(bs []zkmeta.BrokerInfo, controllerID int32) {
	cp := append([]zkmeta.BrokerInfo(nil), bs...)
	sort.Slice(cp, func(i, j int) bool { return cp[i].ID < cp[j].ID })
	m.mu.Lock()
	defer m.mu.Unlock()
	m.brokers = cp
	m.controllerID = controllerID
	m.notify()
}

// brokerList returns the registered brokers (sorted by id) and the
// controller id.
func (m *metadataCache) brokerList() ([]zkmeta.BrokerInfo, int32) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.brokers, m.controllerID
}

// sortedPartitions returns a topic's partition ids in order.
func (t *topicMeta) sortedPartitions() []int32 {
	ps := make([]int32, 0, len(t.Partitions))
	for p := range t.Partitions {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}
