package compattests

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// throttleRate is the replication throttle the test sets: 4 MiB/s.
const throttleRate = 4 << 20

// TestReplicationThrottle is the operations issue's throttle check: a
// follower that fell 96 MiB behind catches up at the rate
// {follower,leader}.replication.throttled.rate allow its partition
// (listed in the topic's throttled replicas), within 20%, first held back
// by the follower's quota, then by the leader's; removing the throttle
// lets it finish and rejoin the ISR. The throttles are set with
// AlterConfigs while the brokers run, as kafka-reassign-partitions.sh
// --throttle and kafka-configs.sh set them; the rate is measured as the
// growth of the follower's log on disk.
func TestReplicationThrottle(t *testing.T) {
	c := testcluster.New(t)
	bs := c.StartBrokers(t, 2, map[string]string{"replica.lag.time.max.ms": "4000"})
	z := c.ZKClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const topic = "throttled"
	adm := kadm.NewClient(newClient(t, bs[0]))
	if res, err := adm.CreateTopics(ctx, 1, 2, nil, topic); err != nil || res[topic].Err != nil {
		t.Fatalf("create topic: %v %+v", err, res)
	}
	waitUntil(t, time.Minute, "a full ISR", wholeISRs(t, z, topic, 1, 2))
	st, _ := readState(t, z, topic, 0)
	leader, follower := bs[0], bs[1]
	if st.Leader == bs[1].ID {
		leader, follower = bs[1], bs[0]
	}
	adm = kadm.NewClient(newClient(t, leader))

	follower.Stop()
	waitUntil(t, time.Minute, "the stopped follower out of the ISR", wholeISRs(t, z, topic, 1, 1))
	producer := newClient(t, leader, kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()), kgo.ProducerLinger(5*time.Millisecond))
	const total = 96 << 20
	value := []byte(strings.Repeat("t", 64<<10))
	for range total / len(value) {
		producer.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := producer.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	leaderSize := partitionLogBytes(leader, topic, 0)

	// Phase 1: the follower's quota, through the cluster default (the
	// follower is down) and the follower list naming it.
	alterBroker(ctx, t, adm, nil, "follower.replication.throttled.rate", strconv.Itoa(throttleRate))
	alterTopic(ctx, t, adm, topic, "follower.replication.throttled.replicas", fmt.Sprintf("0:%d", follower.ID))
	if err := follower.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rate := catchUpRate(ctx, t, follower, topic, 24<<20)
	t.Logf("follower throttle %d B/s: measured %.0f B/s", throttleRate, rate)
	checkRate(t, "follower", rate)

	// Phase 2: the leader's quota on the leader alone; the leader list
	// goes in before the follower's throttle comes off.
	alterBroker(ctx, t, adm, &leader.ID, "leader.replication.throttled.rate", strconv.Itoa(throttleRate))
	alterTopic(ctx, t, adm, topic, "leader.replication.throttled.replicas", fmt.Sprintf("0:%d", leader.ID))
	alterBroker(ctx, t, adm, nil, "follower.replication.throttled.rate", "")
	rate = catchUpRate(ctx, t, follower, topic, 24<<20)
	t.Logf("leader throttle %d B/s: measured %.0f B/s", throttleRate, rate)
	checkRate(t, "leader", rate)
	if got := partitionLogBytes(follower, topic, 0); got >= leaderSize {
		t.Fatalf("the follower caught up (%d of %d bytes) before the throttle was removed", got, leaderSize)
	}

	// Removing the throttle lets the follower finish and rejoin the ISR.
	alterBroker(ctx, t, adm, &leader.ID, "leader.replication.throttled.rate", "")
	waitUntil(t, 2*time.Minute, "the follower back in the ISR", wholeISRs(t, z, topic, 1, 2))
	if got := partitionLogBytes(follower, topic, 0); got != leaderSize {
		t.Fatalf("follower log %d bytes, leader's %d", got, leaderSize)
	}
}

