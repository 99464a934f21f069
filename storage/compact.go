package storage

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"github.com/gokafka/gokafka/storage/vfs"
	"math"
	"os"
	"time"

	"github.com/gokafka/gokafka/internal/recordbatch"
	"go.uber.org/zap"
)

// File suffixes of a clean in progress, as Kafka's LogCleaner names them: a
// segment group is written to <base>.log.cleaned (and its indexes), renamed
// to .swap once complete and synced, and renamed over <base>.log under the
// log's locks. Open deletes .cleaned files (an unfinished clean: the old
// segments are all still there) and completes a .swap (recovery.go).
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
	deletedSuffix = ".deleted"
)

// offsetMapEntryBytes is what Kafka's SkimpyOffsetMap spends per key (an
// MD5 hash and an offset); the dedupe buffer is sized in these.
const offsetMapEntryBytes = 24

// dedupeLoadFactor is log.cleaner.io.buffer.load.factor's default.
const dedupeLoadFactor = 0.9

// CleanOptions are what one clean of a log needs beyond the log's Config.
type CleanOptions struct {
	// FirstDirty is the cleaner checkpoint: the offset from which the log
	// has not been cleaned (0 or the log start for a new log).
	FirstDirty int64
	// UpperBound is the high watermark: records at or past it are never
	// cleaned, as Kafka cleans below the last stable offset only.
	UpperBound int64
	// MapEntries is how many keys the offset map may hold
	// (log.cleaner.dedupe.buffer.size / threads / 24 * 0.9).
	MapEntries int
	// Codec compresses and decompresses; required for compressed batches.
	Codec Codec
	// Force cleans whatever the dirty ratio (tests and an explicit call).
	Force bool
	// Throttle, when set, is told of every n bytes read or written and
	// may wait (log.cleaner.io.max.bytes.per.second); an error ends the
	// clean.
	Throttle func(ctx context.Context, n int64) error
}

// CleanResult reports one clean.
type CleanResult struct {
	// Cleaned is false when the log did not need cleaning.
	Cleaned bool
	// NextDirty is the new cleaner checkpoint.
	NextDirty int64
	// Segments counts the segments read; Groups the segments written.
	Segments, Groups int
	// BytesRead and BytesWritten are the .log bytes read and written.
	BytesRead, BytesWritten int64
	// RecordsRemoved counts the records dropped.
	RecordsRemoved int64
}

// errCleanAborted means the log changed under a clean (a truncation, a
// retention pass, a close): the clean is dropped and tried again later.
var errCleanAborted = errors.New("log changed during the clean")

// cleanView is what a clean works from: the segments it may read, each
// with its .log reference held, and the writer state it needs, copied under
// the log's locks.
type cleanView struct {
	cfg      Config
	segs     []*segment // all segments but the active one, oldest first
	refs     []*fileRef // the .log reference held on each
	ends     []int64    // the base of each one's successor
	sizes    []int64
	maxTs    []int64
	start    int64
	bound    int64           // min(active base, LSO at the upper bound, recovery point)
	producer map[int64]int64 // producer id -> last offset of its last batch
	// aborted are the transaction index entries of each segment in segs,
	// and abortedBy the same by producer, for the clean's
	// transaction rules (compact_txn.go).
	aborted   [][]AbortedTxn
	abortedBy map[int64][]AbortedTxn
}

func (v *cleanView) release() {
	for _, r := range v.refs {
		_ = r.release()
	}
}

// view snapshots the log for a clean. The .log references keep the files
// readable should retention delete segments meanwhile; the clean then
// notices at the swap and gives up.
func (l *Log) view(upper int64) (*cleanView, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, fmt.Errorf("clean %s: %w", l.dir, ErrClosed)
	}
	v := &cleanView{cfg: l.cfg, start: l.start, producer: map[int64]int64{}}
	active := l.segs[len(l.segs)-1]
	// As Kafka, clean below the last stable offset only: every
	// transaction in the cleaned range is then complete.
	v.bound = min(active.base, l.LastStableOffset(upper), l.recoveryPoint)
	for i, s := range l.segs[:len(l.segs)-1] {
		s.logRef.acquire()
		v.refs = append(v.refs, s.logRef)
		v.segs = append(v.segs, s)
		v.ends = append(v.ends, l.segs[i+1].base)
		v.sizes = append(v.sizes, s.size)
		v.maxTs = append(v.maxTs, s.maxTs)
		v.addAborted(s.aborted)
	}
	// An aborted transaction's data may lie in a cleaned segment while its
	// marker, and so its transaction index entry, lies in the active one:
	// its entries decide what the clean drops too, as Kafka's cleaner reads
	// the transaction indexes past the cleaned range
	// (collectAbortedTransactions).
	v.addAbortedBeyond(active.aborted)
	if l.producers != nil {
		for pid, e := range l.producers.producers {
			if len(e.batches) > 0 {
				v.producer[pid] = e.batches[len(e.batches)-1].LastOffset
			}
		}
	}
	return v, nil
}

