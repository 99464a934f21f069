package storage

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gokafka/gokafka/storage/vfs"
	"go.uber.org/zap"
)

// Future logs: moving a replica between log dirs (KIP-113,
// AlterReplicaLogDirs).
//
// Kafka moves a partition's replica to another log dir of the same broker
// by creating a "future" log in the target dir, named
// <topic>-<partition>.<uniqueId>-future (uniqueId: a random UUID's 32 hex
// digits), copying the current log into it while the current one keeps
// serving, and, once the future log has caught up, swapping the two under
// the partition's lock: the future dir takes the name <topic>-<partition>
// and the current one is renamed <topic>-<partition>.<uniqueId>-delete and
// removed in the background. The broker does the copying (it follows the
// current log as a follower follows a leader); this file holds the disk
// side: the names, the swap, and what a restart finds.
//
// The swap keeps the broker's *Log: ReplaceWithFuture moves the future
// log's segments into the current Log under its locks, so readers and
// writers holding the Log never see a closed one, and the producer state
// (which the future log rebuilt only from the batches it copied) is the
// current log's, carried over exactly.
//
// Crash safety. Kafka renames the future dir first and the current one
// second; a crash between the two leaves <topic>-<partition> in two log
// dirs, and Kafka then refuses to start ("Duplicate log directories ...
// It is likely because log directory failure happened while broker was
// replacing current replica with future replica"). gokafka renames in the
// other order, fsyncing the source log dir in between, and gives the
// -delete dir the future dir's uniqueId: a crash between the two renames
// leaves a -future and a -delete dir with the same id and no current dir,
// which OpenDirs recognises and completes (the future log was complete
// and fsynced before the first rename). Any other -future dir is a copy in
// progress, which the broker resumes once the partition is hosted again;
// -delete dirs are queued for removal after file.delete.delay.ms
// (QueueDeleted), as Kafka deletes them after a restart.

// Directory name suffixes of moved and deleted partitions, as Kafka's
// LocalLog names them.
const (
	futureDirSuffix = "-future"
	deleteDirSuffix = "-delete"
	// maxDirNameLen is the longest file name most file systems allow:
	// Kafka refuses (INVALID_TOPIC_EXCEPTION) to move a partition whose
	// future dir name would be longer, and caps the topic part of a
	// -delete dir name to fit.
	maxDirNameLen = 255
)

// ErrFutureNameTooLong is returned by FuturePath when the future dir's name
// would exceed 255 bytes (Kafka: "The topic name is too long.").
var ErrFutureNameTooLong = errors.New("the topic name is too long")

// ErrNotCaughtUp is returned by ReplaceWithFuture when the future log does
// not end where the current log does: the copy must go on first.
var ErrNotCaughtUp = errors.New("the future log has not caught up with the current log")

// FutureDir is a future log's directory found in a log dir.
type FutureDir struct {
	Topic     string
	Partition int32
	// ID is the uniqueId in its name.
	ID string
	// Path is <log.dir>/<topic>-<partition>.<id>-future.
	Path string
}

// newMoveID returns a random uniqueId as Kafka writes it: a UUID's 32 hex
// digits.
func newMoveID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// futureDirName is "<topic>-<partition>.<id>-future".
func futureDirName(topic string, partition int32, id string) string {
	return fmt.Sprintf("%s-%d.%s%s", topic, partition, id, futureDirSuffix)
}

// deleteDirName is "<topic>-<partition>.<id>-delete" with the topic cut so
// that the name fits in 255 bytes, as Kafka's logDeleteDirName does.
func deleteDirName(topic string, partition int32, id string) string {
	suffix := fmt.Sprintf("-%d.%s%s", partition, id, deleteDirSuffix)
	if n := maxDirNameLen - len(suffix); len(topic) > n {
		topic = topic[:max(n, 0)]
	}
	return topic + suffix
}

