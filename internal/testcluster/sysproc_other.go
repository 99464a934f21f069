//go:build !linux

package testcluster

import "syscall"

// sysProcAttr is empty where Pdeathsig does not exist; t.Cleanup still
// kills the broker on every normal path.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// allThreadsStopped cannot look at thread states without /proc; Pause
// returns once SIGSTOP is sent.
func allThreadsStopped(pid int) (bool, error) { return true, nil }
