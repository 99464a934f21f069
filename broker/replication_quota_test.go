package broker

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestParseThrottledPartitions reads throttled replicas lists as broker 1
// would: its own pairs only, "*" for all, nothing for an empty list.
func TestParseThrottledPartitions(t *testing.T) {
	for _, tc := range []struct {
		value string
		has   []int32
		hasnt []int32
		none  bool
	}{
		{value: "", none: true},
		{value: "  ", none: true},
		{value: "0:0,1:2", none: true},
		{value: "*", has: []int32{0, 7, 1000}},
		{value: "0:1,0:2,3:1", has: []int32{0, 3}, hasnt: []int32{1, 2}},
		{value: " 4 : 1 , 5:0", has: []int32{4}, hasnt: []int32{5}},
	} {
		t.Run(fmt.Sprintf("%q", tc.value), func(t *testing.T) {
			got := parseThrottledPartitions(tc.value, 1)
			if (got == nil) != tc.none {
				t.Fatalf("parsed %+v, want none: %v", got, tc.none)
			}
			for _, p := range tc.has {
				if !got.has(p) {
					t.Errorf("partition %d not throttled", p)
				}
			}
			for _, p := range tc.hasnt {
				if got.has(p) {
					t.Errorf("partition %d throttled", p)
				}
			}
		})
	}
}

// TestThrottledReplicasInTopicConfig checks that a topic's resolved
// configuration carries this broker's part of both lists, so that every
// hosted partition sees a change with its config.
func TestThrottledReplicasInTopicConfig(t *testing.T) {
	c := Config{BrokerID: 2}
	tc, err := c.TopicConfig(map[string]string{
		"leader.replication.throttled.replicas":   "0:1,1:2",
		"follower.replication.throttled.replicas": "*",
	})
	if err != nil {
		t.Fatal(err)
	}
	if tc.LeaderThrottled.has(0) || !tc.LeaderThrottled.has(1) || !tc.FollowerThrottled.has(9) {
		t.Fatalf("leader %+v follower %+v", tc.LeaderThrottled, tc.FollowerThrottled)
	}
	tc, err = c.TopicConfig(nil)
	if err != nil || tc.LeaderThrottled != nil || tc.FollowerThrottled != nil {
		t.Fatalf("no lists: %+v %+v %v", tc.LeaderThrottled, tc.FollowerThrottled, err)
	}
}

