package zktest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestEnsembleQuorum starts a three-member ensemble, writes a znode through
// one member and reads it through another, kills the leader and checks that
// the remaining two elect a new one and accept writes, and that the killed
// member catches up after it comes back.
func TestEnsembleQuorum(t *testing.T) {
	e := StartEnsemble(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if got := strings.Count(e.Connect(), ",") + 1; got != 3 {
		t.Fatalf("Connect() = %q, want three addresses", e.Connect())
	}
	leader := e.Leader(ctx)
	if leader < 0 {
		t.Fatal("no member reports itself leader after StartEnsemble")
	}
	for i, s := range e.Nodes {
		if s.ID() != i+1 {
			t.Errorf("Nodes[%d].ID() = %d, want %d", i, s.ID(), i+1)
		}
		if m := s.Mode(ctx); m != "leader" && m != "follower" {
			t.Errorf("member %d mode %q, want leader or follower", s.ID(), m)
		}
	}

	a, b := leader, (leader+1)%3
	ca := connect(t, e.Nodes[a].Addr)
	if _, err := ca.Create("/written-via-one", []byte("v1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create via member %d: %v", e.Nodes[a].ID(), err)
	}
	cb := connect(t, e.Nodes[b].Addr)
	if got := syncGet(t, cb, "/written-via-one"); got != "v1" {
		t.Fatalf("read via member %d = %q, want v1", e.Nodes[b].ID(), got)
	}

	// Kill the leader: the two left must elect a new one and take writes.
	if err := e.Kill(leader); err != nil {
		t.Fatalf("kill member %d: %v", e.Nodes[leader].ID(), err)
	}
	if got, err := FourLetterWord(ctx, e.Nodes[leader].Addr, "ruok"); err == nil {
		t.Fatalf("killed member still answers ruok: %q", got)
	}
	if err := e.WaitQuorum(ctx); err != nil {
		t.Fatalf("after killing the leader: %v", err)
	}
	if nl := e.Leader(ctx); nl < 0 || nl == leader {
		t.Fatalf("leader after kill = %d, want one of the two running members (killed %d)", nl, leader)
	}
	all := connect(t, e.Connect())
	if _, err := all.Create("/written-with-two", []byte("v2"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create with two of three members: %v", err)
	}
	if _, err := all.Set("/written-via-one", []byte("v3"), -1); err != nil {
		t.Fatalf("set with two of three members: %v", err)
	}

	// The old leader comes back as a member and serves the writes it missed.
	if err := e.Resume(ctx, leader); err != nil {
		t.Fatalf("resume member %d: %v", e.Nodes[leader].ID(), err)
	}
	if err := e.WaitQuorum(ctx); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	back := connect(t, e.Nodes[leader].Addr)
	if got := syncGet(t, back, "/written-with-two"); got != "v2" {
		t.Fatalf("read via the resumed member = %q, want v2", got)
	}

	if err := e.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	for _, s := range e.Nodes {
		if s.Running() {
			t.Errorf("member %d still running after Stop", s.ID())
		}
		if got, err := FourLetterWord(ctx, s.Addr, "ruok"); err == nil {
			t.Errorf("member %d answers ruok after Stop: %q", s.ID(), got)
		}
	}
}

// TestEnsembleLostQuorum kills two of three members: the last one stops
// serving; launching both again restores the quorum.
func TestEnsembleLostQuorum(t *testing.T) {
	e := StartEnsemble(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	for _, i := range []int{0, 1} {
		if err := e.Kill(i); err != nil {
			t.Fatalf("kill member %d: %v", i+1, err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); e.Nodes[2].Mode(ctx) != ""; {
		if time.Now().After(deadline) {
			t.Fatalf("the last member still serves (mode %q) without a quorum", e.Nodes[2].Mode(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, i := range []int{0, 1} {
		if err := e.Nodes[i].Launch(); err != nil {
			t.Fatalf("launch member %d: %v", i+1, err)
		}
	}
	if err := e.WaitQuorum(ctx); err != nil {
		t.Fatalf("after relaunching two members: %v", err)
	}
}

func TestEnsembleTooSmall(t *testing.T) {
	if _, err := StartEnsembleDir(context.Background(), t.TempDir(), 1); err == nil {
		t.Fatal("StartEnsembleDir(1) succeeded; want an error pointing at Start")
	}
}

// connect opens a go-zookeeper session on servers (a connect string without
// chroot) and waits for it.
func connect(t *testing.T, servers string) *zk.Conn {
	t.Helper()
	conn, events, err := zk.Connect(strings.Split(servers, ","), 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("connect %s: %v", servers, err)
	}
	t.Cleanup(conn.Close)
	deadline := time.After(30 * time.Second)
	for conn.State() != zk.StateHasSession {
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("no session with %s after 30s (state %v)", servers, conn.State())
		}
	}
	return conn
}

// syncGet reads p after a sync, so a follower answers with everything the
// leader committed before the call.
func syncGet(t *testing.T, c *zk.Conn, p string) string {
	t.Helper()
	if _, err := c.Sync(p); err != nil {
		t.Fatalf("sync %s: %v", p, err)
	}
	data, _, err := c.Get(p)
	if errors.Is(err, zk.ErrNoNode) {
		return "<no node>"
	}
	if err != nil {
		t.Fatalf("get %s: %v", p, err)
	}
	return string(data)
}
