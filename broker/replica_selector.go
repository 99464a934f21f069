package broker

import (
	"cmp"
	"context"
	"fmt"
	"time"
)

// RackAwareReplicaSelector is the class name of Kafka's rack-aware replica
// selector (KIP-392), the one value of replica.selector.class gokafka
// implements: a consumer that names its rack (client.rack, Fetch v11+
// rack_id) is sent to the most caught-up in-sync replica in that rack, or
// kept on the leader when the leader is in that rack or no replica is.
const RackAwareReplicaSelector = "org.apache.kafka.common.replica.RackAwareReplicaSelector"

// checkReplicaSelectorClass refuses a replica.selector.class gokafka does
// not implement. Kafka loads the class at start and a name it cannot find
// (an empty one included) ends the start with ClassNotFoundException; a
// selector gokafka cannot run must not turn silently into "leader only".
func checkReplicaSelectorClass(name string) error {
	if name == RackAwareReplicaSelector {
		return nil
	}
	return fmt.Errorf("replica.selector.class: class %q not found (java.lang.ClassNotFoundException in Kafka); gokafka implements %s only",
		name, RackAwareReplicaSelector)
}

// replicaView is one replica as a selector sees it (Kafka's ReplicaView):
// its broker and rack, its log end offset as the leader knows it, and how
// long ago it was last caught up (0 for the leader).
type replicaView struct {
	id            int32
	rack          string
	leo           int64
	sinceCaughtUp time.Duration
}

// moreCaughtUp orders views as Kafka's ReplicaView.comparator does, the
// greater first: the larger log end offset, then the shorter time since
// caught up, then the larger broker id.
func moreCaughtUp(a, b replicaView) int {
	if c := cmp.Compare(a.leo, b.leo); c != 0 {
		return c
	}
	if c := cmp.Compare(b.sinceCaughtUp, a.sinceCaughtUp); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// selectRackAware is RackAwareReplicaSelector.select: with no client rack,
// or no candidate in the client's rack, or the leader in it, the leader;
// otherwise the most caught-up candidate in the client's rack. candidates
// are the followers that may serve the fetch (fetchCandidates).
func selectRackAware(clientRack string, leader replicaView, candidates []replicaView) replicaView {
	if clientRack == "" || leader.rack == clientRack {
		return leader
	}
	best, found := leader, false
	for _, c := range candidates {
		if c.rack != clientRack {
			continue
		}
		if !found || moreCaughtUp(c, best) > 0 {
			best, found = c, true
		}
	}
	return best
}

// readCandidates returns the followers a consumer fetching at offset may
// be sent to, as Kafka's ReplicaManager.findPreferredReadReplica picks
// them: in the ISR (a lagging replica would keep the consumer behind),
// with offset between their log start and log end as last fetched. It
// returns nothing unless this broker leads the partition.
func (p *Partition) readCandidates(offset int64, now time.Time) []replicaView {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.role != roleLeader || p.deleted {
		return nil
	}
	var out []replicaView
	for _, r := range p.isr {
		f, ok := p.followers[r]
		if r == p.self || !ok || f.leo < offset || f.logStart > offset {
			continue
		}
		out = append(out, replicaView{id: r, leo: f.leo, sinceCaughtUp: now.Sub(f.lastCaughtUp)})
	}
	return out
}

// selectReadReplicas runs the replica selector for a consumer's Fetch
// (v11+, which carries client.rack as rack_id) on each partition this
// broker leads, and marks the targets whose preferred read replica is a
// follower: those are answered with preferred_read_replica and no records
// (readFetchPartition), and the consumer fetches from that follower next.
// Only followers registered with an endpoint on the listener the request
// came in on can be chosen, since the client must reach them.
//
// The caller calls it only when replica.selector.class is set, so a broker
// without one does no work here.
func (s *Server) selectReadReplicas(ctx context.Context, clientRack string, targets []fetchTarget) {
	if clientRack == "" {
		// The rack-aware selector keeps a consumer without a rack on the
		// leader.
		return
	}
	listener, _ := ctx.Value(listenerNameKey{}).(string)
	if listener == "" && len(s.advertised) > 0 {
		listener = s.advertised[0].Name
	}
	brokers, _ := s.meta.brokerList()
	now := s.replicas.now()
	leader := replicaView{id: s.cfg.BrokerID, rack: s.cfg.BrokerRack}
	for i := range targets {
		t := &targets[i]
		if t.p == nil || t.err != nil || !t.p.leading.Load() {
			continue
		}
		cands := t.p.readCandidates(t.offset, now)
		if len(cands) == 0 {
			continue
		}
		reachable := cands[:0]
		for _, c := range cands {
			for _, b := range brokers {
				if b.ID != c.id || b.Rack == nil {
					continue
				}
				for _, e := range b.Endpoints {
					if e.Name == listener {
						c.rack = *b.Rack
						reachable = append(reachable, c)
						break
					}
				}
			}
		}
		leader.leo = t.p.EndOffset()
		if chosen := selectRackAware(clientRack, leader, reachable); chosen.id != leader.id {
			t.redirect, t.preferred = true, chosen.id
		}
	}
}
