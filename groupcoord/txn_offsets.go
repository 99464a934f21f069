package groupcoord

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// TxnOffsetCommit handles TxnOffsetCommit v0-4 (KIP-98, KIP-447): the
// offsets a transactional producer commits for a group are held pending,
// per producer id, invisible to OffsetFetch, until the transaction's
// marker reaches the group (CompleteTxnOffsets). A group that does not
// exist is created empty, as Kafka does. From v3 the member and
// generation are checked like a member's OffsetCommit (KIP-447 fencing),
// except that a commit during a rebalance is accepted; a member id of ""
// and a generation of -1 skip the checks. The caller maps
// PRODUCER_FENCED for old versions; this method does not see epochs.
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, req *kmsg.TxnOffsetCommitRequest) *kmsg.TxnOffsetCommitResponse {
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition = p.Partition
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	setAll := func(code int16) *kmsg.TxnOffsetCommitResponse {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
		return resp
	}
	generation, memberID, instanceID := req.Generation, req.MemberID, req.InstanceID
	if req.Version < 3 {
		generation, memberID, instanceID = -1, "", nil
	}
	g, err := c.acquire(ctx, req.Group, true)
	if err != nil {
		return setAll(errorCode(err))
	}
	defer g.mu.Unlock()
	switch {
	case g.staticFenced(instanceID, memberID):
		return setAll(errFencedInstanceID)
	case memberID != "" && g.members[memberID] == nil:
		return setAll(errUnknownMemberID)
	case generation >= 0 && generation != g.generation:
		return setAll(errIllegalGeneration)
	}
	now := c.cfg.Now()
	if g.pendingTxn == nil {
		g.pendingTxn = map[int64]map[TopicPartition]CommittedOffset{}
	}
	pending := g.pendingTxn[req.ProducerID]
	if pending == nil {
		pending = map[TopicPartition]CommittedOffset{}
		g.pendingTxn[req.ProducerID] = pending
	}
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			meta := ""
			if p.Metadata != nil {
				meta = *p.Metadata
			}
			if len(meta) > c.cfg.OffsetMetadataMaxBytes {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := CommittedOffset{TopicPartition: TopicPartition{Topic: t.Topic, Partition: p.Partition}, Offset: p.Offset,
				LeaderEpoch: -1, Metadata: meta, CommitTime: now}
			if req.Version >= 2 && p.LeaderEpoch >= 0 {
				o.LeaderEpoch = p.LeaderEpoch
			}
			pending[o.TopicPartition] = o
		}
	}
	return resp
}

// pendingTxnPartitions is the set of partitions an open transaction holds
// an offset for, with g.mu held.
func (g *group) pendingTxnPartitions() map[TopicPartition]bool {
	if len(g.pendingTxn) == 0 {
		return nil
	}
	out := map[TopicPartition]bool{}
	for _, offs := range g.pendingTxn {
		for tp := range offs {
			out[tp] = true
		}
	}
	return out
}

// CompleteTxnOffsets applies a transaction marker to the offsets producerID
// committed in the groups that match (Kafka's
// GroupCoordinator.scheduleHandleTxnCompletion for one __consumer_offsets
// partition): on commit they are written to the store, all of a group's in
// one call, and become visible; on abort they are dropped. Groups without
// pending offsets of that producer are untouched, so a repeated marker is
// harmless. An error means some group's offsets could not be stored and
// stay pending: the marker must be retried.
func (c *Coordinator) CompleteTxnOffsets(ctx context.Context, producerID int64, commit bool, match func(group string) bool) error {
	c.mu.Lock()
	groups := make([]*group, 0, len(c.groups))
	for id, g := range c.groups {
		if match(id) {
			groups = append(groups, g)
		}
	}
	c.mu.Unlock()
	for _, g := range groups {
		if err := c.completeGroupTxn(ctx, g, producerID, commit); err != nil {
			return err
		}
	}
	return nil
}

func (c *Coordinator) completeGroupTxn(ctx context.Context, g *group, producerID int64, commit bool) error {
	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	g.mu.Lock()
	pending := g.pendingTxn[producerID]
	if pending == nil {
		g.mu.Unlock()
		return nil
	}
	if !commit {
		delete(g.pendingTxn, producerID)
		g.mu.Unlock()
		return nil
	}
	offsets := make([]CommittedOffset, 0, len(pending))
	for _, o := range pending {
		offsets = append(offsets, o)
	}
	g.mu.Unlock()
	if err := c.store.Commit(ctx, g.id, offsets); err != nil {
		c.log.Warn("committing transactional offsets", zap.String("group", g.id), zap.Int64("producer_id", producerID), zap.Error(err))
		return fmt.Errorf("commit transactional offsets of group %s: %w", g.id, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, o := range offsets {
		g.offsets[o.TopicPartition] = o
	}
	delete(g.pendingTxn, producerID)
	return nil
}