// CleanedThrough returns, and forgets, the lowest offset a truncation cut
// the log to since the last call (-1 when none): a cleaner checkpoint above
// it no longer describes the log (Kafka's LogCleanerManager
// maybeTruncateCheckpoint).
func (l *Log) CleanedThrough() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.truncatedTo
	l.truncatedTo = -1
	return t
}

// Clean compacts the closed segments of a log whose Config.Compact is set,
// as Kafka's LogCleaner does:
//
//  1. The cleanable part is the closed segments wholly below the active
//     segment, the upper bound (high watermark) and the recovery point,
//     stopping at the first segment younger than min.compaction.lag.ms. Its
//     dirty part starts at opts.FirstDirty. Unless forced, the log is
//     cleaned only when dirty bytes / cleanable bytes reaches
//     min.cleanable.dirty.ratio, or the oldest dirty batch is older than
//     max.compaction.lag.ms.
//  2. An offset map (key's MD5 -> last offset) is built over whole dirty
//     segments while it has room (opts.MapEntries).
//  3. Every segment from the log start to the end of the map is rewritten,
//     in groups of consecutive segments that fit segment.bytes, keeping a
//     record when it has a key, no later offset for that key is in the map,
//     and it is not a tombstone past the delete horizon. The horizon is the
//     last clean segment's modification time minus delete.retention.ms, so
//     a tombstone survives its first clean and at least
//     delete.retention.ms after it, and a segment's tombstones go when the
//     segment's own mtime is older than the horizon. Records without a key
//     are dropped, as Kafka drops them.
//  4. Each group is written to .cleaned files, synced, renamed to .swap and
//     then over the first segment's files under the log's locks, replacing
//     the group in the segment list (swap).
//
// It returns the new cleaner checkpoint in CleanResult.NextDirty.
func (l *Log) Clean(ctx context.Context, opts CleanOptions) (CleanResult, error) {
	res := CleanResult{NextDirty: opts.FirstDirty}
	// Read under the log's lock: a log dir move (future_log.go) may
	// change it during the clean, whose swap then aborts.
	dir := l.Dir()
	v, err := l.view(opts.UpperBound)
	if err != nil {
		return res, err
	}
	defer v.release()
	if !v.cfg.Compact {
		return res, nil
	}
	now := l.now()
	firstDirty := max(opts.FirstDirty, v.start)
	// The cleanable prefix of the closed segments.
	n := 0
	for n < len(v.segs) && v.ends[n] <= v.bound {
		if v.cfg.MinCompactionLagMs > 0 && v.maxTs[n] > now.UnixMilli()-v.cfg.MinCompactionLagMs {
			break
		}
		n++
	}
	var cleanBytes, dirtyBytes int64
	firstDirtySeg := n
	for i := range n {
		if v.ends[i] <= firstDirty {
			cleanBytes += v.sizes[i]
		} else {
			if firstDirtySeg == n {
				firstDirtySeg = i
			}
			dirtyBytes += v.sizes[i]
		}
	}
	if firstDirtySeg == n {
		return res, nil
	}
	if !opts.Force {
		ratio := float64(dirtyBytes) / float64(max(cleanBytes+dirtyBytes, 1))
		due := false
		if v.cfg.MaxCompactionLagMs < math.MaxInt64 {
			if ts, err := firstBatchTimestamp(v.segs[firstDirtySeg], v.sizes[firstDirtySeg]); err == nil && ts >= 0 && now.UnixMilli()-ts > v.cfg.MaxCompactionLagMs {
				due = true
			}
		}
		if ratio < v.cfg.MinCleanableDirtyRatio && !due {
			return res, nil
		}
	}

	// The offset map over whole dirty segments.
	om := make(map[[16]byte]int64)
	var buf []byte
	mapEnd := firstDirtySeg
	for i := firstDirtySeg; i < n; i++ {
		if i > firstDirtySeg && len(om)+int(v.ends[i]-v.segs[i].base) > opts.MapEntries {
			break
		}
		err := l.scanSegment(ctx, v.segs[i], v.sizes[i], &buf, opts.Throttle, func(batch []byte, h *batchHeader) error {
			if h.IsControl() || v.isAborted(h) {
				return nil
			}
			payload, err := batchPayload(batch, h, opts.Codec)
			if err != nil {
				return err
			}
			return forEachRecord(payload, h, func(r *cleanerRecord) error {
				if r.hasKey {
					om[md5.Sum(r.key)] = h.BaseOffset + int64(r.offsetDelta)
				}
				return nil
			})
		})
		if err != nil {
			return res, fmt.Errorf("clean %s: offset map: %w", dir, err)
		}
		res.BytesRead += v.sizes[i]
		mapEnd = i + 1
	}
	endOffset := v.ends[mapEnd-1]

	horizon := int64(0)
	if firstDirtySeg > 0 {
		if fi, err := v.segs[firstDirtySeg-1].fs.Stat(v.segs[firstDirtySeg-1].path(logSuffix)); err == nil {
			horizon = fi.ModTime().UnixMilli() - v.cfg.DeleteRetentionMs
		}
	}

	for _, g := range groupSegments(v, mapEnd) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		w, err := l.cleanGroup(ctx, v, g, om, horizon, opts, &buf)
		if err != nil {
			return res, fmt.Errorf("clean %s: %w", dir, err)
		}
		res.Segments += g[1] - g[0]
		res.RecordsRemoved += w.removed
		if w.seg == nil {
			continue // nothing changed
		}
		if err := l.swap(v.segs[g[0]:g[1]], w.seg); err != nil {
			return res, fmt.Errorf("clean %s: %w", dir, err)
		}
		res.Groups++
		res.BytesWritten += w.seg.size
	}
	res.Cleaned = true
	res.NextDirty = endOffset
	l.logger.Info("cleaned log", zap.Int64("firstDirty", firstDirty), zap.Int64("nextDirty", endOffset),
		zap.Int("segments", res.Segments), zap.Int64("recordsRemoved", res.RecordsRemoved),
		zap.Int64("bytesRead", res.BytesRead), zap.Int64("bytesWritten", res.BytesWritten))
	return res, nil
}

