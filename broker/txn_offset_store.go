package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/gokafka/groupcoord"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
)

// zkOffsetStore is also groupcoord.TxnOffsetStore: TxnOffsetCommit's
// pending offsets live in ZooKeeper under /gokafka/txn-offsets (see
// zkmeta/txn_offsets.go), so a transaction's offsets survive the loss of
// the group's coordinator.
var _ groupcoord.TxnOffsetStore = zkOffsetStore{}

func toZKOffsets(offsets []groupcoord.CommittedOffset) []zkmeta.ConsumerOffset {
	out := make([]zkmeta.ConsumerOffset, len(offsets))
	for i, o := range offsets {
		out[i] = zkmeta.ConsumerOffset{
			Topic: o.Topic, Partition: o.Partition, Offset: o.Offset, LeaderEpoch: o.LeaderEpoch,
			Metadata: o.Metadata, CommitTime: o.CommitTime, ExpireTime: o.ExpireTime,
		}
	}
	return out
}

func fromZKOffsets(offsets []zkmeta.ConsumerOffset) []groupcoord.CommittedOffset {
	out := make([]groupcoord.CommittedOffset, len(offsets))
	for i, o := range offsets {
		out[i] = groupcoord.CommittedOffset{
			TopicPartition: groupcoord.TopicPartition{Topic: o.Topic, Partition: o.Partition},
			Offset:         o.Offset, LeaderEpoch: o.LeaderEpoch,
			Metadata: o.Metadata, CommitTime: o.CommitTime, ExpireTime: o.ExpireTime,
		}
	}
	return out
}

func (s zkOffsetStore) PutTxnOffsets(ctx context.Context, group string, producerID int64, epoch int16, offsets []groupcoord.CommittedOffset) error {
	err := s.zk.PutTxnOffsets(ctx, producerID, epoch, group, toZKOffsets(offsets))
	if errors.Is(err, zkmeta.ErrTxnOffsetsFenced) {
		return fmt.Errorf("%w: %v", kerr.ProducerFenced, err)
	}
	return storeError(err)
}

func (s zkOffsetStore) TxnOffsets(ctx context.Context, group string) ([]groupcoord.PendingTxnOffsets, error) {
	pending, err := s.zk.TxnOffsetsOfGroup(ctx, group)
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]groupcoord.PendingTxnOffsets, len(pending))
	for i, p := range pending {
		out[i] = groupcoord.PendingTxnOffsets{ProducerID: p.ProducerID, ProducerEpoch: p.ProducerEpoch, Offsets: fromZKOffsets(p.Offsets)}
	}
	return out, nil
}

func (s zkOffsetStore) TxnOffsetGroups(ctx context.Context, producerID int64) ([]string, error) {
	return s.zk.TxnOffsetGroups(ctx, producerID)
}

func (s zkOffsetStore) CompleteTxnOffsets(ctx context.Context, group string, producerID int64, epoch int16, commit bool) ([]groupcoord.CommittedOffset, bool, error) {
	offs, applied, err := s.zk.CompleteTxnOffsets(ctx, producerID, epoch, group, commit)
	if err != nil {
		return nil, false, storeError(err)
	}
	return fromZKOffsets(offs), applied, nil
}

func (s zkOffsetStore) DeleteTxnOffsets(ctx context.Context, group string) (int, error) {
	n, err := s.zk.DeleteTxnOffsetsOfGroup(ctx, group)
	return n, storeError(err)
}
