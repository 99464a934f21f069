package zkmeta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
)

// Errors callers can test for.
var (
	ErrTopicExists     = errors.New("topic already exists")
	ErrNoNode          = errors.New("znode does not exist")
	ErrControllerMoved = errors.New("controller moved")
	ErrBrokerIDInUse   = errors.New("broker id is already registered")
)

// DefaultSessionTimeout is Kafka's zookeeper.session.timeout.ms default,
// used when Config.SessionTimeout is zero.
const DefaultSessionTimeout = 18 * time.Second

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

	// dialer replaces net.DialTimeout; tests use it to cut the network.
	dialer zk.Dialer
}

// Client is a ZooKeeper session speaking Kafka's layout. It reconnects by
// itself; when the session expires it runs the callbacks registered with
// OnNewSession after re-establishing one, so ephemeral registrations are made
// again.
//
// Lock order: Client.mu is never held while calling ZooKeeper.
type Client struct {
	conn           *zk.Conn
	chroot         string // "" or "/kafka"; prefixed to every Kafka path
	connect        string // the connect string, for messages
	log            *zap.Logger
	sessionTimeout time.Duration

	ctx    context.Context // ends on Close; owns the background goroutines
	cancel context.CancelFunc
	wg     sync.WaitGroup

	hadSession atomic.Bool   // a session was established at least once
	ready      chan struct{} // closed at the first session
	readyOnce  sync.Once
	closeOnce  sync.Once

	mu          sync.Mutex
	closed      bool
	lost        chan struct{} // the current SessionLost channel
	lostClosed  bool
	gen         uint64      // bumped when a session is lost or regained
	lostTimer   *time.Timer // runs while disconnected; fires at the session timeout
	callbacks   []func(context.Context)
	broker      *BrokerInfo // the last registration, made again after a new session
	brokerEpoch int64
}

// parseConnect splits "h1:p1,h2:p2/chroot" into servers and chroot (""
// when none or "/"). The chroot starts at the first '/'.
func parseConnect(s string) (servers []string, chroot string, err error) {
	s = strings.TrimSpace(s)
	hosts := s
	if i := strings.IndexByte(s, '/'); i >= 0 {
		hosts, chroot = s[:i], s[i:]
		chroot = strings.TrimRight(chroot, "/")
		if strings.Contains(chroot, "//") {
			return nil, "", fmt.Errorf("zookeeper.connect %q: invalid chroot path", s)
		}
	}
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			// ZooKeeper's default client port, as the Java client assumes.
			h = net.JoinHostPort(h, "2181")
		}
		servers = append(servers, h)
	}
	if len(servers) == 0 {
		return nil, "", fmt.Errorf("zookeeper.connect %q: no servers", s)
	}
	return servers, chroot, nil
}

// kafkaPersistentPaths are created at startup with empty data, as Kafka's
// ZkData.PersistentZkPaths.
var kafkaPersistentPaths = []string{
	"/consumers",
	brokerIDsPath,
	topicsPath,
	"/config/changes",
	deleteTopicsPath,
	"/brokers/seqid",
	"/isr_change_notification",
	producerIDBlockPath,
	"/log_dir_event_notification",
	configTopicsPath,
	"/config/clients",
	"/config/users",
	"/config/brokers",
	"/config/ips",
}

// Connect parses the connect string (chroot included; the chroot path is
// created if missing, as Kafka does), connects, and waits for a session until
// ConnectTimeout, logging each failed attempt. It creates Kafka's persistent
// paths (/brokers/ids, /brokers/topics, /config/topics, /admin/delete_topics,
// ...).
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	servers, chroot, err := parseConnect(cfg.Connect)
	if err != nil {
		return nil, err
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = cfg.SessionTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		chroot:         chroot,
		connect:        cfg.Connect,
		log:            log,
		sessionTimeout: cfg.SessionTimeout,
		ctx:            cctx,
		cancel:         cancel,
		ready:          make(chan struct{}),
		lost:           make(chan struct{}),
	}
	dial := cfg.dialer
	if dial == nil {
		dial = net.DialTimeout
	}
	conn, _, err := zk.Connect(servers, cfg.SessionTimeout,
		zk.WithLogger(zkLogger{log.Named("zookeeper")}),
		zk.WithLogInfo(false),
		zk.WithEventCallback(c.onEvent),
		zk.WithDialer(c.loggingDialer(dial)),
		// The Java client's limit (jute.maxbuffer): a corrupt or hostile
		// length cannot make us allocate without bound.
		zk.WithMaxBufferSize(4<<20),
	)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("zookeeper.connect %q: %w", cfg.Connect, err)
	}
	c.conn = conn

	timer := time.NewTimer(cfg.ConnectTimeout)
	defer timer.Stop()
	select {
	case <-c.ready:
	case <-timer.C:
		c.Close()
		return nil, fmt.Errorf("zookeeper.connect %q: no ZooKeeper session after %s (zookeeper.connection.timeout.ms); is ZooKeeper running?", cfg.Connect, cfg.ConnectTimeout)
	case <-ctx.Done():
		c.Close()
		return nil, fmt.Errorf("zookeeper.connect %q: %w", cfg.Connect, ctx.Err())
	}
	log.Info("connected to ZooKeeper", zap.String("connect", cfg.Connect), zap.String("session", fmt.Sprintf("0x%x", conn.SessionID())))

	if err := c.ensureAbs(ctx, chroot); err != nil {
		c.Close()
		return nil, fmt.Errorf("create chroot %q: %w", chroot, err)
	}
	for _, p := range kafkaPersistentPaths {
		if err := c.ensurePath(ctx, p); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// loggingDialer logs every failed connection attempt in words an operator
// understands, then lets go-zookeeper retry.
func (c *Client) loggingDialer(dial zk.Dialer) zk.Dialer {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		conn, err := dial(network, address, timeout)
		if err != nil {
			c.mu.Lock()
			closed := c.closed
			c.mu.Unlock()
			if !closed {
				c.log.Warn("waiting for ZooKeeper at "+address, zap.String("zookeeper.connect", c.connect), zap.Error(err))
			}
		}
		return conn, err
	}
}

// Close ends the session (ephemeral znodes go away at once).
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		if c.lostTimer != nil {
			c.lostTimer.Stop()
		}
		if !c.lostClosed {
			close(c.lost)
			c.lostClosed = true
		}
		c.mu.Unlock()
		c.cancel()
		if c.conn != nil {
			c.conn.Close()
		}
		c.wg.Wait()
	})
	return nil
}

// OnNewSession registers fn to run after a new session replaces an expired
// one. fn runs on its own goroutine with a context that ends when the client
// closes.
func (c *Client) OnNewSession(fn func(ctx context.Context)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.callbacks = append(c.callbacks, fn)
}

// SessionLost returns a channel that is closed when the current session
// expires; callers re-read it after each new session. Leaders stop serving
// as leaders until the new session is set up.
//
// It is also closed when the client has been disconnected for longer than
// the session timeout (ZooKeeper has expired the session by then, even
// though the client only learns so when it reconnects) and when the client
// closes.
func (c *Client) SessionLost() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// SessionID is the current ZooKeeper session id (0 while there is none).
func (c *Client) SessionID() int64 { return c.conn.SessionID() }

// Chroot is the chroot of the connect string ("" when none).
func (c *Client) Chroot() string { return c.chroot }

// zkLogger routes go-zookeeper's log lines into zap. Failed dials are
// dropped here because loggingDialer reports them more clearly.
type zkLogger struct{ l *zap.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(msg, "failed to connect to") {
		return
	}
	z.l.Info(msg)
}