// groupSegments splits the first n segments of v into runs that fit one
// segment (segment.bytes, and offsets relative to the first base that fit
// an index entry), as Kafka's groupSegmentsBySize. Each run is [from, to).
func groupSegments(v *cleanView, n int) [][2]int {
	var out [][2]int
	for i := 0; i < n; {
		j, size := i+1, v.sizes[i]
		for j < n && size+v.sizes[j] <= v.cfg.SegmentBytes && v.ends[j]-1-v.segs[i].base <= math.MaxInt32 {
			size += v.sizes[j]
			j++
		}
		out = append(out, [2]int{i, j})
		i = j
	}
	return out
}

// firstBatchTimestamp is the max timestamp of s's first batch, which Kafka
// takes for a dirty segment's age against max.compaction.lag.ms.
func firstBatchTimestamp(s *segment, size int64) (int64, error) {
	if size < recordbatch.HeaderSize {
		return -1, nil
	}
	h, err := newBatchScanner(s.log, size).header(0)
	if err != nil {
		return -1, err
	}
	return h.MaxTimestamp, nil
}

// scanSegment calls fn with every whole batch of s's first size bytes.
func (l *Log) scanSegment(ctx context.Context, s *segment, size int64, buf *[]byte, throttle func(context.Context, int64) error, fn func(batch []byte, h *batchHeader) error) error {
	sc := newBatchScanner(s.log, size)
	for pos := int64(0); pos < size; {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := sc.header(pos)
		if err != nil {
			return corruptAt(s, pos, err)
		}
		if int64(cap(*buf)) < h.size() {
			*buf = make([]byte, h.size())
		}
		b := (*buf)[:h.size()]
		if _, err := s.log.ReadAt(b, pos); err != nil {
			return fmt.Errorf("read %s at %d: %w", s.log.Name(), pos, err)
		}
		if throttle != nil {
			if err := throttle(ctx, h.size()); err != nil {
				return err
			}
		}
		if err := fn(b, &h); err != nil {
			return err
		}
		pos += h.size()
	}
	return nil
}