// TestSampledRate checks Kafka's SimpleRate arithmetic: bytes over the
// time since the oldest sample began, never over less than one window,
// forgetting samples older than the samples' span.
func TestSampledRate(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type rec struct {
		at    time.Duration
		bytes float64
	}
	for _, tc := range []struct {
		name string
		recs []rec
		now  time.Duration
		want float64
	}{
		{name: "nothing", now: 5 * time.Second, want: 0},
		{name: "inside the first window counts over one window", recs: []rec{{0, 500}, {200 * time.Millisecond, 500}}, now: 500 * time.Millisecond, want: 1000},
		{name: "over several windows", recs: []rec{{0, 1000}, {time.Second, 1000}, {2 * time.Second, 1000}, {3 * time.Second, 1000}}, now: 4 * time.Second, want: 1000},
		{name: "samples older than 11 windows are forgotten", recs: []rec{{0, 1e9}, {12 * time.Second, 2000}}, now: 13 * time.Second, want: 2000},
		{name: "the span is capped by the samples kept", recs: func() []rec {
			var rs []rec
			for i := range 30 {
				rs = append(rs, rec{time.Duration(i) * time.Second, 100})
			}
			return rs
		}(), now: 30 * time.Second, want: 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := sampledRate{n: 11, window: time.Second}
			for _, x := range tc.recs {
				r.record(x.bytes, at(x.at))
			}
			if got := r.measure(at(tc.now)); math.Abs(got-tc.want) > tc.want*0.01+1e-9 {
				t.Fatalf("rate %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReplicationQuota checks the bound: unlimited by default and for
// Long.MAX_VALUE, exceeded once the recorded rate is above it, and zero
// as a real limit.
func TestReplicationQuota(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var q replicationQuota
	q.record(1<<40, now)
	if q.limited() || q.exceeded(now) {
		t.Fatal("a quota never set is limited")
	}
	q.setBound(1000)
	if !q.limited() || !q.exceeded(now) || q.bound() != 1000 {
		t.Fatalf("bound 1000 after 1 TiB: limited %v exceeded %v bound %d", q.limited(), q.exceeded(now), q.bound())
	}
	q.setBound(math.MaxInt64)
	if q.limited() || q.exceeded(now) {
		t.Fatal("Long.MAX_VALUE is not unlimited")
	}
	var z replicationQuota
	z.setBound(0)
	if z.exceeded(now) {
		t.Fatal("a zero bound with nothing recorded is exceeded")
	}
	z.record(1, now)
	if !z.exceeded(now) {
		t.Fatal("a zero bound is not exceeded by one byte")
	}
	var w replicationQuota
	w.setBound(1 << 20)
	w.record(1<<20, now)
	if w.exceeded(now.Add(500 * time.Millisecond)) {
		t.Fatal("exactly the bound counts as exceeded")
	}
	w.record(1, now.Add(600*time.Millisecond))
	if !w.exceeded(now.Add(700 * time.Millisecond)) {
		t.Fatal("one byte over the bound is not exceeded")
	}
}

// TestThrottleRateLayers resolves the rate keys as BrokerConfigHandler
// does: this broker's value over the cluster default over unlimited.
func TestThrottleRateLayers(t *testing.T) {
	const k = "leader.replication.throttled.rate"
	for _, tc := range []struct {
		name               string
		cluster, perBroker map[string]string
		want               int64
	}{
		{name: "none", want: math.MaxInt64},
		{name: "cluster default", cluster: map[string]string{k: "100"}, want: 100},
		{name: "per broker wins", cluster: map[string]string{k: "100"}, perBroker: map[string]string{k: " 7 "}, want: 7},
		{name: "other key", perBroker: map[string]string{"follower.replication.throttled.rate": "5"}, want: math.MaxInt64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := throttleRate(k, tc.cluster, tc.perBroker); got != tc.want {
				t.Fatalf("rate %d, want %d", got, tc.want)
			}
		})
	}
}

// FuzzParseThrottledPartitions feeds arbitrary throttled replicas values
// (they come from ZooKeeper, where any client may write): parsing never
// panics, and for a value the topic key's validator accepts, exactly the
// partitions paired with the broker are throttled.
func FuzzParseThrottledPartitions(f *testing.F) {
	for _, seed := range []string{"", "*", "0:1,1:2", " 3 : 1 ", "0:1,,", "x:1", "1:99999999999", "-1:-1"} {
		f.Add(seed, int32(1))
	}
	f.Fuzz(func(t *testing.T, v string, broker int32) {
		got := parseThrottledPartitions(v, broker)
		if throttledReplicas(strings.TrimSpace(v)) != nil || strings.TrimSpace(v) == "*" {
			return
		}
		want := map[int32]bool{}
		for _, item := range strings.Split(strings.TrimSpace(v), ",") {
			if strings.TrimSpace(item) == "" {
				continue
			}
			p, b, _ := strings.Cut(strings.TrimSpace(item), ":")
			pid, _ := strconv.ParseInt(strings.TrimSpace(p), 10, 32)
			bid, _ := strconv.ParseInt(strings.TrimSpace(b), 10, 32)
			if int32(bid) == broker {
				want[int32(pid)] = true
			}
		}
		if len(want) == 0 && got != nil {
			t.Fatalf("%q for broker %d: throttled %+v, want nothing", v, broker, got)
		}
		for p := range want {
			if !got.has(p) {
				t.Fatalf("%q for broker %d: partition %d not throttled", v, broker, p)
			}
		}
		if got != nil && !got.all && len(got.parts) != len(want) {
			t.Fatalf("%q for broker %d: %v throttled, want %v", v, broker, got.parts, want)
		}
	})
}
