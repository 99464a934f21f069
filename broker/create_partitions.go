package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// handleCreatePartitions grows topics (kafka-topics --alter --partitions):
// the count may only increase; new partitions get the explicit replica
// lists or, without them, the topic's replication factor spread over the
// live brokers. The topic znode is rewritten (keeping topic_id), the new
// state znodes are created and the local partitions opened before the
// response.
func (s *Server) handleCreatePartitions(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.CreatePartitionsRequest)
	resp := r.ResponseKind().(*kmsg.CreatePartitionsResponse)
	resp.Version = r.Version
	counts := make(map[string]int, len(r.Topics))
	for _, t := range r.Topics {
		counts[t.Topic]++
	}
	for _, t := range r.Topics {
		rt := kmsg.NewCreatePartitionsResponseTopic()
		rt.Topic = t.Topic
		fail := func(code int16, msg string) {
			rt.ErrorCode = code
			rt.ErrorMessage = strPtr(msg)
		}
		if counts[t.Topic] > 1 {
			fail(kerr.InvalidRequest.Code, "Duplicate topic in request.")
		} else {
			s.growTopic(ctx, &t, r.ValidateOnly, r.TimeoutMillis, fail)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp, nil
}

func (s *Server) growTopic(ctx context.Context, t *kmsg.CreatePartitionsRequestTopic, validateOnly bool, timeoutMs int32, fail func(int16, string)) {
	if s.leadershipFenced() || !s.isController() {
		fail(kerr.NotController.Code, "This is not the correct controller for this cluster.")
		return
	}
	a, err := s.zk.Topic(ctx, t.Topic)
	if errors.Is(err, zkmeta.ErrNoNode) {
		fail(kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("The topic '%s' does not exist.", t.Topic))
		return
	}
	if err != nil {
		fail(kerr.UnknownServerError.Code, err.Error())
		return
	}
	cur := int32(len(a.Partitions))
	switch {
	case t.Count < cur:
		fail(kerr.InvalidPartitions.Code, fmt.Sprintf("Topic currently has %d partitions, which is higher than the requested %d.", cur, t.Count))
		return
	case t.Count == cur:
		fail(kerr.InvalidPartitions.Code, fmt.Sprintf("Topic already has %d partitions.", cur))
		return
	}
	live := s.liveBrokerIDs()
	rf := int16(len(a.Partitions[0]))
	added := make(map[int32][]int32)
	if t.Assignment != nil {
		if int32(len(t.Assignment)) != t.Count-cur {
			fail(kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("Increasing the number of partitions by %d but %d assignments provided.", t.Count-cur, len(t.Assignment)))
			return
		}
		for i, as := range t.Assignment {
			p := cur + int32(i)
			if err := checkReplicaList(p, as.Replicas, live); err != nil {
				fail(kerr.InvalidReplicaAssignment.Code, err.Error())
				return
			}
			if len(as.Replicas) != int(rf) {
				fail(kerr.InvalidReplicaAssignment.Code, fmt.Sprintf("Inconsistent replication factor between partitions, partition 0 has %d while partition %d has %d.", rf, p, len(as.Replicas)))
				return
			}
			added[p] = append([]int32(nil), as.Replicas...)
		}
	} else {
		if int(rf) > len(live) {
			fail(kerr.InvalidReplicationFactor.Code, fmt.Sprintf("Replication factor: %d larger than available brokers: %d.", rf, len(live)))
			return
		}
		added = assignReplicas(s.liveBrokerRacks(), cur, t.Count-cur, rf)
	}
	if validateOnly {
		return
	}
	if err := s.ctl.AddPartitions(ctx, t.Topic, added); err != nil {
		switch {
		case errors.Is(err, controller.ErrNotController):
			fail(kerr.NotController.Code, err.Error())
		case errors.Is(err, controller.ErrPartitionsExist):
			fail(kerr.InvalidPartitions.Code, err.Error())
		default:
			s.logger.Error("add partitions", zap.String("topic", t.Topic), zap.Error(err))
			fail(kerr.UnknownServerError.Code, err.Error())
		}
		return
	}
	wctx, cancel := requestTimeout(ctx, timeoutMs)
	defer cancel()
	if err := s.waitTopic(wctx, t.Topic, int(t.Count)); err != nil {
		fail(kerr.RequestTimedOut.Code, "The partitions were added but have no leader yet.")
	}
}
