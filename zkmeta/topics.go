package zkmeta

import "context"

// TopicAssignment is /brokers/topics/<t>:
// {"version":3,"topic_id":"<base64url>","partitions":{"0":[0]},"adding_replicas":{},"removing_replicas":{}}.
type TopicAssignment struct {
	// TopicID is zero for topics created by 2.x tools before a controller
	// added one.
	TopicID    [16]byte
	Partitions map[int32][]int32
	// ZkVersion is the znode version read, for conditional updates.
	ZkVersion int32
}

// LeaderAndIsr is /brokers/topics/<t>/partitions/<p>/state:
// {"controller_epoch":E,"leader":L,"version":1,"leader_epoch":N,"isr":[...]}.
type LeaderAndIsr struct {
	Leader          int32
	LeaderEpoch     int32
	ISR             []int32
	ControllerEpoch int32
	// ZkVersion is the znode version read.
	ZkVersion int32
}

// Topics lists /brokers/topics.
func (c *Client) Topics(ctx context.Context) ([]string, error) { panic("not implemented") }

// WatchTopics lists /brokers/topics and returns a channel that fires once
// when the list changes (a ZooKeeper child watch).
func (c *Client) WatchTopics(ctx context.Context) ([]string, <-chan struct{}, error) {
	panic("not implemented")
}

// Topic reads a topic's assignment; ErrNoNode when it does not exist.
func (c *Client) Topic(ctx context.Context, topic string) (TopicAssignment, error) {
	panic("not implemented")
}

// CreateTopic writes /config/topics/<t> ({"version":1,"config":{...}}) then
// creates /brokers/topics/<t>; ErrTopicExists if it is already there.
func (c *Client) CreateTopic(ctx context.Context, topic string, a TopicAssignment, configs map[string]string) error {
	panic("not implemented")
}

// SetTopic rewrites a topic's assignment if its zkVersion is still
// a.ZkVersion (adding partitions, adding a topic id), fenced by the
// controller epoch.
func (c *Client) SetTopic(ctx context.Context, ce ControllerEpoch, topic string, a TopicAssignment) error {
	panic("not implemented")
}

// TopicConfig reads /config/topics/<t>; missing means no overrides.
func (c *Client) TopicConfig(ctx context.Context, topic string) (map[string]string, error) {
	panic("not implemented")
}

// PartitionState reads a partition's state znode; ErrNoNode when missing.
func (c *Client) PartitionState(ctx context.Context, topic string, partition int32) (LeaderAndIsr, error) {
	panic("not implemented")
}

// CreatePartitionStates creates the partitions container znodes and each
// state znode, fenced by the controller epoch (CheckOp on /controller_epoch).
// Existing state znodes are left alone.
func (c *Client) CreatePartitionStates(ctx context.Context, ce ControllerEpoch, topic string, states map[int32]LeaderAndIsr) error {
	panic("not implemented")
}

// UpdatePartitionState conditionally rewrites a state znode (expected
// version s.ZkVersion), fenced by the controller epoch, and returns the new
// zkVersion.
func (c *Client) UpdatePartitionState(ctx context.Context, ce ControllerEpoch, topic string, partition int32, s LeaderAndIsr) (int32, error) {
	panic("not implemented")
}

// MarkTopicForDeletion creates /admin/delete_topics/<t> (no data).
func (c *Client) MarkTopicForDeletion(ctx context.Context, topic string) error {
	panic("not implemented")
}

// WatchTopicDeletions lists /admin/delete_topics with a child watch.
func (c *Client) WatchTopicDeletions(ctx context.Context) ([]string, <-chan struct{}, error) {
	panic("not implemented")
}

// DeleteTopic removes /brokers/topics/<t> recursively, /config/topics/<t>
// and /admin/delete_topics/<t>, fenced by the controller epoch.
func (c *Client) DeleteTopic(ctx context.Context, ce ControllerEpoch, topic string) error {
	panic("not implemented")
}
