// Tests of the controller against a real ZooKeeper (internal/zktest, one
// server for the package, a chroot per test) and fake brokers: TCP
// listeners registered in /brokers/ids that record the LeaderAndIsr,
// UpdateMetadata and StopReplica requests they get (fakebroker_test.go).
// zkmeta sessions play the part of tools and brokers; a plain go-zookeeper
// session does what no zkmeta call does (bumping /controller_epoch as a
// rival controller). zkproxy_test.go counts a session's ZooKeeper reads.
//
// Files: main_test.go (harness), controller_test.go (election, failover,
// fencing), topics_test.go (creation, broker failure, elections,
// deletion, partitions added), alter_partition_test.go,
// controlled_shutdown_test.go, requests_test.go (what reaches brokers).
package controller_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/gokafka/controller"
	"github.com/gokafka/gokafka/internal/zktest"
	"github.com/gokafka/gokafka/zkmeta"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// One ZooKeeper serves the whole package (a JVM start costs seconds); each
// test works under its own chroot, so tests do not see each other's znodes.
var testZK struct {
	once sync.Once
	srv  *zktest.Server
	dir  string
	err  error
}

var chrootN atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if testZK.srv != nil {
		if err := testZK.srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stop zookeeper: %v\n", err)
		}
	}
	if testZK.dir != "" {
		os.RemoveAll(testZK.dir)
	}
	os.Exit(code)
}

// sharedZooKeeper returns the package's ZooKeeper, starting it on first use.
func sharedZooKeeper(t testing.TB) *zktest.Server {
	t.Helper()
	testZK.once.Do(func() {
		testZK.dir, testZK.err = os.MkdirTemp("", "controller-zk-")
		if testZK.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*zktest.StartTimeout)
		defer cancel()
		testZK.srv, testZK.err = zktest.StartDir(ctx, testZK.dir)
	})
	if testZK.err != nil {
		t.Fatalf("start zookeeper: %v", testZK.err)
	}
	return testZK.srv
}

const (
	// sessionTimeout is every test session's ZooKeeper session timeout.
	// Tests end sessions with Close, which removes ephemerals at once, so
	// nothing waits for it to pass.
	sessionTimeout = 4 * time.Second
	// waitTimeout bounds every wait for a condition. It is generous: the
	// machine is small and shared, and a wait that passes returns as soon
	// as its condition holds.
	waitTimeout = 45 * time.Second
)

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitTimeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// env is one test's cluster: a chroot in the shared ZooKeeper, a zkmeta
// session playing the part of tools and other brokers, and a plain
// go-zookeeper session for what zkmeta has no call for (reading and
// bumping /controller_epoch as another controller would).
type env struct {
	t      *testing.T
	ctx    context.Context
	chroot string
	admin  *zkmeta.Client
	raw    *zk.Conn
	log    *testLog
}

// newEnv sets up a fresh chroot; everything it starts stops with the test.
func newEnv(t *testing.T) *env {
	t.Helper()
	srv := sharedZooKeeper(t)
	log := newTestLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	name := regexp.MustCompile(`[^A-Za-z0-9_-]`).ReplaceAllString(t.Name(), "_")
	e := &env{
		t:      t,
		ctx:    ctx,
		chroot: fmt.Sprintf("/%s-%d", name, chrootN.Add(1)),
		log:    log,
	}
	e.admin = e.connect("admin")
	raw, _, err := zk.Connect([]string{srv.Addr}, sessionTimeout, zk.WithLogInfo(false), zk.WithLogger(discard{}))
	if err != nil {
		t.Fatalf("raw zookeeper session: %v", err)
	}
	t.Cleanup(raw.Close)
	e.raw = raw
	return e
}

// connect opens a new zkmeta session under the test's chroot; it closes
// when the test ends (closing it earlier is fine).
func (e *env) connect(name string) *zkmeta.Client {
	e.t.Helper()
	return e.connectTo(sharedZooKeeper(e.t).Addr, name)
}

