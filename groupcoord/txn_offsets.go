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
// and a generation of -1 skip the checks. With a TxnStore the offsets are
// stored durably before the answer, fenced by the producer epoch (a store
// holding a newer epoch answers PRODUCER_FENCED, which the caller maps for
// old versions). The offsets are stored only if the producer already has
// offsets pending in the group or guard, taken with
// StartTxnOffsetVerification before the transaction coordinator was asked,
// is still current; otherwise nothing is stored and every partition answers
// INVALID_TXN_STATE (a marker ended the transaction meanwhile).
func (c *Coordinator) TxnOffsetCommit(ctx context.Context, req *kmsg.TxnOffsetCommitRequest, guard *TxnOffsetGuard) *kmsg.TxnOffsetCommitResponse {
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
	var code int16
	switch {
	case g.staticFenced(instanceID, memberID):
		code = errFencedInstanceID
	case memberID != "" && g.members[memberID] == nil:
		code = errUnknownMemberID
	case generation >= 0 && generation != g.generation:
		code = errIllegalGeneration
	}
	if code != 0 {
		g.mu.Unlock()
		return setAll(code)
	}
	now := c.cfg.Now()
	var accepted []CommittedOffset
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			epoch := int32(-1)
			if req.Version >= 2 {
				epoch = p.LeaderEpoch
			}
			o, ok := c.requestedOffset(t.Topic, p.Partition, p.Offset, epoch, p.Metadata, now)
			if !ok {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			accepted = append(accepted, o)
		}
	}
	if len(accepted) == 0 {
		g.mu.Unlock()
		return resp
	}
	if c.cfg.TxnStore == nil {
		if err := c.checkTxnVerified(g, req.ProducerID, guard); err != nil {
			g.mu.Unlock()
			c.logNotVerified(req, err)
			return setAll(kerr.InvalidTxnState.Code)
		}
		g.addPendingTxn(req.ProducerID, req.ProducerEpoch, accepted)
		g.mu.Unlock()
		return resp
	}
	// The offsets are durable before the answer: the store is written
	// under commitMu (never under mu), then memory follows. The guard is
	// checked under commitMu too, which a marker's completion of the group
	// takes, so no marker comes between the check and the store.
	g.mu.Unlock()
	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	g.mu.Lock()
	err = c.checkTxnVerified(g, req.ProducerID, guard)
	g.mu.Unlock()
	if err != nil {
		c.logNotVerified(req, err)
		return setAll(kerr.InvalidTxnState.Code)
	}
	if err := c.cfg.TxnStore.PutTxnOffsets(ctx, req.Group, req.ProducerID, req.ProducerEpoch, accepted); err != nil {
		c.log.Warn("storing pending transactional offsets", zap.String("group", req.Group),
			zap.Int64("producer_id", req.ProducerID), zap.Int16("producer_epoch", req.ProducerEpoch), zap.Error(err))
		code := errorCode(err)
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if resp.Topics[i].Partitions[j].ErrorCode == 0 {
					resp.Topics[i].Partitions[j].ErrorCode = code
				}
			}
		}
		return resp
	}
	g.mu.Lock()
	g.addPendingTxn(req.ProducerID, req.ProducerEpoch, accepted)
	g.mu.Unlock()
	return resp
}

func (c *Coordinator) logNotVerified(req *kmsg.TxnOffsetCommitRequest, err error) {
	c.log.Info("TxnOffsetCommit refused: transaction ended during its verification", zap.String("group", req.Group),
		zap.Int64("producer_id", req.ProducerID), zap.Int16("producer_epoch", req.ProducerEpoch), zap.Error(err))
}

// addPendingTxn records offsets as pending for producerID at epoch, with
// g.mu held; an entry of an older epoch is replaced.
func (g *group) addPendingTxn(producerID int64, epoch int16, offsets []CommittedOffset) {
	if g.pendingTxn == nil {
		g.pendingTxn = map[int64]map[TopicPartition]CommittedOffset{}
		g.pendingTxnEpoch = map[int64]int16{}
	}
	pending := g.pendingTxn[producerID]
	if pending == nil || g.pendingTxnEpoch[producerID] < epoch {
		pending = map[TopicPartition]CommittedOffset{}
		g.pendingTxn[producerID] = pending
		g.pendingTxnEpoch[producerID] = epoch
	}
	for _, o := range offsets {
		pending[o.TopicPartition] = o
	}
}

// setPendingTxn installs what the store holds pending for a group being
// loaded (before anyone else can see the group).
func (g *group) setPendingTxn(pending []PendingTxnOffsets) {
	for _, p := range pending {
		g.addPendingTxn(p.ProducerID, p.ProducerEpoch, p.Offsets)
	}
}

