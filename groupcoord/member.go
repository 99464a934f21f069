package groupcoord

import (
	"bytes"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// protocol is one (name, metadata) pair of a JoinGroup, in the member's
// order of preference.
type protocol struct {
	name     string
	metadata []byte
}

// joinResult is what a member's JoinGroup answers; the handler turns it into
// the response of the request's version.
type joinResult struct {
	errorCode    int16
	memberID     string
	generation   int32
	protocolType string
	protocol     string
	leader       string
	skip         bool
	members      []kmsg.JoinGroupResponseMember
}

// syncResult is what a member's SyncGroup answers.
type syncResult struct {
	errorCode    int16
	protocolType string
	protocol     string
	assignment   []byte
}

// member is one member of a group. Guarded by its group's mu.
type member struct {
	id         string
	instanceID string // "" for dynamic members
	clientID   string
	clientHost string
	seq        uint64 // join order, for stable leader choice and listings

	protocolType     string
	protocols        []protocol
	rebalanceTimeout time.Duration
	sessionTimeout   time.Duration
	assignment       []byte

	// join is non-nil while the member's JoinGroup waits for the rebalance;
	// sync is non-nil while its SyncGroup waits for the leader. Both are
	// buffered (capacity 1) and receive exactly one result.
	join chan joinResult
	sync chan syncResult

	// isNew is true until the member's first rebalance completes: it has
	// no generation yet, so it cannot heartbeat and is bounded by
	// NewMemberJoinTimeout instead of its session timeout.
	isNew bool
	// expiry removes the member when it stops heartbeating.
	expiry *timer
}

func (m *member) isStatic() bool { return m.instanceID != "" }

func (m *member) awaitingJoin() bool { return m.join != nil }

func (m *member) awaitingSync() bool { return m.sync != nil }

// answerJoin delivers r to the member's waiting JoinGroup, if any.
func (m *member) answerJoin(r joinResult) {
	if m.join != nil {
		m.join <- r
		m.join = nil
	}
}

// answerSync delivers r to the member's waiting SyncGroup, if any.
func (m *member) answerSync(r syncResult) {
	if m.sync != nil {
		m.sync <- r
		m.sync = nil
	}
}

// metadataFor returns the member's metadata for protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// sameProtocols reports whether ps equals the member's protocols, names,
// order and metadata: a rejoin with the same protocols changes nothing.
func (m *member) sameProtocols(ps []protocol) bool {
	if len(ps) != len(m.protocols) {
		return false
	}
	for i := range ps {
		if ps[i].name != m.protocols[i].name || !bytes.Equal(ps[i].metadata, m.protocols[i].metadata) {
			return false
		}
	}
	return true
}

// vote returns the member's most preferred protocol among candidates.
func (m *member) vote(candidates map[string]bool) string {
	for _, p := range m.protocols {
		if candidates[p.name] {
			return p.name
		}
	}
	return ""
}
