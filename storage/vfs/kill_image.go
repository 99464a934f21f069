package vfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KillImage writes into dst (created; it must not exist yet) the tree a
// SIGKILL of the process now would leave under the root: every file as the
// process sees it, synced or not, since the kernel keeps the page cache and
// every directory entry when only the process dies. CrashImage is the
// power-loss counterpart.
func (c *Crashable) KillImage(dst string) error {
	return filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while the tree was walked: gone at the kill
		}
		if err != nil {
			return fmt.Errorf("kill image: %w", err)
		}
		rel, err := filepath.Rel(c.root, path)
		if err != nil {
			return fmt.Errorf("kill image: %w", err)
		}
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("kill image: %w", err)
		}
		return os.WriteFile(out, data, 0o644)
	})
}
