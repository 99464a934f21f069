package testcluster

import "syscall"

// sysProcAttr has the kernel kill the broker when the test process dies
// (Pdeathsig), so a crashed or interrupted test leaves no broker behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
