package broker

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestConsoleConsumerWire replays what kafka-console-consumer.sh 3.9 does
// with a generated group (protocol.md 2.2) with franz-go pinned to 3.9's
// versions, recording the wire through a proxy the broker advertises:
// FindCoordinator v6, JoinGroup v9 answered MEMBER_ID_REQUIRED then
// joined, SyncGroup v5, Heartbeat v4, OffsetFetch v9 (require_stable),
// ListOffsets, Fetch, and LeaveGroup v5 on exit, with no OffsetCommit.
func TestConsoleConsumerWire(t *testing.T) {
	rec := newWireRecorder(t)
	s, addr := startTestServer(t, append([]string{"advertised.listeners=PLAINTEXT://127.0.0.1:" + strconv.Itoa(rec.port())}, groupOverrides...)...)
	rec.start(addr)
	proxy := net.JoinHostPort("127.0.0.1", strconv.Itoa(rec.port()))
	createTestTopic(t, s, proxy, "console", 2, nil)
	produceSpread(t, proxy, "console", 20)

	const group = "console-consumer-4242"
	cl := newTestClient(t, proxy,
		kgo.MaxVersions(kversion.V3_9_0()),
		kgo.ClientID("console-consumer"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics("console"),
		kgo.Balancers(kgo.RangeBalancer(), kgo.CooperativeStickyBalancer()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(45*time.Second),
		kgo.HeartbeatInterval(100*time.Millisecond),
	)
	ctx := testCtx(t)
	n := 0
	for n < 20 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 20 records", n)
		}
		n += len(fs.Records())
	}
	waitFor(t, 10*time.Second, "a heartbeat", func() bool { return len(rec.of(12)) > 0 })
	cl.Close()
	waitFor(t, 10*time.Second, "LeaveGroup", func() bool { return len(rec.of(13)) > 0 })

	fc := rec.of(10)
	if len(fc) == 0 || fc[0].version != 6 {
		t.Fatalf("FindCoordinator calls %+v, want v6", fc)
	}
	fcReq, fcResp := fc[0].req.(*kmsg.FindCoordinatorRequest), fc[0].resp.(*kmsg.FindCoordinatorResponse)
	if fcReq.CoordinatorType != 0 || fmt.Sprint(fcReq.CoordinatorKeys) != "["+group+"]" ||
		len(fcResp.Coordinators) != 1 || fcResp.Coordinators[0].ErrorCode != 0 ||
		fcResp.Coordinators[0].NodeID != 0 || fcResp.Coordinators[0].Port != int32(rec.port()) {
		t.Fatalf("FindCoordinator %+v -> %+v", fcReq, fcResp)
	}

	joins := rec.of(11)
	if len(joins) < 2 {
		t.Fatalf("%d JoinGroup calls, want the member-id round and the join", len(joins))
	}
	j0, r0 := joins[0].req.(*kmsg.JoinGroupRequest), joins[0].resp.(*kmsg.JoinGroupResponse)
	j1, r1 := joins[1].req.(*kmsg.JoinGroupRequest), joins[1].resp.(*kmsg.JoinGroupResponse)
	if joins[0].version != 9 || j0.MemberID != "" || r0.ErrorCode != kerr.MemberIDRequired.Code || r0.MemberID == "" {
		t.Fatalf("first JoinGroup v%d member %q -> error %d member %q; want v9, MEMBER_ID_REQUIRED with an id", joins[0].version, j0.MemberID, r0.ErrorCode, r0.MemberID)
	}
	member := r0.MemberID
	if j1.MemberID != member || r1.ErrorCode != 0 || r1.LeaderID != member || r1.Generation < 1 ||
		r1.Protocol == nil || *r1.Protocol != "range" || r1.ProtocolType == nil || *r1.ProtocolType != "consumer" {
		t.Fatalf("second JoinGroup %+v -> %+v", j1, r1)
	}

	syncs := rec.of(14)
	if len(syncs) == 0 || syncs[0].version != 5 {
		t.Fatalf("SyncGroup calls %+v, want v5", syncs)
	}
	sq, sr := syncs[0].req.(*kmsg.SyncGroupRequest), syncs[0].resp.(*kmsg.SyncGroupResponse)
	if sq.ProtocolType == nil || *sq.ProtocolType != "consumer" || sr.ErrorCode != 0 || len(sr.MemberAssignment) == 0 ||
		sr.Protocol == nil || *sr.Protocol != "range" {
		t.Fatalf("SyncGroup %+v -> %+v", sq, sr)
	}
	hb := rec.of(12)
	if hb[0].version != 4 || hb[0].resp.(*kmsg.HeartbeatResponse).ErrorCode != 0 {
		t.Fatalf("Heartbeat v%d -> %+v", hb[0].version, hb[0].resp)
	}

	ofs := rec.of(9)
	if len(ofs) == 0 || ofs[0].version != 9 {
		t.Fatalf("OffsetFetch calls %+v, want v9", ofs)
	}
	oq, or := ofs[0].req.(*kmsg.OffsetFetchRequest), ofs[0].resp.(*kmsg.OffsetFetchResponse)
	if !oq.RequireStable || len(oq.Groups) != 1 || oq.Groups[0].Group != group || len(or.Groups) != 1 || or.Groups[0].ErrorCode != 0 {
		t.Fatalf("OffsetFetch %+v -> %+v", oq, or)
	}
	parts := 0
	for _, tp := range or.Groups[0].Topics {
		parts += len(tp.Partitions)
	}
	if len(or.Groups[0].Topics) != 1 || or.Groups[0].Topics[0].Topic != "console" || parts != 2 {
		t.Fatalf("OffsetFetch answered %d topics, %d partitions: %+v; want console's 2 partitions", len(or.Groups[0].Topics), parts, or.Groups[0].Topics)
	}
	for _, tp := range or.Groups[0].Topics {
		for _, p := range tp.Partitions {
			if p.Offset != -1 {
				t.Errorf("new group: committed offset %d for %s-%d, want -1", p.Offset, tp.Topic, p.Partition)
			}
		}
	}
	if len(rec.of(2)) == 0 || len(rec.of(1)) == 0 {
		t.Error("no ListOffsets or no Fetch on the wire")
	}
	if n := len(rec.of(8)); n != 0 {
		t.Errorf("%d OffsetCommit requests with auto-commit off", n)
	}
	leave := rec.of(13)
	lq, lr := leave[0].req.(*kmsg.LeaveGroupRequest), leave[0].resp.(*kmsg.LeaveGroupResponse)
	if leave[0].version != 5 || len(lq.Members) != 1 || lq.Members[0].MemberID != member ||
		lr.ErrorCode != 0 || len(lr.Members) != 1 || lr.Members[0].ErrorCode != 0 {
		t.Fatalf("LeaveGroup v%d %+v -> %+v", leave[0].version, lq, lr)
	}
	adm, _ := newAdmin(t, addr)
	dg, err := adm.DescribeGroups(testCtx(t), group)
	if err != nil || dg[group].State != "Empty" {
		t.Fatalf("after leaving: %+v, %v; want Empty", dg[group], err)
	}
}

