package groupcoord

import (
	"bytes"
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// ClientInfo identifies the connection a JoinGroup came from; DescribeGroups
// reports it per member. Kafka shows the host as the address with a leading
// slash ("/127.0.0.1").
type ClientInfo struct {
	ID   string // the request header's client.id
	Host string
}

// JoinGroup handles JoinGroup v0-9. It blocks until the rebalance the member
// joins completes, the member is removed, or ctx ends (the answer is then
// COORDINATOR_NOT_AVAILABLE and the member stays in the rebalance, as in
// Kafka when a client gives up on a JoinGroup).
func (c *Coordinator) JoinGroup(ctx context.Context, client ClientInfo, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	r, wait := c.join(ctx, client, req)
	if wait != nil {
		select {
		case r = <-wait:
		case <-ctx.Done():
			r = joinResult{errorCode: c.waitCode(), memberID: req.MemberID, generation: -1}
		}
	}
	return joinResponse(req.Version, r)
}

// joinResponse renders r for version v: the protocol name and type are
// nullable from v7 and empty strings before.
func joinResponse(v int16, r joinResult) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Version = v
	resp.ErrorCode = r.errorCode
	resp.Generation = r.generation
	resp.MemberID = r.memberID
	resp.LeaderID = r.leader
	resp.Members = r.members
	if v >= 9 {
		resp.SkipAssignment = r.skip
	}
	if v >= 7 {
		if r.protocolType != "" {
			resp.ProtocolType = kmsg.StringPtr(r.protocolType)
		}
		if r.protocol != "" {
			resp.Protocol = kmsg.StringPtr(r.protocol)
		}
	} else {
		resp.Protocol = kmsg.StringPtr(r.protocol)
	}
	return resp
}

// join runs the JoinGroup logic under the group's lock and returns either an
// immediate result or a channel the result will arrive on.
func (c *Coordinator) join(ctx context.Context, client ClientInfo, req *kmsg.JoinGroupRequest) (joinResult, chan joinResult) {
	fail := func(code int16) (joinResult, chan joinResult) {
		return joinResult{errorCode: code, memberID: req.MemberID, generation: -1}, nil
	}
	if req.Group == "" {
		return fail(errInvalidGroupID)
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return fail(kerr.InvalidSessionTimeout.Code)
	}
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 || req.RebalanceTimeoutMillis < 0 {
		rebalance = session // v0 has no rebalance timeout: Kafka uses the session timeout
	}
	// The metadata outlives the request (the leader of a later generation
	// reads it), but the request's bytes alias the broker's pooled frame
	// buffer, which serves another connection once this call returns: keep
	// a copy.
	protocols := make([]protocol, 0, len(req.Protocols))
	for _, p := range req.Protocols {
		protocols = append(protocols, protocol{name: p.Name, metadata: bytes.Clone(p.Metadata)})
	}
	instanceID := ""
	if req.Version >= 5 && req.InstanceID != nil {
		instanceID = *req.InstanceID
	}
	unknown := req.MemberID == ""

	g, err := c.acquire(ctx, req.Group, unknown)
	if err != nil {
		c.log.Warn("join group: lookup failed", zap.String("group", req.Group), zap.Error(err))
		return fail(errorCode(err))
	}
	if g == nil {
		return fail(errUnknownMemberID)
	}
	defer g.mu.Unlock()
	if req.Reason != nil && *req.Reason != "" {
		c.log.Debug("join group", zap.String("group", g.id), zap.String("member", req.MemberID), zap.String("reason", *req.Reason))
	}

	if !c.acceptJoining(g, req.MemberID) {
		if m := g.members[req.MemberID]; m != nil {
			g.removeMember(m)
			c.tryCompleteJoin(g)
		}
		return joinResult{errorCode: kerr.GroupMaxSizeReached.Code, generation: -1}, nil
	}
	if !g.supportsProtocols(req.ProtocolType, protocols) {
		return fail(errInconsistentProtocol)
	}
	spec := joinSpec{
		client: client, instanceID: instanceID, protocolType: req.ProtocolType, protocols: protocols,
		session: session, rebalance: rebalance, skipOK: req.Version >= 9,
	}
	if unknown {
		return c.joinNew(g, spec, req.Version >= 4 && instanceID == "")
	}
	return c.joinKnown(g, req.MemberID, spec)
}

