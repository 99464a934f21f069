package zkmeta

// Pending transactional offsets (TxnOffsetCommit), kept until the
// transaction's marker reaches the group.
//
//	/gokafka/txn-offsets/<producer id>/<group>   {"version":1,"producer_id":4000,
//	                                               "producer_epoch":2,"offsets":[
//	                                                 {"topic":"t","partition":0,"offset":42,
//	                                                  "leader_epoch":-1,"metadata":"",
//	                                                  "commit_timestamp":1700000000000}]}
//
// Kafka keeps these offsets in its replicated __consumer_offsets log, so a
// transaction's offsets survive the loss of the group's coordinator.
// gokafka keeps committed offsets in ZooKeeper, so it keeps the pending
// ones there too, in a subtree of its own: nothing under /consumers changes
// until the commit marker, so Kafka's tools, Burrow and ZooKeeper-era
// consumers never see an offset of an open transaction.
//
// The tree is keyed by producer id first because the marker names a
// producer and one __consumer_offsets partition, not a group: whichever
// broker handles the marker lists the producer's groups. A coordinator
// that loads a group lists the (few) producers with pending offsets and
// reads the group's znode under each.
//
// A write names the producer epoch; a znode written at a newer epoch
// refuses it (ErrTxnOffsetsFenced), so a fenced producer cannot put its
// offsets into its successor's transaction. The commit marker writes the
// offsets to /consumers and deletes the pending znode (at the version it
// read) in one multi, so the offsets become visible exactly once however
// many brokers handle the same marker; the abort marker deletes the znode.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

// ErrTxnOffsetsFenced is returned when a producer writes pending offsets
// at an epoch older than the one already stored for it.
var ErrTxnOffsetsFenced = errors.New("pending transactional offsets belong to a newer producer epoch")

const txnOffsetsPath = "/gokafka/txn-offsets"

const txnOffsetsVersion = 1

// PendingTxnOffsets is one producer's pending offsets in one group.
type PendingTxnOffsets struct {
	ProducerID    int64
	ProducerEpoch int16
	Offsets       []ConsumerOffset
}

type txnOffsetsJSON struct {
	Version       int                 `json:"version"`
	ProducerID    int64               `json:"producer_id"`
	ProducerEpoch int16               `json:"producer_epoch"`
	Offsets       []txnOffsetJSONItem `json:"offsets"`
}

type txnOffsetJSONItem struct {
	Topic           string `json:"topic"`
	Partition       int32  `json:"partition"`
	Offset          int64  `json:"offset"`
	LeaderEpoch     int32  `json:"leader_epoch"`
	Metadata        string `json:"metadata"`
	CommitTimestamp int64  `json:"commit_timestamp"`
}

func txnProducerPath(producerID int64) string {
	return txnOffsetsPath + "/" + strconv.FormatInt(producerID, 10)
}

func txnOffsetsGroupPath(producerID int64, group string) string {
	return txnProducerPath(producerID) + "/" + group
}

func encodeTxnOffsets(p PendingTxnOffsets) ([]byte, error) {
	j := txnOffsetsJSON{Version: txnOffsetsVersion, ProducerID: p.ProducerID, ProducerEpoch: p.ProducerEpoch,
		Offsets: make([]txnOffsetJSONItem, 0, len(p.Offsets))}
	for _, o := range p.Offsets {
		j.Offsets = append(j.Offsets, txnOffsetJSONItem{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset,
			LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTimestamp: o.CommitTime.UnixMilli()})
	}
	sort.Slice(j.Offsets, func(a, b int) bool {
		if j.Offsets[a].Topic != j.Offsets[b].Topic {
			return j.Offsets[a].Topic < j.Offsets[b].Topic
		}
		return j.Offsets[a].Partition < j.Offsets[b].Partition
	})
	return json.Marshal(j)
}

// decodeTxnOffsets parses a pending-offsets znode.
func decodeTxnOffsets(data []byte) (PendingTxnOffsets, error) {
	var j txnOffsetsJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return PendingTxnOffsets{}, fmt.Errorf("decode pending transactional offsets: %w", err)
	}
	if j.Version != txnOffsetsVersion {
		return PendingTxnOffsets{}, fmt.Errorf("decode pending transactional offsets: unknown version %d", j.Version)
	}
	p := PendingTxnOffsets{ProducerID: j.ProducerID, ProducerEpoch: j.ProducerEpoch}
	for _, o := range j.Offsets {
		p.Offsets = append(p.Offsets, ConsumerOffset{Topic: o.Topic, Partition: o.Partition, Offset: o.Offset,
			LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, CommitTime: time.UnixMilli(o.CommitTimestamp)})
	}
	return p, nil
}

