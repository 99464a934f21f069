package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// ElectionType is ElectLeaders' election_type (KIP-460).
type ElectionType int8

// The election types Kafka defines.
const (
	// ElectPreferred moves leadership to the first replica of the
	// assignment when it is live and in the ISR.
	ElectPreferred ElectionType = 0
	// ElectUnclean elects a leader for a partition that has none, taking
	// a live replica outside the ISR when no ISR member is live.
	ElectUnclean ElectionType = 1
)

func (t ElectionType) String() string {
	switch t {
	case ElectPreferred:
		return "PREFERRED"
	case ElectUnclean:
		return "UNCLEAN"
	}
	return fmt.Sprintf("ElectionType(%d)", int8(t))
}

// ElectionResult is the outcome of one partition's election: the new
// leader when ErrorCode is 0, else Kafka's error code and message.
type ElectionResult struct {
	Leader    int32
	ErrorCode int16
	Message   string
}

// ElectLeaders runs the elections of an ElectLeaders request on the
// controller's loop (Kafka's KafkaController.electLeaders, triggered by the
// admin client) and returns each partition's result. The leaders are
// written to ZooKeeper and LeaderAndIsr and UpdateMetadata are queued to
// the brokers before it returns; the caller waits for its own metadata to
// show them, as Kafka's DelayedElectLeader does. A broker that is not the
// controller gets NOT_CONTROLLER for every partition.
func (c *Controller) ElectLeaders(ctx context.Context, typ ElectionType, parts []zkmeta.PartitionName) map[zkmeta.PartitionName]ElectionResult {
	return ask(ctx, c, func(reply chan<- map[zkmeta.PartitionName]ElectionResult) event {
		return evElectLeaders{typ: typ, parts: parts, reply: reply}
	}, func(code int16) map[zkmeta.PartitionName]ElectionResult {
		out := make(map[zkmeta.PartitionName]ElectionResult, len(parts))
		for _, p := range parts {
			out[p] = ElectionResult{Leader: -1, ErrorCode: code}
		}
		return out
	})
}

// evElectLeaders is an ElectLeaders request for the loop.
type evElectLeaders struct {
	typ   ElectionType
	parts []zkmeta.PartitionName
	reply chan<- map[zkmeta.PartitionName]ElectionResult
}

// electLeaders applies an ElectLeaders request (Kafka's
// processReplicaLeaderElection with AdminClientTriggered): partitions of a
// topic being deleted are INVALID_TOPIC_EXCEPTION, unknown ones
// UNKNOWN_TOPIC_OR_PARTITION, the others get their election.
func (st *state) electLeaders(ctx context.Context, e evElectLeaders) error {
	out := make(map[zkmeta.PartitionName]ElectionResult, len(e.parts))
	defer func() { e.reply <- out }()
	b := st.newBatch()
	defer st.send(b)
	st.logger.Info("replica leader election requested", zap.Stringer("type", e.typ), zap.Int("partitions", len(e.parts)))
	for i, pn := range e.parts {
		p := tp{pn.Topic, pn.Partition}
		switch {
		case st.queuedForDeletion(p.topic):
			out[pn] = ElectionResult{Leader: -1, ErrorCode: kerr.InvalidTopicException.Code, Message: "The topic is being deleted"}
		case len(st.replicas(p)) == 0:
			out[pn] = ElectionResult{Leader: -1, ErrorCode: kerr.UnknownTopicOrPartition.Code, Message: "The partition does not exist."}
		default:
			r, err := st.replicaElection(ctx, e.typ, p, b)
			if err != nil {
				for _, rest := range e.parts[i:] {
					out[rest] = ElectionResult{Leader: -1, ErrorCode: kerr.NotController.Code}
				}
				return err
			}
			out[pn] = r
		}
	}
	return nil
}

// replicaOnline reports whether replica r of p can lead it: its broker is
// live and not shutting down, and its log dir is not offline (Kafka's
// ControllerContext.isReplicaOnline).
func (st *state) replicaOnline(r int32, p tp) bool {
	return st.live(r) && !st.shuttingDown[r] && !st.offlineDirs[r][p]
}

// offlineLeader is Kafka's offline partition leader election
// (PartitionLeaderElectionAlgorithms.offlinePartitionLeaderElection): the
// leader is the first replica of the assignment that is eligible and in
// the ISR, and the ISR keeps its eligible members; when none is and
// unclean() allows it, the first eligible replica, logged as an unclean
// election, with the ISR reset to it and the leader recovery state
// RECOVERING (KIP-704, Kafka's newRecoveringLeaderAndIsr): its log may
// lack committed records, and it stays alone in the ISR until it reports
// RECOVERED. A clean election keeps cur's recovery state, as Kafka's
// newLeaderAndIsr does. Otherwise the leader is -1 and the ISR is cur's.
func (st *state) offlineLeader(p tp, cur zkmeta.LeaderAndIsr, eligible func(int32) bool, unclean func() bool) zkmeta.LeaderAndIsr {
	reps := st.replicas(p)
	next := cur
	next.Leader = -1
	for _, r := range reps {
		if eligible(r) && slices.Contains(cur.ISR, r) {
			next.Leader = r
			next.ISR = slices.DeleteFunc(slices.Clone(cur.ISR), func(x int32) bool { return !eligible(x) })
			return next
		}
	}
	if !unclean() {
		return next
	}
	for _, r := range reps {
		if eligible(r) {
			next.Leader = r
			next.ISR = []int32{r}
			next.LeaderRecoveryState = recovering
			st.logger.Warn("unclean leader election: no in-sync replica is live; data not on the new leader is lost",
				zap.String("partition", p.String()), zap.Int32("leader", r), zap.Int32s("previous_isr", cur.ISR))
			return next
		}
	}
	return next
}

