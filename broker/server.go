package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/groupcoord"
	"github.com/gokafka/gokafka/internal/backoff"
	"github.com/gokafka/gokafka/storage"
	"github.com/gokafka/gokafka/txncoord"
	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Shutdown bounds: how long Run waits for in-flight requests, then for
// connection goroutines, before it closes the logs anyway.
const (
	inflightDrainTimeout = 5 * time.Second
	connDrainTimeout     = 5 * time.Second
	// resyncInterval is how often the broker list is re-read from
	// ZooKeeper as a backstop to the controller's UpdateMetadata.
	resyncInterval = 5 * time.Second
)

// Server is one gokafka broker.
type Server struct {
	cfg    Config
	logger *zap.Logger
	// connLogger logs connections closed for protocol errors, sampled:
	// a port scanner or a misconfigured client must not flood the log
	// with one line per connection (see connLogSampling).
	connLogger *zap.Logger

	zk        *zkmeta.Client
	dirs      *storage.Dirs
	clusterID string

	// ctl is this broker's side of the controller election, and the
	// controller while it holds /controller (package controller).
	ctl *controller.Controller
	// ctlEpochMu guards seenControllerEpoch, the newest controller epoch of
	// a LeaderAndIsr, UpdateMetadata or StopReplica (KIP-380 fencing).
	ctlEpochMu          sync.Mutex
	seenControllerEpoch int32
	// metaReady is closed by the first UpdateMetadata; Run waits for it
	// (bounded) before it reports ready.
	metaReady     chan struct{}
	metaReadyOnce sync.Once

	meta      *metadataCache
	topicCfgs topicConfigs
	// dyn holds the dynamic broker configs (dynamic_config.go).
	dyn      dynamicConfigs
	replicas *replicaManager
	fetchers *fetcherManager
	isr      *isrManager
	pids     *producerIDs

	// replQuotas are the replication throttles (replication_quota.go);
	// cleaner is the running log cleaner, for dynamic log.cleaner.*
	// (log_cleaner.go).
	replQuotas replicationQuotas
	cleaner    atomic.Pointer[storage.Cleaner]

	// groups is the consumer-group coordinator (group_coordinator.go),
	// set by Run once ZooKeeper and the broker list are up.
	groups *groupcoord.Coordinator
	// txn is the transaction coordinator and txnMarkers its marker sender
	// (txn_coordinator.go), set by Run with groups.
	txn        *txncoord.Coordinator
	txnMarkers *markerWriter
	// txnVerify is the KIP-890 verifier the partition side's produce path
	// calls (txn_verify.go).
	txnVerify *txnVerifier
	// verifyTxnOffsets, when set, replaces txnVerify for TxnOffsetCommit
	// (unit tests only; see txn_offset_commit.go).
	verifyTxnOffsets txnOffsetsVerifyFunc

	// txnHooks connect the partitions' side of transactions to the
	// transaction and group coordinators (txn_hooks.go).
	txnHooks txnHooks

	// conversions counts the down-conversion of Fetch v0-3 answers
	// (down_convert.go).
	conversions conversionStats

	versions wire.Versions

	// fenced is true from a ZooKeeper session loss until the new session is
	// set up and the controller re-elected (see leadershipFenced).
	fenced atomic.Bool
	// sessionMu guards sessionGen, which counts completed session
	// re-establishments so a late-noticed loss does not fence forever.
	sessionMu  sync.Mutex
	sessionGen uint64
	sessionUp  chan struct{}
	// sessionRec writes the session into the log dirs off the start path.
	sessionRec *sessionRecorder

	// advertised are the advertised listeners with ports resolved once the
	// listeners are bound (port 0 picks a free port).
	advertised []Listener
	listeners  []net.Listener
	ready      chan struct{}

	inflight requestGate
	// quotas enforces max.connections and max.connections.per.ip
	// (conn_quotas.go); set by Run before the listeners accept.
	quotas  *connQuotas
	connsMu sync.Mutex
	conns   map[net.Conn]struct{}
	connWG  sync.WaitGroup
}

