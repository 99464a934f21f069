package groupcoord

import (
	"time"

	"go.uber.org/zap"
)

// This file holds the transitions of the group state machine that more than
// one API drives: starting a rebalance, completing the join phase, and the
// timers that expire members, pending members and missing SyncGroups. Every
// function here is called with g.mu held.

// transition moves g to state s and records when.
func (c *Coordinator) transition(g *group, s groupState) {
	g.state = s
	g.stateSince = c.cfg.Now()
}

// maybePrepareRebalance starts a rebalance unless one is already being
// prepared (or the group is Dead).
func (c *Coordinator) maybePrepareRebalance(g *group, reason string) {
	switch g.state {
	case stateEmpty, stateStable, stateCompletingRebalance:
		c.prepareRebalance(g, reason)
	}
}

// prepareRebalance moves g to PreparingRebalance: waiting SyncGroups answer
// REBALANCE_IN_PROGRESS, and the join phase ends when every member has
// rejoined or the rebalance timeout passes. A group coming from Empty waits
// group.initial.rebalance.delay.ms first, so that members starting together
// land in one generation.
func (c *Coordinator) prepareRebalance(g *group, reason string) {
	if g.state == stateCompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			m.answerSync(syncResult{errorCode: errRebalanceInProgress})
		}
	}
	g.syncTimer.stop()
	g.syncTimer = nil
	clear(g.pendingSync)
	g.joinTimer.stop()
	g.joinTimer = nil

	fromEmpty := g.state == stateEmpty
	c.transition(g, statePreparingRebalance)
	c.log.Info("preparing to rebalance group", zap.String("group", g.id),
		zap.Int32("generation", g.generation), zap.String("reason", reason))
	if fromEmpty {
		delay := c.cfg.InitialRebalanceDelay
		g.initialDelay = true
		g.newMemberAdded = false
		g.delayRemaining = max(g.rebalanceTimeout()-delay, 0)
		c.scheduleJoin(g, delay)
		return
	}
	g.initialDelay = false
	c.scheduleJoin(g, g.rebalanceTimeout())
	c.tryCompleteJoin(g)
}

// scheduleJoin arms the join-phase timer of g.
func (c *Coordinator) scheduleJoin(g *group, d time.Duration) {
	var t *timer
	t = c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.joinTimer != t || g.state != statePreparingRebalance {
			return
		}
		g.joinTimer = nil
		if g.initialDelay && g.newMemberAdded && g.delayRemaining > 0 {
			// New members keep arriving: wait again, within the
			// rebalance timeout.
			g.newMemberAdded = false
			next := min(c.cfg.InitialRebalanceDelay, g.delayRemaining)
			g.delayRemaining -= next
			c.scheduleJoin(g, next)
			return
		}
		c.completeJoin(g)
	})
	g.joinTimer = t
}

// tryCompleteJoin ends the join phase early once everyone has rejoined
// (never during the initial delay, which always runs to its end).
func (c *Coordinator) tryCompleteJoin(g *group) {
	if g.state == statePreparingRebalance && !g.initialDelay && g.allJoined() {
		c.completeJoin(g)
	}
}

// completeJoin ends the join phase: dynamic members that did not rejoin are
// removed (static ones keep their place), the next generation starts with
// the protocol the members vote for, and every waiting JoinGroup answers;
// the leader's answer lists all members. A group left without members
// becomes Empty.
func (c *Coordinator) completeJoin(g *group) {
	g.joinTimer.stop()
	g.joinTimer = nil
	g.initialDelay = false
	for _, m := range g.sortedMembers() {
		if !m.awaitingJoin() && !m.isStatic() {
			c.log.Info("removing member that did not rejoin", zap.String("group", g.id), zap.String("member", m.id))
			g.removeMember(m)
		}
	}
	if len(g.members) > 0 {
		if leader := g.members[g.leader]; leader == nil || !leader.awaitingJoin() {
			elected := false
			for _, m := range g.sortedMembers() {
				if m.awaitingJoin() {
					g.leader, elected = m.id, true
					break
				}
			}
			if !elected {
				// Only static members that have not rejoined remain: wait
				// another rebalance timeout for them or their session
				// timeouts.
				c.log.Warn("no member rejoined; rebalance postponed", zap.String("group", g.id))
				c.scheduleJoin(g, g.rebalanceTimeout())
				return
			}
		}
	}

	g.generation++
	if len(g.members) == 0 {
		g.protocol = ""
		g.leader = ""
		g.computeSubscribed()
		c.transition(g, stateEmpty)
		clear(g.pendingSync)
		c.log.Info("group is empty", zap.String("group", g.id), zap.Int32("generation", g.generation))
		return
	}
	g.protocol = g.selectProtocol()
	g.computeSubscribed()
	c.transition(g, stateCompletingRebalance)
	clear(g.pendingSync)
	c.log.Info("group stabilized", zap.String("group", g.id), zap.Int32("generation", g.generation),
		zap.String("protocol", g.protocol), zap.Int("members", len(g.members)))
	for _, m := range g.sortedMembers() {
		m.answerJoin(g.joinResultFor(m))
		m.isNew = false
		c.scheduleExpiry(g, m)
		g.pendingSync[m.id] = true
	}
	c.scheduleSyncExpiry(g)
}

