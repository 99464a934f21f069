package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleJoinGroup answers JoinGroup v0-9. It blocks while the group rebalances (as Kafka's does); Server.Run closes the coordinator before draining requests at shutdown, which answers every parked JoinGroup with NOT_COORDINATOR.
// Groups this broker does not coordinate answer NOT_COORDINATOR (the
// coordinator's Owns hook, see group_coordinator.go).
func (s *Server) handleJoinGroup(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.JoinGroupRequest)
	return s.groups.JoinGroup(ctx, clientInfo(ctx, hdr), r), nil
}
