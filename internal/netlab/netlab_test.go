package netlab

import (
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// reachable reports whether a TCP connection from host i (or the root
// namespace when i < 0) to addr succeeds within a second.
func reachable(t *testing.T, l *Lab, i int, addr string) bool {
	t.Helper()
	if i < 0 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	host, port, _ := net.SplitHostPort(addr)
	args := append(l.Exec(i), "timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/"+host+"/"+port)
	return exec.Command(args[0], args[1:]...).Run() == nil
}

// listenIn starts a TCP listener inside host i and returns its address.
// A goroutine of the test cannot enter a namespace, so the listener is a
// few lines of Debian's /usr/bin/python3 run with `ip netns exec`.
func listenIn(t *testing.T, l *Lab, i int) string {
	t.Helper()
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3 to listen inside a namespace")
	}
	addr := net.JoinHostPort(l.Host(i).IP, "7100")
	args := append(l.Exec(i), py, "-c", "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('"+l.Host(i).IP+"',7100))\ns.listen(16)\nwhile True:\n  c,_=s.accept()\n  c.close()\n")
	cmd := exec.Command(args[0], args[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for !reachable(t, l, -1, addr) {
		if time.Now().After(deadline) {
			t.Fatalf("listener in host %d not reachable", i)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr
}

func TestLabCutsAndMends(t *testing.T) {
	l := New(t, 3)
	gw, err := net.Listen("tcp", net.JoinHostPort(l.GatewayIP(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	go func() {
		for {
			c, err := gw.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	h1 := listenIn(t, l, 1)
	steps := []struct {
		name      string
		do        func()
		from      int
		to        string
		reachable bool
	}{
		{"host 0 reaches the gateway", func() {}, 0, gw.Addr().String(), true},
		{"host 0 reaches host 1", func() {}, 0, h1, true},
		{"cut 0-1: host 0 no longer reaches host 1", func() { l.Cut(0, 1) }, 0, h1, false},
		{"cut 0-1: host 0 still reaches the gateway", func() {}, 0, gw.Addr().String(), true},
		{"cut 0-1: host 2 still reaches host 1", func() {}, 2, h1, true},
		{"mend 0-1", func() { l.Mend(0, 1) }, 0, h1, true},
		{"isolate 1: the root namespace no longer reaches it", func() { l.Isolate(1) }, -1, h1, false},
		{"rejoin 1", func() { l.Rejoin(1) }, -1, h1, true},
	}
	for _, s := range steps {
		s.do()
		if got := reachable(t, l, s.from, s.to); got != s.reachable {
			t.Fatalf("%s: reachable = %v", s.name, got)
		}
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); !strings.Contains(string(out), l.Host(0).NS) {
		t.Errorf("namespace %s not listed while the lab runs", l.Host(0).NS)
	}
}
