package controller

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Events the loop applies. Watch events carry nothing: the handler reads
// ZooKeeper again and sets the next watch.
type event interface{}

type (
	evBrokers        struct{}
	evTopics         struct{}
	evTopicChanged   struct{ name string }
	evDeletions      struct{}
	evIsrChanges     struct{}
	evResign         struct{ why string }
	evAlterPartition struct {
		req   *kmsg.AlterPartitionRequest
		reply chan<- *kmsg.AlterPartitionResponse
	}
	evAddPartitions struct {
		topic string
		added map[int32][]int32
		reply chan<- error
	}
	evStopReplicaDone struct {
		topic  string
		broker int32
		resp   kmsg.Response
	}
	evResendDeletion struct {
		topic  string
		broker int32
	}
	evControlledShutdown struct {
		req   *kmsg.ControlledShutdownRequest
		reply chan<- *kmsg.ControlledShutdownResponse
	}
)

// tp names a partition.
type tp struct {
	topic     string
	partition int32
}

func (p tp) String() string { return fmt.Sprintf("%s-%d", p.topic, p.partition) }

// topicState is one topic as the controller knows it.
type topicState struct {
	id         [16]byte
	assignment zkmeta.TopicAssignment
	// stopWatch ends the topic's data watch.
	stopWatch context.CancelFunc
}

// state is everything the controller knows; only the loop touches it.
type state struct {
	c      *Controller
	logger *zap.Logger
	zk     *zkmeta.Client
	self   int32
	ce     zkmeta.ControllerEpoch
	t      *term
	ch     *channels

	brokers      map[int32]zkmeta.BrokerInfo
	shuttingDown map[int32]bool
	topics       map[string]*topicState
	parts        map[tp]zkmeta.LeaderAndIsr
	// deleting are topics being deleted: for each, the partitions each
	// replica's broker has yet to confirm deleting (StopReplica with
	// delete). The topic's znodes go when every one has.
	deleting map[string]map[int32]map[tp]bool
	// deletingStates are the last states of the partitions of topics being
	// deleted, for the UpdateMetadata (leader -2) a returning broker gets.
	deletingStates map[string]map[tp]zkmeta.LeaderAndIsr
	// zkReassignCzxid identifies the /admin/reassign_partitions znode
	// this term already handled (reassign.go).
	zkReassignCzxid int64
	// deletionWaits are topics marked for deletion that wait for their
	// partition reassignments to finish.
	deletionWaits map[string]bool
	// offlineDirs are the replicas each broker reported in a failed log
	// dir (log_dir_events.go), until the broker restarts or fails or
	// answers a LeaderAndIsr for them without error.
	offlineDirs map[int32]map[tp]bool
}

func newState(c *Controller, ce zkmeta.ControllerEpoch, t *term) *state {
	return &state{
		c:              c,
		logger:         c.logger.With(zap.Int32("controller_epoch", ce.Epoch)),
		zk:             c.cfg.ZK,
		self:           c.cfg.BrokerID,
		ce:             ce,
		t:              t,
		ch:             newChannels(c.cfg.BrokerID, c.logger.Named("channel")),
		brokers:        map[int32]zkmeta.BrokerInfo{},
		shuttingDown:   map[int32]bool{},
		topics:         map[string]*topicState{},
		parts:          map[tp]zkmeta.LeaderAndIsr{},
		deleting:       map[string]map[int32]map[tp]bool{},
		deletingStates: map[string]map[tp]zkmeta.LeaderAndIsr{},
		deletionWaits:  map[string]bool{},
	}
}

// fenced turns a write failure into errResign when another controller has
// taken over, so the term ends at once.
func fenced(err error) error {
	if errors.Is(err, zkmeta.ErrControllerMoved) {
		return fmt.Errorf("%w: %v", errResign, err)
	}
	return err
}

