package compattests

import (
	"context"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

func TestMain(m *testing.M) { testcluster.Main(m) }

// testTimeout bounds each wait of a test. Generous: these tests assert
// outcomes, never speed.
const testTimeout = 2 * time.Minute

// startBroker starts a one-broker cluster with the given overrides.
func startBroker(t *testing.T, overrides map[string]string) (*testcluster.Cluster, *testcluster.Broker) {
	t.Helper()
	c := testcluster.New(t)
	return c, c.StartBroker(t, overrides)
}

// testCtx is a context that ends with the test or after testTimeout.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// newClient returns a franz-go client seeded with the broker, closed at the
// end of the test.
func newClient(t *testing.T, b *testcluster.Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(b.Addr()), kgo.ClientID("gokafka-compat-test")}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client on its own franz-go client.
func newAdmin(t *testing.T, b *testcluster.Broker, opts ...kgo.Opt) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, b, opts...))
}

// createTopic creates a topic with n partitions and replication factor 1,
// failing the test on any error.
func createTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) kadm.CreateTopicResponse {
	t.Helper()
	resp, err := adm.CreateTopic(testCtx(t), partitions, 1, configs, topic)
	if err != nil {
		t.Fatalf("create topic %q (%d partitions): %v (%s)", topic, partitions, err, resp.ErrMessage)
	}
	return resp
}

// produceSync produces records and fails the test on the first error.
func produceSync(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(testCtx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce %d records: %v", len(recs), err)
	}
}

// consume reads from the given partitions starting at their offsets until n
// records have arrived, failing the test if they do not come.
func consume(t *testing.T, b *testcluster.Broker, partitions map[string]map[int32]kgo.Offset, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, append([]kgo.Opt{kgo.ConsumePartitions(partitions), kgo.FetchMaxWait(500 * time.Millisecond)}, opts...)...)
	return pollN(t, cl, n)
}

// consumeAll reads n records from every partition of topic from the start.
func consumeAll(t *testing.T, b *testcluster.Broker, topic string, partitions int32, n int, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	offs := map[int32]kgo.Offset{}
	for p := int32(0); p < partitions; p++ {
		offs[p] = kgo.NewOffset().AtStart()
	}
	return consume(t, b, map[string]map[int32]kgo.Offset{topic: offs}, n, opts...)
}

// pollN polls cl until n records arrived (more fail the test: the caller
// knows exactly what was produced).
func pollN(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx := testCtx(t)
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline: %v", len(recs), n, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Errorf("fetch %s-%d: %v", topic, p, err)
		})
		if t.Failed() {
			t.FailNow()
		}
		recs = append(recs, fs.Records()...)
	}
	if len(recs) > n {
		t.Fatalf("consumed %d records, want exactly %d", len(recs), n)
	}
	return recs
}

// byPartition groups records by partition, keeping their order.
func byPartition(recs []*kgo.Record) map[int32][]*kgo.Record {
	m := map[int32][]*kgo.Record{}
	for _, r := range recs {
		m[r.Partition] = append(m[r.Partition], r)
	}
	return m
}

// compressionSeen records the compression codec of every batch a client
// fetched (kgo's OnFetchBatchRead hook), so tests can check that the broker
// stored what the producer compressed.
type compressionSeen struct {
	mu     sync.Mutex
	codecs map[uint8]int
}

func (c *compressionSeen) OnFetchBatchRead(_ kgo.BrokerMetadata, _ string, _ int32, m kgo.FetchBatchMetrics) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.codecs == nil {
		c.codecs = map[uint8]int{}
	}
	c.codecs[m.CompressionType]++
}

// only reports whether every batch seen used codec (and at least one was seen).
func (c *compressionSeen) only(codec uint8) (bool, map[uint8]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keys := make([]uint8, 0, len(c.codecs))
	for k := range c.codecs {
		keys = append(keys, k)
	}
	return slices.Equal(keys, []uint8{codec}), maps.Clone(c.codecs)
}

// requireCommand fails the test when a command-line client is missing,
// naming the Debian package that provides it.
func requireCommand(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		t.Fatalf("%s is missing: install Debian's %s (apt-get install -y %s); .ci/run does", path, pkg, pkg)
	}
}

// systemPython is Debian's interpreter: python3-kafka and
// python3-confluent-kafka install their modules for it only.
const systemPython = "/usr/bin/python3"

// requirePythonModule fails the test when Debian's python3 lacks module.
func requirePythonModule(t *testing.T, module, pkg string) {
	t.Helper()
	requireCommand(t, systemPython, "python3")
	out, err := exec.Command(systemPython, "-c", "import "+module).CombinedOutput()
	if err != nil {
		t.Fatalf("python module %s is missing for %s: install Debian's %s (apt-get install -y %s); .ci/run does\n%s", module, systemPython, pkg, pkg, out)
	}
}

// eventually polls cond until it returns nil or the deadline passes, then
// fails the test with the last error.
func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	ctx := testCtx(t)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: still not true after %s: %v", what, testTimeout, err)
		case <-tick.C:
		}
	}
}

// recordsEqual compares what a consumer got with what was produced: value,
// key, headers and (when set) timestamp, in order.
func recordsEqual(t *testing.T, got, want []*kgo.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if string(g.Value) != string(w.Value) || string(g.Key) != string(w.Key) {
			t.Errorf("record %d: key %q value %q, want key %q value %q", i, g.Key, g.Value, w.Key, w.Value)
		}
		if fmt.Sprint(headerPairs(g.Headers)) != fmt.Sprint(headerPairs(w.Headers)) {
			t.Errorf("record %d: headers %v, want %v", i, headerPairs(g.Headers), headerPairs(w.Headers))
		}
		if !w.Timestamp.IsZero() && !g.Timestamp.Equal(w.Timestamp) {
			t.Errorf("record %d: timestamp %v, want %v", i, g.Timestamp, w.Timestamp)
		}
	}
}

func headerPairs(hs []kgo.RecordHeader) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.Key + "=" + string(h.Value)
	}
	return out
}

// offsetsOf flattens kadm's listed offsets (errors become -100, which no
// test expects).
func offsetsOf(lo kadm.ListedOffsets) map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	lo.Each(func(o kadm.ListedOffset) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		if o.Err != nil {
			out[o.Topic][o.Partition] = -100
			return
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out
}
