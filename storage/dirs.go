package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/gokafka/storage/vfs"
	"go.uber.org/zap"
)

// PartitionDir names one partition directory found in a log dir.
type PartitionDir struct {
	Topic     string
	Partition int32
	// Path is <log.dir>/<topic>-<partition>.
	Path string
}

// Files at the top of each log dir besides meta.properties, the checkpoints
// and the clean-shutdown marker. Kafka ignores non-directory files there.
const (
	// lockFile is held with an exclusive flock for the life of the process
	// that opened the dir (Kafka's LogManager.LockFileName).
	lockFile = ".lock"
	// zkSessionFile records, in hex, the ZooKeeper session of the process
	// holding lockFile (gokafka's own; Kafka has no such file). See
	// PreviousZKSessions for why.
	zkSessionFile = ".gokafka-zk-session"
)

// ErrLogDirLocked is returned by OpenDirs when another process (or another
// Dirs in this process) holds a log dir's .lock: two brokers must never
// share a log dir.
var ErrLogDirLocked = errors.New("log dir is locked by another process")

// Dirs is the broker's set of log dirs (log.dirs): meta.properties, the
// checkpoint files and the clean-shutdown marker live here. OpenDirs locks
// every dir and Close unlocks them. Its methods are safe for concurrent use.
type Dirs struct {
	paths  []string
	logger *zap.Logger
	fs     vfs.FS

	// locks are the open .lock files, one per dir, holding the flocks;
	// locked is false on platforms without flock.
	locks     []*os.File
	locked    bool
	closeOnce sync.Once
	// prevSessions are the ZooKeeper sessions recorded in zkSessionFile
	// when the dirs were opened, per dir (0: none), in paths order.
	prevSessions []int64
	sessionMu    sync.Mutex // serializes RecordZKSession, guards recorded
	recorded     int64      // the last session RecordZKSession wrote

	cleanOnce sync.Once
	clean     bool
	// fresh holds the log dirs that had no meta.properties when opened:
	// nothing ran in them before, so they need no recovery.
	fresh map[string]bool

	// deletes are the -delete dirs waiting for removal (log_delete.go).
	deletes deleteQueue

	mu       sync.Mutex
	assigned map[string]string // partition dir name -> log dir chosen by PathFor, guarded by mu
	// preferred holds the log dirs AlterReplicaLogDirs asked for
	// partitions not created yet (future_log.go), guarded by mu.
	preferred map[string]string

	// offlineMu guards offline, the log dirs taken offline and why
	// (dir_failure.go); failed carries each one once to the broker.
	offlineMu sync.Mutex
	offline   map[string]error
	failed    chan string
}

// OpenDirs creates missing log dirs, locks each one's .lock (failing with
// ErrLogDirLocked, in Kafka's words, when another process holds it) and
// checks meta.properties in each: a broker.id or cluster.id that differs
// from the arguments is an error (Kafka's InconsistentBrokerIdException /
// InconsistentClusterIdException); missing files are written. It also reads
// the ZooKeeper session each dir recorded (PreviousZKSessions). The locks
// are held until Close; on error none is held. Files go through fsys (nil:
// vfs.Default), except .lock, which must be the OS's for flock.
func OpenDirs(paths []string, brokerID int32, clusterID string, logger *zap.Logger, fsys vfs.FS) (_ *Dirs, err error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	if fsys == nil {
		fsys = vfs.Default
	}
	if len(paths) == 0 {
		return nil, errors.New("open log dirs: no log.dirs given")
	}
	d := &Dirs{
		logger: logger, fs: fsys, assigned: map[string]string{}, fresh: map[string]bool{}, locked: true,
		offline: map[string]error{}, failed: make(chan string, len(paths)),
	}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	for _, p := range paths {
		p = filepath.Clean(p)
		if err := fsys.MkdirAll(p, 0o755); err != nil {
			return nil, fmt.Errorf("open log dir: %w", err)
		}
		if slices.Contains(d.paths, p) {
			return nil, fmt.Errorf("log.dirs lists %s twice", p)
		}
		f, locked, err := lockDir(p)
		if err != nil {
			return nil, err
		}
		d.locks = append(d.locks, f)
		d.locked = d.locked && locked
		m, ok, err := readMetaProperties(fsys, p)
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
			if err := writeFileAtomic(fsys, filepath.Join(p, metaPropertiesFile), m.encode(time.Now())); err != nil {
				return nil, fmt.Errorf("open log dir %s: %w", p, err)
			}
		}
		d.paths = append(d.paths, p)
		d.prevSessions = append(d.prevSessions, d.readZKSession(p))
	}
	if err := d.completeMoves(); err != nil {
		return nil, fmt.Errorf("open log dirs: %w", err)
	}
	return d, nil
}

// Close releases the log dirs' locks. The broker calls it last, after its
// ZooKeeper session has ended, so that a process that gets the lock knows
// the session recorded here is finished. It is safe to call more than once.
func (d *Dirs) Close() error {
	var errs []error
	d.closeOnce.Do(func() {
		for _, f := range d.locks {
			if err := f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("unlock log dir: %w", err))
			}
		}
	})
	return errors.Join(errs...)
}

