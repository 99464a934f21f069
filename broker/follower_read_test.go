package broker

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// followerFetchRequest is a consumer's Fetch of one partition of "events"
// by name (v12 and below) at offset with the given leader epoch.
func followerFetchRequest(version int16, offset int64, epoch int32) *kmsg.FetchRequest {
	r := kmsg.NewPtrFetchRequest()
	r.Version = version
	r.ReplicaID = -1
	r.MaxBytes = 1 << 20
	r.Topics = []kmsg.FetchRequestTopic{{Topic: "events", Partitions: []kmsg.FetchRequestTopicPartition{{
		Partition: 0, FetchOffset: offset, CurrentLeaderEpoch: epoch, PartitionMaxBytes: 1 << 20,
	}}}}
	return r
}

// TestFollowerServesConsumers reads a follower whose log runs past its high
// watermark (the leader's, as its last fetch answer told it): a consumer
// at Fetch v11+ reads up to that high watermark, an offset between it and
// the log end is an empty answer, one past the log end is
// OFFSET_OUT_OF_RANGE with unknown offsets, a stale or future leader epoch
// is fenced as on the leader, a consumer before v11 must go to the leader,
// and a replica that stopped following serves nobody: what Kafka 3.9's
// Partition.fetchRecords answers on a follower.
func TestFollowerServesConsumers(t *testing.T) {
	_, p := hostEvents0(t)
	if _, err := p.becomeFollower(partitionState{Leader: 1, LeaderEpoch: 4, ISR: []int32{0, 1}, Replicas: []int32{1, 0}}); err != nil {
		t.Fatalf("becomeFollower: %v", err)
	}
	// Offsets 0-1 and 2-4 from the leader, whose high watermark is 2.
	first, second := plainBatch(2, 1000), plainBatch(3, 2000)
	wire.SetPartitionLeaderEpoch(first, 4)
	wire.SetPartitionLeaderEpoch(second, 4)
	wire.SetBaseOffset(second, 2)
	if _, err := p.appendAsFollower(append(append([]byte(nil), first...), second...), 4, 2, 0); err != nil {
		t.Fatalf("appendAsFollower: %v", err)
	}
	if p.EndOffset() != 5 || p.HighWatermark() != 2 {
		t.Fatalf("follower log end %d, high watermark %d; want 5 and 2", p.EndOffset(), p.HighWatermark())
	}
	s := &Server{logger: zap.NewNop()}

	for _, tc := range []struct {
		name      string
		version   int16
		offset    int64
		epoch     int32
		stop      bool
		err       *kerr.Error
		wantBytes int // record bytes answered
		hw        int64
	}{
		{name: "v11 reads up to the high watermark", version: 11, offset: 0, epoch: 4, wantBytes: len(first), hw: 2},
		{name: "v12 without an epoch", version: 12, offset: 0, epoch: -1, wantBytes: len(first), hw: 2},
		{name: "at the high watermark: empty", version: 11, offset: 2, epoch: 4, hw: 2},
		{name: "between high watermark and log end: empty", version: 11, offset: 4, epoch: 4, hw: 2},
		{name: "at the log end: empty", version: 11, offset: 5, epoch: 4, hw: 2},
		{name: "past the log end", version: 11, offset: 6, epoch: 4, err: kerr.OffsetOutOfRange, hw: -1},
		{name: "stale epoch", version: 11, offset: 0, epoch: 3, err: kerr.FencedLeaderEpoch, hw: -1},
		{name: "future epoch", version: 11, offset: 0, epoch: 5, err: kerr.UnknownLeaderEpoch, hw: -1},
		{name: "v10 is leader only", version: 10, offset: 0, epoch: 4, err: kerr.NotLeaderForPartition, hw: -1},
		{name: "stopped replica", version: 11, offset: 0, epoch: 4, stop: true, err: kerr.NotLeaderForPartition, hw: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.stop {
				p.stopReplica()
			}
			r := followerFetchRequest(tc.version, tc.offset, tc.epoch)
			targets := s.resolveFetchTargetsForTest(r, p)
			sp, region, _ := s.readFetchPartition(r, targets[0], 0, 1<<20, false)
			defer region.Release()
			if got := kerr.ErrorForCode(sp.ErrorCode); got != errOrNil(tc.err) {
				t.Fatalf("error %v, want %v", got, tc.err)
			}
			if got := int(region.Len) + len(sp.RecordBatches); got != tc.wantBytes {
				t.Errorf("%d record bytes, want %d", got, tc.wantBytes)
			}
			if sp.HighWatermark != tc.hw || sp.PreferredReadReplica != -1 {
				t.Errorf("high watermark %d, preferred replica %d; want %d and -1", sp.HighWatermark, sp.PreferredReadReplica, tc.hw)
			}
		})
	}
}

