package groupcoord

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// OffsetCommit v0 and OffsetFetch v0 are the ZooKeeper-era offset APIs.
// A ZooKeeper-mode Kafka broker answers them itself, without the group
// coordinator: any broker writes a v0 commit straight to
// /consumers/<group>/offsets/<topic>/<partition> and reads a v0 fetch from
// there, whatever state the group is in. Clients of that era (kafka-python
// with api_version (0, 8, 1), librdkafka's broker offset store on old
// brokers) send them to any broker and do not know NOT_COORDINATOR.
// gokafka keeps every group's offsets in that same tree, so the v0 paths
// differ from v1+ only in who may answer and in checking no member or
// generation.

// CommitZooKeeperOffsets answers OffsetCommit v0 on any broker: each
// partition's offset is written to the store unless its metadata is
// longer than offset.metadata.max.bytes (OFFSET_METADATA_TOO_LARGE). When
// this broker has the group loaded, the commit is ordered with the
// group's other commits and its in-memory offsets follow, so OffsetFetch
// v1+ answered here sees it too.
func (c *Coordinator) CommitZooKeeperOffsets(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := newOffsetCommitResponse(req)
	offsets := c.commitRequestOffsets(req, resp)
	if len(offsets) == 0 {
		return resp
	}
	c.mu.Lock()
	g := c.groups[req.Group]
	c.mu.Unlock()
	if g != nil {
		g.commitMu.Lock()
		defer g.commitMu.Unlock()
	}
	if err := c.store.Commit(ctx, req.Group, offsets); err != nil {
		c.log.Warn("offset commit (v0) failed", zap.String("group", req.Group), zap.Error(err))
		setUnsetCodes(resp, errorCode(err))
		return resp
	}
	if g != nil {
		g.mu.Lock()
		if g.state != stateDead {
			for _, o := range offsets {
				g.offsets[o.TopicPartition] = o
			}
		}
		g.mu.Unlock()
	}
	return resp
}

// FetchZooKeeperOffsets answers OffsetFetch v0 on any broker from the
// store, as Kafka reads v0 fetches from ZooKeeper: a committed partition
// answers its offset with no metadata (ZooKeeper holds only the offset);
// a partition without a commit answers offset -1 with
// UNKNOWN_TOPIC_OR_PARTITION, Kafka's answer there. A store failure
// answers every partition with its code.
func (c *Coordinator) FetchZooKeeperOffsets(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = req.Version
	committed, err := c.store.Fetch(ctx, req.Group)
	code := int16(0)
	if err != nil {
		c.log.Warn("offset fetch (v0) failed", zap.String("group", req.Group), zap.Error(err))
		code = errorCode(err)
	}
	for _, t := range req.Topics {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewOffsetFetchResponseTopicPartition()
			rp.Partition, rp.Offset, rp.Metadata = p, -1, kmsg.StringPtr("")
			o, ok := committed[TopicPartition{Topic: t.Topic, Partition: p}]
			switch {
			case code != 0:
				rp.ErrorCode = code
			case ok:
				rp.Offset = o.Offset
			default:
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
