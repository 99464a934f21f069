package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterPartitionReassignments answers AlterPartitionReassignments v0
// (KIP-455). In ZooKeeper mode only the controller carries reassignments
// out (controller.Controller.AlterPartitionReassignments); another broker
// answers NOT_CONTROLLER, and the client asks the controller that Metadata
// names.
func (s *Server) handleAlterPartitionReassignments(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AlterPartitionAssignmentsRequest)
	if !s.isController() {
		resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
		resp.Version = r.Version
		resp.ErrorCode = kerr.NotController.Code
		return resp, nil
	}
	return s.ctl.AlterPartitionReassignments(ctx, r), nil
}

// handleListPartitionReassignments answers ListPartitionReassignments v0
// from the controller's state: the partitions being reassigned (of those
// named, or all), each with its full replica set and the replicas being
// added and removed. Named partitions that do not exist or are not being
// moved are simply absent, as in Kafka. Another broker answers
// NOT_CONTROLLER.
func (s *Server) handleListPartitionReassignments(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ListPartitionReassignmentsRequest)
	if !s.isController() {
		resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
		resp.Version = r.Version
		resp.ErrorCode = kerr.NotController.Code
		return resp, nil
	}
	return s.ctl.ListPartitionReassignments(ctx, r), nil
}
