package groupcoord

import (
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// group is one consumer group: membership, the rebalance state machine and
// the committed offsets. Every field below mu is guarded by mu; commitMu
// serializes writes to the OffsetStore for this group (see the lock order in
// the package doc).
type group struct {
	id string

	commitMu sync.Mutex

	mu         sync.Mutex
	state      groupState
	stateSince time.Time // wall clock (Config.Now) of the last transition
	generation int32
	// protocolType is the type every member shares ("" while the group has
	// no members and never had a type); protocol is the selected protocol
	// of the current generation ("" when none).
	protocolType string
	protocol     string
	leader       string
	members      map[string]*member
	// static maps group.instance.id to the member id that holds it (KIP-345).
	static map[string]string
	// pending holds member ids handed out with MEMBER_ID_REQUIRED (KIP-394)
	// whose second JoinGroup has not arrived; each expires with the session
	// timeout the first join asked for.
	pending map[string]*timer
	// pendingSync holds the members of the current generation that have
	// not sent SyncGroup yet; they are removed when syncTimer fires.
	pendingSync map[string]bool
	// supported counts, per protocol name, how many members support it.
	supported map[string]int
	seq       uint64

	joinTimer      *timer // rebalance timeout or initial delay
	initialDelay   bool   // joinTimer is the initial rebalance delay
	newMemberAdded bool   // a new member joined during the initial delay
	delayRemaining time.Duration
	syncTimer      *timer

	// subscribed is the union of the consumer members' subscribed topics
	// for the current generation; subscribedKnown is false when the group
	// is not a consumer group or a member's metadata did not parse.
	subscribed      map[string]bool
	subscribedKnown bool

	offsets map[TopicPartition]CommittedOffset
	// pendingTxn holds the offsets open transactions committed with
	// TxnOffsetCommit, by producer id, until their marker commits them
	// (into offsets and the store) or drops them (txn_offsets.go).
	pendingTxn map[int64]map[TopicPartition]CommittedOffset
	// pendingTxnEpoch is the producer epoch of each pendingTxn entry.
	pendingTxnEpoch map[int64]int16
}

func newGroup(id string, offsets map[TopicPartition]CommittedOffset, now time.Time) *group {
	if offsets == nil {
		offsets = make(map[TopicPartition]CommittedOffset)
	}
	return &group{
		id:          id,
		state:       stateEmpty,
		stateSince:  now,
		members:     make(map[string]*member),
		static:      make(map[string]string),
		pending:     make(map[string]*timer),
		pendingSync: make(map[string]bool),
		supported:   make(map[string]int),
		offsets:     offsets,
	}
}

// sortedMembers returns the members in join order.
func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].seq < ms[j].seq })
	return ms
}

// supportsProtocols reports whether a member with this protocol type and
// these protocols may join: an Empty group (which has no members) takes any
// non-empty type and protocol list, and the first member fixes the type;
// otherwise the type must match and at least one protocol
// must be supported by every current member.
func (g *group) supportsProtocols(protocolType string, ps []protocol) bool {
	if g.state == stateEmpty {
		return protocolType != "" && len(ps) > 0
	}
	if g.protocolType != protocolType {
		return false
	}
	for _, p := range ps {
		if g.supported[p.name] == len(g.members) {
			return true
		}
	}
	return false
}

// addMember adds m; the first member fixes the protocol type and leads.
func (g *group) addMember(m *member) {
	if len(g.members) == 0 {
		g.protocolType = m.protocolType
	}
	g.seq++
	m.seq = g.seq
	g.members[m.id] = m
	for _, p := range m.protocols {
		g.supported[p.name]++
	}
	if g.leader == "" {
		g.leader = m.id
	}
	if m.isStatic() {
		g.static[m.instanceID] = m.id
	}
	if t, ok := g.pending[m.id]; ok {
		t.stop()
		delete(g.pending, m.id)
	}
}

// setProtocols replaces m's protocols, keeping the support counts right.
func (g *group) setProtocols(m *member, ps []protocol) {
	for _, p := range m.protocols {
		g.supported[p.name]--
	}
	m.protocols = ps
	for _, p := range ps {
		g.supported[p.name]++
	}
}