// parseSuffixedDirName splits "<topic>-<partition>.<id><suffix>" (Kafka's
// FutureDirPattern and DeleteDirPattern: no whitespace anywhere). ok is
// false for any other name.
func parseSuffixedDirName(name, suffix string) (topic string, partition int32, id string, ok bool) {
	rest, found := strings.CutSuffix(name, suffix)
	if !found || strings.ContainsFunc(name, isSpace) {
		return "", 0, "", false
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot <= 0 || dot == len(rest)-1 {
		return "", 0, "", false
	}
	topic, partition, ok = ParsePartitionDirName(rest[:dot])
	if !ok {
		return "", 0, "", false
	}
	return topic, partition, rest[dot+1:], true
}

// ParseFutureDirName splits a future log's directory name,
// "<topic>-<partition>.<id>-future"; ok is false for any other name.
func ParseFutureDirName(name string) (topic string, partition int32, id string, ok bool) {
	return parseSuffixedDirName(name, futureDirSuffix)
}

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

// LogDirFor returns the configured log dir whose absolute path is path
// (AlterReplicaLogDirs names dirs as DescribeLogDirs reports them:
// absolute), and whether there is one.
func (d *Dirs) LogDirFor(path string) (string, bool) {
	want := filepath.Clean(path)
	for _, p := range d.paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		if abs == want || p == want {
			return p, true
		}
	}
	return "", false
}

// FutureDirNameTooLong reports whether the future dir of topic-partition
// would have a name longer than 255 bytes, which Kafka refuses to create.
func FutureDirNameTooLong(topic string, partition int32) bool {
	return len(futureDirName(topic, partition, newMoveID())) > maxDirNameLen
}

// NewFuturePath returns a fresh future dir path for topic-partition in the
// log dir logDir (one of Paths): "<logDir>/<topic>-<partition>.<id>-future".
func (d *Dirs) NewFuturePath(topic string, partition int32, logDir string) (string, error) {
	name := futureDirName(topic, partition, newMoveID())
	if len(name) > maxDirNameLen {
		return "", fmt.Errorf("future log of %s-%d: %w", topic, partition, ErrFutureNameTooLong)
	}
	return filepath.Join(logDir, name), nil
}

// eachSubdir calls fn with every directory in the log dirs paths, by its
// log dir and name; a log dir that cannot be listed ends it with an error.
func (d *Dirs) eachSubdir(paths []string, fn func(logDir, name string) error) error {
	for _, p := range paths {
		ents, err := d.fs.ReadDir(p)
		if err != nil {
			return fmt.Errorf("list log dir %s: %w", p, err)
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			if err := fn(p, e.Name()); err != nil {
				return err
			}
		}
	}
	return nil
}

// FutureDirs lists the future logs' directories in the online log dirs.
func (d *Dirs) FutureDirs() ([]FutureDir, error) {
	var out []FutureDir
	err := d.eachSubdir(d.OnlinePaths(), func(p, name string) error {
		if topic, part, id, ok := ParseFutureDirName(name); ok {
			out = append(out, FutureDir{Topic: topic, Partition: part, ID: id, Path: filepath.Join(p, name)})
		}
		return nil
	})
	return out, err
}

// SetPreferred records logDir as where PathFor creates topic-partition
// when it does not exist yet: an AlterReplicaLogDirs for a replica this
// broker does not host yet (Kafka's LogManager.maybeUpdatePreferredLogDir).
// It is forgotten once PathFor used it.
func (d *Dirs) SetPreferred(topic string, partition int32, logDir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.preferred == nil {
		d.preferred = map[string]string{}
	}
	d.preferred[fmt.Sprintf("%s-%d", topic, partition)] = logDir
}

// takePreferred returns and forgets the preferred online log dir of the
// partition dir name. Called with mu held.
func (d *Dirs) takePreferred(name string) (string, bool) {
	p, ok := d.preferred[name]
	if !ok {
		return "", false
	}
	delete(d.preferred, name)
	if d.IsOffline(p) {
		return "", false
	}
	return p, true
}

// countFutures counts the future dirs in log dir p: Kafka's nextLogDirs
// counts future logs with the current ones. Called with mu held.
func (d *Dirs) countFutures(ents []os.DirEntry) int {
	n := 0
	for _, e := range ents {
		if _, _, _, ok := ParseFutureDirName(e.Name()); ok && e.IsDir() {
			n++
		}
	}
	return n
}

// completeMoves finishes the swaps a crash interrupted between its two
// renames: a -future dir whose id a -delete dir shares, with no current
// dir of the partition in any log dir, becomes the current dir. OpenDirs
// calls it before anything lists the partitions.
func (d *Dirs) completeMoves() error {
	deleting := map[string]bool{} // ids of -delete dirs
	err := d.eachSubdir(d.paths, func(_, name string) error {
		if _, _, id, ok := parseSuffixedDirName(name, deleteDirSuffix); ok {
			deleting[id] = true
		}
		return nil
	})
	if err != nil || len(deleting) == 0 {
		return err
	}
	return d.eachSubdir(d.paths, func(p, dirName string) error {
		topic, part, id, ok := ParseFutureDirName(dirName)
		if !ok || !deleting[id] {
			return nil
		}
		name := fmt.Sprintf("%s-%d", topic, part)
		if d.hasPartitionDir(name) {
			return nil
		}
		if err := d.fs.Rename(filepath.Join(p, dirName), filepath.Join(p, name)); err != nil {
			return fmt.Errorf("complete the move of %s: %w", name, err)
		}
		if err := syncDir(d.fs, p); err != nil {
			return fmt.Errorf("complete the move of %s: %w", name, err)
		}
		d.logger.Info("completed a log dir move interrupted by a crash", zap.String("partition", name), zap.String("log_dir", p))
		return nil
	})
}

