package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// PartitionDir names one partition directory found in a log dir.
type PartitionDir struct {
	Topic     string
	Partition int32
	// Path is <log.dir>/<topic>-<partition>.
	Path string
}

// Dirs is the broker's set of log dirs (log.dirs): meta.properties, the
// checkpoint files and the clean-shutdown marker live here. Its methods are
// safe for concurrent use.
type Dirs struct {
	paths  []string
	logger *zap.Logger

	cleanOnce sync.Once
	clean     bool
	// fresh holds the log dirs that had no meta.properties when opened:
	// nothing ran in them before, so they need no recovery.
	fresh map[string]bool

	mu       sync.Mutex
	assigned map[string]string // partition dir name -> log dir chosen by PathFor, guarded by mu
}

// OpenDirs creates missing log dirs and checks meta.properties in each: a
// broker.id or cluster.id that differs from the arguments is an error
// (Kafka's InconsistentBrokerIdException / InconsistentClusterIdException);
// missing files are written.
func OpenDirs(paths []string, brokerID int32, clusterID string, logger *zap.Logger) (*Dirs, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if len(paths) == 0 {
		return nil, errors.New("open log dirs: no log.dirs given")
	}
	d := &Dirs{logger: logger, assigned: map[string]string{}, fresh: map[string]bool{}}
	for _, p := range paths {
		p = filepath.Clean(p)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("open log dir: %w", err)
		}
		m, ok, err := readMetaProperties(p)
		if err != nil {
			return nil, fmt.Errorf("open log dir %s: %w", p, err)
		}
		if ok && m.brokerID != brokerID {
			return nil, fmt.Errorf("log dir %s: meta.properties has broker.id %d, configured %d: %w", p, m.brokerID, brokerID, ErrInconsistentMeta)
		}
		if ok && m.clusterID != "" && m.clusterID != clusterID {
			return nil, fmt.Errorf("log dir %s: meta.properties has cluster.id %s, the cluster is %s: %w", p, m.clusterID, clusterID, ErrInconsistentMeta)
		}
		if !ok {
			d.fresh[p] = true
		}
		if !ok || m.clusterID == "" {
			m = metaProperties{version: 0, brokerID: brokerID, clusterID: clusterID}
			if err := writeFileAtomic(filepath.Join(p, metaPropertiesFile), m.encode(time.Now())); err != nil {
				return nil, fmt.Errorf("open log dir %s: %w", p, err)
			}
		}
		d.paths = append(d.paths, p)
	}
	return d, nil
}

// Paths are the log dirs, cleaned, in configuration order.
func (d *Dirs) Paths() []string { return append([]string(nil), d.paths...) }

// Partitions lists the partition directories in every log dir (skipping
// directories being deleted).
func (d *Dirs) Partitions() ([]PartitionDir, error) {
	var out []PartitionDir
	for _, p := range d.paths {
		ents, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("list log dir %s: %w", p, err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			topic, part, ok := ParsePartitionDirName(e.Name())
			if !ok {
				continue
			}
			out = append(out, PartitionDir{Topic: topic, Partition: part, Path: filepath.Join(p, e.Name())})
		}
	}
	return out, nil
}

