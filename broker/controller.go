package broker

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

// The controller duties of a single broker (Kafka's KafkaController in
// ZooKeeper mode, reduced to one broker): it owns /controller, keeps every
// topic's partition state znodes in line with "the partitions whose
// replicas include this broker are led by it, ISR = [this broker]", adds
// topic ids and state znodes to topics that ZooKeeper tools created, and
// deletes topics marked in /admin/delete_topics. Every method named
// ...Locked must be called with s.ctlMu held.

var errFenced = errors.New("zookeeper session lost; not acting as controller until it is re-established")

// reloadAll reads every topic from ZooKeeper into the cache and the
// replica manager, and forgets cached topics that are gone.
func (s *Server) reloadAll(ctx context.Context) error {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	names, err := s.zk.Topics(ctx)
	if err != nil {
		return fmt.Errorf("list topics: %w", err)
	}
	return s.syncTopicsLocked(ctx, names, true)
}

// syncTopicsLocked loads the listed topics (all of them when full, else
// only those the cache lacks) and forgets cached topics not listed. The
// list must have been read with ctlMu held: a list read before this
// broker created a topic would make it forget (and delete) that topic.
func (s *Server) syncTopicsLocked(ctx context.Context, names []string, full bool) error {
	present := make(map[string]bool, len(names))
	var firstErr error
	for _, n := range names {
		present[n] = true
		if _, cached := s.meta.topic(n); cached && !full {
			continue
		}
		if err := s.loadTopicLocked(ctx, n); err != nil {
			s.logger.Error("load topic", zap.String("topic", n), zap.Error(err))
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	for n := range s.meta.topicNames() {
		if !present[n] {
			s.logger.Info("topic removed from zookeeper", zap.String("topic", n))
			s.forgetTopicLocked(n)
		}
	}
	return firstErr
}

// forgetTopicLocked drops a topic from the cache and deletes its local logs.
func (s *Server) forgetTopicLocked(name string) {
	s.meta.removeTopic(name)
	if err := s.replicas.removeTopic(name); err != nil {
		s.logger.Error("remove topic logs", zap.String("topic", name), zap.Error(err))
	}
}

// loadTopicLocked reads one topic (assignment, config, partition states)
// from ZooKeeper and brings it in line: a topic without topic_id gets one,
// partitions without a state znode get one led by this broker when it is
// a replica (as the controller's NewPartition -> OnlinePartition does),
// partitions this broker replicates but does not lead are taken over with
// a bumped leader epoch, and local partitions are opened as leader.
func (s *Server) loadTopicLocked(ctx context.Context, name string) error {
	if s.leadershipFenced() {
		return errFenced
	}
	self := s.cfg.BrokerID
	ce := s.controllerEpoch
	a, err := s.zk.Topic(ctx, name)
	if errors.Is(err, zkmeta.ErrNoNode) {
		if _, ok := s.meta.topic(name); ok {
			s.forgetTopicLocked(name)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("read topic %s: %w", name, err)
	}
	if a.TopicID == ([16]byte{}) {
		a.TopicID = newTopicID()
		if err := s.zk.SetTopic(ctx, ce, name, a); err != nil {
			return fmt.Errorf("add topic id to %s: %w", name, err)
		}
		s.logger.Info("assigned a topic id to a topic created without one", zap.String("topic", name))
	}
	overrides, err := s.zk.TopicConfig(ctx, name)
	if err != nil {
		return fmt.Errorf("read config of %s: %w", name, err)
	}
	tc, err := s.cfg.TopicConfig(overrides)
	if err != nil {
		s.logger.Warn("invalid topic config in zookeeper; using the broker defaults", zap.String("topic", name), zap.Error(err))
		tc, _ = s.cfg.TopicConfig(nil)
		tc.Overrides = overrides
	}

	tm := &topicMeta{Name: name, ID: a.TopicID, Partitions: make(map[int32]partitionMeta, len(a.Partitions)), Config: tc}
	missing := make(map[int32]zkmeta.LeaderAndIsr)
	states := make(map[int32]zkmeta.LeaderAndIsr, len(a.Partitions))
	// One read per partition: concurrent, as a start reads every state
	// znode of every topic.
	found, err := s.zk.PartitionStates(ctx, name, slices.Collect(maps.Keys(a.Partitions)))
	if err != nil {
		return fmt.Errorf("read partition states of %s: %w", name, err)
	}
	for p, replicas := range a.Partitions {
		st, ok := found[p]
		switch {
		case !ok:
			if slices.Contains(replicas, self) {
				missing[p] = zkmeta.LeaderAndIsr{Leader: self, LeaderEpoch: 0, ISR: []int32{self}, ControllerEpoch: ce.Epoch}
			} else {
				// No live replica: Kafka leaves the partition without a
				// state znode; clients see LEADER_NOT_AVAILABLE.
				states[p] = zkmeta.LeaderAndIsr{Leader: -1, LeaderEpoch: -1}
			}
		default:
			states[p] = st
		}
	}
	if len(missing) > 0 {
		if err := s.zk.CreatePartitionStates(ctx, ce, name, missing); err != nil {
			return fmt.Errorf("create partition states of %s: %w", name, err)
		}
		for p, st := range missing {
			states[p] = st
		}
	}
	for p, st := range states {
		replicas := a.Partitions[p]
		if slices.Contains(replicas, self) && (st.Leader != self || !slices.Equal(st.ISR, []int32{self})) {
			if st.Leader != self {
				st.LeaderEpoch++
			}
			st.Leader = self
			st.ISR = []int32{self}
			st.ControllerEpoch = ce.Epoch
			v, err := s.zk.UpdatePartitionState(ctx, ce, name, p, st)
			if err != nil {
				return fmt.Errorf("elect leader of %s-%d: %w", name, p, err)
			}
			st.ZkVersion = v
		}
		leader := st.Leader
		if leader != self && !s.brokerLive(leader) {
			leader = -1
		}
		tm.Partitions[p] = partitionMeta{Replicas: slices.Clone(replicas), Leader: leader, LeaderEpoch: st.LeaderEpoch, ISR: slices.Clone(st.ISR)}
	}

	old, hadOld := s.meta.topic(name)
	var lead []leaderRequest
	for _, p := range tm.sortedPartitions() {
		if pm := tm.Partitions[p]; pm.Leader == self {
			lead = append(lead, leaderRequest{tp: topicPartition{Topic: name, Partition: p}, topicID: tm.ID, leaderEpoch: pm.LeaderEpoch})
		}
	}
	if err := s.replicas.makeLeaders(lead, tc); err != nil {
		return fmt.Errorf("open partitions of %s as leader: %w", name, err)
	}
	if hadOld && !maps2Equal(old.Config.Overrides, tc.Overrides) {
		s.replicas.setTopicConfig(name, tc)
	}
	s.meta.setTopic(tm)
	return nil
}

func maps2Equal(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// brokerLive reports whether id is registered.
func (s *Server) brokerLive(id int32) bool {
	if id < 0 {
		return false
	}
	bs, _ := s.meta.brokerList()
	for _, b := range bs {
		if b.ID == id {
			return true
		}
	}
	return false
}

// createTopicLocked writes a new topic to ZooKeeper (config, then the
// assignment with a fresh topic id), creates its partition states and
// opens the local partitions, so a Metadata request right after sees
// leaders. zkmeta.ErrTopicExists when it exists.
func (s *Server) createTopicLocked(ctx context.Context, name string, assignment map[int32][]int32, configs map[string]string) error {
	if s.leadershipFenced() {
		return errFenced
	}
	a := zkmeta.TopicAssignment{TopicID: newTopicID(), Partitions: assignment}
	if configs == nil {
		configs = map[string]string{}
	}
	if err := s.zk.CreateTopic(ctx, name, a, configs); err != nil {
		return err
	}
	if err := s.createStatesLocked(ctx, name, assignment); err != nil {
		return err
	}
	s.logger.Info("created topic", zap.String("topic", name), zap.Int("partitions", len(assignment)))
	return s.loadTopicLocked(ctx, name)
}

// createStatesLocked creates the state znodes of new partitions that this
// broker replicates, led by it at epoch 0.
func (s *Server) createStatesLocked(ctx context.Context, name string, assignment map[int32][]int32) error {
	self := s.cfg.BrokerID
	states := make(map[int32]zkmeta.LeaderAndIsr)
	for p, replicas := range assignment {
		if slices.Contains(replicas, self) {
			states[p] = zkmeta.LeaderAndIsr{Leader: self, LeaderEpoch: 0, ISR: []int32{self}, ControllerEpoch: s.controllerEpoch.Epoch}
		}
	}
	if len(states) == 0 {
		return nil
	}
	if err := s.zk.CreatePartitionStates(ctx, s.controllerEpoch, name, states); err != nil {
		return fmt.Errorf("create partition states of %s: %w", name, err)
	}
	return nil
}

// addPartitionsLocked extends a topic's assignment with new partitions
// (keeping its topic id), creates their states and opens them.
func (s *Server) addPartitionsLocked(ctx context.Context, name string, a zkmeta.TopicAssignment, added map[int32][]int32) error {
	if s.leadershipFenced() {
		return errFenced
	}
	for p, r := range added {
		a.Partitions[p] = r
	}
	if err := s.zk.SetTopic(ctx, s.controllerEpoch, name, a); err != nil {
		return fmt.Errorf("add partitions to %s: %w", name, err)
	}
	if err := s.createStatesLocked(ctx, name, added); err != nil {
		return err
	}
	s.logger.Info("added partitions", zap.String("topic", name), zap.Int("partitions", len(a.Partitions)))
	return s.loadTopicLocked(ctx, name)
}

// deleteTopicLocked deletes the local logs, then the topic's znodes
// (assignment, states, config and the deletion marker), then forgets it.
func (s *Server) deleteTopicLocked(ctx context.Context, name string) error {
	if s.leadershipFenced() {
		return errFenced
	}
	if err := s.replicas.removeTopic(name); err != nil {
		return fmt.Errorf("delete logs of %s: %w", name, err)
	}
	if err := s.zk.DeleteTopic(ctx, s.controllerEpoch, name); err != nil && !errors.Is(err, zkmeta.ErrNoNode) {
		return err
	}
	s.meta.removeTopic(name)
	s.logger.Info("deleted topic", zap.String("topic", name))
	return nil
}

// watchTopics follows /brokers/topics: new topics (created by ZooKeeper
// tools) are loaded at once; every resyncInterval all topics are re-read
// to pick up partition additions and config changes made in ZooKeeper.
func (s *Server) watchTopics(ctx context.Context) {
	tick := time.NewTicker(resyncInterval)
	defer tick.Stop()
	var ch <-chan struct{}
	for {
		if ch == nil && !s.leadershipFenced() {
			s.ctlMu.Lock()
			names, c, err := s.zk.WatchTopics(ctx)
			if err == nil {
				ch = c
				_ = s.syncTopicsLocked(ctx, names, false)
			}
			s.ctlMu.Unlock()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.logger.Warn("watch /brokers/topics", zap.Error(err))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
			ch = nil
		case <-tick.C:
			if s.leadershipFenced() {
				ch = nil
				continue
			}
			if err := s.refreshBrokers(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("refresh brokers", zap.Error(err))
			}
			if err := s.reloadAll(ctx); err != nil && ctx.Err() == nil {
				s.logger.Warn("periodic reload of topics", zap.Error(err))
			}
		}
	}
}

// watchDeletions follows /admin/delete_topics: topics marked by tools
// (kafka-topics --zookeeper --delete) are deleted like DeleteTopics does.
// With delete.topic.enable=false the marker is left in place and logged
// (Kafka removes it; zkmeta offers no call that removes only the marker).
func (s *Server) watchDeletions(ctx context.Context) {
	warned := make(map[string]bool)
	for ctx.Err() == nil {
		if s.leadershipFenced() {
			if sleepCtx(ctx, 250*time.Millisecond) != nil {
				return
			}
			continue
		}
		// The marker list is read and acted on under ctlMu, so it cannot
		// be stale with respect to this broker's own deletions (a stale
		// name could delete a topic re-created since).
		s.ctlMu.Lock()
		names, ch, err := s.zk.WatchTopicDeletions(ctx)
		if err == nil {
			for _, n := range names {
				if !s.cfg.DeleteTopicEnable {
					if !warned[n] {
						s.logger.Warn("topic marked for deletion but delete.topic.enable=false; ignored", zap.String("topic", n))
						warned[n] = true
					}
					continue
				}
				if derr := s.deleteTopicLocked(ctx, n); derr != nil && ctx.Err() == nil {
					s.logger.Error("delete topic marked in /admin/delete_topics", zap.String("topic", n), zap.Error(derr))
				}
			}
		}
		s.ctlMu.Unlock()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.logger.Warn("watch /admin/delete_topics", zap.Error(err))
			if sleepCtx(ctx, time.Second) != nil {
				return
			}
			continue
		}
		// A periodic wake-up retries failed deletions.
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-time.After(resyncInterval):
		}
	}
}

// watchSession fences leadership when the ZooKeeper session is lost, until
// onNewSession has re-elected this broker and reloaded the topics.
func (s *Server) watchSession(ctx context.Context) {
	for {
		s.sessionMu.Lock()
		gen := s.sessionGen
		s.sessionMu.Unlock()
		lost := s.zk.SessionLost()
		select {
		case <-ctx.Done():
			return
		case <-lost:
		}
		s.sessionMu.Lock()
		if gen == s.sessionGen {
			s.fenced.Store(true)
			s.logger.Warn("zookeeper session lost; leadership fenced until a new session is set up")
		}
		s.sessionMu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-s.sessionUp:
		}
	}
}

// onNewSession runs after zkmeta has established a new session (and
// re-registered the broker): win /controller again, reload everything,
// then lift the fence.
func (s *Server) onNewSession(ctx context.Context) {
	s.fenced.Store(true)
	for {
		err := s.elect(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return
		}
		s.logger.Error("re-election after session loss", zap.Error(err))
		if sleepCtx(ctx, time.Second) != nil {
			return
		}
	}
	s.sessionMu.Lock()
	s.sessionGen++
	s.fenced.Store(false)
	s.sessionMu.Unlock()
	select {
	case s.sessionUp <- struct{}{}:
	default:
	}
	for {
		err := s.reloadAll(ctx)
		if err == nil || ctx.Err() != nil {
			break
		}
		s.logger.Error("reload after session loss", zap.Error(err))
		if sleepCtx(ctx, time.Second) != nil {
			return
		}
	}
	s.logger.Info("zookeeper session re-established; controller re-elected")
}