// removeMember drops m from the group's bookkeeping and stops its timer. A
// waiting SyncGroup of the removed member answers UNKNOWN_MEMBER_ID; the
// caller answers a waiting JoinGroup (the code depends on why).
func (g *group) removeMember(m *member) {
	if g.members[m.id] != m {
		return
	}
	delete(g.members, m.id)
	for _, p := range m.protocols {
		g.supported[p.name]--
		if g.supported[p.name] <= 0 {
			delete(g.supported, p.name)
		}
	}
	if m.isStatic() && g.static[m.instanceID] == m.id {
		delete(g.static, m.instanceID)
	}
	delete(g.pendingSync, m.id)
	m.expiry.stop()
	m.expiry = nil
	m.answerSync(syncResult{errorCode: errUnknownMemberID})
	if g.leader == m.id {
		g.leader = ""
		if ms := g.sortedMembers(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// staticFenced reports whether instanceID is held by a member other than
// memberID: the caller is an older incarnation of a static member.
func (g *group) staticFenced(instanceID *string, memberID string) bool {
	if instanceID == nil || *instanceID == "" {
		return false
	}
	holder, ok := g.static[*instanceID]
	return ok && holder != memberID
}

// allJoined reports whether every member has rejoined and no member id
// handed out with MEMBER_ID_REQUIRED is still expected.
func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.members {
		if !m.awaitingJoin() {
			return false
		}
	}
	return true
}

// rebalanceTimeout is the largest rebalance timeout among the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// selectProtocol picks the protocol of the next generation as Kafka does:
// among the protocols every member supports, each member votes for its most
// preferred one, and the most votes win (ties go to the protocol that comes
// first in the name order, so the choice is deterministic).
func (g *group) selectProtocol() string {
	candidates := make(map[string]bool)
	for name, n := range g.supported {
		if n == len(g.members) {
			candidates[name] = true
		}
	}
	votes := make(map[string]int)
	for _, m := range g.members {
		if v := m.vote(candidates); v != "" {
			votes[v]++
		}
	}
	best, bestVotes := "", -1
	for name, n := range votes {
		if n > bestVotes || (n == bestVotes && name < best) {
			best, bestVotes = name, n
		}
	}
	return best
}

// computeSubscribed derives the subscribed topics of a consumer group from
// its members' metadata for the selected protocol. Only the prefix common to
// every consumer protocol version is read (version, topics), so future
// versions parse too. An empty consumer group subscribes to nothing; for
// other protocol types, or metadata that does not parse, the topics are
// unknown.
func (g *group) computeSubscribed() {
	g.subscribed, g.subscribedKnown = nil, false
	if g.protocolType != consumerProtocolType {
		return
	}
	topics := make(map[string]bool)
	if len(g.members) > 0 {
		if g.protocol == "" {
			return
		}
		for _, m := range g.members {
			ts, ok := subscriptionTopics(m.metadataFor(g.protocol))
			if !ok {
				return
			}
			for _, t := range ts {
				topics[t] = true
			}
		}
	}
	g.subscribed, g.subscribedKnown = topics, true
}

// subscriptionTopics reads the topics of a consumer protocol subscription.
func subscriptionTopics(b []byte) ([]string, bool) {
	r := kbin.Reader{Src: b}
	r.Int16()
	n := r.ArrayLen()
	if n < 0 {
		return nil, false
	}
	var topics []string
	for i := int32(0); i < n && r.Ok(); i++ {
		topics = append(topics, r.String())
	}
	return topics, r.Ok()
}

// leaderMembers lists every member with its metadata for the selected
// protocol: what the leader needs to compute the assignment.
func (g *group) leaderMembers() []kmsg.JoinGroupResponseMember {
	ms := g.sortedMembers()
	out := make([]kmsg.JoinGroupResponseMember, 0, len(ms))
	for _, m := range ms {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		if m.isStatic() {
			jm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		jm.ProtocolMetadata = m.metadataFor(g.protocol)
		out = append(out, jm)
	}
	return out
}

// joinResultFor is the successful JoinGroup answer of m for the current
// generation; the leader gets every member's metadata.
func (g *group) joinResultFor(m *member) joinResult {
	r := joinResult{
		memberID:     m.id,
		generation:   g.generation,
		protocolType: g.protocolType,
		protocol:     g.protocol,
		leader:       g.leader,
	}
	if m.id == g.leader {
		r.members = g.leaderMembers()
	}
	return r
}