// PutTxnOffsets adds offsets to what producerID has pending in group at
// epoch (a partition given again takes the new value), creating the znode
// on the first call. A znode of an older epoch is replaced (left over from
// an earlier, fenced producer); one of a newer epoch is
// ErrTxnOffsetsFenced. The write is conditional on the version read, so
// concurrent writers never lose each other's partitions.
func (c *Client) PutTxnOffsets(ctx context.Context, producerID int64, epoch int16, group string, offsets []ConsumerOffset) error {
	if err := validGroupID(group); err != nil {
		return err
	}
	for _, o := range offsets {
		if err := validTopicName(o.Topic); err != nil {
			return fmt.Errorf("pending offsets of group %s: %w", group, err)
		}
	}
	p := txnOffsetsGroupPath(producerID, group)
	for attempt := 0; attempt < 10; attempt++ {
		var (
			data []byte
			stat *zk.Stat
		)
		err := c.retrying(ctx, func() error {
			var err error
			data, stat, err = c.get(ctx, p)
			return err
		})
		exists := err == nil
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return wrap("read", p, err)
		}
		merged := PendingTxnOffsets{ProducerID: producerID, ProducerEpoch: epoch}
		if exists {
			old, err := decodeTxnOffsets(data)
			switch {
			case err != nil:
				// An unreadable znode is replaced rather than blocking the
				// producer forever.
			case old.ProducerEpoch > epoch:
				return fmt.Errorf("pending offsets of producer %d in group %s at epoch %d (stored %d): %w",
					producerID, group, epoch, old.ProducerEpoch, ErrTxnOffsetsFenced)
			case old.ProducerEpoch == epoch:
				merged.Offsets = old.Offsets
			}
		}
		merged.Offsets = mergeOffsets(merged.Offsets, offsets)
		enc, err := encodeTxnOffsets(merged)
		if err != nil {
			return err
		}
		if exists {
			_, err = call(ctx, func() (*zk.Stat, error) { return c.conn.Set(c.abs(p), enc, stat.Version) })
		} else {
			if err := c.ensurePath(ctx, txnProducerPath(producerID)); err != nil {
				return fmt.Errorf("pending offsets of group %s: %w", group, err)
			}
			_, err = call(ctx, func() (string, error) { return c.conn.Create(c.abs(p), enc, 0, openACL) })
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, zk.ErrBadVersion), errors.Is(err, zk.ErrNodeExists), errors.Is(err, zk.ErrNoNode),
			connectionLost(err):
			// Someone else wrote, or the write's fate is unknown: read
			// again (rewriting the same offsets is harmless).
			continue
		default:
			return wrap("write", p, err)
		}
	}
	return fmt.Errorf("pending offsets of group %s: znode kept changing", group)
}

// mergeOffsets returns old with add laid over it, one entry per partition.
func mergeOffsets(old, add []ConsumerOffset) []ConsumerOffset {
	type key struct {
		t string
		p int32
	}
	idx := map[key]int{}
	out := append([]ConsumerOffset(nil), old...)
	for i, o := range out {
		idx[key{o.Topic, o.Partition}] = i
	}
	for _, o := range add {
		k := key{o.Topic, o.Partition}
		if i, ok := idx[k]; ok {
			out[i] = o
			continue
		}
		idx[k] = len(out)
		out = append(out, o)
	}
	return out
}