// hostEvents0 opens partition events-0 (leader epoch 3) on a fresh replica
// manager, closed at the end of the test.
func hostEvents0(t *testing.T) (*replicaManager, *Partition) {
	t.Helper()
	rm, _ := newTestReplicaManager(t)
	t.Cleanup(func() { rm.close() })
	tp := topicPartition{"events", 0}
	if err := rm.makeLeader(tp, testTopicID, 3, testTopicConfig()); err != nil {
		t.Fatalf("makeLeader: %v", err)
	}
	p, _ := rm.get(tp)
	return rm, p
}

// errOrNil turns a nil *kerr.Error into a nil error for comparisons.
func errOrNil(e *kerr.Error) error {
	if e == nil {
		return nil
	}
	return e
}

// resolveFetchTargetsForTest makes the fetch targets of r, all on p, as
// resolveFetch does for a hosted partition.
func (s *Server) resolveFetchTargetsForTest(r *kmsg.FetchRequest, p *Partition) []fetchTarget {
	var out []fetchTarget
	for ti, rt := range r.Topics {
		for pi, rp := range rt.Partitions {
			out = append(out, fetchTarget{topic: int32(ti), part: int32(pi), p: p, offset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes,
				leaderEpoch: rp.CurrentLeaderEpoch, logStart: rp.LogStartOffset})
		}
	}
	return out
}

// TestSelectReadReplicas runs the rack-aware selector on a leader (broker
// 0, rack r1) with followers 1 (r2), 2 (r2) and 3 (r3): a consumer in r2
// is sent to the more caught-up in-sync follower of r2 that has its
// offset, with no records and the leader's offsets; the leader keeps a
// consumer of its own rack, of a rack without replicas or without a rack,
// and one whose offset no follower of its rack has yet.
func TestSelectReadReplicas(t *testing.T) {
	rm, p := hostEvents0(t)
	now := time.Now()
	if err := p.becomeLeader(partitionState{Leader: 0, LeaderEpoch: 4, ISR: []int32{0, 1, 2, 3}, Replicas: []int32{0, 1, 2, 3}}, now); err != nil {
		t.Fatalf("becomeLeader: %v", err)
	}
	for i := 0; i < 4; i++ {
		if _, err := appendBatch(t, p, plainBatch(5, 1000)); err != nil {
			t.Fatal(err)
		}
	}
	// Follower 1 has fetched up to 10, follower 2 and 3 up to 20.
	for r, off := range map[int32]int64{1: 10, 2: 20, 3: 20} {
		if _, err := p.followerFetched(r, off, 0, now); err != nil {
			t.Fatalf("followerFetched %d: %v", r, err)
		}
	}
	rack := func(s string) *string { return &s }
	ep := func(port int32) []zkmeta.Endpoint {
		return []zkmeta.Endpoint{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: port}}
	}
	s := &Server{
		logger:     zap.NewNop(),
		cfg:        Config{BrokerID: 0, BrokerRack: "r1", ReplicaSelectorClass: RackAwareReplicaSelector},
		meta:       newMetadataCache(),
		replicas:   rm,
		advertised: []Listener{{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092}},
	}
	s.meta.setBrokers([]zkmeta.BrokerInfo{
		{ID: 0, Endpoints: ep(9092), Rack: rack("r1")},
		{ID: 1, Endpoints: ep(9093), Rack: rack("r2")},
		{ID: 2, Endpoints: ep(9094), Rack: rack("r2")},
		{ID: 3, Endpoints: ep(9095), Rack: rack("r3")},
	}, 0)
	ctx := context.WithValue(context.Background(), listenerNameKey{}, "PLAINTEXT")

	for _, tc := range []struct {
		rack      string
		offset    int64
		preferred int32
	}{
		{"r2", 5, 2},   // both r2 followers have offset 5: the more caught-up one
		{"r2", 15, 2},  // only follower 2 has offset 15
		{"r3", 20, 3},  // follower 3 fetched from 20: it has everything before
		{"r1", 5, -1},  // the leader's own rack
		{"r4", 5, -1},  // no replica in the rack
		{"", 5, -1},    // no rack
		{"r3", 21, -1}, // past every follower's last fetch
	} {
		r := followerFetchRequest(11, tc.offset, 4)
		r.Rack = tc.rack
		targets := s.resolveFetchTargetsForTest(r, p)
		s.selectReadReplicas(ctx, r.Rack, targets)
		sp, region, answerNow := s.readFetchPartition(r, targets[0], 0, 1<<20, false)
		region.Release()
		if sp.PreferredReadReplica != tc.preferred {
			t.Errorf("rack %q offset %d: preferred read replica %d, want %d", tc.rack, tc.offset, sp.PreferredReadReplica, tc.preferred)
			continue
		}
		if tc.preferred < 0 {
			continue
		}
		if sp.ErrorCode != 0 || region.Len != 0 || len(sp.RecordBatches) != 0 || !answerNow {
			t.Errorf("rack %q: redirect answer %v with %d record bytes, at once %v; want no error, no records, at once",
				tc.rack, kerr.ErrorForCode(sp.ErrorCode), region.Len, answerNow)
		}
		if sp.HighWatermark != p.HighWatermark() || sp.LogStartOffset != 0 {
			t.Errorf("rack %q: high watermark %d, log start %d; want the leader's %d and 0", tc.rack, sp.HighWatermark, sp.LogStartOffset, p.HighWatermark())
		}
	}

	// A follower out of the ISR, or without an endpoint on the client's
	// listener, is not chosen.
	if err := p.becomeLeader(partitionState{Leader: 0, LeaderEpoch: 4, PartitionEpoch: 1, ISR: []int32{0, 1, 3}, Replicas: []int32{0, 1, 2, 3}}, now); err != nil {
		t.Fatal(err)
	}
	r := followerFetchRequest(11, 5, 4)
	r.Rack = "r2"
	targets := s.resolveFetchTargetsForTest(r, p)
	s.selectReadReplicas(ctx, r.Rack, targets)
	if !targets[0].redirect || targets[0].preferred != 1 {
		t.Errorf("with follower 2 out of the ISR: redirect %v to %d, want follower 1", targets[0].redirect, targets[0].preferred)
	}
	other := context.WithValue(context.Background(), listenerNameKey{}, "INTERNAL")
	targets = s.resolveFetchTargetsForTest(r, p)
	s.selectReadReplicas(other, r.Rack, targets)
	if targets[0].redirect {
		t.Errorf("on a listener no follower has: redirected to %d, want the leader", targets[0].preferred)
	}
}

