package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetFetch answers OffsetFetch v0-9 (several groups per request
// from v8). Partitions without a commit, including those of unknown topics,
// answer offset -1 as Kafka does. Groups this broker does not coordinate
// answer NOT_COORDINATOR. Version 0 reads ZooKeeper on any broker, as
// Kafka's ZooKeeper-mode brokers answer it (groupcoord's
// FetchZooKeeperOffsets); a partition the broker does not know answers
// UNKNOWN_TOPIC_OR_PARTITION there.
func (s *Server) handleOffsetFetch(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.OffsetFetchRequest)
	if r.Version == 0 {
		return s.groups.FetchZooKeeperOffsets(ctx, r), nil
	}
	return s.groups.OffsetFetch(ctx, r), nil
}
