package controller_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/gokafka/wire"
	"github.com/gokafka/gokafka/zkmeta"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fakeVersions are the controller requests a fake broker accepts: every
// version Kafka 3.9 defines in ZooKeeper mode.
var fakeVersions = wire.Versions{
	4: {Min: 0, Max: 7}, // LeaderAndIsr
	5: {Min: 0, Max: 4}, // StopReplica
	6: {Min: 0, Max: 8}, // UpdateMetadata
}

// fakeBroker is a broker as the controller sees it: a registration in
// /brokers/ids/<id> on its own ZooKeeper session and a listener that
// answers LeaderAndIsr, UpdateMetadata and StopReplica with empty
// successes, recording every request. Closing its session (kill) makes
// the broker die as far as the controller can tell; restart registers it
// again on a new session (a new broker epoch) at the same address.
type fakeBroker struct {
	id     int32
	env    *env
	portN  int32
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	ln    net.Listener   // nil until listen
	zk    *zkmeta.Client // nil while dead
	epoch int64          // broker epoch of the current (or last) registration
	reqs  []kmsg.Request

	// dropStopReplica makes the broker record a StopReplica and then
	// close the connection without answering, as a broker that crashes
	// while handling it.
	dropStopReplica atomic.Bool
	// failedDir lists partitions whose log dir failed on this broker: a
	// LeaderAndIsr naming them answers KAFKA_STORAGE_ERROR for them, as
	// a broker with an offline log dir does.
	failedDir map[string]bool // "topic-partition"; under mu
}

// startBroker registers a fake broker with id and starts answering.
func (e *env) startBroker(id int32) *fakeBroker {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatalf("listen: %v", err)
	}
	b := e.newFakeBroker(id, int32(ln.Addr().(*net.TCPAddr).Port))
	b.serve(ln)
	b.register()
	return b
}

// startBrokerListeningLate registers a fake broker with id at a port on
// which nothing listens until listen is called.
func (e *env) startBrokerListeningLate(id int32) *fakeBroker {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatalf("listen: %v", err)
	}
	b := e.newFakeBroker(id, int32(ln.Addr().(*net.TCPAddr).Port))
	ln.Close()
	b.register()
	return b
}

func (e *env) newFakeBroker(id, port int32) *fakeBroker {
	b := &fakeBroker{id: id, env: e, portN: port}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	e.t.Cleanup(func() {
		b.cancel()
		b.mu.Lock()
		ln := b.ln
		b.mu.Unlock()
		if ln != nil {
			ln.Close()
		}
		b.wg.Wait()
	})
	return b
}

// listen starts answering on the broker's port (see
// startBrokerListeningLate).
func (b *fakeBroker) listen() {
	t := b.env.t
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(b.portN))))
	if err != nil {
		t.Fatalf("broker %d: listen on its port: %v", b.id, err)
	}
	b.serve(ln)
}

// serve answers connections on ln until the test ends.
func (b *fakeBroker) serve(ln net.Listener) {
	b.mu.Lock()
	b.ln = ln
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				wire.ServeConn(b.ctx, conn, wire.ConnConfig{Versions: fakeVersions}, b)
			}()
		}
	}()
}

// startBrokers starts fake brokers with ids.
func (e *env) startBrokers(ids ...int32) map[int32]*fakeBroker {
	e.t.Helper()
	out := map[int32]*fakeBroker{}
	for _, id := range ids {
		out[id] = e.startBroker(id)
	}
	return out
}

// register registers the broker with one PLAINTEXT endpoint at its port,
// on a new session.
func (b *fakeBroker) register() {
	b.env.t.Helper()
	b.registerWith([]zkmeta.Endpoint{
		{Name: "PLAINTEXT", SecurityProtocol: "PLAINTEXT", Host: "127.0.0.1", Port: b.portN},
	})
}

// registerWith registers the broker with the given endpoints on a new
// session.
func (b *fakeBroker) registerWith(endpoints []zkmeta.Endpoint) {
	t := b.env.t
	t.Helper()
	zc := b.env.connect(fmt.Sprintf("broker-%d-zk", b.id))
	if err := zc.RegisterBroker(b.env.ctx, zkmeta.BrokerInfo{ID: b.id, Endpoints: endpoints}); err != nil {
		t.Fatalf("register broker %d: %v", b.id, err)
	}
	b.mu.Lock()
	b.zk = zc
	b.epoch = zc.BrokerEpoch()
	b.mu.Unlock()
}

