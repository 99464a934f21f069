package groupcoord

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// SyncGroup handles SyncGroup v0-5. The leader's request carries the
// assignment, which completes the rebalance; followers block until it
// arrives, the group rebalances again, or ctx ends.
func (c *Coordinator) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	r, wait := c.sync(ctx, req)
	if wait != nil {
		select {
		case r = <-wait:
		case <-ctx.Done():
			r = syncResult{errorCode: c.waitCode()}
		}
	}
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.Version = req.Version
	resp.ErrorCode = r.errorCode
	resp.MemberAssignment = r.assignment
	if req.Version >= 5 && r.errorCode == 0 {
		resp.ProtocolType = kmsg.StringPtr(r.protocolType)
		resp.Protocol = kmsg.StringPtr(r.protocol)
	}
	return resp
}

func (c *Coordinator) sync(ctx context.Context, req *kmsg.SyncGroupRequest) (syncResult, chan syncResult) {
	fail := func(code int16) (syncResult, chan syncResult) { return syncResult{errorCode: code}, nil }
	if req.Group == "" {
		return fail(errInvalidGroupID)
	}
	g, err := c.acquire(ctx, req.Group, false)
	if err != nil {
		return fail(errorCode(err))
	}
	if g == nil {
		return fail(errUnknownMemberID)
	}
	defer g.mu.Unlock()

	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	m := g.members[req.MemberID]
	switch {
	case g.staticFenced(instanceID, req.MemberID):
		return fail(errFencedInstanceID)
	case m == nil:
		return fail(errUnknownMemberID)
	case req.Generation != g.generation:
		return fail(errIllegalGeneration)
	case req.Version >= 5 && req.ProtocolType != nil && *req.ProtocolType != g.protocolType:
		return fail(errInconsistentProtocol)
	case req.Version >= 5 && req.Protocol != nil && *req.Protocol != g.protocol:
		return fail(errInconsistentProtocol)
	}

	switch g.state {
	case stateEmpty:
		return fail(errUnknownMemberID)
	case statePreparingRebalance:
		return fail(errRebalanceInProgress)
	case stateStable:
		c.syncDone(g, m)
		c.scheduleExpiry(g, m)
		return syncResult{protocolType: g.protocolType, protocol: g.protocol, assignment: m.assignment}, nil
	}

	// CompletingRebalance: park the request; the leader's completes all.
	m.answerSync(syncResult{errorCode: errRebalanceInProgress})
	m.sync = make(chan syncResult, 1)
	ch := m.sync
	c.syncDone(g, m)
	if m.id == g.leader {
		// Members that sync after this request returned (and
		// DescribeGroups) read the assignments later, when the request's
		// bytes, which alias a pooled frame buffer, may hold another
		// connection's request: keep copies.
		assignments := make(map[string][]byte, len(req.GroupAssignment))
		for _, a := range req.GroupAssignment {
			assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
		}
		for _, o := range g.sortedMembers() {
			a, ok := assignments[o.id]
			if !ok {
				c.log.Warn("leader sent no assignment for a member; it gets an empty one",
					zap.String("group", g.id), zap.String("member", o.id))
			}
			o.assignment = a
		}
		c.transition(g, stateStable)
		for _, o := range g.members {
			if o.awaitingSync() {
				o.answerSync(syncResult{protocolType: g.protocolType, protocol: g.protocol, assignment: o.assignment})
				c.scheduleExpiry(g, o)
			}
		}
		c.log.Info("group assignment received", zap.String("group", g.id), zap.Int32("generation", g.generation))
	}
	return syncResult{}, ch
}
