//go:build !unix

package storage

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir creates <dir>/.lock but cannot lock it on this platform: only
// Unix systems get the exclusive log-dir lock, and with it the takeover of
// a dead process's ZooKeeper ephemerals (which needs the lock as proof), so locked is false.
func lockDir(dir string) (f *os.File, locked bool, err error) {
	f, err = os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("lock log dir %s: %w", dir, err)
	}
	return f, false, nil
}
