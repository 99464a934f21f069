//go:build !linux

package testcluster

import "syscall"

// sysProcAttr is empty where Pdeathsig does not exist; t.Cleanup still
// kills the broker on every normal path.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
