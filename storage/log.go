package storage

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"github.com/gokafka/gokafka/storage/vfs"
	"go.uber.org/zap"
)

// Errors callers can test for.
var (
	// ErrOffsetOutOfRange is returned by Read for an offset below the log
	// start or above the log end (OFFSET_OUT_OF_RANGE).
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrCorruption marks data on disk that fails a check: "the disk lied",
	// as opposed to a caller's mistake.
	ErrCorruption = errors.New("corrupt log data")
	// ErrClosed is returned by operations on a closed log.
	ErrClosed = errors.New("log closed")
	// ErrOffline marks a log taken offline (offline.go): a write, fsync or
	// truncation of it failed, or of another log in its log dir
	// (TakeOffline). From then on every writing method returns it,
	// wrapping the first failure, and the recovery point no longer moves.
	// The broker answers KAFKA_STORAGE_ERROR for such a partition.
	ErrOffline = errors.New("log is offline after an I/O failure in its log dir")
	// ErrFlushFailed marks, besides ErrOffline, a log whose fsync failed, in
	// the background after a roll or in a flush. The fsync is never retried
	// (flush.go).
	ErrFlushFailed = errors.New("an fsync of the log failed")
)

// OpenOptions carry what Open needs beyond the Config.
type OpenOptions struct {
	Logger *zap.Logger
	// Now is the clock; nil means time.Now. Tests pass a fake clock to drive
	// roll and retention by time.
	Now func() time.Time
	// RecoveryPoint is the offset up to which the log is known flushed (from
	// recovery-point-offset-checkpoint); segments from it on are scanned.
	RecoveryPoint int64
	// CleanShutdown skips scanning when the broker stopped cleanly.
	CleanShutdown bool
	// LogStartOffset is the log start offset from
	// log-start-offset-checkpoint: a DeleteRecords (or a leader's log
	// start, on a follower) may have moved it past the first segment's
	// base. The larger of the two wins, capped at the log end, as in
	// Kafka's log loading.
	LogStartOffset int64
	// FS is the file layer; nil means vfs.Default, the operating system's.
	FS vfs.FS
	// OnOffline, when set, is called once when an I/O failure takes the log
	// offline (not for TakeOffline), with the error wrapping ErrOffline, so
	// that the broker takes the whole log dir offline as Kafka's
	// LogDirFailureChannel does. It runs in the goroutine that failed, which
	// may hold the log's and the caller's locks: it must only hand the
	// failure on, never call back into the log.
	OnOffline func(err error)
}

// AppendInfo describes a validated, offset-stamped batch (or run of batches)
// handed to Append.
type AppendInfo struct {
	BaseOffset   int64
	LastOffset   int64
	MaxTimestamp int64
	// OffsetOfMaxTimestamp is the offset Kafka records in the time index
	// for MaxTimestamp (the batch's last offset).
	OffsetOfMaxTimestamp int64
	// Records is the number of records, for flush.messages.
	Records int64
}

