package compattests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// The tests in this file run franz-go's transactional producer and
// consumers end to end. Besides the coordinator they need the partition
// side of transactions (WriteTxnMarkers on partition leaders, control
// batches, the last stable offset for read_committed), which lands
// separately: until both are in, a commit or abort never completes here.

// txnCluster starts three brokers and a topic of partitions partitions
// replicated on all of them.
func txnCluster(t *testing.T, topic string, partitions int32, overrides map[string]string) (*testcluster.Cluster, map[int32]*testcluster.Broker, []string) {
	t.Helper()
	c := testcluster.New(t)
	byID, seeds := threeBrokers(t, c, overrides)
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	createReplicated(ctx, t, cl, c.ZKClient(t), topic, partitions, nil)
	return c, byID, seeds
}

// txnProducer is a transactional franz-go producer of id writing to topic.
func txnProducer(t *testing.T, seeds []string, id, topic string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...), kgo.TransactionalID(id), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// runTxn writes values in one transaction and ends it (commit or abort),
// returning the first error.
func runTxn(ctx context.Context, cl *kgo.Client, commit bool, values ...string) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		return fmt.Errorf("produce: %w", err)
	}
	return cl.EndTransaction(ctx, kgo.TransactionEndTry(commit))
}

// readToSentinel writes a non-transactional "end" record to every
// partition of topic, then reads the topic from the start with isolation
// until every sentinel arrived, and returns the values read before them.
// A read_committed reader gets a sentinel only once every transaction
// before it ended, so nothing committed can still be on its way.
func readToSentinel(ctx context.Context, t *testing.T, seeds []string, topic string, partitions int32, isolation kgo.IsolationLevel) []string {
	t.Helper()
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	sentinel := fmt.Sprintf("end-%d", time.Now().UnixNano())
	for p := int32(0); p < partitions; p++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(sentinel)}).FirstErr(); err != nil {
			t.Fatalf("sentinel to %s-%d: %v", topic, p, err)
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(isolation),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var values []string
	seen := 0
	for seen < int(partitions) {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d values and %d of %d sentinels of %s: %v", len(values), seen, partitions, topic, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			switch v := string(r.Value); {
			case v == sentinel:
				seen++
			case strings.HasPrefix(v, "end-"):
			default:
				values = append(values, v)
			}
		})
	}
	slices.Sort(values)
	return values
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%03d", prefix, i)
	}
	return out
}

// TestTxnCommitAbortVisibility: a committed transaction is read by
// read_committed and read_uncommitted consumers, an aborted one only by
// read_uncommitted ones. Needs the partition side (WriteTxnMarkers).
func TestTxnCommitAbortVisibility(t *testing.T) {
	const topic = "txn-visibility"
	_, _, seeds := txnCluster(t, topic, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p := txnProducer(t, seeds, "visibility", topic)
	committed, aborted := seq("commit-", 20), seq("abort-", 20)
	if err := runTxn(ctx, p, true, committed...); err != nil {
		t.Fatalf("committed transaction: %v", err)
	}
	if err := runTxn(ctx, p, false, aborted...); err != nil {
		t.Fatalf("aborted transaction: %v", err)
	}
	if got := readToSentinel(ctx, t, seeds, topic, 2, kgo.ReadCommitted()); !slices.Equal(got, committed) {
		t.Fatalf("read_committed read %v, want exactly %v", got, committed)
	}
	all := slices.Sorted(slices.Values(append(slices.Clone(aborted), committed...)))
	if got := readToSentinel(ctx, t, seeds, topic, 2, kgo.ReadUncommitted()); !slices.Equal(got, all) {
		t.Fatalf("read_uncommitted read %v, want %v", got, all)
	}
}

// TestTxnZombieFencing: a second producer of the same transactional id
// fences the first; the first's open transaction is aborted and its
// commit fails; only the second's records are committed. Needs the
// partition side.
func TestTxnZombieFencing(t *testing.T) {
	const topic = "txn-zombie"
	_, _, seeds := txnCluster(t, topic, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	zombie := txnProducer(t, seeds, "zombie", topic)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Value: []byte("zombie-000")}).FirstErr(); err != nil {
		t.Fatalf("zombie produce: %v", err)
	}
	fresh := txnProducer(t, seeds, "zombie", topic)
	if err := runTxn(ctx, fresh, true, seq("fresh-", 5)...); err != nil {
		t.Fatalf("the new producer's transaction: %v", err)
	}
	err := zombie.EndTransaction(ctx, kgo.TryCommit)
	if !errors.Is(err, kerr.ProducerFenced) && !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("the fenced producer's commit: %v, want PRODUCER_FENCED or INVALID_PRODUCER_EPOCH", err)
	}
	if got := readToSentinel(ctx, t, seeds, topic, 1, kgo.ReadCommitted()); !slices.Equal(got, seq("fresh-", 5)) {
		t.Fatalf("read_committed read %v, want only the new producer's records", got)
	}
}

