package broker

import (
	"context"
	"regexp"
	"sort"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clientSoftwareRE is what Kafka accepts for ApiVersions v3+'s client
// software name and version (KIP-511); anything else is INVALID_REQUEST.
var clientSoftwareRE = regexp.MustCompile(`^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$`)

// handleAPIVersions answers with the implemented API table, sorted by key.
// Unsupported ApiVersions versions never get here: wire answers them with
// UNSUPPORTED_VERSION and the table in a v0 body (KIP-511). No features are
// advertised, so FinalizedFeaturesEpoch is -1.
func (s *Server) handleAPIVersions(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ApiVersionsRequest)
	resp := r.ResponseKind().(*kmsg.ApiVersionsResponse)
	resp.Version = r.Version
	resp.FinalizedFeaturesEpoch = -1
	if r.Version >= 3 && (!clientSoftwareRE.MatchString(r.ClientSoftwareName) || !clientSoftwareRE.MatchString(r.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp, nil
	}
	keys := make([]int16, 0, len(s.versions))
	for k := range s.versions {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		v := s.versions[k]
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{ApiKey: k, MinVersion: v.Min, MaxVersion: v.Max})
	}
	return resp, nil
}