// Log is one partition's log: a directory of segments.
//
// Append, Roll, TruncateTo and DeleteRetained must be called by one writer at
// a time (the broker's partition lock); Read, EndOffset, StartOffset and the
// lookups may run concurrently with them.
//
// Internally three locks keep this safe. wmu serializes the writing methods
// (including Flush, which the broker's scheduler may call without the
// partition lock). mu guards the segment list and what each segment has
// published (size, end offset, index entry counts) and the recovery point:
// writers take it only to publish, after the bytes are in the files, and
// readers hold its read lock for the whole read, so a segment is never
// closed under a reader. fmu guards the background flush of rolled segments
// (flush.go): its queue and the flusher's done channel; the flusher takes
// mu, never wmu, to move the recovery point, so no reader and no writer
// waits for its fsync. Lock order: wmu before mu, wmu before fmu; fmu and
// mu are never held together. The failure that takes the log offline is
// an atomic, set once (offline.go), so any of them may read it.
type Log struct {
	dir       string
	fs        vfs.FS
	logger    *zap.Logger
	now       func() time.Time
	onOffline func(error)

	wmu              sync.Mutex
	cfg              Config         // guarded by wmu
	producers        *ProducerState // guarded by the caller's partition lock
	unflushedRecords int64          // guarded by wmu
	firstUnflushed   time.Time      // guarded by wmu
	hdrBuf           []batchHeader  // guarded by wmu; Append's headers, reused
	producersExpired bool           // guarded by wmu; ExpireProducers removed some
	// dirUnsynced says a segment file was created (or the directory
	// itself) since the directory was last fsynced: the next flush syncs
	// it and its parent before the recovery point covers that segment.
	// Guarded by wmu. (A roll's new segment is synced by the flusher.)
	dirUnsynced bool

	mu            sync.RWMutex
	segs          []*segment // guarded by mu; oldest first, never empty while open
	start, end    int64      // guarded by mu
	recoveryPoint int64      // guarded by mu
	closed        bool       // guarded by mu (written with wmu held too)
	// truncatedTo is the lowest offset a truncation cut the log to since
	// the cleaner last asked (CleanedThrough); -1 when none.
	truncatedTo int64 // guarded by mu

	fmu      sync.Mutex
	rolled   []rolledSegment // guarded by fmu; waiting for their fsync, oldest first
	flushing chan struct{}   // guarded by fmu; non-nil while the flusher runs, closed when it exits
	// failure wraps ErrOffline once the log is offline; set once, read
	// without a lock (offline.go).
	failure atomic.Pointer[error]
	// syncRolled fsyncs one rolled segment (syncRolledSegment); tests
	// replace it before the first append to hold or fail the flusher.
	syncRolled func(rolledSegment) error

	// unstable is the readers' copy of the open and unreplicated
	// transactions (txn_index.go), nil when there are none; written under
	// the partition lock that guards producers.
	unstable atomic.Pointer[unstableView]

	scanBufs sync.Pool // *batchScanner buffers reused by readers
	// regions counts the Regions handed out and not yet released.
	regions atomic.Int64
	// cleanHook, when set (tests only), is called at each step of a clean's
	// swap; an error stops the clean there as a crash would, leaving the
	// files as they are.
	cleanHook func(step string) error
}

// Open opens (creating if needed) the partition directory dir, recovers a
// torn tail of the active segment (and any segment after RecoveryPoint) by
// truncating at the last whole, CRC-valid batch, rebuilds missing or corrupt
// indexes, and rebuilds producer state from batch headers.
func Open(dir string, cfg Config, opts OpenOptions) (*Log, error) {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	_, statErr := opts.FS.Stat(dir)
	if err := opts.FS.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	logger := opts.Logger.With(zap.String("log", dir))
	segs, err := loadSegments(dir, cfg, opts, logger)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	created := len(segs) == 0
	if created {
		s, err := createSegment(opts.FS, dir, 0, opts.Now(), cfg)
		if err != nil {
			return nil, fmt.Errorf("open log %s: %w", dir, err)
		}
		segs = append(segs, s)
	}
	if a := segs[len(segs)-1]; !a.index.file.isWritable() || !a.times.file.isWritable() {
		for _, s := range segs {
			s.close()
		}
		return nil, fmt.Errorf("open log %s: active segment's indexes not mapped for writing", dir)
	}
	l := &Log{
		dir:        dir,
		fs:         opts.FS,
		logger:     logger,
		now:        opts.Now,
		onOffline:  opts.OnOffline,
		cfg:        cfg,
		segs:       segs,
		start:      max(segs[0].base, min(opts.LogStartOffset, segs[len(segs)-1].next)),
		end:        segs[len(segs)-1].next,
		syncRolled: syncRolledSegment,
		// A new directory or a first segment created here needs its
		// directory entry synced (a power loss could drop the whole
		// log otherwise).
		dirUnsynced: statErr != nil || created,
		truncatedTo: -1,
	}
	// Whatever recovery scanned or rewrote goes to disk before the recovery
	// point claims it.
	for _, s := range segs {
		if s.dirty {
			if err := s.sync(); err != nil {
				l.closeSegments()
				return nil, fmt.Errorf("open log %s: %w", dir, err)
			}
		}
	}
	l.recoveryPoint = l.end
	for _, s := range segs {
		if err := s.loadTxnIndex(logger); err != nil {
			l.closeSegments()
			return nil, fmt.Errorf("open log %s: %w", dir, err)
		}
	}
	// After an unclean stop, every segment past the recovery point gets
	// its transaction index rebuilt from the log, as Kafka's LogLoader
	// recovers every segment past the recovery point: an index lost with
	// the power (none may have survived) is written again. The replay
	// starts from a snapshot no newer than the recovery point; the
	// producer state it builds is dropped (it would bring back producers
	// expired since), the one kept comes from the latest snapshot. Below
	// the recovery point the indexes are durable (flush.go).
	snapLimit := l.end
	if !opts.CleanShutdown && opts.RecoveryPoint < l.end {
		if _, err := l.loadProducers(opts.RecoveryPoint); err != nil {
			l.closeSegments()
			return nil, fmt.Errorf("open log %s: rebuild transaction indexes: %w", dir, err)
		}
	}
	ps, err := l.loadProducers(snapLimit)
	if err != nil {
		l.closeSegments()
		return nil, fmt.Errorf("open log %s: rebuild producer state: %w", dir, err)
	}
	l.producers = ps
	l.publishTxns()
	return l, nil
}

