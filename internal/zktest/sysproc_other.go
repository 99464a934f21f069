//go:build !linux

package zktest

import "syscall"

// sysProcAttr puts the JVM in its own process group so Stop can kill it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