// hasPartitionDir reports whether a directory called name exists in any
// log dir.
func (d *Dirs) hasPartitionDir(name string) bool {
	for _, p := range d.paths {
		if fi, err := d.fs.Stat(filepath.Join(p, name)); err == nil && fi.IsDir() {
			return true
		}
	}
	return false
}

// RemoveDeleted removes the -delete dirs left in the online log dirs (by
// a crash, or a swap whose removal failed), as Kafka deletes them after a
// restart. It returns how many it removed.
func (d *Dirs) RemoveDeleted() (int, error) {
	n := 0
	var errs []error
	err := d.eachSubdir(d.OnlinePaths(), func(p, name string) error {
		if _, _, _, ok := parseSuffixedDirName(name, deleteDirSuffix); !ok {
			return nil
		}
		if err := d.fs.RemoveAll(filepath.Join(p, name)); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
			return nil
		}
		n++
		return nil
	})
	return n, errors.Join(append(errs, err)...)
}

// RemoveDir removes a directory tree in the log dirs (a -delete dir a move
// left) through the dirs' file layer.
func (d *Dirs) RemoveDir(path string) error {
	if err := d.fs.RemoveAll(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// WriteLeaderEpochs replaces dir's leader-epoch-checkpoint with entries:
// the broker writes the current log's epochs into a future log before the
// swap, since both hold the same batches then.
func WriteLeaderEpochs(fsys vfs.FS, dir string, entries []LeaderEpochEntry) error {
	if fsys == nil {
		fsys = vfs.Default
	}
	return writeLeaderEpochs(fsys, dir, entries)
}

// ReplaceWithFuture makes the future log f (opened on a -future dir in
// another log dir) the log l is: both must end at the same offset
// (ErrNotCaughtUp otherwise). Under l's and f's locks it fsyncs f, renames
// l's directory to <topic>-<partition>.<id>-delete (syncing its log dir),
// renames f's to <topic>-<partition> (syncing the target log dir), and
// moves f's segments into l, which from then on serves and appends in the
// new directory with its producer state and log start offset unchanged. f
// is left closed and empty. It returns the -delete dir, for the caller to
// remove once convenient; the old segments' files stay open while a Region
// still reads them.
//
// The caller holds the partition's lock, so no append, truncation or
// retention of l runs meanwhile; readers wait only for the renames. When
// the second rename fails the first is undone and l keeps its directory.
func (l *Log) ReplaceWithFuture(f *Log) (string, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if l.isClosed() || f.isClosed() {
		return "", fmt.Errorf("replace %s with %s: %w", l.dir, f.dir, ErrClosed)
	}
	if err := l.offline(); err != nil {
		return "", fmt.Errorf("replace %s: %w", l.dir, err)
	}
	if err := f.offline(); err != nil {
		return "", fmt.Errorf("replace with %s: %w", f.dir, err)
	}
	if le, fe := l.EndOffset(), f.EndOffset(); le != fe {
		return "", fmt.Errorf("replace %s (ends at %d) with %s (ends at %d): %w", l.dir, le, f.dir, fe, ErrNotCaughtUp)
	}
	topic, part, id, ok := ParseFutureDirName(filepath.Base(f.dir))
	if !ok {
		return "", fmt.Errorf("replace %s with %s: not a future log's directory", l.dir, f.dir)
	}
	// Everything of the future log on disk first: from the first rename
	// on, a crash makes it the partition's log.
	if err := f.flushLocked(); err != nil {
		return "", fmt.Errorf("replace %s: %w", l.dir, err)
	}
	// The current log's flusher moves its recovery point and syncs its
	// directory by name: let it finish before either changes.
	if err := l.waitFlushes(); err != nil {
		return "", fmt.Errorf("replace %s: %w", l.dir, err)
	}
	srcDir, dstDir := filepath.Dir(l.dir), filepath.Dir(f.dir)
	cur := l.dir
	doomed := filepath.Join(srcDir, deleteDirName(topic, part, id))
	target := filepath.Join(dstDir, fmt.Sprintf("%s-%d", topic, part))

	l.mu.Lock()
	f.mu.Lock()
	unlock := func() { f.mu.Unlock(); l.mu.Unlock() }
	if err := l.fs.Rename(cur, doomed); err != nil {
		unlock()
		return "", fmt.Errorf("replace %s: %w", cur, l.fail(err))
	}
	if err := syncDir(l.fs, srcDir); err != nil {
		unlock()
		return "", fmt.Errorf("replace %s: %w", cur, l.fail(err))
	}
	if err := f.fs.Rename(f.dir, target); err != nil {
		// Put the current log back where it was; a failed undo leaves
		// its dir as a crash would, which OpenDirs completes.
		uerr := l.fs.Rename(doomed, cur)
		unlock()
		if uerr != nil {
			return "", fmt.Errorf("replace %s: %w (undo: %w)", cur, f.fail(err), l.fail(uerr))
		}
		return "", fmt.Errorf("replace %s: %w", cur, f.fail(err))
	}
	if err := syncDir(f.fs, dstDir); err != nil {
		// The rename happened; only its durability is in doubt, and a
		// crash before it lands is completed by OpenDirs.
		l.logger.Warn("could not sync the log dir after a move", zap.String("log_dir", dstDir), zap.Error(err))
	}
	for _, s := range f.segs {
		s.setDir(target)
	}
	old := l.segs
	l.segs, f.segs = f.segs, nil
	l.dir = target
	l.logger = l.logger.With(zap.String("log", target))
	l.end = f.end
	l.recoveryPoint = f.recoveryPoint
	l.dirUnsynced = false
	l.unflushedRecords = 0
	// The cleaner's record of what it cleaned belongs to the old files.
	l.truncatedTo = -1
	if f.onOffline != nil {
		l.onOffline = f.onOffline
	}
	f.closed = true
	unlock()

	var errs []error
	for _, s := range old {
		errs = append(errs, s.close())
	}
	// The producer table moves with l; a snapshot at the end in the new
	// directory lets the next start skip replaying the copied batches.
	l.snapshotProducers(l.end)
	if err := errors.Join(errs...); err != nil {
		l.logger.Warn("closing the segments of a replaced log", zap.Error(err))
	}
	return doomed, nil
}

// setDir points the segment's file paths into dir, after its directory was
// renamed (the open .log descriptor follows the rename by itself). Called
// with Log.mu's write lock held.
func (s *segment) setDir(dir string) {
	s.dir = dir
	s.index.file.mu.Lock()
	s.index.file.path = s.path(indexSuffix)
	s.index.file.mu.Unlock()
	s.times.file.mu.Lock()
	s.times.file.path = s.path(timeIndexSuffix)
	s.times.file.mu.Unlock()
}

// CopyFrom appends to the future log f the next batches of src, its
// current log, at most about maxBytes of them (at least one batch), as
// Kafka's ReplicaAlterLogDirsThread fetches from the local log up to its
// end. It returns the bytes copied, 0 when f has caught up. f follows
// src's changes: a src truncated below f's end truncates f to it, and a
// src whose start passed f's end (retention, DeleteRecords) restarts f
// empty at src's start. The caller serializes CopyFrom with any other
// write to f.
func (f *Log) CopyFrom(src *Log, maxBytes int) (int, error) {
	next, end := f.EndOffset(), src.EndOffset()
	switch {
	case next > end:
		if err := f.TruncateTo(end); err != nil {
			return 0, fmt.Errorf("copy into %s: %w", f.Dir(), err)
		}
		return 0, nil
	case next == end:
		return 0, nil
	}
	data, err := src.Read(next, maxBytes, end)
	if errors.Is(err, ErrOffsetOutOfRange) {
		start := src.StartOffset()
		if next >= start {
			return 0, fmt.Errorf("copy into %s at %d: %w", f.Dir(), next, err)
		}
		if err := f.TruncateFullyTo(start); err != nil {
			return 0, fmt.Errorf("copy into %s: %w", f.Dir(), err)
		}
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("copy into %s at %d: %w", f.Dir(), next, err)
	}
	if len(data) == 0 {
		return 0, nil
	}
	if err := f.Append(data, AppendInfo{}); err != nil {
		return 0, fmt.Errorf("copy into %s: %w", f.Dir(), err)
	}
	return len(data), nil
}
