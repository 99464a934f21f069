package zktest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/procs"
)

// EnsembleStartTimeout bounds how long StartEnsemble waits for every member
// to serve: n JVMs start at once on a small shared machine and then elect a
// leader.
const EnsembleStartTimeout = 90 * time.Second

// initLimitTicks and syncLimitTicks are the ensemble's initLimit and
// syncLimit in ticks (10 s and 5 s at TickTime): room for a follower's first
// sync and for GC pauses on a loaded machine, short enough that a member
// that stops answering is dropped within seconds.
const (
	initLimitTicks = 20
	syncLimitTicks = 10
)

// Ensemble is a ZooKeeper ensemble of real servers on 127.0.0.1, each with
// its own client, quorum and election port, data directory and myid.
type Ensemble struct {
	// Nodes are the members; Nodes[i] has myid i+1. Tests may Kill, Resume
	// or Restart one directly, or through the Ensemble methods below.
	Nodes []*Server
	// Dir holds one directory per member (zk1, zk2, ...).
	Dir string
}

// StartEnsemble runs an ensemble of n ZooKeeper servers in a fresh
// t.TempDir(), waits until every member serves (one leader, the rest
// followers) and kills them all when the test ends. It fails the test at
// once when Java or ZooKeeper's jars are not installed, naming what to
// install.
func StartEnsemble(t testing.TB, n int) *Ensemble {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), EnsembleStartTimeout*startAttempts)
	defer cancel()
	e, err := StartEnsembleDir(ctx, t.TempDir(), n)
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("zktest: stop ensemble: %v", err)
		}
	})
	return e
}

// StartEnsembleDir runs an ensemble of n servers whose configurations, data
// and logs live in dir/zk1 ... dir/zkN (created if missing). The caller must
// call Stop. Every member is launched at once (none can serve before a
// quorum runs); if a port was taken in the meantime, all are stopped and the
// ensemble starts again on new ports.
func StartEnsembleDir(ctx context.Context, dir string, n int) (*Ensemble, error) {
	if n < 2 {
		// ZooKeeper runs a single configured server in standalone mode.
		return nil, fmt.Errorf("ensemble of %d servers: need at least 2 (use Start for one)", n)
	}
	cp, err := Classpath()
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		e, err := newEnsemble(dir, n, cp)
		if err != nil {
			return nil, err
		}
		err = e.start(ctx)
		if err == nil {
			return e, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// newEnsemble picks 3n distinct free ports and writes every member's
// zoo.cfg and myid.
func newEnsemble(dir string, n int, cp []string) (*Ensemble, error) {
	ports, err := procs.FreeLoopbackPorts(3 * n)
	if err != nil {
		return nil, err
	}
	quorum := make([]string, n)
	for i := range quorum {
		// server.N=host:quorumPort:electionPort
		quorum[i] = fmt.Sprintf("server.%d=127.0.0.1:%d:%d", i+1, ports[3*i+1], ports[3*i+2])
	}
	e := &Ensemble{Dir: dir}
	for i := 0; i < n; i++ {
		nodeDir := filepath.Join(dir, "zk"+strconv.Itoa(i+1))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			return nil, fmt.Errorf("create zookeeper dir: %w", err)
		}
		s := &Server{
			Addr:      net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[3*i])),
			Dir:       nodeDir,
			port:      ports[3*i],
			classpath: cp,
			myid:      i + 1,
			quorum:    quorum,
		}
		if err := s.writeConfig(); err != nil {
			return nil, err
		}
		e.Nodes = append(e.Nodes, s)
	}
	return e, nil
}

// start launches every member, then waits for each to serve. On failure
// every member is stopped.
func (e *Ensemble) start(ctx context.Context) error {
	type launched struct {
		p        *process
		logStart int64
	}
	runs := make([]launched, len(e.Nodes))
	for i, s := range e.Nodes {
		s.mu.Lock()
		p, off, err := s.launchLocked()
		s.mu.Unlock()
		if err != nil {
			e.Stop()
			return err
		}
		runs[i] = launched{p, off}
	}
	deadline := time.Now().Add(EnsembleStartTimeout)
	for i, s := range e.Nodes {
		if err := s.waitReady(ctx, runs[i].p, runs[i].logStart, time.Until(deadline)); err != nil {
			e.Stop()
			return fmt.Errorf("ensemble member %d: %w", s.myid, err)
		}
	}
	return nil
}

// Connect is the ensemble's connect string, every member's client address
// separated by commas ("127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"), suitable
// for zookeeper.connect (append a chroot as needed).
func (e *Ensemble) Connect() string { return strings.Join(e.Addrs(), ",") }

// Addrs are the members' client addresses, Nodes order.
func (e *Ensemble) Addrs() []string {
	addrs := make([]string, len(e.Nodes))
	for i, s := range e.Nodes {
		addrs[i] = s.Addr
	}
	return addrs
}

// Kill stops member i (Nodes[i], myid i+1) with SIGKILL and waits for it to
// exit. The others keep serving while they are a majority.
func (e *Ensemble) Kill(i int) error { return e.Nodes[i].Kill() }

// Resume starts a killed member i again on its ports and data directory and
// waits until it serves, which needs a running quorum; to bring back members
// of an ensemble that lost its quorum, Launch each and call WaitQuorum.
func (e *Ensemble) Resume(ctx context.Context, i int) error { return e.Nodes[i].Resume(ctx) }

// Restart kills member i and starts it again, waiting until it serves.
func (e *Ensemble) Restart(ctx context.Context, i int) error { return e.Nodes[i].Restart(ctx) }

// Stop kills every member and waits for each to exit.
func (e *Ensemble) Stop() error {
	var errs []error
	for _, s := range e.Nodes {
		if err := s.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leader returns the index in Nodes of the member that reports itself
// leader, or -1 when none does (an election is under way or there is no
// quorum).
func (e *Ensemble) Leader(ctx context.Context) int {
	for i, s := range e.Nodes {
		if s.Running() && s.Mode(ctx) == "leader" {
			return i
		}
	}
	return -1
}

// WaitQuorum polls until every running member serves and exactly one of
// them is the leader, or ctx ends.
func (e *Ensemble) WaitQuorum(ctx context.Context) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		modes := make([]string, len(e.Nodes))
		leaders, serving, running := 0, 0, 0
		for i, s := range e.Nodes {
			if !s.Running() {
				modes[i] = "down"
				continue
			}
			running++
			modes[i] = s.Mode(ctx)
			switch modes[i] {
			case "leader":
				leaders++
				serving++
			case "follower":
				serving++
			}
		}
		if running > 0 && serving == running && leaders == 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ensemble has no quorum (modes by myid: %q): %w", modes, ctx.Err())
		case <-tick.C:
		}
	}
}
