package groupcoord

import (
	"context"
	"maps"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// memStore is an in-memory OffsetStore that counts Commit calls.
type memStore struct {
	mu      sync.Mutex
	groups  map[string]map[TopicPartition]CommittedOffset
	commits [][]CommittedOffset
}

func newMemStore() *memStore {
	return &memStore{groups: make(map[string]map[TopicPartition]CommittedOffset)}
}

func (s *memStore) Commit(_ context.Context, group string, offsets []CommittedOffset) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits = append(s.commits, append([]CommittedOffset(nil), offsets...))
	if s.groups[group] == nil {
		s.groups[group] = make(map[TopicPartition]CommittedOffset)
	}
	for _, o := range offsets {
		s.groups[group][o.TopicPartition] = o
	}
	return nil
}

func (s *memStore) Fetch(_ context.Context, group string) (map[TopicPartition]CommittedOffset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.groups[group]), nil
}

func (s *memStore) Delete(_ context.Context, group string, partitions ...TopicPartition) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(partitions) == 0 {
		delete(s.groups, group)
		return nil
	}
	for _, tp := range partitions {
		delete(s.groups[group], tp)
	}
	if len(s.groups[group]) == 0 {
		delete(s.groups, group)
	}
	return nil
}

func (s *memStore) Groups(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for g := range s.groups {
		out = append(out, g)
	}
	sort.Strings(out)
	return out, nil
}

func (s *memStore) commitCalls() [][]CommittedOffset {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]CommittedOffset(nil), s.commits...)
}

// newTestCoordinator returns a coordinator with fast settings: tiny minimum
// session timeout, no initial rebalance delay, no periodic expiry.
func newTestCoordinator(t *testing.T, store OffsetStore, mod func(*Config)) *Coordinator {
	t.Helper()
	cfg := Config{
		MinSessionTimeout:             time.Millisecond,
		MaxSessionTimeout:             time.Minute,
		InitialRebalanceDelay:         -1,
		OffsetsRetentionCheckInterval: -1,
		Store:                         store,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// subscription encodes consumer protocol metadata subscribing to topics.
func subscription(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

// joinReq builds a JoinGroup of version v for the consumer protocol "range".
func joinReq(v int16, group, memberID, instance string, session time.Duration, topics ...string) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = v
	r.Group = group
	r.MemberID = memberID
	if instance != "" {
		r.InstanceID = kmsg.StringPtr(instance)
	}
	r.SessionTimeoutMillis = int32(session.Milliseconds())
	r.RebalanceTimeoutMillis = 10000
	r.ProtocolType = "consumer"
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = subscription(topics...)
	r.Protocols = append(r.Protocols, p)
	return r
}

func syncReq(group, memberID string, gen int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group = group
	r.MemberID = memberID
	r.Generation = gen
	r.ProtocolType = kmsg.StringPtr("consumer")
	r.Protocol = kmsg.StringPtr("range")
	for id, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, []byte(a)
		r.GroupAssignment = append(r.GroupAssignment, ga)
	}
	return r
}

func heartbeatReq(group, memberID string, gen int32) *kmsg.HeartbeatRequest {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group, r.MemberID, r.Generation = group, memberID, gen
	return r
}

// async runs f in a goroutine and returns a channel with its result.
func async[T any](f func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	return ch
}

// await receives from ch or fails the test after a deadline.
func await[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a response")
		panic("unreachable")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// describe returns a group's DescribeGroups entry.
func describe(t *testing.T, c *Coordinator, group string) kmsg.DescribeGroupsResponseGroup {
	t.Helper()
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Version = 5
	req.Groups = []string{group}
	return c.DescribeGroups(testCtx(t), req).Groups[0]
}

// joinStable makes a single dynamic member join (two steps) and sync as
// leader, returning its member id and generation.
func joinStable(t *testing.T, c *Coordinator, group string, topics ...string) (string, int32) {
	t.Helper()
	ctx := testCtx(t)
	r := c.JoinGroup(ctx, ClientInfo{ID: "solo"}, joinReq(9, group, "", "", 10*time.Second, topics...))
	r = c.JoinGroup(ctx, ClientInfo{ID: "solo"}, joinReq(9, group, r.MemberID, "", 10*time.Second, topics...))
	if r.ErrorCode != 0 {
		t.Fatalf("join: error %d", r.ErrorCode)
	}
	s := c.SyncGroup(ctx, syncReq(group, r.MemberID, r.Generation, map[string]string{r.MemberID: "all"}))
	if s.ErrorCode != 0 {
		t.Fatalf("sync: error %d", s.ErrorCode)
	}
	return r.MemberID, r.Generation
}

// memberState is what a simulated consumer last saw.
type memberState struct {
	id         string
	generation int32
	assignment string
	leaderSaw  int // members listed in the JoinGroup answer when leading
}

// simMember is a simulated group member: it joins, syncs (as leader it
// assigns every member its own member id), heartbeats, and rejoins when told,
// until stopped.
type simMember struct {
	c       *Coordinator
	group   string
	session time.Duration
	mu      sync.Mutex
	st      memberState
	stable  atomic.Bool
	cancel  context.CancelFunc
	done    chan struct{}
}

func startMember(t *testing.T, c *Coordinator, group string, session time.Duration) *simMember {
	ctx, cancel := context.WithCancel(context.Background())
	m := &simMember{c: c, group: group, session: session, cancel: cancel, done: make(chan struct{})}
	go m.run(ctx)
	t.Cleanup(m.stop)
	return m
}

func (m *simMember) stop() {
	m.cancel()
	<-m.done
}

func (m *simMember) state() memberState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

func (m *simMember) run(ctx context.Context) {
	defer close(m.done)
	id := ""
	for ctx.Err() == nil {
		m.stable.Store(false)
		j := m.c.JoinGroup(ctx, ClientInfo{ID: "sim"}, joinReq(9, m.group, id, "", m.session, "t"))
		if j.ErrorCode == 79 { // MEMBER_ID_REQUIRED
			id = j.MemberID
			continue
		}
		if j.ErrorCode != 0 {
			if j.ErrorCode == errUnknownMemberID {
				id = ""
			}
			continue
		}
		id = j.MemberID
		assign := map[string]string{}
		for _, mem := range j.Members {
			assign[mem.MemberID] = mem.MemberID
		}
		s := m.c.SyncGroup(ctx, syncReq(m.group, id, j.Generation, assign))
		if s.ErrorCode != 0 {
			continue
		}
		m.mu.Lock()
		m.st = memberState{id: id, generation: j.Generation, assignment: string(s.MemberAssignment)}
		if j.LeaderID == id {
			m.st.leaderSaw = len(j.Members)
		}
		m.mu.Unlock()
		m.stable.Store(true)
		for ctx.Err() == nil {
			h := m.c.Heartbeat(ctx, heartbeatReq(m.group, id, j.Generation))
			if h.ErrorCode != 0 {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
}