// startup reads the whole cluster from ZooKeeper (Kafka's
// onControllerFailover): brokers, topics, partition states; creates the
// states of partitions that have none, elects leaders for partitions whose
// leader is gone, and tells every live broker everything.
func (st *state) startup(ctx context.Context) error {
	bs, ch, err := st.zk.WatchBrokers(ctx)
	if err != nil {
		return fmt.Errorf("read brokers: %w", err)
	}
	st.t.watchOnce(st.t.ctx, ch, evBrokers{})
	for _, b := range bs {
		st.brokers[b.ID] = b
		st.ch.ensure(b.ID, endpointAddr(b, st.c.cfg.ListenerName))
	}
	names, tch, err := st.zk.WatchTopics(ctx)
	if err != nil {
		return fmt.Errorf("read topics: %w", err)
	}
	st.t.watchOnce(st.t.ctx, tch, evTopics{})
	b := st.newBatch()
	for _, n := range names {
		if err := st.loadTopic(ctx, n, b); err != nil {
			if errors.Is(err, errResign) {
				return err
			}
			// Not known yet, so the next pass over /brokers/topics tries
			// it again (a malformed znode is logged each time).
			st.logger.Error("load topic; trying again", zap.String("topic", n), zap.Error(err))
			st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evTopics{})
		}
	}
	// Brokers that died while no controller was watching (this one's
	// predecessor among them) leave the ISRs, and every partition whose
	// leader is not live gets an election (Kafka's replica and partition
	// state machines' startup).
	var dead []int32
	for _, s := range st.parts {
		for _, r := range append([]int32{s.Leader}, s.ISR...) {
			if r >= 0 && !st.live(r) && !slices.Contains(dead, r) {
				dead = append(dead, r)
			}
		}
	}
	if len(dead) > 0 {
		slices.Sort(dead)
		st.logger.Info("brokers not live at controller start", zap.Int32s("brokers", dead))
		if err := st.brokersFailed(ctx, dead, b); err != nil {
			return err
		}
	}
	for p, s := range st.parts {
		if !st.live(s.Leader) {
			if err := st.elect(ctx, p, b, nil); err != nil {
				return err
			}
		}
	}
	for id := range st.brokers {
		b.leaderAndIsrFor(id, st.partitionsOf(id)...)
	}
	b.updateAll = true
	st.send(b)
	if err := st.isrChanges(ctx); err != nil {
		return err
	}
	st.logger.Info("controller ready", zap.Int("brokers", len(st.brokers)), zap.Int("topics", len(st.topics)), zap.Int("partitions", len(st.parts)))
	if err := st.leadershipStartup(ctx); err != nil {
		return err
	}
	// Deletions first, as Kafka's controller loads its deletion manager
	// before it resumes reassignments: a /admin/reassign_partitions entry
	// for a topic marked for deletion is then refused rather than
	// holding the deletion back.
	if err := st.deletions(ctx); err != nil {
		return err
	}
	return st.initReassignments(ctx)
}

// apply handles one event.
func (st *state) apply(ctx context.Context, ev event) error {
	switch e := ev.(type) {
	case evResign:
		return fmt.Errorf("%w: %s", errResign, e.why)
	case evBrokers:
		return st.brokersChanged(ctx)
	case evTopics:
		return st.topicsChanged(ctx)
	case evTopicChanged:
		return st.topicChanged(ctx, e.name)
	case evDeletions:
		return st.deletions(ctx)
	case evIsrChanges:
		return st.isrChanges(ctx)
	case evAlterPartition:
		return st.alterPartition(ctx, e)
	case evControlledShutdown:
		return st.controlledShutdown(ctx, e)
	case evAddPartitions:
		return st.addPartitions(ctx, e)
	case evStopReplicaDone:
		return st.stopReplicaDone(ctx, e)
	case evAlterReassignments:
		return st.alterReassignments(ctx, e)
	case evListReassignments:
		return st.listReassignments(e)
	case evZkReassignments:
		_, err := st.zkReassignments(ctx)
		return err
	case evResendDeletion:
		if ps := st.deleting[e.topic][e.broker]; len(ps) > 0 && st.live(e.broker) {
			st.sendDeletion(e.topic, e.broker, ps)
		}
		return nil
	default:
		if handled, err := st.applyLeadership(ctx, ev); handled {
			return err
		}
		st.logger.Error("unknown controller event", zap.String("type", fmt.Sprintf("%T", ev)))
	}
	return nil
}

// live reports whether broker id is registered.
func (st *state) live(id int32) bool {
	_, ok := st.brokers[id]
	return id >= 0 && ok
}

// partitionsOf lists the partitions that have id as a replica.
func (st *state) partitionsOf(id int32) []tp {
	var out []tp
	for name, t := range st.topics {
		for p, reps := range t.assignment.Partitions {
			if slices.Contains(reps, id) {
				out = append(out, tp{name, p})
			}
		}
	}
	return out
}

