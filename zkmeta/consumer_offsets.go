package zkmeta

// Committed consumer-group offsets in Kafka's ZooKeeper-era layout.
//
//	/consumers/<group>/offsets/<topic>/<partition>        "42"
//	/consumers/<group>/offsets-meta/<topic>/<partition>   {"version":1,"offset":42,
//	                                                        "leader_epoch":3,"metadata":"...",
//	                                                        "commit_timestamp":1700000000000,
//	                                                        "expire_timestamp":-1}
//
// The offsets tree is exactly what Kafka's ZooKeeper consumers and
// KafkaZkClient.getConsumerOffset/setOrCreateConsumerOffset read and write:
// the data of a partition's znode is the offset as a decimal string, nothing
// else, so Burrow's kafka_zk module, zkCli and 0.8-2.x tooling read our
// commits and we read theirs.
//
// Everything newer clients commit besides the offset (leader epoch, the
// metadata string, the commit and explicit expiry timestamps) lives in a
// sibling tree, offsets-meta, with the same shape. A sibling rather than a
// child of the partition znode keeps the offsets tree byte-for-byte what old
// readers expect (no unexpected children to walk past or to block a
// non-recursive delete). The meta JSON repeats the offset: when an old tool
// rewrote the plain offset and left the meta behind, the two disagree and
// the meta is ignored (leader epoch -1, no metadata, commit time from the
// offset znode's mtime), exactly as for an offset that never had meta.
//
// A commit is written in ZooKeeper multis of at most multiChunk operations
// and commitChunkBytes of paths and data, so that no request comes near
// ZooKeeper's jute.maxbuffer (1 MB by default) or go-zookeeper's 1.5 MB
// request buffer: one multi for 10,000 partitions fails with "zk: buffer
// too small" however often it is retried. A partition's offset znode and
// its offsets-meta znode are always in the same multi, so a reader never
// sees one without the other. A commit that fits one chunk (up to 100
// partitions with Kafka's default offset.metadata.max.bytes) is all or
// nothing; a larger one is applied chunk by chunk, and when a chunk fails
// the chunks before it stay written. The coordinator then answers the
// whole commit with a retriable error and the client commits again, which
// rewrites the same values, so the end state is what one atomic commit
// would have left.
//
// The common case (every partition was committed before) is a multi of
// setData operations per chunk; when some znodes of a chunk are missing,
// their parents are created first (idempotent creates, outside the multi)
// and the multi creates the leaves.
//
// Group ids become znode names, so a group id that is not a valid znode name
// (empty, ".", "..", containing '/' or characters ZooKeeper rejects) is
// ErrInvalidGroupID; the broker answers INVALID_GROUP_ID.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"go.uber.org/zap"
)

// ErrInvalidGroupID is returned for group ids that cannot be znode names.
var ErrInvalidGroupID = errors.New("group id is not a valid znode name")

const consumersPath = "/consumers"

// consumerOffsetMetaVersion is the version field of the offsets-meta JSON.
const consumerOffsetMetaVersion = 1

// offsetReadParallelism bounds the concurrent reads of one group's offsets:
// go-zookeeper pipelines requests on its one connection, so a few in flight
// hide the round trips without flooding ZooKeeper.
const offsetReadParallelism = 16

// ConsumerOffset is one partition's committed offset for a group, with
// everything OffsetCommit carries.
type ConsumerOffset struct {
	Topic     string
	Partition int32
	// Offset is the next offset the group will consume.
	Offset int64
	// LeaderEpoch is the leader epoch the client committed, -1 for none.
	LeaderEpoch int32
	// Metadata is the client's commit metadata string.
	Metadata string
	// CommitTime is when the commit was accepted (stored in milliseconds).
	CommitTime time.Time
	// ExpireTime is an explicit expiry an old client asked for; zero for
	// none.
	ExpireTime time.Time
}

type consumerOffsetMetaJSON struct {
	Version         int    `json:"version"`
	Offset          int64  `json:"offset"`
	LeaderEpoch     int32  `json:"leader_epoch"`
	Metadata        string `json:"metadata"`
	CommitTimestamp int64  `json:"commit_timestamp"`
	ExpireTimestamp int64  `json:"expire_timestamp"`
}

