package zkmeta

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"
)

// Errors callers can test for.
var (
	ErrTopicExists     = errors.New("topic already exists")
	ErrNoNode          = errors.New("znode does not exist")
	ErrControllerMoved = errors.New("controller moved")
	ErrBrokerIDInUse   = errors.New("broker id is already registered")
)

// Config configures a Client.
type Config struct {
	// Connect is zookeeper.connect: "host:port[,host:port...][/chroot]".
	Connect string
	// SessionTimeout is zookeeper.session.timeout.ms (Kafka default 18 s).
	SessionTimeout time.Duration
	// ConnectTimeout is zookeeper.connection.timeout.ms; when zero the
	// session timeout is used. Connect gives up after it.
	ConnectTimeout time.Duration
	Logger         *zap.Logger
}

// Client is a ZooKeeper session speaking Kafka's layout. It reconnects by
// itself; when the session expires it runs the callbacks registered with
// OnNewSession after re-establishing one, so ephemeral registrations are made
// again.
type Client struct{}

// Connect parses the connect string (chroot included; the chroot path is
// created if missing, as Kafka does), connects, and waits for a session until
// ConnectTimeout, logging each failed attempt. It creates Kafka's persistent
// paths (/brokers/ids, /brokers/topics, /config/topics, /admin/delete_topics,
// ...).
func Connect(ctx context.Context, cfg Config) (*Client, error) { panic("not implemented") }

// Close ends the session (ephemeral znodes go away at once).
func (c *Client) Close() error { panic("not implemented") }

// OnNewSession registers fn to run after a new session replaces an expired
// one. fn runs on its own goroutine with a context that ends when the client
// closes.
func (c *Client) OnNewSession(fn func(ctx context.Context)) { panic("not implemented") }

// SessionLost returns a channel that is closed when the current session
// expires; callers re-read it after each new session. Leaders stop serving
// as leaders until the new session is set up.
func (c *Client) SessionLost() <-chan struct{} { panic("not implemented") }
