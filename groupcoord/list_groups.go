package groupcoord

import (
	"context"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// ListGroups handles ListGroups v0-5: every group this coordinator owns,
// whether in memory or only in the offset store (such a group has no
// members: it is Empty). The states filter (v4+) ignores case; the types
// filter (v5+) matches only "classic", the one group type there is.
func (c *Coordinator) ListGroups(ctx context.Context, req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := kmsg.NewPtrListGroupsResponse()
	resp.Version = req.Version
	if c.closed.Load() {
		resp.ErrorCode = errNotCoordinator
		return resp
	}
	var states, types []string
	if req.Version >= 4 {
		states = req.StatesFilter
	}
	if req.Version >= 5 {
		types = req.TypesFilter
	}
	if len(types) > 0 {
		classic := false
		for _, t := range types {
			classic = classic || strings.EqualFold(t, groupType)
		}
		if !classic {
			return resp
		}
	}

	type overview struct {
		id, protocolType string
		state            groupState
	}
	seen := make(map[string]bool)
	var all []overview
	c.mu.Lock()
	gs := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	c.mu.Unlock()
	for _, g := range gs {
		// A group whose coordinator moved away stays in memory until
		// the broker's watch unloads it; it is not this coordinator's
		// to list any more.
		if c.cfg.Owns != nil && !c.cfg.Owns(g.id) {
			continue
		}
		g.mu.Lock()
		if g.state != stateDead {
			all = append(all, overview{g.id, g.protocolType, g.state})
			seen[g.id] = true
		}
		g.mu.Unlock()
	}
	stored, err := c.store.Groups(ctx)
	if err != nil {
		c.log.Warn("list groups: store listing failed", zap.Error(err))
		resp.ErrorCode = errorCode(err)
	}
	for _, id := range stored {
		if !seen[id] && (c.cfg.Owns == nil || c.cfg.Owns(id)) {
			all = append(all, overview{id: id, state: stateEmpty})
			seen[id] = true
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	for _, o := range all {
		if len(states) > 0 && !o.state.matchesState(states) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = o.id
		lg.ProtocolType = o.protocolType
		lg.GroupState = o.state.String()
		lg.GroupType = groupType
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}