// scheduleSyncExpiry arms the timer that removes members of the new
// generation who have not sent SyncGroup within the rebalance timeout.
func (c *Coordinator) scheduleSyncExpiry(g *group) {
	g.syncTimer.stop()
	gen := g.generation
	var t *timer
	t = c.afterFunc(g.rebalanceTimeout(), func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.syncTimer != t || g.generation != gen {
			return
		}
		g.syncTimer = nil
		if g.state != stateCompletingRebalance && g.state != stateStable || len(g.pendingSync) == 0 {
			return
		}
		for id := range g.pendingSync {
			if m := g.members[id]; m != nil {
				c.log.Info("removing member that did not sync", zap.String("group", g.id), zap.String("member", id))
				g.removeMember(m)
			}
		}
		c.prepareRebalance(g, "members did not send SyncGroup in time")
	})
	g.syncTimer = t
}

// syncDone records that m sent SyncGroup for the current generation.
func (c *Coordinator) syncDone(g *group, m *member) {
	delete(g.pendingSync, m.id)
	if len(g.pendingSync) == 0 {
		g.syncTimer.stop()
		g.syncTimer = nil
	}
}

// scheduleExpiry (re)starts m's session timer: the member is removed unless
// it heartbeats (or otherwise shows life) within its session timeout. A
// member that has never completed a rebalance is bounded by
// NewMemberJoinTimeout instead.
func (c *Coordinator) scheduleExpiry(g *group, m *member) {
	m.expiry.stop()
	d := m.sessionTimeout
	if m.isNew {
		d = c.cfg.NewMemberJoinTimeout
	}
	var t *timer
	t = c.afterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if m.expiry != t || g.members[m.id] != m || g.state == stateDead {
			return
		}
		m.expiry = nil
		if !m.isNew && (m.awaitingJoin() || m.awaitingSync()) {
			// A member parked in JoinGroup or SyncGroup cannot
			// heartbeat; the completion of that step restarts its timer.
			return
		}
		c.log.Info("member session expired", zap.String("group", g.id), zap.String("member", m.id))
		c.removeMemberAndRebalance(g, m, "member session expired")
	})
	m.expiry = t
}

// removeMemberAndRebalance removes m (its waiting JoinGroup answers
// UNKNOWN_MEMBER_ID so it rejoins if still alive) and rebalances the rest.
func (c *Coordinator) removeMemberAndRebalance(g *group, m *member, reason string) {
	m.answerJoin(joinResult{errorCode: errUnknownMemberID, memberID: m.id, generation: -1})
	g.removeMember(m)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		c.maybePrepareRebalance(g, reason)
	case statePreparingRebalance:
		c.tryCompleteJoin(g)
	}
}

// addPending remembers a member id handed out with MEMBER_ID_REQUIRED until
// its second JoinGroup or its session timeout.
func (c *Coordinator) addPending(g *group, id string, session time.Duration) {
	var t *timer
	t = c.afterFunc(session, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.pending[id] != t {
			return
		}
		c.removePending(g, id)
	})
	g.pending[id] = t
}

// removePending forgets a pending member id; a rebalance waiting for it may
// now complete.
func (c *Coordinator) removePending(g *group, id string) {
	if t, ok := g.pending[id]; ok {
		t.stop()
		delete(g.pending, id)
		c.tryCompleteJoin(g)
	}
}
