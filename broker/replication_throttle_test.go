package broker

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestLeaderReplicationThrottle sends a follower's fetches to the leader by
// hand, with the partition in leader.replication.throttled.replicas and
// leader.replication.throttled.rate exceeded by the first answers: while
// the follower is in the ISR its fetches are answered in full (Kafka never
// throttles an in-sync replica); once it is stopped and out of the ISR, a
// fetch in its name gets no records (and no error), while a consumer is not
// throttled; a list that does not name the leader, or removing the rate,
// lets the follower's fetches through again.
func TestLeaderReplicationThrottle(t *testing.T) {
	c := startTestCluster(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	leader := c.servers[0]
	if err := leader.createTopicZK(ctx, "thr", map[int32][]int32{0: {1, 2}}, map[string]string{"leader.replication.throttled.replicas": "0:1"}); err != nil {
		t.Fatal(err)
	}
	zk := c.zk()
	waitFor(t, 30*time.Second, "leader 1 with ISR [1 2]", func() bool {
		st, err := zk.PartitionState(ctx, "thr", 0)
		return err == nil && st.Leader == 1 && len(st.ISR) == 2
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.addrs[0]), kgo.DefaultProduceTopic("thr"), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	value := bytes.Repeat([]byte("x"), 1000)
	for i := 0; i < 100; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	b1 := cl.Broker(1)
	p, ok := leader.replicas.get(topicPartition{"thr", 0})
	if !ok {
		t.Fatal("leader does not host thr-0")
	}
	topicID := p.TopicID()
	fetchMax := func(replica int32, offset int64, max int32) (n int, hw int64) {
		t.Helper()
		req := kmsg.NewPtrFetchRequest()
		req.Version = replicaFetchVersion
		// kgo sends its newest version: name the topic by id too and
		// give the replica id where v15 and later carry it.
		req.ReplicaID, req.ReplicaState.ID, req.ReplicaState.Epoch = replica, replica, -1
		req.MaxBytes = 1 << 20
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = "thr", topicID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = offset, max, -1, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, b1)
		if err != nil || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("fetch: %v %+v", err, resp)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatalf("fetch as replica %d: %v", replica, kerr.ErrorForCode(p.ErrorCode))
		}
		return len(p.RecordBatches), p.HighWatermark
	}
	fetch := func(replica int32, offset int64) (int, int64) { return fetchMax(replica, offset, 4096) }
	alterRate := func(value *string) {
		t.Helper()
		o := set("leader.replication.throttled.rate", "")
		o.Value = value
		if value == nil {
			o.Op = kmsg.IncrementalAlterConfigOpDelete
		}
		if res := incrementalAlter(t, b1, kmsg.ConfigResourceTypeBroker, "1", false, o); res.ErrorCode != 0 {
			t.Fatalf("alter rate: %v %s", kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage))
		}
	}

	// In the ISR: never throttled, though the bytes count (64 KiB twice,
	// far over 1000 B/s for the quota's 11 s).
	alterRate(kmsg.StringPtr("1000"))
	for i := range 2 {
		if n, _ := fetchMax(2, 0, 64<<10); n == 0 {
			t.Fatalf("in-sync follower throttled at its fetch %d", i+1)
		}
	}

	c.stop(2)
	waitFor(t, 30*time.Second, "ISR [1] after broker 2 stopped", func() bool {
		st, err := zk.PartitionState(ctx, "thr", 0)
		return err == nil && st.Leader == 1 && len(st.ISR) == 1
	})
	if n, hw := fetch(2, 10); n != 0 || hw != 100 {
		t.Fatalf("throttled follower fetch: %d record bytes, high watermark %d; want none and 100", n, hw)
	}
	if n, _ := fetch(-1, 10); n == 0 {
		t.Fatal("a consumer was throttled")
	}

	// A list naming only the other broker throttles nothing here.
	if res := incrementalAlter(t, b1, kmsg.ConfigResourceTypeTopic, "thr", false, set("leader.replication.throttled.replicas", "0:2")); res.ErrorCode != 0 {
		t.Fatalf("alter topic: %v %s", kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage))
	}
	if n, _ := fetch(2, 10); n == 0 {
		t.Fatal("throttled with a list that names only broker 2")
	}
	if res := incrementalAlter(t, b1, kmsg.ConfigResourceTypeTopic, "thr", false, set("leader.replication.throttled.replicas", "*")); res.ErrorCode != 0 {
		t.Fatalf("alter topic: %v %s", kerr.ErrorForCode(res.ErrorCode), deref(res.ErrorMessage))
	}
	if n, _ := fetch(2, 10); n != 0 {
		t.Fatal("not throttled with '*'")
	}
	alterRate(nil)
	if n, _ := fetch(2, 10); n == 0 {
		t.Fatal("still throttled after the rate was removed")
	}
}
