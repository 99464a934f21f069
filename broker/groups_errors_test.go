package broker

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// rawGroupClient sends hand-built group requests; they go to broker 0
// explicitly (cl.Broker(0)), since kgo would route group requests to
// whatever FindCoordinator names.
func rawGroupClient(t *testing.T, addr string) *kgo.Client {
	return newTestClient(t, addr)
}

// joinRaw runs the KIP-394 two-step JoinGroup v9 for a dynamic member and
// returns the final response.
func joinRaw(t *testing.T, cl *kgo.Client, group string) *kmsg.JoinGroupResponse {
	t.Helper()
	req := kmsg.NewPtrJoinGroupRequest()
	req.Version = 9
	req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = group, 10000, 10000, "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "range", []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
	resp, err := req.RequestWith(testCtx(t), cl.Broker(0))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.MemberIDRequired.Code {
		return resp
	}
	req.MemberID = resp.MemberID
	resp, err = req.RequestWith(testCtx(t), cl.Broker(0))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func heartbeatRaw(t *testing.T, cl *kgo.Client, group, member string, gen int32) int16 {
	t.Helper()
	req := kmsg.NewPtrHeartbeatRequest()
	req.Version = 4
	req.Group, req.MemberID, req.Generation = group, member, gen
	resp, err := req.RequestWith(testCtx(t), cl.Broker(0))
	if err != nil {
		t.Fatal(err)
	}
	return resp.ErrorCode
}

func commitRaw(t *testing.T, cl *kgo.Client, group, member string, gen int32, topic string, parts ...int32) []kmsg.OffsetCommitResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group, req.MemberID, req.Generation = group, member, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for _, p := range parts {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset = p, 1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
	resp, err := req.RequestWith(testCtx(t), cl.Broker(0))
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions
}

// TestGroupErrorCodes: bad input answers Kafka's codes.
func TestGroupErrorCodes(t *testing.T) {
	s, addr := startTestServer(t, append([]string{"group.max.size=1"}, groupOverrides...)...)
	createTestTopic(t, s, addr, "errs", 2, nil)
	cl := rawGroupClient(t, addr)

	j := joinRaw(t, cl, "errs-g")
	if j.ErrorCode != 0 || j.LeaderID != j.MemberID {
		t.Fatalf("join: %+v", j)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version = 5
	sync.Group, sync.MemberID, sync.Generation = "errs-g", j.MemberID, j.Generation
	sync.ProtocolType, sync.Protocol = kmsg.StringPtr("consumer"), kmsg.StringPtr("range")
	if sr, err := sync.RequestWith(testCtx(t), cl.Broker(0)); err != nil || sr.ErrorCode != 0 {
		t.Fatalf("sync: %+v %v", sr, err)
	}

	for _, tc := range []struct {
		name   string
		member string
		gen    int32
		want   *kerr.Error
	}{
		{"current member", j.MemberID, j.Generation, nil},
		{"unknown member", "nobody-1234", j.Generation, kerr.UnknownMemberID},
		{"stale generation", j.MemberID, j.Generation - 1, kerr.IllegalGeneration},
		{"future generation", j.MemberID, j.Generation + 1, kerr.IllegalGeneration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := int16(0)
			if tc.want != nil {
				want = tc.want.Code
			}
			if got := heartbeatRaw(t, cl, "errs-g", tc.member, tc.gen); got != want {
				t.Errorf("heartbeat: %v, want %v", kerr.ErrorForCode(got), tc.want)
			}
			ps := commitRaw(t, cl, "errs-g", tc.member, tc.gen, "errs", 0)
			if ps[0].ErrorCode != want {
				t.Errorf("offset commit: %v, want %v", kerr.ErrorForCode(ps[0].ErrorCode), tc.want)
			}
		})
	}

	// Unknown topics and partitions answer per partition; the known
	// partition of the same request is committed.
	ps := commitRaw(t, cl, "errs-g", j.MemberID, j.Generation, "errs", 1, 7)
	if ps[0].ErrorCode != 0 || ps[1].ErrorCode != kerr.UnknownTopicOrPartition.Code || ps[1].Partition != 7 {
		t.Errorf("commit errs-1 and errs-7: %+v", ps)
	}
	if ps := commitRaw(t, cl, "errs-g", j.MemberID, j.Generation, "no-such-topic", 0); ps[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("commit to an unknown topic: %v", kerr.ErrorForCode(ps[0].ErrorCode))
	}

	// group.max.size=1: a second member is refused.
	if j2 := joinRaw(t, rawGroupClient(t, addr), "errs-g"); j2.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Errorf("second member of a full group: %v, want GROUP_MAX_SIZE_REACHED", kerr.ErrorForCode(j2.ErrorCode))
	}

	// Session timeouts outside group.min/max.session.timeout.ms.
	bad := kmsg.NewPtrJoinGroupRequest()
	bad.Version = 9
	bad.Group, bad.SessionTimeoutMillis, bad.RebalanceTimeoutMillis, bad.ProtocolType = "other-g", 100, 1000, "consumer"
	bad.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
	if r, err := bad.RequestWith(testCtx(t), cl.Broker(0)); err != nil || r.ErrorCode != kerr.InvalidSessionTimeout.Code {
		t.Errorf("join with a 100ms session: %+v %v, want INVALID_SESSION_TIMEOUT", r, err)
	}

	// FindCoordinator: transactions are not there yet; unknown key types
	// are invalid; v3 answers the single-key form.
	for _, tc := range []struct {
		version int16
		keyType int8
		want    int16
	}{
		{6, 0, 0},
		{6, 1, kerr.CoordinatorNotAvailable.Code},
		{6, 9, kerr.InvalidRequest.Code},
		{3, 0, 0},
		{0, 0, 0},
	} {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorType = tc.version, tc.keyType
		req.CoordinatorKey, req.CoordinatorKeys = "errs-g", []string{"errs-g"}
		resp, err := req.RequestWith(testCtx(t), cl.Broker(0))
		if err != nil {
			t.Fatal(err)
		}
		code, node := resp.ErrorCode, resp.NodeID
		if tc.version >= 4 {
			if len(resp.Coordinators) != 1 || resp.Coordinators[0].Key != "errs-g" {
				t.Fatalf("v%d: coordinators %+v", tc.version, resp.Coordinators)
			}
			code, node = resp.Coordinators[0].ErrorCode, resp.Coordinators[0].NodeID
		}
		if code != tc.want || (code == 0 && node != 0) || (code != 0 && node != -1) {
			t.Errorf("FindCoordinator v%d type %d: error %v node %d, want %v", tc.version, tc.keyType, kerr.ErrorForCode(code), node, kerr.ErrorForCode(tc.want))
		}
	}
}