// New checks the configuration and returns a Server that Run starts. It
// does no I/O: ZooKeeper, the log dirs and the listeners are opened by Run,
// in Kafka's order, so the port only answers once the broker can serve.
func New(cfg Config, logger *zap.Logger) (*Server, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if cfg.ZooKeeperConnect == "" {
		return nil, errors.New("zookeeper.connect: missing required configuration")
	}
	if len(cfg.Listeners) == 0 {
		return nil, errors.New("listeners: no listener configured")
	}
	if len(cfg.LogDirs) == 0 {
		return nil, errors.New("log.dirs: no log directory configured")
	}
	if len(cfg.AdvertisedListeners) == 0 {
		cfg.AdvertisedListeners = cfg.Listeners
	}
	if cfg.SocketRequestMaxBytes <= 0 {
		cfg.SocketRequestMaxBytes = defaultSocketRequestMaxBytes
	}
	if cfg.LogRetentionCheckInterval <= 0 {
		cfg.LogRetentionCheckInterval = defaultRetentionCheckMs * time.Millisecond
	}
	s := &Server{
		cfg:        cfg,
		logger:     logger,
		connLogger: sampledConnLogger(logger.Named("conn")),
		meta:       newMetadataCache(),
		versions:   apiVersions(),
		ready:      make(chan struct{}),
		metaReady:  make(chan struct{}),
		sessionUp:  make(chan struct{}, 1),
		conns:      make(map[net.Conn]struct{}),
	}
	s.dyn.expiry.Store(int64(zkmeta.ConfigChangeExpiry))
	s.replQuotas.init(cfg.Raw)
	s.fetchers = newFetcherManager(s)
	s.isr = newISRManager(s)
	return s, nil
}

// Addr returns the address of the first listener once Run has bound it,
// else nil.
func (s *Server) Addr() net.Addr {
	select {
	case <-s.ready:
		return s.listeners[0].Addr()
	default:
		return nil
	}
}

// Ready is closed once the broker serves requests.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// leadershipFenced reports whether this broker must not act as a leader:
// its ZooKeeper session was lost and the new one is not set up yet, so
// another broker may already have been elected (Kafka's brokers stop
// serving as leaders in that window too).
func (s *Server) leadershipFenced() bool { return s.fenced.Load() }

