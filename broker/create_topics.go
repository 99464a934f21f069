package broker

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// handleCreateTopics creates topics as Kafka's controller does in
// ZooKeeper mode: validate (name, partitions, replication factor or
// explicit assignment, configs), write /config/topics and /brokers/topics
// with a new topic id, create the partition states, open the local
// partitions and update the cache, so the response means "ready": a
// Metadata request right after sees leaders. validate_only stops after
// validation. v5+ responses carry the resolved partitions, replication
// factor and configs; v7 the topic id.
func (s *Server) handleCreateTopics(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.CreateTopicsRequest)
	resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
	resp.Version = r.Version

	counts := make(map[string]int, len(r.Topics))
	for _, t := range r.Topics {
		counts[t.Topic]++
	}
	var dups []string
	for n, c := range counts {
		if c > 1 {
			dups = append(dups, n)
		}
	}
	sort.Strings(dups)
	clientID := ""
	if hdr != nil && hdr.ClientID != nil {
		clientID = *hdr.ClientID
	}
	for _, t := range r.Topics {
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = t.Topic
		if counts[t.Topic] > 1 {
			rt.ErrorCode = kerr.InvalidRequest.Code
			rt.ErrorMessage = strPtr(fmt.Sprintf("Create topics request from client `%s` contains multiple entries for the following topics: %s", clientID, strings.Join(dups, ",")))
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		s.createOneTopic(ctx, &t, &rt, r.ValidateOnly, r.Version, r.TimeoutMillis)
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

// createOneTopic validates and creates one topic, filling rt.
func (s *Server) createOneTopic(ctx context.Context, t *kmsg.CreateTopicsRequestTopic, rt *kmsg.CreateTopicsResponseTopic, validateOnly bool, version int16, timeoutMs int32) {
	fail := func(code int16, msg string) {
		rt.ErrorCode = code
		rt.ErrorMessage = strPtr(msg)
	}
	if s.leadershipFenced() || !s.isController() {
		fail(kerr.NotController.Code, "This is not the correct controller for this cluster.")
		return
	}
	if err := validateTopicName(t.Topic); err != nil {
		fail(kerr.InvalidTopicException.Code, err.Error())
		return
	}
	if _, ok := s.meta.topic(t.Topic); ok {
		fail(kerr.TopicAlreadyExists.Code, fmt.Sprintf("Topic '%s' already exists.", t.Topic))
		return
	}
	if other, ok := s.collidingTopic(t.Topic); ok {
		fail(kerr.InvalidTopicException.Code, fmt.Sprintf("Topic '%s' collides with existing topics: %s", t.Topic, other))
		return
	}

	live := s.liveBrokerIDs()
	var assignment map[int32][]int32
	if len(t.ReplicaAssignment) > 0 {
		if t.NumPartitions != -1 || t.ReplicationFactor != -1 {
			fail(kerr.InvalidRequest.Code, "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.")
			return
		}
		assignment = make(map[int32][]int32, len(t.ReplicaAssignment))
		for _, ra := range t.ReplicaAssignment {
			if _, dup := assignment[ra.Partition]; dup {
				fail(kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("Duplicate partition id %d in replica assignment.", ra.Partition))
				return
			}
			if err := checkReplicaList(ra.Partition, ra.Replicas, live); err != nil {
				fail(kerr.InvalidReplicaAssignment.Code, err.Error())
				return
			}
			assignment[ra.Partition] = append([]int32(nil), ra.Replicas...)
		}
		for p := int32(0); p < int32(len(assignment)); p++ {
			if _, ok := assignment[p]; !ok {
				fail(kerr.InvalidReplicaAssignment.Code, "Partitions should be a consecutive 0-based integer sequence")
				return
			}
		}
		rf := len(assignment[0])
		for p := range assignment {
			if len(assignment[p]) != rf {
				fail(kerr.InvalidReplicaAssignment.Code, "All partitions should have the same number of replicas")
				return
			}
		}
	} else {
		np, rf := t.NumPartitions, t.ReplicationFactor
		if np == -1 {
			np = s.cfg.NumPartitions
		}
		if rf == -1 {
			rf = s.cfg.DefaultReplicationFactor
		}
		if np <= 0 {
			fail(kerr.InvalidPartitions.Code, "Number of partitions must be larger than 0.")
			return
		}
		if rf <= 0 {
			fail(kerr.InvalidReplicationFactor.Code, "Replication factor must be larger than 0.")
			return
		}
		if int(rf) > len(live) {
			fail(kerr.InvalidReplicationFactor.Code, fmt.Sprintf("Replication factor: %d larger than available brokers: %d.", rf, len(live)))
			return
		}
		assignment = assignReplicas(s.liveBrokerRacks(), 0, np, rf)
	}

	configs, nulls := configValues(t.Configs, func(c kmsg.CreateTopicsRequestTopicConfig) (string, *string) { return c.Name, c.Value })
	if len(nulls) > 0 {
		fail(kerr.InvalidConfig.Code, "Null value not supported for topic configs: "+strings.Join(nulls, ","))
		return
	}
	if err := validateTopicConfigs(configs); err != nil {
		fail(kerr.InvalidConfig.Code, err.Error())
		return
	}

	if !validateOnly {
		err := s.createTopicZK(ctx, t.Topic, assignment, configs)
		switch {
		case err == nil:
		case errors.Is(err, zkmeta.ErrTopicExists):
			fail(kerr.TopicAlreadyExists.Code, fmt.Sprintf("Topic '%s' already exists.", t.Topic))
			return
		case errors.Is(err, errFenced):
			fail(kerr.NotController.Code, err.Error())
			return
		default:
			s.logger.Error("create topic", zap.String("topic", t.Topic), zap.Error(err))
			fail(kerr.UnknownServerError.Code, err.Error())
			return
		}
		// As Kafka's DelayedCreatePartitions: answer once every partition
		// has a leader in this broker's metadata, or REQUEST_TIMED_OUT.
		wctx, cancel := requestTimeout(ctx, timeoutMs)
		werr := s.waitTopic(wctx, t.Topic, len(assignment))
		cancel()
		if werr != nil {
			fail(kerr.RequestTimedOut.Code, "The topic was created but its partitions have no leader yet.")
			return
		}
		if tm, ok := s.meta.topic(t.Topic); ok {
			rt.TopicID = tm.ID
		}
	}
	if version >= 5 {
		rt.NumPartitions = int32(len(assignment))
		rt.ReplicationFactor = int16(len(assignment[0]))
		for _, e := range s.topicConfigEntries(configs) {
			rt.Configs = append(rt.Configs, kmsg.CreateTopicsResponseTopicConfig{
				Name: e.name, Value: e.value, ReadOnly: e.readOnly, Source: int8(e.source),
			})
		}
	}
}