// replicas returns the assignment of p.
func (st *state) replicas(p tp) []int32 {
	if t, ok := st.topics[p.topic]; ok {
		return t.assignment.Partitions[p.partition]
	}
	return nil
}

// loadTopic reads a topic's assignment (with a data watch), gives it a
// topic id when a ZooKeeper-era tool created it without one, reads its
// partition states and brings new partitions online.
func (st *state) loadTopic(ctx context.Context, name string, b *batch) error {
	wctx, stop := context.WithCancel(st.t.ctx)
	a, ch, err := st.zk.WatchTopic(wctx, name)
	if err != nil {
		stop()
		if errors.Is(err, zkmeta.ErrNoNode) {
			return nil
		}
		return fmt.Errorf("read topic %s: %w", name, err)
	}
	st.t.watchOnce(wctx, ch, evTopicChanged{name: name})
	if old, ok := st.topics[name]; ok && old.stopWatch != nil {
		old.stopWatch()
	}
	if a.TopicID == ([16]byte{}) {
		a.TopicID = zkmeta.NewUUID()
		if err := st.zk.SetTopic(ctx, st.ce, name, a); err != nil {
			stop()
			return fenced(fmt.Errorf("add topic id to %s: %w", name, err))
		}
		st.logger.Info("assigned a topic id to a topic created without one", zap.String("topic", name))
	}
	ps := slices.Collect(maps.Keys(a.Partitions))
	states, err := st.zk.PartitionStates(ctx, name, ps)
	if err != nil {
		stop()
		return fmt.Errorf("read partition states of %s: %w", name, err)
	}
	// Known only once completely read: a topic half loaded would get no
	// elections and never be read again.
	st.topics[name] = &topicState{id: a.TopicID, assignment: a, stopWatch: stop}
	var fresh []int32
	for _, p := range ps {
		s, ok := states[p]
		if !ok {
			fresh = append(fresh, p)
			continue
		}
		st.parts[tp{name, p}] = s
	}
	return st.onlineNew(ctx, name, fresh, b)
}

// onlineNew creates the state znodes of new partitions (NewPartition ->
// OnlinePartition): the leader is the first live replica and the ISR is
// every live replica. A partition with no live replica gets no state znode
// and waits, as in Kafka.
func (st *state) onlineNew(ctx context.Context, name string, ps []int32, b *batch) error {
	if len(ps) == 0 {
		return nil
	}
	states := map[int32]zkmeta.LeaderAndIsr{}
	for _, p := range ps {
		var isr []int32
		for _, r := range st.replicas(tp{name, p}) {
			if st.live(r) && !st.shuttingDown[r] {
				isr = append(isr, r)
			}
		}
		if len(isr) == 0 {
			st.logger.Warn("new partition has no live replica; it stays offline", zap.String("partition", tp{name, p}.String()))
			continue
		}
		states[p] = zkmeta.LeaderAndIsr{Leader: isr[0], LeaderEpoch: 0, ISR: isr, ControllerEpoch: st.ce.Epoch}
	}
	if len(states) == 0 {
		return nil
	}
	if err := st.zk.CreatePartitionStates(ctx, st.ce, name, states); err != nil {
		return fenced(fmt.Errorf("create partition states of %s: %w", name, err))
	}
	// Read back the zkVersions (0 for new znodes; an existing znode from a
	// race keeps its own).
	got, err := st.zk.PartitionStates(ctx, name, slices.Collect(maps.Keys(states)))
	if err != nil {
		return fmt.Errorf("read partition states of %s: %w", name, err)
	}
	for p, s := range got {
		key := tp{name, p}
		st.parts[key] = s
		b.newPartitions[key] = true
		for _, r := range st.replicas(key) {
			b.leaderAndIsrFor(r, key)
		}
		b.update(key)
	}
	return nil
}

// uncleanAllowed reads unclean.leader.election.enable for a topic: its
// override in /config/topics, else the broker default.
func (st *state) uncleanAllowed(ctx context.Context, topic string) bool {
	cfg, err := st.zk.TopicConfig(ctx, topic)
	if err == nil {
		if v, ok := cfg["unclean.leader.election.enable"]; ok {
			return strings.EqualFold(strings.TrimSpace(v), "true")
		}
	}
	if st.c.cfg.UncleanLeaderElectionNow != nil {
		return st.c.cfg.UncleanLeaderElectionNow()
	}
	return st.c.cfg.UncleanLeaderElection
}

