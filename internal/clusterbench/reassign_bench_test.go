package clusterbench

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// BenchmarkReassignment is issue 11's figure: BENCH_REASSIGN_MB MiB (5 GiB
// by default, as the issue asks; scaled down to what the temp dir can
// hold) in BENCH_REASSIGN_PARTITIONS partitions of replication factor 3
// are moved onto a fourth broker that joined empty, one replica each
// (the controller's, so leadership stays), with
// AlterPartitionReassignments as kafka-reassign-partitions.sh sends it. It
// reports the time from the request until every partition's topic znode
// shows the target with no reassignment left, the replication rate (the
// bytes of the new broker's copies over that time), and the p99 and p50 of
// an idempotent acks=all producer writing 1 KiB records at 20 MiB/s to
// another partition with the same leader, over the move and over the 5 s
// just before it. Nothing fails on a timing; it fails when a
// record is not acknowledged or the move does not complete.
func BenchmarkReassignment(b *testing.B) {
	mb, note := scaledMB(b, "BENCH_REASSIGN_MB", 5120, 6)
	parts := envInt(b, "BENCH_REASSIGN_PARTITIONS", 4)
	bc := startCluster(b)
	ctrl, others := bc.layout(b)
	leader, follower := others[0], others[1]
	nb := bc.c.NewBroker(b, nil)
	{
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := nb.Start(ctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	bc.brokers = append(bc.brokers, nb)
	bc.byID[nb.ID] = nb
	log := benchLog{name: "BenchmarkReassignment"}
	if note != "" {
		log.lines = append(log.lines, note)
	}

	// The data to move.
	props := producerProps(b, map[string]string{"acks": "all", "enable.idempotence": "true"})
	var topics []string
	records := int64(mb) << 20 / recordSize / int64(parts)
	for i := range parts {
		topic := fmt.Sprintf("bench-reassign-%d", i)
		topics = append(topics, topic)
		bc.createTopic(b, topic, []int32{leader, follower, ctrl}, rf3Configs)
		warmMemory(b, 3*records*recordSize)
		bc.produce(b, topic, records, props)
	}
	lat := "bench-reassign-latency"
	bc.createTopic(b, lat, []int32{leader, follower, ctrl}, rf3Configs)

	cl, err := kgo.NewClient(kgo.SeedBrokers(bc.seeds...), kgo.ClientID("clusterbench-reassign"), kgo.MaxVersions(kversion.V3_9_0()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	p := startRateProducer(b, bc, lat)
	// The window before the move: 5 s, some 100,000 samples.
	p.phase.Store(phaseBefore)
	time.Sleep(5 * time.Second)

	before := sampleCPU(bc)
	req := kadm.AlterPartitionAssignmentsReq{}
	for _, t := range topics {
		req.Assign(t, 0, []int32{leader, follower, nb.ID})
	}
	p.phase.Store(phaseDuring)
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	resp, err := adm.AlterPartitionAssignments(ctx, req)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		b.Fatalf("AlterPartitionReassignments: %v", err)
	}
	deadline := time.Now().Add(runTimeout)
	for !bc.reassigned(topics, []int32{leader, follower, nb.ID}) {
		if time.Now().After(deadline) {
			b.Fatalf("reassignment not complete after %s", runTimeout)
		}
		time.Sleep(pollInterval)
	}
	took := time.Since(t0)
	p.phase.Store(phaseAfter)
	use := before.until(sampleCPU(bc))
	p.stop()
	if err := p.err(); err != nil {
		b.Fatal(err)
	}

	var copied int64
	for _, t := range topics {
		copied += dirBytes(b, nb, t, 0)
	}
	rate := float64(copied) / (1 << 20) / took.Seconds()
	pre, during := p.latencies(phaseBefore), p.latencies(phaseDuring)
	line := fmt.Sprintf("%d MiB in %d partitions (%d MiB of segments on the new broker %d afterwards) moved in %.2f s: %.1f MiB/s; acks=all producer at 20 MiB/s: p99 %.2f ms (p50 %.2f) over %d records before, p99 %.2f ms (p50 %.2f) over %d records during the move; brokers %.2f CPU-s (%s), others %.2f CPU-s",
		mb, parts, copied>>20, nb.ID, took.Seconds(), rate, percentile(pre, 99), percentile(pre, 50), len(pre),
		percentile(during, 99), percentile(during, 50), len(during), use.brokers, byBroker(use), use.others)
	log.lines = append(log.lines, line)
	log.load = use
	b.Log(line)
	report.addFigure(figure{order: orderReassignRate, name: fmt.Sprintf("Reassignment of %d MiB onto a new broker: replication MiB/s (%.1f s in all)", mb, took.Seconds()),
		value: spreadOf([]float64{rate}), prec: 1, cpu: spreadOf([]float64{use.perGiB(copied)})})
	report.addFigure(figure{order: orderReassignP99, name: "acks=all producer at 20 MiB/s during the reassignment, p99 ms (before it: " + fmt.Sprintf("%.2f", percentile(pre, 99)) + ")",
		value: spreadOf([]float64{percentile(during, 99)}), prec: 2})
	report.addBench(log)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(took.Seconds(), "move-s")
	b.ReportMetric(rate, "MiB/s")
	b.ReportMetric(percentile(pre, 99), "p99-before-ms")
	b.ReportMetric(percentile(during, 99), "p99-during-ms")
}

// reassigned reports whether every topic's partition 0 has exactly the
// target replicas in its topic znode, with no reassignment left, and all of
// them in the ISR.
func (bc *benchCluster) reassigned(topics []string, target []int32) bool {
	for _, t := range topics {
		data, err := bc.zk.Get("/brokers/topics/" + t)
		if err != nil {
			return false
		}
		var v struct {
			Partitions       map[string][]int32 `json:"partitions"`
			AddingReplicas   map[string][]int32 `json:"adding_replicas"`
			RemovingReplicas map[string][]int32 `json:"removing_replicas"`
		}
		if json.Unmarshal(data, &v) != nil || !slices.Equal(v.Partitions["0"], target) || len(v.AddingReplicas["0"]) > 0 || len(v.RemovingReplicas["0"]) > 0 {
			return false
		}
		st, err := bc.state(t, 0)
		if err != nil || len(st.ISR) != len(target) {
			return false
		}
	}
	return true
}

// dirBytes is the size of the segment files (.log) of topic-p in a
// broker's log dirs: the records copied, without the preallocated
// indexes.
func dirBytes(b *testing.B, br interface{ LogDirs() []string }, topic string, p int32) int64 {
	b.Helper()
	var n int64
	for _, d := range br.LogDirs() {
		root := filepath.Join(d, fmt.Sprintf("%s-%d", topic, p))
		_ = filepath.WalkDir(root, func(_ string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || filepath.Ext(e.Name()) != ".log" {
				return nil
			}
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
			return nil
		})
	}
	return n
}

// scaledMB returns the MiB an environment variable asks for (def by
// default), scaled down to what the temp dir's filesystem holds when it
// has less than copies times that free, with a note saying so.
func scaledMB(b *testing.B, name string, def, copies int) (int, string) {
	b.Helper()
	mb := envInt(b, name, def)
	free, err := freeBytes(os.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	if need := int64(mb) * int64(copies) << 20; free < need {
		scaled := max(int(free/int64(copies)>>20)/64*64, 64)
		return scaled, fmt.Sprintf("scaled down from %d MiB: %d MiB free in %s, the run needs %d times the data", mb, free>>20, os.TempDir(), copies)
	}
	return mb, ""
}

// The phases a rateProducer files each record's latency under.
const (
	phaseBefore int32 = iota
	phaseDuring
	phaseAfter
	phases
)

// rateProducer writes 1 KiB records to partition 0 of a topic at 20 MiB/s
// (e2eRate records a second, in batches every 10 ms), idempotent with
// acks=all, and records each record's latency from Produce to its
// acknowledgement under the phase current when it was sent.
type rateProducer struct {
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}
	phase  atomic.Int32

	mu     sync.Mutex
	lat    [phases][]float64
	failed []error
	wg     sync.WaitGroup
}

func startRateProducer(b *testing.B, bc *benchCluster, topic string) *rateProducer {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bc.seeds...), kgo.ClientID("clusterbench-rate"),
		kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		b.Fatal(err)
	}
	p := &rateProducer{cl: cl, done: make(chan struct{})}
	p.phase.Store(phaseAfter)
	// ctx ends the sending loop only; records in flight are answered.
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	value := make([]byte, recordSize)
	const tick = 10 * time.Millisecond
	perTick := int(e2eRate * tick / time.Second)
	go func() {
		defer close(p.done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			for range perTick {
				ph, sent := p.phase.Load(), time.Now()
				p.wg.Add(1)
				cl.Produce(context.Background(), &kgo.Record{Partition: 0, Value: value}, func(_ *kgo.Record, err error) {
					defer p.wg.Done()
					p.mu.Lock()
					defer p.mu.Unlock()
					if err != nil {
						p.failed = append(p.failed, err)
						return
					}
					p.lat[ph] = append(p.lat[ph], float64(time.Since(sent).Microseconds())/1000)
				})
			}
		}
	}()
	b.Cleanup(p.stop)
	return p
}

// stop ends the sending and waits until the records in flight are
// answered (bounded by waitTimeout; Close fails what is left).
func (p *rateProducer) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cancel()
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_ = p.cl.Flush(ctx)
	p.cl.Close()
	p.wg.Wait()
}

func (p *rateProducer) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.failed) > 0 {
		return fmt.Errorf("%d records failed, the first: %w", len(p.failed), p.failed[0])
	}
	return nil
}

func (p *rateProducer) latencies(phase int32) []float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lat[phase])
}

// percentile is the q-th percentile of xs (nearest rank), NaN when empty.
func percentile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	i := int(math.Ceil(q/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