// Dir is the partition directory. It changes when a future log replaces
// the log's files (ReplaceWithFuture).
func (l *Log) Dir() string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.dir
}

// FS is the file layer the log uses, for the partition's other files
// (partition.metadata, leader-epoch-checkpoint).
func (l *Log) FS() vfs.FS { return l.fs }

// SetConfig replaces the configuration (after an AlterConfigs or a topic
// config change); it applies from the next append or retention pass.
func (l *Log) SetConfig(cfg Config) {
	l.wmu.Lock()
	l.cfg = cfg
	l.wmu.Unlock()
}

// Append writes batch, whose first base offset must be at least EndOffset()
// (the leader appends at EndOffset; a follower of a compacted log may skip
// offsets), to the
// active segment, rolling first when the segment is full or old. It extends
// the sparse indexes and fsyncs per the flush policy. A roll does not wait
// for the old segment's fsync (flush.go). A failed write or fsync takes
// the log offline; an offline log refuses with ErrOffline.
func (l *Log) Append(batch []byte, info AppendInfo) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return fmt.Errorf("append to %s: %w", l.dir, ErrClosed)
	}
	if err := l.offline(); err != nil {
		return fmt.Errorf("append to %s: %w", l.dir, err)
	}
	if len(batch) == 0 {
		return nil
	}
	hdrs, err := splitBatches(l.hdrBuf[:0], batch)
	l.hdrBuf = hdrs[:0]
	if err != nil {
		return fmt.Errorf("append to %s: %w", l.dir, err)
	}
	if hdrs[0].BaseOffset < l.end {
		// Past the end is allowed: a follower copying a compacted leader's
		// log gets gaps where whole batches were cleaned away (Kafka's
		// appendAsFollower only requires offsets to grow).
		return fmt.Errorf("append to %s: batch starts at offset %d, log ends at %d", l.dir, hdrs[0].BaseOffset, l.end)
	}
	lastOffset := hdrs[len(hdrs)-1].LastOffset()
	now := l.now()
	s := l.active()
	if reason := l.rollReason(s, int64(len(batch)), lastOffset, now); reason != "" {
		if err := l.rollLocked(now); err != nil {
			return fmt.Errorf("append to %s: roll (%s): %w", l.dir, reason, l.fail(err))
		}
		s = l.active()
	}
	pos := s.size
	if _, err := s.log.WriteAt(batch, pos); err != nil {
		// Whatever part landed lies past the published size, where no
		// reader looks, and the next Open cuts it as a torn tail. The log
		// touches the failing disk no more.
		return fmt.Errorf("append to %s: %w", s.log.Name(), l.fail(err))
	}
	s.dirty = true
	l.mu.Lock()
	for i := range hdrs {
		if err = s.addBatch(&hdrs[i], pos, l.cfg); err != nil {
			break
		}
		pos += hdrs[i].size()
	}
	l.end = s.next
	l.mu.Unlock()
	if err != nil {
		return fmt.Errorf("append to %s: index: %w", l.dir, l.fail(err))
	}
	// The producer table follows the log itself, so that a snapshot taken
	// at any roll or close describes exactly the batches below its offset.
	if l.producers != nil {
		txn := false
		for i := range hdrs {
			if hdrs[i].Attributes&(recordbatch.AttrTransactional|recordbatch.AttrControl) != 0 {
				txn = true
				break
			}
		}
		if txn {
			if err := l.recordAborts(s, batch, hdrs); err != nil {
				return fmt.Errorf("append to %s: transaction index: %w", l.dir, l.fail(err))
			}
		} else {
			for i := range hdrs {
				l.producers.replay(&hdrs[i], nil)
			}
		}
	}

	records := info.Records
	if records <= 0 {
		for i := range hdrs {
			records += int64(hdrs[i].RecordCount)
		}
	}
	if l.unflushedRecords == 0 {
		l.firstUnflushed = now
	}
	l.unflushedRecords += records
	if l.unflushedRecords >= l.cfg.FlushMessages {
		if err := l.flushLocked(); err != nil {
			return fmt.Errorf("append to %s: %w", l.dir, err)
		}
	}
	return nil
}

