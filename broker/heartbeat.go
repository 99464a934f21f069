package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleHeartbeat answers Heartbeat v0-4.
// Groups this broker does not coordinate answer NOT_COORDINATOR (the
// coordinator's Owns hook, see group_coordinator.go).
func (s *Server) handleHeartbeat(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.HeartbeatRequest)
	return s.groups.Heartbeat(ctx, r), nil
}
