// Package netlab builds a small network of test hosts on one Linux machine
// for the replication tests that cut links: a bridge in the root network
// namespace with an address of its own (where ZooKeeper and the test's
// clients live) and n network namespaces, each joined to the bridge by a
// veth pair and given one address on the bridge's /24. Links are cut with
// blackhole routes inside the namespaces (one direction per namespace, so
// both ends are set), which needs nothing beyond iproute2; a host is
// isolated entirely by taking its veth down.
//
// Everything it creates is named after the lab (gk<id>...), is removed when
// the test ends, and lives only on this machine: addresses are in
// 10.231.0.0/16, a private range, one /24 per lab.
package netlab

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// labSeq numbers labs within a test binary; the process id keeps labs of
// concurrent test binaries apart.
var labSeq atomic.Int32

// Lab is one bridge and its hosts.
type Lab struct {
	t      testing.TB
	id     string
	subnet string // e.g. "10.231.17"
	bridge string
	hosts  []Host
}

// Host is one network namespace on the lab's bridge.
type Host struct {
	// NS is the namespace name, for `ip netns exec`.
	NS string
	// IP is the host's address on the bridge.
	IP string
	// veth is the root-namespace end of the host's veth pair.
	veth string
}

// Available reports why labs cannot be built here ("" when they can):
// creating namespaces needs root and iproute2.
func Available() string {
	if os.Geteuid() != 0 {
		return "network namespaces need root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "iproute2's ip command is not installed"
	}
	return ""
}

// New builds a lab with n hosts. The bridge's address (GatewayIP) is
// reachable from every host; hosts reach each other through the bridge.
func New(t testing.TB, n int) *Lab {
	t.Helper()
	if why := Available(); why != "" {
		t.Skipf("netlab: %s", why)
	}
	seq := labSeq.Add(1)
	l := &Lab{t: t}
	l.id = fmt.Sprintf("gk%d%d", os.Getpid()%10000, seq)
	l.subnet = fmt.Sprintf("10.231.%d", (os.Getpid()*7+int(seq))%250+1)
	l.bridge = l.id + "br"
	t.Cleanup(l.destroy)
	l.must("ip", "link", "add", l.bridge, "type", "bridge")
	l.must("ip", "addr", "add", l.GatewayIP()+"/24", "dev", l.bridge)
	l.must("ip", "addr", "add", l.ServiceIP()+"/24", "dev", l.bridge)
	l.must("ip", "link", "set", l.bridge, "up")
	for i := 0; i < n; i++ {
		h := Host{NS: fmt.Sprintf("%sh%d", l.id, i), IP: fmt.Sprintf("%s.%d", l.subnet, 10+i), veth: fmt.Sprintf("%sv%d", l.id, i)}
		peer := h.veth + "p"
		l.must("ip", "netns", "add", h.NS)
		l.hosts = append(l.hosts, h)
		l.must("ip", "link", "add", h.veth, "type", "veth", "peer", "name", peer)
		l.must("ip", "link", "set", peer, "netns", h.NS)
		l.must("ip", "link", "set", h.veth, "master", l.bridge)
		l.must("ip", "link", "set", h.veth, "up")
		l.must("ip", "netns", "exec", h.NS, "ip", "addr", "add", h.IP+"/24", "dev", peer)
		l.must("ip", "netns", "exec", h.NS, "ip", "link", "set", peer, "up")
		l.must("ip", "netns", "exec", h.NS, "ip", "link", "set", "lo", "up")
	}
	for _, h := range l.hosts {
		l.waitForwarding(h.veth, 10*time.Second)
	}
	return l
}

// GatewayIP is the bridge's address in the root namespace: services the
// hosts must reach (ZooKeeper) listen there.
func (l *Lab) GatewayIP() string { return l.subnet + ".1" }

