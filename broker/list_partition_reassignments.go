package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleListPartitionReassignments answers that no reassignment is in
// progress (gokafka does not reassign partitions yet). Like Kafka's controller, it
// lists only partitions being reassigned, so named partitions, even of
// topics that do not exist, are simply absent and no error is returned.
func (s *Server) handleListPartitionReassignments(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ListPartitionReassignmentsRequest)
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.Version = r.Version
	if s.leadershipFenced() {
		resp.ErrorCode = kerr.NotController.Code
	}
	return resp, nil
}
