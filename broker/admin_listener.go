package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"go.uber.org/zap"
)

// adminListenerKey is gokafka's own server.properties key for the admin
// listener: a host:port serving net/http/pprof, off when empty (the
// default). It is opt-in and meant for loopback: the profiles expose the
// broker's internals and cost CPU while they run, and there is no
// authentication.
const adminListenerKey = "gokafka.admin.listener"

// AdminListener is the address from gokafka.admin.listener, "" when the
// admin listener is off.
func (c Config) AdminListener() string {
	return strings.TrimSpace(c.Raw[adminListenerKey])
}

// StartAdmin listens on addr and serves the pprof handlers under
// /debug/pprof/ until ctx ends. It returns the bound address (useful with
// port 0). The handlers are registered on a private mux, so nothing else
// in the process that uses http.DefaultServeMux is exposed.
func StartAdmin(ctx context.Context, addr string, logger *zap.Logger) (net.Addr, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", adminListenerKey, addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("admin listener stopped", zap.Error(err))
		}
	}()
	context.AfterFunc(ctx, func() { srv.Close() })
	logger.Info("admin listener (pprof) started", zap.Stringer("addr", ln.Addr()))
	return ln.Addr(), nil
}