// joinSpec is what a JoinGroup asks for.
type joinSpec struct {
	client       ClientInfo
	instanceID   string
	protocolType string
	protocols    []protocol
	session      time.Duration
	rebalance    time.Duration
	skipOK       bool // v9+: the leader can be told to skip the assignment
}

// acceptJoining applies group.max.size: a rebalance in preparation counts
// the members that have rejoined, otherwise every member counts; members
// already counted may always rejoin.
func (c *Coordinator) acceptJoining(g *group, memberID string) bool {
	m := g.members[memberID]
	switch g.state {
	case statePreparingRebalance:
		if m != nil && m.awaitingJoin() {
			return true
		}
		n := 0
		for _, o := range g.members {
			if o.awaitingJoin() {
				n++
			}
		}
		return n < c.cfg.MaxGroupSize
	case stateCompletingRebalance, stateStable:
		return m != nil || len(g.members) < c.cfg.MaxGroupSize
	default:
		return true
	}
}

// joinNew handles a JoinGroup without a member id: a fresh member id is
// generated; a dynamic member on v4+ must come back with it
// (MEMBER_ID_REQUIRED, KIP-394); a static member takes over the place of
// its instance id if it has one.
func (c *Coordinator) joinNew(g *group, s joinSpec, requireKnown bool) (joinResult, chan joinResult) {
	id := newMemberID(s.client.ID)
	if s.instanceID != "" {
		if old := g.static[s.instanceID]; old != "" {
			return c.replaceStatic(g, g.members[old], id, s)
		}
		return c.addAndRebalance(g, id, s)
	}
	if requireKnown {
		c.addPending(g, id, s.session)
		return joinResult{errorCode: kerr.MemberIDRequired.Code, memberID: id, generation: -1}, nil
	}
	return c.addAndRebalance(g, id, s)
}

// joinKnown handles a JoinGroup from a member id the coordinator handed out.
func (c *Coordinator) joinKnown(g *group, id string, s joinSpec) (joinResult, chan joinResult) {
	fail := func(code int16) (joinResult, chan joinResult) {
		return joinResult{errorCode: code, memberID: id, generation: -1}, nil
	}
	if _, ok := g.pending[id]; ok {
		return c.addAndRebalance(g, id, s)
	}
	var instanceID *string
	if s.instanceID != "" {
		instanceID = &s.instanceID
	}
	if g.staticFenced(instanceID, id) {
		return fail(errFencedInstanceID)
	}
	m := g.members[id]
	if m == nil || (s.instanceID != "" && g.static[s.instanceID] == "") {
		return fail(errUnknownMemberID)
	}
	switch g.state {
	case statePreparingRebalance:
		return c.updateAndRebalance(g, m, s, "member rejoined")
	case stateCompletingRebalance:
		if m.sameProtocols(s.protocols) {
			// The member lost our JoinGroup answer: answer it again.
			return g.joinResultFor(m), nil
		}
		return c.updateAndRebalance(g, m, s, "member changed its protocols")
	case stateStable:
		if m.id == g.leader {
			// The leader rejoins to have the group reassigned (its
			// subscription's topics changed, say).
			return c.updateAndRebalance(g, m, s, "leader rejoined")
		}
		if !m.sameProtocols(s.protocols) {
			return c.updateAndRebalance(g, m, s, "member changed its protocols")
		}
		r := g.joinResultFor(m)
		return r, nil
	default:
		return fail(errUnknownMemberID)
	}
}

