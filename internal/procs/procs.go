// Package procs holds the small pieces the test harnesses share when they
// run real servers (ZooKeeper, the gokafka binary) as child processes: a free
// loopback port to give them, and the tail of their logs for a failure
// message.
package procs

import (
	"fmt"
	"net"
	"strings"
)

// FreeLoopbackPort asks the kernel for an unused port on 127.0.0.1. The port
// is free when returned; another process may take it before the server binds
// it, so callers either retry or let the bind error show in the server log.
func FreeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreeLoopbackPorts returns n distinct unused ports on 127.0.0.1. It holds
// every listener open until all n are chosen, so the kernel cannot hand out
// the same port twice (as n calls of FreeLoopbackPort might); the same race
// with other processes as FreeLoopbackPort's remains.
func FreeLoopbackPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick %d free ports: %w", n, err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// LastLines returns the last n lines of s, for quoting a log in an error.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