// TestConsumerGroupsTool follows kafka-consumer-groups.sh (protocol.md
// 2.4) with kadm pinned to 3.9: --list, --describe (members and offsets),
// --reset-offsets refused while members exist and --execute'd once the
// group is Empty (simple commits), --delete-offsets and --delete.
func TestConsumerGroupsTool(t *testing.T) {
	s, addr := startTestServer(t, groupOverrides...)
	createTestTopic(t, s, addr, "tool", 2, nil)
	produceSpread(t, addr, "tool", 20)
	adm, _ := newAdmin(t, addr)
	ctx := testCtx(t)

	m := newGroupMember(t, addr, "tool-client", "tool-g", "tool", kgo.DisableAutoCommit())
	var got []*kgo.Record
	for len(got) < 20 {
		got = append(got, m.cl.PollFetches(ctx).Records()...)
		if ctx.Err() != nil {
			t.Fatal("records not consumed")
		}
	}
	if err := m.cl.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}

	// --list and --describe while the member is there.
	lg, err := adm.ListGroups(ctx)
	if err != nil || len(lg.Groups()) != 1 || lg["tool-g"].State != "Stable" || lg["tool-g"].ProtocolType != "consumer" {
		t.Fatalf("list groups: %+v, %v", lg, err)
	}
	dg, err := adm.DescribeGroups(ctx, "tool-g")
	if err != nil {
		t.Fatal(err)
	}
	g := dg["tool-g"]
	if g.State != "Stable" || g.Protocol != "cooperative-sticky" || len(g.Members) != 1 ||
		g.Members[0].ClientID != "tool-client" || g.Members[0].ClientHost != "/127.0.0.1" {
		t.Fatalf("describe: %+v", g)
	}
	if ca, ok := g.Members[0].Assigned.AsConsumer(); !ok || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != 2 {
		t.Fatalf("described assignment: %+v", g.Members[0].Assigned)
	}
	fo, err := adm.FetchOffsets(ctx, "tool-g")
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 2; p++ {
		if o, ok := fo.Lookup("tool", p); !ok || o.At != 10 || o.Err != nil {
			t.Errorf("committed tool-%d = %+v, want 10", p, o)
		}
	}

	// --reset-offsets --execute while the member is active: a simple
	// commit into a group with members is refused.
	reset := kadmOffsets("tool", map[int32]int64{0: 3, 1: 4})
	cr, err := adm.CommitOffsets(ctx, "tool-g", reset)
	if err != nil {
		t.Fatal(err)
	}
	if e := cr.Error(); e == nil || !isKerr(e, kerr.UnknownMemberID) {
		t.Fatalf("reset of an active group: %v, want UNKNOWN_MEMBER_ID", e)
	}

	m.close()
	lg, err = adm.ListGroups(ctx, "Empty")
	if err != nil || lg["tool-g"].State != "Empty" {
		t.Fatalf("list --state Empty: %+v, %v", lg, err)
	}
	if cr, err = adm.CommitOffsets(ctx, "tool-g", reset); err != nil || cr.Error() != nil {
		t.Fatalf("reset of an empty group: %v %v", err, cr.Error())
	}
	conn, chroot := rawZooKeeper(t, s)
	if data, _, err := conn.Get(chroot + "/consumers/tool-g/offsets/tool/1"); err != nil || string(data) != "4" {
		t.Fatalf("znode after reset = %q, %v; want 4", data, err)
	}

	// --delete-offsets for one partition (OffsetDelete), with a partition
	// that does not exist.
	del := kadmTopicSet("tool", 0, 9)
	dr, err := adm.DeleteOffsets(ctx, "tool-g", del)
	if err != nil {
		t.Fatal(err)
	}
	if e := dr["tool"][0]; e != nil {
		t.Errorf("delete offset of tool-0: %v", e)
	}
	if e := dr["tool"][9]; !isKerr(e, kerr.UnknownTopicOrPartition) {
		t.Errorf("delete offset of tool-9: %v, want UNKNOWN_TOPIC_OR_PARTITION", e)
	}
	if ok, _, _ := conn.Exists(chroot + "/consumers/tool-g/offsets/tool/0"); ok {
		t.Error("tool-0's offset znode survives OffsetDelete")
	}

	// --delete.
	dgr, err := adm.DeleteGroups(ctx, "tool-g")
	if err != nil || dgr["tool-g"].Err != nil {
		t.Fatalf("delete group: %v %+v", err, dgr)
	}
	if ok, _, _ := conn.Exists(chroot + "/consumers/tool-g"); ok {
		t.Error("/consumers/tool-g survives DeleteGroups")
	}
	lg, err = adm.ListGroups(ctx)
	if err != nil || len(lg) != 0 {
		t.Fatalf("groups after delete: %+v, %v", lg, err)
	}
	dg, err = adm.DescribeGroups(ctx, "tool-g")
	if err != nil || dg["tool-g"].State != "Dead" {
		t.Fatalf("describe a deleted group: %+v, %v; want Dead", dg["tool-g"], err)
	}
}

// kadmOffsets is kadm.Offsets for one topic, without leader epochs.
func kadmOffsets(topic string, at map[int32]int64) kadm.Offsets {
	os := make(kadm.Offsets)
	for p, o := range at {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1})
	}
	return os
}

// kadmTopicSet is a kadm.TopicsSet of one topic's partitions.
func kadmTopicSet(topic string, ps ...int32) kadm.TopicsSet {
	s := make(kadm.TopicsSet)
	s.Add(topic, ps...)
	return s
}

// isKerr reports whether err is the Kafka error want.
func isKerr(err error, want *kerr.Error) bool { return errors.Is(err, want) }
