package compattests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// chaosRounds is how many kills TestReplicationSurvivesKills runs: a few in
// `make test`, more with CHAOS_ROUNDS set (`make chaos`).
func chaosRounds(t *testing.T) int {
	if v := os.Getenv("CHAOS_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CHAOS_ROUNDS=%q: want a positive number", v)
		}
		return n
	}
	return 3
}

// partitionState is /brokers/topics/<t>/partitions/<p>/state as a user
// reads it with zkCli.
type partitionState struct {
	Leader      int32   `json:"leader"`
	LeaderEpoch int32   `json:"leader_epoch"`
	ISR         []int32 `json:"isr"`
}

func readState(t *testing.T, z *testcluster.ZKConn, topic string, p int32) (partitionState, bool) {
	t.Helper()
	data, err := z.Get(fmt.Sprintf("/brokers/topics/%s/partitions/%d/state", topic, p))
	if err != nil {
		return partitionState{}, false
	}
	var st partitionState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state znode %q: %v", data, err)
	}
	return st, true
}

func readController(t *testing.T, z *testcluster.ZKConn) int32 {
	data, err := z.Get("/controller")
	if err != nil {
		return -1
	}
	var v struct {
		BrokerID int32 `json:"brokerid"`
	}
	if json.Unmarshal(data, &v) != nil {
		return -1
	}
	return v.BrokerID
}