// TestGroupCoordinatorMoves registers a second (fake) broker in
// ZooKeeper: groups that hash to it are no longer this broker's
// (FindCoordinator points at it; group requests answer NOT_COORDINATOR;
// a loaded group is unloaded). When it dies they come back, with their
// committed offsets read again from ZooKeeper.
func TestGroupCoordinatorMoves(t *testing.T) {
	s, addr := startTestServer(t, groupOverrides...)
	createTestTopic(t, s, addr, "moving", 1, nil)
	cl := rawGroupClient(t, addr)

	// A group that broker 1 would own once it is live.
	var group string
	for i := 0; ; i++ {
		g := fmt.Sprintf("moving-g%d", i)
		if int(javaStringHash(g)&math.MaxInt32)%2 == 1 {
			group = g
			break
		}
	}
	j := joinRaw(t, cl, group)
	if j.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(j.ErrorCode))
	}
	if ps := commitRaw(t, cl, group, "", -1, "moving", 0); ps[0].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("simple commit to a group with members: %v", kerr.ErrorForCode(ps[0].ErrorCode))
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version = 5
	sync.Group, sync.MemberID, sync.Generation = group, j.MemberID, j.Generation
	if sr, err := sync.RequestWith(testCtx(t), cl.Broker(0)); err != nil || sr.ErrorCode != 0 {
		t.Fatalf("sync: %+v %v", sr, err)
	}
	if ps := commitRaw(t, cl, group, j.MemberID, j.Generation, "moving", 0); ps[0].ErrorCode != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(ps[0].ErrorCode))
	}

	fake := toolClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := fake.RegisterBroker(ctx, zkmeta.BrokerInfo{ID: 1, Endpoints: []zkmeta.Endpoint{{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*resyncInterval, "broker 1 to be live", func() bool { return len(s.liveBrokerIDs()) == 2 })

	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorKeys = 6, []string{group}
	resp, err := fc.RequestWith(testCtx(t), cl.Broker(0))
	if err != nil || resp.Coordinators[0].ErrorCode != 0 || resp.Coordinators[0].NodeID != 1 || resp.Coordinators[0].Port != 1 {
		t.Fatalf("FindCoordinator for %s with two brokers: %+v %v; want broker 1", group, resp, err)
	}
	if code := heartbeatRaw(t, cl, group, j.MemberID, j.Generation); code != kerr.NotCoordinator.Code {
		t.Errorf("heartbeat to the old coordinator: %v, want NOT_COORDINATOR", kerr.ErrorForCode(code))
	}
	if ps := commitRaw(t, cl, group, j.MemberID, j.Generation, "moving", 0); ps[0].ErrorCode != kerr.NotCoordinator.Code {
		t.Errorf("commit to the old coordinator: %v, want NOT_COORDINATOR", kerr.ErrorForCode(ps[0].ErrorCode))
	}
	if j2 := joinRaw(t, cl, group); j2.ErrorCode != kerr.NotCoordinator.Code {
		t.Errorf("join at the old coordinator: %v, want NOT_COORDINATOR", kerr.ErrorForCode(j2.ErrorCode))
	}
	// ListGroups of this broker (the tool asks every broker; broker 1 is
	// not reachable).
	lgReq := kmsg.NewPtrListGroupsRequest()
	lgReq.Version = 5
	if lg, err := lgReq.RequestWith(testCtx(t), cl.Broker(0)); err != nil || lg.ErrorCode != 0 || len(lg.Groups) != 0 {
		t.Errorf("ListGroups lists groups it does not coordinate: %+v %v", lg, err)
	}

	// Broker 1 dies: the group comes back with its committed offset.
	fake.Close()
	waitFor(t, 3*resyncInterval, "broker 1 to be gone", func() bool { return len(s.liveBrokerIDs()) == 1 })
	adm, _ := newAdmin(t, addr)
	fo, err := adm.FetchOffsets(testCtx(t), group)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := fo.Lookup("moving", 0); !ok || o.At != 1 {
		t.Errorf("offset after the group came back: %+v", o)
	}
	if code := heartbeatRaw(t, cl, group, j.MemberID, j.Generation); code != kerr.UnknownMemberID.Code {
		t.Errorf("heartbeat of a member from before the move: %v, want UNKNOWN_MEMBER_ID (members rejoin)", kerr.ErrorForCode(code))
	}
}

// TestJavaStringHash pins the hash to Java's String.hashCode, which picks
// the coordinator as Kafka's partitionFor does.
func TestJavaStringHash(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"hello", 99162322},
		{"polygenelubricants", math.MinInt32},
		{"é€𝄞", int32(233*31*31*31 + 8364*31*31 + 0xD834*31 + 0xDD1E)},
	} {
		if got := javaStringHash(tc.in); got != tc.want {
			t.Errorf("hash(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// TestGroupShutdownEndsParkedJoin: a JoinGroup parked in a rebalance (the
// other member never rejoins) does not hold up shutdown; it answers
// NOT_COORDINATOR so the client looks for another coordinator. Shutdown
// not waiting for it shows in the broker's log: the request drain did not
// run into its timeout.
func TestGroupShutdownEndsParkedJoin(t *testing.T) {
	warnings, logs := observer.New(zap.WarnLevel)
	logger := zap.New(zapcore.NewTee(zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Core(), warnings))
	s, addr, stop := runTestServerLogged(t, testServerConfig(t, groupOverrides...), logger)
	createTestTopic(t, s, addr, "parked", 1, nil)
	cl := rawGroupClient(t, addr)
	if j := joinRaw(t, cl, "parked-g"); j.ErrorCode != 0 {
		t.Fatalf("first member: %v", kerr.ErrorForCode(j.ErrorCode))
	}
	// The second member's join waits for the first to rejoin, which it
	// never does (its rebalance timeout is 10 s).
	parked := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		second := rawGroupClient(t, addr)
		req := kmsg.NewPtrJoinGroupRequest()
		req.Version = 9
		req.Group, req.SessionTimeoutMillis, req.RebalanceTimeoutMillis, req.ProtocolType = "parked-g", 10000, 10000, "consumer"
		req.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range"}}
		for {
			resp, err := req.RequestWith(context.Background(), second.Broker(0))
			if err != nil {
				parked <- nil
				return
			}
			if resp.ErrorCode != kerr.MemberIDRequired.Code {
				parked <- resp
				return
			}
			req.MemberID = resp.MemberID
		}
	}()
	waitFor(t, 10*time.Second, "the group to rebalance", func() bool {
		adm, _ := newAdmin(t, addr)
		dg, err := adm.DescribeGroups(testCtx(t), "parked-g")
		return err == nil && dg["parked-g"].State == "PreparingRebalance"
	})
	start := time.Now()
	stop()
	t.Logf("shutdown with a parked JoinGroup took %s (request drain timeout %s)", time.Since(start), inflightDrainTimeout)
	if n := logs.FilterMessage("requests still running after shutdown timeout").Len(); n != 0 {
		t.Errorf("shutdown waited out the request drain timeout (%s) with a parked JoinGroup", inflightDrainTimeout)
	}
	select {
	case resp := <-parked:
		if resp == nil {
			t.Fatal("the parked JoinGroup got no answer before the connection closed")
		}
		if resp.ErrorCode != kerr.NotCoordinator.Code {
			t.Errorf("parked JoinGroup answered %v, want NOT_COORDINATOR", kerr.ErrorForCode(resp.ErrorCode))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the parked JoinGroup never returned")
	}
}
