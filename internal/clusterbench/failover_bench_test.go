package clusterbench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// steadyInterval is the steady producer's pace: one 1 KiB record per
// millisecond, about 1 MiB/s.
const steadyInterval = time.Millisecond

// written is one batch the steady producer saw acknowledged: when, by which
// broker, how many bytes.
type written struct {
	at      time.Time
	node    int32
	records int64
	bytes   int64
}

// steadyProducer writes 1 KiB records to one partition at a steady pace
// with an idempotent acks=all franz-go client, and keeps every batch
// acknowledgement with the broker that sent it (kgo's produce hook), so a
// failover can be timed to the first batch its successor accepted.
type steadyProducer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	writes []written
	failed []error

	acked atomic.Int64
}

// OnProduceBatchWritten is kgo's hook for a batch acknowledged without
// error.
func (p *steadyProducer) OnProduceBatchWritten(meta kgo.BrokerMetadata, _ string, _ int32, m kgo.ProduceBatchMetrics) {
	p.mu.Lock()
	// The time is taken under the lock, so writes stay in time order.
	p.writes = append(p.writes, written{at: time.Now(), node: meta.NodeID, records: int64(m.NumRecords), bytes: int64(m.UncompressedBytes)})
	p.mu.Unlock()
}

// startSteadyProducer starts writing to partition 0 of topic; stop ends it.
// The client refreshes metadata as often as franz-go allows (10 ms) and
// retries after 10 ms, so that the failover figure is the cluster's and
// not the client's backoff.
func startSteadyProducer(b *testing.B, bc *benchCluster, topic string) *steadyProducer {
	b.Helper()
	p := &steadyProducer{done: make(chan struct{})}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bc.seeds...), kgo.ClientID("clusterbench-steady"),
		kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MetadataMinAge(10*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }),
		kgo.WithHooks(p))
	if err != nil {
		b.Fatal(err)
	}
	p.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	value := make([]byte, recordSize)
	for i := range value {
		value[i] = byte('A' + i%26)
	}
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			if ctx.Err() == nil {
				p.mu.Lock()
				p.failed = append(p.failed, err)
				p.mu.Unlock()
			}
			return
		}
		p.acked.Add(1)
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(steadyInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			cl.Produce(ctx, &kgo.Record{Partition: 0, Value: value}, promise)
		}
	}()
	b.Cleanup(p.stop)
	return p
}

// stop ends the producer and closes its client (at the benchmark's cleanup).
func (p *steadyProducer) stop() {
	p.cancel()
	<-p.done
	p.cl.Close()
}

// waitAcked waits until n more records than now have been acknowledged.
func (p *steadyProducer) waitAcked(b *testing.B, bc *benchCluster, n int64) {
	b.Helper()
	want := p.acked.Load() + n
	bc.waitFor(b, fmt.Sprintf("%d more acknowledged records", n), func() (bool, error) {
		return p.acked.Load() >= want, p.err()
	})
}

// err is the first record failure, if any.
func (p *steadyProducer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.failed) > 0 {
		return fmt.Errorf("%d records failed, the first: %w", len(p.failed), p.failed[0])
	}
	return nil
}

// firstFrom returns the first batch acknowledged after since by a broker
// other than old, and the records acknowledged from since until then,
// that batch included.
func (p *steadyProducer) firstFrom(since time.Time, old int32) (written, int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var records int64
	i, _ := slices.BinarySearchFunc(p.writes, since, func(w written, t time.Time) int {
		if w.at.After(t) {
			return 1
		}
		return -1
	})
	for _, w := range p.writes[i:] {
		records += w.records
		if w.node != old {
			return w, records, true
		}
	}
	return written{}, 0, false
}

// BenchmarkFailoverSIGTERM is issue 8's third figure: the time from SIGTERM
// of a partition's leader (a controlled shutdown) to the first acks=all
// write its successor acknowledges.
func BenchmarkFailoverSIGTERM(b *testing.B) {
	benchmarkFailover(b, "SIGTERM", orderSIGTERM, "<= 1 s", func(br *testcluster.Broker) (exited <-chan time.Time) {
		ch := make(chan time.Time, 1)
		go func() {
			br.Stop()
			ch <- time.Now()
		}()
		return ch
	})
}

