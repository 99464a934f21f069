package groupcoord

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupAuthorizedOperations is the bit set of the group ACL operations
// (READ=3, DELETE=6, DESCRIBE=8) DescribeGroups v3+ reports when asked:
// without an authorizer every operation is allowed.
const groupAuthorizedOperations = 1<<3 | 1<<6 | 1<<8

// DescribeGroups handles DescribeGroups v0-5. A group this coordinator does
// not know is reported Dead with no error, as Kafka does; members carry
// their metadata and assignment only while the group is Stable.
func (c *Coordinator) DescribeGroups(ctx context.Context, req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := kmsg.NewPtrDescribeGroupsResponse()
	resp.Version = req.Version
	for _, id := range req.Groups {
		out := kmsg.NewDescribeGroupsResponseGroup()
		out.Group = id
		if req.Version >= 3 && req.IncludeAuthorizedOperations {
			out.AuthorizedOperations = groupAuthorizedOperations
		}
		g, err := c.acquire(ctx, id, false)
		switch {
		case err != nil:
			out.ErrorCode = errorCode(err)
		case g == nil:
			out.State = stateDead.String()
		default:
			c.describe(g, &out)
			g.mu.Unlock()
		}
		resp.Groups = append(resp.Groups, out)
	}
	return resp
}

// describe fills out from g; g.mu is held.
func (c *Coordinator) describe(g *group, out *kmsg.DescribeGroupsResponseGroup) {
	out.State = g.state.String()
	out.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		out.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		if m.isStatic() {
			dm.InstanceID = kmsg.StringPtr(m.instanceID)
		}
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		out.Members = append(out.Members, dm)
	}
}
