// Package testcluster runs the real gokafka binary against a real ZooKeeper
// for end-to-end tests.
//
// Nothing is faked: the binary is built once per test process with `go build`
// (or taken from $GOKAFKA_BIN), ZooKeeper is Debian's server started by
// internal/zktest, and each broker is a child process with its own generated
// server.properties, loopback port and t.TempDir() log dirs. Brokers of
// different tests share one ZooKeeper (when the test binary calls Main) and
// are kept apart by a per-cluster chroot in zookeeper.connect.
//
// Child processes never outlive the test: t.Cleanup kills them, and on Linux
// Pdeathsig kills them if the test process itself dies.
//
// A package's tests use it like this:
//
//	func TestMain(m *testing.M) { testcluster.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		c := testcluster.New(t)
//		b := c.StartBroker(t, nil)
//		client, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//		...
//	}
package testcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// BinaryEnv names the environment variable that points at a prebuilt
// gokafka binary (the Makefile sets it so the tests skip their own build).
const BinaryEnv = "GOKAFKA_BIN"

// buildTimeout bounds `go build` of the broker on a slow, shared machine.
const buildTimeout = 10 * time.Minute

// builtBinary is the gokafka binary shared by every test of the process.
type builtBinary struct {
	once sync.Once
	path string
	dir  string // temporary build directory, removed by Main
	err  error
}

// binaryPath returns the path of the gokafka binary, building it on first
// use. A build failure is reported to every caller.
func (b *builtBinary) binaryPath() (string, error) {
	b.once.Do(func() {
		if p := os.Getenv(BinaryEnv); p != "" {
			if _, err := os.Stat(p); err != nil {
				b.err = fmt.Errorf("%s=%s: %w", BinaryEnv, p, err)
				return
			}
			b.path = p
			return
		}
		dir, err := os.MkdirTemp("", "gokafka-bin-")
		if err != nil {
			b.err = fmt.Errorf("create build dir: %w", err)
			return
		}
		b.dir = dir
		out := filepath.Join(dir, "gokafka")
		ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/gokafka/gokafka/cmd/gokafka")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/gokafka: %w\n%s", err, msg)
			return
		}
		b.path = out
	})
	return b.path, b.err
}

// remove deletes the temporary build directory, if one was made.
func (b *builtBinary) remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