// BenchmarkFailoverSIGKILL is issue 8's fourth figure: the same from
// SIGKILL, which the controller learns of when the broker's ZooKeeper
// session expires (zookeeper.session.timeout.ms=6000).
func BenchmarkFailoverSIGKILL(b *testing.B) {
	benchmarkFailover(b, "SIGKILL", orderSIGKILL, "<= 7 s", func(br *testcluster.Broker) <-chan time.Time {
		ch := make(chan time.Time, 1)
		br.Kill()
		ch <- time.Now()
		return ch
	})
}

// benchmarkFailover runs BENCH_CLUSTER_FAILOVERS rounds of: signal the
// leader of an RF 3 topic under a steady producer, time until a successor
// acknowledges, restart the old leader, wait for a whole ISR.
func benchmarkFailover(b *testing.B, sig string, order int, target string, signal func(*testcluster.Broker) <-chan time.Time) {
	rounds := envInt(b, "BENCH_CLUSTER_FAILOVERS", 3)
	bc := startCluster(b)
	ctrl, others := bc.layout(b)
	const topic = "bench-failover"
	all := []int32{others[0], others[1], ctrl}
	bc.createTopic(b, topic, all, rf3Configs)
	p := startSteadyProducer(b, bc, topic)
	p.waitAcked(b, bc, 500)
	log := benchLog{name: "BenchmarkFailover" + sig}
	start := sampleCPU(bc)
	var gaps, cpu []float64 // seconds; surviving brokers' CPU-s in the gap
	for round := 1; round <= rounds; round++ {
		st, err := bc.state(topic, 0)
		if err != nil {
			b.Fatal(err)
		}
		if c := bc.controller(); st.Leader == c {
			b.Fatalf("round %d: the leader %d is the controller; the benchmark keeps them apart", round, st.Leader)
		}
		victim := bc.byID[st.Leader]
		before := sampleCPU(bc)
		t0 := time.Now()
		exited := signal(victim)
		// The state znode's view, polled alongside: when the controller
		// wrote the new leader.
		var zkLeader time.Duration
		var first written
		var records int64
		bc.waitFor(b, fmt.Sprintf("round %d: an acknowledgement from a successor of broker %d", round, victim.ID), func() (bool, error) {
			if zkLeader == 0 {
				if s, err := bc.state(topic, 0); err == nil && s.Leader >= 0 && s.Leader != victim.ID {
					zkLeader = time.Since(t0)
				}
			}
			var ok bool
			first, records, ok = p.firstFrom(t0, victim.ID)
			return ok, p.err()
		})
		use := before.until(sampleCPU(bc))
		gap := first.at.Sub(t0)
		exit := (<-exited).Sub(t0)
		gaps = append(gaps, gap.Seconds())
		cpu = append(cpu, use.brokers)
		line := fmt.Sprintf("round %d: %s to leader %d (epoch %d); first acks=all batch acknowledged by broker %d after %.3f s; the state znode named a new leader after %.3f s; the process exited after %.3f s; %d records acknowledged in the gap, %d of them in that first batch; surviving brokers %.2f CPU-s (%s) in the gap; others %.2f CPU-s",
			round, sig, victim.ID, st.LeaderEpoch, first.node, gap.Seconds(), zkLeader.Seconds(), exit.Seconds(),
			records, first.records, use.brokers, byBroker(use), use.others)
		log.lines = append(log.lines, line)
		b.Log(line)
		ctx, cancel := context.WithTimeout(context.Background(), testcluster.StartTimeout)
		err = victim.Start(ctx)
		cancel()
		if err != nil {
			b.Fatalf("round %d: restart broker %d: %v", round, victim.ID, err)
		}
		bc.waitISR(b, topic, all)
		p.waitAcked(b, bc, 500)
	}
	log.load = start.until(sampleCPU(bc))
	if err := p.err(); err != nil {
		b.Fatal(err)
	}
	log.lines = append(log.lines, fmt.Sprintf("%d records acknowledged by the steady producer, none failed", p.acked.Load()))
	s := spreadOf(gaps)
	report.addFigure(figure{order: order, name: fmt.Sprintf("%s of the leader to the first acks=all write accepted by its successor, s", sig),
		value: s, prec: 3, cpuText: spreadOf(cpu).format(2) + " CPU-s in the gap", target: target})
	report.addBench(log)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(s.median, "failover-s")
	b.ReportMetric(s.max, "failover-max-s")
}
