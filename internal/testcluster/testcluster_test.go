package testcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/procs"
	"github.com/gokafka/gokafka/internal/zktest"
)

func TestMain(m *testing.M) { Main(m) }

// TestBrokerLifecycle checks the harness end to end: a broker serves after
// Start, registers under the cluster's chroot, has a pid while it runs and
// none after Kill, comes back on the same address after Kill and after
// Restart, and is gone after Stop.
func TestBrokerLifecycle(t *testing.T) {
	c := New(t)
	b := c.StartBroker(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	zkc := c.ZKClient(t)
	if ok, err := zkc.Exists("/brokers/ids/0"); err != nil || !ok {
		t.Fatalf("/brokers/ids/0 under %s: exists=%v err=%v", c.Chroot, ok, err)
	}

	if pid := b.Pid(); pid <= 0 {
		t.Fatalf("Pid of a running broker = %d", pid)
	}
	b.Kill()
	if b.Running() {
		t.Fatal("broker still running after Kill")
	}
	if pid := b.Pid(); pid != 0 {
		t.Fatalf("Pid after Kill = %d, want 0", pid)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatalf("start after kill: %v", err)
	}
	b.Restart()
	if err := probe(ctx, b.Addr(), b.ID); err != nil {
		t.Fatalf("probe after restart: %v", err)
	}
	if code := b.Stop(); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0; log:\n%s", code, procs.LastLines(b.Log(), 30))
	}
	if err := probe(ctx, b.Addr(), b.ID); err == nil {
		t.Fatal("broker still answers after Stop")
	}
}

// TestPropertiesOverrides checks the generated server.properties: defaults
// point at the cluster's chroot and the broker's own port and dirs, an
// override replaces a default, an empty override removes it, and a log.dirs
// override is what LogDirs reports.
func TestPropertiesOverrides(t *testing.T) {
	c := &Cluster{ZK: &zktest.Server{Addr: "127.0.0.1:2999"}, Chroot: "/chroot-1"}
	b := c.NewBroker(t, map[string]string{
		"num.partitions":            "3",
		"auto.create.topics.enable": "",
		"log.dirs":                  "/d1,/d2",
	})
	got := b.properties()
	for _, want := range []string{
		"zookeeper.connect=127.0.0.1:2999/chroot-1\n",
		"listeners=PLAINTEXT://" + b.Addr() + "\n",
		"num.partitions=3\n",
		"log.dirs=/d1,/d2\n",
		"broker.id=0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("server.properties lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "auto.create.topics.enable") {
		t.Errorf("removed key still present:\n%s", got)
	}
	if d := b.LogDirs(); len(d) != 2 || d[0] != "/d1" || d[1] != "/d2" {
		t.Errorf("LogDirs = %v, want [/d1 /d2]", d)
	}
	if b2 := c.NewBroker(t, nil); b2.ID != 1 || b2.Addr() == b.Addr() {
		t.Errorf("second broker: id %d addr %s; want id 1 and a different port than %s", b2.ID, b2.Addr(), b.Addr())
	}
}

// TestFixedIDAndPort checks that broker.id and listeners overrides fix ID
// and Addr, and that later brokers get ids above the fixed one.
func TestFixedIDAndPort(t *testing.T) {
	c := &Cluster{ZK: &zktest.Server{Addr: "127.0.0.1:2999"}, Chroot: "/chroot-2"}
	b := c.NewBroker(t, map[string]string{
		"broker.id": "7",
		"listeners": "PLAINTEXT://127.0.0.1:19093,INTERNAL://127.0.0.1:19193",
	})
	if b.ID != 7 || b.Addr() != "127.0.0.1:19093" {
		t.Errorf("ID %d Addr %s; want 7 and 127.0.0.1:19093", b.ID, b.Addr())
	}
	if got := b.properties(); !strings.Contains(got, "broker.id=7\n") {
		t.Errorf("server.properties lacks broker.id=7:\n%s", got)
	}
	if b2 := c.NewBroker(t, nil); b2.ID != 8 {
		t.Errorf("broker after a fixed id 7 got id %d, want 8", b2.ID)
	}
	for _, bad := range []string{"PLAINTEXT://127.0.0.1:0", "127.0.0.1:9092", "PLAINTEXT://127.0.0.1"} {
		if _, err := firstListenerPort(bad); err == nil {
			t.Errorf("firstListenerPort(%q) accepted", bad)
		}
	}
}

// TestEnsembleCluster runs a broker against a three-member ensemble: the
// connect string names every member and the chroot, the broker registers,
// Pause silences it until its session expires and Resume continues it, and
// with the ZooKeeper leader killed the broker still starts and registers
// through the two members left.
func TestEnsembleCluster(t *testing.T) {
	c := NewWithEnsemble(t, 3)
	if c.ZK != nil || c.Ensemble == nil {
		t.Fatalf("NewWithEnsemble: ZK %v Ensemble %v; want only the ensemble", c.ZK, c.Ensemble)
	}
	if want := c.Ensemble.Connect() + c.Chroot; c.ZKConnect() != want || strings.Count(want, ",") != 2 {
		t.Fatalf("ZKConnect() = %q, want %q with three servers", c.ZKConnect(), want)
	}
	b := c.StartBrokers(t, 1, map[string]string{"broker.id": "1"})[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	zkc := c.ZKClient(t)
	if ok, err := zkc.Exists("/brokers/ids/1"); err != nil || !ok {
		t.Fatalf("/brokers/ids/1 under %s: exists=%v err=%v", c.Chroot, ok, err)
	}

	// Paused past zookeeper.session.timeout.ms (6 s here): the broker
	// answers nothing and its registration goes away.
	if err := b.Pause(); err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	err := probe(pctx, b.Addr(), b.ID)
	pcancel()
	if err == nil {
		t.Fatal("paused broker answered a probe")
	}
	waitFor(t, 30*time.Second, "the paused broker's registration to expire", func() bool {
		ok, err := zkc.Exists("/brokers/ids/1")
		return err == nil && !ok
	})
	if err := b.Resume(); err != nil {
		t.Fatal(err)
	}
	if b.Paused() || !b.Running() {
		t.Fatalf("after Resume: paused %v running %v", b.Paused(), b.Running())
	}
	b.Kill()
	if err := b.Pause(); err == nil {
		t.Fatal("Pause of a killed broker succeeded")
	}

	// One member of three down (the leader): the broker still starts.
	if err := c.Ensemble.Kill(c.Ensemble.Leader(ctx)); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(ctx); err != nil {
		t.Fatalf("start with two of three ZooKeeper members: %v", err)
	}
	waitFor(t, 30*time.Second, "/brokers/ids/1 with two of three members", func() bool {
		ok, err := zkc.Exists("/brokers/ids/1")
		return err == nil && ok
	})
	if code := b.Stop(); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0; log:\n%s", code, procs.LastLines(b.Log(), 30))
	}
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
