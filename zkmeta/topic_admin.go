package zkmeta

import (
	"context"
	"fmt"
	"sort"
)

// The methods below are what an admin tool writing ZooKeeper directly needs
// (`gokafka topics --zookeeper`, as Kafka 2.x's TopicCommand did): they are
// not fenced by a controller epoch because the tool is not a controller.
// The controller watches the znodes they write and acts on them.

// AddPartitions rewrites /brokers/topics/<t> with a's partitions if the
// znode is still at a.ZkVersion (ErrBadVersion otherwise), as Kafka's
// AdminZkClient.addPartitions does; the controller then creates the new
// partitions' state.
func (c *Client) AddPartitions(ctx context.Context, topic string, a TopicAssignment) error {
	if err := validTopicName(topic); err != nil {
		return err
	}
	if _, err := c.set(ctx, topicPath(topic), encodeTopic(a), a.ZkVersion); err != nil {
		return fmt.Errorf("add partitions to %s: %w", topic, wrap("set", topicPath(topic), err))
	}
	return nil
}

// TopicsMarkedForDeletion lists /admin/delete_topics, sorted.
func (c *Client) TopicsMarkedForDeletion(ctx context.Context) ([]string, error) {
	names, err := c.children(ctx, deleteTopicsPath)
	if err != nil {
		return nil, wrap("list", deleteTopicsPath, err)
	}
	sort.Strings(names)
	return names, nil
}