// splitBatches appends to hdrs the headers of the batches in data and
// checks that they tile it exactly with increasing offsets. Append trusts
// the broker's validation of the records but not that it handed over whole
// batches.
func splitBatches(hdrs []batchHeader, data []byte) ([]batchHeader, error) {
	next := int64(-1)
	for pos := 0; pos < len(data); {
		h, err := parseBatchHeader(data[pos:])
		if err != nil {
			return nil, err
		}
		if h.size() > int64(len(data)-pos) {
			return nil, fmt.Errorf("batch at offset %d: %d bytes, %d given: %w", h.BaseOffset, h.size(), len(data)-pos, ErrCorruption)
		}
		if h.BaseOffset < next {
			return nil, fmt.Errorf("batch at offset %d follows offset %d", h.BaseOffset, next-1)
		}
		next = h.LastOffset() + 1
		hdrs = append(hdrs, h)
		pos += int(h.size())
	}
	return hdrs, nil
}

// rollReason says why the active segment must roll before n more bytes
// ending at lastOffset are appended, or "" when it need not. An empty segment
// never rolls. Time-based rolling (segment.ms) counts from the segment's
// creation by the log's clock, or from Open for segments found on disk: it
// does not depend on producer timestamps, so a producer with a skewed clock
// cannot make every batch roll.
func (l *Log) rollReason(s *segment, n, lastOffset int64, now time.Time) string {
	switch {
	case s.size == 0:
		return ""
	case s.size+n > l.cfg.SegmentBytes:
		return "segment.bytes"
	case now.Sub(s.created).Milliseconds() > l.cfg.SegmentMs:
		return "segment.ms"
	case s.full(l.cfg):
		return "index full"
	case !s.fitsOffset(lastOffset):
		return "relative offset overflow"
	}
	return ""
}

// active is the last segment. Writers may call it without mu.
func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

func (l *Log) isClosed() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.closed
}

// StartOffset is the log start offset (the first offset still stored).
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start
}

// Size is the bytes of all segments (DescribeLogDirs' partition size).
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// EndOffset is the log end offset (LEO): the offset the next record gets.
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.end
}

// Roll closes the active segment and starts a new one at EndOffset.
func (l *Log) Roll() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return fmt.Errorf("roll %s: %w", l.dir, ErrClosed)
	}
	if err := l.offline(); err != nil {
		return fmt.Errorf("roll %s: %w", l.dir, err)
	}
	if err := l.rollLocked(l.now()); err != nil {
		return fmt.Errorf("roll %s: %w", l.dir, l.fail(err))
	}
	return nil
}

