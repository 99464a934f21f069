package compattests

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/procs"
	"github.com/gokafka/gokafka/internal/testcluster"
)

// servedBy is a franz-go hook that counts, per broker, the records the
// client decoded from that broker's Fetch responses and the Fetch
// responses it read: which broker served a consumer, as a user checks it.
type servedBy struct {
	mu      sync.Mutex
	records map[int32]int
	fetches map[int32]int
	// ports are the broker ports records came from.
	ports map[int32]map[int32]bool
}

func newServedBy() *servedBy {
	return &servedBy{records: map[int32]int{}, fetches: map[int32]int{}, ports: map[int32]map[int32]bool{}}
}

// OnFetchBatchRead implements kgo.HookFetchBatchRead.
func (s *servedBy) OnFetchBatchRead(meta kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records[meta.NodeID] += m.NumRecords
	if s.ports[meta.NodeID] == nil {
		s.ports[meta.NodeID] = map[int32]bool{}
	}
	s.ports[meta.NodeID][meta.Port] = true
}

// OnBrokerRead implements kgo.HookBrokerRead.
func (s *servedBy) OnBrokerRead(meta kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key != 1 || err != nil { // Fetch
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches[meta.NodeID]++
}

// snapshot returns copies of the counts.
func (s *servedBy) snapshot() (records, fetches map[int32]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	records, fetches = map[int32]int{}, map[int32]int{}
	for k, v := range s.records {
		records[k] = v
	}
	for k, v := range s.fetches {
		fetches[k] = v
	}
	return records, fetches
}

// consumeN polls cl until it has n more records and returns their values.
func consumeN(ctx context.Context, t *testing.T, cl *kgo.Client, n int) []string {
	t.Helper()
	var out []string
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { out = append(out, string(r.Value)) })
	}
	return out
}

// TestFetchFromClosestReplica is KIP-392 end to end: three brokers in
// racks r1, r2 and r3 with replica.selector.class set to Kafka's
// RackAwareReplicaSelector, and a topic on all three led by broker 1 (r1).
// Metadata reports the racks. A franz-go consumer in rack r2 reads every
// record, and every record comes from broker 2, the follower in its rack,
// after the leader sent it there; a consumer without a rack reads them all
// from the leader. When broker 2 stops, the r2 consumer goes back to the
// leader and reads what is produced meanwhile. It runs with one listener,
// and with clients and brokers on separate listeners as in
// docker-compose.yml (the consumer then reads from the follower's client
// listener).
func TestFetchFromClosestReplica(t *testing.T) {
	for _, tc := range []struct {
		name      string
		listeners bool // a client listener and an inter-broker one
	}{
		{"one listener", false},
		{"client and inter-broker listeners", true},
	} {
		t.Run(tc.name, func(t *testing.T) { testFetchFromClosestReplica(t, tc.listeners) })
	}
}