// cleanedGroup is a group's cleaned segment (nil when the group is
// unchanged and stays as it is).
type cleanedGroup struct {
	seg     *segment
	removed int64
}

// cleanGroup writes the records of segments g of v that the map and the
// delete horizon keep to a new segment named <base>.log.cleaned, synced,
// with its indexes rebuilt and trimmed and its mtime the group's last
// segment's (which the delete horizon reads later).
func (l *Log) cleanGroup(ctx context.Context, v *cleanView, g [2]int, om map[[16]byte]int64, horizon int64, opts CleanOptions, buf *[]byte) (cleanedGroup, error) {
	var out cleanedGroup
	first := v.segs[g[0]]
	ns, err := createCleanedSegment(l.fs, first.dir, first.base, v.cfg) // its dir, not the log's: see Clean
	if err != nil {
		return out, err
	}
	fail := func(err error) (cleanedGroup, error) {
		ns.removeCleaned()
		return cleanedGroup{}, err
	}
	changed := g[1]-g[0] > 1
	var lastMtime time.Time
	var dst []byte
	for i := g[0]; i < g[1]; i++ {
		s := v.segs[i]
		fi, err := s.fs.Stat(s.path(logSuffix))
		if err != nil {
			return fail(fmt.Errorf("stat %s: %w", s.path(logSuffix), err))
		}
		lastMtime = fi.ModTime()
		retainDeletes := fi.ModTime().UnixMilli() > horizon
		err = l.scanSegment(ctx, s, v.sizes[i], buf, opts.Throttle, func(batch []byte, h *batchHeader) error {
			dst = dst[:0]
			var same bool
			if h.IsControl() {
				// Markers are kept (Kafka removes them after
				// delete.retention.ms once their data is gone; gokafka
				// keeps these few bytes).
				dst, same = append(dst, batch...), true
			} else {
				aborted := v.isAborted(h)
				last, ok := v.producer[h.ProducerID]
				retainEmpty := h.ProducerID >= 0 && ok && last == h.LastOffset()
				var kept int
				var err error
				dst, kept, same, err = filterBatch(dst, batch, h, opts.Codec, retainEmpty, func(r *cleanerRecord) bool {
					if !r.hasKey || aborted {
						return false
					}
					if o, ok := om[md5.Sum(r.key)]; ok && h.BaseOffset+int64(r.offsetDelta) < o {
						return false
					}
					return !r.tombstone || retainDeletes
				})
				if err != nil {
					return err
				}
				out.removed += int64(h.RecordCount) - int64(kept)
			}
			if !same {
				changed = true
			}
			if len(dst) == 0 {
				return nil
			}
			nh, err := parseBatchHeader(dst)
			if err != nil {
				return err
			}
			pos := ns.size
			if _, err := ns.log.WriteAt(dst, pos); err != nil {
				return fmt.Errorf("write %s: %w", ns.log.Name(), err)
			}
			return ns.addBatch(&nh, pos, v.cfg)
		})
		if err != nil {
			return fail(err)
		}
	}
	if !changed {
		ns.removeCleaned()
		return out, nil
	}
	for i := g[0]; i < g[1]; i++ {
		ns.aborted = append(ns.aborted, v.aborted[i]...)
	}
	if err := ns.finishCleaned(v.cfg, lastMtime); err != nil {
		return fail(err)
	}
	out.seg = ns
	return out, nil
}

// createCleanedSegment opens <base>.log.cleaned and its indexes, empty and
// mapped for writing, replacing leftovers of an earlier attempt.
func createCleanedSegment(fsys vfs.FS, dir string, base int64, cfg Config) (*segment, error) {
	s := newSegmentShell(fsys, dir, base, time.Time{})
	s.index.file.path += cleanedSuffix
	s.times.file.path += cleanedSuffix
	f, err := fsys.OpenFile(s.path(logSuffix)+cleanedSuffix, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create cleaned segment: %w", err)
	}
	s.log, s.logRef = f, newFileRef(f)
	if err := s.mapIndexesEmpty(cfg); err != nil {
		s.removeCleaned()
		return nil, err
	}
	return s, nil
}

