package groupcoord

import (
	"context"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch handles OffsetFetch v0-9: one group before v8, several after.
// Partitions without a commit answer offset -1. A nil topic list (v2+) asks
// for every committed partition. With require_stable (v7+, KIP-447) a
// partition that an open transaction committed an offset for answers
// UNSTABLE_OFFSET_COMMIT (offset -1) until the transaction ends.
func (c *Coordinator) OffsetFetch(ctx context.Context, req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := kmsg.NewPtrOffsetFetchResponse()
	resp.Version = req.Version
	if req.Version >= 8 {
		for _, rg := range req.Groups {
			var want map[string][]int32
			var order []string
			if rg.Topics != nil {
				want = make(map[string][]int32, len(rg.Topics))
				for _, t := range rg.Topics {
					if _, ok := want[t.Topic]; !ok {
						order = append(order, t.Topic)
					}
					want[t.Topic] = append(want[t.Topic], t.Partitions...)
				}
			}
			code, offsets := c.fetchOffsets(ctx, rg.Group, want, order, req.RequireStable)
			out := kmsg.NewOffsetFetchResponseGroup()
			out.Group = rg.Group
			out.ErrorCode = code
			for _, t := range offsets {
				rt := kmsg.NewOffsetFetchResponseGroupTopic()
				rt.Topic = t.topic
				for _, o := range t.offsets {
					p := kmsg.NewOffsetFetchResponseGroupTopicPartition()
					p.Partition, p.Offset, p.LeaderEpoch, p.Metadata = o.Partition, o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
					if t.unstable[o.Partition] {
						p.ErrorCode = kerr.UnstableOffsetCommit.Code
					}
					rt.Partitions = append(rt.Partitions, p)
				}
				out.Topics = append(out.Topics, rt)
			}
			resp.Groups = append(resp.Groups, out)
		}
		return resp
	}

	var want map[string][]int32
	var order []string
	if req.Topics != nil || req.Version < 2 {
		want = make(map[string][]int32, len(req.Topics))
		for _, t := range req.Topics {
			if _, ok := want[t.Topic]; !ok {
				order = append(order, t.Topic)
			}
			want[t.Topic] = append(want[t.Topic], t.Partitions...)
		}
	}
	code, offsets := c.fetchOffsets(ctx, req.Group, want, order, req.Version >= 7 && req.RequireStable)
	if req.Version >= 2 {
		resp.ErrorCode = code
	}
	for _, t := range offsets {
		rt := kmsg.NewOffsetFetchResponseTopic()
		rt.Topic = t.topic
		for _, o := range t.offsets {
			p := kmsg.NewOffsetFetchResponseTopicPartition()
			p.Partition, p.Offset, p.LeaderEpoch, p.Metadata = o.Partition, o.Offset, o.LeaderEpoch, kmsg.StringPtr(o.Metadata)
			if t.unstable[o.Partition] {
				p.ErrorCode = kerr.UnstableOffsetCommit.Code
			}
			rt.Partitions = append(rt.Partitions, p)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if code != 0 && req.Version < 2 {
		// v0-1 have no group-level error: each partition carries it.
		resp.Topics = nil
		for _, topic := range order {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = topic
			for _, p := range want[topic] {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.ErrorCode, rp.Metadata = p, -1, code, kmsg.StringPtr("")
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
	}
	return resp
}

// topicOffsets is one topic's part of an OffsetFetch answer.
type topicOffsets struct {
	topic   string
	offsets []CommittedOffset
	// unstable marks the partitions answered UNSTABLE_OFFSET_COMMIT.
	unstable map[int32]bool
}

// fetchOffsets returns group's offsets for the wanted partitions (in the
// request's topic order), or for every committed partition when want is nil
// (sorted by topic and partition). Missing commits read as offset -1.
func (c *Coordinator) fetchOffsets(ctx context.Context, groupID string, want map[string][]int32, order []string, requireStable bool) (int16, []topicOffsets) {
	g, err := c.acquire(ctx, groupID, false)
	if err != nil {
		return errorCode(err), nil
	}
	var committed map[TopicPartition]CommittedOffset
	var unstable map[TopicPartition]bool
	if g != nil {
		committed = g.offsets
		if requireStable {
			unstable = g.pendingTxnPartitions()
		}
		defer g.mu.Unlock()
	}
	if want == nil {
		byTopic := make(map[string][]CommittedOffset)
		for tp, o := range committed {
			if unstable[tp] {
				o = CommittedOffset{TopicPartition: tp, Offset: -1, LeaderEpoch: -1}
			}
			byTopic[tp.Topic] = append(byTopic[tp.Topic], o)
		}
		out := make([]topicOffsets, 0, len(byTopic))
		for topic, os := range byTopic {
			sort.Slice(os, func(i, j int) bool { return os[i].Partition < os[j].Partition })
			t := topicOffsets{topic: topic, offsets: os}
			for _, o := range os {
				if unstable[o.TopicPartition] {
					if t.unstable == nil {
						t.unstable = map[int32]bool{}
					}
					t.unstable[o.Partition] = true
				}
			}
			out = append(out, t)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].topic < out[j].topic })
		return 0, out
	}
	out := make([]topicOffsets, 0, len(order))
	for _, topic := range order {
		t := topicOffsets{topic: topic}
		for _, p := range want[topic] {
			tp := TopicPartition{Topic: topic, Partition: p}
			o, ok := committed[tp]
			if !ok || unstable[tp] {
				o = CommittedOffset{TopicPartition: tp, Offset: -1, LeaderEpoch: -1}
			}
			if unstable[tp] {
				if t.unstable == nil {
					t.unstable = map[int32]bool{}
				}
				t.unstable[p] = true
			}
			t.offsets = append(t.offsets, o)
		}
		out = append(out, t)
	}
	return 0, out
}
