//go:build linux || darwin

package broker

import "syscall"

// volumeBytes is the total and usable bytes of the file system holding
// dir (Kafka's FileStore getTotalSpace and getUsableSpace), -1 when it
// cannot be read.
func volumeBytes(dir string) (total, usable int64) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return -1, -1
	}
	return int64(st.Blocks) * int64(st.Bsize), int64(st.Bavail) * int64(st.Bsize)
}
