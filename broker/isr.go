package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// alterPartitionVersion is the AlterPartition version leaders send: v1,
// the last that names topics.
const alterPartitionVersion = 1

// isrManager sends the leaders' ISR proposals to the controller with
// AlterPartition (Kafka's AlterPartitionManager) and applies the answers.
// Proposals queue while one request is in flight and go in the next one.
type isrManager struct {
	s *Server

	mu     sync.Mutex
	queue  []isrProposal
	wake   chan struct{}
	client *wire.Client
	addr   string
}

func newISRManager(s *Server) *isrManager {
	return &isrManager{s: s, wake: make(chan struct{}, 1)}
}

// propose queues one proposal.
func (m *isrManager) propose(p isrProposal) {
	m.mu.Lock()
	m.queue = append(m.queue, p)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// run sends queued proposals and checks the ISRs for lagging followers
// every replica.lag.time.max.ms / 2, until ctx ends.
func (m *isrManager) run(ctx context.Context) {
	lag := m.s.cfg.ReplicaLagTimeMax
	tick := time.NewTicker(max(lag/2, 10*time.Millisecond))
	defer tick.Stop()
	defer func() {
		m.mu.Lock()
		if m.client != nil {
			m.client.Close()
		}
		m.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			m.shrinkPass()
		case <-m.wake:
		}
		m.mu.Lock()
		batch := m.queue
		m.queue = nil
		m.mu.Unlock()
		if len(batch) > 0 {
			m.send(ctx, batch)
		}
	}
}

// shrinkPass proposes to drop lagging followers from the ISRs this broker
// leads (Kafka's maybeShrinkIsr).
func (m *isrManager) shrinkPass() {
	now := m.s.replicas.now()
	for _, p := range m.s.replicas.all() {
		if !p.leading.Load() {
			continue
		}
		if prop, out, ok := p.proposeShrink(now, m.s.cfg.ReplicaLagTimeMax); ok {
			m.s.logger.Info("shrinking ISR: followers not caught up within replica.lag.time.max.ms",
				zap.String("partition", p.tp.String()), zap.Int32s("out_of_sync", out), zap.Int32s("new_isr", prop.isr))
			m.mu.Lock()
			m.queue = append(m.queue, prop)
			m.mu.Unlock()
		}
	}
}

// current keeps, in order, the proposals of batch that are still their
// partition's pending change: one per partition. A batch can hold a
// proposal queued for a retry and a later one made after a new leader
// epoch; sending the stale one (and dropping the other as a duplicate)
// would leave the partition waiting forever for an answer to a change
// that was never sent, its ISR stuck below the caught-up followers.
func (m *isrManager) current(batch []isrProposal) []isrProposal {
	out := make([]isrProposal, 0, len(batch))
	seen := map[topicPartition]bool{}
	for i := len(batch) - 1; i >= 0; i-- {
		prop := batch[i]
		if seen[prop.tp] {
			continue
		}
		if p, ok := m.s.replicas.get(prop.tp); !ok || !p.isrPending(prop) {
			continue
		}
		seen[prop.tp] = true
		out = append(out, prop)
	}
	slices.Reverse(out)
	return out
}

// retryDelay is how soon proposals that could not be delivered (no
// controller, a transport error, NOT_CONTROLLER) are sent again.
const retryDelay = 200 * time.Millisecond

