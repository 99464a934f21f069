package groupcoord

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// LeaveGroup handles LeaveGroup v0-5: v0-2 name one member; v3+ a batch,
// where a member named only by group.instance.id is removed on an
// administrator's behalf (KIP-345). The group rebalances without them.
func (c *Coordinator) LeaveGroup(ctx context.Context, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = req.Version
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	top, results := c.leave(ctx, req.Group, leaving)
	if req.Version < 3 {
		// One member: its error is the request's.
		resp.ErrorCode = top
		if top == 0 && len(results) == 1 {
			resp.ErrorCode = results[0].ErrorCode
		}
		return resp
	}
	resp.ErrorCode = top
	if top == 0 {
		resp.Members = results
	}
	return resp
}

func (c *Coordinator) leave(ctx context.Context, groupID string, leaving []kmsg.LeaveGroupRequestMember) (int16, []kmsg.LeaveGroupResponseMember) {
	if groupID == "" {
		return errInvalidGroupID, nil
	}
	results := make([]kmsg.LeaveGroupResponseMember, len(leaving))
	for i, l := range leaving {
		results[i] = kmsg.NewLeaveGroupResponseMember()
		results[i].MemberID = l.MemberID
		results[i].InstanceID = l.InstanceID
	}
	g, err := c.acquire(ctx, groupID, false)
	if err != nil {
		return errorCode(err), nil
	}
	if g == nil {
		for i := range results {
			results[i].ErrorCode = errUnknownMemberID
		}
		return 0, results
	}
	defer g.mu.Unlock()
	for i, l := range leaving {
		results[i].ErrorCode = c.leaveOne(g, l)
	}
	return 0, results
}

func (c *Coordinator) leaveOne(g *group, l kmsg.LeaveGroupRequestMember) int16 {
	reason := "member left the group"
	if l.Reason != nil && *l.Reason != "" {
		reason = "member left the group: " + *l.Reason
	}
	if l.MemberID == "" {
		if l.InstanceID == nil {
			return errUnknownMemberID
		}
		m := g.members[g.static[*l.InstanceID]]
		if m == nil {
			return errUnknownMemberID
		}
		c.log.Info("static member removed", zap.String("group", g.id), zap.String("instance", *l.InstanceID))
		c.removeMemberAndRebalance(g, m, reason)
		return 0
	}
	if _, ok := g.pending[l.MemberID]; ok {
		c.removePending(g, l.MemberID)
		return 0
	}
	if g.staticFenced(l.InstanceID, l.MemberID) {
		return errFencedInstanceID
	}
	m := g.members[l.MemberID]
	if m == nil {
		return errUnknownMemberID
	}
	c.log.Info("member left", zap.String("group", g.id), zap.String("member", m.id))
	c.removeMemberAndRebalance(g, m, reason)
	return 0
}
