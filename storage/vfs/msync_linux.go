package vfs

import (
	"fmt"
	"syscall"
	"unsafe"
)

// msync flushes the mapped pages of data to the file name.
func msync(name string, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	_, _, errno := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&data[0])), uintptr(len(data)), syscall.MS_SYNC)
	if errno != 0 {
		return fmt.Errorf("msync %s: %w", name, errno)
	}
	return nil
}