// PreviousZKSessions are the distinct ZooKeeper session ids that the log
// dirs recorded (RecordZKSession) when OpenDirs read them, or nil on a
// platform without flock. Each was recorded by a process that held that
// dir's .lock at the time; this process holds every lock now, so each of
// those processes has exited (or closed its Dirs after its session) and its
// session can do nothing more. The broker therefore deletes znodes that are
// still ephemeral to such a session (/brokers/ids/<id>, /controller)
// instead of waiting zookeeper.session.timeout.ms for ZooKeeper to expire
// it, which is what an immediate restart after SIGKILL used to wait for.
//
// Dirs may name different sessions (a dir added to log.dirs later, or a
// crash while the file was being rewritten); every one of them is dead for
// the same reason, so all are returned, in log.dirs order.
func (d *Dirs) PreviousZKSessions() []int64 {
	if !d.locked {
		return nil
	}
	var out []int64
	for _, id := range d.prevSessions {
		if id != 0 && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// RecordZKSession writes id as this process's ZooKeeper session into
// .gokafka-zk-session in every log dir ("%x\n", through a temp file and a
// rename, so a reader sees the old id or the new one). The broker calls it
// once it has registered, and again after every new session; recording the
// id written last again does nothing.
func (d *Dirs) RecordZKSession(id int64) error {
	d.sessionMu.Lock()
	defer d.sessionMu.Unlock()
	if id == d.recorded && id != 0 {
		return nil
	}
	data := []byte(strconv.FormatUint(uint64(id), 16) + "\n")
	for _, p := range d.OnlinePaths() {
		if err := writeFileAtomic(d.fs, filepath.Join(p, zkSessionFile), data); err != nil {
			return fmt.Errorf("record zookeeper session: %w", err)
		}
	}
	d.recorded = id
	return nil
}

// readZKSession reads dir's recorded session, 0 when there is none. A file
// that does not parse is logged and ignored: the broker then waits for the
// old session to expire, as it would without the file.
func (d *Dirs) readZKSession(dir string) int64 {
	p := filepath.Join(dir, zkSessionFile)
	data, err := vfs.ReadFile(d.fs, p)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err == nil {
		var id uint64
		s := strings.TrimPrefix(strings.TrimSpace(string(data)), "0x")
		if id, err = strconv.ParseUint(s, 16, 64); err == nil {
			return int64(id)
		}
	}
	d.logger.Warn("ignoring unreadable recorded ZooKeeper session", zap.String("path", p), zap.Error(err))
	return 0
}

// Paths are the log dirs, cleaned, in configuration order.
func (d *Dirs) Paths() []string { return append([]string(nil), d.paths...) }

// Partitions lists the partition directories in every log dir (skipping
// directories being deleted).
func (d *Dirs) Partitions() ([]PartitionDir, error) {
	var out []PartitionDir
	for _, p := range d.paths {
		ents, err := d.fs.ReadDir(p)
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

// PathFor returns the existing directory of topic-partition (in an online
// log dir or not), or a new path in the log dir AlterReplicaLogDirs
// preferred for it (SetPreferred), or else in the online log dir holding
// the fewest partitions, future logs included (Kafka's
// LogManager.nextLogDirs; the first log dir when none is online).
func (d *Dirs) PathFor(topic string, partition int32) string {
	name := fmt.Sprintf("%s-%d", topic, partition)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range d.paths {
		if fi, err := d.fs.Stat(filepath.Join(p, name)); err == nil && fi.IsDir() {
			return filepath.Join(p, name)
		}
	}
	if p, ok := d.assigned[name]; ok {
		return filepath.Join(p, name)
	}
	if p, ok := d.takePreferred(name); ok {
		d.assigned[name] = p
		return filepath.Join(p, name)
	}
	online := d.OnlinePaths()
	if len(online) == 1 {
		// Nothing to choose between, as Kafka's nextLogDirs does not
		// count either: counting reads the whole log dir, once per new
		// partition, which made creating 10,000 partitions quadratic.
		d.assigned[name] = online[0]
		return filepath.Join(online[0], name)
	}
	best, bestCount := d.paths[0], -1
	for _, p := range online {
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
	futures := 0
	if ents, err := d.fs.ReadDir(p); err == nil {
		for _, e := range ents {
			if _, _, ok := ParsePartitionDirName(e.Name()); ok && e.IsDir() {
				seen[e.Name()] = true
			}
		}
		futures = d.countFutures(ents)
	}
	for name, dir := range d.assigned {
		if dir == p {
			seen[name] = true
		}
	}
	return len(seen) + futures
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
			if _, err := d.fs.Stat(marker); err != nil {
				if !d.fresh[p] {
					d.clean = false
				}
				continue
			}
			if err := d.fs.Remove(marker); err != nil {
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
// without a Path goes where PathFor puts it. Offline log dirs are skipped
// (their recovery points stay as they were), and a log dir whose write
// fails is taken offline (Fail), as Kafka does; the others are written all
// the same.
func (d *Dirs) WriteCheckpoints(c Checkpoints) error {
	files := []struct {
		name string
		m    map[PartitionDir]int64
	}{
		{recoveryPointFile, c.RecoveryPoints},
		{highWatermarkFile, c.HighWatermarks},
		{logStartOffsetFile, c.LogStartOffsets},
	}
	var errs []error
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
		for _, p := range d.OnlinePaths() {
			if err := writeFileAtomic(d.fs, filepath.Join(p, f.name), encodeOffsetCheckpoint(perDir[p])); err != nil {
				err = fmt.Errorf("write checkpoints: %w", err)
				d.Fail(p, err)
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
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
			entries, err := readOffsetCheckpoint(d.fs, filepath.Join(p, name))
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

// MarkCleanShutdown writes the clean-shutdown marker in every online log
// dir: an offline one is recovered at the next start.
func (d *Dirs) MarkCleanShutdown() error {
	for _, p := range d.OnlinePaths() {
		if err := writeFileAtomic(d.fs, filepath.Join(p, cleanShutdownMarker), nil); err != nil {
			return fmt.Errorf("mark clean shutdown: %w", err)
		}
	}
	return nil
}
