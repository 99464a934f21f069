package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleLeaveGroup answers LeaveGroup v0-5 (one member before v3, a batch from v3).
// Groups this broker does not coordinate answer NOT_COORDINATOR (the
// coordinator's Owns hook, see group_coordinator.go).
func (s *Server) handleLeaveGroup(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.LeaveGroupRequest)
	return s.groups.LeaveGroup(ctx, r), nil
}
