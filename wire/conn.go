package wire

import (
	"context"
	"net"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// Handler answers one decoded request. A nil response with a nil error means
// that nothing is written back (a Produce with acks=0). A non-nil error closes
// the connection after it is logged.
type Handler interface {
	Handle(ctx context.Context, hdr *RequestHeader, req kmsg.Request) (kmsg.Response, error)
}

// ConnConfig configures ServeConn.
type ConnConfig struct {
	// MaxRequestBytes is socket.request.max.bytes: a frame larger than this
	// closes the connection (Kafka's InvalidReceiveException).
	MaxRequestBytes int32
	// Versions is the table the broker implements. ApiVersions requests at an
	// unsupported version get UNSUPPORTED_VERSION with this table in a v0
	// body (KIP-511); any other unsupported key or version closes the
	// connection with a log line.
	Versions Versions
	Logger   *zap.Logger
}

// ServeConn reads requests from conn until it is closed, ctx is done or a
// protocol error occurs. Requests are handled one at a time and responses
// are written in request order, which is how Kafka orders a connection's
// responses even when clients pipeline. ServeConn closes conn before it
// returns.
func ServeConn(ctx context.Context, conn net.Conn, cfg ConnConfig, h Handler) error {
	panic("wire.ServeConn: not implemented")
}
