package broker

import (
	"context"
	"errors"
	"github.com/gokafka/gokafka/txncoord"
	"slices"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// handleMetadata answers Metadata v0-12: brokers, cluster id (v2+),
// controller (v1+), and topics: all of them (v0: an empty list; v1+: null),
// none (v1+: an empty list), by name, or by topic id (v12, name null).
// An unknown topic is auto-created when auto.create.topics.enable is set
// and the request allows it (always before v4), and answered with
// LEADER_NOT_AVAILABLE as Kafka does; otherwise UNKNOWN_TOPIC_OR_PARTITION.
func (s *Server) handleMetadata(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.MetadataRequest)
	resp := r.ResponseKind().(*kmsg.MetadataResponse)
	resp.Version = r.Version
	resp.Brokers = s.metadataBrokers(ctx)
	resp.ClusterID = &s.clusterID
	resp.ControllerID = s.controllerID()
	resp.AuthorizedOperations = authorizedOpsOmitted
	if r.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = clusterAuthorizedOps
	}
	topicOps := authorizedOpsOmitted
	if r.IncludeTopicAuthorizedOperations {
		topicOps = topicAuthorizedOps
	}

	all := r.Topics == nil || (r.Version == 0 && len(r.Topics) == 0)
	if all {
		for _, tm := range s.meta.allTopics() {
			resp.Topics = append(resp.Topics, s.describeTopic(tm, topicOps))
		}
		return resp, nil
	}
	allowCreate := r.Version < 4 || r.AllowAutoTopicCreation
	for _, rt := range r.Topics {
		if rt.Topic == nil {
			t := kmsg.NewMetadataResponseTopic()
			t.TopicID = rt.TopicID
			name, ok := s.meta.topicNameByID(rt.TopicID)
			if !ok {
				t.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, t)
				continue
			}
			tm, ok := s.meta.topic(name)
			if !ok {
				t.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, t)
				continue
			}
			resp.Topics = append(resp.Topics, s.describeTopic(tm, topicOps))
			continue
		}
		name := *rt.Topic
		if tm, ok := s.meta.topic(name); ok {
			resp.Topics = append(resp.Topics, s.describeTopic(tm, topicOps))
			continue
		}
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = rt.Topic
		t.AuthorizedOperations = topicOps
		switch {
		case validateTopicName(name) != nil:
			t.ErrorCode = kerr.InvalidTopicException.Code
		case s.cfg.AutoCreateTopics && allowCreate:
			t.ErrorCode = s.autoCreateTopic(ctx, name)
		default:
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil
}

// autoCreateWait bounds how long a Metadata request that auto-created a
// topic waits for the controller to bring it online.
const autoCreateWait = 2 * time.Second

// autoCreateTopic creates name with num.partitions and
// default.replication.factor, returning the code for this response:
// LEADER_NOT_AVAILABLE when the topic now exists (the client retries and
// sees the leader), or why it could not be created.
func (s *Server) autoCreateTopic(ctx context.Context, name string) int16 {
	live := s.liveBrokerIDs()
	rf := s.cfg.DefaultReplicationFactor
	if int(rf) > len(live) {
		return kerr.InvalidReplicationFactor.Code
	}
	if _, collides := s.collidingTopic(name); collides {
		return kerr.InvalidTopicException.Code
	}
	err := s.createTopicZK(ctx, name, assignReplicas(s.liveBrokerRacks(), 0, s.cfg.NumPartitions, rf), nil)
	switch {
	case err == nil, errors.Is(err, zkmeta.ErrTopicExists):
		// Kafka answers at once; waiting briefly for the controller's
		// UpdateMetadata lets the client's next Metadata see leaders.
		wctx, cancel := context.WithTimeout(ctx, autoCreateWait)
		_ = s.waitTopic(wctx, name, int(s.cfg.NumPartitions))
		cancel()
		return kerr.LeaderNotAvailable.Code
	case errors.Is(err, errFenced):
		return kerr.LeaderNotAvailable.Code
	default:
		s.logger.Error("auto-create topic", zap.String("topic", name), zap.Error(err))
		return kerr.UnknownServerError.Code
	}
}

// describeTopic renders one cached topic.
func (s *Server) describeTopic(tm *topicMeta, ops int32) kmsg.MetadataResponseTopic {
	t := kmsg.NewMetadataResponseTopic()
	name := tm.Name
	t.Topic = &name
	t.TopicID = tm.ID
	// Kafka marks its internal topics; __transaction_state is the one
	// gokafka has.
	t.IsInternal = name == txncoord.TopicName
	t.AuthorizedOperations = ops
	for _, p := range tm.sortedPartitions() {
		pm := tm.Partitions[p]
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p
		mp.Leader = pm.Leader
		mp.LeaderEpoch = pm.LeaderEpoch
		mp.Replicas = slices.Clone(pm.Replicas)
		mp.ISR = slices.Clone(pm.ISR)
		if mp.ISR == nil {
			mp.ISR = []int32{}
		}
		mp.OfflineReplicas = []int32{}
		mp.OfflineReplicas = append(mp.OfflineReplicas, pm.OfflineReplicas...)
		if pm.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		s.markOfflineReplica(name, &mp)
		t.Partitions = append(t.Partitions, mp)
	}
	if t.Partitions == nil {
		t.Partitions = []kmsg.MetadataResponseTopicPartition{}
	}
	return t
}

// controllerID is the controller the last UpdateMetadata named (-1 before
// the first one and while this broker's session is lost: clients retry).
func (s *Server) controllerID() int32 {
	if s.leadershipFenced() {
		return -1
	}
	select {
	case <-s.metaReady:
	default:
		// No UpdateMetadata yet: what /controller said at start may be a
		// previous run of this broker. Clients (and readiness probes)
		// wait until the controller has told this broker its state.
		return -1
	}
	_, ctl := s.meta.brokerList()
	return ctl
}

// metadataBrokers lists the registered brokers with their endpoint for the
// listener the request arrived on (Kafka answers per listener), this
// broker first-hand from its advertised listeners.
func (s *Server) metadataBrokers(ctx context.Context) []kmsg.MetadataResponseBroker {
	name, _ := ctx.Value(listenerNameKey{}).(string)
	if name == "" && len(s.advertised) > 0 {
		name = s.advertised[0].Name
	}
	var out []kmsg.MetadataResponseBroker
	self := false
	bs, _ := s.meta.brokerList()
	for _, b := range bs {
		if b.ID == s.cfg.BrokerID {
			self = true
			for _, a := range s.advertised {
				if a.Name == name {
					out = append(out, kmsg.MetadataResponseBroker{NodeID: b.ID, Host: a.Host, Port: a.Port, Rack: b.Rack})
					break
				}
			}
			continue
		}
		for _, e := range b.Endpoints {
			if e.Name == name {
				out = append(out, kmsg.MetadataResponseBroker{NodeID: b.ID, Host: e.Host, Port: e.Port, Rack: b.Rack})
				break
			}
		}
	}
	if !self {
		for _, a := range s.advertised {
			if a.Name == name {
				b := kmsg.MetadataResponseBroker{NodeID: s.cfg.BrokerID, Host: a.Host, Port: a.Port}
				if s.cfg.BrokerRack != "" {
					rack := s.cfg.BrokerRack
					b.Rack = &rack
				}
				out = append(out, b)
				break
			}
		}
		slices.SortFunc(out, func(a, b kmsg.MetadataResponseBroker) int { return int(a.NodeID) - int(b.NodeID) })
	}
	if out == nil {
		out = []kmsg.MetadataResponseBroker{}
	}
	return out
}
