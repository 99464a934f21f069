package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Authorized-operation bitfields reported when a client asks (KIP-430).
// gokafka has no authorizer, so, like Kafka without one, every operation a
// resource supports is allowed.
const (
	// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS,
	// ALTER_CONFIGS.
	topicAuthorizedOps int32 = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
	// ALTER_CONFIGS, IDEMPOTENT_WRITE, CREATE_TOKENS, DESCRIBE_TOKENS.
	clusterAuthorizedOps int32 = 1<<5 | 1<<7 | 1<<8 | 1<<9 | 1<<10 | 1<<11 | 1<<12 | 1<<14 | 1<<15
	// authorizedOpsOmitted is Kafka's "not requested" value.
	authorizedOpsOmitted int32 = -2147483648
)

// handleDescribeCluster lists the brokers, the cluster id and the
// controller (kafka-topics --describe asks). v1's endpoint type must be 1
// (brokers); asking a broker for controllers is UNSUPPORTED_ENDPOINT_TYPE.
func (s *Server) handleDescribeCluster(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.DescribeClusterRequest)
	resp := r.ResponseKind().(*kmsg.DescribeClusterResponse)
	resp.Version = r.Version
	resp.EndpointType = 1
	if r.Version >= 1 && r.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		msg := "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER"
		if r.EndpointType != 2 {
			resp.ErrorCode = kerr.InvalidRequest.Code
			msg = "Unknown endpoint type"
		}
		resp.ErrorMessage = &msg
		return resp, nil
	}
	resp.ClusterID = s.clusterID
	resp.ControllerID = s.controllerID()
	for _, b := range s.metadataBrokers(ctx) {
		resp.Brokers = append(resp.Brokers, kmsg.DescribeClusterResponseBroker{NodeID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack})
	}
	resp.ClusterAuthorizedOperations = authorizedOpsOmitted
	if r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = clusterAuthorizedOps
	}
	return resp, nil
}
