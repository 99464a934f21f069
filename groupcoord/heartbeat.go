package groupcoord

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat handles Heartbeat v0-4: it keeps a member's session alive and
// tells it, with REBALANCE_IN_PROGRESS, when it must rejoin.
func (c *Coordinator) Heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = req.Version
	resp.ErrorCode = c.heartbeat(ctx, req)
	return resp
}

func (c *Coordinator) heartbeat(ctx context.Context, req *kmsg.HeartbeatRequest) int16 {
	if req.Group == "" {
		return errInvalidGroupID
	}
	g, err := c.acquire(ctx, req.Group, false)
	if err != nil {
		return errorCode(err)
	}
	if g == nil {
		return errUnknownMemberID
	}
	defer g.mu.Unlock()
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	m := g.members[req.MemberID]
	switch {
	case g.staticFenced(instanceID, req.MemberID):
		return errFencedInstanceID
	case m == nil:
		return errUnknownMemberID
	case req.Generation != g.generation:
		return errIllegalGeneration
	}
	switch g.state {
	case stateCompletingRebalance, stateStable:
		// Members may heartbeat between their JoinGroup and SyncGroup.
		c.scheduleExpiry(g, m)
		return 0
	case statePreparingRebalance:
		c.scheduleExpiry(g, m)
		return errRebalanceInProgress
	default: // Empty
		return errUnknownMemberID
	}
}