// checkRate fails the test when a measured catch-up rate is not within
// 20% of the throttle, as the issue asks.
func checkRate(t *testing.T, side string, rate float64) {
	t.Helper()
	if rate < 0.8*throttleRate || rate > 1.2*throttleRate {
		t.Errorf("%s throttle of %d B/s: the follower caught up at %.0f B/s, more than 20%% off", side, throttleRate, rate)
	}
}

// catchUpRate measures how fast the follower's log grows: from when it
// has grown 8 MiB to when it has grown span bytes more. A quota with no
// history lets a window's worth (4 MiB) through at once, as Kafka's
// SimpleRate divides by at least one window; starting after twice that
// measures the steady rate.
func catchUpRate(ctx context.Context, t *testing.T, b *testcluster.Broker, topic string, span int64) float64 {
	t.Helper()
	return growthRates(ctx, t, b, topic, 8<<20, span, 1, math.MaxInt64)[0]
}

// growthRates measures how fast partition 0 of topic grows on a broker's
// disk: once it has grown skip bytes, the rate over each of n consecutive
// spans of span bytes. It fails the test if the log reaches limit bytes
// (a replica catching up has caught up) before the last span ends: the
// rates could not be measured, so the bytes came much faster than asked.
func growthRates(ctx context.Context, t *testing.T, b *testcluster.Broker, topic string, skip, span int64, n int, limit int64) []float64 {
	t.Helper()
	base := partitionLogBytes(b, topic, 0)
	var rates []float64
	var from int64
	var start time.Time
	for {
		size := partitionLogBytes(b, topic, 0)
		now := time.Now()
		switch {
		case size >= limit:
			t.Fatalf("the log of %s-0 on broker %d reached %d bytes after %d of %d spans of %d bytes (rates %.0f B/s): too fast to measure",
				topic, b.ID, size, len(rates), n, span, rates)
		case start.IsZero() && size-base >= skip:
			from, start = size, now
		case !start.IsZero() && size-from >= span:
			rates = append(rates, float64(size-from)/now.Sub(start).Seconds())
			if len(rates) == n {
				return rates
			}
			from, start = size, now
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the log of %s-0 on broker %d grew %d bytes, then stopped", topic, b.ID, size-base)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// partitionLogBytes sums the sizes of a partition's .log segments on a
// broker.
func partitionLogBytes(b *testcluster.Broker, topic string, p int32) int64 {
	var n int64
	for _, d := range b.LogDirs() {
		matches, _ := filepath.Glob(filepath.Join(d, fmt.Sprintf("%s-%d", topic, p), "*.log"))
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil {
				n += fi.Size()
			}
		}
	}
	return n
}

// alterBroker sets (or, with an empty value, deletes) a dynamic broker
// key on one broker, or on the cluster default when id is nil.
func alterBroker(ctx context.Context, t *testing.T, adm *kadm.Client, id *int32, key, value string) {
	t.Helper()
	ac := kadm.AlterConfig{Op: kadm.SetConfig, Name: key, Value: kadm.StringPtr(value)}
	if value == "" {
		ac = kadm.AlterConfig{Op: kadm.DeleteConfig, Name: key}
	}
	var ids []int32
	if id != nil {
		ids = []int32{*id}
	}
	rs, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{ac}, ids...)
	if err == nil {
		err = rs[0].Err
	}
	if err != nil {
		t.Fatalf("alter broker config %s=%q: %v", key, value, err)
	}
}

// alterTopic sets a topic key.
func alterTopic(ctx context.Context, t *testing.T, adm *kadm.Client, topic, key, value string) {
	t.Helper()
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: key, Value: kadm.StringPtr(value)}}, topic)
	if err == nil {
		err = rs[0].Err
	}
	if err != nil {
		t.Fatalf("alter topic config %s=%q: %v", key, value, err)
	}
}
