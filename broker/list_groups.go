package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleListGroups answers ListGroups v0-5 (state and type filters): the groups this broker coordinates, as Kafka lists only its own; admin clients ask every broker.
func (s *Server) handleListGroups(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ListGroupsRequest)
	return s.groups.ListGroups(ctx, r), nil
}
