package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FindCoordinator key types (FindCoordinatorRequest.json).
const (
	coordinatorKeyGroup       = 0
	coordinatorKeyTransaction = 1
)

// handleFindCoordinator answers FindCoordinator v0-6: one key before v4, a
// batch of coordinator_keys from v4. Groups are coordinated by the broker
// coordinatorFor picks, answered with its endpoint on the listener the
// request came on. A transactional id is coordinated by the leader of its
// partition of __transaction_state (txnCoordinatorNode), created on first
// use; other key types are INVALID_REQUEST.
func (s *Server) handleFindCoordinator(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.FindCoordinatorRequest)
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if r.Version < 4 {
		c := s.findCoordinator(ctx, r.CoordinatorType, r.CoordinatorKey)
		resp.ErrorCode, resp.NodeID, resp.Host, resp.Port = c.ErrorCode, c.NodeID, c.Host, c.Port
		if r.Version >= 1 {
			resp.ErrorMessage = c.ErrorMessage
		}
		return resp, nil
	}
	for _, key := range r.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, s.findCoordinator(ctx, r.CoordinatorType, key))
	}
	return resp, nil
}

// findCoordinator resolves one key.
func (s *Server) findCoordinator(ctx context.Context, keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key = key
	fail := func(e *kerr.Error) kmsg.FindCoordinatorResponseCoordinator {
		c.NodeID, c.Host, c.Port = -1, "", -1
		c.ErrorCode = e.Code
		c.ErrorMessage = kmsg.StringPtr(e.Description)
		return c
	}
	if keyType != coordinatorKeyGroup && keyType != coordinatorKeyTransaction {
		return fail(kerr.InvalidRequest)
	}
	if s.leadershipFenced() {
		// Without a ZooKeeper session the live set is unknown.
		return fail(kerr.CoordinatorNotAvailable)
	}
	var id int32
	if keyType == coordinatorKeyGroup {
		id = s.coordinatorFor(key)
	} else {
		var e *kerr.Error
		if id, e = s.txnCoordinatorNode(ctx, key); e != nil {
			return fail(e)
		}
	}
	for _, b := range s.metadataBrokers(ctx) {
		if b.NodeID == id {
			c.NodeID, c.Host, c.Port = b.NodeID, b.Host, b.Port
			return c
		}
	}
	// The coordinator has no endpoint on this listener.
	return fail(kerr.CoordinatorNotAvailable)
}
