package groupcoord

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// DeleteGroups handles DeleteGroups v0-2: a group without members is
// deleted with its committed offsets; a group with members answers
// NON_EMPTY_GROUP and an unknown one GROUP_ID_NOT_FOUND.
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
	// so none reloads the offsets being deleted.
	done := make(chan struct{})
	c.mu.Lock()
	c.deleting[id] = done
	c.mu.Unlock()
	c.killLocked(g)
	g.mu.Unlock()

	err = c.store.Delete(ctx, id)
	c.mu.Lock()
	delete(c.deleting, id)
	close(done)
	c.mu.Unlock()
	if err != nil {
		// The offsets are still stored: the next lookup loads them back.
		c.log.Warn("delete group failed", zap.String("group", id), zap.Error(err))
		return errorCode(err)
	}
	c.log.Info("group deleted", zap.String("group", id))
	return 0
}