// TestTxnTimeoutAborts: a producer that stops in the middle of a
// transaction has it aborted by the coordinator after its
// transaction.timeout.ms, and is fenced. Needs the partition side.
func TestTxnTimeoutAborts(t *testing.T) {
	const topic = "txn-timeout"
	_, _, seeds := txnCluster(t, topic, 1, map[string]string{"transaction.abort.timed.out.transaction.cleanup.interval.ms": "500"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stuck := txnProducer(t, seeds, "stuck", topic, kgo.TransactionTimeout(3*time.Second))
	if err := stuck.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := stuck.ProduceSync(ctx, &kgo.Record{Value: []byte("stuck-000")}).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	cl := txnTestClient(t, seeds)
	waitUntil(t, time.Minute, "the coordinator to abort the timed-out transaction", func() bool {
		_, d := describeTxn(ctx, t, cl, "stuck")
		return d.State == "CompleteAbort" && d.ProducerEpoch == 1
	})
	if err := stuck.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("the timed-out producer committed")
	}
	if got := readToSentinel(ctx, t, seeds, topic, 1, kgo.ReadCommitted()); len(got) != 0 {
		t.Fatalf("read_committed read %v from an aborted transaction", got)
	}
}

// TestTxnGroupTransactSessionExactlyOnce copies a topic with franz-go's
// GroupTransactSession (consume, produce and commit offsets in one
// transaction, KIP-447) by two members, the second joining half-way so
// the group rebalances: every input record is in the output exactly once.
// Needs the partition side.
func TestTxnGroupTransactSessionExactlyOnce(t *testing.T) {
	const in, out, n = "eos-in", "eos-out", 600
	c, _, seeds := txnCluster(t, in, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	createReplicated(ctx, t, adm, c.ZKClient(t), out, 3, nil)
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(in))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	want := seq("rec-", n)
	for _, v := range want[:n/2] {
		prod.Produce(ctx, &kgo.Record{Value: []byte(v)}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	copied := make(chan int, 1024)
	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	member := func(name string) {
		defer wg.Done()
		s, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(seeds...), kgo.TransactionalID(name), kgo.ConsumerGroup("eos-copy"),
			kgo.ConsumeTopics(in), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.DefaultProduceTopic(out),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Error(err)
			return
		}
		defer s.Close()
		for runCtx.Err() == nil {
			fs := s.PollFetches(runCtx)
			if runCtx.Err() != nil {
				return
			}
			if err := s.Begin(); err != nil {
				t.Errorf("%s begin: %v", name, err)
				return
			}
			k := 0
			fs.EachRecord(func(r *kgo.Record) {
				k++
				s.Produce(runCtx, &kgo.Record{Value: r.Value}, nil)
			})
			ok, err := s.End(runCtx, kgo.TryCommit)
			if err != nil && runCtx.Err() == nil {
				t.Logf("%s end: %v (committed %v)", name, err, ok)
			}
			if ok && k > 0 {
				copied <- k
			}
		}
	}
	wg.Add(1)
	go member("eos-a")
	total := 0
	for total < n/4 {
		select {
		case k := <-copied:
			total += k
		case <-ctx.Done():
			t.Fatalf("copied %d records before the deadline", total)
		}
	}
	wg.Add(1)
	go member("eos-b") // the group rebalances
	for _, v := range want[n/2:] {
		prod.Produce(ctx, &kgo.Record{Value: []byte(v)}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 3*time.Minute, "the group to commit every input offset", func() bool {
		select {
		case k := <-copied:
			total += k
		default:
		}
		return total >= n
	})
	stop()
	wg.Wait()
	got := readToSentinel(ctx, t, seeds, out, 3, kgo.ReadCommitted())
	if !slices.Equal(got, want) {
		dups := 0
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				dups++
			}
		}
		t.Fatalf("the output holds %d records (%d duplicates), want each of the %d inputs once", len(got), dups, n)
	}
}

// TestTxnCoordinatorKilledMidTransactions SIGKILLs the transaction
// coordinator while a producer runs transactions of five records: every
// transaction the producer saw committed is fully visible to read_committed
// consumers, and no other transaction is visible in part. Needs the
// partition side.
func TestTxnCoordinatorKilledMidTransactions(t *testing.T) {
	const topic, id, txns = "txn-kill", "killed-coordinator", 40
	_, byID, seeds := txnCluster(t, topic, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p := txnProducer(t, seeds, id, topic, kgo.TransactionTimeout(10*time.Second))
	cl := txnTestClient(t, seeds)
	node := txnCoordinator(ctx, t, cl, id)
	committed := map[int]bool{}
	for i := 0; i < txns; i++ {
		if i == txns/2 {
			t.Logf("SIGKILL the transaction coordinator, broker %d", node)
			byID[node].Kill()
		}
		start := time.Now()
		err := runTxn(ctx, p, true, seq(fmt.Sprintf("t%02d-", i), 5)...)
		if d := time.Since(start); d > time.Second {
			t.Logf("transaction %d took %v", i, d.Round(time.Millisecond))
		}
		if err == nil {
			committed[i] = true
			continue
		}
		t.Logf("transaction %d: %v", i, err)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
	}
	if len(committed) < txns/2 {
		t.Fatalf("only %d of %d transactions committed", len(committed), txns)
	}
	perTxn := map[int]int{}
	for _, v := range readToSentinel(ctx, t, seeds, topic, 2, kgo.ReadCommitted()) {
		var i, j int
		if _, err := fmt.Sscanf(v, "t%02d-%03d", &i, &j); err != nil {
			t.Fatalf("unexpected record %q", v)
		}
		perTxn[i]++
	}
	for i := 0; i < txns; i++ {
		switch n := perTxn[i]; {
		case committed[i] && n != 5:
			t.Errorf("transaction %d committed, but %d of its 5 records are visible", i, n)
		case n != 0 && n != 5:
			t.Errorf("transaction %d is visible in part: %d of 5 records", i, n)
		}
	}
}

// TestTxnCoordinatorKilledMidCommit is the crash test: the
// transaction coordinator is SIGKILLed after it wrote PrepareCommit and
// before its markers reached every partition. To hold the markers back, a
// leader of some of the transaction's partitions (neither the coordinator
// nor the controller) is paused with SIGSTOP before EndTxn, and the ZooKeeper
// session timeout is long, so its partitions do not move while the test
// looks. The test checks that the commit is really in between (the
// coordinator reports PrepareCommit), kills the coordinator, resumes the
// paused leader, and then the new coordinator (which loads PrepareCommit
// from the replicated __transaction_state) must finish the commit: every
// record of the transaction is visible at read_committed, and none of the
// same producer's aborted transaction before it.
func TestTxnCoordinatorKilledMidCommit(t *testing.T) {
	const topic, id, partitions = "txn-mid-commit", "mid-commit", 6
	c, byID, seeds := txnCluster(t, topic, partitions, map[string]string{
		"zookeeper.session.timeout.ms": "20000",
		"replica.lag.time.max.ms":      "2000",
	})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	p := txnProducer(t, seeds, id, topic, kgo.TransactionTimeout(time.Minute))
	if err := runTxn(ctx, p, false, seq("aborted-", 12)...); err != nil {
		t.Fatalf("aborted transaction: %v", err)
	}
	cl := txnTestClient(t, seeds)
	coord := txnCoordinator(ctx, t, cl, id)
	controller := readController(t, c.ZKClient(t))
	paused := int32(-1)
	for b := range byID {
		if b != coord && b != controller {
			paused = b
			break
		}
	}
	if paused < 0 {
		t.Fatalf("no broker other than the coordinator %d and the controller %d", coord, controller)
	}

	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	want := seq("committed-", 4*partitions)
	for _, v := range want {
		if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	t.Logf("coordinator %d, controller %d; SIGSTOP broker %d", coord, controller, paused)
	if err := byID[paused].Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = byID[paused].Resume()
		}
	}()
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("EndTxn(commit): %v", err)
	}
	node, d := describeTxn(ctx, t, cl, id)
	if node != coord || d.State != "PrepareCommit" {
		t.Fatalf("after EndTxn with broker %d paused: coordinator %d in state %s; want %d in PrepareCommit (markers held back)", paused, node, d.State, coord)
	}
	t.Logf("SIGKILL the transaction coordinator %d in PrepareCommit; SIGCONT broker %d", coord, paused)
	byID[coord].Kill()
	if err := byID[paused].Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true

	fresh := txnTestClient(t, seeds)
	// The dead coordinator's partitions move once its ZooKeeper session
	// expires; until every broker knows, some still name it.
	state := ""
	waitUntil(t, 2*time.Minute, "a new coordinator to complete the commit", func() bool {
		node := txnCoordinator(ctx, t, fresh, id)
		if node == coord {
			return false
		}
		req := kmsg.NewPtrDescribeTransactionsRequest()
		req.TransactionalIDs = []string{id}
		raw, err := fresh.Broker(int(node)).Request(ctx, req)
		if err != nil {
			return false
		}
		d := raw.(*kmsg.DescribeTransactionsResponse).TransactionStates[0]
		if d.ErrorCode == 0 && d.State != state {
			state = d.State
			t.Logf("coordinator %d: %s", node, state)
		}
		return d.ErrorCode == 0 && d.State == "CompleteCommit"
	})
	got := readToSentinel(ctx, t, seeds, topic, partitions, kgo.ReadCommitted())
	if !slices.Equal(got, want) {
		t.Fatalf("read_committed after the failover read %d records %v; want exactly the %d committed ones", len(got), got, len(want))
	}
}
