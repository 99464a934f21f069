package broker

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/gokafka/gokafka/internal/zktest"
)

// testZK is the one ZooKeeper shared by the package's tests, started on
// first use (config tests do not pay for a JVM) and stopped by TestMain.
// Each test server gets its own chroot, so tests do not see each other.
var testZK struct {
	once sync.Once
	srv  *zktest.Server
	dir  string
	err  error
}

// sharedZooKeeper returns the package's ZooKeeper, starting it if needed.
func sharedZooKeeper(t testing.TB) *zktest.Server {
	t.Helper()
	testZK.once.Do(func() {
		testZK.dir, testZK.err = os.MkdirTemp("", "broker-zk-")
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
