package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// errFenced is returned while the ZooKeeper session is lost.
var errFenced = errors.New("zookeeper session lost; not acting on cluster state until it is re-established")

// newController builds the controller (package controller) that this
// broker runs for: every broker takes part in the election for /controller.
func (s *Server) newController() *controller.Controller {
	return controller.New(controller.Config{
		BrokerID:              s.cfg.BrokerID,
		ZK:                    s.zk,
		Logger:                s.logger.Named("controller"),
		ListenerName:          s.interBrokerListener(),
		UncleanLeaderElection: s.cfg.UncleanLeaderElection,
		UncleanLeaderElectionNow: func() bool {
			return s.effectiveConfig().UncleanLeaderElection
		},
		DeleteTopicEnable: s.cfg.DeleteTopicEnable,
		DeadSessions:      s.dirs.PreviousZKSessions,
		AutoLeaderRebalance: controller.AutoLeaderRebalance{
			Enable:              s.cfg.AutoLeaderRebalanceEnable,
			ImbalancePercentage: s.cfg.LeaderImbalancePerBrokerPercentage,
			CheckInterval:       s.cfg.LeaderImbalanceCheckInterval,
		},
	})
}

// interBrokerListener is the listener name brokers reach each other on:
// inter.broker.listener.name, else the first listener.
func (s *Server) interBrokerListener() string {
	if s.cfg.InterBrokerListenerName != "" {
		return s.cfg.InterBrokerListenerName
	}
	if len(s.cfg.Listeners) > 0 {
		return s.cfg.Listeners[0].Name
	}
	return "PLAINTEXT"
}

// isController reports whether this broker is the active controller.
func (s *Server) isController() bool { return s.ctl != nil && s.ctl.Active() }

// topicConfigs caches each topic's effective configuration, read from
// /config/topics when the broker first hears of the topic.
type topicConfigs struct {
	mu sync.Mutex
	m  map[string]TopicConfig
}

// topicConfigFor returns topic's configuration, reading its overrides from
// ZooKeeper the first time. A read failure or invalid overrides fall back
// to the broker defaults, with a log line.
func (s *Server) topicConfigFor(ctx context.Context, name string) TopicConfig {
	s.topicCfgs.mu.Lock()
	tc, ok := s.topicCfgs.m[name]
	s.topicCfgs.mu.Unlock()
	if ok {
		return tc
	}
	overrides, err := s.zk.TopicConfig(ctx, name)
	if err != nil && !errors.Is(err, zkmeta.ErrNoNode) {
		s.logger.Warn("read topic config; using the broker defaults for now", zap.String("topic", name), zap.Error(err))
		tc, _ = s.effectiveConfig().TopicConfig(nil)
		return tc
	}
	tc = s.resolveTopicConfig(name, overrides)
	s.topicCfgs.mu.Lock()
	if s.topicCfgs.m == nil {
		s.topicCfgs.m = map[string]TopicConfig{}
	}
	// A config change applied while this read was in flight is newer:
	// keep it.
	if cur, ok := s.topicCfgs.m[name]; ok {
		tc = cur
	} else {
		s.topicCfgs.m[name] = tc
	}
	s.topicCfgs.mu.Unlock()
	return tc
}

// forgetTopicConfig drops a deleted topic's cached configuration.
func (s *Server) forgetTopicConfig(name string) {
	s.topicCfgs.mu.Lock()
	delete(s.topicCfgs.m, name)
	s.topicCfgs.mu.Unlock()
}

// createTopicZK writes a new topic to ZooKeeper (config, then the
// assignment with a fresh topic id), as Kafka's AdminZkClient does from any
// broker; the controller notices it and brings its partitions online.
// zkmeta.ErrTopicExists when it exists.
func (s *Server) createTopicZK(ctx context.Context, name string, assignment map[int32][]int32, configs map[string]string) error {
	if s.leadershipFenced() {
		return errFenced
	}
	if configs == nil {
		configs = map[string]string{}
	}
	a := zkmeta.TopicAssignment{TopicID: zkmeta.NewUUID(), Partitions: assignment}
	if err := s.zk.CreateTopic(ctx, name, a, configs); err != nil {
		return err
	}
	s.logger.Info("created topic", zap.String("topic", name), zap.Int("partitions", len(assignment)))
	return nil
}