// waitUntil polls cond every 50ms until it holds or d passes.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestReplicationSurvivesKills is the replication issue's first robustness
// test. Three real brokers, a topic with replication factor 3 and
// min.insync.replicas=2, and an idempotent acks=all producer writing
// numbered records without pause. Each round SIGKILLs a broker (the leader
// of partition 0, or the controller, alternately), waits until ZooKeeper
// shows a new leader, and restarts it. A consumer reads along the whole
// time. Afterwards every ISR must be whole again, and a fresh consumer must
// find every acknowledged record exactly once, at its acknowledged offset,
// in order; the consumer that read during the chaos must never have seen an
// offset go backwards.
func TestReplicationSurvivesKills(t *testing.T) {
	c := testcluster.New(t)
	overrides := map[string]string{
		"replica.lag.time.max.ms":    "4000",
		"replica.fetch.wait.max.ms":  "100",
		"default.replication.factor": "3",
		"min.insync.replicas":        "2",
	}
	var brokers []*testcluster.Broker
	var seeds []string
	for range 3 {
		b := c.NewBroker(t, overrides)
		brokers = append(brokers, b)
		seeds = append(seeds, b.Addr())
	}
	startCtx, cancelStart := context.WithTimeout(context.Background(), testcluster.StartTimeout)
	var wg sync.WaitGroup
	errs := make([]error, len(brokers))
	for i, b := range brokers {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = b.Start(startCtx) }()
	}
	wg.Wait()
	cancelStart()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	byID := map[int32]*testcluster.Broker{}
	for _, b := range brokers {
		byID[b.ID] = b
	}

	const topic, partitions = "chaos", 3
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	res, err := kadm.NewClient(adm).CreateTopics(ctx, partitions, 3, nil, topic)
	if err != nil || res[topic].Err != nil {
		t.Fatalf("create topic: %v %v", err, res[topic].Err)
	}
	z := c.ZKClient(t)
	whole := func() bool {
		for p := int32(0); p < partitions; p++ {
			st, ok := readState(t, z, topic, p)
			if !ok || st.Leader < 0 || len(st.ISR) != 3 {
				return false
			}
		}
		return true
	}
	waitUntil(t, time.Minute, "every ISR to have three members", whole)

	// The producer: numbered values per partition, acknowledged offsets
	// recorded.
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var mu sync.Mutex
	var acks []acked
	var produceErr error
	stopProducing := make(chan struct{})
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			default:
			}
			p := int32(i % partitions)
			r := &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))}
			pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
			err := prod.ProduceSync(pctx, r).FirstErr()
			pcancel()
			mu.Lock()
			if err != nil {
				produceErr = fmt.Errorf("record %d: %w", i, err)
				mu.Unlock()
				return
			}
			acks = append(acks, acked{partition: r.Partition, offset: r.Offset, value: string(r.Value)})
			mu.Unlock()
		}
	}()

	// The consumer reading along: offsets per partition must only grow.
	readCtx, stopReading := context.WithCancel(ctx)
	reader, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var backwards []string
	seen := map[int32]int64{0: -1, 1: -1, 2: -1}
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for readCtx.Err() == nil {
			reader.PollFetches(readCtx).EachRecord(func(r *kgo.Record) {
				if r.Offset <= seen[r.Partition] {
					backwards = append(backwards, fmt.Sprintf("partition %d: offset %d after %d", r.Partition, r.Offset, seen[r.Partition]))
				}
				seen[r.Partition] = r.Offset
			})
		}
	}()

	progress := func(min int) {
		t.Helper()
		waitUntil(t, 2*time.Minute, fmt.Sprintf("%d more acknowledged records", min), func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(acks) >= min || produceErr != nil
		})
	}
	progress(50)
	for round := 0; round < chaosRounds(t); round++ {
		var victim int32
		if round%2 == 0 {
			st, _ := readState(t, z, topic, 0)
			victim = st.Leader
		} else {
			victim = readController(t, z)
		}
		b, ok := byID[victim]
		if !ok {
			t.Fatalf("round %d: no broker %d to kill", round, victim)
		}
		before, _ := readState(t, z, topic, 0)
		t.Logf("round %d: SIGKILL broker %d (partition 0 leader %d epoch %d, controller %d)",
			round, victim, before.Leader, before.LeaderEpoch, readController(t, z))
		b.Kill()
		waitUntil(t, time.Minute, "partition 0 to move off the killed broker", func() bool {
			st, ok := readState(t, z, topic, 0)
			return ok && st.Leader != victim && st.Leader >= 0 && !slices.Contains(st.ISR, victim)
		})
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		progress(n + 20)
		rctx, rcancel := context.WithTimeout(ctx, testcluster.StartTimeout)
		if err := b.Start(rctx); err != nil {
			rcancel()
			t.Fatalf("round %d: restart broker %d: %v", round, victim, err)
		}
		rcancel()
		waitUntil(t, 2*time.Minute, "every ISR to be whole again", whole)
		mu.Lock()
		n = len(acks)
		mu.Unlock()
		progress(n + 20)
	}
	close(stopProducing)
	<-producerDone
	stopReading()
	<-readerDone
	if produceErr != nil {
		t.Fatalf("the producer failed instead of retrying: %v", produceErr)
	}
	if len(backwards) > 0 {
		t.Errorf("the consumer saw offsets go backwards: %v", backwards)
	}
	waitUntil(t, 2*time.Minute, "every ISR to be whole at the end", whole)

	// Every acknowledged record, exactly once, at its offset, in order.
	want := map[int32][]acked{}
	for _, a := range acks {
		want[a.partition] = append(want[a.partition], a)
	}
	t.Logf("%d records acknowledged", len(acks))
	final, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()},
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer final.Close()
	got := map[int32][]acked{}
	total := 0
	for total < len(acks) {
		fctx, fcancel := context.WithTimeout(ctx, 30*time.Second)
		fs := final.PollFetches(fctx)
		timedOut := fctx.Err() != nil
		fcancel()
		for _, e := range fs.Errors() {
			t.Logf("final consumer: %s-%d: %v", e.Topic, e.Partition, e.Err)
		}
		if timedOut {
			t.Errorf("final consumer read %d of %d acknowledged records", total, len(acks))
			ka := kadm.NewClient(adm)
			md, merr := ka.Metadata(ctx, topic)
			t.Logf("metadata: id %v %+v %v", md.Topics[topic].ID, md.Topics[topic].Partitions, merr)
			so, serr := ka.ListStartOffsets(ctx, topic)
			eo, eerr := ka.ListEndOffsets(ctx, topic)
			t.Logf("start offsets %+v %v; end offsets %+v %v", so, serr, eo, eerr)
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], acked{r.Partition, r.Offset, string(r.Value)})
			total++
		})
	}
	for p := int32(0); p < partitions; p++ {
		values := map[string]bool{}
		for _, r := range got[p] {
			if values[r.value] {
				t.Errorf("partition %d: %q appears twice", p, r.value)
			}
			values[r.value] = true
		}
		byOffset := map[int64]string{}
		for _, r := range got[p] {
			byOffset[r.offset] = r.value
		}
		for _, a := range want[p] {
			if v, ok := byOffset[a.offset]; !ok || v != a.value {
				t.Errorf("partition %d: acknowledged %q at offset %d, log has %q (present %v)", p, a.value, a.offset, v, ok)
			}
		}
		for i := 1; i < len(want[p]); i++ {
			if want[p][i].offset <= want[p][i-1].offset {
				t.Errorf("partition %d: acknowledged offsets not increasing: %d then %d", p, want[p][i-1].offset, want[p][i].offset)
			}
		}
	}
}
