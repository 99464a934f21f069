package broker

import (
	"context"
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// chrootSeq makes each test server's ZooKeeper chroot unique.
var chrootSeq atomic.Int64

var unsafeChroot = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// testServerConfig returns the configuration startTestServer uses: broker
// 0 on 127.0.0.1:0, log.dirs in t.TempDir(), and a fresh chroot in the
// package's ZooKeeper. overrides ("key=value") are applied last.
func testServerConfig(t testing.TB, overrides ...string) Config {
	t.Helper()
	zk := sharedZooKeeper(t)
	chroot := fmt.Sprintf("/%s-%d", unsafeChroot.ReplaceAllString(t.Name(), "_"), chrootSeq.Add(1))
	base := []string{
		"broker.id=0",
		"listeners=PLAINTEXT://127.0.0.1:0",
		"log.dirs=" + t.TempDir(),
		"zookeeper.connect=" + zk.Addr + chroot,
		"zookeeper.session.timeout.ms=6000",
	}
	cfg, err := LoadConfig("", append(base, overrides...), zap.NewNop())
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// runTestServer starts a Server with cfg and stops it when the test ends,
// failing the test if Run reports an error. Restart tests call it again
// with the same cfg (same log dirs and chroot) after stopping the first.
// It returns a stop function that is safe to call more than once.
func runTestServer(t testing.TB, cfg Config) (*Server, string, func()) {
	t.Helper()
	return runTestServerLogged(t, cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
}

// runTestServerLogged is runTestServer with the broker logging to logger.
func runTestServerLogged(t testing.TB, cfg Config, logger *zap.Logger) (*Server, string, func()) {
	t.Helper()
	s, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-errc:
		cancel()
		t.Fatalf("server did not start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server did not start within 60s")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("server stopped with error: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("server did not stop within 30s")
		}
	}
	t.Cleanup(stop)
	return s, s.Addr().String(), stop
}

// startTestServer starts an in-process broker (see testServerConfig) and
// returns it with its bootstrap address; it stops when the test ends.
func startTestServer(t *testing.T, overrides ...string) (*Server, string) {
	t.Helper()
	s, addr, _ := runTestServer(t, testServerConfig(t, overrides...))
	return s, addr
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