// replicaElection runs one partition's PREFERRED or UNCLEAN election
// (Kafka's PreferredReplicaPartitionLeaderElectionStrategy, and
// OfflinePartitionLeaderElectionStrategy with unclean allowed, since an
// admin asked) and writes the new state. A partition whose leader is
// already right is ELECTION_NOT_NEEDED; one with no possible leader is
// PREFERRED_LEADER_NOT_AVAILABLE or ELIGIBLE_LEADERS_NOT_AVAILABLE. Only a
// lost controllership is returned as an error.
func (st *state) replicaElection(ctx context.Context, typ ElectionType, p tp, b *batch) (ElectionResult, error) {
	reps := st.replicas(p)
	cur, ok := st.parts[p]
	if !ok {
		// Never brought online (no replica was live at creation).
		cur = zkmeta.LeaderAndIsr{Leader: -1}
	}
	notNeeded := ElectionResult{Leader: cur.Leader, ErrorCode: kerr.ElectionNotNeeded.Code, Message: "Leader election not needed for topic partition."}
	next := cur
	switch typ {
	case ElectPreferred:
		pref := reps[0]
		if cur.Leader == pref {
			return notNeeded, nil
		}
		if !ok || !st.replicaOnline(pref, p) || !slices.Contains(cur.ISR, pref) {
			return ElectionResult{Leader: -1, ErrorCode: kerr.PreferredLeaderNotAvailable.Code,
				Message: fmt.Sprintf("Failed to elect leader for partition %s under strategy PreferredReplicaPartitionLeaderElectionStrategy", p)}, nil
		}
		next.Leader = pref
	case ElectUnclean:
		if cur.Leader >= 0 && st.live(cur.Leader) && !st.shuttingDown[cur.Leader] {
			return notNeeded, nil
		}
		next.Leader = -1
		if ok {
			// An admin asked for it: unclean is allowed whatever the
			// topic says.
			next = st.offlineLeader(p, cur, func(r int32) bool { return st.replicaOnline(r, p) }, func() bool { return true })
		}
		if next.Leader < 0 {
			return ElectionResult{Leader: -1, ErrorCode: kerr.EligibleLeadersNotAvailable.Code,
				Message: fmt.Sprintf("Failed to elect leader for partition %s under strategy OfflinePartitionLeaderElectionStrategy(true)", p)}, nil
		}
	default:
		return ElectionResult{Leader: -1, ErrorCode: kerr.InvalidRequest.Code, Message: fmt.Sprintf("unknown election type %d", typ)}, nil
	}
	next.LeaderEpoch = cur.LeaderEpoch + 1
	if err := st.write(ctx, p, next, b); err != nil {
		if errors.Is(err, errResign) {
			return ElectionResult{Leader: -1, ErrorCode: kerr.NotController.Code}, err
		}
		st.logger.Error("replica leader election", zap.String("partition", p.String()), zap.Error(err))
		return ElectionResult{Leader: -1, ErrorCode: kerr.UnknownServerError.Code, Message: err.Error()}, nil
	}
	st.logger.Info("elected leader", zap.String("partition", p.String()), zap.Stringer("type", typ),
		zap.Int32("from", cur.Leader), zap.Int32("to", next.Leader), zap.Int32("leader_epoch", next.LeaderEpoch))
	return ElectionResult{Leader: next.Leader}, nil
}

// applyLeadership applies the events of leadership operations (this file,
// preferred_election.go, log_dir_events.go); handled is false for other
// events.
func (st *state) applyLeadership(ctx context.Context, ev event) (handled bool, err error) {
	switch e := ev.(type) {
	case evElectLeaders:
		return true, st.electLeaders(ctx, e)
	case evPreferredElection:
		return true, st.preferredElectionZnode(ctx)
	case evAutoRebalance:
		return true, st.autoRebalance(ctx)
	case evLogDirEvents:
		return true, st.logDirEvents(ctx)
	case evLeaderAndIsrDone:
		return true, st.leaderAndIsrResponse(ctx, e)
	}
	return false, nil
}

// leadershipStartup arms what leadership operations watch when a term
// starts (Kafka's onControllerFailover): log dir notifications left from
// before the term, a pending /admin/preferred_replica_election, and the
// leader imbalance check.
func (st *state) leadershipStartup(ctx context.Context) error {
	if err := st.logDirEvents(ctx); err != nil {
		return err
	}
	if err := st.preferredElectionZnode(ctx); err != nil {
		return err
	}
	st.startAutoRebalance()
	return nil
}