// addAndRebalance adds a member and starts (or joins) a rebalance; the
// member waits for the join phase to end.
func (c *Coordinator) addAndRebalance(g *group, id string, s joinSpec) (joinResult, chan joinResult) {
	m := &member{
		id: id, instanceID: s.instanceID, clientID: s.client.ID, clientHost: s.client.Host,
		protocolType: s.protocolType, protocols: s.protocols,
		rebalanceTimeout: s.rebalance, sessionTimeout: s.session,
		isNew: true, join: make(chan joinResult, 1),
	}
	if g.state == statePreparingRebalance && g.generation == 0 {
		g.newMemberAdded = true
	}
	g.addMember(m)
	c.scheduleExpiry(g, m)
	c.log.Info("member joined", zap.String("group", g.id), zap.String("member", id),
		zap.String("instance", s.instanceID), zap.String("client", s.client.ID))
	ch := m.join
	c.maybePrepareRebalance(g, "new member joined")
	c.tryCompleteJoin(g)
	return joinResult{}, ch
}

// updateAndRebalance records a known member's new protocols and timeouts and
// has it wait for the rebalance it starts or joins.
func (c *Coordinator) updateAndRebalance(g *group, m *member, s joinSpec, reason string) (joinResult, chan joinResult) {
	c.updateMember(g, m, s)
	ch := m.join
	c.maybePrepareRebalance(g, reason)
	c.tryCompleteJoin(g)
	return joinResult{}, ch
}

// updateMember applies a rejoin's protocols and timeouts to m and parks its
// JoinGroup; a JoinGroup it had parked already answers
// REBALANCE_IN_PROGRESS (a client has one JoinGroup in flight; the old one
// was abandoned).
func (c *Coordinator) updateMember(g *group, m *member, s joinSpec) {
	g.setProtocols(m, s.protocols)
	m.rebalanceTimeout, m.sessionTimeout = s.rebalance, s.session
	m.answerJoin(joinResult{errorCode: errRebalanceInProgress, memberID: m.id, generation: -1})
	m.join = make(chan joinResult, 1)
}

// replaceStatic gives a static member's place to its new incarnation (a new
// member id for the same group.instance.id, KIP-345). The old member id is
// fenced: its waiting requests answer FENCED_INSTANCE_ID. A Stable group
// whose selected protocol stays the same does not rebalance: the member gets
// the current generation and its old assignment; the leader, on v9+, is
// told it leads but must skip the assignment (KIP-814).
func (c *Coordinator) replaceStatic(g *group, old *member, newID string, s joinSpec) (joinResult, chan joinResult) {
	oldLeader := g.leader
	oldID := old.id
	old.answerJoin(joinResult{errorCode: errFencedInstanceID, memberID: oldID, generation: -1})
	old.answerSync(syncResult{errorCode: errFencedInstanceID})
	delete(g.members, oldID)
	old.id = newID
	old.clientID, old.clientHost = s.client.ID, s.client.Host
	g.members[newID] = old
	g.static[s.instanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	c.log.Info("static member replaced", zap.String("group", g.id), zap.String("instance", s.instanceID),
		zap.String("old", oldID), zap.String("new", newID))
	m := old
	c.scheduleExpiry(g, m)

	switch g.state {
	case stateStable:
		g.setProtocols(m, s.protocols)
		m.rebalanceTimeout, m.sessionTimeout = s.rebalance, s.session
		if g.selectProtocol() != g.protocol {
			m.join = make(chan joinResult, 1)
			ch := m.join
			c.prepareRebalance(g, "static member rejoined with protocols that change the group's protocol")
			return joinResult{}, ch
		}
		r := joinResult{
			memberID: newID, generation: g.generation,
			protocolType: g.protocolType, protocol: g.protocol, leader: oldLeader,
		}
		if m.id == g.leader && s.skipOK {
			r.leader, r.skip, r.members = g.leader, true, g.leaderMembers()
		}
		return r, nil
	case stateCompletingRebalance:
		// The leader may already hold the old member id in its
		// assignment: rebalance so the new id gets one.
		c.updateMember(g, m, s)
		ch := m.join
		c.prepareRebalance(g, "static member rejoined during the sync phase")
		return joinResult{}, ch
	default: // PreparingRebalance
		c.updateMember(g, m, s)
		ch := m.join
		c.tryCompleteJoin(g)
		return joinResult{}, ch
	}
}
