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