// elect runs Kafka's offline-partition election for p, excluding brokers in
// exclude (shutting down), writes the result and queues the requests. The
// leader epoch goes up by one even when no leader can be chosen (leader -1).
func (st *state) elect(ctx context.Context, p tp, b *batch, exclude map[int32]bool) error {
	cur, ok := st.parts[p]
	if !ok {
		return nil
	}
	eligible := func(r int32) bool { return st.replicaOnline(r, p) && !exclude[r] }
	next := st.offlineLeader(p, cur, eligible, func() bool { return exclude == nil && st.uncleanAllowed(ctx, p.topic) })
	if next.Leader < 0 {
		if exclude != nil {
			return nil // controlled shutdown: leave it where it is
		}
		// Offline: keep the last ISR member so a clean election can wait
		// for it.
		next.ISR = slices.DeleteFunc(slices.Clone(cur.ISR), func(r int32) bool { return !st.live(r) })
		if len(next.ISR) == 0 && len(cur.ISR) > 0 {
			next.ISR = []int32{cur.ISR[len(cur.ISR)-1]}
			if slices.Contains(cur.ISR, cur.Leader) {
				next.ISR = []int32{cur.Leader}
			}
		}
		if cur.Leader == -1 && slices.Equal(next.ISR, cur.ISR) {
			return nil // already offline
		}
		st.logger.Warn("partition offline: no live in-sync replica", zap.String("partition", p.String()), zap.Int32s("isr", next.ISR))
	}
	next.LeaderEpoch = cur.LeaderEpoch + 1
	return st.write(ctx, p, next, b)
}

// write stores a new state for p (conditional on the version read) and
// queues LeaderAndIsr to its live replicas and UpdateMetadata to all.
func (st *state) write(ctx context.Context, p tp, next zkmeta.LeaderAndIsr, b *batch) error {
	next.ControllerEpoch = st.ce.Epoch
	v, err := st.zk.UpdatePartitionState(ctx, st.ce, p.topic, p.partition, next)
	if err != nil {
		err = fenced(fmt.Errorf("write state of %s: %w", p, err))
		if !errors.Is(err, errResign) {
			// The write may have landed before the connection failed, or
			// someone else wrote: take what ZooKeeper holds now.
			if now, rerr := st.zk.PartitionState(ctx, p.topic, p.partition); rerr == nil {
				st.parts[p] = now
			}
		}
		return err
	}
	next.ZkVersion = v
	st.parts[p] = next
	for _, r := range st.replicas(p) {
		b.leaderAndIsrFor(r, p)
	}
	b.update(p)
	return nil
}

