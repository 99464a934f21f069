package groupcoord

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// OffsetDelete handles OffsetDelete v0: committed offsets of an Empty group
// are deleted; a consumer group with members keeps the offsets of topics it
// is subscribed to (GROUP_SUBSCRIBED_TO_TOPIC) and loses the others; any
// other group with members answers NON_EMPTY_GROUP.
func (c *Coordinator) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = req.Version
	code := c.offsetDelete(ctx, req, resp)
	if code != 0 {
		resp.ErrorCode = code
		resp.Topics = nil
	}
	return resp
}

func (c *Coordinator) offsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest, resp *kmsg.OffsetDeleteResponse) int16 {
	if req.Group == "" {
		return errInvalidGroupID
	}
	g, err := c.lockForWrite(ctx, req.Group, false)
	if err != nil {
		return errorCode(err)
	}
	if g == nil {
		return kerr.GroupIDNotFound.Code
	}
	defer g.commitMu.Unlock()

	consumerWithMembers := g.state != stateEmpty
	if consumerWithMembers && g.protocolType != consumerProtocolType {
		g.mu.Unlock()
		return kerr.NonEmptyGroup.Code
	}
	var eligible []TopicPartition
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetDeleteResponseTopic()
		rt.Topic = t.Topic
		subscribed := consumerWithMembers && g.subscribedKnown && g.subscribed[t.Topic]
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetDeleteResponseTopicPartition()
			rp.Partition = p.Partition
			if subscribed {
				rp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else {
				eligible = append(eligible, TopicPartition{Topic: t.Topic, Partition: p.Partition})
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	g.mu.Unlock()
	if len(eligible) == 0 {
		return 0
	}
	if err := c.store.Delete(ctx, g.id, eligible...); err != nil {
		c.log.Warn("offset delete failed", zap.String("group", g.id), zap.Error(err))
		return errorCode(err)
	}
	g.mu.Lock()
	for _, tp := range eligible {
		delete(g.offsets, tp)
	}
	c.maybeRemoveLocked(g)
	g.mu.Unlock()
	return 0
}

// maybeRemoveLocked drops a group that has nothing left: no members, no
// member id pending, no offsets. g.mu is held.
func (c *Coordinator) maybeRemoveLocked(g *group) {
	if g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0 && len(g.offsets) == 0 {
		c.killLocked(g)
	}
}
