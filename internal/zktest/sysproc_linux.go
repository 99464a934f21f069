package zktest

import "syscall"

// sysProcAttr puts the JVM in its own process group (so Stop can kill the
// group) and asks the kernel to kill it when the test process dies.
// Pdeathsig is tied to the thread that started the JVM; Go rarely ends
// threads, and Stop/Cleanup cover the normal paths.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
