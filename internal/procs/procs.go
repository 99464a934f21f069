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

// LastLines returns the last n lines of s, for quoting a log in an error.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