// ServiceIP is a second address of the root namespace on the bridge, for
// a service (ZooKeeper, through a proxy) whose link a test cuts apart from
// the hosts' link to the test's clients, which connect from GatewayIP.
func (l *Lab) ServiceIP() string { return l.subnet + ".2" }

// CutService drops traffic between host i and ServiceIP.
func (l *Lab) CutService(i int) {
	l.t.Helper()
	l.must("ip", "netns", "exec", l.hosts[i].NS, "ip", "route", "add", "blackhole", l.ServiceIP()+"/32")
}

// MendService undoes CutService(i).
func (l *Lab) MendService(i int) {
	l.t.Helper()
	l.must("ip", "netns", "exec", l.hosts[i].NS, "ip", "route", "del", "blackhole", l.ServiceIP()+"/32")
}

// Host returns host i.
func (l *Lab) Host(i int) Host { return l.hosts[i] }

// Exec returns the command prefix that runs a program inside host i.
func (l *Lab) Exec(i int) []string { return []string{"ip", "netns", "exec", l.hosts[i].NS} }

// Cut drops all traffic between hosts i and j (both directions), leaving
// their other links alone.
func (l *Lab) Cut(i, j int) {
	l.t.Helper()
	l.must("ip", "netns", "exec", l.hosts[i].NS, "ip", "route", "add", "blackhole", l.hosts[j].IP+"/32")
	l.must("ip", "netns", "exec", l.hosts[j].NS, "ip", "route", "add", "blackhole", l.hosts[i].IP+"/32")
}

// Mend undoes Cut(i, j).
func (l *Lab) Mend(i, j int) {
	l.t.Helper()
	l.must("ip", "netns", "exec", l.hosts[i].NS, "ip", "route", "del", "blackhole", l.hosts[j].IP+"/32")
	l.must("ip", "netns", "exec", l.hosts[j].NS, "ip", "route", "del", "blackhole", l.hosts[i].IP+"/32")
}

// Isolate cuts host i off from everything: the other hosts, the gateway
// (ZooKeeper) and the test's clients.
func (l *Lab) Isolate(i int) {
	l.t.Helper()
	l.must("ip", "link", "set", l.hosts[i].veth, "down")
}

// Rejoin undoes Isolate(i). It returns once the bridge forwards the
// host's port again: the kernel reports a veth's carrier through linkwatch,
// which may delay the event by up to a second, and until then the bridge
// drops the host's frames, so a caller that probed at once could see the
// host still cut off.
func (l *Lab) Rejoin(i int) {
	l.t.Helper()
	l.must("ip", "link", "set", l.hosts[i].veth, "up")
	l.waitForwarding(l.hosts[i].veth, 10*time.Second)
}

// waitForwarding waits until the bridge port dev is up and forwarding
// (brport state 3), failing the test after limit.
func (l *Lab) waitForwarding(dev string, limit time.Duration) {
	l.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		oper, _ := os.ReadFile("/sys/class/net/" + dev + "/operstate")
		state, _ := os.ReadFile("/sys/class/net/" + dev + "/brport/state")
		if strings.TrimSpace(string(oper)) == "up" && strings.TrimSpace(string(state)) == "3" {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("netlab: %s not forwarding after %v (operstate %q, bridge port state %q)", dev, limit,
				strings.TrimSpace(string(oper)), strings.TrimSpace(string(state)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// destroy removes the namespaces (and with them the veth pairs) and the
// bridge. Failures are reported, not fatal: cleanup must go on.
func (l *Lab) destroy() {
	for _, h := range l.hosts {
		if out, err := exec.Command("ip", "netns", "del", h.NS).CombinedOutput(); err != nil {
			l.t.Errorf("netlab: remove namespace %s: %v: %s", h.NS, err, out)
		}
	}
	if out, err := exec.Command("ip", "link", "del", l.bridge).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find") {
		l.t.Errorf("netlab: remove bridge %s: %v: %s", l.bridge, err, out)
	}
}

func (l *Lab) must(args ...string) {
	l.t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("netlab: %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