func consumerGroupPath(group string) string  { return consumersPath + "/" + group }
func consumerOffsetsDir(group string) string { return consumerGroupPath(group) + "/offsets" }
func consumerMetaDir(group string) string    { return consumerGroupPath(group) + "/offsets-meta" }
func consumerOffsetPath(group, topic string, p int32) string {
	return consumerOffsetsDir(group) + "/" + topic + "/" + strconv.Itoa(int(p))
}
func consumerMetaPath(group, topic string, p int32) string {
	return consumerMetaDir(group) + "/" + topic + "/" + strconv.Itoa(int(p))
}

// validGroupID checks that group can be one znode name. ZooKeeper rejects
// NUL, control characters and a few Unicode ranges in paths
// (PathUtils.validatePath); "." and ".." are path components, and '/'
// would nest the group.
func validGroupID(group string) error {
	if group == "" || group == "." || group == ".." || group == "zookeeper" {
		return fmt.Errorf("group %q: %w", group, ErrInvalidGroupID)
	}
	for _, r := range group {
		switch {
		case r == '/', r < 0x20, r >= 0x7f && r <= 0x9f,
			r >= 0xd800 && r <= 0xf8ff, r >= 0xfff0:
			return fmt.Errorf("group %q: %w", group, ErrInvalidGroupID)
		}
	}
	return nil
}

// commitChunkBytes bounds the paths and data of one commit multi. With
// multiChunk it keeps a request far below jute.maxbuffer even when clients
// send large metadata strings (offset.metadata.max.bytes is configurable).
const commitChunkBytes = 256 << 10

// commitOpOverhead is a generous per-operation allowance for what a multi
// carries besides paths and data (headers, ACL, flags, version).
const commitOpOverhead = 64

// offsetWrite is one partition's pending commit: the offset znode's data,
// the meta JSON, and whether each znode is believed to exist.
type offsetWrite struct {
	o          ConsumerOffset
	meta       []byte
	offExists  bool
	metaExists bool
}

// CommitConsumerOffsets writes offsets for group in chunks of whole
// partitions (see the package comment on consumer offsets): each chunk is
// one multi covering both trees. When a partition appears twice, the last
// entry wins.
func (c *Client) CommitConsumerOffsets(ctx context.Context, group string, offsets []ConsumerOffset) error {
	writes, err := offsetWrites(group, offsets)
	if err != nil {
		return err
	}
	for _, chunk := range chunkOffsetWrites(group, writes) {
		if err := c.commitOffsetChunk(ctx, group, chunk, nil); err != nil {
			return err
		}
	}
	return nil
}

// offsetWrites validates offsets and renders each partition's write; when
// a partition appears twice, the last entry wins.
func offsetWrites(group string, offsets []ConsumerOffset) ([]offsetWrite, error) {
	if err := validGroupID(group); err != nil {
		return nil, err
	}
	byKey := make(map[string]int)
	var writes []offsetWrite
	for _, o := range offsets {
		if err := validTopicName(o.Topic); err != nil {
			return nil, fmt.Errorf("commit offsets of group %s: %w", group, err)
		}
		meta, err := json.Marshal(consumerOffsetMetaJSON{
			Version:         consumerOffsetMetaVersion,
			Offset:          o.Offset,
			LeaderEpoch:     o.LeaderEpoch,
			Metadata:        o.Metadata,
			CommitTimestamp: o.CommitTime.UnixMilli(),
			ExpireTimestamp: expireMillis(o.ExpireTime),
		})
		if err != nil {
			return nil, fmt.Errorf("encode offset meta: %w", err)
		}
		// Optimistically assume both znodes exist: after a partition's
		// first commit they always do.
		w := offsetWrite{o: o, meta: meta, offExists: true, metaExists: true}
		key := o.Topic + "/" + strconv.Itoa(int(o.Partition))
		if i, ok := byKey[key]; ok {
			writes[i] = w
			continue
		}
		byKey[key] = len(writes)
		writes = append(writes, w)
	}
	return writes, nil
}

