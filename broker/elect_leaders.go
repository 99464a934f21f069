package broker

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleElectLeaders answers ElectLeaders v0-2 (KIP-183, KIP-460), what
// kafka-leader-election.sh and Admin.electLeaders send: a PREFERRED (0) or
// UNCLEAN (1) election for the listed partitions, or for every partition
// in this broker's metadata when the list is null. The controller's loop
// runs the elections (controller.Controller.ElectLeaders); the answer then
// waits, up to timeout_ms, until this broker's metadata shows each new
// leader, as Kafka's DelayedElectLeader does (REQUEST_TIMED_OUT for those
// that did not arrive). A broker that is not the controller answers
// NOT_CONTROLLER for each partition, as Kafka's ZooKeeper-mode controller
// does. For a null list, partitions whose election was not needed are left
// out of the answer.
func (s *Server) handleElectLeaders(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ElectLeadersRequest)
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	all := r.Topics == nil
	var parts []zkmeta.PartitionName
	seen := map[zkmeta.PartitionName]bool{}
	addPart := func(p zkmeta.PartitionName) {
		if !seen[p] {
			seen[p] = true
			parts = append(parts, p)
		}
	}
	if all {
		for _, t := range s.meta.allTopics() {
			for _, p := range t.sortedPartitions() {
				addPart(zkmeta.PartitionName{Topic: t.Name, Partition: p})
			}
		}
	} else {
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				addPart(zkmeta.PartitionName{Topic: t.Topic, Partition: p})
			}
		}
	}
	typ := controller.ElectionType(r.ElectionType)
	results := make(map[zkmeta.PartitionName]controller.ElectionResult, len(parts))
	switch {
	case typ != controller.ElectPreferred && typ != controller.ElectUnclean:
		// Kafka fails such a request with the IllegalArgumentException of
		// ElectionType.valueOf, which its error response turns into
		// UNKNOWN_SERVER_ERROR, top level and per partition.
		resp.ErrorCode = kerr.UnknownServerError.Code
		if all {
			parts = nil // Kafka's error response lists only requested partitions
		}
		for _, p := range parts {
			results[p] = controller.ElectionResult{Leader: -1, ErrorCode: kerr.UnknownServerError.Code}
		}
	case !s.isController():
		for _, p := range parts {
			results[p] = controller.ElectionResult{Leader: -1, ErrorCode: kerr.NotController.Code}
		}
	default:
		wctx, cancel := requestTimeout(ctx, r.TimeoutMillis)
		defer cancel()
		results = s.ctl.ElectLeaders(wctx, typ, parts)
		s.waitLeaders(wctx, results)
	}
	for _, p := range parts {
		res := results[p]
		if all && res.ErrorCode == kerr.ElectionNotNeeded.Code {
			continue
		}
		i := slices.IndexFunc(resp.Topics, func(t kmsg.ElectLeadersResponseTopic) bool { return t.Topic == p.Topic })
		if i < 0 {
			t := kmsg.NewElectLeadersResponseTopic()
			t.Topic = p.Topic
			resp.Topics = append(resp.Topics, t)
			i = len(resp.Topics) - 1
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition = p.Partition
		rp.ErrorCode = res.ErrorCode
		if res.Message != "" {
			rp.ErrorMessage = kmsg.StringPtr(res.Message)
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	slices.SortFunc(resp.Topics, func(a, b kmsg.ElectLeadersResponseTopic) int { return strings.Compare(a.Topic, b.Topic) })
	for i := range resp.Topics {
		slices.SortFunc(resp.Topics[i].Partitions, func(a, b kmsg.ElectLeadersResponseTopicPartition) int {
			return cmp.Compare(a.Partition, b.Partition)
		})
	}
	return resp, nil
}

// waitLeaders waits until the metadata cache shows the leader elected for
// each successful result, or until ctx ends; results still waiting then
// become REQUEST_TIMED_OUT.
func (s *Server) waitLeaders(ctx context.Context, results map[zkmeta.PartitionName]controller.ElectionResult) {
	waiting := map[zkmeta.PartitionName]int32{}
	for p, r := range results {
		if r.ErrorCode == 0 {
			waiting[p] = r.Leader
		}
	}
	for len(waiting) > 0 {
		ch := s.meta.changed()
		for p, leader := range waiting {
			if tm, ok := s.meta.topic(p.Topic); ok && tm.Partitions[p.Partition].Leader == leader {
				delete(waiting, p)
			}
		}
		if len(waiting) == 0 {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			for p := range waiting {
				results[p] = controller.ElectionResult{Leader: -1, ErrorCode: kerr.RequestTimedOut.Code}
			}
			return
		}
	}
}
