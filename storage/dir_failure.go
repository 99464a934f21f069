package storage

import (
	"path/filepath"
	"slices"

	"go.uber.org/zap"
)

// Log dirs going offline: the broker's side of Kafka's LogDirFailureChannel.
//
// Any log, or a checkpoint write, that fails with an I/O error reports its
// log dir to Fail (the broker wires each Log's OpenOptions.OnOffline to
// it). The first report of a dir marks it offline, logs an ERROR naming it
// and hands it, once, to the channel Failed returns, which the broker
// drains: it takes every partition of that dir offline and, when no log
// dir is left, stops. From then on the dir gets no checkpoints, no
// clean-shutdown marker and no new partitions; the next start recovers it.

// Fail takes the log dir holding path (a log dir, or a partition directory
// in one) offline because of err. It reports whether this call did so (the
// first report of the dir); it never blocks.
func (d *Dirs) Fail(path string, err error) bool {
	dir := d.LogDirOf(path)
	d.offlineMu.Lock()
	defer d.offlineMu.Unlock()
	if _, ok := d.offline[dir]; ok {
		return false
	}
	d.offline[dir] = err
	d.logger.Error("log dir failed; its partitions go offline", zap.String("log_dir", dir), zap.Error(err))
	select {
	case d.failed <- dir: // buffered for every log dir, each sent once
	default: // a path outside the log dirs: recorded, not delivered
	}
	return true
}

// Failed delivers each log dir once, when it goes offline.
func (d *Dirs) Failed() <-chan string { return d.failed }

// LogDirOf returns the log dir that path is, or lies in; path itself when
// it is in none of them.
func (d *Dirs) LogDirOf(path string) string {
	path = filepath.Clean(path)
	for _, p := range d.paths {
		if path == p || filepath.Dir(path) == p {
			return p
		}
	}
	return path
}

// IsOffline reports whether the log dir holding path is offline.
func (d *Dirs) IsOffline(path string) bool {
	dir := d.LogDirOf(path)
	d.offlineMu.Lock()
	defer d.offlineMu.Unlock()
	_, ok := d.offline[dir]
	return ok
}

// OnlinePaths are the log dirs not offline, in configuration order.
func (d *Dirs) OnlinePaths() []string { return d.pathsOffline(false) }

// OfflinePaths are the log dirs taken offline, in configuration order.
func (d *Dirs) OfflinePaths() []string { return d.pathsOffline(true) }

// pathsOffline are the log dirs whose offline state is offline.
func (d *Dirs) pathsOffline(offline bool) []string {
	d.offlineMu.Lock()
	defer d.offlineMu.Unlock()
	return slices.DeleteFunc(slices.Clone(d.paths), func(p string) bool {
		_, ok := d.offline[p]
		return ok != offline
	})
}