// chunkOffsetWrites splits writes into runs of at most multiChunk/2
// partitions (two operations each) and about commitChunkBytes. A partition
// larger than the byte budget on its own still gets a chunk of its own:
// ZooKeeper is the judge of whether it fits.
func chunkOffsetWrites(group string, writes []offsetWrite) [][]offsetWrite {
	var chunks [][]offsetWrite
	start, size := 0, 0
	for i, w := range writes {
		n := len(consumerOffsetPath(group, w.o.Topic, w.o.Partition)) + len("-9223372036854775808") +
			len(consumerMetaPath(group, w.o.Topic, w.o.Partition)) + len(w.meta) +
			2*commitOpOverhead
		if i > start && (i-start >= multiChunk/2 || size+n > commitChunkBytes) {
			chunks = append(chunks, writes[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(writes) {
		chunks = append(chunks, writes[start:])
	}
	return chunks
}

// commitOffsetChunk writes one chunk in one multi, with extra operations
// (if any) after the offsets in the same multi. When znodes turn out to be
// missing (a first commit) or to exist unexpectedly (a concurrent writer),
// it looks at the chunk's znodes, creates the missing parents and tries
// again, a few times. A failure of one of the extra operations is returned
// as it is (a *multiError whose index counts from the first extra op).
func (c *Client) commitOffsetChunk(ctx context.Context, group string, writes []offsetWrite, extra []any) error {
	const attempts = 5
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		ops := make([]any, 0, 2*len(writes))
		for _, w := range writes {
			op := consumerOffsetPath(group, w.o.Topic, w.o.Partition)
			mp := consumerMetaPath(group, w.o.Topic, w.o.Partition)
			val := []byte(strconv.FormatInt(w.o.Offset, 10))
			if w.offExists {
				ops = append(ops, c.opSet(op, val, -1))
			} else {
				ops = append(ops, c.opCreate(op, val, 0))
			}
			if w.metaExists {
				ops = append(ops, c.opSet(mp, w.meta, -1))
			} else {
				ops = append(ops, c.opCreate(mp, w.meta, 0))
			}
		}
		ops = append(ops, extra...)
		err := c.retrying(ctx, func() error {
			res, err := c.multi(ctx, ops...)
			return c.failedOp(ops, res, err)
		})
		if err == nil {
			return nil
		}
		var me *multiError
		if errors.As(err, &me) && me.index >= 2*len(writes) {
			me.index -= 2 * len(writes)
			return me
		}
		if !errors.Is(err, ErrNoNode) && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("commit offsets of group %s: %w", group, err)
		}
		// Some znodes are missing (a first commit), or appeared or vanished
		// under a concurrent writer: look, create the parents, write again.
		lastErr = err
		err = parallel(ctx, len(writes), offsetReadParallelism, func(i int) error {
			w := &writes[i]
			var err error
			if w.offExists, err = c.znodeExists(ctx, consumerOffsetPath(group, w.o.Topic, w.o.Partition)); err != nil {
				return err
			}
			w.metaExists, err = c.znodeExists(ctx, consumerMetaPath(group, w.o.Topic, w.o.Partition))
			return err
		})
		if err != nil {
			return fmt.Errorf("commit offsets of group %s: %w", group, err)
		}
		parents := make(map[string]bool)
		for _, w := range writes {
			if !w.offExists {
				parents[consumerOffsetsDir(group)+"/"+w.o.Topic] = true
			}
			if !w.metaExists {
				parents[consumerMetaDir(group)+"/"+w.o.Topic] = true
			}
		}
		for p := range parents {
			if err := c.ensurePath(ctx, p); err != nil {
				return fmt.Errorf("commit offsets of group %s: %w", group, err)
			}
		}
	}
	return fmt.Errorf("commit offsets of group %s: znodes kept changing: %w", group, lastErr)
}

// expireMillis renders an optional expiry: -1 when unset.
func expireMillis(t time.Time) int64 {
	if t.IsZero() {
		return -1
	}
	return t.UnixMilli()
}

// znodeExists reports whether p exists.
func (c *Client) znodeExists(ctx context.Context, p string) (bool, error) {
	_, err := c.exists(ctx, p)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, zk.ErrNoNode):
		return false, nil
	default:
		return false, wrap("read", p, err)
	}
}

