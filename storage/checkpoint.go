package storage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/gokafka/storage/vfs"
)

// Names of the per-log-dir offset checkpoint files (Kafka's
// OffsetCheckpointFile), each holding:
//
//	0                      version
//	<count>                number of lines that follow
//	<topic> <partition> <offset>
const (
	recoveryPointFile   = "recovery-point-offset-checkpoint"
	highWatermarkFile   = "replication-offset-checkpoint"
	logStartOffsetFile  = "log-start-offset-checkpoint"
	checkpointVersion   = 0
	cleanShutdownMarker = ".kafka_cleanshutdown"
)

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new file: write <path>.tmp, fsync it, rename it over path,
// fsync the directory.
func writeFileAtomic(fsys vfs.FS, path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = fsys.Remove(tmp) // best effort: Open removes leftover .tmp files too
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(fsys, filepath.Dir(path))
}

// syncDir fsyncs a directory so a rename or create in it is durable.
func syncDir(fsys vfs.FS, dir string) error {
	if err := vfs.SyncPath(fsys, dir); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// checkpointEntry is one line of an offset checkpoint file.
type checkpointEntry struct {
	topic     string
	partition int32
	offset    int64
}

// encodeOffsetCheckpoint renders entries in Kafka's format, sorted so the
// file is stable from one write to the next.
func encodeOffsetCheckpoint(entries []checkpointEntry) []byte {
	slices.SortFunc(entries, func(a, b checkpointEntry) int {
		if c := strings.Compare(a.topic, b.topic); c != 0 {
			return c
		}
		return int(a.partition) - int(b.partition)
	})
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%d\n%d\n", checkpointVersion, len(entries))
	for _, e := range entries {
		fmt.Fprintf(&buf, "%s %d %d\n", e.topic, e.partition, e.offset)
	}
	return buf.Bytes()
}

// readOffsetCheckpoint parses an offset checkpoint file; a missing file has
// no entries. A malformed file is an error wrapping ErrCorruption, as Kafka
// refuses to start on one.
func readOffsetCheckpoint(fsys vfs.FS, path string) ([]checkpointEntry, error) {
	data, err := vfs.ReadFile(fsys, path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	bad := func(why string) error { return fmt.Errorf("checkpoint %s: %s: %w", path, why, ErrCorruption) }
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	v, ok := line()
	if !ok || strings.TrimSpace(v) != strconv.Itoa(checkpointVersion) {
		return nil, bad(fmt.Sprintf("version %q, want %d", v, checkpointVersion))
	}
	c, ok := line()
	count, err := strconv.Atoi(strings.TrimSpace(c))
	if !ok || err != nil || count < 0 {
		return nil, bad(fmt.Sprintf("count %q", c))
	}
	entries := make([]checkpointEntry, 0, min(count, 1<<16))
	for range count {
		l, ok := line()
		if !ok {
			return nil, bad(fmt.Sprintf("%d entries, expected %d", len(entries), count))
		}
		f := strings.Fields(l)
		if len(f) != 3 {
			return nil, bad(fmt.Sprintf("line %q", l))
		}
		p, perr := strconv.ParseInt(f[1], 10, 32)
		o, oerr := strconv.ParseInt(f[2], 10, 64)
		if perr != nil || oerr != nil || p < 0 {
			return nil, bad(fmt.Sprintf("line %q", l))
		}
		entries = append(entries, checkpointEntry{topic: f[0], partition: int32(p), offset: o})
	}
	if l, ok := line(); ok && strings.TrimSpace(l) != "" {
		return nil, bad("more entries than its count")
	}
	return entries, nil
}