// TxnOffsetsOfGroup returns every producer's pending offsets in group.
func (c *Client) TxnOffsetsOfGroup(ctx context.Context, group string) ([]PendingTxnOffsets, error) {
	if err := validGroupID(group); err != nil {
		return nil, err
	}
	producers, err := c.children(ctx, txnOffsetsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("list", txnOffsetsPath, err)
	}
	found := make([]*PendingTxnOffsets, len(producers))
	err = parallel(ctx, len(producers), offsetReadParallelism, func(i int) error {
		pid, err := strconv.ParseInt(producers[i], 10, 64)
		if err != nil {
			return nil
		}
		p, _, ok, err := c.readTxnOffsets(ctx, pid, group)
		if ok {
			found[i] = &p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var out []PendingTxnOffsets
	for _, p := range found {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, nil
}

// TxnOffsetGroups lists the groups in which producerID has pending offsets.
func (c *Client) TxnOffsetGroups(ctx context.Context, producerID int64) ([]string, error) {
	p := txnProducerPath(producerID)
	groups, err := c.children(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("list", p, err)
	}
	sort.Strings(groups)
	return groups, nil
}

// DeleteTxnOffsetsOfGroup removes every producer's pending offsets in
// group and returns how many producers had some. DeleteGroups calls it
// before it deletes /consumers/<group>: Kafka forgets a deleted group's
// pending transactional offsets (its GroupMetadataManager drops the group
// from its cache, so the marker finds nothing to complete), and a pending
// znode left behind would write the offsets back under /consumers at the
// COMMIT marker, bringing the deleted group back. A marker applied before
// this call has already written its offsets under /consumers, which the
// group deletion then removes; one applied after finds no znode.
func (c *Client) DeleteTxnOffsetsOfGroup(ctx context.Context, group string) (int, error) {
	if err := validGroupID(group); err != nil {
		return 0, err
	}
	producers, err := c.children(ctx, txnOffsetsPath)
	if errors.Is(err, zk.ErrNoNode) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("list", txnOffsetsPath, err)
	}
	had := make([]bool, len(producers))
	err = parallel(ctx, len(producers), offsetReadParallelism, func(i int) error {
		pid, err := strconv.ParseInt(producers[i], 10, 64)
		if err != nil {
			return nil // not a producer's znode
		}
		p := txnOffsetsGroupPath(pid, group)
		exists, err := c.znodeExists(ctx, p)
		if err != nil || !exists {
			return err
		}
		had[i] = true
		if err := c.deleteIfExists(ctx, p); err != nil {
			return err
		}
		if err := c.deleteIfEmpty(ctx, txnProducerPath(pid)); err != nil {
			c.log.Debug("removing an empty producer's pending offsets znode: " + err.Error())
		}
		return nil
	})
	n := 0
	for _, h := range had {
		if h {
			n++
		}
	}
	if err != nil {
		return n, fmt.Errorf("delete pending offsets of group %s: %w", group, err)
	}
	return n, nil
}

// readTxnOffsets reads one pending znode and its version (-1: none); ok is
// false when there is none or it does not parse (logged; the marker then
// deletes it).
func (c *Client) readTxnOffsets(ctx context.Context, producerID int64, group string) (PendingTxnOffsets, int32, bool, error) {
	p := txnOffsetsGroupPath(producerID, group)
	data, stat, err := c.get(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return PendingTxnOffsets{}, -1, false, nil
	}
	if err != nil {
		return PendingTxnOffsets{}, -1, false, wrap("read", p, err)
	}
	pt, err := decodeTxnOffsets(data)
	if err != nil {
		c.log.Warn("ignoring unreadable pending transactional offsets: " + err.Error())
		return PendingTxnOffsets{}, stat.Version, false, nil
	}
	return pt, stat.Version, true, nil
}

// CompleteTxnOffsets applies a transaction marker of producerID at epoch to
// its pending offsets in group: on commit the offsets are written to
// /consumers and the pending znode deleted in one multi; on abort the znode
// is deleted. It returns the offsets it committed, and applied=false when
// there was nothing to do: no znode (never written, or another broker
// applied the same marker first) or one of a newer producer epoch, which
// belongs to a later transaction. A commit of more partitions than one
// multi holds writes the offsets chunk by chunk and deletes the znode with
// the last chunk, so a failure leaves the znode for the marker's retry.
func (c *Client) CompleteTxnOffsets(ctx context.Context, producerID int64, epoch int16, group string, commit bool) (offsets []ConsumerOffset, applied bool, err error) {
	if err := validGroupID(group); err != nil {
		return nil, false, err
	}
	for attempt := 0; attempt < 10; attempt++ {
		var (
			pt      PendingTxnOffsets
			version int32
			ok      bool
		)
		err := c.retrying(ctx, func() error {
			var err error
			pt, version, ok, err = c.readTxnOffsets(ctx, producerID, group)
			return err
		})
		if err != nil {
			return nil, false, err
		}
		p := txnOffsetsGroupPath(producerID, group)
		if version < 0 {
			return nil, false, nil
		}
		if ok && pt.ProducerEpoch > epoch {
			return nil, false, nil
		}
		del := c.opDelete(p, version)
		if !commit || !ok {
			err = c.retrying(ctx, func() error {
				res, err := c.multi(ctx, del)
				return c.failedOp([]any{del}, res, err)
			})
		} else {
			err = c.commitWithDelete(ctx, group, pt.Offsets, del)
		}
		switch {
		case err == nil:
			if err := c.deleteIfEmpty(ctx, txnProducerPath(producerID)); err != nil {
				c.log.Debug("removing an empty producer's pending offsets znode: " + err.Error())
			}
			if !commit || !ok {
				return nil, ok, nil
			}
			return pt.Offsets, true, nil
		case errors.Is(err, ErrNoNode):
			return nil, false, nil // another broker applied the marker
		case errors.Is(err, ErrBadVersion):
			continue // rewritten meanwhile: read again
		default:
			return nil, false, fmt.Errorf("complete pending offsets of producer %d in group %s: %w", producerID, group, err)
		}
	}
	return nil, false, fmt.Errorf("complete pending offsets of producer %d in group %s: znode kept changing", producerID, group)
}

// commitWithDelete writes offsets to group with del in the multi of the
// last chunk.
func (c *Client) commitWithDelete(ctx context.Context, group string, offsets []ConsumerOffset, del any) error {
	writes, err := offsetWrites(group, offsets)
	if err != nil {
		return err
	}
	chunks := chunkOffsetWrites(group, writes)
	if len(chunks) == 0 {
		chunks = [][]offsetWrite{nil}
	}
	for i, chunk := range chunks {
		var extra []any
		if i == len(chunks)-1 {
			extra = []any{del}
		}
		if err := c.commitOffsetChunk(ctx, group, chunk, extra); err != nil {
			return err
		}
	}
	return nil
}