// ConsumerOffsets reads every committed offset of group, sorted by topic and
// partition; an unknown group has none. Offsets written by old tools (no
// meta) read with leader epoch -1, no metadata and the znode's mtime as the
// commit time. Znodes that do not parse (a partition name that is not a
// number, an offset that is not a decimal) are skipped with a warning rather
// than making the whole group unreadable.
func (c *Client) ConsumerOffsets(ctx context.Context, group string) ([]ConsumerOffset, error) {
	if err := validGroupID(group); err != nil {
		return nil, err
	}
	dir := consumerOffsetsDir(group)
	topics, err := c.children(ctx, dir)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("list", dir, err)
	}
	type key struct {
		topic string
		p     int32
	}
	var keys []key
	for _, t := range topics {
		tdir := dir + "/" + t
		parts, err := c.children(ctx, tdir)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, wrap("list", tdir, err)
		}
		for _, ps := range parts {
			p, err := strconv.ParseInt(ps, 10, 32)
			if err != nil || p < 0 {
				c.log.Warn("ignoring a consumer offset znode that is not a partition", zap.String("path", tdir+"/"+ps))
				continue
			}
			keys = append(keys, key{t, int32(p)})
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].p < keys[j].p
	})

	out := make([]ConsumerOffset, len(keys))
	found := make([]bool, len(keys))
	err = parallel(ctx, len(keys), offsetReadParallelism, func(i int) error {
		k := keys[i]
		o, ok, err := c.readConsumerOffset(ctx, group, k.topic, k.p)
		out[i], found[i] = o, ok
		return err
	})
	if err != nil {
		return nil, err
	}
	res := out[:0]
	for i, o := range out {
		if found[i] {
			res = append(res, o)
		}
	}
	return res, nil
}

// readConsumerOffset reads one partition's offset and its meta; ok is false
// when the offset znode vanished or does not parse.
func (c *Client) readConsumerOffset(ctx context.Context, group, topic string, p int32) (ConsumerOffset, bool, error) {
	op := consumerOffsetPath(group, topic, p)
	data, stat, err := c.get(ctx, op)
	if errors.Is(err, zk.ErrNoNode) {
		return ConsumerOffset{}, false, nil
	}
	if err != nil {
		return ConsumerOffset{}, false, wrap("read", op, err)
	}
	off, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		c.log.Warn("ignoring a consumer offset that is not a number", zap.String("path", op), zap.ByteString("data", data))
		return ConsumerOffset{}, false, nil
	}
	o := ConsumerOffset{Topic: topic, Partition: p, Offset: off, LeaderEpoch: -1, CommitTime: time.UnixMilli(stat.Mtime)}

	mp := consumerMetaPath(group, topic, p)
	mdata, _, err := c.get(ctx, mp)
	if errors.Is(err, zk.ErrNoNode) {
		return o, true, nil
	}
	if err != nil {
		return ConsumerOffset{}, false, wrap("read", mp, err)
	}
	var m consumerOffsetMetaJSON
	if err := json.Unmarshal(mdata, &m); err != nil || m.Offset != off {
		// Unreadable, or left behind by a tool that rewrote only the
		// plain offset: the offset znode is the truth.
		return o, true, nil
	}
	o.LeaderEpoch = m.LeaderEpoch
	o.Metadata = m.Metadata
	if m.CommitTimestamp > 0 {
		o.CommitTime = time.UnixMilli(m.CommitTimestamp)
	}
	if m.ExpireTimestamp >= 0 {
		o.ExpireTime = time.UnixMilli(m.ExpireTimestamp)
	}
	return o, true, nil
}

