package compattests

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// TestZooKeeperOffsetsOnEveryBroker commits offsets with OffsetCommit v0,
// the ZooKeeper-era commit that clients of Kafka 0.8.1 send to whichever
// broker they like, to each of three brokers in turn, and reads them back
// with OffsetFetch v0 from each: as on Kafka's ZooKeeper-mode brokers, every
// broker accepts the commit (not only the group's coordinator), every
// broker reads the same offset, and the offset is the decimal text of
// /consumers/<group>/offsets/<topic>/<partition>.
func TestZooKeeperOffsetsOnEveryBroker(t *testing.T) {
	c := testcluster.New(t)
	bs := c.StartBrokers(t, 3, nil)
	z := c.ZKClient(t)
	ctx := testCtx(t)
	const topic, group = "zk-v0-offsets", "zk-v0-group"
	createReplicated(ctx, t, newClient(t, bs[0]), z, topic, 1, nil)

	// franz-go sends the highest version both sides know, so pin the two
	// offset APIs at v0 as an 0.8.1 client would speak them.
	v0 := kversion.Stable()
	v0.SetMaxKeyVersion(kmsg.OffsetCommit.Int16(), 0)
	v0.SetMaxKeyVersion(kmsg.OffsetFetch.Int16(), 0)
	var last int64
	for i, b := range bs {
		cl := newClient(t, b, kgo.MaxVersions(v0))
		last = int64(100 + i)
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 0
		req.Group = group
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = 0, last
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		// The broker may not have heard of the new topic yet
		// (UNKNOWN_TOPIC_OR_PARTITION until its UpdateMetadata): ask again.
		waitUntil(t, time.Minute, fmt.Sprintf("broker %d to accept an OffsetCommit v0", b.ID), func() bool {
			raw, err := cl.Broker(int(b.ID)).Request(ctx, req)
			if err != nil {
				t.Fatalf("OffsetCommit v0 to broker %d: %v", b.ID, err)
			}
			code := raw.(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode
			switch code {
			case 0:
				return true
			case kerr.UnknownTopicOrPartition.Code:
				return false
			}
			t.Fatalf("OffsetCommit v0 to broker %d: %v (Kafka's brokers all accept it)", b.ID, kerr.ErrorForCode(code))
			return false
		})
	}
	for _, b := range bs {
		cl := newClient(t, b, kgo.MaxVersions(v0))
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 0
		req.Group = group
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		raw, err := cl.Broker(int(b.ID)).Request(ctx, req)
		if err != nil {
			t.Fatalf("OffsetFetch v0 to broker %d: %v", b.ID, err)
		}
		p := raw.(*kmsg.OffsetFetchResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Offset != last {
			t.Fatalf("OffsetFetch v0 from broker %d: offset %d, %v; want %d", b.ID, p.Offset, kerr.ErrorForCode(p.ErrorCode), last)
		}
	}
	data, err := z.Get(fmt.Sprintf("/consumers/%s/offsets/%s/0", group, topic))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := strconv.ParseInt(string(data), 10, 64); err != nil || got != last {
		t.Fatalf("/consumers/%s/offsets/%s/0 holds %q, want %d", group, topic, data, last)
	}
}
