package clusterbench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testcluster"
)

// catchUpMB returns BENCH_CATCHUP_MB (1024 by default), scaled down to a
// fifth of the space free on the temp dir's filesystem when that is less
// than five times it (three copies, the warming file and room to spare),
// with a note saying so.
func catchUpMB(b *testing.B) (int, string) {
	b.Helper()
	return scaledMB(b, "BENCH_CATCHUP_MB", 1024, 5)
}

// BenchmarkFollowerCatchUp is issue 8's fifth figure: a follower is
// stopped, BENCH_CATCHUP_MB MiB are written to its partition, and the
// follower is started again; the figure is the rate at which it catches up,
// from its start until the state znode lists it in the ISR.
func BenchmarkFollowerCatchUp(b *testing.B) {
	mb, note := catchUpMB(b)
	rounds := envInt(b, "BENCH_CLUSTER_REPEAT", 3)
	bc := startCluster(b)
	ctrl, others := bc.layout(b)
	leader, follower := others[0], others[1]
	all := []int32{leader, follower, ctrl}
	f := bc.byID[follower]
	records := int64(mb) << 20 / recordSize
	props := producerProps(b, map[string]string{"acks": "all", "enable.idempotence": "true"})
	log := benchLog{name: "BenchmarkFollowerCatchUp"}
	if note != "" {
		log.lines = append(log.lines, note)
	}
	var load cpuUse
	var fromLaunch, fromServing, cpu []float64
	for round := 1; round <= rounds; round++ {
		topic := fmt.Sprintf("bench-catchup-%d", round)
		bc.createTopic(b, topic, all, rf3Configs)
		f.Stop()
		bc.waitISR(b, topic, []int32{leader, ctrl})
		warmMemory(b, 2*records*recordSize)
		w := bc.produce(b, topic, records, props)
		warm := warmMemory(b, records*recordSize)

		before := sampleCPU(bc)
		t0 := time.Now()
		if err := f.Launch(); err != nil {
			b.Fatal(err)
		}
		serving := make(chan time.Duration, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), testcluster.StartTimeout)
			defer cancel()
			if err := f.WaitReady(ctx); err != nil {
				b.Errorf("round %d: follower %d: %v", round, follower, err)
				serving <- -1
				return
			}
			serving <- time.Since(t0)
		}()
		var inISR time.Duration
		bc.waitFor(b, fmt.Sprintf("round %d: follower %d back in the ISR", round, follower), func() (bool, error) {
			st, err := bc.state(topic, 0)
			if err != nil {
				return false, err
			}
			if slices.Contains(st.ISR, follower) {
				inISR = time.Since(t0)
				return true, nil
			}
			return false, nil
		})
		after := sampleCPU(bc)
		use := before.until(after)
		load = load.add(use)
		ready := <-serving
		if ready < 0 {
			b.FailNow()
		}
		copied := records * recordSize
		rate := float64(mb) / inISR.Seconds()
		rateServing := float64(mb) / (inISR - ready).Seconds()
		fromLaunch = append(fromLaunch, rate)
		fromServing = append(fromServing, rateServing)
		cpu = append(cpu, use.perGiB(copied))
		line := fmt.Sprintf("round %d: %d MiB written to %s (leader %d) at %.1f MiB/s while follower %d was down; follower started, serving after %.3f s, in the ISR after %.3f s: %.1f MiB/s from launch, %.1f MiB/s from serving; brokers %.2f CPU-s (%s), %.2f per GiB copied; others %.2f CPU-s; memory warmed at %.0f MiB/s",
			round, mb, topic, leader, w.sum.MBPerSec, follower, ready.Seconds(), inISR.Seconds(), rate, rateServing,
			use.brokers, byBroker(use), use.perGiB(copied), use.others, warm)
		log.lines = append(log.lines, line)
		b.Log(line)
		bc.deleteTopic(b, topic)
	}
	log.load = load
	log.name = "BenchmarkFollowerCatchUp (load over the catch-ups only)"
	report.addFigure(figure{order: orderCatchUpLaunch, name: fmt.Sprintf("Follower catch-up after %d MiB written while it was down, MiB/s from its start to the ISR", mb),
		value: spreadOf(fromLaunch), prec: 1, cpu: spreadOf(cpu), target: ">= 200 MB/s"})
	report.addFigure(figure{order: orderCatchUpServing, name: "Follower catch-up, MiB/s from serving (Metadata answered) to the ISR",
		value: spreadOf(fromServing), prec: 1})
	report.addBench(log)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(spreadOf(fromLaunch).median, "catchup-MiB/s")
	b.ReportMetric(spreadOf(cpu).median, "cpu-s/GiB")
}
