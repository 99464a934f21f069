package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/gokafka/groupcoord"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
)

// zkOffsetStore is groupcoord.OffsetStore on ZooKeeper: it translates
// between groupcoord's and zkmeta's offset types (neither package imports
// the other) and maps zkmeta's errors onto Kafka codes. Layout and
// atomicity are zkmeta's (consumer_offsets.go).
type zkOffsetStore struct{ zk *zkmeta.Client }

var _ groupcoord.OffsetStore = zkOffsetStore{}

// storeError gives errors a Kafka code the coordinator can answer with: a
// group id that cannot be a znode name is INVALID_GROUP_ID; anything else
// stays as is (groupcoord answers COORDINATOR_NOT_AVAILABLE, retriable).
func storeError(err error) error {
	if errors.Is(err, zkmeta.ErrInvalidGroupID) {
		return fmt.Errorf("%w: %v", kerr.InvalidGroupID, err)
	}
	return err
}

func (s zkOffsetStore) Commit(ctx context.Context, group string, offsets []groupcoord.CommittedOffset) error {
	return storeError(s.zk.CommitConsumerOffsets(ctx, group, toZKOffsets(offsets)))
}

func (s zkOffsetStore) Fetch(ctx context.Context, group string) (map[groupcoord.TopicPartition]groupcoord.CommittedOffset, error) {
	offs, err := s.zk.ConsumerOffsets(ctx, group)
	if err != nil {
		return nil, storeError(err)
	}
	out := make(map[groupcoord.TopicPartition]groupcoord.CommittedOffset, len(offs))
	for _, o := range offs {
		tp := groupcoord.TopicPartition{Topic: o.Topic, Partition: o.Partition}
		out[tp] = groupcoord.CommittedOffset{
			TopicPartition: tp, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch,
			Metadata: o.Metadata, CommitTime: o.CommitTime, ExpireTime: o.ExpireTime,
		}
	}
	return out, nil
}

func (s zkOffsetStore) Delete(ctx context.Context, group string, partitions ...groupcoord.TopicPartition) error {
	if len(partitions) == 0 {
		return storeError(s.zk.DeleteConsumerGroup(ctx, group))
	}
	byTopic := make(map[string][]int32)
	for _, tp := range partitions {
		byTopic[tp.Topic] = append(byTopic[tp.Topic], tp.Partition)
	}
	return storeError(s.zk.DeleteConsumerOffsets(ctx, group, byTopic))
}

func (s zkOffsetStore) Groups(ctx context.Context) ([]string, error) {
	return s.zk.ConsumerGroups(ctx)
}
