package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"go.uber.org/zap"
)

// Preferred replica elections that no admin request asked for: the
// ZooKeeper-era /admin/preferred_replica_election znode and the automatic
// leader rebalance (auto.leader.rebalance.enable).

// evPreferredElection fires when /admin/preferred_replica_election is
// created, changed or deleted.
type evPreferredElection struct{}

// evAutoRebalance is a tick of the leader imbalance check.
type evAutoRebalance struct{}

// preferredElectionZnode handles /admin/preferred_replica_election (Kafka's
// PreferredReplicaElectionHandler, ZkTriggered): the listed partitions
// whose preferred replica does not lead get a preferred election, then the
// znode is deleted, which also re-arms the watch for the next request.
// Unknown partitions and topics being deleted are skipped, as in Kafka; a
// znode that does not parse is deleted with an error logged.
func (st *state) preferredElectionZnode(ctx context.Context) error {
	parts, exists, ch, err := st.zk.WatchPreferredElection(ctx)
	malformed := errors.Is(err, zkmeta.ErrMalformedPreferredElection)
	if err != nil && !malformed {
		st.logger.Warn("read /admin/preferred_replica_election", zap.Error(err))
		st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evPreferredElection{})
		return nil
	}
	st.t.watchOnce(st.t.ctx, ch, evPreferredElection{})
	if !exists {
		return nil
	}
	if malformed {
		st.logger.Error("ignoring a malformed preferred replica election request", zap.Error(err))
	} else {
		b := st.newBatch()
		var elected, failed []string
		for _, pn := range parts {
			p := tp{pn.Topic, pn.Partition}
			reps := st.replicas(p)
			switch {
			case st.queuedForDeletion(p.topic):
				st.logger.Warn("skipping preferred replica election for a topic being deleted", zap.String("partition", p.String()))
				continue
			case len(reps) == 0:
				st.logger.Info("skipping preferred replica election for a partition that does not exist", zap.String("partition", p.String()))
				continue
			case st.parts[p].Leader == reps[0]:
				continue
			}
			r, err := st.replicaElection(ctx, ElectPreferred, p, b)
			if err != nil {
				st.send(b)
				return err
			}
			if r.ErrorCode != 0 {
				failed = append(failed, p.String())
				st.logger.Warn("preferred replica election failed", zap.String("partition", p.String()), zap.String("reason", r.Message))
				continue
			}
			elected = append(elected, p.String())
		}
		st.send(b)
		st.logger.Info("preferred replica election requested in ZooKeeper done", zap.Strings("elected", elected), zap.Strings("failed", failed))
	}
	if err := st.zk.DeletePreferredElection(ctx, st.ce); err != nil {
		return fenced(err)
	}
	return nil
}

// startAutoRebalance starts the leader imbalance check of this term when
// auto.leader.rebalance.enable is set: first 5 seconds after the
// controller starts, as Kafka's onControllerFailover schedules it, then
// every leader.imbalance.check.interval.seconds.
func (st *state) startAutoRebalance() {
	cfg := st.c.cfg.AutoLeaderRebalance
	if !cfg.Enable {
		return
	}
	interval := cfg.CheckInterval
	if interval <= 0 {
		interval = defaultLeaderImbalanceCheckInterval
	}
	first := min(interval, autoRebalanceFirstCheck)
	t := st.t
	go func() {
		timer := time.NewTimer(first)
		defer timer.Stop()
		for {
			select {
			case <-t.ctx.Done():
				return
			case <-timer.C:
			}
			if !t.post(evAutoRebalance{}) {
				return
			}
			timer.Reset(interval)
		}
	}()
}

// autoRebalanceFirstCheck is the delay of the first imbalance check after
// the controller starts (Kafka: 5 s).
const autoRebalanceFirstCheck = 5 * time.Second

// defaultLeaderImbalanceCheckInterval is Kafka's
// leader.imbalance.check.interval.seconds default.
const defaultLeaderImbalanceCheckInterval = 300 * time.Second

// AutoLeaderRebalance configures the automatic preferred leader
// elections.
type AutoLeaderRebalance struct {
	// Enable is auto.leader.rebalance.enable (Kafka: true).
	Enable bool
	// ImbalancePercentage is leader.imbalance.per.broker.percentage
	// (Kafka: 10): a broker whose share of the partitions it prefers but
	// does not lead exceeds it gets them back.
	ImbalancePercentage int
	// CheckInterval is leader.imbalance.check.interval.seconds (Kafka:
	// 300 s).
	CheckInterval time.Duration
}

// autoRebalance is Kafka's checkAndTriggerAutoLeaderRebalance: for each
// broker, the partitions it is the preferred replica of (the first of the
// assignment) are counted, and when the share of them it does not lead
// exceeds leader.imbalance.per.broker.percentage, each of those whose
// preferred replica is online and in the ISR gets a preferred election.
// Partitions being reassigned are left to the reassignment (topics being
// deleted are no longer in the state).
func (st *state) autoRebalance(ctx context.Context) error {
	type counts struct {
		total int
		off   []tp
	}
	byBroker := map[int32]*counts{}
	for name, t := range st.topics {
		for part, reps := range t.assignment.Partitions {
			if len(reps) == 0 {
				continue
			}
			p := tp{name, part}
			c := byBroker[reps[0]]
			if c == nil {
				c = &counts{}
				byBroker[reps[0]] = c
			}
			c.total++
			if s, ok := st.parts[p]; ok && s.Leader != reps[0] {
				c.off = append(c.off, p)
			}
		}
	}
	pct := st.c.cfg.AutoLeaderRebalance.ImbalancePercentage
	b := st.newBatch()
	defer st.send(b)
	for _, id := range slices.Sorted(maps.Keys(byBroker)) {
		c := byBroker[id]
		ratio := float64(len(c.off)) / float64(c.total)
		if ratio <= float64(pct)/100 {
			continue
		}
		st.logger.Info("leader imbalance above leader.imbalance.per.broker.percentage; moving leadership back to the preferred replica",
			zap.Int32("broker", id), zap.String("imbalance", fmt.Sprintf("%.1f%%", ratio*100)), zap.Int("partitions", len(c.off)))
		for _, p := range sortedTPs(setOf(c.off)) {
			if st.reassigning(p) || st.queuedForDeletion(p.topic) || !st.replicaOnline(id, p) || !slices.Contains(st.parts[p].ISR, id) {
				continue
			}
			r, err := st.replicaElection(ctx, ElectPreferred, p, b)
			if err != nil {
				return err
			}
			if r.ErrorCode != 0 {
				st.logger.Warn("automatic preferred replica election failed", zap.String("partition", p.String()), zap.String("reason", r.Message))
			}
		}
	}
	return nil
}