// rollLocked finishes the active segment the way Kafka does when a segment
// becomes inactive (a last time index entry for its max timestamp, indexes
// trimmed to their entries), starts a new segment at the log end and hands
// the old one to the background flusher, which fsyncs it and only then
// moves the recovery point to the new segment's base (flush.go). Rolling an
// empty segment does nothing.
func (l *Log) rollLocked(now time.Time) error {
	old := l.active()
	if old.size == 0 {
		return nil
	}
	l.mu.Lock()
	err := old.maybeAppendTime(math.MaxInt)
	l.mu.Unlock()
	if err != nil {
		return err
	}
	ns, err := createSegment(l.fs, l.dir, l.end, now, l.cfg)
	if err != nil {
		return err
	}
	// Trim the old indexes to their entries. Readers may still use the old
	// mapping meanwhile: they never look past the published entries. A
	// failed trim is not fatal: the untrimmed file keeps a zero tail that
	// the next Open rejects, rebuilding that segment's indexes.
	if err := old.trimIndexes(); err != nil {
		l.logger.Warn("could not trim the indexes of a rolled segment", zap.Int64("base", old.base), zap.Error(err))
	}
	l.mu.Lock()
	l.segs = append(l.segs, ns)
	uerr := old.unmapIndexes()
	l.mu.Unlock()
	// The flusher also fsyncs the directory, making the new segment's name
	// durable before the recovery point reaches it.
	l.scheduleFlush(old)
	// Kafka snapshots producer state at every roll, so that a restart
	// replays at most the active segment. The snapshot may reach the disk
	// before the data below it: should that data be lost, recovery ends the
	// log below the snapshot's offset and Open deletes the snapshot.
	l.snapshotProducers(ns.base)
	l.unflushedRecords = 0
	l.logger.Debug("rolled segment", zap.Int64("base", ns.base))
	return uerr
}

// Flush fsyncs everything appended so far, waiting for the background
// flush of rolled segments, and advances the recovery point. A failed
// fsync takes the log offline; an offline log returns ErrOffline and syncs
// nothing more.
func (l *Log) Flush() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return nil
	}
	return l.flushLocked()
}

func (l *Log) flushLocked() error {
	if err := l.waitFlushes(); err != nil {
		return fmt.Errorf("flush %s: %w", l.dir, err)
	}
	for _, s := range l.segs {
		if s.dirty || s.txnDirty {
			if err := s.sync(); err != nil {
				return fmt.Errorf("flush %s: %w", l.dir, l.fail(fmt.Errorf("%w: %w", ErrFlushFailed, err)))
			}
		}
	}
	if l.dirUnsynced {
		err := syncDir(l.fs, l.dir)
		if err == nil {
			err = syncDir(l.fs, filepath.Dir(l.dir))
		}
		if err != nil {
			return fmt.Errorf("flush %s: %w", l.dir, l.fail(fmt.Errorf("%w: %w", ErrFlushFailed, err)))
		}
		l.dirUnsynced = false
	}
	l.mu.Lock()
	l.recoveryPoint = l.end
	l.mu.Unlock()
	l.unflushedRecords = 0
	return nil
}

// NeedsFlush reports whether flush.ms has passed since the oldest write not
// yet fsynced; the broker's scheduler polls it and calls Flush.
func (l *Log) NeedsFlush(now time.Time) bool {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	return l.unflushedRecords > 0 && now.Sub(l.firstUnflushed).Milliseconds() >= l.cfg.FlushMs
}

// RecoveryPoint is the offset up to which data is known to be on disk.
func (l *Log) RecoveryPoint() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.recoveryPoint
}

// Producers is the partition's idempotent-producer state.
func (l *Log) Producers() *ProducerState { return l.producers }

// Close flushes (waiting for the background flush of rolled segments) and
// closes the files. A flush failure, earlier or now, is returned; the files
// are closed all the same. An offline log is only closed: nothing more is
// written to its disk.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.isClosed() {
		return nil
	}
	ferr := l.offline()
	if ferr == nil {
		ferr = l.flushLocked()
	}
	var terr error
	if ferr == nil {
		if l.producers != nil && (l.producers.Len() > 0 || l.producersExpired || l.sizeLocked() >= snapshotMinLogBytes) {
			l.snapshotProducers(l.end)
		}
		// Leave the active segment's indexes trimmed to their entries, as
		// Kafka does at a clean close.
		terr = l.active().trimIndexes()
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	return errors.Join(ferr, terr, l.closeSegments())
}

func (l *Log) closeSegments() error {
	var errs []error
	for _, s := range l.segs {
		if err := s.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s: %w", l.dir, err)
	}
	return nil
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	cerr := l.Close()
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("delete %s: %w", l.dir, err)
	}
	return cerr
}

// segmentFor returns the index of the segment whose base offset is the
// largest one <= offset (0 when offset precedes them all). Callers hold mu.
func (l *Log) segmentFor(offset int64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	return max(i-1, 0)
}