// kill closes the broker's ZooKeeper session: its registration goes at
// once. Its listener keeps answering, as a broker cut off from ZooKeeper
// would.
func (b *fakeBroker) kill() {
	b.mu.Lock()
	zc := b.zk
	b.zk = nil
	b.mu.Unlock()
	if zc != nil {
		zc.Close()
	}
}

// restart registers the broker again on a new session.
func (b *fakeBroker) restart() {
	b.env.t.Helper()
	b.kill()
	b.register()
}

// port is the port of the broker's listener.
func (b *fakeBroker) port() int32 { return b.portN }

// brokerEpoch is the epoch of the broker's current registration.
func (b *fakeBroker) brokerEpoch() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.epoch
}

// Handle records the request and answers with an empty success.
func (b *fakeBroker) Handle(_ context.Context, _ *wire.RequestHeader, req kmsg.Request) (kmsg.Response, error) {
	b.mu.Lock()
	b.reqs = append(b.reqs, req)
	b.mu.Unlock()
	if _, ok := req.(*kmsg.StopReplicaRequest); ok && b.dropStopReplica.Load() {
		return nil, errors.New("fake broker: dropping StopReplica")
	}
	if r, ok := req.(*kmsg.LeaderAndISRRequest); ok {
		return b.answerLeaderAndIsr(r), nil
	}
	return req.ResponseKind(), nil
}

// requests is a snapshot of what the broker has received, in order.
func (b *fakeBroker) requests() []kmsg.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.reqs)
}

// leaderAndIsrs are the LeaderAndIsr requests received so far.
func (b *fakeBroker) leaderAndIsrs() []*kmsg.LeaderAndISRRequest {
	var out []*kmsg.LeaderAndISRRequest
	for _, r := range b.requests() {
		if r, ok := r.(*kmsg.LeaderAndISRRequest); ok {
			out = append(out, r)
		}
	}
	return out
}

// updateMetadatas are the UpdateMetadata requests received so far.
func (b *fakeBroker) updateMetadatas() []*kmsg.UpdateMetadataRequest {
	var out []*kmsg.UpdateMetadataRequest
	for _, r := range b.requests() {
		if r, ok := r.(*kmsg.UpdateMetadataRequest); ok {
			out = append(out, r)
		}
	}
	return out
}

// stopReplicas are the StopReplica requests received so far.
func (b *fakeBroker) stopReplicas() []*kmsg.StopReplicaRequest {
	var out []*kmsg.StopReplicaRequest
	for _, r := range b.requests() {
		if r, ok := r.(*kmsg.StopReplicaRequest); ok {
			out = append(out, r)
		}
	}
	return out
}

// lisrPartition is one partition's state in a LeaderAndIsr request with
// the request around it.
type lisrPartition struct {
	req     *kmsg.LeaderAndISRRequest
	topicID [16]byte
	state   kmsg.LeaderAndISRRequestTopicPartition
}

// lastLeaderAndIsr is the partition's state in the latest LeaderAndIsr
// that named it; ok is false when none did.
func (b *fakeBroker) lastLeaderAndIsr(topic string, p int32) (lisrPartition, bool) {
	var out lisrPartition
	var ok bool
	for _, r := range b.leaderAndIsrs() {
		for _, ts := range r.TopicStates {
			if ts.Topic != topic {
				continue
			}
			for _, ps := range ts.PartitionStates {
				if ps.Partition == p {
					out, ok = lisrPartition{req: r, topicID: ts.TopicID, state: ps}, true
				}
			}
		}
	}
	return out, ok
}

// waitLeaderAndIsr waits until the latest LeaderAndIsr naming topic-p
// satisfies cond, and returns it.
func (b *fakeBroker) waitLeaderAndIsr(t testing.TB, topic string, p int32, what string, cond func(lisrPartition) bool) lisrPartition {
	t.Helper()
	var got lisrPartition
	waitFor(t, fmt.Sprintf("broker %d to receive a LeaderAndIsr for %s-%d with %s", b.id, topic, p, what), func() bool {
		var ok bool
		got, ok = b.lastLeaderAndIsr(topic, p)
		return ok && cond(got)
	})
	return got
}

// umPartition is one partition's state in an UpdateMetadata request.
type umPartition struct {
	req     *kmsg.UpdateMetadataRequest
	topicID [16]byte
	state   kmsg.UpdateMetadataRequestTopicPartition
}

