package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleSyncGroup answers SyncGroup v0-5. Like JoinGroup it waits for the leader's assignment; shutdown ends the wait (NOT_COORDINATOR).
// Groups this broker does not coordinate answer NOT_COORDINATOR (the
// coordinator's Owns hook, see group_coordinator.go).
func (s *Server) handleSyncGroup(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.SyncGroupRequest)
	return s.groups.SyncGroup(ctx, r), nil
}