// loadPendingTxn reads the group's pending transactional offsets from the
// TxnStore, if there is one.
func (c *Coordinator) loadPendingTxn(ctx context.Context, group string) ([]PendingTxnOffsets, error) {
	if c.cfg.TxnStore == nil {
		return nil, nil
	}
	pending, err := c.cfg.TxnStore.TxnOffsets(ctx, group)
	if err == nil && len(pending) > 0 {
		c.log.Info("loaded pending transactional offsets", zap.String("group", group), zap.Int("producers", len(pending)))
	}
	return pending, err
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

// CompleteTxnOffsets applies a transaction marker of producerID at epoch
// to the offsets it committed in the groups that match (Kafka's
// GroupCoordinator.scheduleHandleTxnCompletion for one __consumer_offsets
// partition): on commit they are written to the store, all of a group's in
// one call, and become visible; on abort they are dropped. With a
// TxnStore, the groups are those the store holds pending offsets of the
// producer for (whether or not this coordinator has loaded them, so a
// marker completes the offsets of a group whose coordinator died) plus the
// loaded ones; the store applies each group's offsets at most once however
// many brokers see the marker. Groups without pending offsets of that
// producer are untouched, so a repeated marker is harmless. An error means
// some group's offsets could not be stored and stay pending: the marker
// must be retried.
func (c *Coordinator) CompleteTxnOffsets(ctx context.Context, producerID int64, epoch int16, commit bool, match func(group string) bool) error {
	names := map[string]bool{}
	if c.cfg.TxnStore != nil {
		stored, err := c.cfg.TxnStore.TxnOffsetGroups(ctx, producerID)
		if err != nil {
			return fmt.Errorf("list pending transactional offsets of producer %d: %w", producerID, err)
		}
		for _, id := range stored {
			if match(id) {
				names[id] = true
			}
		}
	}
	c.mu.Lock()
	loaded := map[string]*group{}
	for id, g := range c.groups {
		if match(id) {
			loaded[id] = g
			names[id] = true
		}
	}
	c.mu.Unlock()
	for id := range names {
		var err error
		if g := loaded[id]; g != nil {
			err = c.completeGroupTxn(ctx, g, producerID, epoch, commit)
		} else {
			_, _, err = c.cfg.TxnStore.CompleteTxnOffsets(ctx, id, producerID, epoch, commit)
		}
		if err != nil {
			c.log.Warn("completing transactional offsets", zap.String("group", id), zap.Int64("producer_id", producerID), zap.Error(err))
			return fmt.Errorf("complete transactional offsets of group %s: %w", id, err)
		}
	}
	return nil
}

func (c *Coordinator) completeGroupTxn(ctx context.Context, g *group, producerID int64, epoch int16, commit bool) error {
	g.commitMu.Lock()
	defer g.commitMu.Unlock()
	g.mu.Lock()
	pending := g.pendingTxn[producerID]
	if pending != nil && g.pendingTxnEpoch[producerID] > epoch {
		pending = nil // a later transaction's offsets
	}
	offsets := make([]CommittedOffset, 0, len(pending))
	for _, o := range pending {
		offsets = append(offsets, o)
	}
	g.mu.Unlock()
	if c.cfg.TxnStore != nil {
		stored, applied, err := c.cfg.TxnStore.CompleteTxnOffsets(ctx, g.id, producerID, epoch, commit)
		if err != nil {
			return err
		}
		if applied {
			offsets = stored
		}
		// Not applied: nothing was stored, or another broker applied the
		// same marker first; memory follows what was pending here.
	} else if commit && len(offsets) > 0 {
		if err := c.store.Commit(ctx, g.id, offsets); err != nil {
			return err
		}
	}
	if pending == nil && len(offsets) == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if commit {
		for _, o := range offsets {
			g.offsets[o.TopicPartition] = o
		}
	}
	if pending != nil {
		delete(g.pendingTxn, producerID)
		delete(g.pendingTxnEpoch, producerID)
	}
	return nil
}

// PendingTxnOffsets is one producer's pending offsets in one group, as a
// TxnOffsetStore returns them.
type PendingTxnOffsets struct {
	ProducerID    int64
	ProducerEpoch int16
	Offsets       []CommittedOffset
}

// TxnOffsetStore keeps TxnOffsetCommit's pending offsets durable, so that
// a transaction's offsets survive the loss of the group's coordinator (as
// Kafka's do in __consumer_offsets). The ZooKeeper implementation is
// zkmeta's /gokafka/txn-offsets tree. Errors carrying a *kerr.Error are
// answered with that code (PRODUCER_FENCED for a write at an older producer
// epoch than the stored one).
type TxnOffsetStore interface {
	// PutTxnOffsets adds offsets to what producerID has pending in group
	// at epoch, refusing an epoch older than the stored one.
	PutTxnOffsets(ctx context.Context, group string, producerID int64, epoch int16, offsets []CommittedOffset) error
	// TxnOffsets returns every producer's pending offsets in group.
	TxnOffsets(ctx context.Context, group string) ([]PendingTxnOffsets, error)
	// TxnOffsetGroups lists the groups in which producerID has pending
	// offsets.
	TxnOffsetGroups(ctx context.Context, producerID int64) ([]string, error)
	// CompleteTxnOffsets applies a marker (at the producer's epoch) to
	// producerID's pending offsets in group: on commit the offsets go to
	// the OffsetStore's place and the pending ones are removed atomically,
	// on abort they are removed. applied is false when nothing was pending
	// (or only a later epoch's offsets); offsets are those committed.
	CompleteTxnOffsets(ctx context.Context, group string, producerID int64, epoch int16, commit bool) (offsets []CommittedOffset, applied bool, err error)
	// DeleteTxnOffsets removes every producer's pending offsets in group
	// (DeleteGroups), so that no later marker commits them, and returns
	// how many producers had some.
	DeleteTxnOffsets(ctx context.Context, group string) (producers int, err error)
}
