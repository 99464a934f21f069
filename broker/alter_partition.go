package broker

import (
	"context"

	"github.com/gokafka/gokafka/wire"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterPartition answers AlterPartition v0-3 (KIP-497), which leaders
// send to the controller to change an ISR; the controller's loop decides
// (controller.Controller.AlterPartition). Other brokers answer
// NOT_CONTROLLER.
func (s *Server) handleAlterPartition(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.AlterPartitionRequest)
	if !s.isController() {
		resp := r.ResponseKind().(*kmsg.AlterPartitionResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp, nil
	}
	return s.ctl.AlterPartition(ctx, r), nil
}

// handleControlledShutdown answers ControlledShutdown v0-3: a broker about
// to stop asks the controller to move its leaderships away first.
func (s *Server) handleControlledShutdown(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	r := req.(*kmsg.ControlledShutdownRequest)
	if !s.isController() {
		resp := r.ResponseKind().(*kmsg.ControlledShutdownResponse)
		resp.ErrorCode = kerr.NotController.Code
		return resp, nil
	}
	return s.ctl.ControlledShutdown(ctx, r), nil
}