// TestSelectRackAware is Kafka's RackAwareReplicaSelector on views.
func TestSelectRackAware(t *testing.T) {
	leader := replicaView{id: 1, rack: "a", leo: 100}
	for _, tc := range []struct {
		name  string
		rack  string
		cands []replicaView
		want  int32
	}{
		{"no rack", "", []replicaView{{id: 2, rack: "b", leo: 100}}, 1},
		{"leader's rack", "a", []replicaView{{id: 2, rack: "a", leo: 100}}, 1},
		{"no replica in rack", "c", []replicaView{{id: 2, rack: "b", leo: 100}}, 1},
		{"one in rack", "b", []replicaView{{id: 2, rack: "b", leo: 90}, {id: 3, rack: "c", leo: 100}}, 2},
		{"larger log end wins", "b", []replicaView{{id: 2, rack: "b", leo: 90}, {id: 3, rack: "b", leo: 95}}, 3},
		{"then caught up more recently", "b", []replicaView{
			{id: 2, rack: "b", leo: 95, sinceCaughtUp: time.Second}, {id: 3, rack: "b", leo: 95, sinceCaughtUp: 2 * time.Second}}, 2},
		{"then the larger id", "b", []replicaView{{id: 3, rack: "b", leo: 95}, {id: 2, rack: "b", leo: 95}}, 3},
	} {
		if got := selectRackAware(tc.rack, leader, tc.cands).id; got != tc.want {
			t.Errorf("%s: selected %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestReplicaSelectorClassConfig: the rack-aware class is taken, any other
// name (an empty one too) fails the start as Kafka's ClassNotFoundException
// does, and no key leaves the selector unset.
func TestReplicaSelectorClassConfig(t *testing.T) {
	for _, tc := range []struct {
		value   string
		set     bool
		want    string
		wantErr bool
	}{
		{set: false, want: ""},
		{value: RackAwareReplicaSelector, set: true, want: RackAwareReplicaSelector},
		{value: " " + RackAwareReplicaSelector + " ", set: true, want: RackAwareReplicaSelector},
		{value: "com.example.NearestSelector", set: true, wantErr: true},
		{value: "RackAwareReplicaSelector", set: true, wantErr: true},
		{value: "", set: true, wantErr: true},
	} {
		ov := []string{"zookeeper.connect=127.0.0.1:2181"}
		if tc.set {
			ov = append(ov, "replica.selector.class="+tc.value)
		}
		cfg, err := LoadConfig("", ov, zap.NewNop())
		if tc.wantErr {
			if err == nil {
				t.Errorf("replica.selector.class=%q: started, want an error", tc.value)
			}
			continue
		}
		if err != nil || cfg.ReplicaSelectorClass != tc.want {
			t.Errorf("replica.selector.class=%q: %q, %v; want %q", tc.value, cfg.ReplicaSelectorClass, err, tc.want)
		}
	}
}