// finishCleaned leaves a cleaned segment as a rolled one is left: a last
// time index entry, trimmed indexes, everything synced, mappings dropped;
// and its mtime set.
func (s *segment) finishCleaned(cfg Config, mtime time.Time) error {
	if err := s.maybeAppendTime(math.MaxInt); err != nil {
		return err
	}
	if err := s.trimIndexes(); err != nil {
		return err
	}
	if err := s.sync(); err != nil {
		return err
	}
	if err := s.unmapIndexes(); err != nil {
		return err
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(s.log.Name(), mtime, mtime); err != nil {
			return fmt.Errorf("set mtime of %s: %w", s.log.Name(), err)
		}
	}
	return nil
}

// removeCleaned closes and deletes a cleaned segment that is not used.
func (s *segment) removeCleaned() {
	_ = s.close()
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		_ = s.fs.Remove(s.path(suf) + cleanedSuffix)
	}
}

// swap replaces the segments old (consecutive, oldest first) by the
// cleaned segment ns, as Kafka's replaceSegments:
//
//  1. rename ns's files .cleaned -> .swap, the .log last, and fsync the
//     directory: from here a crash completes the swap at Open;
//  2. under Log.mu, rename the index .swap files over old[0]'s, then the
//     .log.swap over old[0]'s .log, and put ns in the list in place of old;
//  3. delete the other old segments' files.
//
// It holds wmu throughout, so no append, truncation or retention pass runs
// alongside, and mu only for step 2, so readers wait for three renames.
// The old segments' .log files stay open (the cleaner's and any Region's
// references) until their last reader is done, as retention leaves them.
func (l *Log) swap(old []*segment, ns *segment) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	abort := func(err error) error {
		ns.removeCleaned()
		return err
	}
	l.mu.RLock()
	closed := l.closed
	at := -1
	for i, s := range l.segs {
		if s == old[0] {
			at = i
			break
		}
	}
	ok := !closed && at >= 0 && at+len(old) < len(l.segs)
	for k := 0; ok && k < len(old); k++ {
		ok = l.segs[at+k] == old[k]
	}
	l.mu.RUnlock()
	if !ok {
		return abort(errCleanAborted)
	}
	base := old[0].base
	name := func(suf string) string { return old[0].path(suf) }
	if err := l.hook("cleaned"); err != nil {
		return err
	}
	// The group's transaction index entries go to the first segment's
	// name first: should a crash stop the swap, Open drops the entries
	// past that segment's end.
	if err := ns.writeTxnIndex(ns.aborted); err != nil {
		return abort(fmt.Errorf("swap segment %d: %w", base, err))
	}
	for _, suf := range []string{timeIndexSuffix, indexSuffix, logSuffix} {
		if err := l.fs.Rename(name(suf)+cleanedSuffix, name(suf)+swapSuffix); err != nil {
			return abort(fmt.Errorf("swap segment %d: %w", base, err))
		}
		if err := l.hook("swap" + suf); err != nil {
			return err
		}
	}
	if err := syncDir(l.fs, l.dir); err != nil {
		// The .swap files would be completed at the next Open: finish now
		// rather than leave the directory half-renamed.
		l.logger.Warn("could not sync the directory before a swap", zap.Error(err))
	}
	// A reader maps an inactive segment's indexes by name on its first
	// lookup, under mu's read lock: the new indexes must not take old[0]'s
	// names while old[0] is still on the list.
	l.mu.Lock()
	for _, suf := range []string{timeIndexSuffix, indexSuffix, logSuffix} {
		if err := l.fs.Rename(name(suf)+swapSuffix, name(suf)); err != nil {
			l.mu.Unlock()
			return fmt.Errorf("swap segment %d: %w", base, err)
		}
		if err := l.hook("final" + suf); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	ns.index.file.path = name(indexSuffix)
	ns.times.file.path = name(timeIndexSuffix)
	segs := make([]*segment, 0, len(l.segs)-len(old)+1)
	segs = append(segs, l.segs[:at]...)
	segs = append(segs, ns)
	segs = append(segs, l.segs[at+len(old):]...)
	l.segs = segs
	l.mu.Unlock()
	var errs []error
	for _, s := range old {
		errs = append(errs, s.close())
		if s == old[0] {
			continue // its names now belong to ns
		}
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix, txnIndexSuffix} {
			if err := l.fs.Remove(s.path(suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
			if err := l.hook("deleted" + suf); err != nil {
				return err
			}
		}
	}
	errs = append(errs, syncDir(l.fs, l.dir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("swap segment %d: %w", base, err)
	}
	return nil
}

// hook runs the test hook for a step of a clean.
func (l *Log) hook(step string) error {
	if l.cleanHook == nil {
		return nil
	}
	return l.cleanHook(step)
}