// connectTo is connect through addr (a proxy in front of ZooKeeper).
func (e *env) connectTo(addr, name string) *zkmeta.Client {
	e.t.Helper()
	c, err := zkmeta.Connect(e.ctx, zkmeta.Config{
		Connect:        addr + e.chroot,
		SessionTimeout: sessionTimeout,
		ConnectTimeout: 30 * time.Second,
		Logger:         e.log.logger().Named(name).WithOptions(zap.IncreaseLevel(zapcore.WarnLevel)),
	})
	if err != nil {
		e.t.Fatalf("connect %s: %v", name, err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

// runningController is a controller.Controller running in its own
// goroutine on its own ZooKeeper session.
type runningController struct {
	id     int32
	c      *controller.Controller
	zk     *zkmeta.Client
	logs   *observer.ObservedLogs
	cancel context.CancelFunc
	done   chan struct{}
}

// startController runs a controller for broker id on a new session.
// Topic deletion is enabled, as in Kafka's default; tune changes the
// rest of the config.
func (e *env) startController(id int32, tune ...func(*controller.Config)) *runningController {
	e.t.Helper()
	return e.startControllerOn(e.connect(fmt.Sprintf("controller-%d-zk", id)), id, tune...)
}

// startControllerOn runs a controller for broker id on session zc.
func (e *env) startControllerOn(zc *zkmeta.Client, id int32, tune ...func(*controller.Config)) *runningController {
	e.t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	logger := zap.New(zapcore.NewTee(e.log.core(), core)).Named(fmt.Sprintf("controller-%d", id))
	cfg := controller.Config{
		BrokerID:          id,
		ZK:                zc,
		Logger:            logger,
		ListenerName:      "PLAINTEXT",
		DeleteTopicEnable: true,
	}
	for _, f := range tune {
		f(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rc := &runningController{id: id, c: controller.New(cfg), zk: zc, logs: logs, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rc.done)
		rc.c.Run(ctx)
	}()
	e.t.Cleanup(rc.stop)
	return rc
}

// stop ends Run and waits for it to return.
func (rc *runningController) stop() {
	rc.cancel()
	select {
	case <-rc.done:
	case <-time.After(waitTimeout):
		panic(fmt.Sprintf("controller %d: Run did not return %s after its context ended", rc.id, waitTimeout))
	}
}

// waitActive waits until the controller is the active one.
func (rc *runningController) waitActive(t testing.TB) {
	t.Helper()
	waitFor(t, fmt.Sprintf("controller %d to become active", rc.id), rc.c.Active)
}

// waitLog waits until the controller has logged a message containing msg.
func (rc *runningController) waitLog(t testing.TB, msg string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("controller %d to log %q", rc.id, msg), func() bool {
		return rc.logs.FilterMessageSnippet(msg).Len() > 0
	})
}

// startCluster starts fake brokers with ids and a controller (broker id
// 100, on its own session and not registered as a broker), and waits
// until the controller has told every broker about all of them.
func startCluster(t *testing.T, e *env, ids []int32, tune ...func(*controller.Config)) (*runningController, map[int32]*fakeBroker) {
	t.Helper()
	bs := e.startBrokers(ids...)
	c := e.startController(100, tune...)
	c.waitActive(t)
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	for _, b := range bs {
		b.waitLiveBrokers(t, sorted...)
	}
	return c, bs
}

// createTopic writes a topic znode as a tool or a broker's CreateTopics
// would, with the given config overrides, and returns its topic id.
func (e *env) createTopic(name string, parts map[int32][]int32, cfg map[string]string) [16]byte {
	e.t.Helper()
	id := zkmeta.NewUUID()
	if err := e.admin.CreateTopic(e.ctx, name, zkmeta.TopicAssignment{TopicID: id, Partitions: parts}, cfg); err != nil {
		e.t.Fatalf("create topic %s: %v", name, err)
	}
	return id
}

// state reads a partition's state znode; ok is false when it is absent.
func (e *env) state(topic string, p int32) (zkmeta.LeaderAndIsr, bool) {
	e.t.Helper()
	s, err := e.admin.PartitionState(e.ctx, topic, p)
	if errors.Is(err, zkmeta.ErrNoNode) {
		return zkmeta.LeaderAndIsr{}, false
	}
	if err != nil {
		e.t.Fatalf("read state of %s-%d: %v", topic, p, err)
	}
	return s, true
}

// waitState waits until the state znode of topic-p exists and satisfies
// cond, and returns it.
func (e *env) waitState(topic string, p int32, what string, cond func(zkmeta.LeaderAndIsr) bool) zkmeta.LeaderAndIsr {
	e.t.Helper()
	var last zkmeta.LeaderAndIsr
	var seen bool
	deadline := time.Now().Add(waitTimeout)
	for {
		s, ok := e.state(topic, p)
		if ok && cond(s) {
			return s
		}
		if ok {
			last, seen = s, true
		}
		if time.Now().After(deadline) {
			if !seen {
				e.t.Fatalf("timed out after %s waiting for %s-%d: %s; the state znode never appeared", waitTimeout, topic, p, what)
			}
			e.t.Fatalf("timed out after %s waiting for %s-%d: %s; last state %s", waitTimeout, topic, p, what, fmtState(last))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitLeader waits until topic-p has the given leader and ISR.
func (e *env) waitLeader(topic string, p int32, leader int32, isr ...int32) zkmeta.LeaderAndIsr {
	e.t.Helper()
	return e.waitState(topic, p, fmt.Sprintf("leader %d isr %v", leader, isr), func(s zkmeta.LeaderAndIsr) bool {
		return s.Leader == leader && slices.Equal(s.ISR, isr)
	})
}

func fmtState(s zkmeta.LeaderAndIsr) string {
	return fmt.Sprintf("{leader %d leader_epoch %d isr %v controller_epoch %d zkVersion %d}", s.Leader, s.LeaderEpoch, s.ISR, s.ControllerEpoch, s.ZkVersion)
}

// rawPath is a Kafka path in ZooKeeper under the test's chroot.
func (e *env) rawPath(p string) string { return e.chroot + p }

// exists reports whether a Kafka path exists.
func (e *env) exists(p string) bool {
	e.t.Helper()
	ok, _, err := e.raw.Exists(e.rawPath(p))
	if err != nil {
		e.t.Fatalf("exists %s: %v", p, err)
	}
	return ok
}

// controllerEpochZnode reads /controller_epoch and its zkVersion.
func (e *env) controllerEpochZnode() (int32, int32) {
	e.t.Helper()
	data, stat, err := e.raw.Get(e.rawPath("/controller_epoch"))
	if err != nil {
		e.t.Fatalf("read /controller_epoch: %v", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 32)
	if err != nil {
		e.t.Fatalf("/controller_epoch %q: %v", data, err)
	}
	return int32(n), stat.Version
}

// controllerHolder reads the broker id in /controller (-1 when absent).
func (e *env) controllerHolder() int32 {
	e.t.Helper()
	id, err := e.admin.Controller(e.ctx)
	if err != nil {
		e.t.Fatalf("read /controller: %v", err)
	}
	return id
}

type discard struct{}

func (discard) Printf(string, ...any) {}

// testLog sends log lines to t.Logf until the test ends and drops them
// afterwards: ZooKeeper clients and senders may log while they wind down.
type testLog struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func newTestLog(t *testing.T) *testLog {
	l := &testLog{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		l.t.Logf("%s", bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}

func (l *testLog) Sync() error { return nil }

func (l *testLog) core() zapcore.Core {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.TimeKey = ""
	return zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(l), zapcore.InfoLevel)
}

func (l *testLog) logger() *zap.Logger { return zap.New(l.core()) }