// DeleteConsumerOffsets removes the given partitions' offsets (and meta) of
// group; partitions that have none are skipped. Topic znodes left empty are
// removed too.
func (c *Client) DeleteConsumerOffsets(ctx context.Context, group string, partitions map[string][]int32) error {
	if err := validGroupID(group); err != nil {
		return err
	}
	var paths []string
	topics := make([]string, 0, len(partitions))
	for t, ps := range partitions {
		if validTopicName(t) != nil {
			continue // such a znode cannot exist
		}
		topics = append(topics, t)
		for _, p := range ps {
			paths = append(paths, consumerOffsetPath(group, t, p), consumerMetaPath(group, t, p))
		}
	}
	if err := parallel(ctx, len(paths), offsetReadParallelism, func(i int) error {
		return c.deleteIfExists(ctx, paths[i])
	}); err != nil {
		return fmt.Errorf("delete offsets of group %s: %w", group, err)
	}
	for _, t := range topics {
		for _, dir := range []string{consumerOffsetsDir(group) + "/" + t, consumerMetaDir(group) + "/" + t} {
			if err := c.deleteIfEmpty(ctx, dir); err != nil {
				return fmt.Errorf("delete offsets of group %s: %w", group, err)
			}
		}
	}
	return nil
}

// DeleteConsumerGroup removes /consumers/<group> and everything below it
// (offsets, meta, and whatever ZooKeeper-era consumers left there).
func (c *Client) DeleteConsumerGroup(ctx context.Context, group string) error {
	if err := validGroupID(group); err != nil {
		return err
	}
	root := consumerGroupPath(group)
	for attempt := 0; ; attempt++ {
		var below []string
		if err := c.collect(ctx, root, &below); err != nil {
			return fmt.Errorf("delete group %s: %w", group, err)
		}
		below = append(below, root)
		var err error
		for _, p := range below {
			if err = c.deleteIfExists(ctx, p); err != nil {
				break
			}
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, zk.ErrNotEmpty) || attempt >= 5 {
			return fmt.Errorf("delete group %s: %w", group, err)
		}
		// A commit raced the deletion: collect again.
	}
}

// ConsumerGroups lists the groups with at least one committed offset.
func (c *Client) ConsumerGroups(ctx context.Context) ([]string, error) {
	groups, err := c.children(ctx, consumersPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("list", consumersPath, err)
	}
	has := make([]bool, len(groups))
	err = parallel(ctx, len(groups), offsetReadParallelism, func(i int) error {
		dir := consumerOffsetsDir(groups[i])
		topics, err := c.children(ctx, dir)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return wrap("list", dir, err)
		}
		for _, t := range topics {
			parts, err := c.children(ctx, dir+"/"+t)
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				return wrap("list", dir+"/"+t, err)
			}
			if len(parts) > 0 {
				has[i] = true
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for i, g := range groups {
		if has[i] {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out, nil
}

// deleteIfExists deletes p (any version); a missing znode is not an error.
func (c *Client) deleteIfExists(ctx context.Context, p string) error {
	err := c.retrying(ctx, func() error {
		_, err := call(ctx, func() (struct{}, error) {
			return struct{}{}, c.conn.Delete(c.abs(p), -1)
		})
		return err
	})
	if err == nil || errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	return wrap("delete", p, err)
}

// deleteIfEmpty deletes p when it has no children; a missing or non-empty
// znode is left alone.
func (c *Client) deleteIfEmpty(ctx context.Context, p string) error {
	err := c.deleteIfExists(ctx, p)
	if errors.Is(err, zk.ErrNotEmpty) {
		return nil
	}
	return err
}

// parallel runs f(0..n-1) on at most width goroutines and returns the first
// error; it stops starting new calls once one fails or ctx ends.
func parallel(ctx context.Context, n, width int, f func(i int) error) error {
	if n == 0 {
		return nil
	}
	var (
		mu    sync.Mutex
		first error
		next  int
		wg    sync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if first != nil || next >= n || ctx.Err() != nil {
			return 0, false
		}
		i := next
		next++
		return i, true
	}
	for w := 0; w < min(width, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := take()
				if !ok {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
