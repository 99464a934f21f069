package broker

import (
	"context"
	"slices"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// leaderDuringDelete is the leader value UpdateMetadata carries for the
// partitions of a deleted topic (Kafka's LeaderAndIsr.LeaderDuringDelete).
const leaderDuringDelete = -2

// handleUpdateMetadata answers UpdateMetadata v0-8: the controller's view
// of partitions (leader, ISR, replicas, offline replicas) and of the live
// brokers replaces this broker's metadata cache, which Metadata, Produce
// and Fetch answer from. Partitions not named keep what the cache had;
// a topic whose partitions all come with leader -2 is dropped.
func (s *Server) handleUpdateMetadata(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.UpdateMetadataRequest)
	resp := r.ResponseKind().(*kmsg.UpdateMetadataResponse)
	if e := s.checkControllerRequest(r.ControllerEpoch, r.BrokerEpoch); e != nil {
		s.logger.Warn("ignoring UpdateMetadata", zap.Int32("controller", r.ControllerID), zap.Int32("controller_epoch", r.ControllerEpoch), zap.Error(e))
		resp.ErrorCode = e.Code
		return resp, nil
	}
	type topicUpdate struct {
		id    [16]byte
		parts []kmsg.UpdateMetadataRequestTopicPartition
	}
	updates := map[string]*topicUpdate{}
	var order []string
	add := func(topic string, id [16]byte, ps kmsg.UpdateMetadataRequestTopicPartition) {
		u, ok := updates[topic]
		if !ok {
			u = &topicUpdate{id: id}
			updates[topic] = u
			order = append(order, topic)
		}
		u.parts = append(u.parts, ps)
	}
	if r.Version < 5 {
		for _, ps := range r.PartitionStates {
			add(ps.Topic, [16]byte{}, ps)
		}
	} else {
		for _, ts := range r.TopicStates {
			for _, ps := range ts.PartitionStates {
				add(ts.Topic, ts.TopicID, ps)
			}
		}
	}

	var bs []zkmeta.BrokerInfo
	for _, lb := range r.LiveBrokers {
		b := zkmeta.BrokerInfo{ID: lb.ID, Rack: lb.Rack}
		if r.Version == 0 {
			b.Endpoints = append(b.Endpoints, zkmeta.Endpoint{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: lb.Host, Port: lb.Port})
		}
		for _, e := range lb.Endpoints {
			name := e.ListenerName
			if name == "" {
				name = securityProtocolName(e.SecurityProtocol)
			}
			b.Endpoints = append(b.Endpoints, zkmeta.Endpoint{Name: name, SecurityProtocol: securityProtocolName(e.SecurityProtocol), Host: e.Host, Port: e.Port})
		}
		bs = append(bs, b)
	}
	before := s.liveBrokerIDs()
	s.meta.setBrokers(bs, r.ControllerID)
	if !slices.Equal(before, s.liveBrokerIDs()) && s.groups != nil {
		s.unloadMovedGroups()
	}

	for _, name := range order {
		u := updates[name]
		old, had := s.meta.topic(name)
		tm := &topicMeta{Name: name, ID: u.id, Partitions: map[int32]partitionMeta{}}
		if had {
			for p, pm := range old.Partitions {
				tm.Partitions[p] = pm
			}
			if tm.ID == ([16]byte{}) {
				tm.ID = old.ID
			}
			tm.Config = old.Config
		}
		deleted := false
		for _, ps := range u.parts {
			if ps.Leader == leaderDuringDelete {
				delete(tm.Partitions, ps.Partition)
				deleted = true
				continue
			}
			tm.Partitions[ps.Partition] = partitionMeta{
				Replicas:        slices.Clone(ps.Replicas),
				Leader:          ps.Leader,
				LeaderEpoch:     ps.LeaderEpoch,
				ISR:             slices.Clone(ps.ISR),
				OfflineReplicas: slices.Clone(ps.OfflineReplicas),
			}
		}
		if deleted && len(tm.Partitions) == 0 {
			s.meta.removeTopic(name)
			s.forgetTopicConfig(name)
			s.logger.Info("topic deleted", zap.String("topic", name))
			continue
		}
		if !had {
			tm.Config = s.topicConfigFor(ctx, name)
		}
		s.meta.setTopic(tm)
	}
	s.metadataReady()
	return resp, nil
}

// securityProtocolName maps Kafka's SecurityProtocol id to its name.
func securityProtocolName(id int16) string {
	switch id {
	case 1:
		return "SSL"
	case 2:
		return "SASL_PLAINTEXT"
	case 3:
		return "SASL_SSL"
	}
	return "PLAINTEXT"
}