// brokersChanged handles a change of /brokers/ids (Kafka's
// onBrokerStartup and onBrokerFailure). A broker whose epoch changed
// restarted: it is handled as failed, then as new.
func (st *state) brokersChanged(ctx context.Context) error {
	bs, ch, err := st.zk.WatchBrokers(ctx)
	if err != nil {
		st.logger.Warn("read brokers", zap.Error(err))
		st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evBrokers{})
		return nil
	}
	st.t.watchOnce(st.t.ctx, ch, evBrokers{})
	now := map[int32]zkmeta.BrokerInfo{}
	for _, b := range bs {
		now[b.ID] = b
	}
	var dead, born []int32
	for id, old := range st.brokers {
		if b, ok := now[id]; !ok || b.Epoch != old.Epoch {
			dead = append(dead, id)
		}
	}
	for id, b := range now {
		if old, ok := st.brokers[id]; !ok || b.Epoch != old.Epoch {
			born = append(born, id)
		}
	}
	if len(dead) == 0 && len(born) == 0 {
		return nil
	}
	slices.Sort(dead)
	slices.Sort(born)
	st.logger.Info("brokers changed", zap.Int32s("failed", dead), zap.Int32s("started", born))
	b := st.newBatch()
	for _, id := range dead {
		delete(st.brokers, id)
		delete(st.shuttingDown, id)
		delete(st.offlineDirs, id)
		st.ch.remove(id)
	}
	if len(dead) > 0 {
		if err := st.brokersFailed(ctx, dead, b); err != nil {
			return err
		}
	}
	for _, id := range born {
		st.brokers[id] = now[id]
		st.ch.ensure(id, endpointAddr(now[id], st.c.cfg.ListenerName))
	}
	for _, id := range born {
		// Everything the new broker replicates; partitions that were
		// offline waiting for it get their election below.
		b.leaderAndIsrFor(id, st.partitionsOf(id)...)
	}
	for p, s := range st.parts {
		if s.Leader < 0 || !st.live(s.Leader) {
			if err := st.elect(ctx, p, b, nil); err != nil {
				return err
			}
		}
	}
	b.updateAll = true
	if len(born) > 0 {
		// Topics being deleted stay "deleted" (leader -2) in what a
		// returning broker is told.
		for _, states := range st.deletingStates {
			for p, s := range states {
				b.deleted[p] = s
			}
		}
	}
	st.send(b)
	for _, id := range born {
		// Partitions created while none of their replicas was live come
		// online now, and deletions waiting for this broker go on.
		for name, t := range st.topics {
			var fresh []int32
			for p, reps := range t.assignment.Partitions {
				if _, ok := st.parts[tp{name, p}]; !ok && slices.Contains(reps, id) {
					fresh = append(fresh, p)
				}
			}
			if len(fresh) > 0 {
				nb := st.newBatch()
				if err := st.onlineNew(ctx, name, fresh, nb); err != nil {
					return err
				}
				st.send(nb)
			}
		}
		for name, pending := range st.deleting {
			if ps := pending[id]; len(ps) > 0 {
				st.sendDeletion(name, id, ps)
			}
		}
	}
	if len(born) > 0 {
		return st.reassignmentsOnBrokerStartup(ctx, born)
	}
	return nil
}