// Run starts the broker and serves until ctx ends, then shuts down
// cleanly: stop accepting, finish in-flight requests (bounded), close the
// logs, mark the clean shutdown, and close ZooKeeper last so the broker's
// registration disappears only when it is gone. An error means the broker
// could not start (or could not stop cleanly), or that it stopped because
// every log dir failed (log_dir_failure.go).
func (s *Server) Run(ctx context.Context) (err error) {
	id := s.cfg.BrokerID
	s.quotas, err = newConnQuotas(ctx, s.cfg, s.interBrokerListener())
	if err != nil {
		return err
	}
	s.zk, err = zkmeta.Connect(ctx, zkmeta.Config{
		Connect:        s.cfg.ZooKeeperConnect,
		SessionTimeout: s.cfg.ZooKeeperSessionTimeout,
		ConnectTimeout: s.cfg.ZooKeeperConnectionTimeout,
		Logger:         s.logger.Named("zk"),
	})
	if err != nil {
		return fmt.Errorf("connect to zookeeper %s: %w", s.cfg.ZooKeeperConnect, err)
	}
	defer func() {
		if cerr := s.zk.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close zookeeper: %w", cerr)
		}
		// The log dirs' locks go last, once the session has ended: whoever
		// takes them next may delete that session's ephemerals
		// (storage.Dirs.PreviousZKSessions).
		if s.dirs != nil {
			if cerr := s.dirs.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("unlock log dirs: %w", cerr)
			}
		}
	}()

	s.clusterID, err = s.zk.ClusterID(ctx, zkmeta.NewClusterID())
	if err != nil {
		return fmt.Errorf("read cluster id: %w", err)
	}
	s.dirs, err = storage.OpenDirs(s.cfg.LogDirs, id, s.clusterID, s.logger.Named("storage"), s.cfg.FS)
	if err != nil {
		return fmt.Errorf("open log dirs: %w", err)
	}
	// Stopped before the deferred close above unlocks the log dirs.
	s.sessionRec = startSessionRecorder(s.recordSessionNow)
	defer s.sessionRec.stop()
	clean := s.dirs.CleanShutdown()
	cp, err := s.dirs.ReadCheckpoints()
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	if !clean {
		s.logger.Info("previous run did not shut down cleanly; logs will be recovered")
	}
	// Dynamic broker configs are read before any partition opens, so the
	// first topic configs already carry them (Kafka reads them at start,
	// before the log manager).
	if err := s.loadDynamicBrokerConfigs(ctx); err != nil {
		return fmt.Errorf("read dynamic broker configs: %w", err)
	}
	s.warnUnlistedPartitionDirs(ctx)
	s.replicas = newReplicaManager(s.dirs, s.logger.Named("replicas"), id, clean, cp)
	s.replicas.moveQuota = &s.replQuotas.alterLogDirs
	s.replicas.afterMove = s.moveCleanerCheckpoint
	s.dirs.SetFileDeleteDelay(fileDeleteDelay(s.cfg.Raw))
	s.replicas.producerExpiryEvery = s.cfg.ProducerIDExpirationCheckInterval
	s.replicas.fs = s.cfg.FS
	s.pids = newProducerIDs(s.zk, id)

	bg, stopBG := context.WithCancel(context.Background())
	var bgWG sync.WaitGroup
	defer func() {
		s.fetchers.close()
		stopBG()
		bgWG.Wait()
		if cerr := s.replicas.close(); cerr != nil {
			s.logger.Error("close logs", zap.Error(cerr))
			if err == nil {
				err = fmt.Errorf("close logs: %w", cerr)
			}
			return
		}
		if merr := s.dirs.MarkCleanShutdown(); merr != nil && err == nil {
			err = fmt.Errorf("mark clean shutdown: %w", merr)
		}
	}()

	if err := s.listen(); err != nil {
		return err
	}
	defer s.closeListeners()

	if err := s.register(ctx); err != nil {
		return err
	}
	s.recordSession()
	s.zk.OnNewSession(s.onNewSession)
	if err := s.startGroupCoordinator(); err != nil {
		return err
	}
	// Closing the coordinator answers JoinGroup and SyncGroup requests
	// parked in a rebalance (NOT_COORDINATOR), so shutdown never waits on
	// them; Close is idempotent, this defer covers early returns.
	defer s.groups.Close()
	if err := s.startTxnCoordinator(); err != nil {
		return err
	}
	defer s.stopTxnCoordinator()

	connCtx, stopConns := context.WithCancel(context.Background())
	defer stopConns()
	var acceptWG sync.WaitGroup
	for i, l := range s.listeners {
		acceptWG.Add(1)
		go func() { defer acceptWG.Done(); s.accept(connCtx, l, s.cfg.Listeners[i].Name) }()
	}

	// The controller (this broker or another) sends LeaderAndIsr and
	// UpdateMetadata once it sees the registration; the listeners accept
	// before the election so that a controller on this broker can reach
	// it.
	s.ctl = s.newController()
	// fatal stops the broker from inside: the last log dir failed.
	fatal := make(chan error, 1)
	bgWG.Add(8)
	go func() { defer bgWG.Done(); s.watchConfigChanges(bg) }()
	go func() { defer bgWG.Done(); s.runCleaner(bg) }()
	go func() {
		defer bgWG.Done()
		s.handleLogDirFailures(bg, func(err error) { fatal <- err })
	}()
	go func() { defer bgWG.Done(); s.ctl.Run(bg) }()
	go func() { defer bgWG.Done(); s.replicas.run(bg, s.cfg.LogRetentionCheckInterval) }()
	go func() { defer bgWG.Done(); s.isr.run(bg) }()
	go func() { defer bgWG.Done(); s.watchBrokers(bg) }()
	go func() { defer bgWG.Done(); s.watchSession(bg) }()

	// Serving starts once the controller's first UpdateMetadata arrived,
	// so that a client of a fresh broker sees its topics; a controller that
	// does not answer within the session timeout is logged, not fatal.
	select {
	case <-s.metaReady:
	case <-ctx.Done():
	case <-time.After(s.cfg.ZooKeeperSessionTimeout + 10*time.Second):
		s.logger.Warn("no UpdateMetadata from the controller yet; serving with the broker list only")
	}
	close(s.ready)
	addrs := make([]string, len(s.listeners))
	for i, l := range s.listeners {
		addrs[i] = l.Addr().String()
	}
	s.logger.Info(fmt.Sprintf("started (broker id %d, listening on %s)", id, strings.Join(addrs, ", ")),
		zap.String("cluster_id", s.clusterID), zap.Bool("controller", s.isController()))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-fatal:
	}
	s.logger.Info("shutting down")
	s.logConversions()
	s.controlledShutdown()
	s.closeListeners()
	acceptWG.Wait()
	s.groups.Close()
	s.stopTxnCoordinator()
	if !s.inflight.closeAndWait(inflightDrainTimeout) {
		s.logger.Warn("requests still running after shutdown timeout")
	}
	stopConns()
	s.connsMu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.connsMu.Unlock()
	if !waitBounded(&s.connWG, connDrainTimeout) {
		s.logger.Warn("connections still open after shutdown timeout")
	}
	return runErr
}

