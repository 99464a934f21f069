package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handlerFunc answers one request of one API key.
type handlerFunc func(s *Server, ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error)

// api is one implemented API: its handler and the versions it serves, which
// are exactly the versions ApiVersions advertises (Apache Kafka 3.9 in
// ZooKeeper mode, from the single-broker issue).
type api struct {
	versions wire.VersionRange
	handle   handlerFunc
}

// apis is the table of implemented APIs. It is never mutated.
var apis = map[int16]api{
	0:  {wire.VersionRange{Min: 0, Max: 11}, (*Server).handleProduce},
	1:  {wire.VersionRange{Min: 0, Max: 17}, (*Server).handleFetch},
	2:  {wire.VersionRange{Min: 0, Max: 9}, (*Server).handleListOffsets},
	3:  {wire.VersionRange{Min: 0, Max: 12}, (*Server).handleMetadata},
	4:  {wire.VersionRange{Min: 0, Max: 7}, (*Server).handleLeaderAndIsr},
	5:  {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleStopReplica},
	6:  {wire.VersionRange{Min: 0, Max: 8}, (*Server).handleUpdateMetadata},
	7:  {wire.VersionRange{Min: 0, Max: 3}, (*Server).handleControlledShutdown},
	8:  {wire.VersionRange{Min: 0, Max: 9}, (*Server).handleOffsetCommit},
	9:  {wire.VersionRange{Min: 0, Max: 9}, (*Server).handleOffsetFetch},
	10: {wire.VersionRange{Min: 0, Max: 6}, (*Server).handleFindCoordinator},
	11: {wire.VersionRange{Min: 0, Max: 9}, (*Server).handleJoinGroup},
	12: {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleHeartbeat},
	13: {wire.VersionRange{Min: 0, Max: 5}, (*Server).handleLeaveGroup},
	14: {wire.VersionRange{Min: 0, Max: 5}, (*Server).handleSyncGroup},
	15: {wire.VersionRange{Min: 0, Max: 5}, (*Server).handleDescribeGroups},
	16: {wire.VersionRange{Min: 0, Max: 5}, (*Server).handleListGroups},
	18: {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleAPIVersions},
	19: {wire.VersionRange{Min: 0, Max: 7}, (*Server).handleCreateTopics},
	20: {wire.VersionRange{Min: 0, Max: 6}, (*Server).handleDeleteTopics},
	21: {wire.VersionRange{Min: 0, Max: 2}, (*Server).handleDeleteRecords},
	22: {wire.VersionRange{Min: 0, Max: 5}, (*Server).handleInitProducerID},
	23: {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleOffsetForLeaderEpoch},
	24: {wire.VersionRange{Min: 0, Max: 5}, (*Server).handleAddPartitionsToTxn},
	25: {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleAddOffsetsToTxn},
	26: {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleEndTxn},
	27: {wire.VersionRange{Min: 0, Max: 1}, (*Server).handleWriteTxnMarkers},
	28: {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleTxnOffsetCommit},
	32: {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleDescribeConfigs},
	33: {wire.VersionRange{Min: 0, Max: 2}, (*Server).handleAlterConfigs},
	34: {wire.VersionRange{Min: 0, Max: 2}, (*Server).handleAlterReplicaLogDirs},
	35: {wire.VersionRange{Min: 0, Max: 4}, (*Server).handleDescribeLogDirs},
	37: {wire.VersionRange{Min: 0, Max: 3}, (*Server).handleCreatePartitions},
	42: {wire.VersionRange{Min: 0, Max: 2}, (*Server).handleDeleteGroups},
	43: {wire.VersionRange{Min: 0, Max: 2}, (*Server).handleElectLeaders},
	47: {wire.VersionRange{Min: 0, Max: 0}, (*Server).handleOffsetDelete},
	44: {wire.VersionRange{Min: 0, Max: 1}, (*Server).handleIncrementalAlterConfigs},
	45: {wire.VersionRange{Min: 0, Max: 0}, (*Server).handleAlterPartitionReassignments},
	46: {wire.VersionRange{Min: 0, Max: 0}, (*Server).handleListPartitionReassignments},
	56: {wire.VersionRange{Min: 0, Max: 3}, (*Server).handleAlterPartition},
	60: {wire.VersionRange{Min: 0, Max: 1}, (*Server).handleDescribeCluster},
	61: {wire.VersionRange{Min: 0, Max: 0}, (*Server).handleDescribeProducers},
	65: {wire.VersionRange{Min: 0, Max: 0}, (*Server).handleDescribeTransactions},
	66: {wire.VersionRange{Min: 0, Max: 1}, (*Server).handleListTransactions},
}

// apiVersions builds the wire.Versions table from apis.
func apiVersions() wire.Versions {
	vs := make(wire.Versions, len(apis))
	for k, a := range apis {
		vs[k] = a.versions
	}
	return vs
}

// Handle dispatches one request; wire.ServeConn calls it. Versions were
// already checked against the table by wire.
func (s *Server) Handle(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	return apis[hdr.APIKey].handle(s, ctx, hdr, req)
}