// brokersFailed moves leadership off failed brokers and takes them out of
// every ISR (keeping an ISR's last member).
func (st *state) brokersFailed(ctx context.Context, dead []int32, b *batch) error {
	gone := func(r int32) bool { return slices.Contains(dead, r) }
	for p, s := range st.parts {
		switch {
		case gone(s.Leader):
			if err := st.elect(ctx, p, b, nil); err != nil {
				return err
			}
		case slices.ContainsFunc(s.ISR, gone):
			next := s
			next.ISR = slices.DeleteFunc(slices.Clone(s.ISR), gone)
			if len(next.ISR) == 0 {
				continue
			}
			next.LeaderEpoch = s.LeaderEpoch + 1
			if err := st.write(ctx, p, next, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// topicsChanged handles a change of /brokers/topics: new topics are loaded
// and brought online; topics whose znode vanished without a deletion are
// forgotten, and their replicas stopped without deleting their logs (only
// topic deletion deletes data).
func (st *state) topicsChanged(ctx context.Context) error {
	names, ch, err := st.zk.WatchTopics(ctx)
	if err != nil {
		st.logger.Warn("read topics", zap.Error(err))
		st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evTopics{})
		return nil
	}
	st.t.watchOnce(st.t.ctx, ch, evTopics{})
	b := st.newBatch()
	present := map[string]bool{}
	for _, n := range names {
		present[n] = true
		if _, ok := st.topics[n]; ok {
			continue
		}
		st.logger.Info("new topic", zap.String("topic", n))
		if err := st.loadTopic(ctx, n, b); err != nil {
			if errors.Is(err, errResign) {
				return err
			}
			st.logger.Error("load topic; trying again", zap.String("topic", n), zap.Error(err))
			st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evTopics{})
		}
	}
	for n := range st.topics {
		if !present[n] {
			st.logger.Warn("topic znode removed without a topic deletion; its replicas stop and keep their logs", zap.String("topic", n))
			for p, reps := range st.topics[n].assignment.Partitions {
				for _, r := range reps {
					b.stopReplicaFor(r, tp{n, p}, false)
				}
			}
			st.forget(n, b)
		}
	}
	st.send(b)
	return nil
}

// topicChanged handles a change of one topic's znode: partitions added by
// CreatePartitions or a tool are brought online.
func (st *state) topicChanged(ctx context.Context, name string) error {
	old, ok := st.topics[name]
	if !ok {
		return nil
	}
	b := st.newBatch()
	known := maps.Clone(old.assignment.Partitions)
	if err := st.loadTopic(ctx, name, b); err != nil {
		if errors.Is(err, errResign) {
			return err
		}
		st.logger.Error("reload topic", zap.String("topic", name), zap.Error(err))
		return nil
	}
	if t, ok := st.topics[name]; ok {
		for p := range t.assignment.Partitions {
			if _, had := known[p]; !had {
				st.logger.Info("partition added", zap.String("partition", tp{name, p}.String()))
				b.update(tp{name, p})
			}
		}
	}
	st.send(b)
	return nil
}

// forget drops a topic from the state and every broker's metadata
// (UpdateMetadata with leader -2). Its replicas are stopped by the caller.
func (st *state) forget(name string, b *batch) {
	t, ok := st.topics[name]
	if !ok {
		return
	}
	if t.stopWatch != nil {
		t.stopWatch()
	}
	for p := range t.assignment.Partitions {
		key := tp{name, p}
		b.deleted[key] = st.parts[key]
		delete(st.parts, key)
	}
	delete(st.topics, name)
}

// deletions carries out the topics marked in /admin/delete_topics (Kafka's
// TopicDeletionManager): the topic leaves the controller's state and every
// broker's metadata at once, each replica's broker gets StopReplica with
// delete (a broker that is down gets it when it returns), and the topic's
// znodes and the marker go once every replica has confirmed.
func (st *state) deletions(ctx context.Context) error {
	names, ch, err := st.zk.WatchTopicDeletions(ctx)
	if err != nil {
		st.logger.Warn("read /admin/delete_topics", zap.Error(err))
		st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evDeletions{})
		return nil
	}
	st.t.watchOnce(st.t.ctx, ch, evDeletions{})
	if len(names) == 0 {
		return nil
	}
	if !st.c.cfg.DeleteTopicEnable {
		st.logger.Warn("topics marked for deletion but delete.topic.enable=false; ignored", zap.Strings("topics", names))
		return nil
	}
	b := st.newBatch()
	defer st.send(b)
	for _, n := range names {
		if _, busy := st.deleting[n]; busy {
			continue
		}
		if st.topicReassigning(n) {
			st.logger.Info("topic deletion waits for its partition reassignments", zap.String("topic", n))
			st.deletionWaits[n] = true
			continue
		}
		delete(st.deletionWaits, n)
		t, ok := st.topics[n]
		if !ok {
			// Nothing left to stop (the topic is gone, or only its
			// marker was left): remove what remains.
			if err := st.zk.DeleteTopic(ctx, st.ce, n); err != nil {
				return fenced(fmt.Errorf("delete topic %s: %w", n, err))
			}
			continue
		}
		pending := map[int32]map[tp]bool{}
		for p, reps := range t.assignment.Partitions {
			for _, r := range reps {
				if pending[r] == nil {
					pending[r] = map[tp]bool{}
				}
				pending[r][tp{n, p}] = true
			}
		}
		st.forget(n, b)
		st.deleting[n] = pending
		states := map[tp]zkmeta.LeaderAndIsr{}
		for p, s := range b.deleted {
			if p.topic == n {
				states[p] = s
			}
		}
		st.deletingStates[n] = states
		var down []int32
		for r, ps := range pending {
			if st.live(r) {
				st.sendDeletion(n, r, ps)
			} else {
				down = append(down, r)
			}
		}
		slices.Sort(down)
		st.logger.Info("deleting topic", zap.String("topic", n), zap.Int32s("waiting_for_brokers", down))
	}
	return nil
}

// sendDeletion sends StopReplica with delete for ps to broker r; the
// answer comes back to the loop as evStopReplicaDone.
func (st *state) sendDeletion(topic string, r int32, ps map[tp]bool) {
	del := make(map[tp]bool, len(ps))
	for p := range ps {
		del[p] = true
	}
	t := st.t
	st.ch.send(r, st.stopReplica(r, del), func(resp kmsg.Response) {
		// Posted from the sender's goroutine, which the loop may be
		// stopping: never block it.
		go t.post(evStopReplicaDone{topic: topic, broker: r, resp: resp})
	})
}

// stopReplicaDone records a broker's answer to a deletion's StopReplica
// and finishes the deletion once every replica confirmed.
func (st *state) stopReplicaDone(ctx context.Context, e evStopReplicaDone) error {
	pending, ok := st.deleting[e.topic]
	if !ok || e.resp == nil {
		return nil // the broker went away: it gets the request again on return
	}
	r, ok := e.resp.(*kmsg.StopReplicaResponse)
	if !ok {
		return nil
	}
	if r.ErrorCode == 0 {
		// Every partition not answered with an error is deleted.
		failed := map[tp]bool{}
		for _, p := range r.Partitions {
			if p.ErrorCode != 0 {
				failed[tp{p.Topic, p.Partition}] = true
			}
		}
		for p := range pending[e.broker] {
			if !failed[p] {
				delete(pending[e.broker], p)
			}
		}
	}
	if len(pending[e.broker]) > 0 {
		st.logger.Warn("a replica did not confirm deleting its log; asking again", zap.String("topic", e.topic), zap.Int32("broker", e.broker))
		retry := retryAfter(st.t.ctx)
		st.t.watchOnce(st.t.ctx, retry, evResendDeletion{topic: e.topic, broker: e.broker})
		return nil
	}
	delete(pending, e.broker)
	if len(pending) > 0 {
		return nil
	}
	if err := st.zk.DeleteTopic(ctx, st.ce, e.topic); err != nil {
		return fenced(fmt.Errorf("delete topic %s: %w", e.topic, err))
	}
	delete(st.deleting, e.topic)
	delete(st.deletingStates, e.topic)
	st.logger.Info("deleted topic", zap.String("topic", e.topic))
	return nil
}

// retryAfter returns a channel closed a second from now (or when ctx
// ends), to re-run a handler whose ZooKeeper read failed.
func retryAfter(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		sleep(ctx, 1e9)
		close(ch)
	}()
	return ch
}

