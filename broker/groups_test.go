package broker

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// produceSpread writes n records round-robin over the topic's partitions
// and waits for them to be acknowledged.
func produceSpread(t *testing.T, addr, topic string, n int) {
	t.Helper()
	cl := newTestClient(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var rs []*kgo.Record
	for i := 0; i < n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))})
	}
	if err := cl.ProduceSync(testCtx(t), rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// TestGroupMembershipMoves runs N members on M partitions with each of
// franz-go's eager (range) and cooperative (cooperative-sticky) balancers:
// every partition is owned by exactly one member while members join, leave
// cleanly and crash (no LeaveGroup, session timeout).
func TestGroupMembershipMoves(t *testing.T) {
	s, addr := startTestServer(t, groupOverrides...)
	const partitions = 6
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{
		{"range", kgo.RangeBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(bal.name, func(t *testing.T) {
			topic, group := "moves-"+bal.name, "g-"+bal.name
			createTestTopic(t, s, addr, topic, partitions, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var members []*groupMember
			join := func(name string) *groupMember {
				m := newGroupMember(t, addr, name, group, topic, kgo.Balancers(bal.b))
				go m.poll(ctx)
				members = append(members, m)
				return m
			}
			settled := func(what string, live []*groupMember) {
				t.Helper()
				waitFor(t, 30*time.Second, what, func() bool {
					if exclusiveCover(live, partitions) != "" {
						return false
					}
					for _, m := range live {
						if len(m.assignment()) == 0 {
							return false // 6 partitions over <= 4 members: nobody idles
						}
					}
					return true
				})
				// The coordinator's view (kafka-consumer-groups --describe
				// --members) agrees with the members'.
				adm, _ := newAdmin(t, addr)
				dg, err := adm.DescribeGroups(testCtx(t), group)
				if err != nil {
					t.Fatal(err)
				}
				g := dg[group]
				if g.State != "Stable" || len(g.Members) != len(live) {
					t.Fatalf("%s: group %s with %d members, want Stable with %d", what, g.State, len(g.Members), len(live))
				}
			}

			a, b, c := join("a"), join("b"), join("c")
			settled("three members to share six partitions", []*groupMember{a, b, c})

			d := join("d")
			settled("a fourth member to get partitions", []*groupMember{a, b, c, d})

			b.close()
			settled("b's partitions to move after it left", []*groupMember{a, c, d})

			c.crash()
			settled("c's partitions to move after its session expired", []*groupMember{a, d})
			if got := exclusiveCover([]*groupMember{a, d}, partitions); got != "" {
				t.Fatal(got)
			}
		})
	}
}

// TestGroupIdleMembers: more members than partitions leaves the extra ones
// without partitions, each partition still owned once.
func TestGroupIdleMembers(t *testing.T) {
	s, addr := startTestServer(t, groupOverrides...)
	createTestTopic(t, s, addr, "idle", 2, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ms []*groupMember
	for i := 0; i < 3; i++ {
		m := newGroupMember(t, addr, fmt.Sprintf("m%d", i), "idle-g", "idle")
		go m.poll(ctx)
		ms = append(ms, m)
	}
	waitFor(t, 30*time.Second, "two of three members to own one partition each", func() bool {
		if exclusiveCover(ms, 2) != "" {
			return false
		}
		idle := 0
		for _, m := range ms {
			if len(m.assignment()) == 0 {
				idle++
			}
		}
		return idle == 1
	})
}

// TestGroupExactlyOnceAcrossMembers: records produced before and while two
// members share a topic are each consumed by exactly one member.
func TestGroupExactlyOnceAcrossMembers(t *testing.T) {
	s, addr := startTestServer(t, groupOverrides...)
	createTestTopic(t, s, addr, "once", 4, nil)
	produceSpread(t, addr, "once", 200)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := newGroupMember(t, addr, "a", "once-g", "once", kgo.Balancers(kgo.CooperativeStickyBalancer()))
	b := newGroupMember(t, addr, "b", "once-g", "once", kgo.Balancers(kgo.CooperativeStickyBalancer()))
	go a.poll(ctx)
	go b.poll(ctx)
	waitFor(t, 30*time.Second, "both members to own partitions", func() bool {
		return exclusiveCover([]*groupMember{a, b}, 4) == "" && len(a.assignment()) == 2
	})
	produceSpread(t, addr, "once", 200)
	seen := make(map[string]int)
	waitFor(t, 30*time.Second, "all 400 records consumed", func() bool {
		clear(seen)
		for _, m := range []*groupMember{a, b} {
			m.mu.Lock()
			for _, r := range m.records {
				seen[fmt.Sprintf("%d/%d", r.Partition, r.Offset)]++
			}
			m.mu.Unlock()
		}
		return len(seen) == 400
	})
	for k, n := range seen {
		if n != 1 {
			t.Errorf("record %s consumed %d times", k, n)
		}
	}
}

// TestGroupOffsetsSurviveRestart commits part of a topic, restarts the
// broker, and resumes: the second consumer starts exactly at the commits
// (no gaps, nothing before them), and the commits sit in ZooKeeper in the
// ZooKeeper-era layout.
func TestGroupOffsetsSurviveRestart(t *testing.T) {
	cfg := testServerConfig(t, groupOverrides...)
	s, addr, stop := runTestServer(t, cfg)
	createTestTopic(t, s, addr, "resume", 3, nil)
	produceSpread(t, addr, "resume", 90)

	first := newGroupMember(t, addr, "first", "resume-g", "resume", kgo.DisableAutoCommit())
	ctx := testCtx(t)
	var got []*kgo.Record
	for len(got) < 45 {
		fs := first.cl.PollRecords(ctx, 45-len(got))
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records before the deadline", len(got))
		}
		got = append(got, fs.Records()...)
	}
	if err := first.cl.CommitRecords(ctx, got...); err != nil {
		t.Fatal(err)
	}
	committed := make(map[int32]int64)
	for _, r := range got {
		committed[r.Partition] = max(committed[r.Partition], r.Offset+1)
	}
	first.close()

	conn, chroot := rawZooKeeper(t, s)
	for p, off := range committed {
		path := fmt.Sprintf("%s/consumers/resume-g/offsets/resume/%d", chroot, p)
		data, _, err := conn.Get(path)
		if err != nil || string(data) != strconv.FormatInt(off, 10) {
			t.Errorf("%s = %q (%v), want %d", path, data, err, off)
		}
	}

	stop()
	_, addr2, _ := runTestServer(t, cfg)
	second := newGroupMember(t, addr2, "second", "resume-g", "resume", kgo.DisableAutoCommit())
	ctx = testCtx(t)
	var rest []*kgo.Record
	for len(rest) < 90-len(got) {
		fs := second.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after restart consumed %d of %d records", len(rest), 90-len(got))
		}
		rest = append(rest, fs.Records()...)
	}
	next := make(map[int32]int64)
	for p, off := range committed {
		next[p] = off
	}
	for _, r := range rest {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d resumed at %d, want %d (the commit, with no gap)", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}
	if len(rest) != 90-len(got) {
		t.Fatalf("second consumer read %d records, want %d", len(rest), 90-len(got))
	}
}

// TestGroupStaticMemberRestart: a static member (group.instance.id) that
// restarts within its session timeout gets its partitions back, and the
// other member sees no rebalance at all. The restarted member is a
// follower: a restarted static leader is told to skip assignment
// (KIP-814), after which franz-go itself chooses to rebalance.
func TestGroupStaticMemberRestart(t *testing.T) {
	s, addr := startTestServer(t, groupOverrides...)
	createTestTopic(t, s, addr, "static", 4, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	static := func(name string) *groupMember {
		m := newGroupMember(t, addr, name, "static-g", "static", kgo.InstanceID(name), kgo.SessionTimeout(20*time.Second))
		go m.poll(ctx)
		return m
	}
	a := static("a")
	waitFor(t, 30*time.Second, "a to lead the group alone", func() bool { return len(a.assignment()) == 4 })
	b := static("b")
	waitFor(t, 30*time.Second, "a and b to share four partitions", func() bool {
		return exclusiveCover([]*groupMember{a, b}, 4) == "" && len(b.assignment()) == 2
	})
	bParts := b.assignment()
	// With the cooperative balancer b's arrival takes two generations, and
	// a's callbacks for the second may still run after b sees its
	// partitions: the baseline is taken once both are in the same
	// generation and a's callbacks have been quiet for a second.
	_, bGen := b.cl.GroupMetadata()
	waitFor(t, 30*time.Second, "a to reach b's generation", func() bool {
		_, gen := a.cl.GroupMetadata()
		return gen == bGen
	})
	aAssigns, aRevokes := a.counts()
	for settled, start := time.Now(), time.Now(); time.Since(settled) < time.Second; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 30*time.Second {
			t.Fatal("a's assignment callbacks did not settle within 30 s")
		}
		if as, rs := a.counts(); as != aAssigns || rs != aRevokes {
			aAssigns, aRevokes, settled = as, rs, time.Now()
		}
	}
	_, aGen := a.cl.GroupMetadata()

	b.close() // a static member does not send LeaveGroup on close
	b2 := static("b")
	waitFor(t, 30*time.Second, "the restarted b to get its partitions", func() bool {
		return len(b2.assignment()) == 2
	})
	if got := b2.assignment(); fmt.Sprint(got) != fmt.Sprint(bParts) {
		t.Errorf("restarted b owns %v, had %v", got, bParts)
	}
	// a heartbeats every 150ms: a rebalance would reach it within this
	// window as REBALANCE_IN_PROGRESS and a new generation.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if _, gen := a.cl.GroupMetadata(); gen != aGen {
			t.Fatalf("a's generation moved from %d to %d: the static restart rebalanced the group", aGen, gen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if as, rs := a.counts(); as != aAssigns || rs != aRevokes {
		t.Errorf("a saw assignment callbacks during b's restart (assigned %d->%d, revoked %d->%d)", aAssigns, as, aRevokes, rs)
	}
}
