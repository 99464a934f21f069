package testcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// sysProcAttr has the kernel kill the broker when the test process dies
// (Pdeathsig), so a crashed or interrupted test leaves no broker behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// allThreadsStopped reports whether every thread of process pid is stopped
// (state T in /proc/<pid>/task/<tid>/stat). kill(2) returns before a
// SIGSTOP takes effect: each thread stops when it next handles signals,
// which on a loaded or virtual machine can take milliseconds, long enough
// for the broker to answer a request.
func allThreadsStopped(pid int) (bool, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false, fmt.Errorf("no threads of pid %d in /proc", pid)
	}
	for _, p := range tasks {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // the thread ended meanwhile
		}
		// The state follows the command name, which is in parentheses and
		// may itself contain them.
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 || i+2 >= len(data) {
			return false, fmt.Errorf("unexpected %s: %q", p, data)
		}
		if st := data[i+2]; st != 'T' && st != 't' {
			return false, nil
		}
	}
	return true, nil
}