// ParsePartitionDirName splits "<topic>-<partition>" at the last '-' (topic
// names may contain '-'). It rejects the directories Kafka renames partitions
// to while deleting, moving or quarantining them ("<topic>-<p>.<uuid>-delete",
// "-future", "-stray"), so they are never loaded as live partitions.
func ParsePartitionDirName(name string) (topic string, partition int32, ok bool) {
	for _, suf := range []string{"-delete", "-future", "-stray"} {
		if strings.HasSuffix(name, suf) {
			return "", 0, false
		}
	}
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	digits := name[i+1:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	p, err := strconv.ParseInt(digits, 10, 32)
	if err != nil {
		return "", 0, false
	}
	return name[:i], int32(p), true
}

// PathFor returns the existing directory of topic-partition, or a new path
// in the log dir holding the fewest partitions.
func (d *Dirs) PathFor(topic string, partition int32) string {
	name := fmt.Sprintf("%s-%d", topic, partition)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.paths {
		if fi, err := os.Stat(filepath.Join(p, name)); err == nil && fi.IsDir() {
			return filepath.Join(p, name)
		}
	}
	if p, ok := d.assigned[name]; ok {
		return filepath.Join(p, name)
	}
	best, bestCount := d.paths[0], -1
	for _, p := range d.paths {
		n := d.countPartitions(p)
		if bestCount < 0 || n < bestCount {
			best, bestCount = p, n
		}
	}
	d.assigned[name] = best
	return filepath.Join(best, name)
}

// countPartitions counts the partition directories in log dir p plus those
// PathFor placed there that do not exist yet. Called with mu held.
func (d *Dirs) countPartitions(p string) int {
	seen := map[string]bool{}
	if ents, err := os.ReadDir(p); err == nil {
		for _, e := range ents {
			if _, _, ok := ParsePartitionDirName(e.Name()); ok && e.IsDir() {
				seen[e.Name()] = true
			}
		}
	}
	for name, dir := range d.assigned {
		if dir == p {
			seen[name] = true
		}
	}
	return len(seen)
}

// CleanShutdown reports whether the previous run left the clean-shutdown
// marker (.kafka_cleanshutdown), and removes it so a crash is noticed next
// time. Every log dir must hold the marker for the shutdown to count as
// clean. The answer is decided on the first call and repeated after.
func (d *Dirs) CleanShutdown() bool {
	d.cleanOnce.Do(func() {
		d.clean = true
		for _, p := range d.paths {
			marker := filepath.Join(p, cleanShutdownMarker)
			if _, err := os.Stat(marker); err != nil {
				if !d.fresh[p] {
					d.clean = false
				}
				continue
			}
			if err := os.Remove(marker); err != nil {
				d.logger.Warn("cannot remove clean-shutdown marker", zap.String("path", marker), zap.Error(err))
				d.clean = false
			}
		}
	})
	return d.clean
}

// Checkpoints are the per-partition offsets written into each log dir's
// checkpoint files.
type Checkpoints struct {
	// RecoveryPoints -> recovery-point-offset-checkpoint.
	RecoveryPoints map[PartitionDir]int64
	// HighWatermarks -> replication-offset-checkpoint.
	HighWatermarks map[PartitionDir]int64
	// LogStartOffsets -> log-start-offset-checkpoint.
	LogStartOffsets map[PartitionDir]int64
}

// WriteCheckpoints writes the checkpoint files (Kafka's text format: version
// line, count line, then "topic partition offset" lines) atomically. Each
// log dir's files list the partitions whose Path lies in it; a PartitionDir
// without a Path goes where PathFor puts it.
func (d *Dirs) WriteCheckpoints(c Checkpoints) error {
	files := []struct {
		name string
		m    map[PartitionDir]int64
	}{
		{recoveryPointFile, c.RecoveryPoints},
		{highWatermarkFile, c.HighWatermarks},
		{logStartOffsetFile, c.LogStartOffsets},
	}
	for _, f := range files {
		perDir := make(map[string][]checkpointEntry, len(d.paths))
		for pd, off := range f.m {
			path := pd.Path
			if path == "" {
				path = d.PathFor(pd.Topic, pd.Partition)
			}
			dir := filepath.Dir(filepath.Clean(path))
			perDir[dir] = append(perDir[dir], checkpointEntry{topic: pd.Topic, partition: pd.Partition, offset: off})
		}
		for _, p := range d.paths {
			if err := writeFileAtomic(filepath.Join(p, f.name), encodeOffsetCheckpoint(perDir[p])); err != nil {
				return fmt.Errorf("write checkpoints: %w", err)
			}
		}
	}
	return nil
}

// ReadCheckpoints reads them back; missing files are empty maps.
func (d *Dirs) ReadCheckpoints() (Checkpoints, error) {
	c := Checkpoints{
		RecoveryPoints:  map[PartitionDir]int64{},
		HighWatermarks:  map[PartitionDir]int64{},
		LogStartOffsets: map[PartitionDir]int64{},
	}
	for _, p := range d.paths {
		for name, m := range map[string]map[PartitionDir]int64{
			recoveryPointFile:  c.RecoveryPoints,
			highWatermarkFile:  c.HighWatermarks,
			logStartOffsetFile: c.LogStartOffsets,
		} {
			entries, err := readOffsetCheckpoint(filepath.Join(p, name))
			if err != nil {
				return Checkpoints{}, fmt.Errorf("read checkpoints: %w", err)
			}
			for _, e := range entries {
				pd := PartitionDir{Topic: e.topic, Partition: e.partition, Path: filepath.Join(p, fmt.Sprintf("%s-%d", e.topic, e.partition))}
				m[pd] = e.offset
			}
		}
	}
	return c, nil
}

// MarkCleanShutdown writes the clean-shutdown marker in every log dir.
func (d *Dirs) MarkCleanShutdown() error {
	for _, p := range d.paths {
		if err := writeFileAtomic(filepath.Join(p, cleanShutdownMarker), nil); err != nil {
			return fmt.Errorf("mark clean shutdown: %w", err)
		}
	}
	return nil
}