// send asks the controller for a batch of ISR changes and applies the
// answer, as Kafka's AlterPartitionManager does: a committed change
// becomes the leader's ISR; INELIGIBLE_REPLICA and OPERATION_NOT_ATTEMPTED
// clear it (proposed again at the next check); a stale leader or partition
// epoch leaves it pending until the controller's next LeaderAndIsr; and a
// request that may or may not have arrived is sent again as it was, which
// the controller answers with the current state if it already applied it.
func (m *isrManager) send(ctx context.Context, batch []isrProposal) {
	retry := func(why error, props []isrProposal) {
		m.s.logger.Debug("AlterPartition not delivered; sending again", zap.Error(why))
		var again []isrProposal
		for _, prop := range props {
			if p, ok := m.s.replicas.get(prop.tp); ok && p.isrPending(prop) {
				again = append(again, prop)
			}
		}
		if len(again) == 0 {
			return
		}
		m.mu.Lock()
		m.queue = append(m.queue, again...)
		m.mu.Unlock()
		time.AfterFunc(retryDelay, func() {
			select {
			case m.wake <- struct{}{}:
			default:
			}
		})
	}
	_, ctl := m.s.meta.brokerList()
	addr, err := m.s.brokerAddr(ctl)
	if err != nil {
		retry(fmt.Errorf("controller: %w", err), batch)
		return
	}
	m.mu.Lock()
	if m.client == nil || m.addr != addr {
		if m.client != nil {
			m.client.Close()
		}
		m.client = wire.NewClient(addr, fmt.Sprintf("broker-%d-alter-partition", m.s.cfg.BrokerID))
		m.addr = addr
	}
	client := m.client
	m.mu.Unlock()

	req := kmsg.NewPtrAlterPartitionRequest()
	req.Version = alterPartitionVersion
	req.BrokerID = m.s.cfg.BrokerID
	req.BrokerEpoch = m.s.zk.BrokerEpoch()
	byTopic := map[string]int{}
	sent := map[topicPartition]isrProposal{}
	for _, prop := range m.current(batch) {
		sent[prop.tp] = prop
		i, ok := byTopic[prop.tp.Topic]
		if !ok {
			t := kmsg.NewAlterPartitionRequestTopic()
			t.Topic = prop.tp.Topic
			t.TopicID = prop.topicID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			byTopic[prop.tp.Topic] = i
		}
		rp := kmsg.NewAlterPartitionRequestTopicPartition()
		rp.Partition = prop.tp.Partition
		rp.LeaderEpoch = prop.leaderEpoch
		rp.NewISR = slices.Clone(prop.isr)
		rp.PartitionEpoch = prop.partitionEpoch
		rp.LeaderRecoveryState = prop.recoveryState
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	if len(sent) == 0 {
		return // every proposal was overtaken by a newer one or a LeaderAndIsr
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	raw, err := client.Request(rctx, req)
	if err != nil {
		retry(err, batch)
		return
	}
	resp := raw.(*kmsg.AlterPartitionResponse)
	if e := kerr.ErrorForCode(resp.ErrorCode); e != nil {
		retry(e, batch)
		return
	}
	var unanswered []isrProposal
	answered := map[topicPartition]bool{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			tp := topicPartition{rt.Topic, rp.Partition}
			prop, ok := sent[tp]
			if !ok {
				continue
			}
			answered[tp] = true
			p, ok := m.s.replicas.get(tp)
			if !ok {
				continue
			}
			switch e := kerr.ErrorForCode(rp.ErrorCode); {
			case e == nil:
				m.s.logger.Info("ISR updated", zap.String("partition", tp.String()), zap.Int32s("isr", rp.ISR),
					zap.Int32("partition_epoch", rp.PartitionEpoch))
				p.isrCommitted(prop, rp.LeaderEpoch, rp.ISR, rp.PartitionEpoch, rp.LeaderRecoveryState)
			case errors.Is(e, kerr.IneligibleReplica), errors.Is(e, kerr.OperationNotAttempted):
				m.s.logger.Info("controller refused an ISR change", zap.String("partition", tp.String()),
					zap.Int32s("proposed", prop.isr), zap.Error(e))
				p.isrRejected(prop)
			case errors.Is(e, kerr.NotController), errors.Is(e, kerr.RequestTimedOut):
				unanswered = append(unanswered, prop)
			default:
				// FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION,
				// UNKNOWN_TOPIC_OR_PARTITION: this leader's view is
				// stale; the change stays pending until LeaderAndIsr.
				m.s.logger.Info("ISR change refused for a stale leader view; waiting for the controller",
					zap.String("partition", tp.String()), zap.Int32s("proposed", prop.isr), zap.Error(e))
			}
		}
	}
	for tp, prop := range sent {
		if !answered[tp] {
			unanswered = append(unanswered, prop)
		}
	}
	if len(unanswered) > 0 {
		retry(errors.New("no answer for some partitions"), unanswered)
	}
}