// waitBounded waits for wg up to d and reports whether it finished.
func waitBounded(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// listen binds every listener and resolves port-0 advertised listeners to
// the bound port of the listener with the same name.
func (s *Server) listen() error {
	bound := make(map[string]int32)
	for _, l := range s.cfg.Listeners {
		addr := net.JoinHostPort(l.Host, strconv.Itoa(int(l.Port)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("listeners: listen on %s: %w", addr, err)
		}
		s.listeners = append(s.listeners, ln)
		bound[l.Name] = int32(ln.Addr().(*net.TCPAddr).Port)
	}
	s.advertised = nil
	for _, a := range s.cfg.AdvertisedListeners {
		if a.Port == 0 {
			a.Port = bound[a.Name]
		}
		s.advertised = append(s.advertised, a)
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		l.Close()
	}
}

// listenerNameKey carries the name of the listener a connection arrived
// on, so Metadata answers with that listener's endpoints.
type listenerNameKey struct{}

// remoteAddrKey carries the connection's remote net.Addr, so JoinGroup can
// record the member's client host as DescribeGroups shows it.
type remoteAddrKey struct{}

// accept serves one listener until it is closed.
func (s *Server) accept(ctx context.Context, l net.Listener, name string) {
	bo := backoff.Exponential{Initial: 5 * time.Millisecond, Max: time.Second}
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			s.logger.Warn("accept", zap.Error(err))
			if bo.Wait(ctx) != nil {
				return
			}
			continue
		}
		bo.Reset()
		addr := connAddr(c)
		if err := s.quotas.admit(name, addr); err != nil {
			// Kafka logs the per-address refusal at info as well.
			s.logger.Info("rejected connection", zap.String("listener", name),
				zap.Stringer("remote", c.RemoteAddr()), zap.Error(err))
			c.Close()
			continue
		}
		s.connsMu.Lock()
		if ctx.Err() != nil {
			s.connsMu.Unlock()
			s.quotas.release(addr)
			c.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.connWG.Add(1)
		s.connsMu.Unlock()
		cctx := context.WithValue(ctx, listenerNameKey{}, name)
		cctx = context.WithValue(cctx, remoteAddrKey{}, c.RemoteAddr())
		go s.serveConn(cctx, c, addr)
	}
}

// Connection-error lines are sampled per message: the first
// connLogFirst lines of each kind in a connLogTick are logged, then one in
// connLogThereafter, and a line says how many were left out.
const (
	connLogTick       = time.Minute
	connLogFirst      = 10
	connLogThereafter = 100
)

// sampledConnLogger wraps l in zap's sampler (by level and message) and
// reports, at most once a tick, how many lines it dropped.
func sampledConnLogger(l *zap.Logger) *zap.Logger {
	var dropped atomic.Int64
	var lastReport atomic.Int64
	hook := zapcore.SamplerHook(func(ent zapcore.Entry, dec zapcore.SamplingDecision) {
		if dec&zapcore.LogDropped == 0 {
			return
		}
		n := dropped.Add(1)
		now := ent.Time.UnixNano()
		last := lastReport.Load()
		if now-last >= int64(connLogTick) && lastReport.CompareAndSwap(last, now) {
			dropped.Add(-n)
			l.Warn("connection errors are being sampled", zap.Int64("lines_dropped", n), zap.Duration("per", connLogTick))
		}
	})
	return l.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, connLogTick, connLogFirst, connLogThereafter, hook)
	}))
}