// waitTopic waits until the metadata cache has topic with every one of
// want partitions led by a live broker (want < 0: the topic is gone), or
// until ctx ends. Kafka's CreateTopics, CreatePartitions and DeleteTopics
// wait the same way (in a purgatory) up to the request's timeout.
func (s *Server) waitTopic(ctx context.Context, topic string, want int) error {
	for {
		ch := s.meta.changed()
		tm, ok := s.meta.topic(topic)
		switch {
		case want < 0 && !ok:
			return nil
		case want >= 0 && ok && len(tm.Partitions) >= want && !slices.ContainsFunc(tm.sortedPartitions(), func(p int32) bool {
			return tm.Partitions[p].Leader < 0
		}):
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// requestTimeout bounds an admin request's wait by its timeout_ms (at
// least a second, at most a minute).
func requestTimeout(ctx context.Context, ms int32) (context.Context, context.CancelFunc) {
	d := time.Duration(ms) * time.Millisecond
	d = max(d, time.Second)
	d = min(d, time.Minute)
	return context.WithTimeout(ctx, d)
}

// checkControllerRequest applies KIP-380's fencing to a request from the
// controller: an older controller epoch than one already seen is
// STALE_CONTROLLER_EPOCH, a broker epoch older than this broker's current
// registration is STALE_BROKER_EPOCH (-1: not set by the sender).
func (s *Server) checkControllerRequest(controllerEpoch int32, brokerEpoch int64) *kerr.Error {
	if brokerEpoch >= 0 && brokerEpoch < s.zk.BrokerEpoch() {
		return kerr.StaleBrokerEpoch
	}
	s.ctlEpochMu.Lock()
	defer s.ctlEpochMu.Unlock()
	if controllerEpoch < s.seenControllerEpoch {
		return kerr.StaleControllerEpoch
	}
	s.seenControllerEpoch = controllerEpoch
	return nil
}

// brokerAddr is the address of broker id's inter-broker endpoint from the
// metadata cache.
func (s *Server) brokerAddr(id int32) (string, error) {
	bs, _ := s.meta.brokerList()
	for _, b := range bs {
		if b.ID != id {
			continue
		}
		name := s.interBrokerListener()
		for _, e := range b.Endpoints {
			if e.Name == name {
				return fmt.Sprintf("%s:%d", e.Host, e.Port), nil
			}
		}
		if len(b.Endpoints) > 0 {
			e := b.Endpoints[0]
			return fmt.Sprintf("%s:%d", e.Host, e.Port), nil
		}
	}
	return "", fmt.Errorf("broker %d is not live", id)
}

// metadataReady marks the first UpdateMetadata.
func (s *Server) metadataReady() {
	s.metaReadyOnce.Do(func() { close(s.metaReady) })
}

// watchBrokers keeps the broker list in the cache while no controller has
// sent one yet (a broker starting alone), re-reading /brokers/ids when it
// changes. Once UpdateMetadata has arrived, the controller's list is the
// cache's truth and this loop only waits.
func (s *Server) watchBrokers(ctx context.Context) {
	for ctx.Err() == nil {
		select {
		case <-s.metaReady:
			return
		default:
		}
		_, ch, err := s.zk.WatchBrokers(ctx)
		if err == nil {
			select {
			case <-s.metaReady:
			default:
				if rerr := s.refreshBrokers(ctx); rerr != nil && ctx.Err() == nil {
					s.logger.Debug("refresh brokers", zap.Error(rerr))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-s.metaReady:
			return
		case <-ch:
		case <-time.After(resyncInterval):
		}
	}
}

// watchSession fences leadership when the ZooKeeper session is lost, until
// onNewSession has registered the broker again: the controller moves this
// broker's leaderships away once the session expires, so until it is back
// it must not acknowledge writes as leader.
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

// onNewSession runs after zkmeta has established a new session and
// registered the broker again (a new broker epoch): record the session and
// lift the fence. The controller sees the new registration as a restarted
// broker and sends it the full LeaderAndIsr, which makes it a follower of
// whatever moved while it was away; the controller election itself
// continues in controller.Run.
func (s *Server) onNewSession(ctx context.Context) {
	s.recordSession()
	s.sessionMu.Lock()
	s.sessionGen++
	s.fenced.Store(false)
	s.sessionMu.Unlock()
	select {
	case s.sessionUp <- struct{}{}:
	default:
	}
	s.logger.Info("zookeeper session re-established; broker registered again")
}

// controlledShutdown asks the controller to move this broker's leaderships
// away before it stops (controlled.shutdown.enable), retrying up to
// controlled.shutdown.max.retries times, controlled.shutdown.retry.backoff.ms
// apart, while partitions remain. Failures are logged: the broker stops
// anyway and the controller notices through ZooKeeper.
func (s *Server) controlledShutdown() {
	if !s.cfg.ControlledShutdownEnable || s.leadershipFenced() {
		return
	}
	req := kmsg.NewPtrControlledShutdownRequest()
	req.Version = 3
	req.BrokerID = s.cfg.BrokerID
	req.BrokerEpoch = s.zk.BrokerEpoch()
	var client *wire.Client
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	for attempt := 0; attempt <= s.cfg.ControlledShutdownMaxRetries; attempt++ {
		if attempt > 0 {
			time.Sleep(s.cfg.ControlledShutdownRetryBackoff)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var resp *kmsg.ControlledShutdownResponse
		var err error
		if s.isController() {
			resp = s.ctl.ControlledShutdown(ctx, req)
		} else {
			_, ctl := s.meta.brokerList()
			var addr string
			addr, err = s.brokerAddr(ctl)
			if err == nil {
				if client == nil || client.Addr() != addr {
					if client != nil {
						client.Close()
					}
					client = wire.NewClient(addr, fmt.Sprintf("broker-%d-controlled-shutdown", s.cfg.BrokerID))
				}
				var raw kmsg.Response
				raw, err = client.Request(ctx, req)
				if err == nil {
					resp = raw.(*kmsg.ControlledShutdownResponse)
				}
			}
		}
		cancel()
		switch {
		case err != nil:
			s.logger.Warn("controlled shutdown request failed", zap.Int("attempt", attempt+1), zap.Error(err))
		case resp.ErrorCode != 0:
			s.logger.Warn("controlled shutdown refused", zap.Int("attempt", attempt+1), zap.String("error", kerr.ErrorForCode(resp.ErrorCode).Error()))
		case len(resp.PartitionsRemaining) > 0:
			s.logger.Info("controlled shutdown: partitions still led here", zap.Int("attempt", attempt+1), zap.Int("remaining", len(resp.PartitionsRemaining)))
		default:
			s.logger.Info("controlled shutdown: leadership moved off this broker")
			s.waitLeadershipGone()
			return
		}
	}
	s.logger.Warn("controlled shutdown did not complete; stopping anyway")
}

// waitLeadershipGone waits (bounded) for the LeaderAndIsr requests that
// follow a successful controlled shutdown, so that this broker stops
// leading before its listeners close.
func (s *Server) waitLeadershipGone() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		leading := false
		for _, p := range s.replicas.all() {
			if p.leading.Load() && len(p.replicaList()) > 1 {
				leading = true
				break
			}
		}
		if !leading {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