// lastUpdateMetadata is the partition's state in the latest UpdateMetadata
// that named it.
func (b *fakeBroker) lastUpdateMetadata(topic string, p int32) (umPartition, bool) {
	var out umPartition
	var ok bool
	for _, r := range b.updateMetadatas() {
		for _, ts := range r.TopicStates {
			if ts.Topic != topic {
				continue
			}
			for _, ps := range ts.PartitionStates {
				if ps.Partition == p {
					out, ok = umPartition{req: r, topicID: ts.TopicID, state: ps}, true
				}
			}
		}
	}
	return out, ok
}

// waitUpdateMetadata waits until the latest UpdateMetadata naming topic-p
// satisfies cond, and returns it.
func (b *fakeBroker) waitUpdateMetadata(t testing.TB, topic string, p int32, what string, cond func(umPartition) bool) umPartition {
	t.Helper()
	var got umPartition
	waitFor(t, fmt.Sprintf("broker %d to receive an UpdateMetadata for %s-%d with %s", b.id, topic, p, what), func() bool {
		var ok bool
		got, ok = b.lastUpdateMetadata(topic, p)
		return ok && cond(got)
	})
	return got
}

// waitLiveBrokers waits until the broker has received an UpdateMetadata
// whose live brokers are exactly ids.
func (b *fakeBroker) waitLiveBrokers(t testing.TB, ids ...int32) *kmsg.UpdateMetadataRequest {
	t.Helper()
	var got *kmsg.UpdateMetadataRequest
	waitFor(t, fmt.Sprintf("broker %d to receive an UpdateMetadata with live brokers %v", b.id, ids), func() bool {
		ums := b.updateMetadatas()
		for i := len(ums) - 1; i >= 0; i-- {
			if slices.Equal(liveBrokerIDs(ums[i]), ids) {
				got = ums[i]
				return true
			}
		}
		return false
	})
	return got
}

func liveBrokerIDs(r *kmsg.UpdateMetadataRequest) []int32 {
	var ids []int32
	for _, lb := range r.LiveBrokers {
		ids = append(ids, lb.ID)
	}
	slices.Sort(ids)
	return ids
}

// stopReplicaFor finds topic-p in the StopReplica requests received;
// it returns the partition state of the latest one that named it.
func (b *fakeBroker) stopReplicaFor(topic string, p int32) (*kmsg.StopReplicaRequest, kmsg.StopReplicaRequestTopicPartitionState, bool) {
	var (
		req *kmsg.StopReplicaRequest
		st  kmsg.StopReplicaRequestTopicPartitionState
		ok  bool
	)
	for _, r := range b.stopReplicas() {
		for _, rt := range r.Topics {
			if rt.Topic != topic {
				continue
			}
			for _, ps := range rt.PartitionStates {
				if ps.Partition == p {
					req, st, ok = r, ps, true
				}
			}
		}
	}
	return req, st, ok
}

// pollFor is waitFor with a shorter bound, for checking that something
// does not happen within an observation window: it returns true as soon
// as cond holds, false when the window passes without it.
func pollFor(window time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(window)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

// failLogDir makes the broker's answers to LeaderAndIsr report the given
// partitions of topic as in a failed log dir.
func (b *fakeBroker) failLogDir(topic string, ps ...int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failedDir == nil {
		b.failedDir = map[string]bool{}
	}
	for _, p := range ps {
		b.failedDir[fmt.Sprintf("%s-%d", topic, p)] = true
	}
}

// healLogDirs makes the broker answer every partition without error again.
func (b *fakeBroker) healLogDirs() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failedDir = nil
}

// answerLeaderAndIsr answers every partition of r: KAFKA_STORAGE_ERROR
// for those in a failed log dir, success for the others.
func (b *fakeBroker) answerLeaderAndIsr(r *kmsg.LeaderAndISRRequest) *kmsg.LeaderAndISRResponse {
	resp := r.ResponseKind().(*kmsg.LeaderAndISRResponse)
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ts := range r.TopicStates {
		rt := kmsg.NewLeaderAndISRResponseTopic()
		rt.TopicID = ts.TopicID
		for _, ps := range ts.PartitionStates {
			rp := kmsg.NewLeaderAndISRResponseTopicPartition()
			rp.Partition = ps.Partition
			if b.failedDir[fmt.Sprintf("%s-%d", ts.Topic, ps.Partition)] {
				rp.ErrorCode = kerr.KafkaStorageError.Code
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
