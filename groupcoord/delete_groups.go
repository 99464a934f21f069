package groupcoord

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// DeleteGroups handles DeleteGroups v0-2: a group without members is
// deleted with its committed offsets; a group with members answers
// NON_EMPTY_GROUP and an unknown one GROUP_ID_NOT_FOUND.
//
// A group whose only state is an open transaction's offsets
// (TxnOffsetCommit) has no members, so it is Empty and is deleted, and the
// transaction's pending offsets for it are dropped with it. That is what
// Kafka 3.9's classic coordinator does: GroupCoordinator.handleDeleteGroups
// deletes any Empty group, and GroupMetadataManager.cleanupGroupMetadata
// takes it out of the group cache, so handleTxnCompletion finds no group
// when the transaction's marker arrives and commits nothing. Offsets the
// transaction commits for the group after the deletion create a new group
// and are committed by the marker as usual.
func (c *Coordinator) DeleteGroups(ctx context.Context, req *kmsg.DeleteGroupsRequest) *kmsg.DeleteGroupsResponse {
	resp := kmsg.NewPtrDeleteGroupsResponse()
	resp.Version = req.Version
	for _, id := range req.Groups {
		out := kmsg.NewDeleteGroupsResponseGroup()
		out.Group = id
		out.ErrorCode = c.deleteGroup(ctx, id)
		resp.Groups = append(resp.Groups, out)
	}
	return resp
}

func (c *Coordinator) deleteGroup(ctx context.Context, id string) int16 {
	g, err := c.lockForWrite(ctx, id, false)
	if err != nil {
		return errorCode(err)
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	defer g.commitMu.Unlock()
	if g.state != stateEmpty {
		g.mu.Unlock()
		return kerr.NonEmptyGroup.Code
	}
	// The group leaves the table now; lookups wait for the store deletion
	// so none reloads the offsets being deleted. A marker completing the
	// group meanwhile waits for commitMu and then finds nothing pending.
	done := make(chan struct{})
	c.mu.Lock()
	c.deleting[id] = done
	c.mu.Unlock()
	c.killLocked(g)
	pendingProducers := len(g.pendingTxn)
	g.pendingTxn, g.pendingTxnEpoch = nil, nil
	g.mu.Unlock()

	pendingProducers, err = c.deleteStored(ctx, id, pendingProducers)
	c.mu.Lock()
	delete(c.deleting, id)
	close(done)
	c.mu.Unlock()
	if err != nil {
		// What is still stored is loaded back by the next lookup.
		c.log.Warn("delete group failed", zap.String("group", id), zap.Error(err))
		return errorCode(err)
	}
	c.log.Info("group deleted", zap.String("group", id), zap.Int("producers_with_pending_offsets", pendingProducers))
	return 0
}

// deleteStored deletes the group's pending transactional offsets, then its
// committed offsets. In that order a marker applied concurrently (by the
// TxnOffsetStore, possibly on another broker) either wrote its offsets
// before the pending ones were deleted, and the group deletion removes
// them, or finds nothing to commit. It returns how many producers had
// offsets pending (memory is the count without a TxnOffsetStore).
func (c *Coordinator) deleteStored(ctx context.Context, id string, memory int) (int, error) {
	producers := memory
	if c.cfg.TxnStore != nil {
		n, err := c.cfg.TxnStore.DeleteTxnOffsets(ctx, id)
		if err != nil {
			return n, fmt.Errorf("delete pending transactional offsets: %w", err)
		}
		producers = n
	}
	if err := c.store.Delete(ctx, id); err != nil {
		return producers, fmt.Errorf("delete committed offsets: %w", err)
	}
	return producers, nil
}