// serveConn serves one admitted connection until it closes.
// connections.max.idle.ms bounds both the wait for a request and a
// response write without progress (see Config.ConnectionsMaxIdle).
func (s *Server) serveConn(ctx context.Context, c net.Conn, addr netip.Addr) {
	defer s.connWG.Done()
	defer func() {
		s.connsMu.Lock()
		delete(s.conns, c)
		s.connsMu.Unlock()
		s.quotas.release(addr)
	}()
	err := wire.ServeConn(ctx, c, wire.ConnConfig{
		MaxRequestBytes: s.cfg.SocketRequestMaxBytes,
		Versions:        s.versions,
		IdleTimeout:     s.cfg.ConnectionsMaxIdle,
		WriteTimeout:    s.cfg.ConnectionsMaxIdle,
		Logger:          s.connLogger,
	}, inflightHandler{s})
	if err != nil && ctx.Err() == nil {
		s.logger.Debug("connection closed", zap.Stringer("remote", c.RemoteAddr()), zap.Error(err))
	}
}

// inflightHandler counts requests being handled so shutdown can wait for
// them before closing the logs.
type inflightHandler struct{ s *Server }

func (h inflightHandler) Handle(ctx context.Context, hdr *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	if !h.s.inflight.enter() {
		return nil, errShuttingDown
	}
	defer h.s.inflight.leave()
	return h.s.Handle(ctx, hdr, req)
}

// register creates /brokers/ids/<id>. A registration left by this broker's
// previous, crashed process lives until its session times out. When that
// session is one the log dirs recorded (and so, as we hold their locks, one
// whose process has exited), the registration is taken over at once;
// otherwise ErrBrokerIDInUse is retried for up to the session timeout (plus
// a margin) before giving up as Kafka would. Once registered, the session
// is recorded in the log dirs for the next start.
func (s *Server) register(ctx context.Context) error {
	info := zkmeta.BrokerInfo{ID: s.cfg.BrokerID}
	if s.cfg.BrokerRack != "" {
		rack := s.cfg.BrokerRack
		info.Rack = &rack
	}
	for _, a := range s.advertised {
		info.Endpoints = append(info.Endpoints, zkmeta.Endpoint{Name: a.Name, SecurityProtocol: "PLAINTEXT", Host: a.Host, Port: a.Port})
	}
	if _, err := s.zk.TakeOverBroker(ctx, s.cfg.BrokerID, s.dirs.PreviousZKSessions()); err != nil {
		return fmt.Errorf("register broker %d: %w", s.cfg.BrokerID, err)
	}
	deadline := time.Now().Add(s.cfg.ZooKeeperSessionTimeout + 5*time.Second)
	logged := false
	for {
		err := s.zk.RegisterBroker(ctx, info)
		if err == nil {
			s.recordSession()
			return s.refreshBrokers(ctx)
		}
		if !errors.Is(err, zkmeta.ErrBrokerIDInUse) || time.Now().After(deadline) {
			return fmt.Errorf("register broker %d: %w", s.cfg.BrokerID, err)
		}
		if !logged {
			s.logger.Warn("broker id is registered by another session (a previous run?); waiting for it to expire",
				zap.Int32("broker_id", s.cfg.BrokerID))
			logged = true
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// refreshBrokers re-reads /brokers/ids and /controller into the cache.
func (s *Server) refreshBrokers(ctx context.Context) error {
	bs, err := s.zk.Brokers(ctx)
	if err != nil {
		return fmt.Errorf("list brokers: %w", err)
	}
	ctl, err := s.zk.Controller(ctx)
	if err != nil {
		return fmt.Errorf("read controller: %w", err)
	}
	before := s.liveBrokerIDs()
	s.meta.setBrokers(bs, ctl)
	if !slices.Equal(before, s.liveBrokerIDs()) {
		s.unloadMovedGroups()
	}
	return nil
}

// recordSession has the current ZooKeeper session written into the log
// dirs (storage.Dirs.RecordZKSession) by the session recorder, without
// waiting for the write (session_recorder.go).
func (s *Server) recordSession() { s.sessionRec.request() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