// addPartitions writes a topic's grown assignment and brings the new
// partitions online.
func (st *state) addPartitions(ctx context.Context, e evAddPartitions) error {
	a, err := st.zk.Topic(ctx, e.topic)
	if err != nil {
		e.reply <- fmt.Errorf("read topic %s: %w", e.topic, err)
		return nil
	}
	for p := range e.added {
		if _, ok := a.Partitions[p]; ok {
			e.reply <- fmt.Errorf("%w: partition %d of %s", ErrPartitionsExist, p, e.topic)
			return nil
		}
	}
	for p, r := range e.added {
		a.Partitions[p] = slices.Clone(r)
	}
	if err := st.zk.SetTopic(ctx, st.ce, e.topic, a); err != nil {
		err = fenced(fmt.Errorf("add partitions to %s: %w", e.topic, err))
		e.reply <- err
		if errors.Is(err, errResign) {
			return err
		}
		return nil
	}
	st.logger.Info("added partitions", zap.String("topic", e.topic), zap.Int("partitions", len(a.Partitions)))
	err = st.topicChanged(ctx, e.topic)
	e.reply <- err
	return err
}

// isrChanges handles /isr_change_notification (Kafka's
// IsrChangeNotificationHandler), where leaders of older
// inter.broker.protocol versions announce ISRs they wrote themselves: the
// listed partitions' states are read again from ZooKeeper, every broker
// gets an UpdateMetadata for them, and the notifications are deleted.
// gokafka's own leaders use AlterPartition and never write here.
func (st *state) isrChanges(ctx context.Context) error {
	names, parts, ch, err := st.zk.WatchIsrChanges(ctx)
	if err != nil {
		st.logger.Warn("read /isr_change_notification", zap.Error(err))
		st.t.watchOnce(st.t.ctx, retryAfter(st.t.ctx), evIsrChanges{})
		return nil
	}
	st.t.watchOnce(st.t.ctx, ch, evIsrChanges{})
	if len(names) == 0 {
		return nil
	}
	b := st.newBatch()
	for _, cp := range parts {
		p := tp{cp.Topic, cp.Partition}
		if _, ok := st.parts[p]; !ok {
			continue
		}
		now, err := st.zk.PartitionState(ctx, p.topic, p.partition)
		if err != nil {
			continue
		}
		st.parts[p] = now
		b.update(p)
	}
	st.send(b)
	if err := st.zk.DeleteIsrChanges(ctx, st.ce, names); err != nil {
		return fenced(err)
	}
	st.logger.Info("ISR change notifications handled", zap.Int("notifications", len(names)), zap.Int("partitions", len(parts)))
	return nil
}
