package groupcoord

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// OffsetCommit handles OffsetCommit v0-9. Members commit with their member
// id and generation; a "simple" commit (generation -1, no member id, as
// kafka-consumer-groups.sh --reset-offsets sends) is accepted only while the
// group has no members. All accepted offsets of one request are written to
// the store in one call.
func (c *Coordinator) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := newOffsetCommitResponse(req)
	setAll := func(code int16) *kmsg.OffsetCommitResponse {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
		return resp
	}

	generation, memberID, instanceID := req.Generation, req.MemberID, req.InstanceID
	if req.Version == 0 {
		generation, memberID = -1, ""
	}
	if req.Version < 7 {
		instanceID = nil
	}
	simple := generation < 0 && memberID == "" && instanceID == nil

	g, err := c.lockForWrite(ctx, req.Group, generation < 0)
	if err != nil {
		return setAll(errorCode(err))
	}
	if g == nil {
		// No such group: a commit naming a generation is from a group
		// that no longer exists (or a stale coordinator's era).
		return setAll(errIllegalGeneration)
	}
	defer g.commitMu.Unlock()

	if code := c.validateCommit(g, simple, generation, memberID, instanceID); code != 0 {
		g.mu.Unlock()
		return setAll(code)
	}
	offsets := c.commitRequestOffsets(req, resp)
	g.mu.Unlock()
	if len(offsets) == 0 {
		return resp
	}

	if err := c.store.Commit(ctx, g.id, offsets); err != nil {
		c.log.Warn("offset commit failed", zap.String("group", g.id), zap.Error(err))
		setUnsetCodes(resp, errorCode(err))
		return resp
	}
	g.mu.Lock()
	for _, o := range offsets {
		g.offsets[o.TopicPartition] = o
	}
	g.mu.Unlock()
	return resp
}

// commitRequestOffsets returns the offsets req asks to commit, dated now,
// with what each version adds (v1's commit timestamp, v2-v4's retention,
// v6+'s leader epoch); a partition whose metadata is too long is answered
// OFFSET_METADATA_TOO_LARGE in resp and left out.
func (c *Coordinator) commitRequestOffsets(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) []CommittedOffset {
	now := c.cfg.Now()
	var offsets []CommittedOffset
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			epoch := int32(-1)
			if req.Version >= 6 {
				epoch = p.LeaderEpoch
			}
			o, ok := c.requestedOffset(t.Topic, p.Partition, p.Offset, epoch, p.Metadata, now)
			if !ok {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			if req.Version == 1 && p.Timestamp != -1 {
				// An explicit v1 commit timestamp: Kafka dates the commit
				// and its expiry from it.
				o.CommitTime = time.UnixMilli(p.Timestamp)
				o.ExpireTime = o.CommitTime.Add(c.cfg.OffsetsRetention)
			}
			if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
				o.ExpireTime = now.Add(time.Duration(req.RetentionTimeMillis) * time.Millisecond)
			}
			offsets = append(offsets, o)
		}
	}
	return offsets
}

// newOffsetCommitResponse is the answer to req with every partition in
// it, in the request's order, no error yet.
func newOffsetCommitResponse(req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = req.Version
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, t := range req.Topics {
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		rt.Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(t.Partitions))
		for j, p := range t.Partitions {
			rt.Partitions[j] = kmsg.NewOffsetCommitResponseTopicPartition()
			rt.Partitions[j].Partition = p.Partition
		}
		resp.Topics[i] = rt
	}
	return resp
}

// setUnsetCodes gives code to every partition of resp that has no error
// yet (a store write failed for all that were to be written).
func setUnsetCodes(resp *kmsg.OffsetCommitResponse, code int16) {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode == 0 {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	}
}

// lockForWrite looks a group up and takes its commitMu and mu, in that
// order, retrying if the group died in between. It returns nil (no locks
// held) when the group does not exist and create is false.
func (c *Coordinator) lockForWrite(ctx context.Context, id string, create bool) (*group, error) {
	for {
		g, err := c.lookup(ctx, id, create)
		if err != nil || g == nil {
			return nil, err
		}
		g.commitMu.Lock()
		g.mu.Lock()
		if g.state != stateDead {
			return g, nil
		}
		g.mu.Unlock()
		g.commitMu.Unlock()
	}
}

// validateCommit decides whether a commit may proceed, as Kafka does: a
// member must be known (and not a fenced static incarnation) and on the
// current generation; a simple commit needs a group without members; and
// no commit is taken while the group waits for its leader's assignment.
// requestedOffset is one partition's offset as an OffsetCommit or
// TxnOffsetCommit asks for it, committed now; a negative leader epoch (or
// one the request version cannot carry, passed as -1) is none. It is
// refused (false) when its metadata is longer than
// offset.metadata.max.bytes.
func (c *Coordinator) requestedOffset(topic string, partition int32, offset int64, leaderEpoch int32, metadata *string, now time.Time) (CommittedOffset, bool) {
	meta := ""
	if metadata != nil {
		meta = *metadata
	}
	if len(meta) > c.cfg.OffsetMetadataMaxBytes {
		return CommittedOffset{}, false
	}
	return CommittedOffset{
		TopicPartition: TopicPartition{Topic: topic, Partition: partition},
		Offset:         offset,
		LeaderEpoch:    max(leaderEpoch, -1),
		Metadata:       meta,
		CommitTime:     now,
	}, true
}

func (c *Coordinator) validateCommit(g *group, simple bool, generation int32, memberID string, instanceID *string) int16 {
	if simple {
		if g.state != stateEmpty {
			return errUnknownMemberID
		}
		return 0
	}
	m := g.members[memberID]
	switch {
	case g.staticFenced(instanceID, memberID):
		return errFencedInstanceID
	case m == nil:
		return errUnknownMemberID
	case generation != g.generation:
		return errIllegalGeneration
	}
	switch g.state {
	case stateCompletingRebalance:
		return errRebalanceInProgress
	case stateStable, statePreparingRebalance:
		// A commit shows the member is alive; during a rebalance the
		// heartbeat tells it to rejoin.
		c.scheduleExpiry(g, m)
	}
	return 0
}