func testFetchFromClosestReplica(t *testing.T, twoListeners bool) {
	c := testcluster.New(t)
	var bs []*testcluster.Broker
	clientPorts := map[int32]int{}
	for i, rack := range []string{"r1", "r2", "r3"} {
		props := map[string]string{
			"broker.id":                 fmt.Sprint(i + 1),
			"broker.rack":               rack,
			"replica.selector.class":    "org.apache.kafka.common.replica.RackAwareReplicaSelector",
			"replica.lag.time.max.ms":   "4000",
			"replica.fetch.wait.max.ms": "100",
			// Broker 2 leaves cleanly below, and quickly.
			"controlled.shutdown.retry.backoff.ms": "200",
		}
		if twoListeners {
			ports, err := procs.FreeLoopbackPorts(2)
			if err != nil {
				t.Fatal(err)
			}
			// The first listener is the one testcluster probes and
			// seeds clients with.
			props["listeners"] = fmt.Sprintf("EXTERNAL://127.0.0.1:%d,INTERNAL://127.0.0.1:%d", ports[0], ports[1])
			props["listener.security.protocol.map"] = "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT"
			props["inter.broker.listener.name"] = "INTERNAL"
		}
		b := c.NewBroker(t, props)
		bs = append(bs, b)
	}
	for _, b := range bs {
		if err := b.Launch(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var seeds []string
	for _, b := range bs {
		if err := b.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, b.Addr())
		_, port, _ := net.SplitHostPort(b.Addr())
		clientPorts[b.ID], _ = strconv.Atoi(port)
	}

	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ka := kadm.NewClient(adm)
	const topic = "closest"
	createAssigned(ctx, t, adm, topic, []int32{1, 2, 3}, nil)
	z := c.ZKClient(t)
	waitUntil(t, time.Minute, "a full ISR led by broker 1", func() bool {
		st, ok := readState(t, z, topic, 0)
		return ok && st.Leader == 1 && len(st.ISR) == 3
	})
	meta, err := ka.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range meta.Brokers {
		if want := fmt.Sprintf("r%d", b.NodeID); b.Rack == nil || *b.Rack != want {
			t.Errorf("Metadata: broker %d rack %v, want %s", b.NodeID, b.Rack, want)
		}
	}

	const n = 200
	first := values("v", n)
	if err := produceValues(ctx, t, seeds, topic, kgo.AllISRAcks(), first...); err != nil {
		t.Fatal(err)
	}

	consumer := func(hook *servedBy, opts ...kgo.Opt) *kgo.Client {
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.WithHooks(hook)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}

	// A consumer without a rack reads from the leader.
	plain := newServedBy()
	got := consumeN(ctx, t, consumer(plain), n)
	if fmt.Sprint(got) != fmt.Sprint(first) {
		t.Fatalf("consumer without a rack read %d records, not the %d produced in order", len(got), n)
	}
	if records, _ := plain.snapshot(); records[1] != n || len(records) != 1 {
		t.Errorf("consumer without a rack: records by broker %v, want all %d from leader 1", records, n)
	}

	// A consumer in r2 is sent by the leader to broker 2 and reads
	// everything there.
	near := newServedBy()
	r2 := consumer(near, kgo.Rack("r2"), kgo.RecheckPreferredReplicaInterval(time.Second))
	got = consumeN(ctx, t, r2, n)
	if fmt.Sprint(got) != fmt.Sprint(first) {
		t.Fatalf("consumer in r2 read %d records, not the %d produced in order", len(got), n)
	}
	records, fetches := near.snapshot()
	if records[2] != n || len(records) != 1 {
		t.Errorf("consumer in r2: records by broker %v, want all %d from broker 2 (rack r2)", records, n)
	}
	if fetches[1] == 0 {
		t.Errorf("consumer in r2: fetches by broker %v, want the first at leader 1 (which names the preferred replica)", fetches)
	}
	near.mu.Lock()
	if ports := near.ports[2]; len(ports) != 1 || !ports[int32(clientPorts[2])] {
		t.Errorf("consumer in r2 read from broker 2 on ports %v, want its client listener's %d", ports, clientPorts[2])
	}
	near.mu.Unlock()

	// Broker 2 goes away: the consumer returns to the leader, which no
	// longer has an in-sync replica in r2 to offer.
	if code := bs[1].Stop(); code != 0 {
		t.Fatalf("broker 2 exited with %d", code)
	}
	waitUntil(t, time.Minute, "broker 2 out of the ISR", func() bool {
		st, ok := readState(t, z, topic, 0)
		return ok && len(st.ISR) == 2
	})
	more := values("w", 50)
	if err := produceValues(ctx, t, seeds[:1], topic, kgo.AllISRAcks(), more...); err != nil {
		t.Fatal(err)
	}
	got = consumeN(ctx, t, r2, len(more))
	if fmt.Sprint(got) != fmt.Sprint(more) {
		t.Fatalf("consumer in r2 after broker 2 stopped read %v, want %v", got, more)
	}
	after, _ := near.snapshot()
	if after[2] != n || after[1] != len(more) {
		t.Errorf("consumer in r2 after broker 2 stopped: records by broker %v, want %d more from leader 1", after, len(more))
	}
}
