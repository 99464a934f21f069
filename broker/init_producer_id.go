package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// producerIDWait bounds how long InitProducerId waits for ZooKeeper when a
// new producer id block must be claimed; the Java producer's own
// request.timeout.ms is 30 s, so the client hears back well before it gives
// up on the request.
const producerIDWait = 10 * time.Second

// handleInitProducerID answers InitProducerId v0-5.
//
// Idempotent producers (transactional_id null) always get a fresh producer
// id with epoch 0, as Kafka's transaction coordinator does: even when a v3+
// request carries its current producer id and epoch (KIP-360), Kafka
// "blindly" hands out a new id for a null transactional id rather than
// bumping the epoch, and the client treats both the same way.
//
// A request with a transactional id goes to the transaction coordinator
// (initTxnProducerID, txn_handlers.go). An empty transactional id is
// INVALID_REQUEST, as in Kafka.
func (s *Server) handleInitProducerID(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.InitProducerIDRequest)
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID = -1
	resp.ProducerEpoch = -1
	if r.TransactionalID != nil {
		if *r.TransactionalID == "" {
			resp.ErrorCode = kerr.InvalidRequest.Code
		} else {
			s.initTxnProducerID(ctx, r, resp)
		}
		return resp, nil
	}
	ctx, cancel := context.WithTimeout(ctx, producerIDWait)
	defer cancel()
	id, err := s.pids.nextID(ctx)
	if err != nil {
		// Kafka's producer id manager answers the retriable
		// COORDINATOR_LOAD_IN_PROGRESS while it waits for a new block; the
		// client retries, which is right when ZooKeeper is briefly away.
		s.logger.Warn("init producer id", zap.Error(fmt.Errorf("allocating: %w", err)))
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return resp, nil
	}
	resp.ProducerID = id
	resp.ProducerEpoch = 0
	return resp, nil
}
