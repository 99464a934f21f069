//go:build unix

package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes the exclusive lock on <dir>/.lock, as Kafka's LogManager
// does with FileChannel.tryLock: flock(LOCK_EX|LOCK_NB) on a file opened
// for this process alone. The lock belongs to the open file, so it lasts
// until the returned file is closed or the process ends in any way,
// SIGKILL included; nothing stale is ever left to clean up. locked is
// always true here.
func lockDir(dir string) (f *os.File, locked bool, err error) {
	p := filepath.Join(dir, lockFile)
	f, err = os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("lock log dir %s: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, fmt.Errorf("Failed to acquire lock on file %s in %s. A Kafka instance in another process or thread is using this directory: %w", lockFile, dir, ErrLogDirLocked)
		}
		return nil, false, fmt.Errorf("lock %s: %w", p, err)
	}
	return f, true, nil
}
