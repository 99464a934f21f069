package broker

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkOffsetCommit50 measures OffsetCommit v9 requests of 50
// partitions each, written to ZooKeeper in one multi: commits per second
// and the latency percentiles, from one committer and from 8 groups
// committing at once.
//
//	go test ./broker/ -run '^$' -bench OffsetCommit50 -benchtime 2000x
func BenchmarkOffsetCommit50(b *testing.B) {
	const partitions = 50
	s, addr, _ := runTestServer(b, testServerConfig(b, groupOverrides...))
	createBenchTopic(b, s, addr, "bench-commit", partitions)
	for _, committers := range []int{1, 8} {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			reqs := make([]*kmsg.OffsetCommitRequest, committers)
			for i := range reqs {
				req := kmsg.NewPtrOffsetCommitRequest()
				req.Version = 9
				req.Group = fmt.Sprintf("bench-%d-%d", committers, i) // simple commits to an Empty group
				rt := kmsg.NewOffsetCommitRequestTopic()
				rt.Topic = "bench-commit"
				for p := int32(0); p < partitions; p++ {
					rp := kmsg.NewOffsetCommitRequestTopicPartition()
					rp.Partition, rp.LeaderEpoch = p, 0
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
				reqs[i] = req
			}
			lat := make([][]time.Duration, committers)
			var wg sync.WaitGroup
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < committers; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := reqs[i]
					for n := i; n < b.N; n += committers {
						for j := range req.Topics[0].Partitions {
							req.Topics[0].Partitions[j].Offset = int64(n)
						}
						t0 := time.Now()
						resp, err := req.RequestWith(ctx, cl.Broker(0))
						lat[i] = append(lat[i], time.Since(t0))
						if err != nil || resp.Topics[0].Partitions[0].ErrorCode != 0 {
							b.Errorf("commit: %v %+v", err, resp)
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			var all []time.Duration
			for _, l := range lat {
				all = append(all, l...)
			}
			sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
			if len(all) == 0 {
				return
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkGroupRebalance10 measures how long a 10-member franz-go group
// (range balancer, 20 partitions) takes to settle after one member leaves
// cleanly: from the LeaveGroup until each of the 9 others holds its new
// assignment. Members learn of the rebalance from their next heartbeat, so
// the heartbeat interval bounds the result: Kafka's default (3 s) and a
// short one that shows the coordinator's own part. The broker's and the
// clients' Info logs are kept in memory and printed, with each member's
// partitions and the coordinator's DescribeGroups view, only when a group
// does not settle.
//
//	go test ./broker/ -run '^$' -bench GroupRebalance10 -benchtime 3x
func BenchmarkGroupRebalance10(b *testing.B) {
	const partitions, size = 20, 10
	tape := &logTape{}
	s, addr := runTapedServer(b, testServerConfig(b, groupOverrides...), tape)
	createBenchTopic(b, s, addr, "bench-rebalance", partitions)
	// round numbers the groups across the benchmark's calls (the testing
	// package calls each sub-benchmark with b.N = 1 first), so that no
	// group name is used twice and the dump's logs are of one group.
	round := 0
	for _, hb := range []time.Duration{3 * time.Second, 100 * time.Millisecond} {
		b.Run("heartbeat="+hb.String(), func(b *testing.B) {
			var total time.Duration
			for n := 0; n < b.N; n++ {
				b.StopTimer()
				round++
				group := fmt.Sprintf("rebalance-%s-%d", hb, round)
				ctx, cancel := context.WithCancel(context.Background())
				var ms []*groupMember
				for i := 0; i < size; i++ {
					m := newGroupMember(b, addr, fmt.Sprintf("m%d", i), group, "bench-rebalance",
						kgo.Balancers(kgo.RangeBalancer()), kgo.HeartbeatInterval(hb), kgo.SessionTimeout(30*time.Second),
						tape.clientLogger(fmt.Sprintf("m%d", i)))
					go m.poll(ctx)
					ms = append(ms, m)
				}
				waitFor(b, time.Minute, "ten members to share the partitions", func() bool {
					if exclusiveCover(ms, partitions) != "" {
						return false
					}
					for _, m := range ms {
						if len(m.assignment()) != partitions/size {
							return false
						}
					}
					return true
				})
				rest := ms[1:]
				before := make([]int, len(rest))
				for i, m := range rest {
					before[i], _ = m.counts()
				}
				b.StartTimer()
				t0 := time.Now()
				ms[0].close()
				for {
					done := exclusiveCover(rest, partitions) == ""
					for i, m := range rest {
						if a, _ := m.counts(); a == before[i] {
							done = false
						}
					}
					if done {
						break
					}
					if time.Since(t0) > time.Minute {
						b.Fatalf("the group did not settle within a minute\n%s", rebalanceDump(tape, addr, group, rest, before, partitions))
					}
					time.Sleep(time.Millisecond)
				}
				total += time.Since(t0)
				b.StopTimer()
				cancel()
				for _, m := range ms {
					m.close()
				}
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "rebalance-ms")
		})
	}
}

// createBenchTopic creates a topic and waits until this broker leads it.
func createBenchTopic(b *testing.B, s *Server, addr, topic string, partitions int32) {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = []kmsg.CreateTopicsRequestTopic{rt}
	req.TimeoutMillis = 30000
	if _, err := req.RequestWith(context.Background(), cl); err != nil {
		b.Fatal(err)
	}
	waitFor(b, 30*time.Second, "leading "+topic, func() bool {
		for p := int32(0); p < partitions; p++ {
			if _, ok := s.replicas.get(topicPartition{topic, p}); !ok {
				return false
			}
		}
		return true
	})
}

// rebalanceDump describes a group that did not settle: each member's owned
// partitions and callback counts, the coordinator's view (DescribeGroups),
// and the broker's and the clients' logs about the group.
func rebalanceDump(tape *logTape, addr, group string, ms []*groupMember, before []int, partitions int32) string {
	var b strings.Builder
	for i, m := range ms {
		a, r := m.counts()
		fmt.Fprintf(&b, "%s: owns %v, assigned %d times (%d before the leave), revoked %d times\n", m.name, m.assignment(), a, before[i], r)
	}
	fmt.Fprintln(&b, "cover:", exclusiveCover(ms, partitions))
	fmt.Fprintln(&b, describeGroup(addr, group))
	fmt.Fprintln(&b, "broker log:")
	for _, l := range tape.grep(`"` + group + `"`) {
		fmt.Fprintln(&b, " ", l)
	}
	fmt.Fprintln(&b, "client logs:")
	for _, l := range tape.grep("group: " + group) {
		if rest := l[strings.Index(l, "group: "+group)+len("group: "+group):]; rest == "" || rest[0] == ',' {
			fmt.Fprintln(&b, " ", l)
		}
	}
	return b.String()
}
