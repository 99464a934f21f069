package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDeleteGroups answers DeleteGroups v0-2.
// Groups this broker does not coordinate answer NOT_COORDINATOR (the
// coordinator's Owns hook, see group_coordinator.go).
func (s *Server) handleDeleteGroups(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DeleteGroupsRequest)
	return s.groups.DeleteGroups(ctx, r), nil
}
