package testcluster

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/gokafka/gokafka/internal/zktest"
)

// process is what one test binary shares between its tests: the built
// broker binary and, when Main runs the tests, one ZooKeeper server. It is
// the package's only package-level state, and it exists because a test
// process builds the binary and starts the JVM once, not once per test.
var process = &shared{}

// shared holds the per-process resources; Main releases them.
type shared struct {
	bin builtBinary

	mu       sync.Mutex
	inMain   bool
	zk       *zktest.Server
	zkDir    string
	zkErr    error
	zkTried  bool
	clusters int // chroot counter
}

// Main runs the package's tests with one ZooKeeper shared by all of them and
// removes what it built afterwards. Call it from TestMain. Without it, every
// cluster starts its own ZooKeeper (slower, but correct).
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns m.Run's code, for a TestMain that
// has work of its own to do after the tests (a benchmark writing its report).
func Run(m *testing.M) int {
	process.mu.Lock()
	process.inMain = true
	process.mu.Unlock()

	code := m.Run()

	process.mu.Lock()
	if process.zk != nil {
		if err := process.zk.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testcluster: stop zookeeper: %v\n", err)
		}
	}
	if process.zkDir != "" {
		os.RemoveAll(process.zkDir)
	}
	process.mu.Unlock()
	process.bin.remove()
	return code
}

// zookeeper returns the ZooKeeper a new cluster should use and a fresh
// chroot for it. Under Main it is the shared server; otherwise a server
// started for this test alone.
func (s *shared) zookeeper(t testing.TB) (*zktest.Server, string) {
	t.Helper()
	chroot := s.nextChroot()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.inMain {
		return zktest.Start(t), chroot
	}
	if !s.zkTried {
		s.zkTried = true
		dir, err := os.MkdirTemp("", "gokafka-zk-")
		if err != nil {
			s.zkErr = fmt.Errorf("create zookeeper dir: %w", err)
		} else {
			s.zkDir = dir
			ctx, cancel := context.WithTimeout(context.Background(), 2*zktest.StartTimeout)
			s.zk, s.zkErr = zktest.StartDir(ctx, dir)
			cancel()
		}
	}
	if s.zkErr != nil {
		t.Fatalf("testcluster: start zookeeper: %v", s.zkErr)
	}
	return s.zk, chroot
}

// nextChroot returns a chroot no other cluster of this process uses.
func (s *shared) nextChroot() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clusters++
	return fmt.Sprintf("/gokafka-test-%d", s.clusters)
}

// Binary returns the path of the gokafka binary under test, building it on
// first use (or taking $GOKAFKA_BIN). It fails the test if the build fails.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := process.bin.binaryPath()
	if err != nil {
		t.Fatalf("testcluster: %v", err)
	}
	return p
}
